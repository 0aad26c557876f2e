"""A tokenizer prepared for byte-level covers: which ids spell text, the bytes a tokenizer puts
before every text (SentencePiece's dummy prefix), and the native cover vocabulary."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .. import _native
from ..errors import UnsupportedError
from ..tokenizer import Tokenizer
from ..vocab import Surface, TokenType


@dataclass
class Prepared:
    native: "_native.CoverVocab"
    text: list[bool]  # ids that spell text (not specials, not unknown/unused, not empty)
    lead: bytes  # bytes the tokenizer puts before any text (b" " for a dummy prefix)
    canonical_problem: str | None  # why canonical semantics is unavailable, if it is


def _lead_and_pretok(tok: Tokenizer) -> tuple[bytes, list[dict], str | None]:
    """The dummy prefix as leading bytes, the pretokenizer with every prefix space turned off,
    and a reason if the normalizer is not prefix-stable (canonical checks would be wrong)."""
    v = tok.vocab
    lead = b""
    problem = None
    for s in v.normalizer:
        if s.kind == "prepend":
            p = s.params.get("prepend", "")
            lead = (p.replace("\u2581", " ") if v.surface == Surface.METASPACE else p).encode() + lead
        elif s.kind == "replace" and v.surface == Surface.METASPACE and s.params.get("string") == " " \
                and s.params.get("content") == "\u2581":
            continue  # a space is ▁ in the data model already
        else:
            problem = f"normalizer step {s.kind!r} is not prefix-stable"
    steps = []
    for s in v.pretokenizer:
        params = dict(s.params)
        if s.kind == "byte_level" and params.get("add_prefix_space"):
            lead = lead or b" "
            params["add_prefix_space"] = False
        if s.kind == "metaspace":
            if params.get("prepend_scheme", "always" if params.get("add_prefix_space", True) else "never") != "never":
                lead = lead or b" "
            params["prepend_scheme"] = "never"
        steps.append({"kind": s.kind, "params": params})
    return lead, steps, problem


def prepare(tok: Tokenizer, canonical: bool) -> Prepared:
    v = tok.vocab
    specials = {a.id for a in v.added if a.special}
    text = [i not in specials and t in (TokenType.NORMAL, TokenType.BYTE, TokenType.USER_DEFINED) and bool(v.tokens[i])
            for i, t in enumerate(v.types)]
    lead, steps, problem = _lead_and_pretok(tok)
    enc = None
    if canonical and problem is None:
        from ..encoder import native_encoder

        try:
            enc = native_encoder(v)
        except UnsupportedError as e:
            problem = str(e)
    if canonical and problem is not None:
        raise UnsupportedError(f"canonical byte-level semantics is not available for this tokenizer: {problem} "
                               "(use semantics='all')")
    native = _native.CoverVocab(list(v.tokens), text, enc, json.dumps(steps) if enc is not None else None)
    return Prepared(native, text, lead, problem)
