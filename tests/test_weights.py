"""Source and language weights (tokkit.train.weights): the temperature formula, upweighting
counts, upsampling documents, count tables by source, the trainer-report loop."""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from tokkit.cli import cli
from tokkit.counts import count_texts
from tokkit.errors import TokkitError
from tokkit.train import TrainOptions
from tokkit.train.options import pretokenizer_steps
from tokkit.train.run import count_many, resolve_sources
from tokkit.train.weights import Group, GroupedCounts, group_weights, parse_weighted_spec, weighted_counts

LANGS = ["corpus:udhr:eng", "corpus:udhr:deu_1996", "corpus:udhr:hin", "corpus:udhr:cmn_hans", "corpus:udhr:tur"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(10**4, 10**8), min_size=1, max_size=12), st.floats(0.5, 20))
def test_temperature_shares_follow_n_to_the_one_over_t(sizes, t):
    groups = [Group(f"g{i}", None, n) for i, n in enumerate(sizes)]
    w = group_weights(groups, None, t)
    assert min(w.values()) == pytest.approx(1.0)
    weighted = np.array([n * w[g.key] for g, n in zip(groups, sizes)])
    target = np.array(sizes, dtype=float) ** (1 / t)
    np.testing.assert_allclose(weighted / weighted.sum(), target / target.sum(), rtol=1e-9)


def test_proportional_source_weights_and_refusals():
    groups = [Group("a", None, 100), Group("b", None, 300)]
    assert group_weights(groups) == {"a": 1.0, "b": 1.0}
    assert group_weights(groups, temperature=1.0) == {"a": 1.0, "b": 1.0}
    assert group_weights(groups, {"b": 0.5}) == {"a": 2.0, "b": 1.0}  # normalised: the smallest is 1
    assert parse_weighted_spec("corpus:udhr=0.5") == ("corpus:udhr", 0.5)
    assert parse_weighted_spec("data/a=b.txt") == ("data/a=b.txt", None)
    with pytest.raises(TokkitError, match="positive finite number"):
        parse_weighted_spec("corpus:udhr=-1")
    with pytest.raises(TokkitError, match="the weights span more than"):
        group_weights([Group("a", None, 1), Group("b", None, 10**12)], temperature=100)
    with pytest.raises(TokkitError, match="no text in a"):
        group_weights([Group("a", None, 0)])
    assert weighted_counts(np.array([1, 2, 3], dtype=np.uint64), 1.5).tolist() == [2, 3, 4]  # round half to even


def _per_language(langs, steps):
    out = {}
    for spec in langs:
        (s,) = resolve_sources([spec])
        out[s.group] = (count_texts(list(s.texts("text", "strict")), steps),
                        sum(len(t.encode()) for t in s.texts("text", "strict")))
    return out


def test_upweighting_is_the_weighted_sum_of_each_language_counted_apart():
    opts = TrainOptions(temperature=5.0)
    steps = pretokenizer_steps(opts)
    (table,) = count_many(resolve_sources(LANGS), [steps], opts)
    ref = _per_language(LANGS, steps)
    w = group_weights([Group(k, None, n) for k, (_, n) in ref.items()], None, 5.0)
    expect: dict[bytes, int] = {}
    for k, (t, _) in ref.items():
        for piece, c in zip(t.pieces, t.counts.tolist()):
            expect[piece] = expect.get(piece, 0) + int(np.rint(c * w[k]))
    assert table.as_dict() == expect
    rec = {g["group"]: g for g in table.meta["weighting"]["groups"]}
    assert set(rec) == {"eng", "deu", "hin", "cmn", "tur"}
    assert math.isclose(sum(g["weighted_share"] for g in rec.values()), 1.0, rel_tol=1e-5)


def test_upsampling_integer_weights_equal_upweighting_and_is_seeded():
    specs = ["corpus:udhr:eng=3", "corpus:udhr:tur"]
    steps = pretokenizer_steps(TrainOptions())
    up = count_many(resolve_sources(specs), [steps], TrainOptions(weighting="counts"))[0]
    sample = count_many(resolve_sources(specs), [steps], TrainOptions(weighting="sample"))[0]
    assert up.as_dict() == sample.as_dict()  # w = 3 exactly: every English document three times
    frac = ["corpus:udhr:eng=2.5", "corpus:udhr:tur"]
    a, b, c = (count_many(resolve_sources(frac), [steps], TrainOptions(weighting="sample", seed=s))[0]
               for s in (1, 1, 2))
    assert a.as_dict() == b.as_dict() != c.as_dict()


