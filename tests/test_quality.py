"""Quality reports: metric invariants (hypothesis), segmentation, schema, bad input, CLI.

Small inputs only: a toy byte-level BPE (an oracle for offsets) and a few UDHR languages with
GPT-2 where a real vocabulary matters. The end-to-end report on real tokenizers, with the HTML
rendered in headless Chromium, is in test_quality_real.py.
"""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toyvocab import byte_level_bpe
from tokkit.errors import FormatError, TokkitError
from tokkit.quality import ReportOptions, build_report, read_report, validate, write_report
from tokkit.quality.batch import build_batch
from tokkit.quality.encode import encode_texts
from tokkit.quality.inputs import Problem, TextSet, resolve_udhr_lang, text_sets
from tokkit.quality.metrics import audit as A
from tokkit.quality.metrics import information as I
from tokkit.quality.metrics import parity as P
from tokkit.quality.metrics import words as W
from tokkit.quality.segment import icu_available, segment
from tokkit.tokenizer import Tokenizer

MERGES = [(b"t", b"h"), (b"th", b"e"), (b" ", b"the"), (b"i", b"n"), (b" ", b"in"), (b"e", b"r"),
          (b"a", b"n"), (b"an", b"d"), (b" ", b"and"), (b"o", b"n"), (b"x", b"y")]
FAST = ReportOptions(n_boot=50, linguistic=False, examples=2)


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("toy")
    Tokenizer(byte_level_bpe(MERGES)).save(d / "toy")
    return d / "toy"


@pytest.fixture(scope="module")
def toy():
    return Tokenizer(byte_level_bpe(MERGES))


def _set(texts, lang="eng", script="Latn", aligned=False):
    return TextSet("test", lang, lang, lang, lang, script, list(texts), aligned=aligned)


# -- invariants ----------------------------------------------------------------------------------
@given(st.lists(st.floats(0.01, 1e6), min_size=1, max_size=60))
def test_gini_in_unit_interval_and_invariant(xs):
    x = np.asarray(xs)
    g = P.gini(x)
    assert -1e-9 <= g < 1
    assert np.isclose(P.gini(x * 3.7), g) and np.isclose(P.gini(x[::-1]), g)
    assert np.isclose(P.gini(np.full(len(x), x[0])), 0, atol=1e-9)


def test_gini_matches_the_double_sum_definition():
    rng = np.random.default_rng(1)
    c = rng.uniform(1, 10, 37)
    ref = np.abs(c[:, None] - c[None, :]).sum() / (2 * len(c) ** 2 * c.mean())
    assert np.isclose(P.gini(c), ref)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 8), st.integers(3, 40), st.integers(0, 2**31))
def test_premium_of_pivot_is_one_and_ratio_of_sums(langs, units, seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 500, size=(langs, units)).astype(float)
    pivot = int(rng.integers(0, langs))
    res = P.parity(counts, pivot, n_boot=200, seed=seed)
    assert res["premium"][pivot] == 1 and res["premium_ci_low"][pivot] == 1 == res["premium_ci_high"][pivot]
    assert np.allclose(res["premium"], counts.sum(1) / counts[pivot].sum())
    assert np.all(res["premium_ci_low"] <= res["premium"] + 1e-9) or units < 5
    assert 0 <= res["gini"] < 1 and res["gini_ci"][0] <= res["gini_ci"][1]
    # the premium does not depend on the order of the aligned units
    perm = rng.permutation(units)
    assert np.allclose(P.parity(counts[:, perm], pivot, n_boot=10)["premium"], res["premium"])


class _Enc:
    def __init__(self, ids, lengths):
        self.ids = np.asarray(ids, np.uint32)
        self.lengths = np.asarray(lengths, np.int64)
        self.text_of_token = np.repeat(np.arange(len(lengths)), lengths)


