"""Typed pipeline steps: one module per family (as Hugging Face ``tokenizers`` has them), each
kind a frozen dataclass registered in :mod:`.base`. See docs/formats.md ("Pipeline steps")."""

from . import decoders, normalizers, pretokenizers, processors
from .base import (
    Family,
    Regex,
    Step,
    StepError,
    UnknownStep,
    hf_class,
    known_kinds,
    register,
    step_class,
    step_types,
)

__all__ = [
    "Family", "Regex", "Step", "StepError", "UnknownStep", "decoders", "hf_class", "known_kinds",
    "normalizers", "pretokenizers", "processors", "register", "step_class", "step_types",
]
