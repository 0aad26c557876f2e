"""`tokkit train --counts`: training from count tables made by `tokkit count` with the training
options gives byte-identical tokenizer files to training on the corpus (bpe, char, domain,
SuperBPE), on the bundled corpora; tables counted otherwise are refused with one line naming the
table; plans pickle, survive shard merges, and count the same in a worker process."""

import json
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest
from click.testing import CliRunner

from tokkit import corpora
from tokkit.cli import cli
from tokkit.counts import CountTable, merge
from tokkit.errors import FormatError, TokkitError
from tokkit.train import TrainOptions, train
from tokkit.train.plan import CountPlan, check_table
from tokkit.train.run import count_for_training

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")

#: one small run per algorithm, as a TOML options file shared by `tokkit count` and `tokkit train`
CONFIGS = {
    "bpe": 'algo = "bpe"\nvocab_size = 1200\ndigits = "r2l3"\nadded_tokens = ["Licensor"]\n',
    "char": 'algo = "char"\nvocab_size = 900\nmin_frequency = 2\nnormalization = "nfc"\n',
    "domain": 'algo = "domain"\nvocab_size = 2400\nterms = ["indemnification", "notwithstanding"]\nlowercase = true\n',
    "superbpe": 'algo = "superbpe"\nvocab_size = 1400\ntransition = 1000\nstage2_regex = "paper"\n',
}


