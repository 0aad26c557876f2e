"""Ensembles of byte-level models, which may use different vocabularies.

Two rules:
- ``average``: the next-byte distribution is the weighted average of the members' next-byte
  distributions at every step (Phan et al.);
- ``posterior``: the true mixture of the members as models over bytes, P(x) = sum_i w_i P_i(x);
  its next-byte distribution weighs member i by w_i P_i(prefix) (its posterior given the text
  so far), so a member that predicts this text well takes over.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..errors import TokkitError
from .model import END, ByteLM, _as_bytes, _finite_bits, _logsumexp


class ByteEnsemble:
    def __init__(self, members: Sequence[ByteLM], mode: str = "posterior", weights: Sequence[float] | None = None):
        if mode not in ("posterior", "average"):
            raise TokkitError(f"ensemble mode must be 'posterior' or 'average', not {mode!r}")
        if not members:
            raise TokkitError("an ensemble needs at least one member")
        w = np.ones(len(members)) if weights is None else np.asarray(weights, dtype=float)
        if len(w) != len(members) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise TokkitError("ensemble weights: one finite non-negative weight per member, not all zero")
        self.members = list(members)
        self.mode = mode
        self.logw = np.log(w / w.sum())

    def _combine(self, dists: list[np.ndarray], prefix_lp: np.ndarray) -> np.ndarray:
        lw = self.logw + (prefix_lp if self.mode == "posterior" else 0.0)
        lw = lw - _logsumexp(lw)
        stacked = np.stack(dists) + lw[:, None]
        m = stacked.max(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = m + np.log(np.exp(stacked - np.where(np.isfinite(m), m, 0)).sum(axis=0))
        return np.where(np.isfinite(m), out, -math.inf)

    def byte_logprobs(self, text, end: bool = False) -> np.ndarray:
        """Per-byte log P(x_i | x_<i) under the ensemble (and the end of text last, with ``end``)."""
        x = _as_bytes(text)
        for mem in self.members:
            mem.reset()
        prefix_lp = np.zeros(len(self.members))
        out = np.empty(len(x) + int(end))
        for i in range(len(x) + int(end)):
            dists = [mem.next_byte_logprobs(x[:i]) for mem in self.members]
            ens = self._combine(dists, prefix_lp)
            b = x[i] if i < len(x) else END
            out[i] = ens[b]
            prefix_lp = prefix_lp + np.array([d[b] for d in dists])
        return out

    def logprob(self, text, end: bool = False) -> float:
        return float(np.sum(self.byte_logprobs(text, end=end)))

    def next_byte_logprobs(self, prefix=b"") -> np.ndarray:
        x = _as_bytes(prefix)
        prefix_lp = np.array([mem.chain_logprob(x) for mem in self.members]) if self.mode == "posterior" \
            else np.zeros(len(self.members))
        return self._combine([mem.next_byte_logprobs(x) for mem in self.members], prefix_lp)

    def bits_per_byte(self, text) -> float:
        x = _as_bytes(text)
        return _finite_bits(-self.logprob(x), len(x))

    def score(self, texts: Sequence) -> dict:
        nll, n = 0.0, 0
        for t in texts:
            x = _as_bytes(t)
            nll -= self.logprob(x)
            n += len(x)
        return {"bits_per_byte": _finite_bits(nll, n), "bytes": n, "mode": self.mode}
