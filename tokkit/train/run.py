"""``tokkit train`` as a Python function: corpus -> counts -> trainer -> files + manifest.

``train(options, corpora, out)`` reads corpus inputs (files, globs, directories of shards,
``save_to_disk`` folders; text, .gz, .zst, JSONL, Parquet, Arrow: :mod:`tokkit.readers`) or
bundled corpora (``corpus:NAME[:LANG]``), counts pretokens with the native counter (never holding the corpus),
runs the chosen algorithm and writes, into a temporary directory renamed at the end:

- ``tokenizer.json``, ``tokenizer_config.json``, ``special_tokens_map.json`` (stock
  ``AutoTokenizer.from_pretrained(out)`` loads them);
- ``tokenizer.tiktoken`` + ``tokenizer.tiktoken.json`` with ``tiktoken=True`` (byte-level BPE);
- ``snapshots/<size>/`` for each extra size (exact prefixes of the same merge list);
- ``manifest.json``: options, corpus files with sizes and SHA-256, counts, the output files'
  SHA-256, tool version, and timings. Everything but ``timings`` is a function of the inputs:
  the same inputs give byte-identical tokenizer files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence

from .. import _native
from ..counts import BATCH_BYTES, CountTable, _from_counter, _steps_json, read_header
from ..errors import FormatError, TokkitError
from ..readers import Shard, expand
from ..textio import MAX_RECORD_BYTES, check_max_record_bytes
from ..vocab import Step, Vocabulary, read_vocab, write_vocab
from . import domain
from .bpe import assemble, learn_merges, new_merge_budget, snapshot, train_bpe
from .options import TrainOptions
from .plan import CountPlan, check_table, training_normalizer, training_tokens
from .weights import parse_weighted_spec

if TYPE_CHECKING:
    from .weights import GroupedCounts
from .superbpe import default_transition, stage2

#: progress(task, done, total): task is "count" (bytes; total known) or "merge" (merges)
ProgressFn = Callable[[str, int, "int | None"], None]


@dataclass
class Source:
    """One corpus input: a shard (a file; see :mod:`tokkit.readers`), or a bundled corpus
    ``corpus:NAME[:LANG]`` (its train split)."""

    spec: str
    path: Path | None = None
    name: str | None = None
    lang: str | None = None
    size: int = 0
    info: dict = field(default_factory=dict)
    max_record_bytes: int = MAX_RECORD_BYTES
    shard: Shard | None = None
    arg: str = ""  # the corpus argument this source came from (a glob gives several shards)
    weight: float | None = None  # ``ARG=W`` on the command line

    @property
    def group(self) -> str:
        """The weighting group (tokkit.train.weights): the language (ISO 639-3 where known) when
        the corpus names one, else the corpus argument."""
        if self.lang:
            from ..quality.inputs import iso3_of

            return iso3_of(self.lang) or self.lang
        return self.arg or self.spec

    def texts(self, text_field: str, errors: str) -> Iterator[str]:
        if self.shard is not None:
            yield from self.shard.texts(text_field=text_field, errors=errors, max_record_bytes=self.max_record_bytes)
        else:
            from ..corpora import open_corpus

            yield from open_corpus(self.name, self.lang, split="train")


def resolve_sources(corpora: Sequence[str], max_record_bytes: int = MAX_RECORD_BYTES) -> list[Source]:
    """Sources for the corpus arguments: ``corpus:NAME[:LANG]`` (``corpus:NAME:*``: every
    language of a multilingual corpus, one source each), or files, globs, directories of shards
    and ``save_to_disk`` folders, one source per shard (each a readable regular file: a device,
    FIFO or unknown directory layout is refused before anything is read). ``ARG=W`` gives the
    argument's sources the weight W (tokkit.train.weights)."""
    check_max_record_bytes(max_record_bytes)
    if not corpora:
        raise TokkitError("no corpus given")
    out = []
    for c in corpora:
        c, weight = parse_weighted_spec(str(c))
        if c.startswith("corpus:"):
            out += [dataclasses.replace(s, weight=weight) for s in _bundled_sources(c)]
            continue
        for sh in expand(c):
            out.append(Source(str(sh.path) if sh.path != Path(c) else c, path=sh.path, size=sh.text_bytes_estimate(),
                              max_record_bytes=max_record_bytes, shard=sh, arg=c, weight=weight))
    return out


