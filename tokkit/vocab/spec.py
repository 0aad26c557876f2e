"""Declarative normalizer / pretokenizer / decoder / post-processor steps.

Each step is a :class:`~tokkit.vocab.model.Step` with a snake_case ``kind`` and parameters whose
names follow Hugging Face ``tokenizers`` (so a ``tokenizer.json`` maps onto steps one for one).
This module holds the constructors users call, the known regex presets, the mapping to and
from Hugging Face type names, and a one-line description used by ``tokkit inspect``.
"""

from __future__ import annotations

from ..errors import FormatError
from .model import Step

# -- regex presets (pretokenization patterns of well-known tokenizers) ------------------------
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
#: Llama-3 / cl100k (as written in Llama-3's tokenizer.json; tiktoken uses possessive forms
#: with the same matches)
LLAMA3_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
QWEN2_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
#: Qwen3.5: letters take their combining marks (\p{M}) with them
QWEN35_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
O200K_PATTERN = "|".join([
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""",
    r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
    r"""\s*[\r\n]+""",
    r"""\s+(?!\S)""",
    r"""\s+""",
])
#: right-to-left groups of three digits ("Tokenization counts"; SuperBPE's stage-1 prefix)
R2L_DIGITS_PATTERN = r"""(?=(\d{3})+(?!\d))"""

PATTERNS = {
    "gpt2": GPT2_PATTERN,
    "llama3": LLAMA3_PATTERN,
    "cl100k": LLAMA3_PATTERN,
    "qwen2": QWEN2_PATTERN,
    "qwen35": QWEN35_PATTERN,
    "o200k": O200K_PATTERN,
}


# -- constructors ------------------------------------------------------------------------------
def split(pattern: str, behavior: str = "Isolated", invert: bool = False, regex: bool = True) -> Step:
    key = "regex" if regex else "string"
    return Step("split", {key: pattern, "behavior": behavior, "invert": invert})


def byte_level(add_prefix_space: bool = False, use_regex: bool = True, trim_offsets: bool = True) -> Step:
    return Step("byte_level", {"add_prefix_space": add_prefix_space, "trim_offsets": trim_offsets,
                               "use_regex": use_regex})


def metaspace(replacement: str = "▁", prepend_scheme: str = "first", split: bool = False) -> Step:
    return Step("metaspace", {"replacement": replacement, "prepend_scheme": prepend_scheme, "split": split})


def digits(individual: bool = True) -> Step:
    return Step("digits", {"individual_digits": individual})


def nfc() -> Step:
    return Step("nfc")


def nfkc() -> Step:
    return Step("nfkc")


def lowercase() -> Step:
    return Step("lowercase")


def prepend(text: str) -> Step:
    return Step("prepend", {"prepend": text})


def replace(pattern: str, content: str, regex: bool = False) -> Step:
    return Step("replace", {("regex" if regex else "string"): pattern, "content": content})


def template(single: list[dict], pair: list[dict] | None = None, special_tokens: dict | None = None) -> Step:
    return Step("template", {"single": single, "pair": pair or single, "special_tokens": special_tokens or {}})


def bos_eos_template(bos: tuple[str, int] | None, eos: tuple[str, int] | None) -> Step | None:
    """The post-processor that adds BOS and/or EOS around a sequence (None when neither)."""
    if bos is None and eos is None:
        return None

    def seq(sid: str) -> list[dict]:
        out: list[dict] = []
        if bos:
            out.append({"SpecialToken": {"id": bos[0], "type_id": 0}})
        out.append({"Sequence": {"id": sid, "type_id": 0}})
        if eos:
            out.append({"SpecialToken": {"id": eos[0], "type_id": 0}})
        return out

    specials = {}
    for t in (bos, eos):
        if t:
            specials[t[0]] = {"id": t[0], "ids": [t[1]], "tokens": [t[0]]}
    single = seq("A")
    pair = seq("A") + [x if "SpecialToken" in x else {"Sequence": {"id": "B", "type_id": 1}} for x in seq("B")]
    return Step("template", {"single": single, "pair": pair, "special_tokens": specials})


def byte_level_preset(name: str, individual_digits: bool = False) -> list[Step]:
    """The pretokenizer of a well-known byte-level tokenizer, as HF writes it."""
    name = name.lower()
    steps: list[Step] = []
    if individual_digits:
        steps.append(digits(True))
    if name == "gpt2":
        steps.append(byte_level(add_prefix_space=False, use_regex=True, trim_offsets=True))
        return steps
    if name not in PATTERNS:
        from ..errors import TokkitError

        raise TokkitError(f"unknown pretokenizer preset {name!r} (known: {', '.join(sorted(PATTERNS))})")
    steps.append(split(PATTERNS[name], "Isolated"))
    steps.append(byte_level(add_prefix_space=False, use_regex=False, trim_offsets=False))
    return steps


# -- Hugging Face type names ---------------------------------------------------------------------
_HF_NAMES = {
    # normalizers
    "NFC": "nfc", "NFD": "nfd", "NFKC": "nfkc", "NFKD": "nfkd", "Lowercase": "lowercase",
    "Strip": "strip", "StripAccents": "strip_accents", "Prepend": "prepend", "Replace": "replace",
    "Precompiled": "precompiled", "BertNormalizer": "bert_normalizer", "Nmt": "nmt",
    "ByteLevel": "byte_level",
    # pretokenizers
    "Split": "split", "Metaspace": "metaspace", "Digits": "digits", "Whitespace": "whitespace",
    "WhitespaceSplit": "whitespace_split", "Punctuation": "punctuation",
    "BertPreTokenizer": "bert", "UnicodeScripts": "unicode_scripts",
    "CharDelimiterSplit": "char_delimiter_split", "FixedLength": "fixed_length",
    # decoders
    "ByteFallback": "byte_fallback", "Fuse": "fuse", "WordPiece": "wordpiece", "BPEDecoder": "bpe_decoder",
    "CTC": "ctc",
    # post-processors
    "TemplateProcessing": "template", "BertProcessing": "bert_processing",
    "RobertaProcessing": "roberta_processing",
}
_KIND_TO_HF = {v: k for k, v in _HF_NAMES.items()}
_SEQUENCE_KEYS = {"normalizer": "normalizers", "pre_tokenizer": "pretokenizers", "decoder": "decoders",
                  "post_processor": "processors"}
# a pattern in HF is {"Regex": ...} or {"String": ...}; these step kinds carry one
_PATTERN_KINDS = {"split", "replace"}


def steps_from_hf(obj: dict | None, slot: str, where: str | None = None) -> list[Step]:
    """HF component JSON (possibly a Sequence) -> flat list of steps; FormatError (naming
    ``where``) for a component that is not an object with a string type, or a regex that Hugging
    Face ``tokenizers`` cannot compile."""
    if obj is None:
        return []
    t = obj.get("type") if isinstance(obj, dict) else None
    if not isinstance(t, str):
        raise FormatError(where, f"{slot}: {_json_snippet(obj)} is not an object with a string 'type'")
    if t == "Sequence":
        subs = obj.get(_SEQUENCE_KEYS[slot], [])
        if not isinstance(subs, list):
            raise FormatError(where, f"{slot}: the Sequence's {_SEQUENCE_KEYS[slot]!r} is not a list")
        out: list[Step] = []
        for sub in subs:
            out.extend(steps_from_hf(sub, slot, where))
        return out
    kind = _HF_NAMES.get(t, f"hf:{t}")
    params = {k: v for k, v in obj.items() if k != "type"}
    if kind in _PATTERN_KINDS and isinstance(params.get("pattern"), dict):
        pat = params.pop("pattern")
        if "Regex" in pat:
            params["regex"] = pat["Regex"]
        else:
            params["string"] = pat.get("String", "")
        key = "regex" if "regex" in params else "string"
        if not isinstance(params[key], str):
            raise FormatError(where, f"{slot}: the {t} pattern is not a string")
        if key == "regex":
            check_regex(params["regex"], where, f"{slot} {t}")
    if kind == "hf:None":
        return []
    return [Step(kind, params)]


def check_regex(pattern: str, where: str | None, what: str = "pretokenizer") -> None:
    """FormatError unless Hugging Face ``tokenizers`` (Oniguruma, the engine that loads the
    tokenizer.json tokkit writes) compiles ``pattern``."""
    import tokenizers

    try:
        tokenizers.Regex(pattern)
    except Exception as e:  # tokenizers raises a bare Exception for a bad pattern
        shown = pattern if len(pattern) <= 60 else pattern[:57] + "..."
        raise FormatError(where, f"{what} regex {shown!r} does not compile: {e}") from None


def _json_snippet(x: object) -> str:
    import json

    s = json.dumps(x, ensure_ascii=False)
    return s if len(s) <= 40 else s[:37] + "..."


def steps_to_hf(steps: list[Step], slot: str, sequence_when_single: bool = False) -> dict | None:
    """Flat list of steps -> HF component JSON (a Sequence when there are several)."""
    objs = []
    for s in steps:
        if s.kind.startswith("hf:"):
            hf_type = s.kind[3:]
        else:
            hf_type = _KIND_TO_HF.get(s.kind)
            if hf_type is None:
                from ..errors import UnsupportedError

                raise UnsupportedError(f"step {s.kind!r} has no Hugging Face equivalent")
        params = dict(s.params)
        if s.kind in _PATTERN_KINDS:
            if "regex" in params:
                params["pattern"] = {"Regex": params.pop("regex")}
            elif "string" in params:
                params["pattern"] = {"String": params.pop("string")}
            # HF expects pattern first for readability; order does not matter for parsing
            params = {"pattern": params.pop("pattern"), **params}
        objs.append({"type": hf_type, **params})
    if not objs:
        return None
    if len(objs) == 1 and not sequence_when_single:
        return objs[0]
    return {"type": "Sequence", _SEQUENCE_KEYS[slot]: objs}


def describe_steps(steps: list[Step]) -> list[str]:
    """Short human-readable descriptions (for ``tokkit inspect``)."""
    out = []
    for s in steps:
        p = s.params
        if s.kind == "split":
            pat = p.get("regex", p.get("string", ""))
            name = next((k for k, v in PATTERNS.items() if v == pat), None)
            shown = f"preset {name}" if name else (pat if len(pat) <= 60 else pat[:57] + "...")
            out.append(f"split({shown}, {p.get('behavior')}{', inverted' if p.get('invert') else ''})")
        elif s.kind == "byte_level":
            out.append(f"byte_level(prefix_space={p.get('add_prefix_space', False)}, regex={p.get('use_regex', True)})")
        elif s.kind == "metaspace":
            out.append(f"metaspace({p.get('replacement', '▁')!r}, prepend={p.get('prepend_scheme', p.get('add_prefix_space'))},"
                       f" split={p.get('split', True)})")
        elif s.kind == "digits":
            out.append(f"digits(individual={p.get('individual_digits')})")
        elif s.kind == "template":
            single = p.get("single", [])
            parts = [x["SpecialToken"]["id"] if "SpecialToken" in x else "$" + x["Sequence"]["id"] for x in single]
            out.append("template(" + " ".join(parts) + ")")
        elif s.kind == "precompiled":
            out.append("precompiled(sentencepiece charsmap)")
        elif p:
            short = ", ".join(f"{k}={v!r}" for k, v in p.items() if not isinstance(v, (list, dict)))
            out.append(f"{s.kind}({short})")
        else:
            out.append(s.kind)
    return out


def native_pretokenizer(steps: list[Step]):
    """The pretokenizer steps as a native ``tokkit._native.Pretokenizer`` (HF semantics, exact).

    Pieces come out as raw bytes (SentencePiece's ``▁`` as a space, as in the data model).
    Raises UnsupportedError for a step the native core does not implement.
    """
    import json

    from .. import _native
    from ..errors import UnsupportedError

    try:
        return _native.Pretokenizer(json.dumps([{"kind": s.kind, "params": s.params} for s in steps]))
    except ValueError as e:
        raise UnsupportedError(str(e)) from None
