"""tokkit: tokenizer engineering suite.

``tokkit.load(PATH)`` -> :class:`Tokenizer` (``encode``, ``encode_batch``, ``decode``,
``vocab``, ``save``). The data model lives in :mod:`tokkit.vocab`.
"""

from .errors import FormatError, TokkitError, UnsupportedError
from .tokenizer import Tokenizer, load
from .vocab import Vocabulary, read_vocab, write_vocab

__version__ = "0.1.0"

__all__ = ["load", "Tokenizer", "Vocabulary", "read_vocab", "write_vocab", "TokkitError", "FormatError",
           "UnsupportedError", "__version__"]
