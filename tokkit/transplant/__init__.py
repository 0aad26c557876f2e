"""Transplant a tokenizer into a model (issue: transplant): align on bytes, fill the missing rows
(OMP, TokenAdapt hybrid, FVT, baselines, ZeTT), write a stock HF checkpoint.

``transplant(model, tokenizer, out, method="omp")`` does it all; :func:`align`, :func:`fill_rows`
and :func:`leave_out` are the parts (see docs/transplant.md)."""

from .align import Alignment, align
from .methods import HEADS, METHODS, MethodOptions, fill_rows, omp
from .surgery import transplant

__all__ = ["HEADS", "METHODS", "Alignment", "MethodOptions", "align", "fill_rows", "omp", "transplant"]
