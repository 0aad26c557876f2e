"""Corpus inputs -> shards -> texts: the one reader every command uses for corpus text.

A corpus argument is a file, a glob (``data/*.parquet``, ``shards/**/*.jsonl.zst``), a
directory of shards, or a dataset saved with Hugging Face ``datasets`` (``save_to_disk``).
:func:`expand` turns it into :class:`Shard` objects, one per file, in a fixed (sorted) order;
``Shard.texts()`` yields its texts:

- **text** (any other name; ``.gz``/``.zst`` decompressed): one text per line, line ending kept;
- **jsonl** (``.jsonl``/``.ndjson``, also compressed): the ``text_field`` of each record;
- **parquet** (``.parquet``): the ``text_field`` column (string or large string), read one row
  group at a time with pyarrow, never the whole file, and only that column;
- **arrow**: a ``save_to_disk`` folder (``state.json`` lists its Arrow stream files, which are
  memory-mapped and read batch by batch), or a single ``.arrow`` file (IPC stream or file).

Text and JSONL go through :mod:`tokkit.textio` (regular files only, bounded lines, compressed
streams checked to the end). For the columnar formats the same rules hold: a text longer than
``max_record_bytes``, a null, a missing or non-string column, invalid UTF-8 or a damaged file is
a :class:`~tokkit.errors.FormatError` naming the shard and the row (from 0 in that shard).

Directory rule: a folder with ``state.json`` is one saved dataset; a ``DatasetDict`` folder
(``dataset_dict.json``) must be given by split (``DIR/train``); any other folder contributes,
recursively, its files whose names end in a corpus suffix (:data:`SHARD_SUFFIXES`), hidden
files and folders skipped.

Why ``save_to_disk`` folders are read with pyarrow rather than ``datasets.load_from_disk``:
the format is Arrow stream files listed in ``state.json``; pyarrow memory-maps them directly,
while importing ``datasets`` costs seconds per process (every Ray task would pay it) and adds
nothing to reading one column.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import FormatError, TokkitError
from .textio import MAX_RECORD_BYTES, check_max_record_bytes, is_jsonl, iter_texts as _iter_text_file, regular_file

#: names a file in a directory of shards must end with to be read as corpus text
SHARD_SUFFIXES = (".parquet", ".arrow", ".jsonl", ".ndjson", ".txt", ".text", ".md")
_COMPRESSED = (".gz", ".zst")
#: rows handed out at a time from a columnar shard (bounded memory inside a row group)
ROWS_PER_BATCH = 4096
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class Shard:
    """One file of corpus text and how to read it (picklable: Ray tasks receive these)."""

    path: Path
    format: str  # "text" | "jsonl" | "parquet" | "arrow"

    @property
    def size(self) -> int:
        """Bytes on disk (compressed size for .gz/.zst/Parquet)."""
        return self.path.stat().st_size

    def text_bytes_estimate(self, text_field: str = "text") -> int:
        """About how many bytes of text the shard holds (for progress bars): the uncompressed
        size of the text column for Parquet, the file size otherwise."""
        if self.format != "parquet":
            return self.size
        try:
            return _parquet_text_bytes(self.path, text_field)
        except Exception:  # an unreadable footer is reported properly when the texts are read
            return self.size

    def texts(self, text_field: str = "text", errors: str = "strict",
              max_record_bytes: int = MAX_RECORD_BYTES, hint: bool = True) -> Iterator[str]:
        """The shard's texts (see the module docstring for each format)."""
        check_max_record_bytes(max_record_bytes)
        if errors not in ("strict", "replace"):
            raise TokkitError(f"unknown errors mode {errors!r} (strict or replace)")
        if self.format in ("text", "jsonl"):
            return _iter_text_file(self.path, text_field=text_field, errors=errors,
                                   max_record_bytes=max_record_bytes, hint=hint)
        batches = _parquet_batches(self.path, text_field) if self.format == "parquet" else \
            _arrow_batches(self.path, text_field)
        return _column_texts(self.path, batches, text_field, errors, max_record_bytes)

    @property
    def is_record(self) -> bool:
        """Whether each text is a whole record (JSONL, Parquet, Arrow) rather than a line."""
        return self.format != "text"


