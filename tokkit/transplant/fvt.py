"""``fvt`` (fast vocabulary transfer): a new token's row is the mean of the old rows of its
decomposition by the old tokenizer."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..align import decompose
from ..tokenizer import Tokenizer
from .context import Context, Made
from .recipe import Recipe


def fvt_recipe(tokens: Sequence[bytes], old: Tokenizer, max_pieces: int) -> Recipe:
    """The mean of each token's pieces (``fallback-mean`` for a token with no pieces)."""
    pieces, lengths = decompose(tokens, old, max_pieces)
    w = (np.arange(max_pieces)[None, :] < lengths[:, None]).astype(np.float32)
    w /= np.maximum(lengths[:, None], 1)
    how = ["fvt" if n else "fallback-mean" for n in lengths]
    return Recipe(pieces, w, how)


def make(ctx: Context) -> Made:
    return Made(fvt_recipe(ctx.tokens, ctx.old, ctx.opts.max_pieces))
