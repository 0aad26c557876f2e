"""List and open corpora by name and language.

Bundled (committed under ``corpora/``):
  - ``udhr``: the Universal Declaration of Human Rights in 521 languages, 30 aligned articles
    each (a parallel corpus; evaluation text only: split "heldout" or "all", never "train");
  - ``legal``: the SPDX licence texts (727 ids, 687 distinct texts), fixed train/held-out split.
Cached (built on demand by ``corpora/build_cached.py`` into ``$TOKKIT_CACHE/corpora/<name>``):
  ``kjv``, ``cpython-stdlib``, ``kernel-docs``, ``gnome-help`` (per language),
  ``debian-reference`` (per language), ``rust-src`` and ``go-src`` (code). Each has a fixed
  train/held-out split by document.

Nothing here imports torch or transformers.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import FormatError, TokkitError
from .io import cache_dir  # $TOKKIT_CACHE or ~/.cache/tokkit
from .textio import iter_records, iter_texts, read_text

__all__ = [
    "BUNDLED",
    "CACHED",
    "SPLITS",
    "CorpusInfo",
    "cache_dir",
    "corpora_dir",
    "corpus_languages",
    "corpus_text",
    "list_corpora",
    "open_corpus",
    "udhr",
    "udhr_entry",
    "udhr_languages",
    "udhr_parallel",
]

BUNDLED = ("udhr", "legal")
#: UDHR articles in its train split (1-20); 21-30 are its held-out split
UDHR_TRAIN_ARTICLES = 20
CACHED = ("kjv", "cpython-stdlib", "kernel-docs", "gnome-help", "debian-reference", "rust-src", "go-src")
SPLITS = ("train", "heldout", "all")
ENGLISH = ("kjv", "kernel-docs")  # single-language cached corpora (the others are code or per language)


@dataclass(frozen=True)
class CorpusInfo:
    name: str
    kind: str  # "bundled" | "cached"
    available: bool
    languages: int
    description: str
    path: str


def corpora_dir() -> Path:
    """The bundled corpora directory.

    ``$TOKKIT_CORPORA`` when set; else ``corpora/`` of the checkout (beside the package, i.e.
    ``tokkit/../corpora``); else an installed copy (``<prefix>/share/tokkit/corpora``).
    """
    env = os.environ.get("TOKKIT_CORPORA")
    if env:
        cand = Path(env).expanduser()
        if (cand / "udhr" / "index.json").exists():
            return cand
        raise TokkitError(f"$TOKKIT_CORPORA={env}: no udhr/index.json there")
    here = Path(__file__).resolve().parent
    candidates = [here.parent / "corpora", Path(sys.prefix) / "share" / "tokkit" / "corpora"]
    for cand in candidates:
        if (cand / "udhr" / "index.json").exists():
            return cand
    raise TokkitError(f"bundled corpora not found (looked in {', '.join(map(str, candidates))}; "
                      "set $TOKKIT_CORPORA)")


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""


# -- UDHR ----------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _udhr_index() -> dict:
    path = corpora_dir() / "udhr" / "index.json"
    try:
        index = json.loads(read_text(path))
    except (ValueError, RecursionError):
        raise FormatError(path, "not a valid JSON index") from None
    if not isinstance(index, dict) or not isinstance(index.get("languages"), list):
        raise FormatError(path, "no 'languages' list")
    return index


def udhr_languages() -> list[dict]:
    """The UDHR index, sorted by key: one entry per declaration with key (file stem), iso639_3,
    bcp47, name, script (ISO 15924), direction, stage, chars, bytes, sha256."""
    return [dict(e) for e in _udhr_index()["languages"]]


def _canonical_first(hits: list[dict]) -> dict:
    """Of several declarations for one language, the one whose key is the ISO 639-3 code
    (``swh`` before ``062``, ``fin`` before ``067``), then keys that start with it
    (``deu_1901``), then key order."""
    return min(hits, key=lambda e: (e["key"] != e["iso639_3"], not e["key"].startswith(e["iso639_3"]), e["key"]))


def udhr_entry(lang: str) -> dict:
    """The UDHR index entry (see :func:`udhr_languages`) for ``lang``, the one resolver of
    language names for the UDHR (``udhr``, ``udhr_parallel``, ``open_corpus`` and reports):

    1. a declaration key (``deu_1996``; also in another letter case, ``por_br``);
    2. an ISO 639-3 code (``tur``) or a BCP 47 tag (``zh-Hant``, any letter case, ``_`` for ``-``);
    3. the primary subtag of a tag (ISO 639-1 ``de``, or ``en-US``, ``de-DE``).

    Where several declarations match, the canonical one (:func:`_canonical_first`: ``sw`` ->
    ``swh``, ``fi`` -> ``fin``, ``de`` -> ``deu_1901``). Unknown: a TokkitError with close matches."""
    langs = _udhr_index()["languages"]
    for e in langs:
        if e["key"] == lang:
            return dict(e)
    low = lang.lower().replace("_", "-")
    steps = (lambda e: e["key"].lower().replace("_", "-") == low,
             lambda e: e["iso639_3"] == low or e["bcp47"].lower() == low,
             lambda e: e["bcp47"].lower().split("-")[0] == low.split("-")[0])
    for match in steps:
        hits = [e for e in langs if match(e)]
        if hits:
            return dict(_canonical_first(hits))
    options = sorted({e["key"] for e in langs} | {e["iso639_3"] for e in langs})
    raise TokkitError(f"no UDHR declaration for language {lang!r}{_suggest(lang, options)}")


@functools.cache
def _udhr_texts(key: str) -> tuple[str, ...]:
    path = corpora_dir() / "udhr" / f"{key}.jsonl"
    rows = []
    for lineno, r in iter_records(path):
        if not (isinstance(r.get("unit"), int) and isinstance(r.get("text"), str)):
            raise FormatError(path, f"line {lineno}: a UDHR record needs an integer 'unit' and a string 'text'")
        rows.append(r)
    return tuple(r["text"] for r in sorted(rows, key=lambda r: r["unit"]))


def udhr(lang: str) -> list[str]:
    """The 30 aligned article texts of one declaration, article 1 first.

    ``lang``: a declaration key (``deu_1996``), an ISO 639-3 code, a BCP 47 tag or an ISO 639-1
    code, resolved by :func:`udhr_entry` (``deu`` and ``de`` -> ``deu_1901``)."""
    return list(_udhr_texts(udhr_entry(lang)["key"]))


def udhr_parallel(langs: list[str] | None = None) -> dict[str, list[str]]:
    """{declaration key: 30 article texts}, aligned unit by unit; every declaration when ``langs``
    is None."""
    keys = [e["key"] for e in _udhr_index()["languages"]] if langs is None else [udhr_entry(x)["key"] for x in langs]
    return {k: list(_udhr_texts(k)) for k in keys}


# -- files with a split ----------------------------------------------------------------------------
def _read_texts(path: Path) -> Iterator[str]:
    """The ``text`` of each record of a corpus JSONL file (bounded reads, checked to the end)."""
    return iter_texts(path, text_field="text")


def _split_files(directory: Path, stem: str, split: str) -> list[Path]:
    parts = ("train", "heldout") if split == "all" else (split,)
    out = []
    for part in parts:
        for cand in (directory / f"{stem}{part}.jsonl", directory / f"{stem}{part}.jsonl.gz"):
            if cand.exists():
                out.append(cand)
    return out


def _cached_dir(name: str) -> Path:
    return cache_dir() / "corpora" / name


def _cached_languages(name: str) -> list[str]:
    d = _cached_dir(name)
    langs = sorted({p.name.split(".")[0] for p in d.glob("*.train.jsonl.gz")})
    return langs


def open_corpus(name: str, lang: str | None = None, split: str = "train") -> Iterator[str]:
    """Yield the documents of a corpus (``split``: train, heldout or all)."""
    if split not in SPLITS:
        raise TokkitError(f"unknown split {split!r} (choose from {', '.join(SPLITS)})")
    if name == "udhr":
        # articles 1-20 train, 21-30 held out (reports read all 30 through udhr())
        part = {"train": slice(0, UDHR_TRAIN_ARTICLES), "heldout": slice(UDHR_TRAIN_ARTICLES, None),
                "all": slice(None)}[split]
        for texts in (udhr_parallel().values() if lang is None else [udhr(lang)]):
            yield from texts[part]
        return
    if name == "legal":
        if lang not in (None, "eng", "en"):
            raise TokkitError(f"the legal corpus is English only, not {lang!r}")
        for p in _split_files(corpora_dir() / "legal", "spdx_", split):
            yield from _read_texts(p)
        return
    if name in CACHED:
        d = _cached_dir(name)
        if not (d / "manifest.json").exists():
            raise TokkitError(f"corpus {name!r} is not built yet: run "
                              f"`python corpora/build_cached.py {name} --install`")
        langs = _cached_languages(name)
        if langs:
            if lang is None:
                raise TokkitError(f"corpus {name!r} is per language: give lang= one of {', '.join(langs)}")
            if lang not in langs:
                raise TokkitError(f"corpus {name!r} has no language {lang!r}{_suggest(lang, langs)}")
            files = _split_files(d, f"{lang}.", split)
        else:
            english = name in ENGLISH
            if lang is not None and not (english and lang in ("en", "eng")):
                raise TokkitError(f"corpus {name!r} has a single language ({'English' if english else 'code'}): "
                                  f"leave lang out, not {lang!r}")
            files = _split_files(d, "", split)
        for p in files:
            yield from _read_texts(p)
        return
    raise TokkitError(f"unknown corpus {name!r}{_suggest(name, list(BUNDLED + CACHED))} "
                      f"(known: {', '.join(BUNDLED + CACHED)})")


def corpus_languages(name: str) -> list[str]:
    """The ``lang`` values :func:`open_corpus` takes for ``name``: UDHR keys, a per-language
    cached corpus's languages (empty if not built), [] for a single-language corpus."""
    if name == "udhr":
        return [e["key"] for e in _udhr_index()["languages"]]
    if name in CACHED:
        return _cached_languages(name)
    if name == "legal":
        return []
    raise TokkitError(f"unknown corpus {name!r}{_suggest(name, list(BUNDLED + CACHED))} "
                      f"(known: {', '.join(BUNDLED + CACHED)})")


