"""Which method makes the rows of new tokens, and its options: checked here and nowhere else.

The API (:func:`~tokkit.transplant.transplant`, :func:`~tokkit.transplant.fill_rows`) and the CLI
build a :class:`MethodOptions` (its values are checked when it is made) and call
:meth:`MethodOptions.check` with the method (what the method needs). Messages name the CLI flag
too, so the CLI adds no checks of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Callable, Sequence

from ..errors import TokkitError


class Method(StrEnum):
    """How the rows of missing tokens are made (the values are the CLI's names)."""

    HYBRID = "hybrid"  # TokenAdapt (hybrid.py); the default: best in docs/benchmarks.md
    OMP = "omp"  # orthogonal matching pursuit in a donor space (omp.py, spaces.py)
    FVT = "fvt"  # mean of the decomposition's rows (fvt.py)
    MEAN = "mean"  # baselines.py
    ZERO = "zero"
    RANDOM = "random"
    ZETT = "zett"  # a trained hypernetwork (zett.py -> tokkit.hypernet)

    @classmethod
    def parse(cls, name: str | Method) -> Method:
        try:
            return cls(name)
        except ValueError:
            raise TokkitError(f"unknown method {name!r} (choose from {', '.join(METHODS)})") from None


#: the one default method of the API, the CLI and the docs
DEFAULT_METHOD = Method.HYBRID
METHODS = tuple(m.value for m in Method)
HEADS = ("auto", "offset", "tied", "mean")  # LM head rows of new tokens (head.py)
GATES = ("language", "off")  # gate.py
ANCHORS = ("old", "shared")  # OMP atoms in the aux space
Progress = Callable[[str, int, int], None]  # (stage, done, total)

#: the CLI flag of each checked option, named at the end of its messages (the others are API-only)
_FLAGS = {"k": "--k", "candidates": "--omp-candidates", "seed": "--seed", "head": "--head", "gate": "--gate",
          "anchors": "--omp-anchors", "decomposition_weight": "--decomposition-weight"}


@dataclass
class MethodOptions:
    #: OMP atoms: None = 64 with a donor model (mergekit's default) and 8 in the aux and corpus
    #: spaces (385 and 256 dimensions: 64 atoms fit noise there; measured in docs/transplant.md)
    k: int | None = None
    #: OMP: each target's dictionary is first cut to its most correlated anchors; None = 64 * k
    #: (512 with k=8, 4096 with a donor model's k=64: 512 there cost Gemma-3-270m -> SmolLM2
    #: 0.9815 vs 0.9341 bits/byte in English, docs/benchmarks.md); 0 = no cut (slow)
    candidates: int | None = None
    donor: str = "aux"  # OMP donor space: "aux", "corpus" or the path of a donor model
    donor_texts: Sequence[str] = field(default_factory=list)  # for donor="corpus"
    #: OMP in the aux space: weight of the decomposition block appended to the donor space (the
    #: base model's own rows, centred: an anchor's row; a new token's FVT row), 0 = off.
    #: 1 (equal weight with the unit-norm aux vectors) by default: on the tokkit 32k BPE, with
    #: old-token anchors, it took German from 3.02 to 2.74 bits per byte and English from 1.143
    #: to 1.113 (docs/transplant.md)
    decomposition_weight: float = 1.0
    #: OMP atoms in the aux space: "shared" (tokens in both vocabularies, as with a donor model)
    #: or "old" (every normal old token: each has an aux vector and a row in the base model)
    anchors: str = "old"
    #: how much each new token trusts MiniLM (an English model): "language" (default) weighs the
    #: MiniLM-based part of OMP (aux donor) and of hybrid (its global part) by the token's English
    #: share in bundled text and wordfreq's word lists (:func:`.gate.english_share`), the rest
    #: going to FVT; "off"
    gate: str = "language"
    #: UDHR languages (ISO 639-3) kept out of the gate's non-English reference text (an
    #: evaluation on a UDHR translation keeps its own language out)
    gate_exclude: Sequence[str] = ()
    head: str = "auto"  # LM head rows of new tokens: auto | offset | tied | mean
    calibration_texts: Sequence[str] | None = None  # head="offset": text to fit the offset on
    temperature: float = 0.3  # hybrid
    top_k: int = 3  # hybrid, global part
    global_weight: float = 0.3  # hybrid
    max_pieces: int = 16  # decomposition by the old tokenizer
    seed: int = 0  # random
    hypernet: str | None = None  # zett

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Refuse an option value that would give no result or a meaningless one (a TokkitError
        naming it); run when the options are made and again by :meth:`check`."""
        for name, ok in (("head", HEADS), ("gate", GATES), ("anchors", ANCHORS)):
            value = getattr(self, name)
            if value not in ok:
                raise TokkitError(f"unknown {name} {value!r} (choose from {', '.join(ok)}){_flag(name)}")
        for name, least in (("k", 1), ("candidates", 0), ("top_k", 1), ("max_pieces", 1), ("seed", 0)):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
                raise TokkitError(f"option {name} must be >= {least} (an integer), got {value!r}{_flag(name)}")
        for name, lo, hi in (("decomposition_weight", 0.0, math.inf), ("temperature", 1e-6, math.inf),
                             ("global_weight", 0.0, 1.0)):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and lo <= value <= hi):
                raise TokkitError(f"option {name} must be a finite number in [{lo:g}, {hi:g}], got {value!r}"
                                  f"{_flag(name)}")

    def check(self, method: str | Method = DEFAULT_METHOD, unused: bool = False) -> Method:
        """The method as a :class:`Method`, once it and these options can work together; run
        before anything is loaded or written. ``unused``: also refuse options that ``method``
        would ignore (the CLI: a flag given for nothing is a mistake; the API lets one
        MethodOptions serve several methods)."""
        self.validate()
        m = Method.parse(method)
        if m is Method.ZETT and not self.hypernet:
            raise TokkitError("--method zett needs --hypernet DIR (train one with `tokkit hypernet train`)")
        if self.donor == "corpus" and not self.donor_texts and (m is Method.OMP or unused):
            raise TokkitError("--donor corpus needs a corpus (--donor-corpus FILE or corpus:NAME)")
        if unused and self.hypernet and m is not Method.ZETT:
            raise TokkitError("--hypernet is only used with --method zett")
        if unused and self.donor_texts and self.donor != "corpus":
            raise TokkitError("--donor-corpus is only used with --donor corpus")
        return m


def _flag(name: str) -> str:
    """" (--flag)" for an option the CLI has, else nothing."""
    return f" ({_FLAGS[name]})" if name in _FLAGS else ""
