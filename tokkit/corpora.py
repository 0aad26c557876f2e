"""List and open corpora by name and language.

Bundled (committed under ``corpora/``):
  - ``udhr``: the Universal Declaration of Human Rights in 521 languages, 30 aligned articles
    each (a parallel corpus; split "all" only: it is evaluation text);
  - ``legal``: 727 SPDX licence texts, fixed train/held-out split.
Cached (built on demand by ``corpora/build_cached.py`` into ``$TOKKIT_CACHE/corpora/<name>``):
  ``kjv``, ``cpython-stdlib``, ``kernel-docs``, ``gnome-help`` (per language),
  ``debian-reference`` (per language), ``rust-src`` and ``go-src`` (code). Each has a fixed
  train/held-out split by document.

Nothing here imports torch or transformers.
"""

from __future__ import annotations

import difflib
import functools
import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .errors import TokkitError
from .io import cache_dir

BUNDLED = ("udhr", "legal")
CACHED = ("kjv", "cpython-stdlib", "kernel-docs", "gnome-help", "debian-reference", "rust-src", "go-src")
SPLITS = ("train", "heldout", "all")


@dataclass(frozen=True)
class CorpusInfo:
    name: str
    kind: str  # "bundled" | "cached"
    available: bool
    languages: int
    description: str
    path: str


def corpora_dir() -> Path:
    """The bundled corpora: ``corpora/`` of the checkout (beside the package) when present."""
    here = Path(__file__).resolve().parent
    for cand in (here.parent / "corpora", here / "corpora"):
        if (cand / "udhr" / "index.json").exists():
            return cand
    raise TokkitError(f"bundled corpora not found (looked in {here.parent / 'corpora'})")


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""


# -- UDHR ----------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _udhr_index() -> dict:
    return json.loads((corpora_dir() / "udhr" / "index.json").read_text(encoding="utf-8"))


def udhr_languages() -> list[dict]:
    """One entry per declaration: code, iso639_3, bcp47, name, script, direction, chars, bytes."""
    return list(_udhr_index()["languages"])


def _udhr_code(lang: str) -> str:
    langs = udhr_languages()
    codes = [e["code"] for e in langs]
    if lang in codes:
        return lang
    # an ISO 639-3 code or BCP 47 tag: the first declaration by code order (documented default)
    for key in ("iso639_3", "bcp47"):
        hits = sorted(e["code"] for e in langs if e[key] == lang)
        if hits:
            return hits[0]
    raise TokkitError(f"no UDHR declaration for language {lang!r}{_suggest(lang, codes)}")


def udhr(lang: str) -> list[str]:
    """The 30 aligned article texts of one language (a declaration code, ISO 639-3 or BCP 47)."""
    code = _udhr_code(lang)
    path = corpora_dir() / "udhr" / f"{code}.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [r["text"] for r in sorted(rows, key=lambda r: r["unit"])]


def udhr_parallel(langs: list[str] | None = None) -> dict[str, list[str]]:
    """{declaration code: 30 article texts}, every language aligned unit by unit."""
    codes = [e["code"] for e in udhr_languages()] if langs is None else [_udhr_code(x) for x in langs]
    return {c: udhr(c) for c in codes}


# -- files with a split ----------------------------------------------------------------------------
def _read_jsonl(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


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
        if split != "all":
            raise TokkitError("the UDHR is evaluation text with no train/held-out split: use split='all'")
        if lang is None:
            for texts in udhr_parallel().values():
                yield from texts
        else:
            yield from udhr(lang)
        return
    if name == "legal":
        if lang not in (None, "eng", "en"):
            raise TokkitError(f"the legal corpus is English only, not {lang!r}")
        for p in _split_files(corpora_dir() / "legal", "spdx_", split):
            for row in _read_jsonl(p):
                yield row["text"]
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
            files = _split_files(d, "", split)
        for p in files:
            for row in _read_jsonl(p):
                yield row["text"]
        return
    raise TokkitError(f"unknown corpus {name!r}{_suggest(name, list(BUNDLED + CACHED))} "
                      f"(known: {', '.join(BUNDLED + CACHED)})")


def corpus_text(name: str, lang: str | None = None, split: str = "train", sep: str = "\n\n") -> str:
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
