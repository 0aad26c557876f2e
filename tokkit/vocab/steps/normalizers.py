"""Normalizers (Hugging Face ``tokenizers.normalizers``): text -> text before pretokenizing.

Fields are named as Hugging Face names them; a default is Hugging Face's (or, where Hugging Face
has none, what the native core takes for a missing parameter).
"""

from __future__ import annotations

from typing import ClassVar

from .base import Family, Regex, Step, register
from .pretokenizers import describe_byte_level


class Normalizer(Step):
    family: ClassVar[Family] = Family.NORMALIZER


@register
class NFC(Normalizer):
    kind = "nfc"
    hf_type = "NFC"


@register
class NFD(Normalizer):
    kind = "nfd"
    hf_type = "NFD"


@register
class NFKC(Normalizer):
    kind = "nfkc"
    hf_type = "NFKC"


@register
class NFKD(Normalizer):
    kind = "nfkd"
    hf_type = "NFKD"


@register
class Lowercase(Normalizer):
    kind = "lowercase"
    hf_type = "Lowercase"


@register
class Strip(Normalizer):
    """Strip whitespace at the left and/or right end (the decoder ``Strip`` is another kind of
    step with the same names: :class:`tokkit.vocab.steps.decoders.Strip`)."""

    kind = "strip"
    hf_type = "Strip"
    strip_left: bool = True
    strip_right: bool = True


@register
class StripAccents(Normalizer):
    kind = "strip_accents"
    hf_type = "StripAccents"


@register
class Prepend(Normalizer):
    """Prepend ``prepend`` to non-empty text (SentencePiece's dummy prefix: ``▁``)."""

    kind = "prepend"
    hf_type = "Prepend"
    prepend: str = ""


@register
class Replace(Normalizer):
    """Replace every match of ``pattern`` (a :class:`Regex` or a literal string) by ``content``."""

    kind = "replace"
    hf_type = "Replace"
    pattern: str | Regex
    content: str = ""


@register
class Precompiled(Normalizer):
    """SentencePiece's compiled normalization rules (``precompiled_charsmap``, base64)."""

    kind = "precompiled"
    hf_type = "Precompiled"
    precompiled_charsmap: str = ""

    def describe(self) -> str:
        return "precompiled(sentencepiece charsmap)"


@register
class BertNormalizer(Normalizer):
    kind = "bert_normalizer"
    hf_type = "BertNormalizer"
    clean_text: bool = True
    handle_chinese_chars: bool = True
    strip_accents: bool | None = None
    lowercase: bool = True


@register
class Nmt(Normalizer):
    kind = "nmt"
    hf_type = "Nmt"


@register
class ByteLevel(Normalizer):
    """The byte-level normalizer (no parameters)."""

    kind = "byte_level"
    hf_type = "ByteLevel"

    def describe(self) -> str:
        return describe_byte_level(self.params)