class _Batch:
    def __init__(self, set_of_text):
        self.set_of_text = np.asarray(set_of_text, np.int64)
        self.n_sets = int(self.set_of_text.max()) + 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 30), min_size=1, max_size=40), min_size=1, max_size=6), st.integers(0, 2**31))
def test_information_invariant_to_relabelling_token_ids(texts, seed):
    rng = np.random.default_rng(seed)
    lengths = [len(t) for t in texts]
    ids = np.concatenate([np.asarray(t) for t in texts])
    batch = _Batch(rng.integers(0, 2, len(texts)))
    batch.n_sets = 2
    perm = rng.permutation(64)
    a = I.information(batch, _Enc(ids, lengths), 64)
    b = I.information(batch, _Enc(perm[ids], lengths), 64)
    for k in a:
        assert np.allclose(a[k], b[k], equal_nan=True), k
    h = a["entropy"]
    assert np.all((h >= -1e-9) | np.isnan(h)) and np.all((h <= np.log2(64) + 1e-9) | np.isnan(h))
    assert np.all((a["renyi_entropy"] <= h + 1e-9) | np.isnan(h))  # Rényi of order > 1 is at most Shannon


def test_entropy_of_a_uniform_stream():
    ids = np.tile(np.arange(16), 8)
    out = I.information(_Batch([0]), _Enc(ids, [len(ids)]), 16)
    assert np.isclose(out["entropy"][0], 4) and np.isclose(out["renyi_entropy"][0], 4)
    assert np.isclose(out["renyi_efficiency"][0], 1) and np.isclose(out["utilization"][0], 1)
    assert abs(out["cond_entropy_1"][0]) < 0.01  # the next id is determined (plug-in estimates)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("the and in xy ér日本語,.  \n0123ğ")), max_size=60),
                min_size=1, max_size=5))
def test_offsets_cover_every_byte_and_words_get_at_least_one_token(toy, texts):
    sets = [_set(texts)]
    batch = build_batch(sets)
    enc = encode_texts(toy, batch.texts, batch.text_bytes)
    assert enc.offsets_exact.all()
    bounds = np.concatenate([[0], np.cumsum(enc.lengths)])
    for k, b in enumerate(batch.text_bytes):
        ends = enc.ends[bounds[k]:bounds[k + 1]]
        assert (ends[-1] if len(ends) else 0) == len(b)
        assert np.all(np.diff(ends) > 0) and (not len(ends) or ends[0] > 0)  # a partition of the bytes
    counts = W.word_token_counts(batch, enc)
    assert np.all(counts >= 1)
    # a word's tokens: brute force over the token spans
    for j in range(len(batch.words)):
        k = batch.words.text_index[j]
        s, e = batch.words.starts[j], batch.words.ends[j]
        ends = enc.ends[bounds[k]:bounds[k + 1]]
        starts = np.concatenate([[0], ends[:-1]])
        assert counts[j] == np.sum((starts < e) & (ends > s))


@pytest.mark.real
def test_dummy_prefix_offsets_on_sentencepiece(real_tokenizers):
    tok = Tokenizer.from_file(real_tokenizers["mistral-v1"])
    texts = ["Hello world", "  two spaces", "Türkçe metin"]
    enc = encode_texts(tok, texts)
    assert enc.offsets_exact.all()
    bounds = np.concatenate([[0], np.cumsum(enc.lengths)])
    for k, t in enumerate(texts):
        assert enc.ends[bounds[k + 1] - 1] == len(t.encode())


@pytest.mark.real
def test_wordpiece_takes_hf_offsets(real_tokenizers):
    tok = Tokenizer.from_file(real_tokenizers["minilm"])  # WordPiece, lowercasing: no native encoder
    texts = ["Hello World, naïve café.", "日本語のテキスト", "x"]
    batch = build_batch([_set(texts)])
    enc = encode_texts(tok, batch.texts, batch.text_bytes)
    assert not enc.offsets_exact.any() and enc.check == "Hugging Face character offsets"
    bounds = np.concatenate([[0], np.cumsum(enc.lengths)])
    for k, b in enumerate(batch.text_bytes):
        ends = enc.ends[bounds[k]:bounds[k + 1]]
        assert np.all(np.diff(ends) >= 0) and ends[-1] == len(b)
    assert np.all(W.word_token_counts(batch, enc) >= 1)


