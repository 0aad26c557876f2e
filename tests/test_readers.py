"""Corpus inputs (tokkit.readers): Parquet, save_to_disk folders, globs and directories of shards
read like JSONL everywhere (count, train, report); bad shards named with the row."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tokkit import corpora, readers
from tokkit.cli import cli
from tokkit.counts import CountTable, count_files
from tokkit.errors import FormatError, TokkitError
from tokkit.vocab import spec

STEPS = spec.byte_level_preset("gpt2")


@pytest.fixture(scope="module")
def docs():
    """Real text: held-out legal documents and German GNOME help (non-ASCII, long records)."""
    texts = list(corpora.open_corpus("legal", split="heldout"))
    try:
        texts += list(corpora.open_corpus("gnome-help", "de", split="heldout"))
    except TokkitError:
        pass
    return [t for t in texts if t]


def _jsonl(path, texts):
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return path


def _parquet(path, texts, row_group_size=16, field="text"):
    pq.write_table(pa.table({field: texts, "n": list(range(len(texts)))}), path, row_group_size=row_group_size)
    return path


def _dataset(path, texts):
    import datasets

    datasets.disable_progress_bars()
    datasets.Dataset.from_dict({"text": texts}).save_to_disk(str(path), max_shard_size="50KB")
    return path


def test_parquet_and_save_to_disk_give_the_jsonl_counts(docs, tmp_path):
    ref = count_files([_jsonl(tmp_path / "d.jsonl", docs)], STEPS)
    pq_table = count_files([_parquet(tmp_path / "d.parquet", docs)], STEPS)
    ds_dir = _dataset(tmp_path / "ds", docs)
    assert len(readers.expand(ds_dir)) > 1  # several Arrow shards
    ds_table = count_files([ds_dir], STEPS)
    for t in (pq_table, ds_table):
        assert t.pieces == ref.pieces and (t.counts == ref.counts).all()
    assert list(readers.iter_texts(ds_dir)) == docs == list(readers.iter_texts(tmp_path / "d.parquet"))
    assert pq_table.meta["sources"][0]["format"] == "parquet"


def test_globs_and_directories_of_shards(docs, tmp_path):
    shards = tmp_path / "shards"
    (shards / "b").mkdir(parents=True)
    third = len(docs) // 3
    _parquet(shards / "a.parquet", docs[:third])
    _jsonl(shards / "b" / "c.jsonl", docs[third:2 * third])
    _parquet(shards / "b" / "d.parquet", docs[2 * third:])
    (shards / "README").write_text("not a shard")  # skipped: no corpus suffix
    (shards / ".hidden.jsonl").write_text("{}")
    by_dir = [s.path.name for s in readers.expand(shards)]
    assert by_dir == ["a.parquet", "c.jsonl", "d.parquet"]
    assert list(readers.iter_texts(shards)) == docs
    by_glob = readers.expand(str(shards / "**" / "*.parquet"))
    assert [s.path.name for s in by_glob] == ["a.parquet", "d.parquet"]
    assert readers.expand_all([shards, shards / "a.parquet"]) == readers.expand(shards)  # read once
    with pytest.raises(TokkitError, match="no files match"):
        readers.expand(str(tmp_path / "*.nothing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(TokkitError, match="no corpus files in this directory"):
        readers.expand(tmp_path / "empty")


def test_text_field_and_bad_columns_name_the_shard_and_row(tmp_path):
    p = _parquet(tmp_path / "body.parquet", ["one", "two"], field="body")
    assert list(readers.iter_texts(p, text_field="body")) == ["one", "two"]
    with pytest.raises(FormatError, match=r"body.parquet: no column 'text' \(columns: body, n"):
        list(readers.iter_texts(p))
    pq.write_table(pa.table({"text": [1, 2]}), tmp_path / "ints.parquet")
    with pytest.raises(FormatError, match="column 'text' has type int64, not string"):
        list(readers.iter_texts(tmp_path / "ints.parquet"))
    pq.write_table(pa.table({"text": ["a"] * 40 + [None]}), tmp_path / "null.parquet", row_group_size=16)
    with pytest.raises(FormatError, match=r"null.parquet: row 40: 'text' is null"):
        list(readers.iter_texts(tmp_path / "null.parquet"))
    bad = pa.array([b"fine", b"caf\xe9"], pa.binary()).cast(pa.string(), safe=False)
    pq.write_table(pa.table({"text": bad}), tmp_path / "latin1.parquet")
    with pytest.raises(FormatError, match=r"latin1.parquet: row 1: 'text' is not UTF-8 \(invalid byte at offset 3\)"):
        list(readers.iter_texts(tmp_path / "latin1.parquet"))
    assert list(readers.iter_texts(tmp_path / "latin1.parquet", errors="replace")) == ["fine", "caf\ufffd"]
    with pytest.raises(FormatError, match=r"row 1: 'text' is longer than 3 bytes"):
        list(readers.iter_texts(_parquet(tmp_path / "long.parquet", ["abc", "abcd"]), max_record_bytes=3))


def test_damaged_files_and_folders(docs, tmp_path):
    whole = _parquet(tmp_path / "whole.parquet", docs).read_bytes()
    (tmp_path / "cut.parquet").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(FormatError, match="cut.parquet: not a readable Parquet file"):
        list(readers.iter_texts(tmp_path / "cut.parquet"))
    (tmp_path / "x.parquet.gz").write_bytes(b"")
    with pytest.raises(TokkitError, match="a compressed parquet file"):
        readers.expand(tmp_path / "x.parquet.gz")
    ds = _dataset(tmp_path / "ds", docs)
    arrow = sorted(ds.glob("*.arrow"))[0]
    arrow.write_bytes(arrow.read_bytes()[:100])
    with pytest.raises(FormatError, match=f"{arrow.name}: "):
        list(readers.iter_texts(ds))
    state = json.loads((ds / "state.json").read_text())
    state["_data_files"][0]["filename"] = "../../etc/passwd"
    (ds / "state.json").write_text(json.dumps(state))
    with pytest.raises(FormatError, match="not a file name inside the folder"):
        readers.expand(ds)


def test_dataset_dict_needs_a_split(docs, tmp_path):
    import datasets

    datasets.disable_progress_bars()
    d = datasets.Dataset.from_dict({"text": docs[:10]})
    datasets.DatasetDict({"train": d, "test": d}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(TokkitError, match="a DatasetDict saved with save_to_disk; give one split's folder"):
        readers.expand(tmp_path / "dd")
    assert list(readers.iter_texts(tmp_path / "dd" / "train")) == docs[:10]


def test_cli_count_train_and_report_read_parquet(docs, tmp_path):
    jl = _jsonl(tmp_path / "d.jsonl", docs)
    pqf = _parquet(tmp_path / "d.parquet", docs)
    r = CliRunner()
    for src, out in ((jl, "a.parquet"), (pqf, "b.parquet"), (tmp_path / "*.parquet", "c.parquet")):
        res = r.invoke(cli, ["count", str(src), "--out", str(tmp_path / "out" / out)])
        assert res.exit_code == 0, res.output
    a, b, c = (CountTable.load(tmp_path / "out" / n) for n in ("a.parquet", "b.parquet", "c.parquet"))
    assert a.as_dict() == b.as_dict() == c.as_dict()
    for src, out in ((jl, "tj"), (pqf, "tp")):
        res = r.invoke(cli, ["train", str(src), "--vocab-size", "400", "--out", str(tmp_path / out)])
        assert res.exit_code == 0, res.output
    assert (tmp_path / "tj" / "tokenizer.json").read_bytes() == (tmp_path / "tp" / "tokenizer.json").read_bytes()
    from tokkit.quality.inputs import Problem, text_sets

    problems: list[Problem] = []
    (s,) = text_sets([f"{pqf}:en"], None, problems)
    assert not problems and s.texts == docs
