"""Pretokenizers (Hugging Face ``tokenizers.pre_tokenizers``): text -> pieces the model encodes
one by one.

Fields are named as Hugging Face names them; a default is what the native core takes for a
missing parameter (Hugging Face's, except ByteLevel's ``add_prefix_space``: False, as tokkit's
constructors write it).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from .base import Family, Regex, Step, StepError, register

#: Hugging Face's SplitDelimiterBehavior as tokenizer.json spells it (the Python API and the
#: native core also take the snake_case spelling)
BEHAVIORS = ("Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous")
_BEHAVIOR_SPELLINGS = frozenset(BEHAVIORS) | {"removed", "isolated", "merged_with_previous", "merged_with_next",
                                              "contiguous"}


def _check_behavior(step: Step, behavior: str) -> None:
    if behavior not in _BEHAVIOR_SPELLINGS:
        raise StepError(f"{step.hf_type}: behavior {behavior!r} is not one of {', '.join(BEHAVIORS)}")


class PreTokenizer(Step):
    family: ClassVar[Family] = Family.PRE_TOKENIZER


@register
class Split(PreTokenizer):
    """Split on ``pattern`` (a :class:`Regex` or a literal string)."""

    kind = "split"
    hf_type = "Split"
    pattern: str | Regex
    behavior: str = "Isolated"
    invert: bool = False

    def _validate(self) -> None:
        _check_behavior(self, self.behavior)

    def describe(self) -> str:
        from ..spec import PATTERNS

        p = self.params
        pat = p.get("regex", p.get("string", ""))
        name = next((k for k, v in PATTERNS.items() if v == pat), None)
        shown = f"preset {name}" if name else (pat if len(pat) <= 60 else pat[:57] + "...")
        return f"split({shown}, {p.get('behavior')}{', inverted' if p.get('invert') else ''})"


@register
class ByteLevel(PreTokenizer):
    """GPT-2's byte-to-unicode mapping, with GPT-2's split regex when ``use_regex``. The same
    parameters make the ByteLevel decoder and post-processor (one struct in Hugging Face)."""

    kind = "byte_level"
    hf_type = "ByteLevel"
    add_prefix_space: bool = False
    trim_offsets: bool = True
    use_regex: bool = True

    def describe(self) -> str:
        return describe_byte_level(self.params)


def describe_byte_level(p: dict[str, Any]) -> str:
    return f"byte_level(prefix_space={p.get('add_prefix_space', False)}, regex={p.get('use_regex', True)})"


@register
class Metaspace(PreTokenizer):
    """SentencePiece's ``▁``: spaces become ``replacement``, prepended per ``prepend_scheme``,
    split before each when ``split``. Files from before ``prepend_scheme`` carry
    ``add_prefix_space`` instead (kept when present). Also the Metaspace decoder."""

    kind = "metaspace"
    hf_type = "Metaspace"
    optional = frozenset({"add_prefix_space"})
    replacement: str = "\u2581"
    prepend_scheme: Literal["first", "always", "never"] = "always"
    split: bool = True
    add_prefix_space: bool | None = None

    @property
    def effective_prepend_scheme(self) -> str:
        """``prepend_scheme``, or what a legacy ``add_prefix_space`` means when it is absent."""
        if self.has("prepend_scheme"):
            return self.prepend_scheme
        return "never" if self.add_prefix_space is False else "always"

    def describe(self) -> str:
        p = self.params
        prepend = p.get("prepend_scheme", p.get("add_prefix_space"))
        return f"metaspace({p.get('replacement', '▁')!r}, prepend={prepend}, split={p.get('split', True)})"


@register
class Digits(PreTokenizer):
    kind = "digits"
    hf_type = "Digits"
    individual_digits: bool = False

    def describe(self) -> str:
        return f"digits(individual={self.get('individual_digits')})"


@register
class Whitespace(PreTokenizer):
    """Split into ``\\w+`` and ``[^\\w\\s]+`` runs, dropping whitespace."""

    kind = "whitespace"
    hf_type = "Whitespace"


@register
class WhitespaceSplit(PreTokenizer):
    kind = "whitespace_split"
    hf_type = "WhitespaceSplit"


@register
class Punctuation(PreTokenizer):
    kind = "punctuation"
    hf_type = "Punctuation"
    behavior: str = "Isolated"

    def _validate(self) -> None:
        _check_behavior(self, self.behavior)


@register
class BertPreTokenizer(PreTokenizer):
    kind = "bert"
    hf_type = "BertPreTokenizer"


@register
class UnicodeScripts(PreTokenizer):
    kind = "unicode_scripts"
    hf_type = "UnicodeScripts"


@register
class CharDelimiterSplit(PreTokenizer):
    kind = "char_delimiter_split"
    hf_type = "CharDelimiterSplit"
    delimiter: str = ""


@register
class FixedLength(PreTokenizer):
    kind = "fixed_length"
    hf_type = "FixedLength"
    length: int = 5
