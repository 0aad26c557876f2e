"""Pretoken count tables: the input of BPE training, made shard by shard and merged.

``count_files(inputs, pretokenizer)`` streams corpus inputs (files, globs, directories of
shards, ``save_to_disk`` folders; plain text, ``.gz``, ``.zst``, JSONL, Parquet, Arrow: see
:mod:`tokkit.readers`) in bounded batches through the native counter, which
pretokenizes and counts each batch in parallel; the corpus is never held in memory. The result
is a :class:`CountTable` (pretoken bytes -> 64-bit count) saved as Parquet with its pretokenizer
and provenance, so tables made on different machines (a Ray or Spark job, one shard each) merge
with :func:`merge` exactly like a single run. Plain text is counted line by line (as HF's
trainer reads files); JSONL one document per line.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from . import _native
from .errors import FormatError, TokkitError
from .readers import Shard, expand_all
from .readers import iter_texts as _iter_texts
from .textio import MAX_RECORD_BYTES, regular_file
from .vocab.model import Step

BATCH_BYTES = 8 << 20  # texts handed to the native counter at a time
SCHEMA_VERSION = 1
#: the corpus reader count_files uses (tokkit.readers.iter_texts), re-exported
iter_texts = _iter_texts
PLAN_KEY = "count_plan"  # meta key of the training plan a table was counted with (tokkit.train.plan)
U64_MAX = (1 << 64) - 1


@dataclass
class CountTable:
    """Pretoken bytes and their counts, plus how they were made."""

    pieces: list[bytes]
    counts: np.ndarray  # uint64, aligned with pieces, pieces sorted by bytes
    pretokenizer: list[dict]
    meta: dict = field(default_factory=dict)
    path: Path | None = None  # the file it was loaded from, for error messages

    def __len__(self) -> int:
        return len(self.pieces)

    @property
    def total(self) -> int:
        """The sum of the counts, exact (a Python int; it may exceed 64 bits)."""
        return _exact_sum(self.counts)

    def as_dict(self) -> dict[bytes, int]:
        return dict(zip(self.pieces, self.counts.tolist()))

    def save(self, path: str | os.PathLike) -> Path:
        """Write Parquet (columns ``piece`` binary, ``count`` uint64; metadata: pretokenizer, meta)."""
        import pyarrow as pa

        table = pa.table({"piece": pa.array(self.pieces, type=pa.binary()),
                          "count": pa.array(self.counts, type=pa.uint64())})
        return write_table(table, self.pretokenizer, self.meta, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "CountTable":
        """Read a table written by :meth:`save`; anything else (wrong column types, nulls,
        negative counts, bad metadata) is a FormatError naming the file."""
        import pyarrow.parquet as pq

        path = regular_file(path)
        try:
            table = pq.read_table(path)
        except Exception as e:  # pyarrow raises ArrowInvalid and friends on damage
            raise FormatError(path, f"not a Parquet count table ({type(e).__name__})") from None
        md = table.schema.metadata or {}
        if b"tokkit.pretokenizer" not in md or table.column_names != ["piece", "count"]:
            raise FormatError(path, "not a tokkit count table (missing columns or metadata)")
        pretok, meta = _table_metadata(path, md)
        return cls(pieces=_piece_column(path, table.column("piece")),
                   counts=_count_column(path, table.column("count")), pretokenizer=pretok, meta=meta, path=path)


def read_header(path: str | os.PathLike) -> tuple[list[dict], dict]:
    """A count table's pretokenizer and meta, read from the Parquet footer without its rows."""
    import pyarrow.parquet as pq

    path = regular_file(path)
    try:
        schema = pq.read_schema(path)
    except Exception as e:  # pyarrow raises ArrowInvalid and friends on damage
        raise FormatError(path, f"not a Parquet count table ({type(e).__name__})") from None
    md = schema.metadata or {}
    if b"tokkit.pretokenizer" not in md or schema.names not in (["piece", "count"], ["piece", "count", "group"]):
        raise FormatError(path, "not a tokkit count table (missing columns or metadata)")
    return _table_metadata(path, md)


