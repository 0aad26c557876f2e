"""The vocabulary data model and its readers/writers.

``read_vocab(path)`` detects the format: a Hugging Face ``tokenizer.json`` (or a directory with
one), a SentencePiece ``.model``, a GGUF file, a tiktoken rank file, or ``tiktoken:NAME`` for a
tiktoken encoding. ``write_vocab(vocab, out, format)`` writes ``hf``, ``tiktoken``,
``sentencepiece`` or ``gguf`` (a vocab-only file).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import FormatError, TokkitError
from .model import (
    AddedToken,
    ModelKind,
    ModelOptions,
    Role,
    Step,
    Surface,
    TokenType,
    Vocabulary,
    merges_all_splits,
)

FORMATS = ("hf", "tiktoken", "sentencepiece", "gguf")

__all__ = [
    "AddedToken", "ModelKind", "ModelOptions", "Role", "Step", "Surface", "TokenType", "Vocabulary",
    "merges_all_splits", "read_vocab", "write_vocab", "detect_format", "FORMATS",
]


def detect_format(path: str | os.PathLike) -> str:
    """'hf', 'sentencepiece', 'gguf', 'tiktoken' or 'tiktoken-name'; TokkitError when unknown."""
    s = os.fspath(path)
    p = Path(s)
    if s.startswith("tiktoken:"):
        return "tiktoken-name"
    if not p.exists():
        if "/" not in s and "." not in s:
            import importlib.util

            if importlib.util.find_spec("tiktoken") is not None:
                import tiktoken

                if s in tiktoken.list_encoding_names():
                    return "tiktoken-name"
        raise TokkitError(f"{s}: no such file or directory")
    if p.is_dir():
        if (p / "tokenizer.json").exists():
            return "hf"
        for pattern, fmt in (("*.model", "sentencepiece"), ("*.gguf", "gguf"), ("*.tiktoken", "tiktoken")):
            found = sorted(p.glob(pattern))
            if len(found) == 1:
                return fmt
        raise TokkitError(f"{s}: directory holds no tokenizer.json, .model, .gguf or .tiktoken file")
    from .gguf_io import is_gguf
    from .limits import check_regular_file
    from .tiktoken_io import looks_like_tiktoken

    check_regular_file(p, limit=None)  # a device or pipe is refused before a byte is read
    if is_gguf(p):
        return "gguf"
    with open(p, "rb") as f:
        raw = f.read(64)
    head = raw.lstrip()
    if p.suffix == ".json" or head.startswith(b"{"):
        return "hf"
    if p.suffix == ".tiktoken" or looks_like_tiktoken(p):
        return "tiktoken"
    if p.suffix == ".model" or raw[:1] == b"\n" or ".model" in p.name:
        return "sentencepiece"
    raise FormatError(p, "unknown tokenizer format (expected tokenizer.json, a SentencePiece .model, GGUF "
                         "or a tiktoken rank file)")


def read_vocab(path: str | os.PathLike, *, pattern: str | None = None) -> Vocabulary:
    """Read any supported tokenizer into a :class:`Vocabulary`."""
    fmt = detect_format(path)
    s = os.fspath(path)
    p = Path(s)
    if fmt == "tiktoken-name":
        from .tiktoken_io import read_tiktoken_encoding

        return read_tiktoken_encoding(s.removeprefix("tiktoken:"))
    if p.is_dir() and fmt != "hf":
        ext = {"sentencepiece": "*.model", "gguf": "*.gguf", "tiktoken": "*.tiktoken"}[fmt]
        p = sorted(p.glob(ext))[0]
    if fmt == "hf":
        from .hf import read_hf

        return read_hf(p)
    if fmt == "gguf":
        from .gguf_io import read_gguf

        return read_gguf(p)
    if fmt == "tiktoken":
        from .tiktoken_io import read_tiktoken_file

        return read_tiktoken_file(p, pattern=pattern)
    from .sentencepiece_io import read_sentencepiece

    return read_sentencepiece(p)


def write_vocab(v: Vocabulary, out: str | os.PathLike, format: str = "hf") -> list[Path]:
    """Write ``v``: ``hf`` -> a directory; ``tiktoken``/``sentencepiece``/``gguf`` -> a file (or,
    when ``out`` is an existing directory, ``tokenizer.tiktoken`` / ``.model`` / ``.gguf`` in it)."""
    out = Path(out)
    if format == "hf":
        from .hf import write_hf

        if out.exists() and not out.is_dir():
            raise TokkitError(f"{out}: the hf format writes a directory, and this is a file")
        return write_hf(v, out)
    if format == "tiktoken":
        from .tiktoken_io import write_tiktoken

        return write_tiktoken(v, out / "tokenizer.tiktoken" if out.is_dir() else out)
    if format == "sentencepiece":
        from .sentencepiece_io import write_sentencepiece

        return [write_sentencepiece(v, out / "tokenizer.model" if out.is_dir() else out)]
    if format == "gguf":
        from .gguf_io import write_gguf

        return [write_gguf(v, out / "tokenizer.gguf" if out.is_dir() else out)]
    raise TokkitError(f"unknown output format {format!r} (choose from {', '.join(FORMATS)})")
