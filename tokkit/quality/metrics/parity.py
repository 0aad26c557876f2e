"""Parity across languages on aligned text: premiums against a pivot, bootstrap confidence
intervals over aligned units, and the tokenizer fairness Gini.

premium(A) = tokens(A) / tokens(pivot) summed over the aligned units (ratio of sums). The
bootstrap resamples the units (the same draw for A and the pivot) and takes percentiles.
"""

from __future__ import annotations

import numpy as np

DEFINITIONS = {
    "premium": ("tokens / pivot tokens", "ratio of sums over aligned units",
                "tokenization premium against the pivot language on the same units"),
    "premium_ci_low": ("tokens / pivot tokens", "bootstrap percentile over aligned units", "lower bound"),
    "premium_ci_high": ("tokens / pivot tokens", "bootstrap percentile over aligned units", "upper bound"),
    "gini": ("Gini coefficient in [0, 1)", "over the languages of an aligned corpus",
             "sum_i sum_j |c_i - c_j| / (2 n^2 mean c), c = tokens per aligned unit; 0 = parity"),
}


def gini(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """Gini coefficient along ``axis`` (mean absolute difference / (2 * mean)), sort-based, O(n log n)."""
    x = np.sort(np.asarray(values, dtype=float), axis=axis)
    x = np.moveaxis(x, axis, 0)
    n = x.shape[0]
    if n == 0:
        return np.full(x.shape[1:], np.nan)
    i = np.arange(1, n + 1).reshape((n,) + (1,) * (x.ndim - 1))
    total = x.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (2 * (i * x).sum(axis=0) / (n * total)) - (n + 1) / n


def unit_matrix(batch, lengths: np.ndarray, set_indices: list[int]) -> np.ndarray:
    """Tokens per aligned unit: (len(set_indices), units), for sets with the same number of units.
    ``lengths``: tokens per text of ``batch``."""
    per_text = np.asarray(lengths).astype(float)
    rows = []
    for k in set_indices:
        rows.append(per_text[batch.set_of_text == k])
    return np.vstack(rows) if rows else np.zeros((0, 0))


def parity(counts: np.ndarray, pivot_row: int, n_boot: int = 1000, seed: int = 0, ci: float = 0.95) -> dict:
    """``counts``: tokens per (language, aligned unit). Premiums with bootstrap CIs and the Gini
    (with its own bootstrap CI), all with the same unit resamples."""
    L, U = counts.shape
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(U, np.full(U, 1.0 / U), size=n_boot).astype(float)  # (B, U)
    sums = counts.sum(axis=1)
    boot = counts @ weights.T  # (L, B)
    lo_q, hi_q = 100 * (1 - ci) / 2, 100 * (1 + ci) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        premium = sums / sums[pivot_row]
        bp = boot / boot[pivot_row]
    g = gini(sums / U)
    gb = gini(boot / U, axis=0)
    return {
        "premium": premium,
        "premium_ci_low": np.percentile(bp, lo_q, axis=1),
        "premium_ci_high": np.percentile(bp, hi_q, axis=1),
        "gini": float(g),
        "gini_ci": [float(np.percentile(gb, lo_q)), float(np.percentile(gb, hi_q))],
        "n_boot": n_boot,
        "units": U,
    }
