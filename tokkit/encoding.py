"""``Encoding``: the ids of a batch of texts with every token's UTF-8 byte offsets, flat.

What :meth:`tokkit.Tokenizer.encode_offsets` returns. Offsets follow Hugging Face's
``Encoding.offsets`` (a prepended dummy-prefix space aligns to the first character, a
normalizer's replacement to what it replaced, template BOS/EOS get ``(0, 0)``) but in UTF-8
bytes of each text, and exact for a token that covers part of a character (byte-level pieces,
byte fallback). :meth:`Encoding.char_offsets` gives Hugging Face's character offsets (such a
token covers its whole character).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np


def char_byte_offsets(text: str) -> np.ndarray:
    """Character index -> UTF-8 byte offset in ``text`` (``len(text) + 1`` entries; a lone
    surrogate counts the 3 bytes ``surrogatepass`` writes)."""
    if text.isascii():
        return np.arange(len(text) + 1, dtype=np.int64)
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    lens = 1 + (cps >= 0x80) + (cps >= 0x800) + (cps >= 0x10000)
    return np.concatenate([[0], np.cumsum(lens, dtype=np.int64)])


@dataclass(frozen=True, eq=False)
class Encoding:
    """A batch, flat: token k of the batch is ``ids[k]``, spanning bytes ``starts[k]:ends[k]``
    of its own text; ``lengths[t]`` tokens belong to text t, in order."""

    ids: np.ndarray  # uint32, all texts concatenated
    starts: np.ndarray  # int64 byte offset in its own text where each token starts
    ends: np.ndarray  # int64 byte offset where it ends (exclusive)
    lengths: np.ndarray  # int64 tokens per text

    def __len__(self) -> int:
        """Number of texts."""
        return len(self.lengths)

    @cached_property
    def bounds(self) -> np.ndarray:
        """Token index where each text starts, plus the total (len(self) + 1 entries)."""
        out = np.zeros(len(self.lengths) + 1, np.int64)
        np.cumsum(self.lengths, out=out[1:])
        return out

    def __getitem__(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids, starts, ends) of text k."""
        n = len(self.lengths)
        if not -n <= k < n:
            raise IndexError(f"text {k} of {n}")
        k %= n
        a, b = self.bounds[k], self.bounds[k + 1]
        return self.ids[a:b], self.starts[a:b], self.ends[a:b]

    def text_of_token(self) -> np.ndarray:
        """int64: the text each token belongs to."""
        return np.repeat(np.arange(len(self.lengths), dtype=np.int64), self.lengths)

    def char_offsets(self, texts: str | Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Flat character starts and ends (Hugging Face's convention: a token that covers part
        of a multi-byte character covers that whole character). ``texts``: the encoded texts."""
        if isinstance(texts, str):
            texts = [texts]
        if len(texts) != len(self.lengths):
            raise ValueError(f"{len(texts)} texts for an encoding of {len(self.lengths)}")
        if len(self.ids) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        bs = [t.encode("utf-8", "surrogatepass") for t in texts]
        nbytes = np.fromiter((len(b) for b in bs), np.int64, count=len(bs))
        base = np.zeros(len(bs) + 1, np.int64)
        np.cumsum(nbytes, out=base[1:])
        buf = np.frombuffer(b"".join(bs), np.uint8)
        # char index (over the whole batch) of every byte, and one past the last byte
        lead = (buf & 0xC0) != 0x80
        cidx = np.empty(len(buf) + 1, np.int64)
        np.cumsum(lead, out=cidx[:-1])
        cidx[:-1] -= 1
        cidx[-1] = cidx[-2] + 1 if len(buf) else 0
        text = self.text_of_token()
        gbase = base[text]
        # the char count before each text, from its first byte (or the batch end when empty)
        cbase = cidx[base[:-1]][text]
        st = np.clip(self.starts, 0, nbytes[text])
        en = np.clip(self.ends, 0, nbytes[text])
        cs = cidx[gbase + st] - cbase
        ce = np.where(en > 0, cidx[np.maximum(gbase + en - 1, 0)] + 1 - cbase, 0)
        return cs, np.maximum(ce, cs)