def write_table(table, pretokenizer: list[dict], meta: dict, path: str | os.PathLike) -> Path:
    """A count table's Arrow columns written as Parquet with tokkit's metadata (schema version,
    pretokenizer, meta), atomically: shared by plain tables and tables by source."""
    import pyarrow.parquet as pq

    from .io import atomic_path

    table = table.replace_schema_metadata({b"tokkit.schema": str(SCHEMA_VERSION).encode(),
                                           b"tokkit.pretokenizer": json.dumps(pretokenizer).encode(),
                                           b"tokkit.meta": json.dumps(meta).encode()})
    path = Path(path)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return path


def _table_metadata(path: Path, md: dict) -> tuple[list[dict], dict]:
    try:
        pretok = json.loads(md[b"tokkit.pretokenizer"])
        meta = json.loads(md.get(b"tokkit.meta", b"{}"))
    except (ValueError, RecursionError):
        raise FormatError(path, "count table metadata is not valid JSON") from None
    if not (isinstance(pretok, list) and all(isinstance(s, dict) for s in pretok)) or not isinstance(meta, dict):
        raise FormatError(path, "count table metadata: the pretokenizer must be a list of steps, meta an object")
    return pretok, meta


def _piece_column(path: Path, col) -> list[bytes]:
    import pyarrow as pa

    if not (pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type)):
        raise FormatError(path, f"column 'piece' has type {col.type}, not binary")
    if col.null_count:
        raise FormatError(path, f"column 'piece' has {col.null_count} null values")
    return col.to_pylist()


def _count_column(path: Path, col) -> np.ndarray:
    import pyarrow as pa

    if not pa.types.is_integer(col.type):
        raise FormatError(path, f"column 'count' has type {col.type}, not an integer")
    if col.null_count:
        raise FormatError(path, f"column 'count' has {col.null_count} null values")
    counts = col.to_numpy()
    if counts.dtype.kind == "i" and len(counts) and counts.min() < 0:
        raise FormatError(path, f"column 'count' has a negative count ({int(counts.min())})")
    return counts.astype(np.uint64)


def _exact_sum(counts: np.ndarray) -> int:
    """Sum of uint64 counts without wrapping: high and low 32-bit halves summed apart."""
    c = np.asarray(counts, dtype=np.uint64)
    return (int((c >> np.uint64(32)).sum()) << 32) + int((c & np.uint64(0xFFFFFFFF)).sum())


def _steps_json(pretokenizer: Sequence[Step] | Sequence[dict]) -> list[dict]:
    return [s if isinstance(s, dict) else s.to_native() for s in pretokenizer]


def _from_counter(counter, pretok: list[dict], meta: dict) -> CountTable:
    pieces, raw = counter.items()
    return CountTable(pieces=pieces, counts=np.frombuffer(raw, dtype="<u8").astype(np.uint64), pretokenizer=pretok,
                      meta=meta)


def count_texts(texts: Iterable[str], pretokenizer: Sequence[Step] | Sequence[dict],
                batch_bytes: int = BATCH_BYTES) -> CountTable:
    pretok = _steps_json(pretokenizer)
    counter = _native.Counter(json.dumps(pretok))
    batch, size = [], 0
    for t in texts:
        batch.append(t)
        size += len(t)
        if size >= batch_bytes:
            counter.add_texts(batch)
            batch, size = [], 0
    if batch:
        counter.add_texts(batch)
    return _from_counter(counter, pretok, {})


def count_files(paths: Sequence[str | os.PathLike] | Sequence[Shard], pretokenizer: Sequence[Step] | Sequence[dict],
                text_field: str = "text", errors: str = "strict", batch_bytes: int = BATCH_BYTES,
                progress: Callable[[int], None] | None = None,
                transform: Callable[[str], Iterable[str]] | None = None,
                max_record_bytes: int = MAX_RECORD_BYTES) -> CountTable:
    """Count the pretokens of corpus files; ``progress(n_bytes)`` is called after each batch.

    ``transform(text)`` -> texts, when given, runs on each text before pretokenization (a
    trainer's normalizer, cutting added tokens out of the text). ``paths`` are corpus arguments
    (expanded by :func:`tokkit.readers.expand_all`, every shard checked to be a regular file
    before any is read) or shards; a text longer than ``max_record_bytes`` is a FormatError.
    """
    from . import __version__

    shards = [p for p in paths if isinstance(p, Shard)] if paths and isinstance(paths[0], Shard) \
        else expand_all(paths)
    pretok = _steps_json(pretokenizer)
    try:
        counter = _native.Counter(json.dumps(pretok))
    except ValueError as e:
        raise TokkitError(f"pretokenizer: {e}") from None
    sources = []
    for sh in shards:
        texts = sh.texts(text_field=text_field, errors=errors, max_record_bytes=max_record_bytes)
        _count_batches(counter, texts, batch_bytes, progress, transform)
        sources.append(shard_source(sh))
    meta = {"sources": sources, "text_field": text_field, "errors": errors, "tool": f"tokkit {__version__}"}
    return _from_counter(counter, pretok, meta)