def _bundled_sources(c: str) -> list[Source]:
    from ..corpora import corpus_languages, list_corpora

    parts = c.split(":")
    name, lang = parts[1], (parts[2] if len(parts) > 2 else None)
    known = {ci.name for ci in list_corpora()}
    if name not in known:
        raise TokkitError(f"{c}: no corpus named {name!r} (known: {', '.join(sorted(known))})")
    if lang != "*":
        return [Source(c, name=name, lang=lang, arg=c)]
    langs = corpus_languages(name)
    if not langs:
        raise TokkitError(f"{c}: corpus {name!r} has no languages to expand '*' into (a single-language corpus, "
                          "or not built yet)")
    return [Source(f"corpus:{name}:{x}", name=name, lang=x, arg=c) for x in langs]


def read_texts(corpora: Sequence[str], text_field: str = "text") -> list[str]:
    """Every text of the corpus arguments (files, shards, or ``corpus:NAME[:LANG]``), as
    training reads them: what the hypernetwork, transplant donor and dynamic-vocabulary
    commands take."""
    return [t for t, _ in _iter_all(resolve_sources(list(corpora)), TrainOptions(text_field=text_field),
                                    record=False)]


def _iter_all(sources: list[Source], opts: TrainOptions, record: bool) -> Iterator[tuple[str, int]]:
    """(text, bytes read) over every source; with ``record`` each source's SHA-256 and size of
    the texts it gave are kept in ``source.info``."""
    for s in sources:
        h = hashlib.sha256()
        n_bytes = n_texts = 0
        for t in s.texts(opts.text_field, opts.errors):
            b = t.encode("utf-8", "surrogatepass")
            if record:
                h.update(b)
                h.update(b"\n")
            n_bytes += len(b)
            n_texts += 1
            yield t, len(b)
        if record:
            s.info = {"input": s.spec, "texts": n_texts, "text_bytes": n_bytes, "text_sha256": h.hexdigest()}
            if s.shard is not None:
                s.info["file_bytes"] = s.shard.size
                if s.shard.format in ("parquet", "arrow"):
                    s.info["format"] = s.shard.format


def count(sources: list[Source], steps: Sequence[Step], opts: TrainOptions,
          transform: Callable[[str], Iterable[str]] | None = None, progress: ProgressFn | None = None,
          record: bool = True) -> CountTable:
    """Pretoken counts over all sources, in bounded batches (the native counter is parallel)."""
    return count_many(sources, [steps], opts, transform, progress, record)[0]


def count_many(sources: list[Source], steps_list: Sequence[Sequence[Step]], opts: TrainOptions,
               transform: Callable[[str], Iterable[str]] | None = None, progress: ProgressFn | None = None,
               record: bool = True) -> list[CountTable]:
    """One count table per pretokenizer in ``steps_list``, from a single pass over the sources
    (SuperBPE needs two tables of the same text: reading and decoding it once saves a pass).
    With weights or a temperature (``opts``) the groups are counted apart and weighted
    (:func:`_count_weighted`)."""
    if opts.temperature is not None or opts.weights or any(s.weight is not None for s in sources):
        return _count_weighted(sources, steps_list, opts, transform, progress, record)
    pretoks = [_steps_json(steps) for steps in steps_list]
    counters = [_native.Counter(json.dumps(p)) for p in pretoks]
    total = sum(s.size for s in sources) or None
    batch: list[str] = []
    size = done = 0
    for t, nb in _iter_all(sources, opts, record):
        size += nb
        if transform is None:
            batch.append(t)
        else:
            batch.extend(transform(t))
        if size >= BATCH_BYTES:
            for counter in counters:
                counter.add_texts(batch)
            done += size
            if progress:
                progress("count", done, total)
            batch, size = [], 0
    if batch:
        for counter in counters:
            counter.add_texts(batch)
    done += size
    if progress:
        progress("count", done, total)
    tables = [_from_counter(c, p, {"sources": [s.info for s in sources]}) for c, p in zip(counters, pretoks)]
    if tables[0].total == 0:
        raise TokkitError(f"the corpus is empty (no text in {', '.join(s.spec for s in sources)})")
    return tables


