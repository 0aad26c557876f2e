"""The baselines ``mean`` (the mean row of ordinary tokens), ``zero`` and ``random`` (normal with
the matrix's per-dimension mean and std, seeded): constants, no old ids."""

from __future__ import annotations

from .context import Context, Made
from .recipe import constant


def make(ctx: Context) -> Made:
    return Made(constant(len(ctx.miss), ctx.method.value))
