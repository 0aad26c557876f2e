"""Evaluating a transplant without writing checkpoints.

- :func:`method_rows`: the rows each method gives a model for a new tokenizer (in memory), to be
  scored with :func:`tokkit.lm.bits_per_byte` (``rows=``), which is how ``eval/transplant_eval.py``
  compares methods quickly.
- :func:`leave_out`: the intrinsic check: hide ``n`` shared tokens from the old vocabulary (their
  merges removed, so the old tokenizer can no longer produce them and no method can see their
  rows), rebuild their rows with each method, and compare with the true rows (cosine).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..align import align, base_rows
from ..tokenizer import Tokenizer
from ..vocab import TokenType
from .fill import fill_rows
from .options import MethodOptions


def method_rows(method: str, model, old: Tokenizer, new: Tokenizer, opts: MethodOptions | None = None):
    """(rows [V_new, d] or [V_new, 2d] for an untied result, records) as ``lm.bits_per_byte``
    takes them."""
    import torch

    al = align(old.vocab, new.vocab)
    e_in, e_out, records = fill_rows(method, model, old, new, al, opts)
    return (e_in if e_out is None else torch.cat([e_in, e_out], dim=1)), records


def hidden_vocab(old: Tokenizer, hide: Sequence[int]) -> Tokenizer:
    """``old`` with the tokens ``hide`` made unreachable (type UNUSED, merges that make them
    removed); ids unchanged."""
    v = old.vocab
    hs = set(int(i) for i in hide)
    types = [TokenType.UNUSED if i in hs else t for i, t in enumerate(v.types)]
    merges = [m for m in v.merges if m[2] not in hs and m[0] not in hs and m[1] not in hs]
    return Tokenizer(v.copy(types=types, merges=merges))


def pick_hidden(old: Tokenizer, n: int, seed: int = 0) -> np.ndarray:
    """``n`` ordinary tokens of at least 2 bytes that some merge produces, chosen at random."""
    v = old.vocab
    made = {m[2] for m in v.merges}
    cand = [i for i, (b, t) in enumerate(zip(v.tokens, v.types))
            if t == TokenType.NORMAL and len(b) >= 2 and i in made]
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(cand, size=min(n, len(cand)), replace=False))


def leave_out(model, old: Tokenizer, methods: Sequence[str], n: int = 1000, seed: int = 0,
              opts: MethodOptions | None = None, texts: Sequence[str] = ()) -> dict:
    """{method: {"cosine_in": mean cosine of rebuilt vs true input rows, "centered_in": the same
    after subtracting the mean row of ordinary tokens (the rows share a large common component, so
    the mean row alone has a high raw cosine), "cosine_out": raw cosine for the head (the input
    rows for a tied result), "bits_per_byte": on ``texts`` (if given)}}."""
    import torch
    import torch.nn.functional as F

    from ..lm import bits_per_byte

    hide = pick_hidden(old, n, seed)
    reduced = hidden_vocab(old, hide)
    rows, tied = base_rows(model)
    d = model.get_input_embeddings().weight.shape[1]
    true_in = rows[:, :d][torch.as_tensor(hide)]
    true_out = (rows[:, :d] if tied else rows[:, d:])[torch.as_tensor(hide)]
    al = align(reduced.vocab, old.vocab)
    normal = torch.as_tensor([i for i, t in enumerate(reduced.vocab.types) if t == TokenType.NORMAL])
    center = rows[:, :d][normal].mean(0)
    out = {"hidden": int(len(hide))}
    for m in methods:
        e_in, e_out, _ = fill_rows(m, model, reduced, old, al, opts)
        h = torch.as_tensor(hide)
        res = {"cosine_in": float(F.cosine_similarity(e_in[h], true_in, dim=1).mean()),
               "centered_in": float(F.cosine_similarity(e_in[h] - center, true_in - center, dim=1).mean()),
               "cosine_out": float(F.cosine_similarity((e_in if e_out is None else e_out)[h], true_out, dim=1).mean())}
        if texts:
            table = e_in if e_out is None else torch.cat([e_in, e_out], dim=1)
            res["bits_per_byte"] = bits_per_byte(model, old, texts, rows=table)["bits_per_byte"]
        out[m] = res
    return out