def run(*args):
    r = CliRunner().invoke(cli, [str(a) for a in args])
    return r.exit_code, r.output


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The bundled legal corpus plus a JSONL file of UDHR articles in a few scripts."""
    d = tmp_path_factory.mktemp("corpus")
    f = d / "udhr.jsonl"
    with open(f, "w", encoding="utf-8") as out:
        for lang in ("eng", "deu", "rus", "ell", "tur"):
            for t in corpora.udhr(lang)[:15]:
                out.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    return ["corpus:legal", str(f)]


def _same_files(a, b):
    for name in TOKENIZER_FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.mark.parametrize("algo", ["bpe", "char", "domain", "superbpe"])
def test_tables_train_the_same_tokenizer(algo, corpus, tmp_path):
    cfg = tmp_path / "train.toml"
    cfg.write_text(CONFIGS[algo])
    assert run("train", *corpus, "--config", cfg, "--out", tmp_path / "direct")[0] == 0
    code, out = run("count", *corpus, "--config", cfg, "--out", tmp_path / "t1.parquet")
    assert code == 0, out
    args = ["--counts", tmp_path / "t1.parquet"]
    if algo == "superbpe":
        code, out = run("count", *corpus, "--config", cfg, "--stage2", "--out", tmp_path / "t2.parquet")
        assert code == 0, out
        args += ["--counts-stage2", tmp_path / "t2.parquet"]
    code, out = run("train", "--config", cfg, *args, "--out", tmp_path / "tables")
    assert code == 0, out
    _same_files(tmp_path / "direct", tmp_path / "tables")
    m = json.loads((tmp_path / "tables" / "manifest.json").read_text())
    assert [c["stage"] for c in m["corpus"]] == ([1, 2] if algo == "superbpe" else [1])
    assert m["corpus"][0]["sources"][0]["input"] == "corpus:legal"


def test_plain_table_serves_bpe_and_char(corpus, tmp_path):
    """`tokkit count --preset X` (no plan) is accepted when the run counts without a transform;
    count's gpt2 preset (ByteLevel with its regex) counts what train's gpt2 split does."""
    f = corpus[1]
    for preset, algo in (("llama3", "bpe"), ("gpt2", "char")):
        table = tmp_path / f"{preset}.parquet"
        assert run("count", f, "--preset", preset, "--out", table)[0] == 0
        assert "count_plan" not in CountTable.load(table).meta
        common = ["--algo", algo, "--preset", preset, "--vocab-size", 700]
        assert run("train", f, *common, "--out", tmp_path / f"{algo}-direct")[0] == 0
        code, out = run("train", "--counts", table, *common, "--out", tmp_path / f"{algo}-table")
        assert code == 0, out
        _same_files(tmp_path / f"{algo}-direct", tmp_path / f"{algo}-table")


def _one_error_line(out, table):
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"tokkit: error: {table}: "), out
    return lines[0]


def test_mismatched_tables_are_refused(corpus, tmp_path):
    f = corpus[1]
    bpe, st2, plain = tmp_path / "bpe.parquet", tmp_path / "st2.parquet", tmp_path / "plain.parquet"
    assert run("count", f, "--algo", "bpe", "--out", bpe)[0] == 0
    assert run("count", f, "--stage2", "--out", st2)[0] == 0
    assert run("count", f, "--preset", "llama3", "--out", plain)[0] == 0
    cases = [
        (["--counts", bpe, "--preset", "o200k"], bpe, "another pretokenizer"),
        (["--counts", bpe, "--digits", "single"], bpe, "another pretokenizer"),
        (["--counts", bpe, "--algo", "domain"], bpe, "another text transform"),
        (["--counts", bpe, "--added-tokens", "Article"], bpe, "other added tokens"),
        (["--counts", plain, "--normalization", "nfkc"], plain, "without a training plan"),
        (["--counts", plain, "--algo", "domain"], plain, "without a training plan"),
        (["--counts", st2, "--counts-stage2", bpe, "--algo", "superbpe"], st2, "stage-2 table"),
        (["--counts", bpe, "--counts-stage2", bpe, "--algo", "superbpe"], bpe, "stage 2 is needed"),
    ]
    for args, table, words in cases:
        code, out = run("train", *args, "--vocab-size", 3000, "--out", tmp_path / "o")
        assert code == 2, (args, out)
        assert words in _one_error_line(out, table), (args, out)
        assert not (tmp_path / "o").exists()


def test_usage_errors(corpus, tmp_path):
    t = tmp_path / "t.parquet"
    assert run("count", corpus[1], "--algo", "bpe", "--out", t)[0] == 0
    for args, words in [([corpus[1], "--counts", t], "not both"),
                        (["--counts", t, "--algo", "unigram"], "unigram"),
                        (["--counts", t, "--algo", "superbpe"], "--counts-stage2"),
                        (["--counts-stage2", t], "SuperBPE's stage-2"),
                        (["--counts", tmp_path / "missing.parquet"], "missing.parquet")]:
        code, out = run("train", *args, "--out", tmp_path / "o")
        assert code == 2 and len(out.strip().splitlines()) == 1 and words in out, (args, out)
    for args, words in [(["--algo", "unigram"], "unigram"), (["--algo", "bpe", "--stage2"], "SuperBPE"),
                        (["--algo", "bpe", "--preset", "qwen35"], "not a training preset"),
                        (["--algo", "bpe", "--like", "gpt2"], "--like")]:
        code, out = run("count", corpus[1], *args, "--out", tmp_path / "x.parquet")
        assert code == 2 and len(out.strip().splitlines()) == 1 and words in out, (args, out)


def test_damaged_plan_is_refused(corpus, tmp_path):
    opts = TrainOptions(algo="domain", vocab_size=2000)
    table = count_for_training(opts, corpus[1:])
    table.meta["count_plan"]["cut"] = table.meta["count_plan"]["cut"][1:]  # fingerprint no longer matches
    table.save(tmp_path / "t.parquet")
    with pytest.raises(FormatError, match="fingerprint does not match"):
        train(opts, None, tmp_path / "o", counts=tmp_path / "t.parquet")


def test_shards_merge_with_their_plan(corpus, tmp_path):
    """Tables counted shard by shard with the plan merge (merge-counts keeps the plan) into the
    table of the whole; tables counted with different plans are not merged."""
    opts = TrainOptions(algo="domain", vocab_size=2000)
    parts = [count_for_training(opts, [c]) for c in corpus]
    for i, p in enumerate(parts):
        p.save(tmp_path / f"p{i}.parquet")
    assert run("merge-counts", tmp_path / "p0.parquet", tmp_path / "p1.parquet", "--out", tmp_path / "m.parquet")[0] == 0
    merged = CountTable.load(tmp_path / "m.parquet")
    whole = count_for_training(opts, corpus)
    assert merged.as_dict() == whole.as_dict()
    assert merged.meta["count_plan"] == whole.meta["count_plan"]
    a = train(opts, None, tmp_path / "a", counts=tmp_path / "m.parquet")
    b = train(opts, corpus, tmp_path / "b")
    _same_files(a.out, b.out)
    other = count_for_training(TrainOptions(algo="domain", vocab_size=2000, lowercase=True), corpus[1:])
    with pytest.raises(TokkitError, match="another plan"):
        merge([parts[0], other])
    plain = CountPlan.for_pretokenizer(parts[0].pretokenizer).count_texts(["x"])
    plain.meta.pop("count_plan")
    with pytest.raises(TokkitError, match="without a plan"):
        merge([parts[0], plain])


def _count_in_worker(plan_bytes, texts):
    plan = pickle.loads(plan_bytes)
    t = plan.count_texts(texts)
    return t.as_dict(), plan.fingerprint()


def test_plan_pickles_and_counts_in_a_worker(corpus):
    """What a cluster task does: unpickle the plan, count a shard with plan.pretokenizer and
    plan.transform() (in a spawned process: another hash seed, nothing inherited)."""
    opts = TrainOptions(algo="domain", vocab_size=2000, terms=["Licensee"])
    plan = CountPlan.from_options(opts)
    assert pickle.loads(pickle.dumps(plan)) == plan
    assert CountPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    texts = list(corpora.open_corpus("legal", split="heldout"))[:60]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as ex:
        counts, fp = ex.submit(_count_in_worker, pickle.dumps(plan), texts).result()
    assert fp == plan.fingerprint()
    here = plan.count_texts(texts)
    assert counts == here.as_dict()
    check_table(here.pretokenizer, here.meta, plan, "here")


def test_fingerprint_covers_what_changes_counts():
    base = CountPlan.from_options(TrainOptions())
    assert CountPlan.from_options(TrainOptions(algo="char")).fingerprint() == base.fingerprint()
    assert CountPlan.from_options(TrainOptions(vocab_size=5000, min_frequency=3)).fingerprint() == base.fingerprint()
    different = [TrainOptions(preset="gpt2"), TrainOptions(digits="single"), TrainOptions(normalization="nfc"),
                 TrainOptions(lowercase=True), TrainOptions(added_tokens=["x"]), TrainOptions(algo="domain")]
    fps = {CountPlan.from_options(o).fingerprint() for o in different}
    assert len(fps) == len(different) and base.fingerprint() not in fps
    s2 = CountPlan.from_options(TrainOptions(algo="superbpe"), stage=2)
    assert s2.fingerprint() != CountPlan.from_options(TrainOptions(algo="superbpe")).fingerprint()


def test_ray_engine_counts_with_the_plan(corpus, tmp_path):
    """`tokkit count --engine ray` with training options ships the plan to its tasks: the same
    table (and stamp) as the local count."""
    pytest.importorskip("ray")
    f = corpus[1]
    common = ["count", f, "--algo", "domain", "--lowercase"]
    assert run(*common, "--out", tmp_path / "local.parquet")[0] == 0
    code, out = run(*common, "--engine", "ray", "--num-cpus", 1, "--out", tmp_path / "ray.parquet")
    assert code == 0, out
    a, b = CountTable.load(tmp_path / "local.parquet"), CountTable.load(tmp_path / "ray.parquet")
    assert a.as_dict() == b.as_dict() and a.meta["count_plan"] == b.meta["count_plan"]
