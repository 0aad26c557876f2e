"""Rows for merged tokens: the hypernetwork's prediction from the pieces' rows, or FVT (their mean).

A merged token's decomposition into the model's own ids is known by construction, so the
hypernetwork reads exactly the pieces it was trained on (no re-encoding of the token's bytes).
Rows are cached by decomposition: a batch pays only for tokens no earlier batch made.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Sequence

import numpy as np

from ..align import base_rows
from ..errors import TokkitError

def pad_pieces(tokens: Sequence[tuple[int, ...]], width: int) -> tuple[np.ndarray, np.ndarray]:
    """(pieces [N, width] int64, zero-padded; lengths [N]) of merged tokens' decompositions, the
    hypernetwork's input (:func:`tokkit.hypernet.core.predict`)."""
    pieces = np.zeros((len(tokens), width), dtype=np.int64)
    lengths = np.fromiter((len(t) for t in tokens), np.int64, count=len(tokens))
    for i, t in enumerate(tokens):
        pieces[i, : len(t)] = t
    return pieces, lengths


class MergedRows:
    """``rows(batch)`` -> [base_size + len(batch.new_tokens), width]: the model's rows, then one
    predicted row per merged token (width = d, or 2d for an untied model: input then output)."""

    def __init__(self, model, hypernet: str | os.PathLike | None = None, cache_size: int = 200_000):
        import torch

        from ..hypernet.model import fingerprint, load_hypernet

        self.base, self.tied = base_rows(model)
        self.d = model.get_input_embeddings().weight.shape[1]
        self.method = "hypernet" if hypernet is not None else "fvt"
        self.net = None
        if hypernet is not None:
            self.net = load_hypernet(hypernet, base_fingerprint=fingerprint([self.base])).to(self.base.device)
            self.net.eval()
            if self.net.cfg.tied != self.tied or self.net.cfg.d_model != self.d:
                raise TokkitError(f"{hypernet}: a hypernetwork of another shape than this model's embeddings")
        self.max_pieces = self.net.cfg.max_pieces if self.net is not None else 64
        self.cache: OrderedDict[tuple[int, ...], "torch.Tensor"] = OrderedDict()
        self.cache_size = cache_size

    def predict(self, tokens: Sequence[tuple[int, ...]]):
        """[len(tokens), width] rows of merged tokens (each a tuple of the model's ids)."""
        import torch

        missing = [t for t in dict.fromkeys(tokens) if t not in self.cache]
        if missing:
            fresh = self._compute(missing)
            for t, r in zip(missing, fresh):
                self.cache[t] = r
            while len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
        if not tokens:
            return self.base[:0]
        return torch.stack([self.cache[t] for t in tokens])

    def _compute(self, tokens: list[tuple[int, ...]]):
        import torch

        if any(len(t) > self.max_pieces for t in tokens):
            raise TokkitError(f"a merged token of more than {self.max_pieces} pieces (the hypernetwork's limit); "
                              f"merge with max_pieces={self.max_pieces}")
        pieces, lengths = pad_pieces(tokens, max(len(t) for t in tokens))
        width = pieces.shape[1]
        with torch.no_grad():
            if self.net is None:
                p = torch.as_tensor(pieces, device=self.base.device)
                m = (torch.arange(width, device=p.device)[None] < torch.as_tensor(lengths, device=p.device)[:, None])
                x = self.base[p] * m[..., None].to(self.base.dtype)
                return x.sum(1) / m.sum(1, keepdim=True).to(self.base.dtype)
            from ..hypernet.core import predict

            return predict(self.net, self.base, pieces, lengths)

    def table(self, tokens: Sequence[tuple[int, ...]]):
        """[V + len(tokens), width]: the model's rows, then the rows of ``tokens``."""
        import torch

        return torch.cat([self.base, self.predict(tokens)]) if tokens else self.base

    def rows(self, batch):
        """The union table of a :class:`~tokkit.dynamic.merge.DynamicBatch`."""
        if batch.base_size != self.base.shape[0]:
            raise TokkitError(f"the batch was merged over a vocabulary of {batch.base_size:,} tokens; "
                              f"the model has {self.base.shape[0]:,} rows")
        return self.table(batch.new_tokens)

    def split(self, table):
        """(input rows, output rows) of a table made by :meth:`rows`."""
        return table[:, : self.d], (table if self.tied else table[:, self.d:])
