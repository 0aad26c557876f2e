"""Information-theoretic measures of the token stream of each text set.

Shannon entropy of unigram frequencies, Rényi entropy of order alpha and Rényi efficiency
(H_alpha / log2 |V|, |V| the declared vocabulary size), conditional entropies of order k
(H of (k+1)-grams minus H of k-grams, n-grams inside one text), vocabulary utilisation.
All in bits. Every text set at once: n-gram keys carry the set, one sort per order.
"""

from __future__ import annotations

import numpy as np

DEFINITIONS = {
    "entropy": ("bits", "unigram distribution of the set's tokens", "Shannon entropy H1 = -sum p log2 p"),
    "renyi_entropy": ("bits", "unigram distribution of the set's tokens", "H_a = log2(sum p^a) / (1 - a)"),
    "renyi_efficiency": ("H_a / log2 |V|", "unigram distribution of the set's tokens",
                         "|V| = the declared vocabulary size"),
    "cond_entropy_1": ("bits", "n-grams within texts of the set", "H(2-grams) - H(1-grams)"),
    "cond_entropy_2": ("bits", "n-grams within texts of the set", "H(3-grams) - H(2-grams)"),
    "cond_entropy_3": ("bits", "n-grams within texts of the set", "H(4-grams) - H(3-grams)"),
    "utilization": ("share of |V|", "distinct tokens in the set / declared vocabulary size", ""),
}


_GROUP_SHIFT = np.uint64(52)  # up to 4096 text sets; 52 bits of n-gram hash below the set
_MASK = np.uint64((1 << 52) - 1)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (uint64, wrapping): a well-spread 64-bit hash of each element."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _entropies(keys: np.ndarray, n_groups: int, alpha: float | None = None):
    """Per-group Shannon (and Rényi) entropy of the distribution of ``keys`` (uint64, the group
    in the top bits). One sort, no inverse: sorting puts each group's keys together."""
    nan = np.full(n_groups, np.nan)
    if not len(keys):
        return nan, nan, np.zeros(n_groups)
    k = np.sort(keys)
    starts = np.flatnonzero(np.concatenate([[True], k[1:] != k[:-1]]))
    counts = np.diff(np.concatenate([starts, [len(k)]])).astype(float)
    g = (k[starts] >> _GROUP_SHIFT).astype(np.int64)
    total = np.bincount(g, weights=counts, minlength=n_groups)
    p = counts / total[g]
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.bincount(g, weights=p * np.log2(p), minlength=n_groups)
        h[total == 0] = np.nan
        renyi = None
        if alpha is not None:
            renyi = np.log2(np.bincount(g, weights=p ** alpha, minlength=n_groups)) / (1 - alpha)
            renyi[total == 0] = np.nan
    distinct = np.bincount(g, minlength=n_groups).astype(float)
    return h, renyi, distinct


def information(batch, enc, vocab_size: int, alpha: float = 2.5, max_order: int = 3) -> dict[str, np.ndarray]:
    """Unigram keys are exact (set, id); k-gram keys are a 52-bit rolling hash of the ids inside
    the set's bits (a collision among the ~10^4 n-grams of one set has probability ~10^-8)."""
    n = batch.n_sets
    if n >= 1 << 12:
        raise ValueError("information(): at most 4096 text sets per report")
    group_tok = batch.set_of_text[enc.text_of_token].astype(np.uint64)
    ids = enc.ids.astype(np.uint64)
    top = group_tok << _GROUP_SHIFT
    h1, renyi, distinct = _entropies(top | ids, n, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {
            "entropy": h1,
            "renyi_entropy": renyi,
            "renyi_efficiency": renyi / np.log2(vocab_size),
            "utilization": distinct / vocab_size,
        }
    prev_h = h1
    rolling = _mix(ids)
    text = enc.text_of_token
    for k in range(2, max_order + 2):
        m = len(ids) - k + 1
        if m <= 0:
            out[f"cond_entropy_{k - 1}"] = np.full(n, np.nan)
            continue
        # hash of the k-gram starting at i: mix(hash of the (k-1)-gram at i, id at i+k-1)
        with np.errstate(over="ignore"):
            rolling = _mix(rolling[:m] * np.uint64(0x100000001B3) ^ ids[k - 1:])
        valid = text[k - 1:] == text[:m]  # the k-gram stays inside one text
        keys = top[:m][valid] | (rolling[valid] & _MASK)
        hk, _, _ = _entropies(keys, n)
        out[f"cond_entropy_{k - 1}"] = hk - prev_h
        prev_h = hk
    return out


def pooled_utilization(enc, vocab_size: int) -> float:
    if not len(enc.ids):
        return 0.0
    return float(np.count_nonzero(np.bincount(enc.ids, minlength=vocab_size)) / vocab_size)
