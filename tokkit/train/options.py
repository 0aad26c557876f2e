"""What a training run is told: one options dataclass for every algorithm, readable from TOML/YAML.

The pretokenizer is a preset (``gpt2``, ``llama3`` = cl100k, ``qwen2``, ``o200k``) or a custom
regex, with a digit policy on top:

- ``preset``: whatever the preset does (GPT-2: any run of digits; Llama-3/o200k: left-to-right
  groups of up to 3);
- ``single``: every digit alone (HF ``Digits(individual_digits=True)`` first);
- ``l2r3``: left-to-right groups of 3 (``\\p{N}{1,3}``);
- ``r2l3``: right-to-left groups of 3 (``1234567`` -> ``1 234 567``), by a lookahead split
  ``(?=(\\d{3})+(?!\\d))`` before the preset's regex, as in "Tokenization counts" and SuperBPE.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import FormatError, TokkitError
from ..vocab import Step, spec

ALGOS = ("bpe", "superbpe", "domain", "char", "unigram")
DIGIT_POLICIES = ("preset", "single", "l2r3", "r2l3")
PRESETS = ("gpt2", "llama3", "cl100k", "qwen2", "o200k")

#: SuperBPE stage-2 pretokenizer (the authors' current recipe): digits in groups of 3, runs of
#: two or more punctuation marks, and space runs before a space are split off; everything else,
#: whitespace included, may merge into superword tokens.
SUPERBPE_STAGE2_REGEX = r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]{2,}[\r\n/]*| +(?!\S)"
#: named stage-2 pretokenizers (``stage2_regex`` takes a name or a regex): "current" (the default
#: above) and "paper", the paper-era regex alone (only right-to-left groups of 3 digits split off;
#: punctuation and whitespace runs may merge too): 20% fewer tokens than BPE at 32K where
#: "current" gives 16% (docs/train.md)
SUPERBPE_STAGE2_PRESETS = {"current": SUPERBPE_STAGE2_REGEX, "paper": r"(?=(\d{3})+(?!\d))"}


@dataclass
class TrainOptions:
    algo: str = "bpe"
    vocab_size: int = 32000
    #: pretokenizer preset, or None with ``regex`` set
    preset: str | None = "llama3"
    regex: str | None = None
    digits: str = "preset"
    #: None, "nfc" or "nfkc"
    normalization: str | None = None
    lowercase: bool = False
    special_tokens: list[str] = field(default_factory=lambda: ["<|endoftext|>"])
    added_tokens: list[str] = field(default_factory=list)
    min_frequency: int = 0
    max_token_bytes: int | None = None
    max_token_chars: int | None = None
    #: extra, smaller vocabulary sizes written from the same run (exact prefixes of the merges)
    snapshots: list[int] = field(default_factory=list)
    #: extend this tokenizer (keep its ids and merges, learn more)
    extend: str | None = None
    # -- SuperBPE
    #: vocabulary size at which stage 2 starts (default: 80% of vocab_size, see docs/train.md)
    transition: int | None = None
    stage2_regex: str = SUPERBPE_STAGE2_REGEX
    max_words: int = 4
    forbid: list[str] = field(default_factory=lambda: [": "])
    # -- domain (KL3M-style)
    terms: list[str] = field(default_factory=list)
    terms_file: str | None = None
    kl3m_added: bool = True
    pad_pow2: bool = False
    # -- Unigram (sentencepiece)
    character_coverage: float = 0.9995
    byte_fallback: bool = True
    max_sentences: int = 2_000_000
    # -- corpus reading and outputs
    text_field: str = "text"
    errors: str = "strict"
    tiktoken: bool = False
    seed: int = 0

    def validate(self) -> "TrainOptions":
        if self.algo not in ALGOS:
            raise TokkitError(f"unknown algorithm {self.algo!r} (choose from {', '.join(ALGOS)})")
        if self.digits not in DIGIT_POLICIES:
            raise TokkitError(f"unknown digit policy {self.digits!r} (choose from {', '.join(DIGIT_POLICIES)})")
        if self.preset is not None and self.preset not in PRESETS:
            raise TokkitError(f"unknown pretokenizer preset {self.preset!r} (choose from {', '.join(PRESETS)})")
        if self.regex is not None:
            _check_regex(self.regex)
        if self.normalization not in (None, "nfc", "nfkc"):
            raise TokkitError(f"unknown normalization {self.normalization!r} (nfc or nfkc)")
        if self.vocab_size <= 0:
            raise TokkitError("vocab size must be positive")
        if any(s >= self.vocab_size or s <= 0 for s in self.snapshots):
            raise TokkitError(f"snapshot sizes must lie between 1 and the vocab size {self.vocab_size}")
        if self.algo == "superbpe" and self.transition is not None and not 0 < self.transition < self.vocab_size:
            raise TokkitError(f"transition {self.transition} must lie between 0 and the vocab size {self.vocab_size}")
        # contradictory options
        if self.snapshots and (self.algo in ("superbpe", "unigram") or self.extend or self.pad_pow2):
            raise TokkitError("snapshots are exact prefixes of one merge list: available for bpe, domain and char "
                              "without --extend or --pad-pow2")
        if self.transition is not None and self.algo != "superbpe":
            raise TokkitError(f"--transition is a SuperBPE option (the algorithm is {self.algo})")
        if (self.terms or self.terms_file) and self.algo != "domain":
            raise TokkitError(f"domain terms need --algo domain (the algorithm is {self.algo})")
        if self.extend and self.algo in ("char", "unigram"):
            raise TokkitError(f"--extend works with bpe, superbpe and domain, not {self.algo}")
        if self.algo == "unigram" and (self.regex or self.digits != "preset"):
            raise TokkitError("unigram (sentencepiece) has its own pretokenization: --regex and --digits do not apply")
        if self.errors not in ("strict", "replace"):
            raise TokkitError(f"unknown errors mode {self.errors!r} (strict or replace)")
        return self

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_config(path: str | os.PathLike, **overrides: Any) -> TrainOptions:
    """Options from a TOML or YAML file (keys are the field names), then ``overrides``."""
    path = Path(path)
    if not path.exists():
        raise TokkitError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            import tomllib

            data = tomllib.loads(text)
    except Exception as e:  # tomllib.TOMLDecodeError, yaml.YAMLError
        raise FormatError(path, f"cannot parse ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise FormatError(path, "the top level must be a table of options")
    data = dict(data.get("train", data))
    known = {f.name for f in dataclasses.fields(TrainOptions)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise FormatError(path, f"unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    data.update({k: v for k, v in overrides.items() if v is not None})
    return TrainOptions(**data)


def _check_regex(pattern: str) -> None:
    import json

    from .. import _native

    try:
        _native.Pretokenizer(json.dumps([{"kind": "split", "params": {"regex": pattern, "behavior": "Isolated"}}]))
    except ValueError as e:
        raise TokkitError(f"pretokenizer regex {pattern!r}: {e}") from None


def pretokenizer_steps(opts: TrainOptions, regex: str | None = None) -> list[Step]:
    """Split (+ digit policy) + ByteLevel, in the order that keeps superwords out of stage 1."""
    if regex is None and opts.regex is not None:
        regex = opts.regex
    if regex is None:
        preset = "llama3" if opts.preset in (None, "cl100k") else opts.preset
        regex = spec.PATTERNS[preset]
    _check_regex(regex)
    steps: list[Step] = []
    if opts.digits == "single":
        steps.append(spec.digits(True))
    elif opts.digits == "l2r3":
        regex = re.sub(r"\\p\{N\}(\+|\{1,3\}\+?)", r"\\p{N}{1,3}", regex)
    elif opts.digits == "r2l3":
        regex = re.sub(r"\\p\{N\}(\+|\{1,3\}\+?)", r"\\p{N}+", regex)
        steps.append(spec.split(spec.R2L_DIGITS_PATTERN, "Isolated"))
    steps.append(spec.split(regex, "Isolated"))
    steps.append(spec.byte_level(add_prefix_space=False, use_regex=False, trim_offsets=False))
    return steps


def normalizer_steps(opts: TrainOptions) -> list[Step]:
    steps = []
    if opts.normalization == "nfc":
        steps.append(spec.nfc())
    elif opts.normalization == "nfkc":
        steps.append(spec.nfkc())
    if opts.lowercase:
        steps.append(spec.lowercase())
    return steps