def _group_sources(sources: list[Source]) -> dict[str, list[Source]]:
    groups: dict[str, list[Source]] = {}
    for s in sources:
        groups.setdefault(s.group, []).append(s)
    return groups


def _source_weights(groups: dict[str, list[Source]], opts: TrainOptions) -> dict[str, float]:
    """s_g of each group: ``ARG=W`` on its arguments, times ``opts.weights`` by group key (a
    language) or by argument."""
    out = {}
    for key, members in groups.items():
        args = {m.arg or m.spec for m in members}
        w = opts.weights.get(key, 1.0)
        for a in args:
            w *= opts.weights.get(a, 1.0) if a != key else 1.0
        given = {m.arg: m.weight for m in members}
        if len(set(given.values())) > 1:  # a group is weighted as a whole: one ARG=W for all of it
            shown = ", ".join(a if x is None else f"{a}={x:g}" for a, x in given.items())
            raise TokkitError(f"{shown}: one language ({key}) with different weights; give the same weight to each, "
                              f"or weight the language with --weights ({key}: W)")
        only = next(iter(given.values()))
        out[key] = w * (only if only is not None else 1.0)
    unknown = set(opts.weights) - set(groups) - {m.arg for ms in groups.values() for m in ms}
    if unknown:
        raise TokkitError(f"weights for {', '.join(sorted(unknown))}: no such source or language in the corpus "
                          f"(groups: {', '.join(list(groups)[:12])}{' ...' if len(groups) > 12 else ''})")
    return out


def _group_bytes(members: list[Source], opts: TrainOptions) -> int:
    return sum(len(t.encode("utf-8", "surrogatepass")) for s in members for t in s.texts(opts.text_field, opts.errors))


def _count_weighted(sources: list[Source], steps_list: Sequence[Sequence[Step]], opts: TrainOptions,
                    transform: Callable[[str], Iterable[str]] | None, progress: ProgressFn | None,
                    record: bool) -> list[CountTable]:
    """Weighted counts (tokkit.train.weights): ``counts`` mode counts each group apart and sums
    round(w_g * count); ``sample`` mode measures the groups first, then counts each document
    floor(w_g) times plus once with probability frac(w_g)."""
    from .weights import Group, describe, group_weights

    groups = _group_sources(sources)
    source_w = _source_weights(groups, opts)
    if opts.weighting == "counts":
        grouped = count_groups(sources, steps_list, opts, transform, progress, record)
        weights = group_weights(grouped[0].groups, source_w, opts.temperature)
        return [g.combine(weights) for g in grouped]
    sizes = [Group(k, ms[0].lang, _group_bytes(ms, opts)) for k, ms in groups.items()]
    weights = group_weights(sizes, source_w, opts.temperature)
    pretoks = [_steps_json(steps) for steps in steps_list]
    counters = [_native.Counter(json.dumps(p)) for p in pretoks]
    done = 0
    for gi, (key, members) in enumerate(groups.items()):
        done += _count_group(members, counters, opts, transform, record, weights[key], [opts.seed, gi])
        if progress:
            progress("count", done, sum(s.size for s in sources) or None)
    meta = {"sources": [s.info for s in sources],
            "weighting": {"mode": "sample", "temperature": opts.temperature, "seed": opts.seed,
                          "groups": describe(sizes, weights)}}
    tables = [_from_counter(c, p, dict(meta)) for c, p in zip(counters, pretoks)]
    if tables[0].total == 0:
        raise TokkitError(f"the corpus is empty (no text in {', '.join(s.spec for s in sources)})")
    return tables