def file_format(path: Path) -> str:
    name = path.name
    for c in _COMPRESSED:
        name = name.removesuffix(c)
    for suffix, kind in ((".parquet", "parquet"), (".arrow", "arrow")):
        if name.endswith(suffix):
            if name != path.name:
                raise TokkitError(f"{path}: a compressed {kind} file (Parquet and Arrow compress inside; "
                                  "give the file itself)")
            return kind
    return "jsonl" if is_jsonl(path) else "text"


def expand(spec: str | os.PathLike) -> list[Shard]:
    """The shards of one corpus argument (file, glob, directory, ``save_to_disk`` folder)."""
    s = str(spec)
    p = Path(s)
    if not p.exists() and _GLOB_CHARS & set(s):
        matches = sorted(glob.glob(s, recursive=True))
        if not matches:
            raise TokkitError(f"{s}: no files match")
        return [sh for m in matches for sh in expand(m)]
    if p.is_dir():
        return _expand_dir(p)
    p = regular_file(p)
    return [Shard(p, file_format(p))]


def expand_all(specs: Iterable[str | os.PathLike]) -> list[Shard]:
    """The shards of several corpus arguments, in order; a shard named twice is read once."""
    out: list[Shard] = []
    seen: set[Path] = set()
    for spec in specs:
        for sh in expand(spec):
            key = sh.path.resolve()
            if key not in seen:
                seen.add(key)
                out.append(sh)
    return out


def iter_texts(specs: str | os.PathLike | Sequence[str | os.PathLike], text_field: str = "text",
               errors: str = "strict", max_record_bytes: int = MAX_RECORD_BYTES) -> Iterator[str]:
    """Every text of one or several corpus arguments, shard after shard."""
    if isinstance(specs, (str, os.PathLike)):
        specs = [specs]
    for sh in expand_all(specs):
        yield from sh.texts(text_field, errors, max_record_bytes)


def _expand_dir(d: Path) -> list[Shard]:
    if (d / "state.json").is_file():
        return [Shard(f, "arrow") for f in _dataset_files(d)]
    if (d / "dataset_dict.json").is_file():
        splits = _dataset_dict_splits(d)
        raise TokkitError(f"{d}: a DatasetDict saved with save_to_disk; give one split's folder "
                          f"({', '.join(str(d / s) for s in splits) or d / 'train'})")
    found = []
    for root, dirs, files in os.walk(d, followlinks=False):
        dirs[:] = sorted(x for x in dirs if not x.startswith("."))
        for f in sorted(files):
            if f.startswith(".") or not _is_shard_name(f):
                continue
            found.append(Path(root) / f)
    if not found:
        raise TokkitError(f"{d}: no corpus files in this directory (names ending in "
                          f"{', '.join(SHARD_SUFFIXES)}, optionally .gz/.zst)")
    return [Shard(regular_file(f), file_format(f)) for f in found]


def _is_shard_name(name: str) -> bool:
    for c in _COMPRESSED:
        name = name.removesuffix(c)
    return name.endswith(SHARD_SUFFIXES)


def _read_json(path: Path) -> object:
    from .textio import read_text

    try:
        return json.loads(read_text(path, max_bytes=16 << 20))
    except (ValueError, RecursionError):
        raise FormatError(path, "not valid JSON") from None


def _dataset_dict_splits(d: Path) -> list[str]:
    info = _read_json(d / "dataset_dict.json")
    splits = info.get("splits") if isinstance(info, dict) else None
    return [s for s in splits if isinstance(s, str)] if isinstance(splits, list) else []


def _dataset_files(d: Path) -> list[Path]:
    """The Arrow files ``state.json`` lists, each checked to be a regular file inside ``d``."""
    state_path = d / "state.json"
    state = _read_json(state_path)
    files = state.get("_data_files") if isinstance(state, dict) else None
    if not isinstance(files, list) or not files:
        raise FormatError(state_path, "no '_data_files' list (not a datasets save_to_disk folder?)")
    out = []
    for i, f in enumerate(files):
        name = f.get("filename") if isinstance(f, dict) else None
        if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
            raise FormatError(state_path, f"_data_files[{i}]: not a file name inside the folder ({name!r})")
        out.append(regular_file(d / name))
    return out


# --- columnar formats -----------------------------------------------------------------------

def _parquet_file(path: Path):
    import pyarrow.parquet as pq

    regular_file(path)
    try:
        return pq.ParquetFile(path, memory_map=True)
    except Exception as e:  # ArrowInvalid / OSError on a damaged or non-Parquet file
        raise FormatError(path, f"not a readable Parquet file ({_why(e)})") from None


