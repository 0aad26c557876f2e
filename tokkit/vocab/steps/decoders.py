"""Decoders (Hugging Face ``tokenizers.decoders``): token strings -> text.

Fields are named as Hugging Face names them, with Hugging Face's defaults.
"""

from __future__ import annotations

from typing import ClassVar

from . import normalizers, pretokenizers
from .base import Family, Step, register


class Decoder(Step):
    family: ClassVar[Family] = Family.DECODER


@register
class ByteLevel(pretokenizers.ByteLevel):
    """GPT-2's unicode-to-byte mapping back (Hugging Face's one ByteLevel struct)."""

    family = Family.DECODER


@register
class Metaspace(pretokenizers.Metaspace):
    """``replacement`` back to a space, the prepended one dropped per ``prepend_scheme``."""

    family = Family.DECODER


@register
class Replace(normalizers.Replace):
    """Replace ``pattern`` by ``content`` in the decoded text (SentencePiece: ``▁`` -> space)."""

    family = Family.DECODER


@register
class ByteFallback(Decoder):
    """``<0xXX>`` pieces to their bytes."""

    kind = "byte_fallback"
    hf_type = "ByteFallback"


@register
class Fuse(Decoder):
    kind = "fuse"
    hf_type = "Fuse"


@register
class Strip(Decoder):
    """Remove ``start`` leading and ``stop`` trailing ``content`` characters (SentencePiece's
    dummy prefix: content " ", start 1)."""

    kind = "strip"
    hf_type = "Strip"
    content: str = " "
    start: int = 0
    stop: int = 0


@register
class WordPiece(Decoder):
    kind = "wordpiece"
    hf_type = "WordPiece"
    prefix: str = "##"
    cleanup: bool = True


@register
class BPEDecoder(Decoder):
    kind = "bpe_decoder"
    hf_type = "BPEDecoder"
    suffix: str = "</w>"


@register
class CTC(Decoder):
    kind = "ctc"
    hf_type = "CTC"
    pad_token: str = "<pad>"
    word_delimiter_token: str = "|"
    cleanup: bool = True