def _count_group(members: list[Source], counters: list, opts: TrainOptions,
                 transform: Callable[[str], Iterable[str]] | None, record: bool, weight: float | None = None,
                 seed: list[int] | None = None) -> int:
    """Count one group's texts into ``counters`` (each document ``repeats`` times when a weight
    is given: upsampling); returns the group's bytes of text."""
    import numpy as np

    from .weights import repeats

    rng = np.random.default_rng(seed) if weight is not None else None
    n_bytes = size = 0
    batch: list[str] = []
    for t, nb in _iter_all(members, opts, record):
        n_bytes += nb
        k = 1 if rng is None else int(repeats(rng, weight, 1)[0])
        pieces = [t] if transform is None else list(transform(t))
        for _ in range(k):
            batch.extend(pieces)
        size += nb * k
        if size >= BATCH_BYTES:
            for c in counters:
                c.add_texts(batch)
            batch, size = [], 0
    if batch:
        for c in counters:
            c.add_texts(batch)
    return n_bytes


def count_groups(sources: list[Source], steps_list: Sequence[Sequence[Step]], opts: TrainOptions,
                 transform: Callable[[str], Iterable[str]] | None = None, progress: ProgressFn | None = None,
                 record: bool = True) -> list["GroupedCounts"]:
    """Per-group count tables (one :class:`~tokkit.train.weights.GroupedCounts` per pretokenizer),
    from one pass: what weights combine, and what ``tokkit count --by-source`` saves so other
    weights train without counting again."""
    from .weights import Group, GroupedCounts

    pretoks = [_steps_json(steps) for steps in steps_list]
    groups = _group_sources(sources)
    per_group: list[dict[str, CountTable]] = [{} for _ in pretoks]
    info, done = [], 0
    for key, members in groups.items():
        counters = [_native.Counter(json.dumps(p)) for p in pretoks]
        n = _count_group(members, counters, opts, transform, record)
        for k, (c, p) in enumerate(zip(counters, pretoks)):
            per_group[k][key] = _from_counter(c, p, {})
        info.append(Group(key, members[0].lang, n))
        done += n
        if progress:
            progress("count", done, sum(s.size for s in sources) or None)
    if not any(g.text_bytes for g in info):
        raise TokkitError(f"the corpus is empty (no text in {', '.join(s.spec for s in sources)})")
    meta = {"sources": [s.info for s in sources]}
    return [GroupedCounts(info, tables, pretok, dict(meta)) for tables, pretok in zip(per_group, pretoks)]


@dataclass
class TrainResult:
    vocab: Vocabulary
    out: Path
    files: list[Path]
    manifest: dict


def _merge_progress(progress: ProgressFn | None, total: int) -> Callable[[int], None] | None:
    if progress is None:
        return None
    return lambda n: progress("merge", n, total)


def train_vocab(opts: TrainOptions, sources: list[Source], progress: ProgressFn | None = None,
                timings: dict | None = None, counts: Sequence[CountTable | str | os.PathLike] | None = None,
                ) -> tuple[Vocabulary, dict]:
    """Run the algorithm; returns the vocabulary and a record of the counts.

    ``counts``: count tables instead of ``sources`` (one per stage: SuperBPE's stage 1 then stage
    2, or stage 2 alone with ``extend``), each checked against what these options would count
    (:func:`tokkit.train.plan.check_table`) before any is loaded."""
    opts.validate()
    timings = {} if timings is None else timings
    specials, added = training_tokens(opts)
    base = read_vocab(opts.extend) if opts.extend else None
    record: dict = {}

    if opts.algo == "unigram":
        if counts is not None:
            raise TokkitError("unigram (sentencepiece) trains on corpus lines, not on count tables")
        from .unigram import train_unigram

        t0 = time.perf_counter()
        texts = (t for t, _ in _iter_all(sources, opts, True))
        v = train_unigram(texts, opts.vocab_size, specials, opts.character_coverage, opts.byte_fallback,
                          opts.max_sentences, normalization=opts.normalization or "nfkc", added_tokens=added,
                          seed=opts.seed, max_token_chars=opts.max_token_chars)
        timings["train_s"] = round(time.perf_counter() - t0, 3)
        record["sources"] = [s.info for s in sources]
        return v, record

    plans = count_plans(opts, base)
    if opts.parity_iterations:
        return _train_parity(opts, sources, counts, plans[0], specials, added, progress, timings, record), record
    if counts is None:
        tables: Sequence[CountTable | _Pending] = _count_sources(sources, plans, opts, progress, timings)
        record["sources"] = [s.info for s in sources]
        if "weighting" in tables[0].meta:
            record["weighting"] = tables[0].meta["weighting"]
    else:
        tables = _checked_tables(counts, plans, opts)
        record["sources"] = [t.record() for t in tables]
    norm = list(base.normalizer) if (base is not None and opts.algo != "superbpe") else training_normalizer(opts)
    if opts.algo == "superbpe":
        v = _train_superbpe(opts, tables, base, specials, added, norm, progress, timings, record)
    else:
        v = _train_bpe(opts, tables[0], base, specials, added, norm, progress, timings, record)
    return v, record


