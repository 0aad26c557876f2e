"""Parity-aware training: language weights chosen by an outer loop over the trainer and the
report's parity measure (``tokkit train --parity-aware``; docs/train.md "Weights").

Each round trains a BPE vocabulary from the groups' counts under the current weights (the
counts are made once: :class:`~tokkit.train.weights.GroupedCounts`; a round is a merge loop),
then measures every training language's tokens per aligned unit on the UDHR *train* articles
(1-20; articles 21-30 stay held out for evaluation) and moves the weights towards parity:

    w_g <- w_g * (c_g / mean c)^step

so languages that need more tokens than average get more of the merges. The measure is the
report's fairness Gini over the c_g (:func:`tokkit.quality.metrics.parity.gini`). The pivot
language's (English) tokens may grow by at most ``budget`` (default 3%) over the first,
proportional round; a round that breaks the budget halves the step and restarts from the best
weights so far. The result is the round with the lowest Gini within the budget.

Only languages the UDHR has (by ISO 639-3 code) are measured and moved; other groups (a code
corpus, an unknown language) keep their weights.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import TokkitError
from .weights import Group, GroupedCounts


@dataclass(frozen=True)
class ParityOptions:
    iterations: int = 5
    budget: float = 0.03  # most extra pivot tokens, relative to the proportional round
    step: float = 1.0
    pivot: str = "eng"


def aligned_units(groups: list[Group], split: str = "train") -> dict[str, list[str]]:
    """{group key: UDHR articles of ``split``} for every group the UDHR has a declaration of."""
    from .. import corpora

    out = {}
    for g in groups:
        try:
            entry = corpora.udhr_entry(g.key)
        except TokkitError:
            continue
        if entry["iso639_3"] == g.key or g.lang is not None:
            out[g.key] = list(corpora.open_corpus("udhr", entry["key"], split=split))
    return out


def tokens_per_unit(tok, units: Mapping[str, list[str]]) -> dict[str, float]:
    return {k: float(np.mean([len(x) for x in tok.encode_batch(texts, special="text")])) for k, texts in units.items()}


def _gini(values) -> float:
    from ..quality.metrics.parity import gini

    return float(gini(np.asarray(list(values), dtype=float)))


def parity_search(grouped: GroupedCounts, train: Callable, start: Mapping[str, float],
                  opts: ParityOptions = ParityOptions(), progress: Callable[[int, dict], None] | None = None):
    """(weights, vocabulary, history): the lowest-Gini round within the pivot budget.

    ``train(table)`` -> Vocabulary runs the merge loop on a count table; ``start``: the first
    round's weights (proportional, or a temperature's)."""
    from ..tokenizer import Tokenizer

    units = aligned_units(grouped.groups)
    if opts.pivot not in units or len(units) < 2:
        raise TokkitError(f"parity-aware training needs the pivot {opts.pivot!r} and another language with UDHR text "
                          f"among the training groups (measurable: {', '.join(units) or 'none'})")
    w, step = dict(start), opts.step
    best: tuple | None = None
    history, pivot0 = [], None
    for it in range(opts.iterations + 1):
        v = train(grouped.combine(_normalised(w)))
        c = tokens_per_unit(Tokenizer(v), units)
        pivot0 = c[opts.pivot] if pivot0 is None else pivot0
        within = c[opts.pivot] <= pivot0 * (1 + opts.budget)
        rec = {"round": it, "gini": round(_gini(c.values()), 6), "pivot_tokens_per_unit": round(c[opts.pivot], 4),
               "pivot_growth": round(c[opts.pivot] / pivot0 - 1, 6), "within_budget": bool(within), "step": step}
        history.append(rec)
        if progress:
            progress(it, rec)
        if within and (best is None or rec["gini"] < best[0]):
            best = (rec["gini"], dict(w), v, c)
        if not within:
            step /= 2
        base_w, base_c = best[1], best[3]
        mean = float(np.mean(list(base_c.values())))
        w = {k: base_w[k] * ((base_c[k] / mean) ** step if k in base_c else 1.0) for k in base_w}
    return _normalised(best[1]), best[2], history


def _normalised(w: Mapping[str, float]) -> dict[str, float]:
    m = min(w.values())
    return {k: v / m for k, v in w.items()}
