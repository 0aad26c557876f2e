"""Hugging Face ``tokenizer.json`` (+ ``tokenizer_config.json``, ``special_tokens_map.json``).

The reader maps every known component onto :class:`Step` lists and keeps unknown ones verbatim;
the writer produces a file that stock ``tokenizers.Tokenizer.from_file`` and
``transformers.AutoTokenizer.from_pretrained`` load, with a ``PreTrainedTokenizerFast`` config
(so transformers applies no model-specific rewriting on top of the JSON).
"""

from __future__ import annotations

import json
import math
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
from . import layout
from .layout import model_unk_id
from .limits import check_id_range, check_regular_file
from .roles import ROLE_KEYS, infer_roles
from .spec import steps_from_hf, steps_to_hf
from .surface import parse_byte_piece, strings_to_bytes

CONFIG_META_KEYS = ("chat_template", "model_max_length", "clean_up_tokenization_spaces", "tokenizer_class",
                    "padding_side", "add_prefix_space")


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------
def _load_json(path: Path) -> Any:
    try:
        text = check_regular_file(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise FormatError(path, f"not UTF-8 text (byte {e.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        hint = " (the file looks truncated)" if e.pos >= len(text) - 2 else ""
        raise FormatError(path, f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}{hint}") from None
    except (ValueError, RecursionError) as e:  # a number of over 4300 digits; nesting past the stack
        what = "nested too deeply" if isinstance(e, RecursionError) else str(e).split(";")[0]
        raise FormatError(path, f"invalid JSON: {what}") from None


def _load_json_object(path: Path) -> dict:
    obj = _load_json(path)
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise FormatError(path, f"expected a JSON object, got {type(obj).__name__}")
    return obj


def _surface_of(obj: dict) -> Surface:
    blob = json.dumps([obj.get("pre_tokenizer"), obj.get("decoder"), obj.get("normalizer")])
    if '"ByteLevel"' in blob:
        return Surface.BYTE_LEVEL
    if '"Metaspace"' in blob or "\u2581" in blob or "\\u2581" in blob:
        return Surface.METASPACE
    return Surface.PLAIN


def _token_content(v: Any) -> str | None:
    if isinstance(v, dict):
        v = v.get("content")
    return v if isinstance(v, str) else None


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _expect(value: Any, ok: bool, where: str | None, what: str, expected: str) -> Any:
    if not ok:
        raise FormatError(where, f"{what} is {json.dumps(value)[:40]}, not {expected}")
    return value


def _utf8(s: str, where: str | None, what: str) -> bytes:
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:
        raise FormatError(where, f"{what} {s!r} is not valid Unicode (a lone surrogate)") from None


def read_hf(path: str | os.PathLike) -> Vocabulary:
    """Read a ``tokenizer.json`` file, or a directory holding one (plus its config files)."""
    path = Path(path)
    if path.is_dir():
        directory, tj = path, path / "tokenizer.json"
        if not tj.exists():
            raise TokkitError(f"{path}: directory has no tokenizer.json")
        check_regular_file(tj)
    else:
        directory, tj = path.parent, path
    obj = _load_json(tj)
    if not isinstance(obj, dict) or "model" not in obj:
        raise FormatError(tj, "not a tokenizers JSON file (no 'model' object)")
    cfg_path = directory / "tokenizer_config.json"
    config = _load_json_object(cfg_path) if cfg_path.is_file() else {}
    stm_path = directory / "special_tokens_map.json"
    stm = _load_json_object(stm_path) if stm_path.is_file() else {}
    return vocab_from_hf_json(obj, config=config, special_tokens_map=stm, where=str(tj))


def vocab_from_hf_json(obj: dict, config: dict | None = None, special_tokens_map: dict | None = None,
                       where: str | None = None) -> Vocabulary:
    """The vocabulary of a parsed ``tokenizer.json``; FormatError (naming ``where``) for a field of
    the wrong type, a negative, repeated or far out-of-range id, or an empty vocabulary."""
    config = config or {}
    special_tokens_map = special_tokens_map or {}
    model = obj.get("model")
    _expect(model, isinstance(model, dict), where, "'model'", "an object")
    kind, model_items, options, unigram_scores, surface = _read_model(model, _surface_of(obj), where)
    added_by_id = _added_entries(obj.get("added_tokens"), where)
    model_ids = _model_ids(model_items, where)
    n = check_id_range(list(model_ids) + list(added_by_id), len(model_ids.keys() | added_by_id.keys()), where)
    if n == 0:
        raise FormatError(where, "empty vocabulary (no tokens in the model or added_tokens)")
    tokens, types = _model_tokens(n, model_ids, added_by_id, surface, options, where)

    # added tokens, with roles from the config files
    model_unk = model.get("unk_token") if kind in (ModelKind.BPE, ModelKind.WORDPIECE) else None
    _expect(model_unk, model_unk is None or isinstance(model_unk, str), where, "the model's unk_token", "a string")
    role_of = _roles_from_config(config, special_tokens_map)
    if model_unk:
        role_of.setdefault(model_unk, set()).add(Role.UNK)
    if kind == ModelKind.UNIGRAM and options.unk_id is not None and options.unk_id in model_ids:
        role_of.setdefault(model_ids[options.unk_id], set()).add(Role.UNK)
    added = _added_tokens(added_by_id, model_ids, role_of, tokens, types, where)
    _set_unk(options, model_unk, model_ids, added, tokens, types, where)

    scores = [unigram_scores.get(i, 0.0) for i in range(n)] if kind == ModelKind.UNIGRAM else None
    merges = _read_merges(model.get("merges"), model_ids, surface, where) if kind == ModelKind.BPE else []
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
    normalizer = steps_from_hf(obj.get("normalizer"), "normalizer", where)
    _check_precompiled(normalizer, where)
    return Vocabulary(
        model=kind, tokens=tokens, types=types, surface=surface, merges=merges, scores=scores,
        added=added, options=options,
        normalizer=normalizer,
        pretokenizer=steps_from_hf(obj.get("pre_tokenizer"), "pre_tokenizer", where),
        decoder=steps_from_hf(obj.get("decoder"), "decoder", where),
        post_processor=steps_from_hf(obj.get("post_processor"), "post_processor", where),
        meta=meta,
    )


def _check_precompiled(steps: list, where: str | None) -> None:
    """A SentencePiece charsmap in the normalizer must be base64 of a well-formed trie."""
    import base64
    import binascii

    from .sentencepiece_io import check_charsmap

    for s in steps:
        if s.kind == "precompiled":
            blob = s.get("precompiled_charsmap")
            try:
                check_charsmap(base64.b64decode(blob, validate=True), where)
            except (TypeError, ValueError, binascii.Error):
                raise FormatError(where, "the Precompiled normalizer's charsmap is not base64 text") from None


def _read_model(model: dict, surface: Surface, where: str | None
                ) -> tuple[ModelKind, list[tuple[str, Any]], ModelOptions, dict[int, float], Surface]:
    """(kind, (string, id) pairs, options, unigram scores by id, surface) of the 'model' object."""
    mtype = model.get("type")
    if mtype is None:  # very old files: infer from fields
        mtype = "BPE" if "merges" in model else ("Unigram" if isinstance(model.get("vocab"), list) else "WordPiece")
    options = ModelOptions()
    unigram_scores: dict[int, float] = {}
    if mtype == "BPE":
        kind = ModelKind.BPE
        vocab = model.get("vocab")
        if not isinstance(vocab, dict):
            raise FormatError(where, "BPE model without a 'vocab' object")
        model_items = list(vocab.items())
        options.byte_fallback = bool(model.get("byte_fallback", False))
        options.fuse_unk = bool(model.get("fuse_unk", False))
        options.ignore_merges = bool(model.get("ignore_merges", False))
        options.continuing_subword_prefix = _optional(model, "continuing_subword_prefix", str, where)
        options.end_of_word_suffix = _optional(model, "end_of_word_suffix", str, where)
        options.dropout = _optional(model, "dropout", float, where)
        if options.dropout is not None and not 0.0 <= options.dropout <= 1.0:
            raise FormatError(where, f"BPE dropout {options.dropout} is outside 0..1")
    elif mtype == "Unigram":
        kind = ModelKind.UNIGRAM
        vlist = model.get("vocab")
        if not isinstance(vlist, list):
            raise FormatError(where, "Unigram model without a 'vocab' list")
        model_items, unigram_scores = _unigram_entries(vlist, where)
        options.byte_fallback = bool(model.get("byte_fallback", False))
        options.unk_id = _optional(model, "unk_id", int, where)
        if options.unk_id is not None and not 0 <= options.unk_id < len(vlist):
            raise FormatError(where, f"Unigram unk_id {options.unk_id} is outside 0..{len(vlist) - 1}")
    elif mtype == "WordPiece":
        kind = ModelKind.WORDPIECE
        vocab = model.get("vocab")
        if not isinstance(vocab, dict):
            raise FormatError(where, "WordPiece model without a 'vocab' object")
        model_items = list(vocab.items())
        options.continuing_subword_prefix = _optional(model, "continuing_subword_prefix", str, where, "##")
        options.max_input_chars_per_word = _optional(model, "max_input_chars_per_word", int, where, 100)
        if options.max_input_chars_per_word is not None and options.max_input_chars_per_word < 0:
            raise FormatError(where, f"WordPiece max_input_chars_per_word {options.max_input_chars_per_word} "
                                     "is negative")
        surface = Surface.PLAIN
    else:
        raise UnsupportedError(f"{where}: model type {str(mtype)[:40]!r} is not supported "
                               "(BPE, Unigram, WordPiece are)")
    return kind, model_items, options, unigram_scores, surface


def _optional(model: dict, key: str, typ: type, where: str | None, default: Any = None) -> Any:
    """model[key] when it is None or of type ``typ`` (an int for a float is fine), else FormatError."""
    v = model.get(key, default)
    if v is None:
        return None
    ok = _is_int(v) if typ is int else (isinstance(v, typ) or (typ is float and _is_int(v)))
    if typ is float and ok and not math.isfinite(v):
        ok = False
    expected = {int: "an integer", float: "a finite number", str: "a string"}[typ]
    return _expect(v, ok, where, f"the model's {key}", expected)


def _unigram_entries(vlist: list, where: str | None) -> tuple[list[tuple[str, int]], dict[int, float]]:
    items, scores = [], {}
    for i, p in enumerate(vlist):
        if not (isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)
                and (isinstance(p[1], float) or _is_int(p[1])) and math.isfinite(p[1])):
            raise FormatError(where, f"Unigram vocab entry {i} is {json.dumps(p)[:40]}, not [piece, finite score]")
        items.append((p[0], i))
        scores[i] = float(p[1])
    return items, scores


def _added_entries(added_json: Any, where: str | None) -> dict[int, dict]:
    """id -> entry of 'added_tokens' (a list of objects with a unique non-negative integer id)."""
    added_json = _expect(added_json, added_json is None or isinstance(added_json, list), where,
                         "'added_tokens'", "a list") or []
    added_by_id: dict[int, dict] = {}
    for a in added_json:
        if not isinstance(a, dict) or not _is_int(a.get("id")) or not isinstance(a.get("content"), str):
            raise FormatError(where, f"malformed added token entry {json.dumps(a)[:60]} "
                                     "(needs an integer id and a string content)")
        i = a["id"]
        if i < 0:
            raise FormatError(where, f"added token {a['content']!r} has a negative id {i}")
        if i in added_by_id:
            raise FormatError(where, f"id {i} is given to two added tokens ({added_by_id[i]['content']!r} "
                                     f"and {a['content']!r})")
        added_by_id[i] = a
    return added_by_id


def _model_ids(model_items: list[tuple[str, Any]], where: str | None) -> dict[int, str]:
    model_ids: dict[int, str] = {}
    for s, i in model_items:
        if not _is_int(i):
            raise FormatError(where, f"token {s!r} has a non-integer id {json.dumps(i)[:40]}")
        if i < 0:
            raise FormatError(where, f"token {s!r} has a negative id {i}")
        if i in model_ids:
            raise FormatError(where, f"id {i} is used by two tokens ({model_ids[i]!r} and {s!r})")
        model_ids[i] = s
    return model_ids


def _model_tokens(n: int, model_ids: dict[int, str], added_by_id: dict[int, dict], surface: Surface,
                  options: ModelOptions, where: str | None) -> tuple[list[bytes], list[TokenType]]:
    """Token bytes and types of the model's own strings (decoded by the surface), UNUSED elsewhere."""
    tokens: list[bytes] = [b""] * n
    types: list[TokenType] = [TokenType.UNUSED] * n
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
    return tokens, types


def _roles_from_config(config: dict, special_tokens_map: dict) -> dict[str, set[Role]]:
    role_of: dict[str, set[Role]] = {}
    for key, role in ROLE_KEYS.items():
        content = _token_content(config.get(key)) or _token_content(special_tokens_map.get(key))
        if content:
            role_of.setdefault(content, set()).add(role)
    return role_of


def _added_tokens(added_by_id: dict[int, dict], model_ids: dict[int, str], role_of: dict[str, set[Role]],
                  tokens: list[bytes], types: list[TokenType], where: str | None) -> list[AddedToken]:
    added: list[AddedToken] = []
    for i in sorted(added_by_id):
        a = added_by_id[i]
        content = a["content"]
        special = bool(a.get("special", False))
        roles = set(role_of.get(content, set())) | infer_roles(content, special)
        added.append(AddedToken(
            id=i, content=content, special=special, roles=frozenset(roles),
            lstrip=bool(a.get("lstrip", False)), rstrip=bool(a.get("rstrip", False)),
            single_word=bool(a.get("single_word", False)), normalized=bool(a.get("normalized", not special)),
            in_model=i in model_ids,
        ))
        tokens[i] = _utf8(content, where, "added token")
        types[i] = TokenType.CONTROL if special else TokenType.USER_DEFINED
    _dedupe_unique_roles(added)
    return added


def _set_unk(options: ModelOptions, model_unk: str | None, model_ids: dict[int, str], added: list[AddedToken],
             tokens: list[bytes], types: list[TokenType], where: str | None) -> None:
    """The unknown token's id (the model's unk_token, else the config's) and its type UNKNOWN."""
    if model_unk is not None:
        unk_id = next((i for i, s in model_ids.items() if s == model_unk), None)
        if unk_id is None:
            unk_id = next((t.id for t in added if t.content == model_unk), None)
        options.unk_id = unk_id
    if options.unk_id is None:  # no unk in the model: the config's unk_token (an added token)
        options.unk_id = next((t.id for t in added if Role.UNK in t.roles), None)
    if options.unk_id is not None:  # the model's unk is always type UNKNOWN (as in SentencePiece)
        if types[options.unk_id] == TokenType.NORMAL:
            tokens[options.unk_id] = _utf8(model_ids[options.unk_id], where, "unk token")
        types[options.unk_id] = TokenType.UNKNOWN


def _read_merges(raw: Any, model_ids: dict[int, str], surface: Surface, where: str | None
                 ) -> list[tuple[int, int, int]]:
    raw = _expect(raw, raw is None or isinstance(raw, list), where, "the BPE merges", "a list") or []
    pairs = []
    for m in raw:
        if isinstance(m, str):
            parts = m.split(" ")
            if len(parts) != 2:
                raise FormatError(where, f"merge {m!r} is not two tokens separated by one space")
        elif isinstance(m, list) and len(m) == 2 and all(isinstance(x, str) for x in m):
            parts = m
        else:
            raise FormatError(where, f"malformed merge {json.dumps(m)[:40]}")
        pairs.append((parts[0], parts[1]))
    return _merges_from_strings(pairs, model_ids, surface, where)


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
    model_strings = layout.model_strings(v)
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
    tj = vocab_to_hf_json(v)
    check_hf_loads(tj)
    out.mkdir(parents=True, exist_ok=True)
    cfg, stm = hf_config(v)
    paths = [out / "tokenizer.json", out / "tokenizer_config.json", out / "special_tokens_map.json"]
    write_json_atomic(paths[0], tj, indent=None)
    write_json_atomic(paths[1], cfg)
    write_json_atomic(paths[2], stm)
    return paths


def check_hf_loads(tj: dict) -> None:
    """UnsupportedError unless stock Hugging Face ``tokenizers`` loads the components of ``tj``
    (normalizer, pretokenizer, decoder, post-processor, padding, truncation; a regex Oniguruma
    rejects, for one), probed with an empty vocabulary of the same model type so the check takes
    a millisecond; tokkit builds the vocabulary part itself."""
    from tokenizers import Tokenizer as HFTokenizer

    model = dict(tj["model"], vocab=[] if tj["model"]["type"] == "Unigram" else {})
    if "merges" in model:
        model["merges"] = []
    if model["type"] == "Unigram":
        model["unk_id"] = None
    try:
        HFTokenizer.from_str(json.dumps(dict(tj, model=model, added_tokens=[])))
    except Exception as e:  # tokenizers raises a bare Exception
        raise UnsupportedError(f"cannot write tokenizer.json: Hugging Face tokenizers would not load it ({e})") \
            from None