def _train_parity(opts: TrainOptions, sources: list[Source], counts, plan: CountPlan, specials: list[str],
                  added: list[str], progress: ProgressFn | None, timings: dict, record: dict) -> Vocabulary:
    """Parity-aware BPE (tokkit.train.parity): counts kept per group (counted here, or a table
    by source), then rounds of merge loops under moving language weights."""
    from .parity import ParityOptions, parity_search
    from .weights import GroupedCounts, describe, group_weights

    t0 = time.perf_counter()
    if counts is None:
        (grouped,) = count_groups(sources, [plan.pretokenizer], opts, plan.transform(), progress)
        source_w = _source_weights(_group_sources(sources), opts)
        record["sources"] = [s.info for s in sources]
    else:
        pending = _checked_tables(counts, [plan], TrainOptions())  # weights are this function's
        if not pending[0].grouped:
            raise FormatError(pending[0].where, "parity-aware training needs a table counted by source "
                                                "(tokkit count --by-source)")
        grouped = GroupedCounts.load(pending[0].path)
        source_w = dict(opts.weights)
        record["sources"] = [pending[0].record()]
    timings["count_s"] = round(time.perf_counter() - t0, 3)
    norm = training_normalizer(opts)

    def train_once(table: CountTable) -> Vocabulary:
        return _train_bpe(opts, table, None, specials, added, norm, None, {}, {})

    def report(it: int, rec: dict) -> None:
        if progress:
            progress("parity", it + 1, opts.parity_iterations + 1)

    t0 = time.perf_counter()
    start = group_weights(grouped.groups, source_w, opts.temperature)
    weights, v, history = parity_search(grouped, train_once, start,
                                        ParityOptions(opts.parity_iterations, opts.parity_budget), report)
    timings["merge_s"] = round(time.perf_counter() - t0, 3)
    record["weighting"] = {"mode": "counts", "temperature": opts.temperature, "parity": history,
                           "groups": describe(grouped.groups, weights)}
    return v


def count_plans(opts: TrainOptions, base: Vocabulary | None = None) -> list[CountPlan]:
    """The count plans of a run, one per table it counts: stage 1 (and SuperBPE's stage 2), or
    SuperBPE's stage 2 alone when it extends a tokenizer."""
    if opts.algo != "superbpe":
        return [CountPlan.from_options(opts, 1, base)]
    if base is not None:
        return [CountPlan.from_options(opts, 2, base)]
    return [CountPlan.from_options(opts, 1, base), CountPlan.from_options(opts, 2, base)]


def _count_sources(sources: list[Source], plans: list[CountPlan], opts: TrainOptions, progress: ProgressFn | None,
                   timings: dict) -> list[CountTable]:
    """Every table of the run from one pass over the corpus (the stages share the transform)."""
    t0 = time.perf_counter()
    tables = count_many(sources, [p.pretokenizer for p in plans], opts, plans[0].transform(), progress)
    timings["count_s"] = round(time.perf_counter() - t0, 3)
    return tables