def _parquet_text_bytes(path: Path, text_field: str) -> int:
    md = _parquet_file(path).metadata
    names = [md.schema.column(i).name for i in range(md.num_columns)]
    if text_field not in names:
        return path.stat().st_size
    c = names.index(text_field)
    return sum(md.row_group(g).column(c).total_uncompressed_size for g in range(md.num_row_groups))


def _check_column(path: Path, schema, text_field: str) -> None:
    import pyarrow as pa

    if text_field not in schema.names:
        raise FormatError(path, f"no column {text_field!r} (columns: {', '.join(schema.names) or 'none'}; "
                                "--text-field names the text column)")
    t = schema.field(text_field).type
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        raise FormatError(path, f"column {text_field!r} has type {t}, not string")


def _parquet_batches(path: Path, text_field: str) -> Iterator:
    pf = _parquet_file(path)
    _check_column(path, pf.schema_arrow, text_field)
    for g in range(pf.num_row_groups):
        try:  # one row group, one column: a shard is never read whole
            table = pf.read_row_group(g, columns=[text_field])
        except Exception as e:
            raise FormatError(path, f"row group {g} cannot be read ({_why(e)})") from None
        yield from table.column(text_field).chunks


def _arrow_batches(path: Path, text_field: str) -> Iterator:
    import pyarrow as pa

    regular_file(path)
    try:
        source = pa.memory_map(str(path), "r")
        try:
            reader = pa.ipc.open_stream(source)  # what save_to_disk writes
        except pa.ArrowInvalid:
            source.seek(0)
            reader = pa.ipc.open_file(source)
    except Exception as e:
        raise FormatError(path, f"not a readable Arrow file ({_why(e)})") from None
    _check_column(path, reader.schema, text_field)
    n = reader.num_record_batches if hasattr(reader, "num_record_batches") else None
    i = 0
    while n is None or i < n:
        try:
            batch = reader.get_batch(i) if n is not None else reader.read_next_batch()
        except StopIteration:
            return
        except Exception as e:
            raise FormatError(path, f"record batch {i} cannot be read ({_why(e)})") from None
        i += 1
        yield batch.column(text_field)


def _column_texts(path: Path, arrays: Iterator, text_field: str, errors: str,
                  max_record_bytes: int) -> Iterator[str]:
    """Texts of string arrays, ``ROWS_PER_BATCH`` rows at a time, checked row by row."""
    row = 0
    for arr in arrays:
        for start in range(0, len(arr), ROWS_PER_BATCH):
            part = arr.slice(start, ROWS_PER_BATCH)
            yield from _checked_texts(path, part, row, text_field, errors, max_record_bytes)
            row += len(part)


def _checked_texts(path: Path, arr, row0: int, field: str, errors: str, max_record_bytes: int) -> list[str]:
    import pyarrow as pa
    import pyarrow.compute as pc

    if arr.null_count:
        first = pc.index(pc.is_null(arr), True).as_py()
        raise FormatError(path, f"row {row0 + first}: {field!r} is null")
    lengths = pc.binary_length(arr)
    if len(arr) and pc.max(lengths).as_py() > max_record_bytes:
        first = pc.index(pc.greater(lengths, max_record_bytes), True).as_py()
        raise FormatError(path, f"row {row0 + first}: {field!r} is longer than {max_record_bytes:,} bytes "
                                "(--max-record-bytes)")
    try:
        arr.validate(full=True)  # UTF-8 validity of every value
        return arr.to_pylist()
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return _decode_rows(path, arr.cast(pa.binary()) if not pa.types.is_large_string(arr.type)
                            else arr.cast(pa.large_binary()), row0, field, errors)


def _decode_rows(path: Path, raw, row0: int, field: str, errors: str) -> list[str]:
    out = []
    for i, b in enumerate(raw.to_pylist()):
        try:
            out.append(b.decode("utf-8"))
        except UnicodeDecodeError as e:
            if errors == "strict":
                raise FormatError(path, f"row {row0 + i}: {field!r} is not UTF-8 (invalid byte at offset {e.start}); "
                                        "use --errors replace to substitute U+FFFD") from None
            out.append(b.decode("utf-8", "replace"))
    return out


def _why(e: Exception) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return msg[:200]
