"""``tokkit train`` as a Python function: corpus -> counts -> trainer -> files + manifest.

``train(options, corpora, out)`` reads corpus files (text, .gz, .zst, JSONL) or bundled corpora
(``corpus:NAME[:LANG]``), counts pretokens with the native counter (never holding the corpus),
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

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from .. import _native
from ..counts import BATCH_BYTES, CountTable, _from_counter, _steps_json, iter_texts
from ..errors import TokkitError
from ..textio import MAX_RECORD_BYTES, check_max_record_bytes, regular_file
from ..vocab import Step, Vocabulary, read_vocab, write_vocab
from . import domain
from .bpe import assemble, learn_merges, new_merge_budget, snapshot, train_bpe
from .options import SUPERBPE_STAGE2_PRESETS, TrainOptions, normalizer_steps, pretokenizer_steps
from .superbpe import default_transition, stage2

#: progress(task, done, total): task is "count" (bytes; total known) or "merge" (merges)
ProgressFn = Callable[[str, int, "int | None"], None]


@dataclass
class Source:
    """One corpus input: a file, or a bundled corpus ``corpus:NAME[:LANG]`` (its train split)."""

    spec: str
    path: Path | None = None
    name: str | None = None
    lang: str | None = None
    size: int = 0
    info: dict = field(default_factory=dict)
    max_record_bytes: int = MAX_RECORD_BYTES

    def texts(self, text_field: str, errors: str) -> Iterator[str]:
        if self.path is not None:
            yield from iter_texts(self.path, text_field=text_field, errors=errors,
                                  max_record_bytes=self.max_record_bytes)
        else:
            from ..corpora import open_corpus

            yield from open_corpus(self.name, self.lang, split="train")


def resolve_sources(corpora: Sequence[str], max_record_bytes: int = MAX_RECORD_BYTES) -> list[Source]:
    """Sources for the corpus arguments; each file must be a readable regular file (a device,
    FIFO or directory is refused before anything is read)."""
    check_max_record_bytes(max_record_bytes)
    if not corpora:
        raise TokkitError("no corpus given")
    out = []
    for c in corpora:
        c = str(c)
        if c.startswith("corpus:"):
            from ..corpora import list_corpora

            parts = c.split(":")
            name, lang = parts[1], (parts[2] if len(parts) > 2 else None)
            known = {ci.name for ci in list_corpora()}
            if name not in known:
                raise TokkitError(f"{c}: no corpus named {name!r} (known: {', '.join(sorted(known))})")
            out.append(Source(c, name=name, lang=lang))
            continue
        p = Path(c)
        if p.is_dir():
            raise TokkitError(f"{p}: is a directory (give the corpus files, or corpus:NAME for a bundled corpus)")
        p = regular_file(p)
        out.append(Source(c, path=p, size=p.stat().st_size, max_record_bytes=max_record_bytes))
    return out


def read_texts(corpora: Sequence[str]) -> list[str]:
    """Every text of the corpus arguments (files or ``corpus:NAME[:LANG]``), as training reads
    them: what the hypernetwork, transplant donor and dynamic-vocabulary commands take."""
    return [t for t, _ in _iter_all(resolve_sources(list(corpora)), TrainOptions(), record=False)]


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
            if s.path is not None:
                s.info["file_bytes"] = s.size


def count(sources: list[Source], steps: Sequence[Step], opts: TrainOptions,
          transform: Callable[[str], Iterable[str]] | None = None, progress: ProgressFn | None = None,
          record: bool = True) -> CountTable:
    """Pretoken counts over all sources, in bounded batches (the native counter is parallel)."""
    return count_many(sources, [steps], opts, transform, progress, record)[0]


def count_many(sources: list[Source], steps_list: Sequence[Sequence[Step]], opts: TrainOptions,
               transform: Callable[[str], Iterable[str]] | None = None, progress: ProgressFn | None = None,
               record: bool = True) -> list[CountTable]:
    """One count table per pretokenizer in ``steps_list``, from a single pass over the sources
    (SuperBPE needs two tables of the same text: reading and decoding it once saves a pass)."""
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
                timings: dict | None = None) -> tuple[Vocabulary, dict]:
    """Run the algorithm; returns the vocabulary and a record of the counts."""
    opts.validate()
    timings = {} if timings is None else timings
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
    norm = normalizer_steps(opts)
    if opts.algo == "domain" and opts.normalization is None:
        norm = normalizer_steps(TrainOptions(normalization="nfkc", lowercase=opts.lowercase))
    norm_name = next((s.kind for s in norm if s.kind in ("nfc", "nfkc")), None)
    lower = any(s.kind == "lowercase" for s in norm)
    transform = domain.make_transform(norm_name, lower, added)
    base = read_vocab(opts.extend) if opts.extend else None
    record: dict = {}

    if opts.algo == "unigram":
        from .unigram import train_unigram

        t0 = time.perf_counter()
        texts = (t for t, _ in _iter_all(sources, opts, True))
        v = train_unigram(texts, opts.vocab_size, specials, opts.character_coverage, opts.byte_fallback,
                          opts.max_sentences, normalization=opts.normalization or "nfkc", added_tokens=added,
                          seed=opts.seed, max_token_chars=opts.max_token_chars)
        timings["train_s"] = round(time.perf_counter() - t0, 3)
        record["sources"] = [s.info for s in sources]
        return v, record

    steps = base.pretokenizer if (base is not None and opts.algo != "superbpe") else pretokenizer_steps(opts)
    if base is not None and opts.algo != "superbpe":
        norm = list(base.normalizer)
    max_chars = opts.max_token_chars
    if opts.algo == "char" and max_chars is None:
        max_chars = 3 if opts.vocab_size <= 8192 else 4

    if opts.algo == "superbpe":
        st2 = pretokenizer_steps(opts, regex=SUPERBPE_STAGE2_PRESETS.get(opts.stage2_regex, opts.stage2_regex))
        forbid = [f.encode("utf-8") for f in opts.forbid]
        if base is None:
            t = opts.transition or default_transition(opts.vocab_size)
            t0 = time.perf_counter()
            c1, c2 = count_many(sources, [steps, st2], opts, transform, progress)
            timings["count_s"] = round(time.perf_counter() - t0, 3)
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
            t0 = time.perf_counter()
            c2 = count(sources, st2, opts, transform, progress)
            timings["count_s"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        n2 = opts.vocab_size - (base.size if base is not None else len(specials) + 256) - len(added)
        v = stage2(c2, stage1, opts.vocab_size, specials, added, norm, max_words=opts.max_words, forbid=forbid,
                   min_frequency=opts.min_frequency, max_token_bytes=opts.max_token_bytes,
                   progress=_merge_progress(progress, n2))
        timings["merge_stage2_s"] = round(time.perf_counter() - t0, 3)
        record["stage2"] = {"distinct_pretokens": len(c2), "pretokens": c2.total}
        record["sources"] = [s.info for s in sources]
        return v, record

    t0 = time.perf_counter()
    c = count(sources, steps, opts, transform, progress)
    timings["count_s"] = round(time.perf_counter() - t0, 3)
    record.update({"distinct_pretokens": len(c), "pretokens": c.total, "sources": [s.info for s in sources]})
    t0 = time.perf_counter()
    if base is not None:
        n = new_merge_budget(opts.vocab_size, (), added, base)
        v = train_bpe(c, opts.vocab_size, min_frequency=opts.min_frequency, max_token_bytes=opts.max_token_bytes,
                      max_token_chars=max_chars, added_tokens=added, base=base,
                      progress=_merge_progress(progress, len(base.merges) + n))
    else:
        n = new_merge_budget(opts.vocab_size, specials, added)
        pad = None
        if opts.pad_pow2:
            pad = domain.pow2_at_least(opts.vocab_size)
        learned = learn_merges(c, n, min_frequency=opts.min_frequency, max_token_bytes=opts.max_token_bytes,
                               max_token_chars=max_chars, progress=_merge_progress(progress, n))
        v = assemble(learned, c.pretokenizer, specials, added, norm, pad_to=pad,
                     meta={"trainer": f"tokkit {opts.algo}"})
    timings["merge_s"] = round(time.perf_counter() - t0, 3)
    return v, record


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def train(opts: TrainOptions, corpora: Sequence[str | os.PathLike], out: str | os.PathLike, force: bool = False,
          progress: ProgressFn | None = None, max_record_bytes: int = MAX_RECORD_BYTES) -> TrainResult:
    """Train and write ``out`` (a directory; refused if non-empty unless ``force``). A corpus line
    (JSONL record) longer than ``max_record_bytes`` is an error naming the file and offset."""
    from .. import __version__
    from ..io import atomic_dir, check_output_dir, refuse_overwrite_inputs, write_json_atomic

    opts.validate()
    sources = resolve_sources([str(c) for c in corpora], max_record_bytes)
    out = Path(out)
    inputs = [s.path for s in sources if s.path is not None] + ([opts.extend] if opts.extend else [])
    if opts.terms_file:
        inputs.append(opts.terms_file)
    refuse_overwrite_inputs([out], inputs)
    check_output_dir(out, force)
    timings: dict = {}
    t_all = time.perf_counter()
    v, record = train_vocab(opts, sources, progress, timings)
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