class _Pending:
    """A count table given to training: checked against its plan from its metadata alone (a
    Parquet file's footer), loaded only when its stage trains."""

    def __init__(self, table: CountTable | str | os.PathLike, plan: CountPlan, opts: TrainOptions | None = None):
        self.plan, self.opts = plan, opts
        self.table = table if isinstance(table, CountTable) else None
        self.path = table.path if isinstance(table, CountTable) else Path(table)
        if self.table is not None:
            pretok, meta = self.table.pretokenizer, self.table.meta
        else:
            pretok, meta = read_header(self.path)
        where = self.path if self.path is not None else f"count table (stage {plan.stage})"
        check_table(pretok, meta, plan, where)
        self.where, self.meta = where, meta
        self.grouped = "groups" in meta and self.table is None
        weighted = opts is not None and (opts.weights or opts.temperature is not None)
        if weighted and not self.grouped:
            raise FormatError(where, "weights and --temperature need a table counted by source "
                                     "(tokkit count --by-source), to weight its groups")
        if weighted and opts.weighting == "sample":
            raise FormatError(where, "upsampling (--weighting sample) reads documents; from count tables weights "
                                     "apply to counts (--weighting counts)")

    def load(self) -> CountTable:
        t = self.table if self.table is not None else self._load_file()
        if t.total == 0:
            raise FormatError(self.where, "the count table is empty")
        # the run's own pretokenizer (a plain table's may be written another way that counts the same)
        return dataclasses.replace(t, pretokenizer=list(self.plan.pretokenizer))

    def _load_file(self) -> CountTable:
        if not self.grouped:
            return CountTable.load(self.path)
        from .weights import GroupedCounts, group_weights

        grouped = GroupedCounts.load(self.path)
        opts = self.opts or TrainOptions()
        unknown = set(opts.weights) - {g.key for g in grouped.groups}
        if unknown:
            raise FormatError(self.where, f"weights for {', '.join(sorted(unknown))}: no such group in the table "
                                          f"(groups: {', '.join(g.key for g in grouped.groups[:12])})")
        weights = group_weights(grouped.groups, opts.weights, opts.temperature)
        return grouped.combine(weights, temperature=opts.temperature)

    def record(self) -> dict:
        out: dict = {"count_table": str(self.path) if self.path is not None else None, "stage": self.plan.stage,
                     "fingerprint": self.plan.fingerprint()}
        if self.path is not None:
            from ..io import sha256_file

            out["sha256"] = sha256_file(self.path)
        out["sources"] = self.meta.get("sources", [])
        if self.grouped:
            from .weights import _groups_of, describe, group_weights

            opts = self.opts or TrainOptions()
            groups = _groups_of(self.where, self.meta)
            out["weighting"] = {"mode": "counts", "temperature": opts.temperature,
                                "groups": describe(groups, group_weights(groups, opts.weights, opts.temperature))}
        return out


def _checked_tables(counts: Sequence[CountTable | str | os.PathLike], plans: list[CountPlan],
                    opts: TrainOptions | None = None) -> list[_Pending]:
    if isinstance(counts, (str, os.PathLike, CountTable)):
        counts = [counts]
    if len(counts) != len(plans):
        need = ("the stage-1 and the stage-2 table" if len(plans) == 2
                else "the stage-2 table" if plans[0].stage == 2 else "one count table")
        raise TokkitError(f"{plans[0].algo} from count tables needs {need}, {len(counts)} given")
    return [_Pending(t, p, opts) for t, p in zip(counts, plans)]


def _table(t: CountTable | _Pending) -> CountTable:
    return t.load() if isinstance(t, _Pending) else t


def _train_superbpe(opts: TrainOptions, tables: Sequence[CountTable | _Pending], base: Vocabulary | None,
                    specials: list[str], added: list[str], norm: list[Step], progress: ProgressFn | None,
                    timings: dict, record: dict) -> Vocabulary:
    """Stage 1 (BPE to the transition size; or the extended tokenizer), then stage 2."""
    forbid = [f.encode("utf-8") for f in opts.forbid]
    if base is None:
        t = opts.transition or default_transition(opts.vocab_size)
        c1 = _table(tables[0])
        n1 = new_merge_budget(t, specials, added)
        t0 = time.perf_counter()
        learned1 = learn_merges(c1, n1, min_frequency=opts.min_frequency, max_token_bytes=opts.max_token_bytes,
                                progress=_merge_progress(progress, n1))
        timings["merge_stage1_s"] = round(time.perf_counter() - t0, 3)
        record["stage1"] = {"distinct_pretokens": len(c1), "pretokens": c1.total, "merges": len(learned1),
                            "transition_vocab_size": t}
        del c1
        stage1: object = learned1
    else:
        stage1 = base
        record["stage1"] = {"extends": opts.extend, "merges": len(base.merges)}
    c2 = _table(tables[-1])
    t0 = time.perf_counter()
    n2 = opts.vocab_size - (base.size if base is not None else len(specials) + 256) - len(added)
    v = stage2(c2, stage1, opts.vocab_size, specials, added, norm, max_words=opts.max_words, forbid=forbid,
               min_frequency=opts.min_frequency, max_token_bytes=opts.max_token_bytes,
               progress=_merge_progress(progress, n2))
    timings["merge_stage2_s"] = round(time.perf_counter() - t0, 3)
    record["stage2"] = {"distinct_pretokens": len(c2), "pretokens": c2.total}
    return v


