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
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import FormatError, TokkitError
from ..vocab import Step, spec

ALGOS = ("bpe", "superbpe", "domain", "char", "unigram")
DIGIT_POLICIES = ("preset", "single", "l2r3", "r2l3")
PRESETS = ("gpt2", "llama3", "cl100k", "qwen2", "o200k")

#: SuperBPE stage-2 pretokenizer of the authors' current recipe ("current"): digits in groups of
#: 3, runs of two or more punctuation marks, and space runs before a space are split off;
#: everything else, whitespace included, may merge into superword tokens.
SUPERBPE_STAGE2_REGEX = r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]{2,}[\r\n/]*| +(?!\S)"
#: named stage-2 pretokenizers (``stage2_regex`` takes a name or a regex): "paper", the paper-era
#: regex alone (only right-to-left groups of 3 digits split off; punctuation, line breaks and
#: indentation may merge too), and "current" (above)
SUPERBPE_STAGE2_PRESETS = {"current": SUPERBPE_STAGE2_REGEX, "paper": r"(?=(\d{3})+(?!\d))"}
#: the default stage-2 pretokenizer: "paper" saved the most held-out tokens at every vocabulary
#: size and on every corpus of the sweep, and is the cheapest to count (kernel docs, 32K: 19.7%
#: fewer tokens than BPE vs 14.2% for "current"; Python 30.6% vs 16.8%; docs/train.md,
#: "Measured defaults", eval/trainer_sweep.py)
SUPERBPE_STAGE2_DEFAULT = "paper"

