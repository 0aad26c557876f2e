"""What every method gets (:class:`Context`) and gives back (:class:`Made`): the one signature of
the registry, ``make(ctx: Context) -> Made``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..align import Alignment
from ..tokenizer import Tokenizer
from ..vocab import Vocabulary
from .gate import english_share
from .options import Method, MethodOptions, Progress
from .recipe import Recipe


@dataclass
class Context:
    """The base model's rows and both vocabularies, seen from the missing tokens."""

    method: Method
    opts: MethodOptions
    model: object  # the base model (transformers)
    old: Tokenizer
    new_tok: Tokenizer | None  # the new tokenizer, when the caller gave one (not only a Vocabulary)
    newv: Vocabulary
    al: Alignment
    e_in: object  # [V_old, d] float32 input rows of the base model
    e_out: object  # [V_old, d] its head rows (the input rows when tied)
    tied: bool
    normal: object  # old ids of NORMAL tokens (a LongTensor)
    miss: np.ndarray  # new ids of the missing tokens
    tokens: list[bytes]  # what each missing token spells
    progress: Progress | None = None

    @property
    def d(self) -> int:
        return self.e_in.shape[1]

    def new_tokenizer(self) -> Tokenizer:
        return self.new_tok if self.new_tok is not None else Tokenizer(self.newv)

    def english(self):
        """The missing tokens' English shares for the language gate (None: the gate is off)."""
        if self.opts.gate != "language":
            return None
        return english_share(self.new_tokenizer(), self.opts.gate_exclude)[self.miss]


@dataclass
class Made:
    """A method's rows for the missing tokens: a recipe (for the input rows, and for the head rows
    unless ``head_recipe`` is given), or rows made directly (``rows``: in, out, [n_missing, d])."""

    recipe: Recipe | None = None
    head_recipe: Recipe | None = None  # head rows from their own recipe (a donor model's head)
    rows: tuple | None = None
