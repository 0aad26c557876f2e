"""Declarative normalizer / pretokenizer / decoder / post-processor steps: the user-facing side.

Each step is a typed :class:`~tokkit.vocab.steps.Step` (one frozen dataclass per kind, in
:mod:`tokkit.vocab.steps`) with a snake_case ``kind`` and parameters whose names follow Hugging
Face ``tokenizers`` (so a ``tokenizer.json`` maps onto steps one for one). This module holds the
constructors users call, the known regex presets, and the mapping of whole pipeline slots to and
from ``tokenizer.json`` (Sequences flattened), all derived from the step registry.
"""

from __future__ import annotations

from ..errors import FormatError
from .model import Step
from .steps import Family, Regex, StepError, UnknownStep, hf_class, step_types
from .steps import normalizers, pretokenizers, processors

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
    return pretokenizers.Split(Regex(pattern) if regex else pattern, behavior, invert)


def byte_level(add_prefix_space: bool = False, use_regex: bool = True, trim_offsets: bool = True) -> Step:
    return pretokenizers.ByteLevel(add_prefix_space=add_prefix_space, trim_offsets=trim_offsets, use_regex=use_regex)


def metaspace(replacement: str = "▁", prepend_scheme: str = "first", split: bool = False) -> Step:
    return pretokenizers.Metaspace(replacement=replacement, prepend_scheme=prepend_scheme, split=split)


def digits(individual: bool = True) -> Step:
    return pretokenizers.Digits(individual_digits=individual)


def nfc() -> Step:
    return normalizers.NFC()


def nfkc() -> Step:
    return normalizers.NFKC()


def lowercase() -> Step:
    return normalizers.Lowercase()


def prepend(text: str) -> Step:
    return normalizers.Prepend(text)


def replace(pattern: str, content: str, regex: bool = False) -> Step:
    return normalizers.Replace(Regex(pattern) if regex else pattern, content)


def template(single: list[dict], pair: list[dict] | None = None, special_tokens: dict | None = None) -> Step:
    return processors.TemplateProcessing(single, pair or single, special_tokens or {})


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
    return processors.TemplateProcessing(single, pair, specials)


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


# -- Hugging Face type names (derived from the step registry) --------------------------------------
#: HF type name -> snake_case kind, over every family
_HF_NAMES = {c.hf_type: c.kind for c in step_types()}


def steps_from_hf(obj: dict | None, slot: str, where: str | None = None) -> list[Step]:
    """HF component JSON (possibly a Sequence) -> flat list of steps; FormatError (naming
    ``where``) for a component that is not an object with a string type, a parameter of the
    wrong type, or a regex that Hugging Face ``tokenizers`` cannot compile."""
    if obj is None:
        return []
    family = Family(slot)
    t = obj.get("type") if isinstance(obj, dict) else None
    if not isinstance(t, str):
        raise FormatError(where, f"{slot}: {_json_snippet(obj)} is not an object with a string 'type'")
    if t == "Sequence":
        subs = obj.get(family.sequence_key, [])
        if not isinstance(subs, list):
            raise FormatError(where, f"{slot}: the Sequence's {family.sequence_key!r} is not a list")
        out: list[Step] = []
        for sub in subs:
            out.extend(steps_from_hf(sub, slot, where))
        return out
    cls = hf_class(t, family)
    if cls is None:
        if t == "None":
            return []
        return [UnknownStep(t, {k: v for k, v in obj.items() if k != "type"})]
    try:
        step = cls.from_hf(obj)
    except StepError as e:
        raise FormatError(where, f"{slot}: {e.problem}") from None
    if isinstance(getattr(step, "pattern", None), Regex):
        check_regex(step.pattern, where, f"{slot} {t}")
    return [step]


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
    objs = [s.to_hf() for s in steps]
    if not objs:
        return None
    if len(objs) == 1 and not sequence_when_single:
        return objs[0]
    return {"type": "Sequence", Family(slot).sequence_key: objs}


def describe_steps(steps: list[Step]) -> list[str]:
    """Short human-readable descriptions (for ``tokkit inspect``)."""
    return [s.describe() for s in steps]


def native_pretokenizer(steps: list[Step]):
    """The pretokenizer steps as a native ``tokkit._native.Pretokenizer`` (HF semantics, exact).

    Pieces come out as raw bytes (SentencePiece's ``▁`` as a space, as in the data model).
    Raises UnsupportedError for a step the native core does not implement.
    """
    import json

    from .. import _native
    from ..errors import UnsupportedError

    try:
        return _native.Pretokenizer(json.dumps([s.to_native() for s in steps]))
    except ValueError as e:
        raise UnsupportedError(str(e)) from None