def test_word_metrics_on_a_known_split(toy):
    batch = build_batch([_set(["the and xyz"])])
    enc = encode_texts(toy, batch.texts)
    m = W.word_metrics(batch, enc)
    # "the" " and" one token each; "xyz" -> "xy" + "z"
    assert m["words"][0] == 3 and np.isclose(m["fertility"][0], 4 / 3) and np.isclose(m["pcw"][0], 1 / 3)
    assert np.isclose(m["strr"][0], 2 / 3)


# -- segmentation ----------------------------------------------------------------------------------
def test_segmentation_offsets_are_bytes_of_the_words():
    texts = ["L'homme naît libre, égal en droits.", "İnsan haklarına saygı."]
    w, method = segment(texts, "Latn")
    assert method == "regex-uax29"
    got = [texts[k].encode()[s:e].decode() for k, s, e in zip(w.text_index, w.starts, w.ends)]
    assert got[:3] == ["L'homme", "naît", "libre"] and "haklarına" in got


@pytest.mark.skipif(not icu_available(), reason="PyICU not installed: spaceless scripts fall back to graphemes")
def test_segmentation_without_spaces_uses_icu_dictionaries():
    zh = "人人生而自由，在尊严和权利上一律平等。"
    w, method = segment([zh], "Hani")
    words = [zh.encode()[s:e].decode() for s, e in zip(w.starts, w.ends)]
    assert method == "icu-dictionary" and "，" not in words
    assert 3 < len(words) < len(zh) - 2  # words, not characters and not one run
    th = "มนุษย์ทั้งหลายเกิดมามีอิสระ"
    w, _ = segment([th], "Thai")
    assert len(w) >= 4


# -- digits and audits -----------------------------------------------------------------------------
def test_digit_chunk_classification():
    assert A._classify([1, 1, 1, 1]) == {"single"}
    assert A._classify([3, 3, 1]) == {"L2R-3"}
    assert A._classify([1, 3, 3]) == {"R2L-3"}
    assert A._classify([3]) == {"L2R-3", "R2L-3"}
    assert A._classify([2, 2]) == set()


@pytest.mark.real
def test_decoder_without_merges_decodes_like_the_full_tokenizer(real_tokenizers):
    rng = np.random.default_rng(0)
    for name in ("gpt2", "mistral-v1"):
        from tokenizers import Tokenizer as HFTokenizer

        from tokkit.vocab.hf import vocab_to_hf_json

        tok = Tokenizer.from_file(real_tokenizers[name])
        full = HFTokenizer.from_str(json.dumps(vocab_to_hf_json(tok.vocab)))
        for _ in range(50):
            ids = rng.integers(0, tok.vocab.size, 12).tolist()
            assert tok.decode(ids, skip_special_tokens=True) == full.decode(ids)


# -- bad input and the report --------------------------------------------------------------------------
def _undecodable_tokenizer(tmp_path, toy_dir):
    """A real file whose decoder drops the letter 'x': ids of tokens with an 'x' do not decode."""
    obj = json.loads((toy_dir / "tokenizer.json").read_text())
    drop_x = {"type": "Replace", "pattern": {"String": "x"}, "content": ""}
    obj["decoder"] = {"type": "Sequence", "decoders": [obj["decoder"], drop_x]}
    d = tmp_path / "bad"
    d.mkdir()
    (d / "tokenizer.json").write_text(json.dumps(obj))
    return d


