"""The LM head rows of new tokens (``MethodOptions.head``).

- ``offset`` (what ``auto`` means for the recipe methods): the recipe's row plus ``c * u``, where
  ``u`` is the direction on which the model's final hidden states are (almost) constant (a ridge
  fit: H u = 1) and ``c`` one logit offset fitted on calibration text tokenized by the new
  tokenizer. A new token built from its pieces otherwise gets the logit of its pieces and steals
  probability wherever its first piece fits; the offset stands for log P(rest of the token | its
  start). It unties a tied model (unless the fitted offset is 0);
- ``tied``: the same recipe as the input rows (a tied model stays tied; what ``auto`` means for
  ``zett`` and the constant baselines);
- ``mean``: the mean head row (unties a tied model).

Measured in docs/transplant.md ("The LM head of new tokens").
"""

from __future__ import annotations

import hashlib
from typing import Sequence

from ..tokenizer import Tokenizer
from ..vocab import Vocabulary
from .context import Context
from .options import MethodOptions


def apply_head(head: str, ctx: Context, out_in, out_out, records: list[dict]) -> float | None:
    """Make the head rows of the missing tokens in ``out_out`` (in place) by the policy ``head``
    ("tied", "mean" or "offset"; the input rows ``out_in`` are final) and say so in ``records``;
    returns the fitted offset for "offset", else None."""
    import torch

    miss = torch.as_tensor(ctx.miss)
    if head == "mean":
        out_out[miss] = ctx.e_out[ctx.normal].mean(0)
        for i in ctx.miss:
            records[i]["head"] = {"how": "mean"}
    elif head == "offset":
        calib = calibration(ctx.opts)
        u, fit_std = bias_direction(ctx.model, ctx.old, calib)
        c = fit_offset(ctx.model, ctx.newv if ctx.new_tok is None else ctx.new_tok, out_in, out_out, miss, u, calib)
        out_out[miss] = out_out[miss] + c * u
        for i in ctx.miss:
            records[i]["head"] = {"how": "recipe+offset", "offset": round(c, 3)}
            records[i]["head"]["direction_std"] = round(fit_std, 4)
        return c
    return None


def calibration(opts: MethodOptions) -> list[str]:
    """Text the head offset is fitted on: the caller's, else bundled text that the evaluations
    do not use (legal train split, UDHR in French, Spanish, Dutch, Polish, Russian, Turkish)."""
    if opts.calibration_texts:
        return list(opts.calibration_texts)
    from .. import corpora

    legal = "\n\n".join(corpora.open_corpus("legal", split="train"))[:4000]
    return [legal] + ["\n".join(corpora.udhr(k))[:1000] for k in ("fra", "spa", "nld", "pol", "rus", "tur")]


def _hidden(model, ids, e_in, max_len: int = 1024):
    import torch

    from ..lm import hidden_states

    out = []
    with torch.no_grad():
        for a in range(0, len(ids), max_len):
            w = ids[a:a + max_len]
            out.append(hidden_states(model, e_in, torch.as_tensor(w)[None])[0])
    return torch.cat(out) if out else torch.zeros(0, e_in.shape[1])


def bias_direction(model, old: Tokenizer, texts: Sequence[str]):
    """(u [d], std): the direction whose dot product with the model's final hidden states is
    (almost) constant 1, fitted by ridge regression on hidden states of ``texts``; ``std`` is the
    spread of that product (0.045 on SmolLM2). Adding ``c * u`` to a head row adds about ``c`` to
    that token's logit in every context: the model has no logit bias, this stands in for one."""
    import torch

    from ..lm import prefix_id

    # cached on the model object itself (a model's id can be reused after it is freed)
    cache = model.__dict__.setdefault("_tokkit_bias_direction", {})
    key = hashlib.sha256("\0".join(texts).encode()).hexdigest()
    if key in cache:
        return cache[key]
    e_in = model.get_input_embeddings().weight.detach().to(torch.float32)
    H = torch.cat([_hidden(model, torch.as_tensor([prefix_id(old)] + [int(x) for x in old.encode(t, special="text")]), e_in)
                   for t in texts])
    d = H.shape[1]
    u = torch.linalg.solve(H.T @ H + 1e-2 * torch.eye(d), H.T @ torch.ones(H.shape[0]))
    cache[key] = (u, float((H @ u).std()))
    return cache[key]


def fit_offset(model, new: Tokenizer | Vocabulary, e_in, e_out, miss, u, texts: Sequence[str],
               grid: Sequence[float] = tuple(x / 10 for x in range(-150, 1))) -> float:
    """The logit offset ``c`` (one number) for the head rows of new tokens that minimises the
    cross-entropy of ``texts`` tokenized by the new tokenizer; the hidden states do not depend on
    the head, so one forward pass serves every candidate offset."""
    import torch

    from ..lm import prefix_id

    tok = new if isinstance(new, Tokenizer) else Tokenizer(new)
    H, tgt = [], []
    for t in texts:
        ids = torch.as_tensor([prefix_id(tok)] + [int(x) for x in tok.encode(t, special="text")])
        H.append(_hidden(model, ids[:-1], e_in))
        tgt.append(ids[1:])
    H, tgt = torch.cat(H), torch.cat(tgt)
    is_new = torch.zeros(e_out.shape[0], dtype=torch.bool)
    is_new[miss] = True
    hu = H @ u
    with torch.no_grad():
        base = H @ e_out.T  # [T, V]
        # the offset moves every new column of a row by the same c * hu[t], so the log-partition
        # splits into the old columns' and the new columns' (each computed once)
        lse_old = torch.logsumexp(base.masked_fill(is_new[None, :], float("-inf")), dim=1)
        lse_new = torch.logsumexp(base.masked_fill(~is_new[None, :], float("-inf")), dim=1)
        gold = base[torch.arange(len(tgt)), tgt]
        gold_new = is_new[tgt].to(base.dtype)
        del base
        best, best_c = float("inf"), 0.0
        for c in grid:
            lse = torch.logaddexp(lse_old, lse_new + c * hu)
            loss = float((lse - gold - c * hu * gold_new).mean())
            if loss < best:
                best, best_c = loss, float(c)
    return best_c
