"""Token bytes <-> the strings tokenizer files use for them (see :class:`Surface`)."""

from __future__ import annotations

import re
from typing import Sequence

from .. import _native
from ..errors import FormatError, UnsupportedError
from .model import Surface, TokenType

_BYTE_PIECE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


def byte_piece(b: int) -> str:
    """SentencePiece's spelling of a byte-fallback piece."""
    return f"<0x{b:02X}>"


def parse_byte_piece(s: str) -> int | None:
    m = _BYTE_PIECE.match(s)
    return int(m.group(1), 16) if m else None


def strings_to_bytes(strings: Sequence[str], surface: Surface, where: str | None = None) -> list[bytes]:
    """Decode the model strings of normal tokens into the bytes they spell."""
    if surface == Surface.BYTE_LEVEL:
        try:
            return _native.bytelevel_decode_many(list(strings))
        except ValueError:
            # name the first bad token rather than a position in a batch
            for s in strings:
                try:
                    _native.bytelevel_decode(s)
                except ValueError as e:
                    raise FormatError(where, f"token {s!r} is not byte-level text ({e})") from None
            raise
    try:
        if surface == Surface.METASPACE:
            return [s.replace("\u2581", " ").encode("utf-8") for s in strings]
        return [s.encode("utf-8") for s in strings]
    except UnicodeEncodeError:
        bad = next(s for s in strings if not encodable(s))
        raise FormatError(where, f"token {bad!r} is not valid Unicode (a lone surrogate)") from None


def encodable(s: str) -> bool:
    """The string is valid Unicode (no lone surrogate), so it has a UTF-8 spelling."""
    try:
        s.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def bytes_to_strings(tokens: Sequence[bytes], types: Sequence[TokenType], surface: Surface) -> list[str]:
    """Spell normal/byte tokens as model strings; raise when the surface cannot express one."""
    if surface == Surface.BYTE_LEVEL:
        return _native.bytelevel_encode_many(list(tokens))
    out = []
    for i, (b, t) in enumerate(zip(tokens, types)):
        if t == TokenType.BYTE:
            if len(b) != 1:
                raise UnsupportedError(f"byte token {i} spells {len(b)} bytes")
            out.append(byte_piece(b[0]))
            continue
        try:
            s = b.decode("utf-8")
        except UnicodeDecodeError:
            raise UnsupportedError(
                f"token {i} ({b!r}) is not valid UTF-8, which the {surface.value} spelling cannot express"
            ) from None
        out.append(s.replace(" ", "\u2581") if surface == Surface.METASPACE else s)
    return out