#: the largest vocabulary a run may ask for (``--pad-pow2`` pads up to twice that)
MAX_VOCAB_SIZE = 1 << 22
#: the largest config file read (a config is a few lines; this refuses /dev/zero and the like)
MAX_CONFIG_BYTES = 1 << 20
_MAX_I64 = (1 << 63) - 1
#: inclusive ranges of the numeric options (for a list: of each element)
RANGES: dict[str, tuple[float, float]] = {
    "vocab_size": (1, MAX_VOCAB_SIZE),
    "min_frequency": (0, _MAX_I64),
    "max_token_bytes": (1, 1 << 20),
    "max_token_chars": (1, 1 << 20),
    "snapshots": (1, MAX_VOCAB_SIZE),
    "transition": (1, MAX_VOCAB_SIZE),
    "max_words": (1, 1024),
    "character_coverage": (0.98, 1.0),  # sentencepiece's own bounds
    "max_sentences": (1, _MAX_I64),  # sentencepiece reads every sentence at 0: no 0
    "seed": (0, (1 << 32) - 1),
    "parity_iterations": (0, 100),
}


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
    #: vocabulary size at which stage 2 starts (None: ``superbpe.default_transition(vocab_size)``,
    #: 60% of it below 64K, 40% from 64K; docs/train.md, "Measured defaults")
    transition: int | None = None
    #: a name of SUPERBPE_STAGE2_PRESETS or a regex
    stage2_regex: str = SUPERBPE_STAGE2_DEFAULT
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
    # -- source and language weights (tokkit/train/weights.py, docs/train.md "Weights")
    #: source spec or language -> weight (``corpus:udhr=0.5`` on the command line, ``--weights``)
    weights: dict[str, float] = field(default_factory=dict)
    #: language temperature T: languages weighted as n^(1/T) (n: bytes of text); None: proportional
    temperature: float | None = None
    #: how weights apply: "counts" (upweighting) or "sample" (upsampling documents)
    weighting: str = "counts"
    #: parity-aware rounds (tokkit/train/parity.py; 0: off) and the pivot's token budget
    parity_iterations: int = 0
    parity_budget: float = 0.03
    # -- corpus reading and outputs
    text_field: str = "text"
    errors: str = "strict"
    tiktoken: bool = False
    seed: int = 0

    def validate(self) -> "TrainOptions":
        """Refuse wrong types, out-of-range values and contradictions (one line naming the option)."""
        self._check_fields()
        self._check_choices()
        self._check_combinations()
        self._check_sizes()
        self._check_tokens()
        self._check_weights()
        return self

    def _check_fields(self) -> None:
        """Every field has its declared type (a TOML/YAML value may not) and lies in its range."""
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            _check_type(f.name, value, hints[f.name])
            if f.name in RANGES and value is not None:
                lo, hi = RANGES[f.name]
                for v in (value if isinstance(value, (list, tuple)) else [value]):
                    if not (lo <= v <= hi):  # NaN fails too
                        raise TokkitError(f"{f.name}: {v!r} is out of range (from {lo} to {hi})")

    def _check_choices(self) -> None:
        if self.algo not in ALGOS:
            raise TokkitError(f"algo: unknown algorithm {self.algo!r} (choose from {', '.join(ALGOS)})")
        if self.digits not in DIGIT_POLICIES:
            raise TokkitError(f"digits: unknown digit policy {self.digits!r} (choose from {', '.join(DIGIT_POLICIES)})")
        if self.preset is not None and self.preset not in PRESETS:
            raise TokkitError(f"preset: unknown pretokenizer preset {self.preset!r} (choose from {', '.join(PRESETS)})")
        if self.regex is not None:
            _check_regex(self.regex)
        if self.algo == "superbpe":
            _check_regex(SUPERBPE_STAGE2_PRESETS.get(self.stage2_regex, self.stage2_regex), "stage2_regex")
        if self.normalization not in (None, "nfc", "nfkc"):
            raise TokkitError(f"normalization: unknown normalization {self.normalization!r} (nfc or nfkc)")
        if self.errors not in ("strict", "replace"):
            raise TokkitError(f"errors: unknown errors mode {self.errors!r} (strict or replace)")
        if not self.text_field:
            raise TokkitError("text_field: empty field name")
        if self.terms_file is not None and Path(self.terms_file).exists() and not Path(self.terms_file).is_file():
            raise TokkitError(f"{self.terms_file}: not a regular file (domain terms)")

    def _check_weights(self) -> None:
        from .weights import MODES, check_weight

        if self.weighting not in MODES:
            raise TokkitError(f"weighting: {self.weighting!r} is not one of {', '.join(MODES)}")
        for k, v in self.weights.items():
            check_weight(f"weights: {k}", v)
        if self.temperature is not None:
            check_weight("temperature", self.temperature)
        if self.parity_iterations and (self.algo != "bpe" or self.weighting != "counts" or self.extend):
            raise TokkitError("parity-aware training (parity_iterations) is for algo bpe with weighting counts, "
                              "without --extend")
        if not 0 <= self.parity_budget <= 1:
            raise TokkitError(f"parity_budget: {self.parity_budget!r} is out of range (from 0 to 1)")
        if self.algo == "unigram" and (self.weights or self.temperature is not None):
            raise TokkitError("weights and --temperature apply to counts: bpe, superbpe, domain and char "
                              "(unigram trains on sentences)")

    def _check_sizes(self) -> None:
        if any(s >= self.vocab_size for s in self.snapshots):
            raise TokkitError(f"snapshots: sizes must lie between 1 and the vocab size {self.vocab_size}")
        if self.algo == "superbpe" and self.transition is not None and not self.transition < self.vocab_size:
            raise TokkitError(f"transition {self.transition} must lie between 0 and the vocab size {self.vocab_size}")
        if self.algo == "unigram" or self.extend is not None:
            return
        fixed = 256 + len(self.special_tokens) + len(self.added_tokens)
        for key in ("vocab_size", "transition"):
            size = getattr(self, key)
            if size is not None and size < fixed:
                raise TokkitError(f"{key.replace('_', ' ')} {size} is smaller than the 256 byte tokens plus "
                                  f"{len(self.special_tokens)} special and {len(self.added_tokens)} added tokens")
        if self.algo == "superbpe" and self.transition is None:
            from .superbpe import default_transition

            t = default_transition(self.vocab_size)
            if t < fixed:
                raise TokkitError(f"vocab size {self.vocab_size}: SuperBPE's default transition {t} (60% of the "
                                  f"vocabulary) is smaller than the 256 byte tokens plus {len(self.special_tokens)} "
                                  f"special and {len(self.added_tokens)} added tokens; give --transition (at least "
                                  f"{fixed}) or a larger --vocab-size")

    def _check_tokens(self) -> None:
        seen: dict[str, str] = {}
        for key in ("special_tokens", "added_tokens"):
            for t in getattr(self, key):
                if not t:
                    raise TokkitError(f"{key}: an empty token")
                if t in seen:
                    where = key if seen[t] == key else f"{seen[t]} and {key}"
                    raise TokkitError(f"{where}: {t!r} is given twice")
                seen[t] = key

    def _check_combinations(self) -> None:
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

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_config(path: str | os.PathLike, **overrides: Any) -> TrainOptions:
    """Options from a TOML or YAML file (keys are the field names), then ``overrides``; validated.
    A problem with the file's own values names the file and the key."""
    path = Path(path)
    data = _read_config(path)
    known = {f.name for f in dataclasses.fields(TrainOptions)}
    unknown = sorted(set(data) - known)
    if unknown:
        shown = ", ".join(k if k.isidentifier() else repr(k) for k in unknown)
        raise FormatError(path, f"unknown option(s) {shown} (known: {', '.join(sorted(known))})")
    own = TrainOptions(**data)
    try:
        own._check_fields()
    except TokkitError as e:
        raise FormatError(path, str(e)) from None
    opts = TrainOptions(**{**data, **{k: v for k, v in overrides.items() if v is not None}})
    try:
        return opts.validate()
    except TokkitError:
        try:
            own.validate()
        except TokkitError as e:
            raise FormatError(path, str(e)) from None
        raise


