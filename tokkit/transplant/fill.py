"""``fill_rows``: the new vocabulary's rows. Aligned rows are copied (:mod:`tokkit.align`); the
method in the registry makes the missing ones (:mod:`.registry`); the head policy makes their LM
head rows (:mod:`.head`)."""

from __future__ import annotations

import numpy as np

from ..align import Alignment, base_rows
from ..tokenizer import Tokenizer
from ..vocab import TokenType, Vocabulary
from .context import Context, Made
from .head import apply_head
from .options import Method, MethodOptions, Progress
from .registry import REGISTRY


def fill_rows(method: str | Method, model, old: Tokenizer, new: Tokenizer | Vocabulary, al: Alignment,
              opts: MethodOptions | None = None, progress: Progress | None = None):
    """(in_rows [V_new, d], out_rows [V_new, d] or None when the result stays tied, records).

    Aligned rows are copied; missing rows are made by ``method``; ``records[i]`` says how row i
    was made (for OMP/hybrid/FVT: the old ids and weights)."""
    opts = opts or MethodOptions()
    method = opts.check(method)
    ctx = _context(method, model, old, new, al, opts, progress)
    entry = REGISTRY[method]
    head = entry.head if opts.head == "auto" else opts.head
    untie = ctx.tied and head in ("mean", "offset")
    out_in, out_out, records = _aligned(ctx)
    if len(ctx.miss) == 0:
        return out_in, (out_out if (not ctx.tied or untie) else None), records
    made = entry.make(ctx)
    _place(made, ctx, out_in, out_out, records)
    offset = apply_head(head, ctx, out_in, out_out, records)
    if offset == 0 and made.head_recipe is None:
        untie = False  # the head rows are the input rows: a tied model stays tied
    return out_in, (None if ctx.tied and not untie else out_out), records


def _context(method: Method, model, old: Tokenizer, new: Tokenizer | Vocabulary, al: Alignment,
             opts: MethodOptions, progress: Progress | None) -> Context:
    import torch

    newv = new.vocab if isinstance(new, Tokenizer) else new
    rows, tied = base_rows(model)
    rows = rows.detach().to(torch.float32)
    d = model.get_input_embeddings().weight.shape[1]
    normal = torch.as_tensor([i for i, t in enumerate(old.vocab.types) if t == TokenType.NORMAL])
    return Context(method=method, opts=opts, model=model, old=old, new_tok=new if isinstance(new, Tokenizer) else None,
                   newv=newv, al=al, e_in=rows[:, :d], e_out=rows[:, :d] if tied else rows[:, d:], tied=tied,
                   normal=normal, miss=al.missing, tokens=[newv.tokens[i] for i in al.missing], progress=progress)


def _aligned(ctx: Context):
    """(input rows, head rows, records) with the aligned rows copied and zeros elsewhere."""
    import torch

    al = ctx.al
    src = torch.as_tensor(np.maximum(al.source, 0))
    has = torch.as_tensor(al.source >= 0)
    out_in = torch.where(has[:, None], ctx.e_in[src], torch.zeros(()))
    out_out = torch.where(has[:, None], ctx.e_out[src], torch.zeros(()))
    records: list[dict] = [{"how": k, "old_id": int(s)} if s >= 0 else {} for k, s in zip(al.kind, al.source)]
    return out_in, out_out, records


def _place(made: Made, ctx: Context, out_in, out_out, records: list[dict]) -> None:
    """Write the method's rows of the missing tokens (input and head) and their records."""
    import torch

    miss = torch.as_tensor(ctx.miss)
    if made.rows is not None:
        out_in[miss], out_out[miss] = made.rows
        for i in ctx.miss:
            records[i] = {"how": ctx.method.value}
        return
    out_in[miss] = made.recipe.apply(ctx.e_in, ctx.normal, ctx.opts.seed)
    head = made.head_recipe if made.head_recipe is not None else made.recipe
    out_out[miss] = head.apply(ctx.e_out, ctx.normal, ctx.opts.seed + 1)
    for r, i in enumerate(ctx.miss):
        records[i] = made.recipe.record(r)
        if made.head_recipe is not None:
            records[i]["head"] = made.head_recipe.record(r)
