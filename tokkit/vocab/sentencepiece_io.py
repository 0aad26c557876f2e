"""SentencePiece ``.model`` files (the ModelProto protobuf), read and written.

Reading maps pieces to bytes (``▁`` -> space, ``<0xXX>`` -> one byte), piece types 1:1 onto
:class:`TokenType`, BPE scores onto ranked merges (every split of a piece, by score, which is
how SentencePiece's BPE chooses merges) and the normalizer spec onto steps in the way Hugging
Face's converters spell them. Writing is possible for vocabularies whose tokens are valid UTF-8
text and whose pretokenizer SentencePiece can express; otherwise a clear error says why.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from ..errors import FormatError, UnsupportedError
from . import spec
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
from .limits import check_regular_file
from .roles import infer_roles
from .steps import decoders, normalizers
from .surface import byte_piece, parse_byte_piece

_SP_BPE, _SP_UNIGRAM = 2, 1


def _pb():
    from sentencepiece import sentencepiece_model_pb2 as pb

    return pb


def load_proto(path: Path) -> Any:
    data = check_regular_file(path).read_bytes()
    pb = _pb()
    m = pb.ModelProto()
    try:
        m.ParseFromString(data)
    except Exception:
        raise FormatError(path, "not a SentencePiece model (the protobuf does not parse)") from None
    if len(m.pieces) == 0:
        raise FormatError(path, "not a SentencePiece model (no pieces in the protobuf)")
    return m


def check_charsmap(blob: bytes, where: str | os.PathLike | None) -> None:
    """FormatError unless ``blob`` is a precompiled charsmap Hugging Face's ``Precompiled``
    normalizer can walk on any text: a 4-byte trie size, a double-array trie (Darts) whose every
    reachable node and child block lies inside the array, leaf values at the start of a character
    of the string blob, which is UTF-8.
    (A corrupt one panics inside tokenizers at encode time.) Breadth-first over the reachable
    nodes, 255 children at a time with numpy: about 30 ms for nmt_nfkc's."""
    import numpy as np

    size = int.from_bytes(blob[:4], "little") if len(blob) >= 4 else -1
    if size <= 0 or size % 4 or size > len(blob) - 4:
        raise FormatError(where, "corrupt precompiled charsmap (bad trie size)")
    units = np.frombuffer(blob, "<u4", count=size // 4, offset=4).astype(np.int64)
    strings = np.frombuffer(blob, np.uint8, offset=4 + size)
    try:
        blob[4 + size:].decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(where, "corrupt precompiled charsmap (its strings are not UTF-8)") from None
    # a value must start a character (tokenizers slices the strings as str there)
    starts = np.append((strings & 0xC0) != 0x80, True)
    n = len(units)
    labels = np.arange(1, 256, dtype=np.int64)

    def offset(u):
        return (u >> 10) << ((u & (1 << 9)) >> 6)

    seen = np.zeros(n, dtype=bool)
    frontier = offset(units[:1])
    while frontier.size:
        if ((frontier | 0xFF) >= n).any():
            raise FormatError(where, "corrupt precompiled charsmap (a trie node points past the array)")
        cand = (frontier[:, None] ^ labels[None, :]).ravel()
        cu = units[cand]
        hit = (cu & ((1 << 31) | 0xFF)) == np.tile(labels, frontier.size)
        pos = cand[hit] ^ offset(cu[hit])
        if (pos >= n).any():
            raise FormatError(where, "corrupt precompiled charsmap (a trie node points past the array)")
        leaf = ((cu[hit] >> 8) & 1) == 1
        values = units[pos[leaf]] & ((1 << 31) - 1)
        if (values > len(strings)).any() or not starts[values].all():
            raise FormatError(where, "corrupt precompiled charsmap (a value points outside the strings)")
        pos = np.unique(pos)
        frontier = pos[~seen[pos]]
        seen[frontier] = True


def read_sentencepiece(path: str | os.PathLike) -> Vocabulary:
    path = Path(path)
    m = load_proto(path)
    where = str(path)
    ts, ns = m.trainer_spec, m.normalizer_spec
    if ts.model_type == _SP_BPE:
        model = ModelKind.BPE
    elif ts.model_type == _SP_UNIGRAM or ts.model_type == 0:
        model = ModelKind.UNIGRAM
    else:
        raise UnsupportedError(f"{where}: SentencePiece model type {ts.model_type} (word/char) is not supported")
    n = len(m.pieces)
    tokens: list[bytes] = []
    types: list[TokenType] = []
    scores: list[float] = []
    for i, p in enumerate(m.pieces):
        if not isinstance(p.piece, str):  # protobuf hands out bytes for a string field that is not UTF-8
            raise FormatError(path, f"piece {i} is not valid UTF-8")
        t = TokenType(p.type) if p.type in TokenType._value2member_map_ else TokenType.NORMAL
        if t == TokenType.BYTE:
            b = parse_byte_piece(p.piece)
            if b is None:
                raise FormatError(path, f"byte piece {i} is spelled {p.piece!r}, not <0xXX>")
            tokens.append(bytes([b]))
        elif t == TokenType.NORMAL:
            tokens.append(p.piece.replace("\u2581", " ").encode("utf-8"))
        else:
            tokens.append(p.piece.encode("utf-8"))
        types.append(t)
        if p.score != p.score:
            raise FormatError(path, f"piece {i} ({p.piece[:40]!r}) has a NaN score")
        scores.append(float(p.score))
    roles_by_id: dict[int, set[Role]] = {}
    for role, i in ((Role.BOS, ts.bos_id), (Role.EOS, ts.eos_id), (Role.PAD, ts.pad_id), (Role.UNK, ts.unk_id)):
        if 0 <= i < n:
            roles_by_id.setdefault(i, set()).add(role)
    added = []
    for i, t in enumerate(types):
        if t in (TokenType.CONTROL, TokenType.UNKNOWN, TokenType.USER_DEFINED):
            piece = m.pieces[i].piece
            special = t != TokenType.USER_DEFINED
            added.append(AddedToken(id=i, content=piece, special=special,
                                    roles=frozenset(roles_by_id.get(i, set()) | infer_roles(piece, special)),
                                    normalized=not special, in_model=True))
    options = ModelOptions(unk_id=ts.unk_id if 0 <= ts.unk_id < n else None,
                           byte_fallback=bool(ts.byte_fallback), fuse_unk=model == ModelKind.BPE)
    merges: list[tuple[int, int, int]] = []
    if model == ModelKind.BPE:
        order = sorted(range(n), key=lambda i: (-scores[i], i))
        merges = merges_all_splits(tokens, types, order)

    normalizer: list[Step] = []
    if ns.precompiled_charsmap:
        check_charsmap(ns.precompiled_charsmap, path)
        normalizer.append(normalizers.Precompiled(base64.b64encode(ns.precompiled_charsmap).decode("ascii")))
    if ns.remove_extra_whitespaces:
        # SentencePiece removes leading/trailing spaces and collapses runs of spaces: the space
        # character only (HF's Strip would also eat tabs and newlines)
        normalizer.append(spec.replace("^ +| +$", "", regex=True))
        normalizer.append(spec.replace(" {2,}", " ", regex=True))
    if ns.add_dummy_prefix:
        normalizer.append(spec.prepend("\u2581"))
    normalizer.append(spec.replace(" ", "\u2581"))
    pretok: list[Step] = []
    if model == ModelKind.UNIGRAM and ts.split_digits:
        pretok.append(spec.digits(True))
    decoder = [spec.replace("\u2581", " ")]
    if ts.byte_fallback:
        decoder.append(decoders.ByteFallback())
    decoder.append(decoders.Fuse())
    if ns.add_dummy_prefix:
        decoder.append(decoders.Strip(content=" ", start=1, stop=0))
    bos = (m.pieces[ts.bos_id].piece, ts.bos_id) if 0 <= ts.bos_id < n else None
    post = [s for s in [spec.bos_eos_template(bos, None)] if s is not None]
    if not isinstance(ns.name, str):
        raise FormatError(path, "the normalizer name is not valid UTF-8")
    meta: dict[str, Any] = {
        "source": where, "source_format": "sentencepiece", "sp_normalizer": ns.name,
        "sp_split_digits": bool(ts.split_digits), "sp_add_dummy_prefix": bool(ns.add_dummy_prefix),
        "sp_remove_extra_whitespaces": bool(ns.remove_extra_whitespaces),
    }
    return Vocabulary(model=model, tokens=tokens, types=types, surface=Surface.METASPACE, merges=merges,
                      scores=scores, added=added, options=options, normalizer=normalizer, pretokenizer=pretok,
                      decoder=decoder, post_processor=post, meta=meta)


def _sp_expressible(v: Vocabulary) -> None:
    reasons = []
    if v.model == ModelKind.WORDPIECE:
        reasons.append("SentencePiece has no WordPiece model")
    if v.surface == Surface.BYTE_LEVEL:
        partial = 0
        for b, t in zip(v.tokens, v.types):
            if t == TokenType.NORMAL:
                try:
                    b.decode("utf-8")
                except UnicodeDecodeError:
                    partial += 1
        if partial:
            reasons.append(f"{partial} byte-level tokens are partial UTF-8 sequences, which SentencePiece pieces "
                           "cannot hold")
    for s in v.pretokenizer:
        if s.kind in ("split", "byte_level") and (s.kind == "split" or s.get("use_regex", True)):
            reasons.append("the regex pretokenizer has no SentencePiece equivalent")
            break
    for s in v.normalizer:
        if s.kind not in ("precompiled", "prepend", "replace"):
            reasons.append(f"the {s.kind} normalizer has no SentencePiece equivalent")
    if reasons:
        raise UnsupportedError("cannot write a SentencePiece model: " + "; ".join(reasons))


def write_sentencepiece(v: Vocabulary, target: str | os.PathLike) -> Path:
    """Write ``v`` as a SentencePiece ``.model``; raises UnsupportedError when it cannot."""
    from ..io import write_bytes_atomic

    _sp_expressible(v)
    pb = _pb()
    m = pb.ModelProto()
    ts, ns = m.trainer_spec, m.normalizer_spec
    ts.model_type = _SP_BPE if v.model == ModelKind.BPE else _SP_UNIGRAM
    ts.vocab_size = v.size
    ts.byte_fallback = v.options.byte_fallback
    ts.split_digits = bool(v.meta.get("sp_split_digits", any(s.kind == "digits" for s in v.pretokenizer)))
    # BPE priorities: SentencePiece merges by piece score, so a piece made by merge rank r gets
    # score -r; pieces no merge makes (characters) come last, as SentencePiece trains them.
    if v.model == ModelKind.BPE and not v.scores:
        made_by = {}
        for r, (_, _, res) in enumerate(v.merges):
            made_by.setdefault(res, r)
        scores = [float(-made_by[i]) if i in made_by else float(-len(v.merges) - i) for i in range(v.size)]
    else:
        scores = list(v.scores or [0.0] * v.size)
    added = v.added_by_id()
    for i, (b, t) in enumerate(zip(v.tokens, v.types)):
        p = m.pieces.add()
        if t == TokenType.BYTE:
            p.piece = byte_piece(b[0])
        elif i in added:
            p.piece = added[i].content
        else:
            p.piece = b.decode("utf-8").replace(" ", "\u2581")
        p.score = scores[i]
        p.type = int(t) if t != TokenType.UNUSED else int(TokenType.UNUSED)
    for role, attr in ((Role.BOS, "bos_id"), (Role.EOS, "eos_id"), (Role.PAD, "pad_id"), (Role.UNK, "unk_id")):
        i = v.role_id(role)
        setattr(ts, attr, -1 if i is None else i)
    ns.name = v.meta.get("sp_normalizer", "identity")
    for s in v.normalizer:
        if s.kind == "precompiled":
            ns.precompiled_charsmap = base64.b64decode(s.params["precompiled_charsmap"])
    ns.add_dummy_prefix = any(s.kind == "prepend" for s in v.normalizer)
    ns.remove_extra_whitespaces = any(s.kind == "replace" and s.params.get("regex") == " {2,}"
                                      for s in v.normalizer)
    ns.escape_whitespaces = True
    target = Path(target)
    write_bytes_atomic(target, m.SerializeToString())
    return target