def test_weights_for_unknown_groups_are_refused():
    opts = TrainOptions(weights={"fra": 2.0})
    with pytest.raises(TokkitError, match="weights for fra: no such source or language"):
        count_many(resolve_sources(LANGS[:2]), [pretokenizer_steps(opts)], opts)


def test_by_source_table_trains_with_other_weights_without_recounting(tmp_path):
    r = CliRunner()
    res = r.invoke(cli, ["count", *LANGS, "--by-source", "--out", str(tmp_path / "g.parquet")])
    assert res.exit_code == 0, res.output
    grouped = GroupedCounts.load(tmp_path / "g.parquet")
    assert [g.key for g in grouped.groups] == ["eng", "deu", "hin", "cmn", "tur"]
    for t in ("2", "5"):
        args = ["train", "--vocab-size", "600", "--temperature", t]
        a = r.invoke(cli, [*args, *LANGS, "--out", str(tmp_path / f"corpus{t}")])
        b = r.invoke(cli, [*args, "--counts", str(tmp_path / "g.parquet"), "--out", str(tmp_path / f"table{t}")])
        assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
        assert (tmp_path / f"corpus{t}" / "tokenizer.json").read_bytes() == \
            (tmp_path / f"table{t}" / "tokenizer.json").read_bytes()
    assert (tmp_path / "corpus2" / "tokenizer.json").read_bytes() != (tmp_path / "corpus5" / "tokenizer.json").read_bytes()
    m = json.loads((tmp_path / "table5" / "manifest.json").read_text())
    assert m["corpus"][0]["weighting"]["temperature"] == 5.0
    plain = r.invoke(cli, ["count", *LANGS, "--algo", "bpe", "--out", str(tmp_path / "p.parquet")])
    assert plain.exit_code == 0
    bad = r.invoke(cli, ["train", "--temperature", "3", "--counts", str(tmp_path / "p.parquet"),
                         "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "need a table counted by source" in bad.output


def test_temperature_lowers_the_premium_of_a_small_language(tmp_path):
    """Hindi has less text than English here; flattening the language distribution gives it
    more merges and shorter held-out articles (the effect weights exist for)."""
    from tokkit import corpora, load

    r = CliRunner()
    specs = ["corpus:udhr:eng", "corpus:legal", "corpus:udhr:hin"]
    lens = {}
    for t in ("1", "10"):
        res = r.invoke(cli, ["train", *specs, "--vocab-size", "1500", "--temperature", t, "--out", str(tmp_path / t)])
        assert res.exit_code == 0, res.output
        tok = load(str(tmp_path / t))
        held = {lang: list(corpora.open_corpus("udhr", lang, split="heldout")) for lang in ("eng", "hin")}
        lens[t] = {lang: sum(len(tok.encode(x)) for x in texts) for lang, texts in held.items()}
    premium = {t: lens[t]["hin"] / lens[t]["eng"] for t in lens}
    assert premium["10"] < premium["1"]


def test_report_loop_writes_the_report_next_to_the_tokenizer(tmp_path):
    res = CliRunner().invoke(cli, ["train", "corpus:legal", "--vocab-size", "400", "--out", str(tmp_path / "t"),
                                   "--report", str(_eval_file(tmp_path)) + ":en", "--report-baseline", "gpt2"])
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "t" / "report" / "report.json").read_text())
    assert [t["name"] for t in rep["tokenizers"]] == ["t", "gpt2"]


def _eval_file(tmp_path):
    from tokkit import corpora

    p = tmp_path / "heldout.txt"
    p.write_text("\n".join(list(corpora.open_corpus("legal", split="heldout"))[:20]), encoding="utf-8")
    return p


def test_one_language_with_two_weights_is_refused():
    """gnome-help:de and udhr:deu_1996 are one group (deu): weights that disagree are refused,
    not silently dropped."""
    opts = TrainOptions()
    specs = ["corpus:udhr:deu_1996=2", "corpus:udhr:deu_1901"]
    with pytest.raises(TokkitError, match=r"one language \(deu\) with different weights"):
        count_many(resolve_sources(specs), [pretokenizer_steps(opts)], opts)
    same = ["corpus:udhr:deu_1996=2", "corpus:udhr:deu_1901=2", "corpus:udhr:eng"]
    (t,) = count_many(resolve_sources(same), [pretokenizer_steps(opts)], opts)
    assert {g["group"]: g["weight"] for g in t.meta["weighting"]["groups"]} == {"deu": 2.0, "eng": 1.0}
