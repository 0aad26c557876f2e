"""Build tokkit's native BPE encoder from a :class:`~tokkit.vocab.Vocabulary`.

The encoder sees exactly what Hugging Face's BPE model would see in the tokenizer.json tokkit
writes (same vocabulary keys, merges, unk, byte fallback, added tokens, normalizer and
pretokenizer), so the ids are the same; ``tests/test_encoder.py`` checks that on every UDHR
language. Vocabularies it cannot handle (WordPiece, Unigram, SentencePiece's precompiled
normalizer...) raise UnsupportedError and :class:`tokkit.Tokenizer` falls back to HF.
"""

from __future__ import annotations

import json

import numpy as np

from . import _native
from .errors import UnsupportedError
from .vocab import ModelKind, Surface, TokenType, Vocabulary


def native_encoder(v: Vocabulary) -> "_native.BpeEncoder":
    if v.model != ModelKind.BPE:
        raise UnsupportedError(f"the native encoder handles BPE, not {v.model.value}")
    from .vocab.hf import _added_outside_model, model_unk_id

    added = v.added_by_id()
    plain = {i for i, t in enumerate(v.types) if i not in added and t in (TokenType.NORMAL, TokenType.BYTE)}
    outside = _added_outside_model(v, plain)  # the same model vocab as the tokenizer.json written
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
    model_unk = model_unk_id(v)
    byte_tokens = [(v.tokens[i][0], i) for i, t in enumerate(v.types) if t == TokenType.BYTE]
    config = {
        "surface": v.surface.value,
        "normalizer": [{"kind": s.kind, "params": s.params} for s in v.normalizer],
        "pretokenizer": _pretokenizer_steps(v),
        "added": [{"id": a.id, "content": a.content, "lstrip": a.lstrip, "rstrip": a.rstrip,
                   "single_word": a.single_word, "normalized": a.normalized} for a in v.added],
        "options": {"unk_id": model_unk, "byte_fallback": v.options.byte_fallback, "fuse_unk": v.options.fuse_unk,
                    "ignore_merges": v.options.ignore_merges,
                    "continuing_subword_prefix": v.options.continuing_subword_prefix,
                    "end_of_word_suffix": v.options.end_of_word_suffix, "dropout": v.options.dropout},
    }
    try:
        return _native.BpeEncoder(tokens, in_vocab, byte_tokens, [tuple(m) for m in v.merges], json.dumps(config))
    except ValueError as e:
        raise UnsupportedError(str(e)) from None


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