def test_report_bad_input_is_reported_not_raised(tmp_path, toy_dir):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    good = tmp_path / "tr.txt"
    good.write_text("Bütün insanlar hür doğar.\nxy 123\n")
    bad = _undecodable_tokenizer(tmp_path, toy_dir)
    rep = build_report([f"toy={toy_dir}", f"bad={bad}", "missing=/nonexistent/tokenizer.json"],
                       ["udhr", f"{empty}:de", f"{good}:tr", f"{good}:qqq"], ["tr", "zz-unknown"], FAST)
    validate(rep)
    problems = " | ".join(f"{p['where']}: {p['problem']}" for p in rep["problems"])
    assert "unknown language" in problems and "zz-unknown" in problems
    assert "empty file" in problems and "qqq" in problems
    assert "missing" in problems and "not loaded" in problems
    assert "do not decode" in problems
    bad_info = next(t for t in rep["tokenizers"] if t["name"] == "bad")
    v = Tokenizer.from_file(bad).vocab
    n_x = sum(1 for b, t in zip(v.tokens, v.types) if b"x" in b and t.name == "NORMAL")  # "x", "xy"
    assert bad_info["audit"]["undecodable"] == n_x > 0
    assert {t["name"]: t["status"] for t in rep["tokenizers"]} == {"toy": "ok", "bad": "ok", "missing": "error"}
    # the pivot was added for the premiums; the user file is there with its language
    langs = {(c["corpus"], c["lang"]) for c in rep["corpora"]}
    assert ("udhr", "tur") in langs and ("udhr", "eng") in langs and (str(good), "tr") in langs
    rows = {(r["tokenizer"], r["lang"]): r for r in rep["per_language"] if r["corpus"] == "udhr"}
    assert rows[("toy", "eng")]["premium"] == 1.0
    tur = rows[("toy", "tur")]
    assert tur["premium_ci_low"] <= tur["premium"] <= tur["premium_ci_high"]


def test_report_with_no_usable_input_is_one_clear_error(tmp_path, toy_dir):
    empty = tmp_path / "e.txt"
    empty.write_text("\n\n")
    with pytest.raises(TokkitError, match="no text to evaluate.*empty file"):
        build_report([str(toy_dir)], [f"{empty}:en"], None, FAST)
    with pytest.raises(TokkitError, match="no tokenizer could be loaded"):
        build_report(["/nonexistent.model"], ["udhr"], ["tr"], FAST)


def test_language_codes_resolve_like_the_corpus_api():
    assert resolve_udhr_lang("tr")["key"] == "tur"
    assert resolve_udhr_lang("de")["key"] == "deu_1901"
    assert resolve_udhr_lang("deu_1996")["key"] == "deu_1996"
    assert resolve_udhr_lang("zh")["key"] == "cmn_hans"
    with pytest.raises(TokkitError, match="did you mean"):
        resolve_udhr_lang("engg")
    problems: list[Problem] = []
    assert [s.lang for s in text_sets(["udhr"], ["en", "xx"], problems)] == ["eng"] and len(problems) == 1


def test_file_corpus_reads_through_textio(tmp_path):
    """FILE:LANG goes through tokkit.textio: plain text is one text per non-blank line (as
    before), compressed files are read, JSONL lines are split at newlines only."""
    import gzip

    plain = tmp_path / "tr.txt"
    plain.write_bytes("Bir satır.\r\n\n  \nİki\u2028üç\n".encode())
    gz = tmp_path / "tr.txt.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    jl = tmp_path / "de.jsonl.gz"
    jl.write_bytes(gzip.compress('{"text": "Ein\u2028Satz"}\n\n{"text": ""}\n{"text": " "}\n'.encode()))
    problems: list[Problem] = []
    sets = text_sets([f"{plain}:tr", f"{gz}:tr", f"{jl}:de"], None, problems)
    assert problems == []
    assert sets[0].texts == ["Bir satır.", "İki", "üç"] == sets[1].texts
    assert sets[2].texts == ["Ein\u2028Satz", " "]  # a raw U+2028 inside a JSON string is not a line break
    assert sets[0].sha256 == sets[1].sha256


