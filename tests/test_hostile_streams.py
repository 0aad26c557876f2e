"""Hostile corpora and text streams (issue 22): devices and FIFOs, cut or corrupt gzip/zstd
streams, cut JSONL, over-long lines, invalid UTF-8 on the command line, damaged count tables.

Every CLI refusal meets ``hostile.assert_refused`` (exit 2, one ``tokkit: error:`` line naming
the file, no traceback), writes nothing and leaves the inputs unchanged; the device cases also
run under a resident-memory and a time ceiling. The reader cases check the API directly: a
FormatError naming the file and the offset, never a silent prefix of the text.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import struct

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from hostile import assert_refused, run_cli, snapshot
from tokkit.counts import CountTable, merge
from tokkit.errors import FormatError, TokkitError
from tokkit.textio import iter_texts, read_bytes, regular_file, text_argument
from tokkit.vocab import spec, write_vocab
from toyvocab import byte_level_bpe

TEXT = b"".join(b"line %d: the quick brown fox jumps over the lazy dog\n" % i for i in range(20000))
LINES = TEXT.decode().splitlines(keepends=True)
PRETOK = json.dumps([{"kind": s.kind, "params": s.params} for s in spec.byte_level_preset("gpt2")]).encode()


def _zst(data: bytes = TEXT, checksum: bool = True) -> bytes:
    return zstandard.ZstdCompressor(write_checksum=checksum).compress(data)


def _zst_streamed(data: bytes = TEXT) -> bytes:
    """A frame without a content size in its header (as ``zstd`` writes from a pipe)."""
    buf = io.BytesIO()
    with zstandard.ZstdCompressor().stream_writer(buf, closefd=False) as w:
        w.write(data)
    return buf.getvalue()


def _flip(data: bytes, at: float, n: int = 1) -> bytes:
    b = bytearray(data)
    for i in range(int(len(b) * at), int(len(b) * at) + n):
        b[i] ^= 0x5A
    return bytes(b)


def _refused(tmp_path, args, says=None, path=None, **kw):
    before = snapshot(tmp_path)
    r = run_cli(args, cwd=tmp_path, **kw)
    assert_refused(r, says=says, path=path)
    assert snapshot(tmp_path) == before  # nothing written, no input changed
    return r


# -- readers: damaged streams are errors naming file and offset, never a silent prefix --------------
DAMAGED = {
    "zst-cut-half": ("c.txt.zst", lambda: _zst()[: len(_zst()) // 2], "ends inside a zstd frame"),
    "zst-cut-checksum": ("c.txt.zst", lambda: _zst()[:-2], "ends inside a zstd frame"),
    "zst-streamed-cut": ("c.txt.zst", lambda: _zst_streamed()[:-3], "ends inside a zstd frame"),
    "zst-corrupt": ("c.txt.zst", lambda: _flip(_zst(), 0.5), "zstd"),
    "zst-not-zstd": ("c.txt.zst", lambda: b"plain text\n", "Unknown frame descriptor"),
    "zst-trailing-junk": ("c.txt.zst", lambda: _zst() + b"junk", "zstd"),
    "gz-cut-half": ("c.txt.gz", lambda: gzip.compress(TEXT)[:3000], "ended before"),
    "gz-bad-crc": ("c.txt.gz", lambda: _flip(gzip.compress(TEXT), 0.9999), "CRC check failed"),
    "gz-corrupt-deflate": ("c.txt.gz", lambda: _flip(gzip.compress(TEXT), 0.3, 40), "gzip stream"),
    "gz-not-gzip": ("c.txt.gz", lambda: b"plain text\n", "Not a gzipped file"),
    "jsonl-cut-last-line": ("c.jsonl", lambda: b'{"text": "a"}\n{"text": "b"}\n{"text": "c', "line 3: invalid JSON"),
    "jsonl-gz-cut-last-line": ("c.jsonl.gz", lambda: gzip.compress(b'{"text": "a"}\n{"text": "b'), "line 2"),
    "jsonl-deep": ("c.jsonl", lambda: b"[" * 3000 + b"\n", "nested too deeply"),
    "jsonl-not-object": ("c.jsonl", lambda: b"[1, 2]\n", "not an object"),
    "jsonl-huge-int": ("c.jsonl", lambda: b'{"text": 1' + b"1" * 4400 + b"}\n", "line 1: invalid JSON"),
    "jsonl-lone-surrogate": ("c.jsonl", lambda: b'{"text": "a\\ud800b"}\n', "lone surrogate"),
    "line-too-long": ("c.txt", lambda: b"short\n" + b"x" * 9000 + b"\n", "line 2 (at byte 6) is longer"),
}


@pytest.mark.parametrize("name,make,says", DAMAGED.values(), ids=DAMAGED.keys())
def test_damaged_stream_is_a_format_error(tmp_path, name, make, says):
    p = tmp_path / name
    p.write_bytes(make())
    with pytest.raises(FormatError, match=str(p)) as e:
        list(iter_texts(p, max_record_bytes=8192))
    assert says.lower() in str(e.value).lower()
    if name.endswith((".txt.zst", ".txt.gz")):
        assert "after byte" in str(e.value)  # the offset in the decompressed text


VALID = {
    "zst-two-frames": ("c.txt.zst", lambda: _zst(TEXT[:5000]) + _zst(TEXT[5000:])),
    "zst-skippable-frame": ("c.txt.zst", lambda: struct.pack("<II", 0x184D2A50, 4) + b"abcd" + _zst()),
    "zst-no-checksum": ("c.txt.zst", lambda: _zst(checksum=False)),
    "zst-streamed": ("c.txt.zst", _zst_streamed),
    "gz-two-members": ("c.txt.gz", lambda: gzip.compress(TEXT[:5000]) + gzip.compress(TEXT[5000:])),
}


@pytest.mark.parametrize("name,make", VALID.values(), ids=VALID.keys())
def test_valid_streams_read_whole(tmp_path, name, make):
    p = tmp_path / name
    p.write_bytes(make())
    assert list(iter_texts(p)) == LINES


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(min_value=0, max_value=len(_zst()) - 1), kind=st.sampled_from(["zst", "gz"]))
def test_any_cut_of_a_compressed_corpus_is_refused(tmp_path_factory, cut, kind):
    """A stream cut anywhere (one frame, one member) never reads as a shorter corpus."""
    data = _zst() if kind == "zst" else gzip.compress(TEXT)
    p = tmp_path_factory.mktemp("cut") / f"c.txt.{kind}"
    p.write_bytes(data[: min(cut, len(data) - 1)])
    try:
        texts = list(iter_texts(p))
    except FormatError as e:
        assert str(p) in str(e)
    else:
        assert texts == [] and cut == 0  # an empty file is an empty corpus


def test_not_regular_files_are_refused_before_reading(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    for p, says in ((tmp_path / "fifo", "FIFO"), ("/dev/zero", "character device"), (tmp_path, "directory"),
                    (tmp_path / "missing.txt", "no such file")):
        with pytest.raises(TokkitError, match=says):
            regular_file(p)
        with pytest.raises(TokkitError, match=says):
            list(iter_texts(p))
    (tmp_path / "big.txt").write_bytes(b"x" * 2000)
    with pytest.raises(FormatError, match="larger than 1,000 bytes"):
        read_bytes(tmp_path / "big.txt", max_bytes=1000)
    assert read_bytes(tmp_path / "big.txt", max_bytes=2000) == b"x" * 2000


def test_text_argument_with_invalid_utf8():
    assert text_argument("héllo") == "héllo"
    with pytest.raises(TokkitError, match=r"TEXT argument: not valid UTF-8 \(byte 0xff at character 1\)"):
        text_argument(os.fsdecode(b"a\xffb"))


# -- count tables: wrong column types and 64-bit overflow ----------------------------------------
def _table(path, pieces, counts, ptype=pa.binary(), ctype=pa.uint64(), pretok=PRETOK):
    t = pa.table({"piece": pa.array(pieces, type=ptype), "count": pa.array(counts, type=ctype)})
    pq.write_table(t.replace_schema_metadata({b"tokkit.pretokenizer": pretok, b"tokkit.meta": b"{}"}), path)
    return path


TABLES = {
    "count-string": (([b"a"], ["12"]), {"ctype": pa.string()}, "column 'count' has type string"),
    "count-float": (([b"a"], [1.5]), {"ctype": pa.float64()}, "column 'count' has type double"),
    "count-negative": (([b"a"], [-1]), {"ctype": pa.int64()}, "negative count"),
    "count-null": (([b"a"], [None]), {}, "column 'count' has 1 null"),
    "piece-string": ((["a"], [1]), {"ptype": pa.string()}, "column 'piece' has type string"),
    "piece-null": (([None], [1]), {}, "column 'piece' has 1 null"),
    "metadata-not-json": (([b"a"], [1]), {"pretok": b"{not json"}, "not valid JSON"),
    "metadata-not-steps": (([b"a"], [1]), {"pretok": b'{"kind": "split"}'}, "list of steps"),
}


@pytest.mark.parametrize("rows,kw,says", TABLES.values(), ids=TABLES.keys())
def test_count_table_with_wrong_columns_is_a_format_error(tmp_path, rows, kw, says):
    p = _table(tmp_path / "t.parquet", *rows, **kw)
    with pytest.raises(FormatError, match=f"{p}: .*{says}"):
        CountTable.load(p)


def test_merge_refuses_a_64_bit_overflow_and_sums_exactly(tmp_path):
    big = CountTable.load(_table(tmp_path / "a.parquet", [b"a", b"b"], [2**64 - 10, 2**63]))
    assert big.total == 2**64 - 10 + 2**63  # exact, not wrapped
    ok = merge([big, CountTable.load(_table(tmp_path / "b.parquet", [b"a"], [9]))])
    assert ok.as_dict() == {b"a": 2**64 - 1, b"b": 2**63}
    with pytest.raises(FormatError, match=r"c.parquet: the count of pretoken b'a' overflows 64 bits"):
        merge([big, CountTable.load(_table(tmp_path / "c.parquet", [b"a"], [10]))])
    bad = CountTable.load(_table(tmp_path / "d.parquet", [b"a"], [1], pretok=b'[{"kind": "nope"}]'))
    with pytest.raises(FormatError, match="d.parquet: pretokenizer"):
        merge([bad])


# -- the command line --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tok") / "tok"
    write_vocab(byte_level_bpe([(b"t", b"h"), (b"th", b"e")]), d)
    return d


DEVICES = {
    "count": ["count", "/dev/zero", "--out", "o.parquet"],
    "train": ["train", "/dev/zero", "--out", "out", "--vocab-size", "300"],
    "encode-file": ["encode", "TOK", "--file", "/dev/zero"],
    "bytes-score": ["bytes", "score", "TOK", "/dev/zero"],
}


@pytest.mark.parametrize("args", DEVICES.values(), ids=DEVICES.keys())
def test_dev_zero_is_refused_with_bounded_memory(tmp_path, tok_dir, args):
    args = [str(tok_dir) if a == "TOK" else a for a in args]
    r = _refused(tmp_path, args, says="character device", path="/dev/zero", max_rss_mb=1024, timeout=60)
    assert r.seconds < 60


def test_fifo_corpus_is_refused_without_blocking(tmp_path, tmp_path_factory):
    fifo = tmp_path_factory.mktemp("fifo") / "fifo"  # outside tmp_path: snapshot() would open it
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    _refused(tmp_path, ["count", str(fifo), "--out", "o.parquet"], says="FIFO", path=fifo, timeout=60)


def test_zstd_bomb_with_one_endless_line_is_refused_with_bounded_memory(tmp_path):
    """32 KB of zstd that decodes to 1 GiB without a newline: stops at --max-record-bytes (64 MiB)."""
    z = zstandard.ZstdCompressor(level=1).compressobj()
    chunk = b"x" * (16 << 20)
    (tmp_path / "bomb.txt.zst").write_bytes(b"".join([z.compress(chunk) for _ in range(64)] + [z.flush()]))
    _refused(tmp_path, ["count", "bomb.txt.zst", "--out", "o.parquet"], says="longer than 67,108,864 bytes",
             path="bomb.txt.zst", max_rss_mb=1024, timeout=60)


def _corpus(tmp_path, name, data):
    (tmp_path / name).write_bytes(data)
    return name


CLI_STREAMS = {
    "train-zst-cut": ("c.txt.zst", lambda: _zst()[: len(_zst()) // 2], ["train", "--vocab-size", "300"],
                      "ends inside a zstd frame"),
    "count-gz-cut": ("c.txt.gz", lambda: gzip.compress(TEXT)[:3000], ["count"], "truncated or corrupt gzip"),
    "count-gz-bad-crc": ("c.txt.gz", lambda: _flip(gzip.compress(TEXT), 0.9999), ["count"], "CRC check failed"),
    "train-jsonl-cut": ("c.jsonl", lambda: b'{"text": "a b c"}\n{"text": "d e', ["train", "--vocab-size", "300"],
                        "line 2: invalid JSON"),
    "count-line-too-long": ("c.txt", lambda: b"a\n" + b"x" * 5000 + b"\n", ["count", "--max-record-bytes", "4096"],
                            "--max-record-bytes"),
    "train-line-too-long": ("c.txt", lambda: b"a\n" + b"x" * 5000 + b"\n",
                            ["train", "--vocab-size", "300", "--max-record-bytes", "4096"], "--max-record-bytes"),
}


@pytest.mark.parametrize("name,make,cmd,says", CLI_STREAMS.values(), ids=CLI_STREAMS.keys())
def test_cli_refuses_damaged_corpus(tmp_path, name, make, cmd, says):
    _corpus(tmp_path, name, make())
    out = "out" if cmd[0] == "train" else "o.parquet"
    _refused(tmp_path, [*cmd, name, "--out", out], says=says, path=name, timeout=60)


def test_cli_text_argument_with_invalid_utf8(tmp_path, tok_dir):
    _refused(tmp_path, ["encode", str(tok_dir), os.fsdecode(b"a\xffb")], says="TEXT argument: not valid UTF-8")


def test_cli_merge_counts_refuses_wrong_types_and_overflow(tmp_path):
    _table(tmp_path / "s.parquet", [b"a"], ["12"], ctype=pa.string())
    _refused(tmp_path, ["merge-counts", "s.parquet", "--out", "m.parquet"], says="has type string", path="s.parquet")
    _table(tmp_path / "a.parquet", [b"a"], [2**64 - 1])
    _table(tmp_path / "b.parquet", [b"a"], [1])
    _refused(tmp_path, ["merge-counts", "a.parquet", "b.parquet", "--out", "m.parquet"], says="overflows 64 bits",
             path="b.parquet")
