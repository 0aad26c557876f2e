"""A recipe: how each missing row is made from old rows (old ids and weights), or a constant.

The same recipe is applied to the input embeddings and to the LM head, so it is also the record of
how a row was made (``transplant_record.json``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONSTANT = ("mean", "zero", "random", "fallback-mean")  # recipes without old ids


@dataclass
class Recipe:
    """Rows of the missing tokens as weighted sums of old rows: ``ids`` [N, K] (old ids),
    ``weights`` [N, K] (0 where unused); ``constant`` rows ("mean", "zero", "random") instead
    where ``how`` says so."""

    ids: np.ndarray
    weights: np.ndarray
    how: list[str]

    def apply(self, matrix, normal, seed: int = 0):
        """[N, d] rows from an old matrix [V_old, d]."""
        import torch

        ids = torch.as_tensor(self.ids)
        w = torch.as_tensor(self.weights, dtype=matrix.dtype)
        out = torch.einsum("nk,nkd->nd", w, matrix[ids])
        mean = matrix[normal].mean(0)
        if any(h in CONSTANT for h in self.how):
            g = torch.Generator().manual_seed(seed)
            std = matrix[normal].std(0)
            for r, h in enumerate(self.how):
                if h in ("mean", "fallback-mean"):
                    out[r] = mean
                elif h == "zero":
                    out[r] = 0
                elif h == "random":
                    out[r] = mean + std * torch.randn(matrix.shape[1], generator=g)
        return out

    def record(self, r: int) -> dict:
        h = self.how[r]
        n = int((self.weights[r] != 0).sum())
        if n == 0 or h in CONSTANT:
            return {"how": h}
        keep = np.flatnonzero(self.weights[r] != 0)
        return {"how": h, "old_ids": self.ids[r, keep].tolist(),
                "weights": [round(float(x), 6) for x in self.weights[r, keep]]}


def constant(n: int, how: str) -> Recipe:
    """``n`` rows of one constant kind ("mean", "zero", "random")."""
    return Recipe(np.zeros((n, 1), dtype=np.int64), np.zeros((n, 1), dtype=np.float32), [how] * n)


def merge(base: Recipe, rows: list[int], other: Recipe) -> Recipe:
    """``base`` with ``rows`` replaced by ``other``'s recipes (widths padded to match)."""
    K = max(base.ids.shape[1], other.ids.shape[1])
    ids = np.zeros((len(base.how), K), dtype=np.int64)
    w = np.zeros((len(base.how), K), dtype=np.float32)
    ids[:, :base.ids.shape[1]] = base.ids
    w[:, :base.weights.shape[1]] = base.weights
    how = list(base.how)
    for j, r in enumerate(rows):
        ids[r] = 0
        w[r] = 0
        ids[r, :other.ids.shape[1]] = other.ids[j]
        w[r, :other.weights.shape[1]] = other.weights[j]
        how[r] = "fallback-fvt" if other.how[j] == "fvt" else other.how[j]
    return Recipe(ids, w, how)
