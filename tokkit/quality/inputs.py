"""Report inputs: tokenizers (any format tokkit reads) and text sets (corpus x language).

Problems with an input (a language the corpus does not have, an empty file, a tokenizer that
does not load) do not stop a report: they are collected as ``problems`` and written into it.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..corpora import udhr_entry
from ..errors import TokkitError


@dataclass
class Problem:
    where: str
    problem: str

    def as_dict(self) -> dict:
        return {"where": self.where, "problem": self.problem}


@dataclass
class TextSet:
    """Texts of one language from one corpus. ``aligned``: unit k of every aligned text set of
    the same corpus is a translation of the same text (UDHR articles)."""

    corpus: str
    lang: str  # the corpus's key (UDHR declaration key) or the tag the user gave
    iso639_3: str | None
    tag: str  # BCP 47-like tag
    name: str
    script: str
    texts: list[str]
    aligned: bool = False
    sha256: str = ""
    segmentation: str = ""

    @property
    def id(self) -> str:
        return f"{self.corpus}:{self.lang}"


@dataclass
class LoadedTokenizer:
    name: str
    source: str
    tokenizer: object | None
    info: dict = field(default_factory=dict)
    error: str | None = None


def _sha_texts(texts: list[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        b = t.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


# -- languages -----------------------------------------------------------------------------------
def _udhr_index() -> list[dict]:
    from .. import corpora

    return corpora.udhr_languages()


#: the UDHR index entry for a key, an ISO 639-3 code, a BCP 47 tag or an ISO 639-1 code: the
#: corpus API's own resolver, so a report and ``corpora.udhr`` open the same declaration
resolve_udhr_lang = udhr_entry


def iso3_of(tag: str) -> str | None:
    """ISO 639-3 code of a language tag, where the UDHR index knows it."""
    try:
        return resolve_udhr_lang(tag)["iso639_3"]
    except TokkitError:
        return None


# -- text sets -----------------------------------------------------------------------------------
def udhr_sets(langs: list[str] | None, problems: list[Problem]) -> list[TextSet]:
    from .. import corpora

    entries = []
    if langs is None:
        entries = _udhr_index()
    else:
        seen = set()
        for lang in langs:
            try:
                e = resolve_udhr_lang(lang)
            except TokkitError as err:
                problems.append(Problem(f"udhr:{lang}", f"unknown language: {err}"))
                continue
            if e["key"] not in seen:
                seen.add(e["key"])
                entries.append(e)
    out = []
    for e in entries:
        texts = corpora.udhr(e["key"])
        out.append(TextSet("udhr", e["key"], e["iso639_3"], e["bcp47"], e["name"], e["script"], texts,
                           aligned=True, sha256=e["sha256"]))
    return out


def named_sets(name: str, langs: list[str] | None, problems: list[Problem], split: str = "heldout") -> list[TextSet]:
    """A bundled or cached corpus other than the UDHR (held-out split: never training text)."""
    from .. import corpora
    from .scripts import dominant_script

    try:
        available = corpora.corpus_languages(name)
    except TokkitError as err:
        problems.append(Problem(name, str(err)))
        return []
    targets: list[str | None]
    if available:
        targets = [x for x in (langs or available)]
    else:
        targets = [None]
    out = []
    for lang in targets:
        where = f"{name}:{lang}" if lang else name
        try:
            texts = [t for t in corpora.open_corpus(name, lang=lang, split=split) if t]
        except TokkitError as err:
            problems.append(Problem(where, str(err)))
            continue
        if not texts:
            problems.append(Problem(where, "no text"))
            continue
        tag = lang or ("en" if name in ("legal", "kjv", "kernel-docs") else "zxx")
        sample = "".join(texts[:20])[:20000]
        out.append(TextSet(name, tag, iso3_of(tag) if tag != "zxx" else None, tag, name, dominant_script(sample),
                           texts, sha256=_sha_texts(texts)))
    return out


def _read_user_file(spec: str) -> list[str]:
    """The texts of a FILE:LANG corpus, read by :mod:`tokkit.readers` like every corpus input
    (FILE may be a glob, a directory of shards or a ``save_to_disk`` folder): a record format
    (JSONL, Parquet, Arrow) gives the non-empty ``text`` of each record; plain text one text per
    non-blank line (any line break of ``str.splitlines``, the ending dropped)."""
    from ..readers import expand

    out: list[str] = []
    for sh in expand(spec):
        if sh.is_record:
            out += [t for t in sh.texts(hint=False) if t]
        else:
            out += [unit for line in sh.texts(hint=False) for unit in line.splitlines() if unit.strip()]
    return out


def _problem(err: TokkitError, path: Path) -> str:
    """An error about ``path`` without the path (it is the problem's ``where``)."""
    return getattr(err, "problem", None) or str(err).removeprefix(f"{path}: ")


def file_set(spec: str, problems: list[Problem]) -> TextSet | None:
    """``FILE:LANG`` (the language tag is required: metrics like %TR depend on it)."""
    from .scripts import dominant_script

    path_s, _, lang = spec.rpartition(":")
    if not path_s or not lang:
        problems.append(Problem(spec, "a corpus file needs a language tag: FILE:LANG"))
        return None
    path = Path(path_s)
    try:
        texts = _read_user_file(path_s)
    except TokkitError as err:
        problems.append(Problem(path_s, _problem(err, path)))
        return None
    if not texts:
        problems.append(Problem(path_s, "empty file: no text to evaluate"))
        return None
    iso = iso3_of(lang)
    if iso is None:
        problems.append(Problem(path_s, f"unknown language tag {lang!r}: language-specific metrics skipped"))
    return TextSet(path_s, lang, iso, lang, path.name, dominant_script("".join(texts)[:20000]), texts,
                   sha256=_sha_texts(texts))


def text_sets(corpora_specs: list[str], langs: list[str] | None, problems: list[Problem]) -> list[TextSet]:
    from .. import corpora as C

    out: list[TextSet] = []
    for spec in corpora_specs or ["udhr"]:
        if spec == "udhr":
            out += udhr_sets(langs, problems)
        elif spec in C.BUNDLED + C.CACHED:
            out += named_sets(spec, langs, problems)
        elif ":" in spec or os.path.exists(spec):
            ts = file_set(spec, problems)
            if ts is not None:
                out.append(ts)
        else:
            problems.append(Problem(spec, f"unknown corpus (known: {', '.join(C.BUNDLED + C.CACHED)}, "
                                          "or FILE:LANG)"))
    return out


# -- tokenizers ----------------------------------------------------------------------------------
def _known() -> dict[str, str]:
    from .. import assets

    try:
        return assets.pretrained_tokenizers()
    except TokkitError:
        return {}


def parse_tokenizer_arg(arg: str) -> tuple[str, str]:
    """``NAME=PATH``, a known short name (gpt2, llama3, cl100k...), or a path."""
    if "=" in arg and not os.path.exists(arg):
        name, _, path = arg.partition("=")
        return name, path
    if not os.path.exists(arg) and not arg.startswith("tiktoken:"):
        known = _known()
        if arg in known:
            return arg, known[arg]
    p = Path(arg)
    if arg.startswith("tiktoken:"):
        return arg.removeprefix("tiktoken:"), arg
    name = p.stem if p.is_file() else p.name
    if name in ("tokenizer", "tokenizer.model") or not name:
        name = p.parent.name or arg
    return name, arg


def vocab_sha256(vocab) -> str:
    import numpy as np

    h = hashlib.sha256()
    h.update(np.fromiter((len(t) for t in vocab.tokens), dtype="<u4", count=len(vocab.tokens)).tobytes())
    h.update(b"".join(vocab.tokens))
    h.update(np.asarray(vocab.merges, dtype="<i8").tobytes())
    return h.hexdigest()


def load_tokenizer(name: str, path: str) -> LoadedTokenizer:
    from ..io import sha256_file
    from ..tokenizer import Tokenizer
    from ..vocab import detect_format

    t0 = time.perf_counter()
    try:
        fmt = detect_format(path)
        tok = Tokenizer.from_file(path)
    except TokkitError as err:
        return LoadedTokenizer(name, path, None, {"name": name, "source": path, "status": "error"}, str(err))
    v = tok.vocab
    info = {
        "name": name, "source": path, "format": fmt, "status": "ok",
        "model": v.model.value, "vocab_size": v.size,
        "file_sha256": sha256_file(path) if os.path.isfile(path) else None,
        "vocab_sha256": vocab_sha256(v),
        "encoder": "native" if tok.native_unsupported is None else f"hf-tokenizers ({tok.native_unsupported})",
        "load_seconds": round(time.perf_counter() - t0, 3),
    }
    return LoadedTokenizer(name, path, tok, info)