def _read_config(path: Path) -> dict[str, Any]:
    """The table of options in a TOML or YAML file (the top level, or its ``train`` table)."""
    if not path.exists():
        raise TokkitError(f"{path}: no such file")
    if not path.is_file():
        raise FormatError(path, "not a regular file")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise FormatError(path, f"larger than {MAX_CONFIG_BYTES:,} bytes: not a config file")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise FormatError(path, f"invalid UTF-8 at byte {e.start}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            import tomllib

            data = tomllib.loads(text)
    except Exception as e:  # tomllib.TOMLDecodeError, yaml.YAMLError
        raise FormatError(path, f"cannot parse ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    if isinstance(data, dict) and "train" in data:
        data = data["train"]
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise FormatError(path, "the options must be a table (key = value)")
    return dict(data)


_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def _check_type(name: str, value: Any, hint: Any) -> None:
    """``value`` has the type ``hint`` (int, float, bool, str, list[...] of those, ``X | None``)."""
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType):
        if value is None and type(None) in args:
            return
        hint = next(a for a in args if a is not type(None))
        args = typing.get_args(hint)
    if typing.get_origin(hint) is dict:
        ok = isinstance(value, dict) and all(isinstance(k, str) and _is(v, args[1]) for k, v in value.items())
        what = f"a table of {_TYPE_NAMES[args[1]].split(' ', 1)[1]}s"
    elif typing.get_origin(hint) is list:
        ok = isinstance(value, (list, tuple)) and all(_is(x, args[0]) for x in value)
        what = f"a list of {_TYPE_NAMES[args[0]].split(' ', 1)[1]}s"
    else:
        ok, what = _is(value, hint), _TYPE_NAMES[hint]
    if not ok:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise TokkitError(f"{name}: expected {what}, got {shown}")


def _is(value: Any, t: type) -> bool:
    if t in (int, float) and isinstance(value, bool):
        return False
    if t is float:
        return isinstance(value, (int, float))
    return isinstance(value, t)


def _check_regex(pattern: str, key: str = "regex") -> None:
    import json

    from .. import _native

    try:
        _native.Pretokenizer(json.dumps([{"kind": "split", "params": {"regex": pattern, "behavior": "Isolated"}}]))
    except ValueError as e:
        problem = " ".join(str(e).split())  # one line, whatever the pattern holds
        raise TokkitError(f"{key}: pretokenizer regex {pattern!r}: {problem}") from None


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
