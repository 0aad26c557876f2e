"""Pretoken count tables: the input of BPE training, made shard by shard and merged.

``count_files(paths, pretokenizer)`` streams corpus files (plain text, ``.gz``, ``.zst``, and
JSONL with a text field, also compressed) in bounded batches through the native counter, which
pretokenizes and counts each batch in parallel; the corpus is never held in memory. The result
is a :class:`CountTable` (pretoken bytes -> 64-bit count) saved as Parquet with its pretokenizer
and provenance, so tables made on different machines (a Ray or Spark job, one shard each) merge
with :func:`merge` exactly like a single run. Plain text is counted line by line (as HF's
trainer reads files); JSONL one document per line.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from . import _native
from .errors import FormatError, TokkitError
from .vocab.model import Step

BATCH_BYTES = 8 << 20  # texts handed to the native counter at a time
SCHEMA_VERSION = 1


def _open_binary(path: Path) -> io.BufferedIOBase:
    name = path.name
    if name.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if name.endswith(".zst"):
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(open(path, "rb")))  # type: ignore[arg-type]
    return open(path, "rb")


def _is_jsonl(path: Path) -> bool:
    return any(path.name.endswith(s) for s in (".jsonl", ".jsonl.gz", ".jsonl.zst", ".ndjson"))


def iter_texts(path: str | os.PathLike, text_field: str = "text", errors: str = "strict") -> Iterator[str]:
    """Texts of one corpus file: lines of plain text, or the ``text_field`` of JSONL records.

    Invalid UTF-8 raises a TokkitError naming the file and the byte offset (in the decompressed
    stream) unless ``errors="replace"``.
    """
    path = Path(path)
    if not path.exists():
        raise TokkitError(f"{path}: no such file")
    if errors not in ("strict", "replace"):
        raise TokkitError(f"unknown errors mode {errors!r} (strict or replace)")
    jsonl = _is_jsonl(path)
    offset = 0
    try:
        with _open_binary(path) as f:
            for lineno, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8", errors)
                except UnicodeDecodeError as e:
                    raise FormatError(path, f"invalid UTF-8 at byte {offset + e.start} (line {lineno}); "
                                            "use --errors replace to substitute U+FFFD") from None
                offset += len(raw)
                if jsonl:
                    if not line.strip():
                        continue
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError as e:
                        raise FormatError(path, f"line {lineno}: invalid JSON ({e.msg})") from None
                    text = rec.get(text_field) if isinstance(rec, dict) else None
                    if not isinstance(text, str):
                        raise FormatError(path, f"line {lineno}: no string field {text_field!r}")
                    yield text
                else:
                    yield line
    except (OSError, EOFError) as e:  # truncated gzip/zstd streams
        if isinstance(e, FileNotFoundError):
            raise
        raise FormatError(path, f"cannot read ({e})") from None


@dataclass
class CountTable:
    """Pretoken bytes and their counts, plus how they were made."""

    pieces: list[bytes]
    counts: np.ndarray  # uint64, aligned with pieces, pieces sorted by bytes
    pretokenizer: list[dict]
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.pieces)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def as_dict(self) -> dict[bytes, int]:
        return dict(zip(self.pieces, self.counts.tolist()))

    def save(self, path: str | os.PathLike) -> Path:
        """Write Parquet (columns ``piece`` binary, ``count`` uint64; metadata: pretokenizer, meta)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from .io import atomic_path

        table = pa.table({"piece": pa.array(self.pieces, type=pa.binary()),
                          "count": pa.array(self.counts, type=pa.uint64())})
        md = {b"tokkit.schema": str(SCHEMA_VERSION).encode(),
              b"tokkit.pretokenizer": json.dumps(self.pretokenizer).encode(),
              b"tokkit.meta": json.dumps(self.meta).encode()}
        table = table.replace_schema_metadata(md)
        path = Path(path)
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp, compression="zstd")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "CountTable":
        import pyarrow.parquet as pq

        path = Path(path)
        if not path.exists():
            raise TokkitError(f"{path}: no such file")
        try:
            table = pq.read_table(path)
        except Exception as e:  # pyarrow raises ArrowInvalid and friends on damage
            raise FormatError(path, f"not a Parquet count table ({type(e).__name__})") from None
        md = table.schema.metadata or {}
        if b"tokkit.pretokenizer" not in md or table.column_names != ["piece", "count"]:
            raise FormatError(path, "not a tokkit count table (missing columns or metadata)")
        return cls(pieces=table.column("piece").to_pylist(),
                   counts=np.asarray(table.column("count").to_numpy(), dtype=np.uint64),
                   pretokenizer=json.loads(md[b"tokkit.pretokenizer"]), meta=json.loads(md.get(b"tokkit.meta", b"{}")))


def _steps_json(pretokenizer: Sequence[Step] | Sequence[dict]) -> list[dict]:
    return [s if isinstance(s, dict) else {"kind": s.kind, "params": s.params} for s in pretokenizer]


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


def count_files(paths: Sequence[str | os.PathLike], pretokenizer: Sequence[Step] | Sequence[dict],
                text_field: str = "text", errors: str = "strict", batch_bytes: int = BATCH_BYTES,
                progress: Callable[[int], None] | None = None,
                transform: Callable[[str], Iterable[str]] | None = None) -> CountTable:
    """Count the pretokens of corpus files; ``progress(n_bytes)`` is called after each batch.

    ``transform(text)`` -> texts, when given, runs on each text before pretokenization (a
    trainer's normalizer, cutting added tokens out of the text).
    """
    from . import __version__
    from .io import sha256_file

    pretok = _steps_json(pretokenizer)
    try:
        counter = _native.Counter(json.dumps(pretok))
    except ValueError as e:
        raise TokkitError(f"pretokenizer: {e}") from None
    sources = []
    for p in paths:
        p = Path(p)
        batch, size = [], 0
        for t in iter_texts(p, text_field=text_field, errors=errors):
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
        sources.append({"path": str(p), "bytes": p.stat().st_size, "sha256": sha256_file(p)})
    meta = {"sources": sources, "text_field": text_field, "errors": errors, "tool": f"tokkit {__version__}"}
    return _from_counter(counter, pretok, meta)


def merge(tables: Sequence[CountTable]) -> CountTable:
    """Sum count tables made with the same pretokenizer (shards of one corpus, other machines)."""
    if not tables:
        raise TokkitError("nothing to merge")
    pretok = tables[0].pretokenizer
    for t in tables[1:]:
        if t.pretokenizer != pretok:
            raise TokkitError("count tables made with different pretokenizers cannot be merged")
    counter = _native.Counter(json.dumps(pretok))
    for t in tables:
        counter.add_counts(t.pieces, t.counts.tolist())
    sources = [s for t in tables for s in t.meta.get("sources", [])]
    return _from_counter(counter, pretok, {"sources": sources, "merged_from": len(tables)})
