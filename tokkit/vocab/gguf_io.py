"""GGUF vocabularies (llama.cpp model files and vocab-only files).

GGUF stores the tokens as strings (byte-level for ``gpt2`` models, SentencePiece pieces for
``llama`` models), a type per token, merges or scores, the special ids and a *name* for the
pretokenizer (``tokenizer.ggml.pre``). The name is mapped onto the pretokenizer steps of the
tokenizer it stands for, following llama.cpp's table of pre-types.
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path
from typing import Any

from ..errors import FormatError, UnsupportedError
from . import layout, spec
from .model import AddedToken, ModelKind, ModelOptions, Role, Surface, TokenType, Vocabulary, merges_all_splits
from .limits import check_regular_file
from .roles import infer_roles
from .steps import decoders
from .surface import parse_byte_piece, strings_to_bytes

GGUF_MAGIC = b"GGUF"

# llama.cpp pre-type name -> (regex preset or None for GPT-2's ByteLevel regex, split digits first)
_PRE_TYPES: dict[str, tuple[str, bool]] = {
    "gpt-2": ("gpt2", False), "gpt2": ("gpt2", False), "default": ("gpt2", False), "mpt": ("gpt2", False),
    "olmo": ("gpt2", False), "jais": ("gpt2", False),
    "llama-bpe": ("llama3", False), "llama3": ("llama3", False), "llama-v3": ("llama3", False),
    "dbrx": ("llama3", False), "smaug-bpe": ("llama3", False),
    "qwen2": ("qwen2", False), "stablelm2": ("qwen2", False), "qwen35": ("qwen35", False),
    "smollm": ("gpt2", True), "starcoder": ("gpt2", True), "refact": ("gpt2", True),
    "command-r": ("gpt2", True), "codeshell": ("gpt2", True), "exaone": ("gpt2", True),
    "minerva-7b": ("gpt2", True),
    "gpt-4o": ("o200k", False),
}
_LLAMA3_LIKE = {"llama-bpe", "llama3", "llama-v3", "dbrx", "smaug-bpe"}


def is_gguf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == GGUF_MAGIC
    except OSError:
        return False


# Written by hand: the ``gguf`` package's reader builds a numpy memmap view for every element
# of every array (13 s for Llama-3's 128k tokens + 280k merges); tokkit needs only the key/value
# header, which this reads sequentially in well under a second. Tensors are never touched.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_NP = {0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "<u1", 10: "<u8", 11: "<i8", 12: "<f8"}
_MAX_DIMS = 4  # GGML_MAX_DIMS
_MAX_NESTING = 4  # arrays of arrays: none of llama.cpp's keys nests at all


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _describe(v: Any) -> str:
    if isinstance(v, bool):
        return f"the boolean {v}"
    if isinstance(v, (int, float)):
        return f"the number {v}"
    if isinstance(v, str):
        return f"the string {v[:30]!r}"
    if isinstance(v, list):
        return f"an array of {len(v)} items"
    return type(v).__name__


class _Header:
    """The key/value metadata of a GGUF file (versions 2 and 3)."""

    def __init__(self, path: Path):
        import mmap

        check_regular_file(path, limit=None)
        with open(path, "rb") as f:
            try:
                self._buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError:  # empty file
                raise FormatError(path, "empty file") from None
        self.path = path
        self.pos = 0
        self.fields: dict[str, Any] = {}
        try:
            magic = self._take(4)
            if magic != GGUF_MAGIC:
                raise FormatError(path, "not a GGUF file (bad magic number)")
            (version,) = self._unpack("<I")
            if version not in (2, 3):
                raise FormatError(path, f"GGUF version {version} is not supported (2 and 3 are)")
            self.n_tensors, n_kv = self._unpack("<QQ")
            if n_kv > 1_000_000:
                raise FormatError(path, f"implausible metadata count {n_kv} (corrupt header)")
            for _ in range(n_kv):
                key = self._string()
                (vtype,) = self._unpack("<I")
                self.fields[key] = self._value(vtype)
            self.kv_end = self.pos  # the tensor-info table starts here
        except (struct.error, IndexError, UnicodeDecodeError, OverflowError, MemoryError, RecursionError):
            raise FormatError(path, f"cannot read GGUF header: truncated or corrupt at byte {self.pos}") from None

    def tensors(self) -> list[tuple[str, list[int], int, memoryview]]:
        """(name, dims as GGUF lists them (innermost first), ggml type, raw bytes) of each tensor,
        from the tensor-info table after the key/value header; the bytes are views of the mapped
        file."""
        import gguf

        self.pos = self.kv_end
        self._check_count(self.n_tensors, 24, "tensor-info table")  # name length, dims, type, offset
        infos = []
        try:
            for _ in range(self.n_tensors):
                name = self._string()
                (nd,) = self._unpack("<I")
                if nd > _MAX_DIMS:
                    raise FormatError(self.path, f"tensor {name}: {nd} dimensions (ggml has at most {_MAX_DIMS})")
                dims = list(self._unpack(f"<{nd}Q"))
                ttype, offset = self._unpack("<IQ")
                infos.append((name, dims, ttype, offset))
        except (struct.error, IndexError, UnicodeDecodeError, OverflowError, MemoryError):
            raise FormatError(self.path, f"cannot read the tensor table: truncated or corrupt at byte {self.pos}") \
                from None
        align = self.fields.get("general.alignment", 32)
        if not _is_int(align) or align <= 0 or align & (align - 1):
            raise FormatError(self.path, f"general.alignment is {_describe(align)}, not a power of two")
        start = -(-self.pos // align) * align
        out = []
        for name, dims, ttype, offset in infos:
            try:
                block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(ttype)]
            except (ValueError, KeyError):
                raise FormatError(self.path, f"tensor {name}: unknown ggml type {ttype}") from None
            n = 1
            for d in dims:
                n *= d
            nbytes = n // block * size
            a = start + offset
            if a + nbytes > len(self._buf):
                raise FormatError(self.path, f"tensor {name} runs past the end of the file (truncated?)")
            out.append((name, dims, ttype, memoryview(self._buf)[a:a + nbytes]))
        return out

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self._buf):
            raise IndexError
        b = self._buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def _unpack(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self._take(size))

    def _string(self) -> str:
        (n,) = self._unpack("<Q")
        return self._take(n).decode("utf-8", "surrogateescape")

    def _check_count(self, n: int, min_size: int, what: str) -> None:
        """Refuse ``n`` items of at least ``min_size`` bytes each that the rest of the file cannot hold
        (before a list of them is built)."""
        if n * min_size > len(self._buf) - self.pos:
            raise FormatError(self.path, f"{what} of {n} items at byte {self.pos} runs past the end of the file "
                                         f"({len(self._buf)} bytes): truncated or corrupt")

    def _value(self, vtype: int, depth: int = 0) -> Any:
        if vtype in _SCALARS:
            (v,) = self._unpack(_SCALARS[vtype])
            return v
        if vtype == 8:
            return self._string()
        if vtype == 9:
            etype, n = self._unpack("<IQ")
            if depth >= _MAX_NESTING:
                raise FormatError(self.path, f"arrays nested more than {_MAX_NESTING} deep at byte {self.pos}")
            if etype in _NP:
                import numpy as np

                itemsize = np.dtype(_NP[etype]).itemsize
                self._check_count(n, itemsize, "array")
                arr = np.frombuffer(self._take(n * itemsize), dtype=_NP[etype])
                return arr.tolist()
            if etype == 8:
                self._check_count(n, 8, "string array")
                return [self._string() for _ in range(n)]
            if etype == 9:
                self._check_count(n, 12, "array of arrays")
                return [self._value(etype, depth + 1) for _ in range(n)]
            if n:
                raise FormatError(self.path, f"unknown GGUF array element type {etype} at byte {self.pos}")
            return []
        raise FormatError(self.path, f"unknown GGUF value type {vtype} at byte {self.pos}")


def read_gguf_tensors(path: str | os.PathLike) -> tuple[dict[str, Any], list[tuple[str, list[int], int, memoryview]]]:
    """(key/value metadata, tensors) of a GGUF file without gguf-py's reader, which builds a
    numpy view per element of every metadata array (4 s for SmolLM2's tokenizer fields): each
    tensor as (name, dims innermost first, ggml type, raw bytes mapped from the file)."""
    h = _Header(Path(path))
    return h.fields, h.tensors()


_ROLE_KEYS = {
    Role.BOS: "tokenizer.ggml.bos_token_id", Role.EOS: "tokenizer.ggml.eos_token_id",
    Role.UNK: "tokenizer.ggml.unknown_token_id", Role.PAD: "tokenizer.ggml.padding_token_id",
    Role.SEP: "tokenizer.ggml.seperator_token_id", Role.MASK: "tokenizer.ggml.mask_token_id",
    Role.EOT: "tokenizer.ggml.eot_token_id",
}


def _field(reader: _Header, key: str, kind: str, default: Any = None) -> Any:
    """``reader``'s value for ``key`` (``default`` when absent), checked against ``kind``: 'str',
    'int', 'bool', 'strs' (strings), 'ints', 'numbers'; FormatError naming the key otherwise."""
    v = reader.fields.get(key)
    if v is None:
        return default
    ok = {
        "str": lambda: isinstance(v, str),
        "int": lambda: _is_int(v),
        "bool": lambda: isinstance(v, bool) or v in (0, 1),
        "strs": lambda: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "ints": lambda: isinstance(v, list) and all(_is_int(x) for x in v),
        "numbers": lambda: isinstance(v, list) and all(isinstance(x, (int, float)) and x == x for x in v),
    }[kind]()
    if not ok:
        expected = {"str": "a string", "int": "an integer", "bool": "a boolean", "strs": "an array of strings",
                    "ints": "an array of integers", "numbers": "an array of numbers (no NaN)"}[kind]
        raise FormatError(reader.path, f"{key} is {_describe(v)}, not {expected}")
    if kind == "str":
        _check_utf8([v], reader.path, key)
    elif kind == "strs":
        _check_utf8(v, reader.path, key)
    return bool(v) if kind == "bool" else v


def _check_utf8(strings: list[str], path: Path, key: str) -> None:
    """The header decodes strings with surrogateescape; a string holding one was not UTF-8."""
    try:
        "".join(strings).encode("utf-8")
    except UnicodeEncodeError:
        i = next(k for k, s in enumerate(strings) if any("\ud800" <= c <= "\udfff" for c in s))
        raise FormatError(path, f"{key}: item {i} is not valid UTF-8") from None


def read_gguf(path: str | os.PathLike) -> Vocabulary:
    """The tokenizer of a GGUF file; FormatError for a missing or mistyped tokenizer field, an
    array shorter than the token list, a special id outside the vocabulary or invalid UTF-8."""
    path = check_regular_file(path, limit=None)
    if not is_gguf(path):
        raise FormatError(path, "not a GGUF file (bad magic number)")
    reader = _Header(path)
    kind = _field(reader, "tokenizer.ggml.model", "str")
    if kind is None:
        raise FormatError(path, "GGUF file has no tokenizer (no tokenizer.ggml.model key)")
    strings = _field(reader, "tokenizer.ggml.tokens", "strs")
    if not strings:
        raise FormatError(path, "GGUF file has no tokenizer.ggml.tokens")
    n = len(strings)
    types = _token_types(reader, n)
    where = str(path)
    pre = _field(reader, "tokenizer.ggml.pre", "str", "default")
    meta: dict[str, Any] = {"source": where, "source_format": "gguf", "gguf_model": kind, "gguf_pre": pre}
    tmpl = _field(reader, "tokenizer.chat_template", "str")
    if tmpl:
        meta["chat_template"] = tmpl
    ids = {role: _special_id(reader, key, n) for role, key in _ROLE_KEYS.items()}
    roles_by_id: dict[int, set[Role]] = {}
    for role, i in ids.items():
        if i is not None:
            roles_by_id.setdefault(i, set()).add(role)

    if kind == "gpt2":
        surface = Surface.BYTE_LEVEL
    elif kind == "llama":
        surface = Surface.METASPACE
    else:
        raise UnsupportedError(f"{path}: GGUF tokenizer model {kind[:40]!r} is not supported yet "
                               "(gpt2 and llama are)")
    tokens = _token_bytes(strings, types, surface, path)
    added = _added_tokens(strings, types, tokens, roles_by_id, surface)

    options = ModelOptions()
    if ids[Role.UNK] is not None:
        options.unk_id = ids[Role.UNK]
        types[options.unk_id] = TokenType.UNKNOWN  # the model's unk is always type UNKNOWN
    add_bos = _field(reader, "tokenizer.ggml.add_bos_token", "bool")
    add_eos = _field(reader, "tokenizer.ggml.add_eos_token", "bool", False)
    if kind == "gpt2":
        parts = _byte_level_parts(reader, strings, types, pre, options, meta)
        if add_bos is None:
            add_bos = pre in _LLAMA3_LIKE
    else:  # SentencePiece-style ("llama")
        parts = _sentencepiece_parts(reader, tokens, types, options)
        if add_bos is None:
            add_bos = True
    merges, score_list, normalizer, pretok, decoder, post = parts
    bos_id, eos_id = ids[Role.BOS], ids[Role.EOS]
    bos = (strings[bos_id], bos_id) if (add_bos and bos_id is not None) else None
    eos = (strings[eos_id], eos_id) if (add_eos and eos_id is not None) else None
    tmpl_step = spec.bos_eos_template(bos, eos)
    if tmpl_step is not None:
        post.append(tmpl_step)
    return Vocabulary(model=ModelKind.BPE, tokens=tokens, types=types, surface=surface, merges=merges,
                      scores=score_list, added=added, options=options, normalizer=normalizer,
                      pretokenizer=pretok, decoder=decoder, post_processor=post, meta=meta)


def _token_types(reader: _Header, n: int) -> list[TokenType]:
    ttypes = _field(reader, "tokenizer.ggml.token_type", "ints") or [1] * n
    if len(ttypes) != n:
        raise FormatError(reader.path, f"{len(ttypes)} token types for {n} tokens")
    return [TokenType(t) if t in TokenType._value2member_map_ else TokenType.NORMAL for t in ttypes]


def _special_id(reader: _Header, key: str, n: int) -> int | None:
    i = _field(reader, key, "int")
    if i is not None and not 0 <= i < n:
        raise FormatError(reader.path, f"{key} {i} is outside the vocabulary (0..{n - 1})")
    return i


def _token_bytes(strings: list[str], types: list[TokenType], surface: Surface, path: Path) -> list[bytes]:
    tokens: list[bytes] = [b""] * len(strings)
    normal_idx = []
    for i, (s, t) in enumerate(zip(strings, types)):
        if t in (TokenType.CONTROL, TokenType.USER_DEFINED, TokenType.UNKNOWN, TokenType.UNUSED):
            tokens[i] = s.encode("utf-8")
        elif t == TokenType.BYTE:
            b = parse_byte_piece(s)
            if b is None:
                raise FormatError(path, f"byte token {i} is spelled {s[:40]!r}, not <0xXX>")
            tokens[i] = bytes([b])
        else:
            normal_idx.append(i)
    decoded = strings_to_bytes([strings[i] for i in normal_idx], surface, str(path))
    for i, b in zip(normal_idx, decoded):
        tokens[i] = b
    return tokens


def _added_tokens(strings: list[str], types: list[TokenType], tokens: list[bytes], roles_by_id: dict[int, set[Role]],
                  surface: Surface) -> list[AddedToken]:
    added: list[AddedToken] = []
    sp_unknown = TokenType.UNKNOWN if surface == Surface.METASPACE else None
    for i, t in enumerate(types):
        if t in (TokenType.CONTROL, TokenType.USER_DEFINED, sp_unknown):
            special = t != TokenType.USER_DEFINED
            roles = roles_by_id.get(i, set()) | infer_roles(strings[i], special)
            added.append(AddedToken(id=i, content=strings[i], special=special, roles=frozenset(roles),
                                    normalized=not special, in_model=surface == Surface.METASPACE))
    for i, roles in roles_by_id.items():  # a role on a token that is not marked control
        if not any(a.id == i for a in added) and types[i] not in (TokenType.BYTE,):
            added.append(AddedToken(id=i, content=strings[i], special=True, roles=frozenset(roles), in_model=True))
            types[i] = TokenType.CONTROL
            tokens[i] = strings[i].encode("utf-8")
    added.sort(key=lambda a: a.id)
    return added


def _byte_level_parts(reader: _Header, strings: list[str], types: list[TokenType], pre: str, options: ModelOptions,
                      meta: dict[str, Any]) -> tuple:
    """(merges, scores, normalizer, pretokenizer, decoder, post-processor) of a gpt2 GGUF."""
    path = reader.path
    merges_raw = _field(reader, "tokenizer.ggml.merges", "strs") or []
    by_string = {}
    for i, (s, t) in enumerate(zip(strings, types)):
        if t == TokenType.NORMAL:
            by_string.setdefault(s, i)
    merges = []
    for rank, m in enumerate(merges_raw):
        parts = m.split(" ")
        if len(parts) != 2:
            raise FormatError(path, f"merge #{rank} {m[:40]!r} is not two tokens separated by one space")
        a, b = by_string.get(parts[0]), by_string.get(parts[1])
        r = by_string.get(parts[0] + parts[1])
        if a is None or b is None or r is None:
            raise FormatError(path, f"merge #{rank} {m[:40]!r} uses a token that is not in the vocabulary")
        merges.append((a, b, r))
    preset, split_digits = _PRE_TYPES.get(pre, (None, False))
    if preset is None:
        warnings.warn(f"{path}: pretokenizer {pre[:40]!r} is not known to tokkit; using GPT-2's (ids may differ)",
                      stacklevel=3)
        preset, split_digits = "gpt2", False
        meta["pretokenizer_exact"] = False
    options.ignore_merges = pre in _LLAMA3_LIKE
    pretok = spec.byte_level_preset(preset, individual_digits=split_digits)
    decoder = [spec.byte_level(add_prefix_space=True, use_regex=True, trim_offsets=True)]
    post = [spec.byte_level(add_prefix_space=True, use_regex=True, trim_offsets=False)]
    return merges, None, [], pretok, decoder, post


def _sentencepiece_parts(reader: _Header, tokens: list[bytes], types: list[TokenType], options: ModelOptions
                         ) -> tuple:
    """(merges, scores, normalizer, pretokenizer, decoder, post-processor) of a llama GGUF."""
    n = len(tokens)
    scores = _field(reader, "tokenizer.ggml.scores", "numbers")
    if scores is None:
        raise FormatError(reader.path, "a SentencePiece (llama) GGUF vocabulary needs tokenizer.ggml.scores")
    if len(scores) != n:
        raise FormatError(reader.path, f"{len(scores)} scores for {n} tokens")
    score_list = [float(s) for s in scores]
    options.byte_fallback = any(t == TokenType.BYTE for t in types)
    options.fuse_unk = True
    order = sorted(range(n), key=lambda i: (-score_list[i], i))
    merges = merges_all_splits(tokens, types, order)
    add_prefix = _field(reader, "tokenizer.ggml.add_space_prefix", "bool", True)
    normalizer = ([spec.prepend("\u2581")] if add_prefix else []) + [spec.replace(" ", "\u2581")]
    decoder = [spec.replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()]
    if add_prefix:
        decoder.append(decoders.Strip(content=" ", start=1, stop=0))
    return merges, score_list, normalizer, [], decoder, []


# ---------------------------------------------------------------------------------------------
# writing (vocab-only GGUF, the same keys llama.cpp's converter writes)
# ---------------------------------------------------------------------------------------------
def _pre_type(v: Vocabulary) -> str:
    """The llama.cpp pre-type name of ``v``'s pretokenizer (inverse of the reading table)."""
    steps = v.pretokenizer
    split_digits = bool(steps) and steps[0].kind == "digits" and steps[0].get("individual_digits", False)
    rest = steps[1:] if split_digits else steps
    preset = None
    if [s.kind for s in rest] == ["byte_level"] and rest[0].get("use_regex", True):
        preset = "gpt2"
    elif [s.kind for s in rest] == ["split", "byte_level"] and not rest[1].get("use_regex", True):
        pattern = rest[0].params.get("regex")
        preset = next((k for k, p in spec.PATTERNS.items() if p == pattern and k != "cl100k"), None)
    preferred = {("gpt2", False): "gpt-2", ("gpt2", True): "smollm", ("llama3", False): "llama-bpe",
                 ("qwen2", False): "qwen2", ("qwen35", False): "qwen35", ("o200k", False): "gpt-4o"}
    name = preferred.get((preset, split_digits)) if preset else None
    if name is None:
        from .spec import describe_steps

        raise UnsupportedError("cannot write GGUF: llama.cpp has no pre-type for the pretokenizer "
                               + " + ".join(describe_steps(steps) or ["none"]))
    return name


def write_gguf(v: Vocabulary, target: str | os.PathLike, arch: str = "llama") -> Path:
    """Write a vocab-only GGUF file (tokenizer.ggml.* keys) that llama.cpp and transformers read."""
    import gguf

    from ..io import atomic_path
    from .surface import bytes_to_strings

    if v.model != ModelKind.BPE:
        raise UnsupportedError(f"cannot write GGUF: only BPE vocabularies are supported, not {v.model.value}")
    added = v.added_by_id()
    if v.surface == Surface.BYTE_LEVEL:
        kind, pre = "gpt2", _pre_type(v)
        if v.normalizer:
            raise UnsupportedError("cannot write GGUF: llama.cpp's byte-level tokenizers have no normalizer")
    elif v.surface == Surface.METASPACE:
        kind, pre = "llama", "default"
        if v.pretokenizer:
            raise UnsupportedError("cannot write GGUF: a SentencePiece-style vocabulary with a pretokenizer")
    else:
        raise UnsupportedError(f"cannot write GGUF: tokens spelled as {v.surface.value} text")
    plain = layout.plain_ids(v)
    spelled = dict(zip(plain, bytes_to_strings([v.tokens[i] for i in plain], [v.types[i] for i in plain],
                                                v.surface)))
    strings = []
    for i in range(v.size):
        if i in spelled:
            strings.append(spelled[i])
        elif i in added:
            strings.append(added[i].content)
        else:
            strings.append(v.tokens[i].decode("utf-8", "replace"))
    types = [int(t) for t in v.types]
    for t in v.added:  # added tokens are CONTROL (special) or USER_DEFINED in GGUF
        if types[t.id] != int(TokenType.UNKNOWN):
            types[t.id] = int(TokenType.CONTROL if t.special else TokenType.USER_DEFINED)
    target = Path(target)
    with atomic_path(target) as tmp:
        w = gguf.GGUFWriter(str(tmp), arch=arch)
        w.add_tokenizer_model(kind)
        w.add_tokenizer_pre(pre)
        w.add_token_list(strings)
        w.add_token_types(types)
        if kind == "gpt2":
            w.add_token_merges([f"{strings[a]} {strings[b]}" for a, b, _ in v.merges])
        else:
            w.add_token_scores(list(v.scores) if v.scores else [0.0] * v.size)
            w.add_add_space_prefix(any(s.kind == "prepend" for s in v.normalizer))
        for role, add in ((Role.BOS, w.add_bos_token_id), (Role.EOS, w.add_eos_token_id),
                          (Role.PAD, w.add_pad_token_id)):
            i = v.role_id(role)
            if i is not None:
                add(i)
        if v.options.unk_id is not None:
            w.add_unk_token_id(v.options.unk_id)
        w.add_add_bos_token(v.add_bos())
        w.add_add_eos_token(v.add_eos())
        if v.meta.get("chat_template"):
            w.add_chat_template(v.meta["chat_template"])
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.close()
    return target
