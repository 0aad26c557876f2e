"""Build tokkit's native engine (encoder and decoder) from a :class:`~tokkit.vocab.Vocabulary`.

The encoder sees exactly what Hugging Face's BPE model would see in the tokenizer.json tokkit
writes (same vocabulary keys, merges, unk, byte fallback, added tokens, normalizer and
pretokenizer: :mod:`tokkit.vocab.layout` says which ids the model owns), so the ids are the
same; ``tests/test_encoder.py`` checks that on every UDHR language. :func:`native_config` is the
one place the native config is derived from a vocabulary; steps cross as the data model writes
them, ``[{"kind": snake_case, "params": {HF-named params}}]``, and the Rust side reads them into
typed enums (native/src/normalizers.rs, pretok.rs, decoders.rs). Vocabularies it cannot handle
(WordPiece, Unigram, SentencePiece's precompiled normalizer...) raise UnsupportedError and
:class:`tokkit.Tokenizer` uses its Hugging Face adapter.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from . import _native
from .errors import UnsupportedError
from .vocab import ModelKind, Surface, TokenType, Vocabulary
from .vocab.layout import (
    added_outside_model,
    decode_strings,
    model_unk_id,
    normalized_added_ids,
    plain_ids,
)


def _steps(steps) -> list[dict]:
    return [{"kind": s.kind, "params": dict(s.params)} for s in steps]


def native_config(v: Vocabulary) -> dict[str, Any]:
    """The native encoder's config: surface, normalizer and pretokenizer steps, added tokens,
    the BPE model's options and the post-processor's offset trimming."""
    trim = None
    for s in v.post_processor:
        if s.kind in ("byte_level", "roberta_processing") and s.params.get("trim_offsets", True):
            trim = {"add_prefix_space": bool(s.params.get("add_prefix_space", True))}
    if trim is not None and v.surface != Surface.BYTE_LEVEL:
        raise UnsupportedError("offset trimming (ByteLevel post-processor) of a vocabulary that is not byte-level")
    return {
        "surface": v.surface.value,
        "normalizer": _steps(v.normalizer),
        "pretokenizer": _pretokenizer_steps(v),
        "added": [{"id": a.id, "content": a.content, "lstrip": a.lstrip, "rstrip": a.rstrip,
                   "single_word": a.single_word, "normalized": a.normalized, "special": a.special} for a in v.added],
        "options": {"unk_id": model_unk_id(v), "byte_fallback": v.options.byte_fallback, "fuse_unk": v.options.fuse_unk,
                    "ignore_merges": v.options.ignore_merges,
                    "continuing_subword_prefix": v.options.continuing_subword_prefix,
                    "end_of_word_suffix": v.options.end_of_word_suffix},
        # a file's BPE dropout is not passed: encoding is canonical unless a call asks for
        # dropout (Tokenizer.encode(..., dropout=p)); the value stays in the Vocabulary for writing
        "trim_offsets": trim,
    }


def native_encoder(v: Vocabulary) -> "_native.BpeEncoder":
    if v.model != ModelKind.BPE:
        raise UnsupportedError(f"the native encoder handles BPE, not {v.model.value}")
    config = native_config(v)
    added = v.added_by_id()
    outside = added_outside_model(v, set(plain_ids(v)))  # the same model vocab as the tokenizer.json written
    tokens, in_vocab = list(v.tokens), []
    for i, t in enumerate(v.types):
        if i in added:
            ok = i not in outside
            if ok and v.surface == Surface.BYTE_LEVEL:
                try:  # tokenizer.json spells an in-model added token as its content
                    tokens[i] = _native.bytelevel_decode(added[i].content)
                except ValueError:
                    ok = False
            in_vocab.append(ok)
        else:
            in_vocab.append(t in (TokenType.NORMAL, TokenType.UNKNOWN))
    byte_tokens = [(v.tokens[i][0], i) for i, t in enumerate(v.types) if t == TokenType.BYTE]
    try:
        return _native.BpeEncoder(tokens, in_vocab, byte_tokens, [tuple(m) for m in v.merges], json.dumps(config))
    except ValueError as e:
        raise UnsupportedError(str(e)) from None


def native_decoder(v: Vocabulary) -> tuple["_native.Decoder", str | None]:
    """The native decoder and why its ``decode`` cannot run natively (None when it can;
    ``decode_bytes`` always can)."""
    strings = decode_strings(v)
    special = [a.content for a in v.added if a.special]
    norm_ids = normalized_added_ids(v)
    steps = json.dumps(_steps(v.decoder))
    try:
        dec = _native.Decoder(strings, special, list(v.tokens), steps, norm_ids,
                              json.dumps(_steps(v.normalizer)) if norm_ids else None)
    except ValueError as e:  # a normalizer the native core lacks, needed for an added token's string
        return _native.Decoder(strings, special, list(v.tokens), steps), str(e)
    return dec, dec.unsupported


def _pretokenizer_steps(v: Vocabulary) -> list[dict]:
    """The pretokenizer as the native encoder sees the text: SentencePiece's ``▁`` as a space.

    HF splits the normalized text. When the normalizer has turned every space into ``▁`` (Gemma 3's
    tokenizer.json: Replace(" ", "▁") then Split(" ", MergedWithPrevious)), a literal split on a
    space matches nothing and is dropped, and a split on ``▁`` matches the native encoder's
    spaces. A regex split on such text is left to HF (its pattern would need rewriting)."""
    spaces_gone = v.surface == Surface.METASPACE and any(
        s.kind == "replace" and s.params.get("string") == " " and s.params.get("content") == "\u2581"
        for s in v.normalizer)
    out = []
    for s in v.pretokenizer:
        params = dict(s.params)
        if spaces_gone and s.kind == "split":
            if "regex" in params:
                raise UnsupportedError("a regex split of text whose spaces the normalizer turned into ▁")
            lit = params.get("string", "")
            if " " in lit:
                continue  # the normalized text has no spaces left: HF's split matches nothing
            params["string"] = lit.replace("\u2581", " ")
        out.append({"kind": s.kind, "params": params})
    return out


def ids_from_bytes(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype="<u4").astype(np.uint32, copy=False)


def i64_from_bytes(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype="<i8").astype(np.int64, copy=False)


def ids_to_bytes(ids) -> bytes:
    """Ids (any integer sequence) as little-endian u32 bytes; ValueError for an id outside
    [0, 2**32)."""
    a = np.asarray(ids)
    if a.dtype == np.uint32:
        return a.astype("<u4", copy=False).tobytes()
    if a.size == 0:
        return b""
    if a.dtype.kind not in "iu":
        a = np.asarray([int(i) for i in a.ravel()], dtype=np.int64)
    lo, hi = int(a.min()), int(a.max())
    if lo < 0 or hi >= 2**32:
        raise ValueError(f"token id {lo if lo < 0 else hi} is outside [0, 2**32)")
    return a.astype("<u4").tobytes()
