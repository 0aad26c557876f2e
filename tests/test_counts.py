"""Streaming pretoken counts: exact vs a plain Python count, shards merge, formats, errors."""

import collections
import gzip
import json

import pytest
import zstandard
from click.testing import CliRunner
from tokenizers import Tokenizer

from tokkit import _native, corpora
from tokkit.cli import cli
from tokkit.counts import CountTable, count_files, count_texts, iter_texts, merge
from tokkit.errors import FormatError
from tokkit.vocab import spec
from tokkit.vocab.spec import steps_to_hf

STEPS = spec.byte_level_preset("llama3")


def python_counts(texts, steps):
    """Reference: HF's own pre-tokenizer + collections.Counter."""
    tok = Tokenizer.from_str(json.dumps({"version": "1.0", "model": {"type": "BPE", "vocab": {}, "merges": []},
                                         "pre_tokenizer": steps_to_hf(steps, "pre_tokenizer")}))
    c = collections.Counter()
    for t in texts:
        c.update(_native.bytelevel_decode(p) for p, _ in tok.pre_tokenizer.pre_tokenize_str(t))
    return dict(c)


@pytest.fixture(scope="module")
def legal():
    return list(corpora.open_corpus("legal", split="heldout"))


def test_counts_equal_python_reference(legal):
    table = count_texts(legal, STEPS, batch_bytes=50_000)  # many batches
    assert table.as_dict() == python_counts(legal, STEPS)
    assert table.pieces == sorted(table.pieces)


def test_shards_merge_to_the_whole(legal, tmp_path):
    half = len(legal) // 2
    a, b = count_texts(legal[:half], STEPS), count_texts(legal[half:], STEPS)
    a.save(tmp_path / "a.parquet")
    b.save(tmp_path / "b.parquet")
    merged = merge([CountTable.load(tmp_path / "a.parquet"), CountTable.load(tmp_path / "b.parquet")])
    assert merged.as_dict() == count_texts(legal, STEPS).as_dict()
    with pytest.raises(Exception, match="different pretokenizers"):
        merge([a, count_texts(legal[:3], spec.byte_level_preset("gpt2"))])


def test_file_formats_agree(legal, tmp_path):
    text = "\n".join(legal[:20])
    (tmp_path / "c.txt").write_text(text, encoding="utf-8")
    with gzip.open(tmp_path / "c.txt.gz", "wt", encoding="utf-8") as f:
        f.write(text)
    (tmp_path / "c.txt.zst").write_bytes(zstandard.ZstdCompressor().compress(text.encode()))
    lines = text.split("\n")
    (tmp_path / "c.jsonl").write_text("".join(json.dumps({"body": x + "\n"}) + "\n" for x in lines))
    want = count_files([tmp_path / "c.txt"], STEPS).as_dict()
    for name in ("c.txt.gz", "c.txt.zst"):
        assert count_files([tmp_path / name], STEPS).as_dict() == want
    lines_with_nl = [x + "\n" for x in lines]
    assert list(iter_texts(tmp_path / "c.jsonl", text_field="body"))[:-1] == lines_with_nl[:-1]


def test_invalid_utf8_names_file_and_offset(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_bytes(b"good line\nbad \xff here\n")
    with pytest.raises(FormatError, match=r"bad.txt: invalid UTF-8 at byte 14 \(line 2\)"):
        count_files([p], STEPS)
    table = count_files([p], STEPS, errors="replace")
    assert "\ufffd".encode() in b"".join(table.pieces)


def test_cli_count_and_merge(legal, tmp_path):
    (tmp_path / "a.txt").write_text("\n".join(legal[:10]))
    (tmp_path / "b.txt").write_text("\n".join(legal[10:20]))
    r = CliRunner()
    out = r.invoke(cli, ["count", str(tmp_path / "a.txt"), "--preset", "llama3", "--out", str(tmp_path / "a.parquet")])
    assert out.exit_code == 0, out.output
    r.invoke(cli, ["count", str(tmp_path / "b.txt"), "--preset", "llama3", "--out", str(tmp_path / "b.parquet")])
    out = r.invoke(cli, ["merge-counts", str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet"),
                         "--out", str(tmp_path / "m.parquet")])
    assert out.exit_code == 0 and "from 2 tables" in out.output
    whole = count_files([tmp_path / "a.txt", tmp_path / "b.txt"], STEPS)
    assert CountTable.load(tmp_path / "m.parquet").as_dict() == whole.as_dict()
    out = r.invoke(cli, ["count", str(tmp_path / "a.txt"), "--out", str(tmp_path / "a.txt")])
    assert out.exit_code == 2 and "refusing to write over an input" in out.output
    out = r.invoke(cli, ["merge-counts", str(tmp_path / "a.txt"), "--out", str(tmp_path / "z.parquet")])
    assert out.exit_code == 2 and "not a Parquet count table" in out.output
