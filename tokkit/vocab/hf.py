"""Hugging Face ``tokenizer.json`` (+ ``tokenizer_config.json``, ``special_tokens_map.json``).

The reader maps every known component onto :class:`Step` lists and keeps unknown ones verbatim;
the writer produces a file that stock ``tokenizers.Tokenizer.from_file`` and
``transformers.AutoTokenizer.from_pretrained`` load, with a ``PreTrainedTokenizerFast`` config
(so transformers applies no model-specific rewriting on top of the JSON).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import FormatError, TokkitError, UnsupportedError
from .model import (
    AddedToken,
    ModelKind,
    ModelOptions,
    Role,
    Surface,
    TokenType,
    Vocabulary,
)
from .roles import ROLE_KEYS, infer_roles
from .spec import steps_from_hf, steps_to_hf
from .surface import bytes_to_strings, parse_byte_piece, strings_to_bytes

CONFIG_META_KEYS = ("chat_template", "model_max_length", "clean_up_tokenization_spaces", "tokenizer_class",
                    "padding_side", "add_prefix_space")


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------
def _load_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TokkitError(f"{path}: no such file") from None
    except UnicodeDecodeError as e:
        raise FormatError(path, f"not UTF-8 text (byte {e.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        hint = " (the file looks truncated)" if e.pos >= len(text) - 2 else ""
        raise FormatError(path, f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}{hint}") from None


def _surface_of(obj: dict) -> Surface:
    blob = json.dumps([obj.get("pre_tokenizer"), obj.get("decoder"), obj.get("normalizer")])
    if '"ByteLevel"' in blob:
        return Surface.BYTE_LEVEL
    if '"Metaspace"' in blob or "\u2581" in blob or "\\u2581" in blob:
        return Surface.METASPACE
    return Surface.PLAIN


def _token_content(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        return v.get("content")
    return None


def read_hf(path: str | os.PathLike) -> Vocabulary:
    """Read a ``tokenizer.json`` file, or a directory holding one (plus its config files)."""
    path = Path(path)
    if path.is_dir():
        directory, tj = path, path / "tokenizer.json"
        if not tj.exists():
            raise TokkitError(f"{path}: directory has no tokenizer.json")
    else:
        directory, tj = path.parent, path
    obj = _load_json(tj)
    if not isinstance(obj, dict) or "model" not in obj:
        raise FormatError(tj, "not a tokenizers JSON file (no 'model' object)")
    config: dict = {}
    cfg_path = directory / "tokenizer_config.json"
    if cfg_path.exists():
        config = _load_json(cfg_path) or {}
    stm_path = directory / "special_tokens_map.json"
    stm = _load_json(stm_path) if stm_path.exists() else {}
    return vocab_from_hf_json(obj, config=config, special_tokens_map=stm, where=str(tj))


def vocab_from_hf_json(obj: dict, config: dict | None = None, special_tokens_map: dict | None = None,
                       where: str | None = None) -> Vocabulary:
    config = config or {}
    special_tokens_map = special_tokens_map or {}
    model = obj.get("model") or {}
    mtype = model.get("type")
    if mtype is None:  # very old files: infer from fields
        mtype = "BPE" if "merges" in model else ("Unigram" if isinstance(model.get("vocab"), list) else "WordPiece")
    surface = _surface_of(obj)
    options = ModelOptions()
    scores: list[float] | None = None

    # 1. the model's own vocabulary: string -> id
    if mtype == "BPE":
        kind = ModelKind.BPE
        vocab = model.get("vocab")
        if not isinstance(vocab, dict):
            raise FormatError(where, "BPE model without a 'vocab' object")
        model_items = list(vocab.items())
        options.byte_fallback = bool(model.get("byte_fallback", False))
        options.fuse_unk = bool(model.get("fuse_unk", False))
        options.ignore_merges = bool(model.get("ignore_merges", False))
        options.continuing_subword_prefix = model.get("continuing_subword_prefix")
        options.end_of_word_suffix = model.get("end_of_word_suffix")
        options.dropout = model.get("dropout")
    elif mtype == "Unigram":
        kind = ModelKind.UNIGRAM
        vlist = model.get("vocab")
        if not isinstance(vlist, list):
            raise FormatError(where, "Unigram model without a 'vocab' list")
        model_items = [(p[0], i) for i, p in enumerate(vlist)]
        unigram_scores = {i: float(p[1]) for i, p in enumerate(vlist)}
        options.byte_fallback = bool(model.get("byte_fallback", False))
        if model.get("unk_id") is not None:
            options.unk_id = int(model["unk_id"])
    elif mtype == "WordPiece":
        kind = ModelKind.WORDPIECE
        vocab = model.get("vocab")
        if not isinstance(vocab, dict):
            raise FormatError(where, "WordPiece model without a 'vocab' object")
        model_items = list(vocab.items())
        options.continuing_subword_prefix = model.get("continuing_subword_prefix", "##")
        options.max_input_chars_per_word = model.get("max_input_chars_per_word", 100)
        surface = Surface.PLAIN
    else:
        raise UnsupportedError(f"{where}: model type {mtype!r} is not supported (BPE, Unigram, WordPiece are)")

    added_json = obj.get("added_tokens") or []
    added_by_id = {}
    for a in added_json:
        try:
            added_by_id[int(a["id"])] = a
        except (KeyError, TypeError, ValueError):
            raise FormatError(where, f"malformed added token entry {a!r}") from None
    model_ids = {}
    for s, i in model_items:
        if not isinstance(i, int):
            raise FormatError(where, f"token {s!r} has a non-integer id {i!r}")
        if i in model_ids:
            raise FormatError(where, f"id {i} is used by two tokens ({model_ids[i]!r} and {s!r})")
        model_ids[i] = s
    n = max(list(model_ids) + list(added_by_id) + [-1]) + 1

    tokens: list[bytes] = [b""] * n
    types: list[TokenType] = [TokenType.UNUSED] * n
    # 2. decode model strings into bytes by the surface
    ids_sorted = sorted(model_ids)
    strings = [model_ids[i] for i in ids_sorted]
    plain_idx = []
    for k, (i, s) in enumerate(zip(ids_sorted, strings)):
        if i in added_by_id:
            continue
        if surface == Surface.METASPACE and options.byte_fallback:
            b = parse_byte_piece(s)
            if b is not None:
                tokens[i], types[i] = bytes([b]), TokenType.BYTE
                continue
        plain_idx.append(k)
    decoded = strings_to_bytes([strings[k] for k in plain_idx], surface, where)
    for k, b in zip(plain_idx, decoded):
        i = ids_sorted[k]
        tokens[i], types[i] = b, TokenType.NORMAL

    # 3. added tokens, with roles from the config files
    role_of: dict[str, set[Role]] = {}
    for key, role in ROLE_KEYS.items():
        content = _token_content(config.get(key)) or _token_content(special_tokens_map.get(key))
        if content:
            role_of.setdefault(content, set()).add(role)
    model_unk = model.get("unk_token") if mtype in ("BPE", "WordPiece") else None
    if model_unk:
        role_of.setdefault(model_unk, set()).add(Role.UNK)
    if kind == ModelKind.UNIGRAM and options.unk_id is not None and options.unk_id in model_ids:
        role_of.setdefault(model_ids[options.unk_id], set()).add(Role.UNK)
    added: list[AddedToken] = []
    for i in sorted(added_by_id):
        a = added_by_id[i]
        content = a.get("content")
        if not isinstance(content, str):
            raise FormatError(where, f"added token {i} has no string content")
        special = bool(a.get("special", False))
        roles = set(role_of.get(content, set())) | infer_roles(content, special)
        added.append(AddedToken(
            id=i, content=content, special=special, roles=frozenset(roles),
            lstrip=bool(a.get("lstrip", False)), rstrip=bool(a.get("rstrip", False)),
            single_word=bool(a.get("single_word", False)), normalized=bool(a.get("normalized", not special)),
            in_model=i in model_ids,
        ))
        tokens[i] = content.encode("utf-8")
        types[i] = TokenType.CONTROL if special else TokenType.USER_DEFINED
    _dedupe_unique_roles(added)

    # 4. unknown token, scores, merges
    unk_content = model_unk
    if unk_content is not None:
        unk_id = next((i for i, s in model_ids.items() if s == unk_content), None)
        if unk_id is None:
            unk_id = next((t.id for t in added if t.content == unk_content), None)
        options.unk_id = unk_id
    if options.unk_id is None:  # no unk in the model: the config's unk_token (an added token)
        options.unk_id = next((t.id for t in added if Role.UNK in t.roles), None)
    if options.unk_id is not None:  # the model's unk is always type UNKNOWN (as in SentencePiece)
        if types[options.unk_id] == TokenType.NORMAL:
            tokens[options.unk_id] = model_ids[options.unk_id].encode("utf-8")
        types[options.unk_id] = TokenType.UNKNOWN
    if kind == ModelKind.UNIGRAM:
        scores = [unigram_scores.get(i, 0.0) for i in range(n)]
    merges: list[tuple[int, int, int]] = []
    if kind == ModelKind.BPE:
        raw = model.get("merges") or []
        pairs = []
        for m in raw:
            if isinstance(m, str):
                parts = m.split(" ")
                if len(parts) != 2:
                    raise FormatError(where, f"merge {m!r} is not two tokens separated by one space")
            elif isinstance(m, list) and len(m) == 2:
                parts = m
            else:
                raise FormatError(where, f"malformed merge {m!r}")
            pairs.append((parts[0], parts[1]))
        merges = _merges_from_strings(pairs, model_ids, surface, where)

    meta: dict[str, Any] = {"source_format": "hf"}
    if where:
        meta["source"] = where
    for k in CONFIG_META_KEYS:
        if k in config:
            meta[k] = config[k]
    if obj.get("truncation") is not None:
        meta["hf_truncation"] = obj["truncation"]
    if obj.get("padding") is not None:
        meta["hf_padding"] = obj["padding"]
    return Vocabulary(
        model=kind, tokens=tokens, types=types, surface=surface, merges=merges, scores=scores,
        added=added, options=options,
        normalizer=steps_from_hf(obj.get("normalizer"), "normalizer"),
        pretokenizer=steps_from_hf(obj.get("pre_tokenizer"), "pre_tokenizer"),
        decoder=steps_from_hf(obj.get("decoder"), "decoder"),
        post_processor=steps_from_hf(obj.get("post_processor"), "post_processor"),
        meta=meta,
    )


def _merges_from_strings(pairs: list[tuple[str, str]], model_ids: dict[int, str], surface: Surface,
                         where: str | None) -> list[tuple[int, int, int]]:
    by_string = {s: i for i, s in model_ids.items()}
    out = []
    for rank, (a, b) in enumerate(pairs):
        ia, ib, ir = by_string.get(a), by_string.get(b), by_string.get(a + b)
        if ia is None or ib is None or ir is None:
            missing = [x for x, i in ((a, ia), (b, ib), (a + b, ir)) if i is None]
            raise FormatError(where, f"merge #{rank} ({a!r} {b!r}) uses {missing[0]!r}, which is not in the vocabulary")
        out.append((ia, ib, ir))
    return out


def _dedupe_unique_roles(added: list[AddedToken]) -> None:
    """Inferred roles must not make two tokens the bos (say); keep the first claim only."""
    from .model import UNIQUE_ROLES

    seen: set[Role] = set()
    for k, t in enumerate(added):
        drop = {r for r in t.roles if r in UNIQUE_ROLES and r in seen}
        seen |= {r for r in t.roles if r in UNIQUE_ROLES}
        if drop:
            added[k] = AddedToken(**{**t.__dict__, "roles": frozenset(t.roles - drop)})


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------
def vocab_to_hf_json(v: Vocabulary) -> dict:
    """The ``tokenizer.json`` object for a vocabulary."""
    added_ids = v.added_by_id()
    model_strings: dict[int, str] = {}
    plain = [i for i in range(v.size)
             if i not in added_ids and v.types[i] in (TokenType.NORMAL, TokenType.BYTE)]
    spelled = bytes_to_strings([v.tokens[i] for i in plain], [v.types[i] for i in plain], v.surface)
    for i, s in zip(plain, spelled):
        model_strings[i] = s
    outside = _added_outside_model(v, set(plain))
    for i in range(v.size):
        if i in added_ids:
            if i not in outside:
                model_strings[i] = added_ids[i].content
        elif v.types[i] == TokenType.UNKNOWN:
            model_strings[i] = v.tokens[i].decode("utf-8", "replace")
        elif v.types[i] in (TokenType.CONTROL, TokenType.USER_DEFINED):
            model_strings[i] = v.tokens[i].decode("utf-8", "replace")
    seen: dict[str, int] = {}
    for i in sorted(model_strings):
        s = model_strings[i]
        if s in seen:
            raise UnsupportedError(f"tokens {seen[s]} and {i} are both spelled {s!r} in tokenizer.json")
        seen[s] = i

    unk = v.options.unk_id
    unk_token = model_strings.get(unk) if model_unk_id(v) is not None else None
    if v.model == ModelKind.BPE:
        merges = [[model_strings[a], model_strings[b]] for a, b, _ in v.merges]
        model = {
            "type": "BPE", "dropout": v.options.dropout, "unk_token": unk_token,
            "continuing_subword_prefix": v.options.continuing_subword_prefix,
            "end_of_word_suffix": v.options.end_of_word_suffix, "fuse_unk": v.options.fuse_unk,
            "byte_fallback": v.options.byte_fallback, "ignore_merges": v.options.ignore_merges,
            "vocab": {model_strings[i]: i for i in sorted(model_strings)},
            "merges": merges,
        }
    elif v.model == ModelKind.UNIGRAM:
        ids = sorted(model_strings)
        if ids != list(range(len(ids))):
            raise UnsupportedError("a Unigram tokenizer.json needs the model's ids to be 0..N-1 without gaps")
        assert v.scores is not None
        model = {"type": "Unigram", "unk_id": unk, "vocab": [[model_strings[i], v.scores[i]] for i in ids],
                 "byte_fallback": v.options.byte_fallback}
    else:
        model = {"type": "WordPiece", "unk_token": unk_token or "[UNK]",
                 "continuing_subword_prefix": v.options.continuing_subword_prefix or "##",
                 "max_input_chars_per_word": v.options.max_input_chars_per_word or 100,
                 "vocab": {model_strings[i]: i for i in sorted(model_strings)}}
    added = [{
        "id": t.id, "content": t.content, "single_word": t.single_word, "lstrip": t.lstrip,
        "rstrip": t.rstrip, "normalized": t.normalized, "special": t.special,
    } for t in sorted(v.added, key=lambda t: t.id)]
    return {
        "version": "1.0",
        "truncation": v.meta.get("hf_truncation"),
        "padding": v.meta.get("hf_padding"),
        "added_tokens": added,
        "normalizer": steps_to_hf(v.normalizer, "normalizer"),
        "pre_tokenizer": steps_to_hf(v.pretokenizer, "pre_tokenizer"),
        "post_processor": steps_to_hf(v.post_processor, "post_processor"),
        "decoder": steps_to_hf(v.decoder, "decoder"),
        "model": model,
    }


def model_unk_id(v: Vocabulary) -> int | None:
    """The unk the model itself emits for a symbol it lacks, or None (the symbol is dropped).

    An unk that is only an added special token (SmolLM2's <|endoftext|>, from GGUF) is not the
    model's: the original drops unknown bytes. (HF also raises when a BPE unk_token is not a key
    of the model vocab.)
    """
    unk = v.options.unk_id
    if unk is None:
        return None
    a = v.added_by_id().get(unk)
    return unk if a is None or a.in_model else None


def _added_outside_model(v: Vocabulary, model_ids: set[int]) -> set[int]:
    """Added tokens that can stay out of the model's vocab in tokenizer.json.

    HF gives an added token that is not a key of the model vocab the next id after it (model
    size, model size + 1, ... in order), whatever id the file says. So only a run of added
    tokens at the very end of the id range, above every model id and with no gap, may stay
    outside (Llama-3's specials); any other (SmolLM2's specials at ids 0-16) must be in the
    model vocab or stock HF would renumber it.
    """
    added = v.added_by_id()
    outside: set[int] = set()
    i = v.size - 1
    while i >= 0 and i in added and not added[i].in_model:
        outside.add(i)
        i -= 1
    below = {j for j in range(i + 1) if j in model_ids or j in added}
    if len(below) != i + 1:  # a gap (unused id) would shift HF's numbering: keep all inside
        return set()
    return outside


def hf_config(v: Vocabulary) -> tuple[dict, dict]:
    """(tokenizer_config.json, special_tokens_map.json) for a vocabulary."""
    cfg: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "clean_up_tokenization_spaces": bool(v.meta.get("clean_up_tokenization_spaces", False)),
        "model_max_length": v.meta.get("model_max_length", 1_000_000_000_000_000_019_884_624_838_656),
    }
    stm: dict[str, Any] = {}
    for key, role in ROLE_KEYS.items():
        t = v.role_token(role)
        if t is not None:
            cfg[key] = t.content
            stm[key] = {"content": t.content, "lstrip": t.lstrip, "rstrip": t.rstrip,
                        "normalized": t.normalized, "single_word": t.single_word}
        elif role == Role.UNK and v.options.unk_id is not None:
            content = v.tokens[v.options.unk_id].decode("utf-8", "replace")
            cfg[key] = content
            stm[key] = content
    extra = [t.content for t in v.added if t.special and not (t.roles & set(ROLE_KEYS.values()))]
    if extra:
        cfg["additional_special_tokens"] = extra
        stm["additional_special_tokens"] = extra
    cfg["added_tokens_decoder"] = {
        str(t.id): {"content": t.content, "lstrip": t.lstrip, "normalized": t.normalized, "rstrip": t.rstrip,
                    "single_word": t.single_word, "special": t.special}
        for t in sorted(v.added, key=lambda t: t.id)
    }
    if v.meta.get("chat_template"):
        cfg["chat_template"] = v.meta["chat_template"]
    return cfg, stm


def write_hf(v: Vocabulary, out_dir: str | os.PathLike) -> list[Path]:
    """Write tokenizer.json, tokenizer_config.json and special_tokens_map.json into ``out_dir``."""
    from ..io import write_json_atomic

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tj = vocab_to_hf_json(v)
    cfg, stm = hf_config(v)
    paths = [out / "tokenizer.json", out / "tokenizer_config.json", out / "special_tokens_map.json"]
    write_json_atomic(paths[0], tj, indent=None)
    write_json_atomic(paths[1], cfg)
    write_json_atomic(paths[2], stm)
    return paths
