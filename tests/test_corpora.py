"""Bundled corpora and the corpora API."""

import json

import pytest

from tokkit import corpora
from tokkit.errors import TokkitError


def test_udhr_is_parallel_and_large():
    langs = corpora.udhr_languages()
    assert len(langs) >= 500
    by_code = {e["code"]: e for e in langs}
    for code, script in [("eng", "Latn"), ("tur", "Latn"), ("rus", "Cyrl"), ("arb", "Arab"), ("hin", "Deva"),
                         ("cmn_hans", "Hani"), ("jpn", "Jpan"), ("kor", "Hang")]:
        assert by_code[code]["script"] == script, code
    sample = corpora.udhr_parallel(["eng", "deu", "tur", "jpn"])
    assert all(len(v) == 30 and all(t.strip() for t in v) for v in sample.values())
    assert sample["eng"][0].startswith("Article 1\nAll human beings are born free")


def test_udhr_lookup_by_iso_code_and_errors():
    assert corpora.udhr("deu") == corpora.udhr("deu_1901")  # documented default: first by code
    with pytest.raises(TokkitError, match="did you mean"):
        corpora.udhr("engg")
    with pytest.raises(TokkitError, match="split='all'"):
        list(corpora.open_corpus("udhr", "eng", split="train"))


def test_legal_split_is_fixed_and_disjoint():
    train = list(corpora.open_corpus("legal", split="train"))
    held = list(corpora.open_corpus("legal", split="heldout"))
    assert len(train) > 500 and 40 < len(held) < 120
    assert not set(train) & set(held)
    assert len(list(corpora.open_corpus("legal", split="all"))) == len(train) + len(held)
    index = json.loads((corpora.corpora_dir() / "legal" / "index.json").read_text())
    assert index["heldout"]["texts"] == len(held)


def test_unknown_names_are_clear():
    with pytest.raises(TokkitError, match="unknown corpus 'legl'.*did you mean legal"):
        list(corpora.open_corpus("legl"))
    with pytest.raises(TokkitError, match="unknown split"):
        list(corpora.open_corpus("legal", split="test"))


def test_list_corpora():
    names = {c.name: c for c in corpora.list_corpora()}
    assert names["udhr"].available and names["udhr"].languages >= 500
    assert set(corpora.CACHED) <= set(names)


def test_cached_builder_is_deterministic_and_opens(tmp_path, monkeypatch):
    """cpython-stdlib needs no Debian package: build it twice, same bytes; then open it."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("build_cached", corpora.corpora_dir() / "build_cached.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["build_cached"] = mod
    spec.loader.exec_module(mod)
    a = mod.build("cpython-stdlib", tmp_path / "a", install=False)
    b = mod.build("cpython-stdlib", tmp_path / "b", install=False)
    assert a["files"] == b["files"] and a["files"]["heldout.jsonl.gz"]["documents"] > 10
    monkeypatch.setenv("TOKKIT_CACHE", str(tmp_path / "a"))
    held = list(corpora.open_corpus("cpython-stdlib", split="heldout"))
    train = list(corpora.open_corpus("cpython-stdlib", split="train"))
    assert len(held) == a["files"]["heldout.jsonl.gz"]["documents"] and not set(held) & set(train)
    assert {c.name: c.available for c in corpora.list_corpora()}["cpython-stdlib"]
    with pytest.raises(TokkitError, match="not built yet"):
        list(corpora.open_corpus("kjv"))
