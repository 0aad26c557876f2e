"""Bundled corpora (UDHR, legal), the cached-corpus builder and the corpora API."""

import hashlib
import importlib.util
import json
import sys

import pytest

from tokkit import corpora
from tokkit.errors import TokkitError


def _load_script(name):
    spec = importlib.util.spec_from_file_location(name, corpora.corpora_dir() / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_udhr_index_and_every_file_has_30_units():
    langs = corpora.udhr_languages()
    assert len(langs) >= 500
    keys = [e["key"] for e in langs]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    d = corpora.corpora_dir() / "udhr"
    assert {p.stem for p in d.glob("*.jsonl")} == set(keys)
    for e in langs:
        body = (d / f"{e['key']}.jsonl").read_bytes()
        assert hashlib.sha256(body).hexdigest() == e["sha256"], e["key"]
        rows = [json.loads(line) for line in body.decode("utf-8").splitlines()]
        assert [r["unit"] for r in rows] == list(range(1, 31)), e["key"]
        assert all(r["text"].strip() for r in rows), e["key"]
        assert sum(len(r["text"]) for r in rows) + 29 == e["chars"], e["key"]
        assert len(e["script"]) == 4 and e["direction"] in ("ltr", "rtl", "ttb"), e["key"]


def test_udhr_known_languages_and_scripts():
    by_key = {e["key"]: e for e in corpora.udhr_languages()}
    for key, script in [("eng", "Latn"), ("deu_1996", "Latn"), ("tur", "Latn"), ("rus", "Cyrl"),
                        ("arb", "Arab"), ("hin", "Deva"), ("cmn_hans", "Hani"), ("cmn_hant", "Hani"),
                        ("jpn", "Jpan"), ("kor", "Hang"), ("srp_cyrl", "Cyrl"), ("srp_latn", "Latn"),
                        ("heb", "Hebr"), ("ell_monotonic", "Grek"), ("tha", "Thai")]:
        assert by_key[key]["script"] == script, key
    assert by_key["arb"]["direction"] == "rtl" and by_key["eng"]["iso639_3"] == "eng"
    sample = corpora.udhr_parallel(["eng", "deu", "tur", "jpn"])
    assert list(sample) == ["eng", "deu_1901", "tur", "jpn"]
    assert all(len(v) == 30 for v in sample.values())
    assert sample["eng"][0].startswith("Article 1\nAll human beings are born free")
    assert sample["eng"][29].startswith("Article 30\n")
    # a source line wrap inside Chinese text is not turned into a space; other spaces are kept
    assert not any(" " in t for t in corpora.udhr("yue"))
    assert any("\u3000" in t for t in corpora.udhr("jpn_tokyo"))


def test_udhr_lookup_by_iso_code_and_errors():
    assert corpora.udhr("deu") == corpora.udhr("deu_1901")  # documented default: first by key
    assert corpora.udhr("deu_1996") != corpora.udhr("deu_1901")
    assert corpora.udhr("en") == corpora.udhr("eng")  # BCP 47 tag
    with pytest.raises(TokkitError, match="'engg'.*did you mean"):
        corpora.udhr("engg")
    assert list(corpora.open_corpus("udhr", "eng", split="all")) == corpora.udhr("eng")
    # articles 1-20 train (multilingual tokenizer training), 21-30 held out
    train, held = (list(corpora.open_corpus("udhr", "eng", split=s)) for s in ("train", "heldout"))
    assert train + held == corpora.udhr("eng") and len(train) == corpora.UDHR_TRAIN_ARTICLES


# where corpora._udhr_key and the report's resolver used to disagree (or one of them failed)
@pytest.mark.parametrize("lang,key", [
    ("sw", "swh"), ("swh", "swh"), ("fi", "fin"), ("es", "spa"), ("hau", "hau_3"), ("qu", "quz"),
    ("de", "deu_1901"), ("pt", "por_BR"), ("pt-PT", "por_PT"), ("pt-pt", "por_PT"), ("zh-hant", "cmn_hant"),
    ("sr-latn", "srp_latn"), ("por_br", "por_BR"), ("de-DE", "deu_1901"), ("en-US", "eng"), ("tr", "tur"),
])
def test_udhr_one_resolver_for_corpora_and_reports(lang, key):
    from tokkit.quality.inputs import resolve_udhr_lang

    assert resolve_udhr_lang is corpora.udhr_entry
    assert corpora.udhr_entry(lang)["key"] == key
    assert list(corpora.udhr_parallel([lang])) == [key]
    assert corpora.udhr(lang) == corpora.udhr(key)


def test_udhr_resolver_keeps_exact_keys_and_documented_defaults():
    for key in ("042", "053", "062", "deu_1996", "cmn_hans", "jpn", "spa"):
        assert corpora.udhr_entry(key)["key"] == key
    assert corpora.udhr_entry("deu")["key"] == "deu_1901" and corpora.udhr_entry("cmn")["key"] == "cmn_hans"
    with pytest.raises(TokkitError, match="'xx-unknown'"):
        corpora.udhr_entry("xx-unknown")


def test_legal_split_is_fixed_and_disjoint():
    d = corpora.corpora_dir() / "legal"
    index = json.loads((d / "index.json").read_text())
    rows = {}
    for part in ("train", "heldout"):
        body = (d / f"spdx_{part}.jsonl").read_bytes()
        assert hashlib.sha256(body).hexdigest() == index[part]["sha256"]  # the committed split, unchanged
        rows[part] = [json.loads(line) for line in body.decode("utf-8").splitlines()]
        assert [r["id"] for r in rows[part]] == sorted(r["id"] for r in rows[part])
    rule = _load_script("build_legal").is_heldout  # the split is a pure function of the text
    assert all(rule(r["text"]) for r in rows["heldout"]) and not any(rule(r["text"]) for r in rows["train"])
    train = list(corpora.open_corpus("legal", split="train"))
    held = list(corpora.open_corpus("legal", split="heldout"))
    assert len(train) > 500 and 40 < len(held) < 120 and len(held) == index["heldout"]["texts"]
    ids = [r["id"] for part in rows.values() for r in part] + [a for part in rows.values() for r in part
                                                               for a in r["aliases"]]
    assert len(ids) == len(set(ids)) == 727 and "MIT" in ids and "GPL-3.0-only" in ids
    assert not set(train) & set(held)
    assert len(list(corpora.open_corpus("legal", split="all"))) == len(train) + len(held)
    assert corpora.corpus_text("legal", split="heldout", sep="\n\n") == "\n\n".join(held)


def test_unknown_names_are_clear():
    with pytest.raises(TokkitError, match="unknown corpus 'legl'.*did you mean legal"):
        list(corpora.open_corpus("legl"))
    with pytest.raises(TokkitError, match="unknown split 'test'"):
        list(corpora.open_corpus("legal", split="test"))
    with pytest.raises(TokkitError, match="legal.*'deu'"):
        list(corpora.open_corpus("legal", lang="deu"))


def test_list_corpora():
    names = {c.name: c for c in corpora.list_corpora()}
    assert names["udhr"].available and names["udhr"].languages >= 500 and names["udhr"].kind == "bundled"
    assert names["legal"].available
    assert set(corpora.CACHED) <= set(names)
    assert {"kjv", "cpython-stdlib", "kernel-docs", "gnome-help", "debian-reference"} <= set(corpora.CACHED)
    assert len(corpora.corpus_languages("udhr")) == names["udhr"].languages and corpora.corpus_languages("legal") == []
    with pytest.raises(TokkitError, match="'kvj'.*did you mean kjv"):
        corpora.corpus_languages("kvj")


def test_cached_builder_is_deterministic_and_opens(tmp_path, monkeypatch):
    """cpython-stdlib needs no Debian package: build it twice, same bytes; then open it."""
    mod = _load_script("build_cached")
    a = mod.build("cpython-stdlib", tmp_path / "a", install=False)
    b = mod.build("cpython-stdlib", tmp_path / "b", install=False)
    assert a["files"] == b["files"] and a["files"]["heldout.jsonl.gz"]["documents"] > 10
    for f in ("train.jsonl.gz", "heldout.jsonl.gz", "manifest.json"):
        assert (tmp_path / "a/corpora/cpython-stdlib" / f).read_bytes() == (tmp_path / "b/corpora/cpython-stdlib" / f).read_bytes()
    monkeypatch.setenv("TOKKIT_CACHE", str(tmp_path / "a"))
    assert corpora.cache_dir() == tmp_path / "a"
    held = list(corpora.open_corpus("cpython-stdlib", split="heldout"))
    train = list(corpora.open_corpus("cpython-stdlib", split="train"))
    assert len(held) == a["files"]["heldout.jsonl.gz"]["documents"] and not set(held) & set(train)
    assert 0.02 < len(held) / (len(held) + len(train)) < 0.09  # about 5%
    assert {c.name: c.available for c in corpora.list_corpora()}["cpython-stdlib"]
    with pytest.raises(TokkitError, match="'kjv' is not built yet.*build_cached.py kjv"):
        list(corpora.open_corpus("kjv"))


def test_cached_builder_split_rule_and_missing_package_message():
    mod = _load_script("build_cached")
    assert mod.is_heldout("kjv:Genesis 1") == mod.is_heldout("kjv:Genesis 1")
    share = sum(mod.is_heldout(f"x:{i}") for i in range(20000)) / 20000
    assert 0.04 < share < 0.06
    with pytest.raises(SystemExit, match=r"apt-get install -y tokkit-no-such-package"):
        mod.ensure_packages(["tokkit-no-such-package"], install=False)


def test_no_heavy_imports():
    import subprocess

    code = "import sys, tokkit.corpora; print(any(m in sys.modules for m in ('torch', 'transformers')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
