"""Post-processors (Hugging Face ``tokenizers.processors``): special tokens around the encoded
sequence(s).

Fields are named as Hugging Face names them. A template's items and special tokens stay JSON
(lists and objects as in ``tokenizer.json``); :class:`~tokkit.vocab.model.Vocabulary` checks
them against its ids.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any, ClassVar

from . import pretokenizers
from .base import Family, Step, StepError, register


class PostProcessor(Step):
    family: ClassVar[Family] = Family.POST_PROCESSOR


@register
class TemplateProcessing(PostProcessor):
    """``single`` and ``pair`` are lists of ``{"Sequence": {"id", "type_id"}}`` and
    ``{"SpecialToken": {"id", "type_id"}}``; ``special_tokens`` maps a name to
    ``{"id", "ids", "tokens"}``."""

    kind = "template"
    hf_type = "TemplateProcessing"
    single: list[Any] | None = field(default_factory=list)
    pair: list[Any] | None = field(default_factory=list)
    special_tokens: dict[str, Any] | None = field(default_factory=dict)

    def describe(self) -> str:
        parts = [x["SpecialToken"]["id"] if "SpecialToken" in x else "$" + x["Sequence"]["id"]
                 for x in self.get("single", [])]
        return "template(" + " ".join(parts) + ")"


def _check_pair(step: Step, name: str) -> None:
    v = getattr(step, name)
    if not (len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], int) and not isinstance(v[1], bool)):
        raise StepError(f"{step.hf_type}: {name} is not [token, id]")


@register
class BertProcessing(PostProcessor):
    kind = "bert_processing"
    hf_type = "BertProcessing"
    sep: list[Any]
    cls: list[Any]

    def _validate(self) -> None:
        _check_pair(self, "sep")
        _check_pair(self, "cls")


@register
class RobertaProcessing(PostProcessor):
    kind = "roberta_processing"
    hf_type = "RobertaProcessing"
    sep: list[Any]
    cls: list[Any]
    trim_offsets: bool = True
    add_prefix_space: bool = True

    def _validate(self) -> None:
        _check_pair(self, "sep")
        _check_pair(self, "cls")


@register
class ByteLevel(pretokenizers.ByteLevel):
    """Offsets trimmed of the byte-level prefix space (Hugging Face's one ByteLevel struct)."""

    family = Family.POST_PROCESSOR