def _train_bpe(opts: TrainOptions, table: CountTable | _Pending, base: Vocabulary | None, specials: list[str],
               added: list[str], norm: list[Step], progress: ProgressFn | None, timings: dict,
               record: dict) -> Vocabulary:
    """bpe, domain and char: one table, one merge list (after the base's, when extending)."""
    c = _table(table)
    record.update({"distinct_pretokens": len(c), "pretokens": c.total})
    max_chars = opts.max_token_chars
    if opts.algo == "char" and max_chars is None:
        max_chars = 3 if opts.vocab_size <= 8192 else 4
    t0 = time.perf_counter()
    if base is not None:
        n = new_merge_budget(opts.vocab_size, (), added, base)
        v = train_bpe(c, opts.vocab_size, min_frequency=opts.min_frequency, max_token_bytes=opts.max_token_bytes,
                      max_token_chars=max_chars, added_tokens=added, base=base,
                      progress=_merge_progress(progress, len(base.merges) + n))
    else:
        n = new_merge_budget(opts.vocab_size, specials, added)
        pad = domain.pow2_at_least(opts.vocab_size) if opts.pad_pow2 else None
        learned = learn_merges(c, n, min_frequency=opts.min_frequency, max_token_bytes=opts.max_token_bytes,
                               max_token_chars=max_chars, progress=_merge_progress(progress, n),
                               accept=_not_reserved(specials, added))
        v = assemble(learned, c.pretokenizer, specials, added, norm, pad_to=pad,
                     meta={"trainer": f"tokkit {opts.algo}"})
    timings["merge_s"] = round(time.perf_counter() - t0, 3)
    return v


def _not_reserved(specials: list[str], added: list[str]) -> Callable[[bytes], bool] | None:
    """A merge may not make a token that is already an added or special token: text normalized
    after added tokens are cut (NFKC turns a no-break space + space into two spaces) can still
    hold an added token's text, and the duplicate would cost a vocabulary slot (the vocabulary
    came out one short). None without added tokens (plain BPE stays HF's trainer's merges)."""
    if not added:
        return None
    reserved = frozenset(t.encode("utf-8") for t in (*specials, *added))
    return lambda token: token not in reserved


def count_for_training(opts: TrainOptions, corpora: Sequence[str | os.PathLike], stage: int = 1,
                       progress: ProgressFn | None = None,
                       max_record_bytes: int = MAX_RECORD_BYTES) -> CountTable:
    """The count table ``train(opts, corpora, ...)`` would count for ``stage`` (1, or SuperBPE's
    2), read the way training reads (files or ``corpus:NAME[:LANG]``), stamped with its plan:
    ``train(opts, None, out, counts=...)`` accepts it."""
    from .. import __version__

    plan = CountPlan.from_options(opts, stage)
    sources = resolve_sources([str(c) for c in corpora], max_record_bytes)
    table = count_many(sources, [plan.pretokenizer], opts, plan.transform(), progress)[0]
    table.meta.update({"text_field": opts.text_field, "errors": opts.errors, "tool": f"tokkit {__version__}"})
    return plan.stamp(table)


