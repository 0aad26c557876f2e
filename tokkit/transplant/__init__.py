"""Transplant a tokenizer into a model (issue: transplant): align on bytes, fill the missing rows
(TokenAdapt hybrid, OMP, FVT, baselines, ZeTT), write a stock HF checkpoint.

``transplant(model, tokenizer, out, method="hybrid")`` does it all; :func:`align`,
:func:`fill_rows` and :func:`~.evaluate.leave_out` are the parts (see docs/transplant.md, "Where
things are"). Every method gets the same alignment (:mod:`tokkit.align`): special tokens (by
text, else role) and tokens with the same bytes as an old token keep the old rows; only the
"missing" rows differ. Most methods make a recipe for each missing token (old ids and weights,
:mod:`.recipe`), applied to the input embeddings and, through the head policy (:mod:`.head`),
to the LM head.
"""

from ..align import Alignment, align
from .fill import fill_rows
from .gate import english_share
from .options import DEFAULT_METHOD, HEADS, METHODS, Method, MethodOptions
from .recipe import Recipe
from .surgery import transplant

__all__ = ["DEFAULT_METHOD", "HEADS", "METHODS", "Alignment", "Method", "MethodOptions", "Recipe", "align",
           "english_share", "fill_rows", "transplant"]