def test_file_corpus_problems_name_the_file_once(tmp_path):
    import gzip

    cut = tmp_path / "cut.txt.gz"
    cut.write_bytes(gzip.compress(b"a\n" * 1000)[:-12])
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\n")
    rec = tmp_path / "rec.jsonl"
    rec.write_text('{"text": 1}\n')
    missing = tmp_path / "nope.txt"
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    problems: list[Problem] = []
    specs = [f"{cut}:en", f"{bad}:en", f"{rec}:en", f"{empty_dir}:en", f"{missing}:en"]
    assert text_sets(specs, None, problems) == []
    got = {p.where: p.problem for p in problems}
    assert got[str(cut)].startswith("truncated or corrupt gzip stream")
    assert got[str(bad)] == "invalid UTF-8 at byte 3 (line 2)"  # no "--errors replace": reports have no such option
    assert got[str(rec)] == "line 1: no string field 'text'"
    assert got[str(empty_dir)].startswith("no corpus files in this directory")
    assert got[str(missing)] == "no such file"
    with pytest.raises(TokkitError, match=f"no text to evaluate: {bad}: invalid UTF-8"):
        build_report(["gpt2"], [f"{bad}:en"], None, FAST)


def test_unit_matrix_rows_are_sets_and_columns_units():
    batch = build_batch([_set(["a b", "c"], aligned=True), _set(["d", "e f g"], "deu", aligned=True)])
    m = P.unit_matrix(batch, np.array([3, 1, 2, 5]), [1, 0])
    assert m.dtype == float and m.tolist() == [[2, 5], [3, 1]]


def test_one_version_everywhere(toy_dir):
    """The version has one source (native/Cargo.toml, read by maturin): package metadata, the
    module, the native core and a report's provenance agree."""
    import importlib.metadata

    import tokkit
    from tokkit import _native

    assert tokkit.__version__ == importlib.metadata.version("tokkit") == _native.version()
    rep = build_report([str(toy_dir)], ["udhr"], ["tr"], FAST)
    assert rep["tool"]["version"] == tokkit.__version__


def test_write_read_and_refusals(tmp_path, toy_dir):
    rep = build_report([str(toy_dir)], ["udhr"], ["de", "ja"], FAST)
    out = tmp_path / "rep"
    files = write_report(rep, out)
    names = {f.name for f in files}
    assert {"report.json", "report.html", "report.md", "per_language.csv", "per_tokenizer.csv", "audit.csv",
            "parity.csv"} <= names
    back = read_report(out)
    assert back["schema_version"] == rep["schema_version"] and back["per_language"] == rep["per_language"]
    for row in back["per_language"]:
        for k in row:
            assert k in ("tokenizer", "corpus", "lang", "tag", "script", "bytes", "chars") or \
                k in back["metric_definitions"]
    with pytest.raises(TokkitError, match="not empty"):
        write_report(rep, out)
    write_report(rep, out, force=True)
    with pytest.raises(TokkitError, match="refusing to write (over|inside) an input"):
        write_report(rep, toy_dir, force=True, inputs=[toy_dir])
    broken = dict(rep, schema_version="2.0.0")
    with pytest.raises(FormatError, match="unsupported schema version"):
        validate(broken)
    html = (out / "report.html").read_text()
    assert "<script src" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_cli_report(tmp_path, toy_dir):
    from click.testing import CliRunner

    from tokkit.cli import cli

    out = tmp_path / "r"
    res = CliRunner().invoke(cli, ["report", str(toy_dir), "--langs", "tr,de,xx", "--out", str(out),
                                   "--bootstrap", "20", "--no-linguistic"])
    assert res.exit_code == 0, res.output
    assert (out / "report.html").exists() and "unknown language" in res.output
    res = CliRunner().invoke(cli, ["report", "/nonexistent/tok.json", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and res.output.count("\n") == 1 and "tokkit: error:" in res.output
