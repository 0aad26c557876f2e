"""Healing text: corpus documents cut into pieces, each tokenized by the teacher's and by the
student's tokenizer, with the byte positions where both tokenizations put a token boundary
(the ALM chunks), and the order pieces are drawn in (a pure function of seed and step, so a
resumed run sees the same batches)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ..errors import TokkitError
from ..tokenizer import Tokenizer


def cut_pieces(texts: Iterable[str], piece_bytes: int, max_pieces: int) -> list[str]:
    """Pieces of about ``piece_bytes`` UTF-8 bytes, cut at a line end where there is one in the
    second half of the window, else at a space, else anywhere on a character boundary."""
    out: list[str] = []
    for t in texts:
        b = t.encode("utf-8", "surrogatepass")
        a = 0
        while a < len(b) and len(out) < max_pieces:
            e = min(len(b), a + piece_bytes)
            if e < len(b):
                cut = max(b.rfind(b"\n", a + piece_bytes // 2, e), b.rfind(b" ", a + piece_bytes // 2, e))
                e = cut + 1 if cut > 0 else e
                while e < len(b) and (b[e] & 0xC0) == 0x80:  # not inside a UTF-8 character
                    e += 1
            piece = b[a:e].decode("utf-8", "replace")
            if piece.strip():
                out.append(piece)
            a = e
        if len(out) >= max_pieces:
            break
    if not out:
        raise TokkitError("the healing corpus has no text")
    return out


@dataclass
class Encoded:
    """One side's tokenization of every piece: flat ids and byte ends, and per-piece starts."""

    ids: np.ndarray  # uint32, all pieces one after another
    ends: np.ndarray  # byte end of each token within its piece
    starts: np.ndarray  # [n_pieces + 1] offsets into ids

    @classmethod
    def of(cls, tok: Tokenizer, pieces: Sequence[str]) -> "Encoded":
        e = tok.encode_offsets(list(pieces), special="text")
        starts = np.zeros(len(pieces) + 1, np.int64)
        np.cumsum(e.lengths, out=starts[1:])
        return cls(np.asarray(e.ids, np.int64), np.asarray(e.ends, np.int64), starts)

    def piece(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.starts[i], self.starts[i + 1]
        return self.ids[a:b], self.ends[a:b]


def chunk_ids(ends_a: np.ndarray, ends_b: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """ALM chunks of one piece: the byte positions where both tokenizations end a token split the
    text into chunks; each token belongs to the chunk its end falls in. Returns the chunk of
    every token of each side and the number of chunks. Tokens past the last shared end (a text
    whose tokenizations end differently) get chunk -1 and are left out."""
    common = np.intersect1d(ends_a, ends_b)
    ca = np.searchsorted(common, ends_a, side="left")
    cb = np.searchsorted(common, ends_b, side="left")
    ca[ca >= len(common)] = -1
    cb[cb >= len(common)] = -1
    return ca, cb, len(common)


def piece_order(n: int, seed: int, step: int, batch: int) -> np.ndarray:
    """The pieces of a step: epochs are permutations drawn from (seed, epoch)."""
    out = []
    pos = step * batch
    while len(out) < batch:
        epoch, k = divmod(pos, n)
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        take = min(batch - len(out), n - k)
        out.extend(perm[k:k + take].tolist())
        pos += take
    return np.asarray(out, np.int64)


def pieces_digest(pieces: Sequence[str]) -> str:
    h = hashlib.sha256()
    for p in pieces:
        h.update(p.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()[:16]