def _table_args(opts: TrainOptions, corpora: Sequence[str | os.PathLike] | None,
                counts: CountTable | str | os.PathLike | None,
                counts_stage2: CountTable | str | os.PathLike | None) -> list | None:
    """The count tables of a run in stage order (None: count the corpus)."""
    if counts is None and counts_stage2 is None:
        return None
    if corpora:
        raise TokkitError("give corpus files or count tables (--counts), not both")
    if opts.algo == "unigram":
        raise TokkitError("unigram (sentencepiece) trains on corpus lines, not on count tables")
    if opts.algo != "superbpe":
        if counts_stage2 is not None:
            raise TokkitError(f"--counts-stage2 is SuperBPE's stage-2 table (the algorithm is {opts.algo})")
        return [counts]
    if counts_stage2 is None:
        raise TokkitError("superbpe from count tables needs the stage-2 table too (--counts-stage2; "
                          "tokkit count --algo superbpe --stage2 makes it)")
    if opts.extend:
        if counts is not None:
            raise TokkitError("superbpe --extend replays the extended tokenizer as stage 1: give only --counts-stage2")
        return [counts_stage2]
    if counts is None:
        raise TokkitError("superbpe from count tables needs the stage-1 table too (--counts)")
    return [counts, counts_stage2]


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def train(opts: TrainOptions, corpora: Sequence[str | os.PathLike] | None, out: str | os.PathLike,
          force: bool = False, progress: ProgressFn | None = None, max_record_bytes: int = MAX_RECORD_BYTES,
          counts: CountTable | str | os.PathLike | None = None,
          counts_stage2: CountTable | str | os.PathLike | None = None) -> TrainResult:
    """Train and write ``out`` (a directory; refused if non-empty unless ``force``). A corpus line
    (JSONL record) longer than ``max_record_bytes`` is an error naming the file and offset.

    From count tables instead of a corpus (``corpora`` None or empty): ``counts`` (made by
    ``tokkit count`` with these options, :func:`count_for_training`, or a plain ``tokkit count
    --preset`` when the run has no transform) and, for SuperBPE, ``counts_stage2``; each is checked
    against the options first and refused with its name if it was counted otherwise."""
    from .. import __version__
    from ..io import atomic_dir, check_output_dir, refuse_overwrite_inputs, write_json_atomic

    opts.validate()
    tables = _table_args(opts, corpora, counts, counts_stage2)
    sources = [] if tables is not None else resolve_sources([str(c) for c in corpora or []], max_record_bytes)
    out = Path(out)
    inputs = [s.path for s in sources if s.path is not None] + ([opts.extend] if opts.extend else [])
    inputs += [t for t in tables or [] if not isinstance(t, CountTable)]
    if opts.terms_file:
        inputs.append(opts.terms_file)
    refuse_overwrite_inputs([out], inputs)
    check_output_dir(out, force)
    timings: dict = {}
    t_all = time.perf_counter()
    v, record = train_vocab(opts, sources, progress, timings, counts=tables)
    warnings = []
    if v.size < opts.vocab_size:
        warnings.append(f"the corpus ran out of pairs to merge: the vocabulary has {v.size:,} tokens, "
                        f"not the {opts.vocab_size:,} asked for (more text, or a smaller --vocab-size)")
    with atomic_dir(out, force=force) as tmp:
        files = write_vocab(v, tmp)
        if opts.tiktoken:
            files += write_vocab(v, tmp / "tokenizer.tiktoken", format="tiktoken")
        snaps = []
        for size in sorted(set(opts.snapshots)):
            sv = snapshot(v, size)
            files += write_vocab(sv, tmp / "snapshots" / str(size))
            snaps.append(size)
        timings["total_s"] = round(time.perf_counter() - t_all, 3)
        manifest = {
            "schema": 1,
            "tool": f"tokkit {__version__}",
            "algo": opts.algo,
            "options": opts.as_dict(),
            "corpus": record.pop("sources", []),
            "counts": record,
            "vocab": {"size": v.size, "merges": len(v.merges), "added_tokens": len(v.added),
                      "max_token_bytes": max((len(t) for t in v.tokens), default=0)},
            "snapshots": snaps,
            "warnings": warnings,
            "files": {str(p.relative_to(tmp)): _sha(p) for p in sorted(files)},
            "timings": timings,
        }
        write_json_atomic(tmp / "manifest.json", manifest)
    final = [out / p.relative_to(tmp) for p in files] + [out / "manifest.json"]
    return TrainResult(vocab=v, out=out, files=final, manifest=manifest)
