"""tokkit: tokenizer engineering suite.

``tokkit.load(PATH)`` -> :class:`Tokenizer` (``encode``, ``encode_batch``, ``decode``,
``vocab``, ``save``). The data model lives in :mod:`tokkit.vocab`.
"""


def _version() -> str:
    """The installed distribution's version. Its one source is ``native/Cargo.toml``'s
    ``[package] version`` (pyproject.toml declares the version dynamic, and maturin takes it from
    the crate), so the package and its native core always carry the same number. Without
    installed metadata (a checkout on ``sys.path``), the native core's own version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tokkit")
    except PackageNotFoundError:
        try:
            from ._native import version as native_version
        except ImportError:
            return "0+unknown"
        return native_version()


__version__ = _version()

from .errors import FormatError, TokkitError, UnsupportedError  # noqa: E402 - the version comes first
from .tokenizer import Tokenizer, load  # noqa: E402
from .vocab import Vocabulary, read_vocab, write_vocab  # noqa: E402

__all__ = ["load", "Tokenizer", "Vocabulary", "read_vocab", "write_vocab", "TokkitError", "FormatError",
           "UnsupportedError", "__version__"]
