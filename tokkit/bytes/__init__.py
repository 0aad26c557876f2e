"""Exact byte-level probabilities from a token-level language model (``tokkit bytes``).

:class:`ByteLM` turns a causal LM over tokens into a model over bytes: next-byte distributions
(256 bytes plus end of text), prefix log-probabilities, bits per byte, byte-level sampling and
completion of prompts that end inside a token. The cover of the prefix (every token sequence
that spells it, up to the token that crosses its end) is kept as a tree in native code
(``native/src/cover.rs``); the model is called once per step, batched over the new contexts,
with a KV cache shared by the tree. :class:`ByteEnsemble` mixes models with different
vocabularies at the byte level. See docs/bytes.md.
"""

from .ensemble import ByteEnsemble
from .model import END, ByteLM

__all__ = ["ByteLM", "ByteEnsemble", "END"]