def corpus_text(name: str, lang: str | None = None, split: str = "train", sep: str = "\n\n") -> str:
    """All documents of :func:`open_corpus` joined with ``sep``."""
    return sep.join(open_corpus(name, lang=lang, split=split))


def list_corpora() -> list[CorpusInfo]:
    out = [
        CorpusInfo("udhr", "bundled", True, len(udhr_languages()),
                   "Universal Declaration of Human Rights, 30 aligned articles per language",
                   str(corpora_dir() / "udhr")),
        CorpusInfo("legal", "bundled", True, 1, "SPDX licence texts (legal English), fixed split",
                   str(corpora_dir() / "legal")),
    ]
    descriptions = {
        "kjv": "King James Bible (Debian bible-kjv-text)", "cpython-stdlib": "CPython standard library (code)",
        "kernel-docs": "Linux kernel documentation (Debian linux-doc)",
        "gnome-help": "GNOME user help, per locale (Debian gnome-user-docs)",
        "debian-reference": "Debian Reference, per language (Debian debian-reference-*)",
        "rust-src": "Rust compiler and standard library sources (Debian rust-src), code",
        "go-src": "Go 1.19 sources (Debian golang-1.19-src), code",
    }
    for name in CACHED:
        d = _cached_dir(name)
        built = (d / "manifest.json").exists()
        out.append(CorpusInfo(name, "cached", built, (len(_cached_languages(name)) or 1) if built else 0,
                              descriptions[name], str(d)))
    return out