def shard_source(shard: Shard) -> dict:
    """The provenance a count table records for one shard: path, format, size, SHA-256."""
    from .io import sha256_file

    return {"path": str(shard.path), "format": shard.format, "bytes": shard.size, "sha256": sha256_file(shard.path)}


def _count_batches(counter, texts: Iterable[str], batch_bytes: int, progress: Callable[[int], None] | None,
                   transform: Callable[[str], Iterable[str]] | None) -> None:
    batch: list[str] = []
    size = 0
    for t in texts:
        size += len(t)
        if transform is None:
            batch.append(t)
        else:
            batch.extend(transform(t))
        if size >= batch_bytes:
            counter.add_texts(batch)
            if progress:
                progress(size)
            batch, size = [], 0
    if batch:
        counter.add_texts(batch)
        if progress:
            progress(size)


def _check_no_overflow(tables: Sequence[CountTable]) -> None:
    """Refuse a merge where a piece's summed count would not fit in 64 bits (the native counter
    would wrap around). Exact Python sums, piece by piece, only when the grand total is that large."""
    if sum(t.total for t in tables) <= U64_MAX:
        return
    sums: dict[bytes, int] = {}
    for t in tables:
        for piece, n in zip(t.pieces, t.counts.tolist()):
            s = sums[piece] = sums.get(piece, 0) + n
            if s > U64_MAX:
                raise FormatError(t.path, f"the count of pretoken {piece!r} overflows 64 bits when merged ({s:,})")


def merge(tables: Sequence[CountTable]) -> CountTable:
    """Sum count tables made with the same pretokenizer (shards of one corpus, other machines)."""
    if not tables:
        raise TokkitError("nothing to merge")
    pretok = tables[0].pretokenizer
    for t in tables[1:]:
        if t.pretokenizer != pretok:
            where = f"{t.path}: " if t.path else ""
            raise TokkitError(f"{where}count tables made with different pretokenizers cannot be merged")
    _check_no_overflow(tables)
    plan = _common_plan(tables)
    try:
        counter = _native.Counter(json.dumps(pretok))
    except ValueError as e:
        raise FormatError(tables[0].path, f"pretokenizer: {e}") from None
    for t in tables:
        counter.add_counts(t.pieces, t.counts.tolist())
    sources = []
    for t in tables:
        s = t.meta.get("sources", [])
        if not isinstance(s, list):
            raise FormatError(t.path, "count table metadata: 'sources' is not a list")
        sources += s
    meta = {"sources": sources, "merged_from": len(tables)}
    if plan is not None:
        meta[PLAN_KEY] = plan
    return _from_counter(counter, pretok, meta)


def _common_plan(tables: Sequence[CountTable]) -> dict | None:
    """The training plan (``tokkit.train.plan``) the tables were counted with, kept by a merge;
    tables counted with different plans (or some with one, some without) are refused."""
    def fingerprint(t: CountTable) -> str | None:
        p = t.meta.get(PLAN_KEY)
        if p is not None and not (isinstance(p, dict) and isinstance(p.get("fingerprint"), str)):
            raise FormatError(t.path, f"count table metadata: {PLAN_KEY!r} is not a count plan")
        return None if p is None else p["fingerprint"]

    first = fingerprint(tables[0])
    for t in tables[1:]:
        fp = fingerprint(t)
        if fp != first:
            what = ("counted for training with another plan" if fp and first
                    else "counted for training (tokkit count --algo/--config)" if fp else "counted without a plan")
            raise FormatError(t.path, f"{what}, unlike the first table: tables counted differently cannot be merged")
    return None if first is None else tables[0].meta[PLAN_KEY]
