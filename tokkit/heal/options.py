"""Options of a healing run, validated in one place (the CLI builds them from its flags)."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

from ..errors import TokkitError

#: what trains: the rows the transplant made, every embedding row, or LoRA adapters + new rows
TRAIN = ("new-rows", "embeddings", "lora")
#: objectives that can be mixed in --loss
LOSSES = ("lm", "alm")


def parse_loss(spec: str) -> dict[str, float]:
    """``"alm+lm"`` or ``"alm:1+lm:0.2"`` -> {"alm": 1.0, "lm": 0.2} (weight 1 when omitted)."""
    out: dict[str, float] = {}
    for part in str(spec).split("+"):
        m = re.fullmatch(r"\s*([a-z]+)\s*(?::\s*([0-9.eE+-]+))?\s*", part)
        if not m or m[1] not in LOSSES:
            raise TokkitError(f"--loss {spec!r}: expected terms from {', '.join(LOSSES)} joined by '+', each with an "
                              "optional :WEIGHT (e.g. alm+lm or alm:1+lm:0.2)")
        try:
            w = float(m[2]) if m[2] is not None else 1.0
        except ValueError:
            raise TokkitError(f"--loss {spec!r}: {m[2]!r} is not a number") from None
        if not math.isfinite(w) or w <= 0 or m[1] in out:
            raise TokkitError(f"--loss {spec!r}: each term once, with a positive finite weight")
        out[m[1]] = w
    return out


@dataclass
class HealOptions:
    loss: str = "alm+lm"
    #: LoRA + new rows: 1.068x the original's bits per byte after 5 minutes (GPT-2 tokenizer,
    #: English) where new rows alone reach 1.170x (docs/benchmarks.md, "Healing a transplant")
    train: str = "lora"
    steps: int | None = None  # stop after this many steps ...
    minutes: float | None = None  # ... or this much training time (whichever comes first)
    batch: int = 8  # text pieces per step
    piece_bytes: int = 512  # each corpus document is cut into pieces of about this many bytes
    lr: float = 3e-3  # embedding rows; LoRA adapters take lr_lora
    lr_lora: float = 3e-4
    lora_rank: int = 8
    alm_temperature: float = 1.0  # chunk probabilities are compared as p^(1/T)
    grad_clip: float = 1.0
    seed: int = 0
    checkpoint_every: int = 50
    eval_every: int = 25
    eval_minutes: tuple = ()  # also evaluate when the training time passes each of these marks
    max_pieces: int = 20000  # corpus pieces read (in order) before training starts
    text_field: str = "text"  # the text of JSONL records / the text column of Parquet and Arrow shards
    threads: int | None = None
    device: str | None = None  # None: "cuda" when torch sees a GPU, else "cpu"
    merge_lora: bool = True
    weights: dict = field(default_factory=dict, repr=False)

    #: options that may differ between a run and its resumption
    VOLATILE = ("steps", "minutes", "eval_every", "eval_minutes", "checkpoint_every", "threads", "device", "weights")

    def __post_init__(self) -> None:
        self.weights = parse_loss(self.loss)
        if self.train not in TRAIN:
            raise TokkitError(f"--train {self.train!r}: one of {', '.join(TRAIN)}")
        if self.steps is None and self.minutes is None:
            raise TokkitError("give --steps or --minutes (when to stop)")
        for name, least in (("batch", 1), ("piece_bytes", 16), ("lora_rank", 1), ("seed", 0),
                            ("checkpoint_every", 1), ("eval_every", 1), ("max_pieces", 1)):
            _check_int(name, getattr(self, name), least)
        if self.steps is not None:
            _check_int("steps", self.steps, 1)
        self.eval_minutes = tuple(sorted(float(m) for m in self.eval_minutes))
        if any(not math.isfinite(m) or m <= 0 for m in self.eval_minutes):
            raise TokkitError(f"eval minutes {self.eval_minutes}: give positive numbers")
        if self.threads is not None:
            _check_int("threads", self.threads, 1)
        positive = ("lr", "lr_lora", "alm_temperature", "grad_clip") + (("minutes",) if self.minutes is not None else ())
        for name in positive:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise TokkitError(f"--{name.replace('_', '-')} {v!r}: give a positive number")

    def fingerprint(self) -> dict:
        """The options a resumed run must share with the run that wrote the checkpoint."""
        return {k: v for k, v in asdict(self).items() if k not in self.VOLATILE}


def _check_int(name: str, value, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise TokkitError(f"--{name.replace('_', '-')} {value!r}: give an integer >= {least}")
