"""Which function makes each method's rows: ``make(ctx: Context) -> Made`` (:mod:`.context`).

Adding a method: a module with ``make``, a value in :class:`~.options.Method` and a line here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import baselines, fvt, hybrid, omp, zett
from .context import Context, Made
from .options import Method


@dataclass(frozen=True)
class Entry:
    make: Callable[[Context], Made]
    head: str  # what head="auto" means for the method (head.py)


REGISTRY: dict[Method, Entry] = {
    Method.HYBRID: Entry(hybrid.make, head="offset"),
    Method.OMP: Entry(omp.make, head="offset"),
    Method.FVT: Entry(fvt.make, head="offset"),
    Method.MEAN: Entry(baselines.make, head="tied"),
    Method.ZERO: Entry(baselines.make, head="tied"),
    Method.RANDOM: Entry(baselines.make, head="tied"),
    Method.ZETT: Entry(zett.make, head="tied"),
}
