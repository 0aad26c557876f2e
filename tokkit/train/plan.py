"""What a training run counts, as a value: :class:`CountPlan`.

A plan says how text becomes the pretoken counts a trainer learns from: the pretokenizer of one
stage, and the transform applied to each text before it (Unicode normalization, lowercasing,
added tokens and domain terms cut out). ``tokkit train`` counts with it; ``tokkit count --algo
... / --config ...`` counts with the same plan elsewhere (one machine, shards, a cluster) and
records it in the table, so ``tokkit train --counts TABLE`` can check that the table is exactly
what it would have counted itself.

Public API (stable; distributed counting calls it inside worker processes):

- ``CountPlan.from_options(opts, stage=1, base=None)``: the plan of a :class:`TrainOptions`
  (``stage=2``: SuperBPE's stage-2 pretokenizer; ``base``: the ``--extend`` tokenizer, read from
  ``opts.extend`` when not given). ``unigram`` has no plan (sentencepiece reads lines).
- ``plan.pretokenizer``: the steps as native JSON dicts (``tokkit.counts.count_files`` and
  ``_native.Counter(json.dumps(plan.pretokenizer))`` take them).
- ``plan.transform()``: ``text -> iterable of texts`` to count, or None when texts are counted
  as they are. It compiles a regex: build it once per worker, not once per text.
- ``plan.count_texts(texts)``: one shard's :class:`~tokkit.counts.CountTable`, stamped;
  ``plan.stamp(table)``: record the plan in a table made otherwise (``count_files(paths,
  plan.pretokenizer, transform=plan.transform())``). :func:`tokkit.counts.merge` keeps the stamp
  of tables that share it and refuses tables counted with different plans.
- ``plan.fingerprint()``: SHA-256 (hex) of everything that changes counts: the pretokenizer, the
  normalization, lowercasing, the tokens cut out, and the Unicode version of Python's
  ``unicodedata`` when normalizing or lowercasing (a different Python may normalize differently).
  The stage and the algorithm are recorded but do not enter it (``bpe`` and ``char`` with the same
  pretokenizer count the same).
- ``plan.to_dict()`` / ``CountPlan.from_dict(d)``: JSON-able form (with the fingerprint), as
  stored under ``"count_plan"`` in a table's meta; ``plan_of(meta)`` reads it back.
- ``check_table(pretokenizer, meta, plan, where)``: refuse a table that the plan would not
  have counted (a :class:`~tokkit.errors.FormatError` naming ``where``, one line).

A plan is plain data (strings, booleans, tuples, dicts): it pickles, and nothing in it holds a
compiled object.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from ..counts import PLAN_KEY
from ..errors import FormatError, TokkitError
from ..vocab import Step, Vocabulary, spec
from . import domain
from .options import SUPERBPE_STAGE2_PRESETS, TrainOptions, normalizer_steps, pretokenizer_steps

PLAN_VERSION = 1
#: the key of a table's meta that holds its plan
META_KEY = PLAN_KEY


def training_tokens(opts: TrainOptions) -> tuple[list[str], list[str]]:
    """(special tokens, added tokens) of a run; domain: KL3M's specials and added tokens, terms
    with and without a leading space."""
    specials = list(opts.special_tokens)
    added = list(opts.added_tokens)
    if opts.algo == "domain":
        if opts.special_tokens == ["<|endoftext|>"]:
            specials = list(domain.KL3M_SPECIALS)
        terms = list(opts.terms) + (domain.read_terms(opts.terms_file) if opts.terms_file else [])
        # a term inside running text follows a space: both spellings are added tokens
        terms = [x for t in terms for x in (t, " " + t)]
        added = (domain.kl3m_added_tokens() if opts.kl3m_added else []) + added + terms
        seen: set[str] = set()
        added = [a for a in added if not (a in seen or seen.add(a))]
    return specials, added


def training_normalizer(opts: TrainOptions) -> list[Step]:
    """The normalizer of a run (domain: NFKC unless ``normalization`` says otherwise)."""
    if opts.algo == "domain" and opts.normalization is None:
        return normalizer_steps(TrainOptions(normalization="nfkc", lowercase=opts.lowercase))
    return normalizer_steps(opts)


def _native_steps(steps: Sequence[Step] | Sequence[dict]) -> list[dict]:
    return [s if isinstance(s, dict) else s.to_native() for s in steps]


@dataclass(frozen=True)
class CountPlan:
    """How a training run turns text into pretoken counts (see the module docstring)."""

    #: pretokenizer steps, native JSON (``Step.to_native()``)
    pretokenizer: list[dict]
    #: "nfc", "nfkc" or None
    normalization: str | None = None
    lowercase: bool = False
    #: added tokens cut out of the text before counting (sorted; matched leftmost-longest)
    cut: tuple[str, ...] = ()
    #: Python's Unicode version when normalizing or lowercasing (it decides what they do)
    unicode: str | None = None
    #: 1, or 2 for SuperBPE's stage-2 table (recorded, not in the fingerprint)
    stage: int = 1
    #: the algorithm it was made for (recorded, not in the fingerprint)
    algo: str = "bpe"

    @classmethod
    def from_options(cls, opts: TrainOptions, stage: int = 1, base: Vocabulary | None = None) -> "CountPlan":
        opts.validate()
        if opts.algo == "unigram":
            raise TokkitError("unigram (sentencepiece) trains on corpus lines, not on count tables")
        if stage not in (1, 2):
            raise TokkitError(f"stage {stage}: count tables are for stage 1 or SuperBPE's stage 2")
        if stage == 2 and opts.algo != "superbpe":
            raise TokkitError(f"a stage-2 table is SuperBPE's (the algorithm is {opts.algo})")
        _, added = training_tokens(opts)
        norm = training_normalizer(opts)
        if stage == 2:
            steps: Sequence[Step] = pretokenizer_steps(
                opts, regex=SUPERBPE_STAGE2_PRESETS.get(opts.stage2_regex, opts.stage2_regex))
        elif opts.extend and opts.algo != "superbpe":
            if base is None:
                from ..vocab import read_vocab

                base = read_vocab(opts.extend)
            steps = base.pretokenizer
        else:
            steps = pretokenizer_steps(opts)
        form = next((s.kind for s in norm if s.kind in ("nfc", "nfkc")), None)
        lower = any(s.kind == "lowercase" for s in norm)
        return cls(pretokenizer=_native_steps(steps), normalization=form, lowercase=lower,
                   cut=tuple(sorted(set(added))), unicode=unicodedata.unidata_version if (form or lower) else None,
                   stage=stage, algo=opts.algo)

    @classmethod
    def for_pretokenizer(cls, steps: Sequence[Step] | Sequence[dict]) -> "CountPlan":
        """A plan that counts texts as they are with ``steps``."""
        return cls(pretokenizer=_native_steps(steps))

    # -- what workers call ------------------------------------------------------------------
    def transform(self) -> Callable[[str], Iterable[str]] | None:
        """What is done to each text before pretokenization (None: nothing)."""
        return domain.make_transform(self.normalization, self.lowercase, self.cut)

    def counter(self):
        """A fresh native counter for this plan's pretokenizer (``add_texts``, ``items``)."""
        from .. import _native

        return _native.Counter(json.dumps(self.pretokenizer))

    def count_texts(self, texts: Iterable[str], batch_bytes: int | None = None):
        """Count ``texts`` (transformed) into a stamped :class:`~tokkit.counts.CountTable`."""
        from ..counts import BATCH_BYTES, _count_batches, _from_counter

        counter = self.counter()
        _count_batches(counter, texts, batch_bytes or BATCH_BYTES, None, self.transform())
        return self.stamp(_from_counter(counter, list(self.pretokenizer), {}))

    def stamp(self, table):
        """Record this plan in ``table.meta`` (its pretokenizer must be the plan's); returns it."""
        if table.pretokenizer != self.pretokenizer:
            raise TokkitError("the table was not counted with this plan's pretokenizer")
        table.meta[META_KEY] = self.to_dict()
        return table

    # -- identity ---------------------------------------------------------------------------
    def _counted(self) -> dict[str, Any]:
        return {"version": PLAN_VERSION, "pretokenizer": self.pretokenizer, "normalization": self.normalization,
                "lowercase": self.lowercase, "cut": list(self.cut), "unicode": self.unicode}

    def fingerprint(self) -> str:
        blob = json.dumps(self._counted(), sort_keys=True, ensure_ascii=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("ascii")).hexdigest()

    @property
    def has_transform(self) -> bool:
        return bool(self.normalization or self.lowercase or self.cut)

    def to_dict(self) -> dict[str, Any]:
        return {**self._counted(), "stage": self.stage, "algo": self.algo, "fingerprint": self.fingerprint()}

    @classmethod
    def from_dict(cls, d: dict) -> "CountPlan":
        """The plan stored by :meth:`to_dict`; ValueError if it is malformed or its fingerprint
        does not match its fields."""
        if not isinstance(d, dict) or d.get("version") != PLAN_VERSION:
            raise ValueError(f"unknown count plan version {d.get('version') if isinstance(d, dict) else d!r}")
        try:
            plan = cls(pretokenizer=list(d["pretokenizer"]), normalization=d["normalization"],
                       lowercase=bool(d["lowercase"]), cut=tuple(d["cut"]), unicode=d["unicode"],
                       stage=int(d["stage"]), algo=str(d["algo"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"malformed count plan ({type(e).__name__}: {e})") from None
        if not (all(isinstance(s, dict) for s in plan.pretokenizer) and all(isinstance(c, str) for c in plan.cut)
                and plan.normalization in (None, "nfc", "nfkc") and (plan.unicode is None or isinstance(plan.unicode, str))):
            raise ValueError("malformed count plan (field types)")
        if d.get("fingerprint") != plan.fingerprint():
            raise ValueError("the count plan's fingerprint does not match its fields")
        return plan


def plan_of(meta: dict, where: str | os.PathLike | None = None) -> CountPlan | None:
    """The plan recorded in a table's meta (None: a table counted without one)."""
    d = meta.get(META_KEY)
    if d is None:
        return None
    try:
        return CountPlan.from_dict(d)
    except ValueError as e:
        raise FormatError(where, f"count table metadata: {e}") from None


# -- checking a table against what the options would count --------------------------------------
_KNOWN_REGEXES = {**{v: f"{k} regex" for k, v in spec.PATTERNS.items() if k != "cl100k"},
                  **{v: f"SuperBPE stage-2 '{k}' regex" for k, v in SUPERBPE_STAGE2_PRESETS.items()},
                  spec.R2L_DIGITS_PATTERN: "right-to-left digit groups (SuperBPE stage-2 'paper' regex)"}


def canonical_pretokenizer(steps: Sequence[dict]) -> list[dict]:
    """Steps reduced to what decides the pretokens: ``trim_offsets`` dropped (offsets only) and
    ``ByteLevel(use_regex=True)`` written as the GPT-2 split it does (so ``tokkit count --preset
    gpt2``'s table serves ``tokkit train --preset gpt2``)."""
    out: list[dict] = []
    for s in steps:
        kind, params = s.get("kind"), s.get("params")
        params = dict(params) if isinstance(params, dict) else {"params": params}
        if kind == "byte_level":
            params.pop("trim_offsets", None)
            if params.get("use_regex", True) and not params.get("add_prefix_space", False):
                out.append({"kind": "split", "params": {"regex": spec.GPT2_PATTERN, "behavior": "Isolated",
                                                        "invert": False}})
                params["use_regex"] = False
            params.setdefault("add_prefix_space", False)
            params.setdefault("use_regex", True)
        out.append({"kind": kind, "params": params})
    return out


def describe_pretokenizer(steps: Sequence[dict]) -> str:
    """A short, one-line name for a pretokenizer (known regexes by name)."""
    parts = []
    for s in canonical_pretokenizer(steps):
        p = s["params"]
        if s["kind"] == "split" and isinstance(p.get("regex"), str):
            r = p["regex"]
            parts.append(_KNOWN_REGEXES.get(r) or ("regex " + (repr(r) if len(r) <= 40 else repr(r[:37]) + "...")))
        elif s["kind"] == "digits":
            parts.append("single digits" if p.get("individual_digits") else "digit runs")
        elif s["kind"] == "byte_level":
            parts.append("byte-level")
        else:
            parts.append(str(s["kind"]))
    return " + ".join(parts) or "none"


def _transform_words(plan: CountPlan) -> str:
    bits = [plan.normalization.upper()] if plan.normalization else []
    if plan.lowercase:
        bits.append("lowercase")
    if plan.cut:
        bits.append(f"{len(plan.cut):,} added tokens cut out")
    return ", ".join(bits) or "no transform"


def _difference(have: CountPlan, want: CountPlan) -> str:
    """What differs between the table's plan and the options' (the first thing that does)."""
    if canonical_pretokenizer(have.pretokenizer) != canonical_pretokenizer(want.pretokenizer):
        hint = ""
        if have.stage != want.stage:
            hint = f"; this is a stage-{have.stage} table, and stage {want.stage} is needed here"
        return (f"counted with another pretokenizer (table: {describe_pretokenizer(have.pretokenizer)}; "
                f"these training options: {describe_pretokenizer(want.pretokenizer)}{hint})")
    if (have.normalization, have.lowercase) != (want.normalization, want.lowercase):
        return (f"counted with another text transform (table: {_transform_words(have)}; "
                f"these training options: {_transform_words(want)})")
    if have.cut != want.cut:
        extra, missing = set(have.cut) - set(want.cut), set(want.cut) - set(have.cut)
        shown = sorted(missing or extra)[0]
        return (f"counted with other added tokens cut out ({len(have.cut):,} in the table, {len(want.cut):,} for "
                f"these training options; e.g. {shown!r} is {'missing' if missing else 'extra'})")
    if have.unicode != want.unicode:
        return f"normalized with Unicode {have.unicode}, this Python has {want.unicode}"
    return "counted with another plan"


def check_table(pretokenizer: Sequence[dict], meta: dict, want: CountPlan,
                where: str | os.PathLike | None) -> None:
    """Refuse a table (its pretokenizer and meta) that ``want`` would not have counted: one
    :class:`FormatError` naming ``where`` and what differs. A table without a plan (plain
    ``tokkit count --preset X``) passes when its pretokenizer does the same and the run has no
    transform (no normalization, lowercasing or added tokens)."""
    have = plan_of(meta, where)
    if have is not None:
        if canonical_pretokenizer(have.pretokenizer) != canonical_pretokenizer(pretokenizer):
            raise FormatError(where, "count table metadata: its pretokenizer is not its plan's")
        if have.fingerprint() != want.fingerprint():
            raise FormatError(where, f"{_difference(have, want)}; count it again with the training options "
                                     "(tokkit count --config OPTIONS)")
        return
    plain = CountPlan.for_pretokenizer(list(pretokenizer))
    if canonical_pretokenizer(plain.pretokenizer) != canonical_pretokenizer(want.pretokenizer):
        raise FormatError(where, f"{_difference(dataclasses.replace(plain, stage=want.stage), want)}")
    if want.has_transform:
        raise FormatError(where, f"counted without a training plan, and these training options count after a "
                                 f"transform ({_transform_words(want)}); count it with tokkit count --config "
                                 "OPTIONS (or --algo ...)")
