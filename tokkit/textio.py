"""The one place that opens user text and corpus files, with bounded reads.

- Only regular files are read: a directory, character device (``/dev/zero``), FIFO or socket
  is refused before anything is read.
- Corpora (plain text, ``.gz``, ``.zst``, JSONL) are read line by line in bounded chunks: a
  line (record) longer than ``max_record_bytes`` (default :data:`MAX_RECORD_BYTES`) is a
  :class:`~tokkit.errors.FormatError` naming the file and byte offset.
- Compressed streams are validated to the end: a gzip stream must pass its CRC and length
  check, a zstd stream must end on a complete frame (``zstandard``'s stream reader stops
  silently at a cut frame, so frames are decoded here with ``decompressobj``, whose ``eof``
  says whether the frame was complete). A truncated or corrupt stream is a FormatError naming
  the file and the offset in its decompressed text.
- A text file taken whole (``encode --file``, ``bytes score FILES``) is limited to
  ``MAX_RECORD_BYTES`` as well.

Nothing here imports torch or transformers.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import re
import stat
import zlib
from collections.abc import Iterator
from pathlib import Path

from .errors import FormatError, TokkitError

#: longest line/record (and whole text file) read by default: ``--max-record-bytes``
MAX_RECORD_BYTES = 64 << 20
#: compressed bytes fed to the zstd decoder at a time; one call yields at most ~32 MiB
ZSTD_INPUT_CHUNK = 1 << 10

_SURROGATE = re.compile("[\ud800-\udfff]")
_KINDS = {".gz": "gzip", ".zst": "zstd"}
_NOT_REGULAR = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))


def regular_file(path: str | os.PathLike) -> Path:
    """``path`` if it is a readable regular file (symlinks followed); else a TokkitError."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise TokkitError(f"{path}: no such file") from None
    except OSError as e:
        raise TokkitError(f"{path}: cannot be read ({e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        raise TokkitError(f"{path}: is a directory, not a file")
    for test, what in _NOT_REGULAR:
        if test(st.st_mode):
            raise TokkitError(f"{path}: is {what}, not a regular file")
    if not stat.S_ISREG(st.st_mode):
        raise TokkitError(f"{path}: not a regular file")
    if not os.access(path, os.R_OK):
        raise TokkitError(f"{path}: cannot be read (permission denied)")
    return path


def check_max_record_bytes(n: int) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise TokkitError(f"max_record_bytes must be a positive integer, not {n!r}")
    return n


class _ZstdReader(io.RawIOBase):
    """The frames of a zstd file decoded in bounded steps. A file that ends inside a frame raises
    EOFError; corrupt data raises OSError (both with the compressed byte offset)."""

    def __init__(self, raw: io.BufferedIOBase):
        import zstandard

        self._zstd = zstandard
        self._dctx = zstandard.ZstdDecompressor()
        self._raw = raw
        self._frame = None  # decompressobj of the frame being decoded
        self._pending = b""  # compressed bytes read but not yet fed (past a frame's end)
        self._fed = 0  # compressed bytes read from the file
        self._out = b""
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while self._pos >= len(self._out):
            if not self._decode_more():
                return 0
        n = min(len(b), len(self._out) - self._pos)
        b[:n] = self._out[self._pos:self._pos + n]
        self._pos += n
        return n

    def _decode_more(self) -> bool:
        """Decode the next input chunk into ``_out``; False at a clean end of the file."""
        if self._pending:
            data, self._pending = self._pending, b""
        else:
            data = self._raw.read(ZSTD_INPUT_CHUNK)
            self._fed += len(data)
        if not data:
            if self._frame is not None and not self._frame.eof:
                raise EOFError(f"the file ends inside a zstd frame, at compressed byte {self._fed}")
            return False
        if self._frame is None or self._frame.eof:
            self._frame = self._dctx.decompressobj()
        try:
            self._out = self._frame.decompress(data)
        except self._zstd.ZstdError as e:
            raise OSError(f"corrupt zstd data near compressed byte {self._fed}: {e}") from None
        self._pos = 0
        if self._frame.eof:
            self._pending = self._frame.unused_data
        return True


def _kind(path: Path) -> str:
    return _KINDS.get(path.suffix, "text")


def _open_regular(path: Path) -> io.BufferedReader:
    """Open ``path`` for reading without blocking on a FIFO, and check what was opened (not just
    what the name pointed to a moment before) is a regular file."""
    path = regular_file(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise TokkitError(f"{path}: cannot be read ({e.strerror or e})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise TokkitError(f"{path}: not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


@contextlib.contextmanager
def open_binary(path: str | os.PathLike) -> Iterator[io.BufferedIOBase]:
    """A regular file opened for reading, decompressed by suffix (``.gz``, ``.zst``)."""
    path = Path(path)
    kind = _kind(path)
    with _open_regular(path) as raw:
        if kind == "gzip":
            with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                yield f  # type: ignore[misc]
        elif kind == "zstd":
            with io.BufferedReader(_ZstdReader(raw), buffer_size=1 << 16) as f:
                yield f
        else:
            yield raw


def _stream_error(path: Path, offset: int, e: Exception) -> TokkitError:
    kind = _kind(path)
    why = str(e) or type(e).__name__
    if kind == "text":
        return TokkitError(f"{path}: read error after byte {offset} ({why})")
    return FormatError(path, f"truncated or corrupt {kind} stream after byte {offset} of its text ({why})")


def iter_lines(path: str | os.PathLike,
               max_record_bytes: int = MAX_RECORD_BYTES) -> Iterator[tuple[int, int, bytes]]:
    """(line number from 1, byte offset in the decompressed text, raw line with its newline) of
    a corpus file, read in bounded chunks and validated to the end of the stream."""
    path = Path(path)
    check_max_record_bytes(max_record_bytes)
    offset = lineno = 0
    with open_binary(path) as f:
        while True:
            try:
                raw = f.readline(max_record_bytes + 1)
            except (OSError, EOFError, zlib.error) as e:
                raise _stream_error(path, offset, e) from None
            if not raw:
                return
            lineno += 1
            if len(raw) > max_record_bytes and not raw.endswith(b"\n"):
                raise FormatError(path, f"line {lineno} (at byte {offset}) is longer than {max_record_bytes:,} "
                                        "bytes (--max-record-bytes)")
            yield lineno, offset, raw
            offset += len(raw)


def read_bytes(path: str | os.PathLike, max_bytes: int = MAX_RECORD_BYTES) -> bytes:
    """The bytes of a regular file taken as one text, at most ``max_bytes`` of them."""
    path = Path(path)
    try:
        with _open_regular(path) as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise TokkitError(f"{path}: cannot be read ({e.strerror or e})") from None
    if len(data) > max_bytes:
        raise FormatError(path, f"larger than {max_bytes:,} bytes, the most read as one text")
    return data


def read_text(path: str | os.PathLike, max_bytes: int = MAX_RECORD_BYTES) -> str:
    """:func:`read_bytes` decoded as UTF-8 (invalid UTF-8 names the byte offset)."""
    data = read_bytes(path, max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FormatError(path, f"not UTF-8 text (invalid byte at offset {e.start})") from None


def text_argument(value: str, name: str = "TEXT") -> str:
    """A text given on the command line; bytes that are not UTF-8 (which Python's argv decoding
    turns into lone surrogates) are refused, naming the argument."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        c = ord(value[e.start])
        what = f"byte 0x{c - 0xDC00:02x}" if 0xDC80 <= c <= 0xDCFF else f"lone surrogate U+{c:04X}"
        raise TokkitError(f"{name} argument: not valid UTF-8 ({what} at character {e.start})") from None
    return value


#: the message's way out of an encoding error, for the commands that have ``--errors``
_REPLACE_HINT = "use --errors replace to substitute U+FFFD"


def is_jsonl(path: str | os.PathLike) -> bool:
    """Whether :func:`iter_texts` reads ``path`` as JSONL (by name: ``.jsonl``, ``.ndjson``,
    also compressed)."""
    name = Path(path).name
    return any(name.endswith(s) for s in (".jsonl", ".jsonl.gz", ".jsonl.zst", ".ndjson", ".ndjson.gz",
                                          ".ndjson.zst"))


def _record(path: Path, lineno: int, line: str) -> dict | None:
    """One JSONL line as an object (None for a blank line)."""
    if not line.strip():
        return None
    try:
        rec = json.loads(line)
    except ValueError as e:  # JSONDecodeError, or an integer too long to convert
        raise FormatError(path, f"line {lineno}: invalid JSON ({getattr(e, 'msg', e)})") from None
    except RecursionError:
        raise FormatError(path, f"line {lineno}: JSON nested too deeply") from None
    if not isinstance(rec, dict):
        raise FormatError(path, f"line {lineno}: a JSON {type(rec).__name__}, not an object")
    return rec


def _field_text(path: Path, lineno: int, rec: dict, text_field: str, errors: str, hint: bool = True) -> str:
    """The ``text_field`` of a record. A lone surrogate escape (``\\ud800``), which is not text,
    is refused (or replaced with U+FFFD)."""
    text = rec.get(text_field)
    if not isinstance(text, str):
        raise FormatError(path, f"line {lineno}: no string field {text_field!r}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        if errors == "strict":
            raise FormatError(path, f"line {lineno}: {text_field!r} has a lone surrogate U+{ord(text[e.start]):04X} "
                                    "(not text)" + (f"; {_REPLACE_HINT}" if hint else "")) from None
        text = _SURROGATE.sub("\ufffd", text)
    return text


def _decoded_lines(path: Path, errors: str, max_record_bytes: int, hint: bool = True) -> Iterator[tuple[int, str]]:
    if errors not in ("strict", "replace"):
        raise TokkitError(f"unknown errors mode {errors!r} (strict or replace)")
    for lineno, offset, raw in iter_lines(path, max_record_bytes):
        try:
            yield lineno, raw.decode("utf-8", errors)
        except UnicodeDecodeError as e:
            raise FormatError(path, f"invalid UTF-8 at byte {offset + e.start} (line {lineno})"
                                    + (f"; {_REPLACE_HINT}" if hint else "")) from None


def iter_records(path: str | os.PathLike, max_record_bytes: int = MAX_RECORD_BYTES) -> Iterator[tuple[int, dict]]:
    """(line number, object) of the non-blank lines of a JSONL file (also ``.gz``/``.zst``);
    a line that is not a JSON object (a cut last line too) is a FormatError naming it."""
    path = Path(path)
    for lineno, line in _decoded_lines(path, "strict", max_record_bytes):
        if (rec := _record(path, lineno, line)) is not None:
            yield lineno, rec


def iter_texts(path: str | os.PathLike, text_field: str = "text", errors: str = "strict",
               max_record_bytes: int = MAX_RECORD_BYTES, hint: bool = True) -> Iterator[str]:
    """Texts of one corpus file: lines of plain text, or the ``text_field`` of JSONL records.

    Only regular files are read, line by line (a line longer than ``max_record_bytes`` is a
    FormatError), and compressed streams are checked to their end. Invalid UTF-8 raises a
    FormatError naming the file and the byte offset (in the decompressed stream) unless
    ``errors="replace"`` (the message names ``--errors replace`` as the fix unless ``hint`` is
    False: for callers without that option). Plain text lines keep their line ending.
    """
    path = Path(path)
    jsonl = is_jsonl(path)
    for lineno, line in _decoded_lines(path, errors, max_record_bytes, hint):
        if not jsonl:
            yield line
        elif (rec := _record(path, lineno, line)) is not None:
            yield _field_text(path, lineno, rec, text_field, errors, hint)
