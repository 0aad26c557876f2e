"""``zett``: a trained hypernetwork (``tokkit hypernet train``, docs/hypernet.md) predicts the
input and head rows of missing tokens from their decomposition; tied head by default (as it was
trained). An adapter: the only place where transplant uses :mod:`tokkit.hypernet`, imported when
the method runs (hypernet itself imports nothing from transplant)."""

from __future__ import annotations

from .context import Context, Made


def make(ctx: Context) -> Made:
    import torch

    from ..hypernet.train import apply_hypernet

    table, _ = apply_hypernet(ctx.opts.hypernet, ctx.model, ctx.old, ctx.newv)
    miss, d = torch.as_tensor(ctx.miss), ctx.d
    return Made(rows=(table[miss, :d], table[miss, :d] if ctx.tied else table[miss, d:]))
