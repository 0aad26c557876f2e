"""Assemble a quality report: load tokenizers, build the text batch, encode once per tokenizer,
run every metric, and return one JSON-able dict (the schema in :mod:`tokkit.quality.schema`)."""

from __future__ import annotations

import datetime as _dt
import math
import platform
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

import numpy as np

from .. import __version__
from ..errors import TokkitError
from .batch import Batch, build_batch
from .encode import encode_texts
from .inputs import (LoadedTokenizer, Problem, TextSet, load_tokenizer, parse_tokenizer_arg, resolve_udhr_lang,
                     text_sets)
from .metrics import audit as A
from .metrics import compression as C
from .metrics import information as I
from .metrics import linguistic as LG
from .metrics import parity as P
from .metrics import words as W
from .schema import SCHEMA, SCHEMA_VERSION, metric_definitions

#: bounds of the numeric report options (the CLI's ranges are the same)
MAX_ALPHA = 100.0
MIN_BOOT, MAX_BOOT = 10, 100_000
EXAMPLE_LANGS = ("eng", "tur", "deu_1996", "rus", "hin", "arb", "cmn_hans", "jpn", "tha", "mya")


@dataclass
class ReportOptions:
    pivot: str = "eng"  # pivot language of the premiums (aligned corpora)
    baseline: str | None = None  # tokenizer name for the normalised sequence length (default: the first)
    alpha: float = 2.5  # Rényi order
    n_boot: int = 1000
    ci: float = 0.95
    seed: int = 0
    linguistic: bool | None = None  # None: on when the report has at most 20 text sets
    audit: bool = True
    examples: int = 6
    max_order: int = 3
    example_langs: tuple[str, ...] = EXAMPLE_LANGS

    def validate(self) -> "ReportOptions":
        """Refuse values that would give no answer or a wrong one (one line naming the option)."""
        checks = [("alpha", lambda v: 0 < v <= MAX_ALPHA and v != 1,
                   f"the Renyi order lies in (0, {MAX_ALPHA:g}] and is not 1 (order 1 is the Shannon entropy)"),
                  ("n_boot", lambda v: MIN_BOOT <= v <= MAX_BOOT, f"from {MIN_BOOT} to {MAX_BOOT}"),
                  ("ci", lambda v: 0 < v < 1, "a level between 0 and 1"),
                  ("seed", lambda v: 0 <= v < 2 ** 32, "from 0 to 2**32 - 1"),
                  ("examples", lambda v: 0 <= v <= 100, "from 0 to 100"),
                  ("max_order", lambda v: 1 <= v <= 8, "from 1 to 8")]
        for name, ok, want in checks:
            value = getattr(self, name)
            kinds = (int, float) if name in ("alpha", "ci") else int
            if isinstance(value, bool) or not isinstance(value, kinds) or not ok(value):  # NaN fails ok
                raise TokkitError(f"{name}: {value!r} is out of range ({want})")
        return self


def _clean(x):
    """numpy scalars -> Python, NaN/inf -> None (JSON has no NaN)."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if isinstance(x, (np.floating, float)):
        f = float(x)
        return None if math.isnan(f) or math.isinf(f) else round(f, 6)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def _display_name(name: str) -> str:
    """A tokenizer's name as a one-line label: control characters (a newline, ESC) as escapes."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in name) or "unnamed"


def _example_pieces(tok, text: str) -> list[dict]:
    """The text cut at token boundaries; a cut inside a character joins the pieces around it."""
    enc = encode_texts(tok, [text])
    raw = text.encode("utf-8")
    pieces, start, pending = [], 0, 0
    for e in enc.ends.tolist():
        pending += 1
        try:
            s = raw[start:e].decode("utf-8")
        except UnicodeDecodeError:
            continue
        pieces.append({"t": s, "n": pending})
        start, pending = e, 0
    if start < len(raw) or pending:
        pieces.append({"t": raw[start:].decode("utf-8", "replace"), "n": max(pending, 1)})
    return pieces


def _pick_examples(sets, opts: ReportOptions) -> list[int]:
    chosen = []
    for key in opts.example_langs:
        for k, s in enumerate(sets):
            if s.lang == key and k not in chosen:
                chosen.append(k)
                break
    for k in range(len(sets)):
        if len(chosen) >= opts.examples:
            break
        if k not in chosen:
            chosen.append(k)
    return chosen[: opts.examples]


def _snippet(text: str, limit: int = 220) -> str:
    lines = text.split("\n")
    s = "\n".join(lines[:2])
    return s if len(s) <= limit else s[:limit]


@dataclass
class _Texts:
    """The text side of a report: the corpus specs asked for, the pivot's UDHR entry, the text
    sets and their batch (texts segmented into words once)."""

    corpora: list[str]
    pivot_entry: dict | None
    sets: list[TextSet]
    batch: Batch


@dataclass
class _Measured:
    """Per tokenizer name: metric rows (one value per text set; ``_lengths`` is tokens per text),
    audit extras, and the tokens kept for the linguistic step (when it runs)."""

    rows: dict[str, dict[str, np.ndarray]]
    extras: dict[str, dict]
    encoded: dict[str, SimpleNamespace]


def _gather_texts(corpora: list[str] | None, langs: list[str] | None, opts: ReportOptions,
                  problems: list[Problem], timing: dict) -> _Texts:
    """Read the text sets (the pivot added to the UDHR languages) and segment them into words."""
    t0 = time.perf_counter()
    corpora = list(corpora or ["udhr"])
    want_langs = list(langs) if langs else None
    pivot_entry = None
    if "udhr" in corpora:
        try:
            pivot_entry = resolve_udhr_lang(opts.pivot)
        except TokkitError as err:
            problems.append(Problem(f"pivot {opts.pivot}", f"unknown pivot language: {err}"))
        if want_langs is not None and pivot_entry is not None:
            want_langs = want_langs + [pivot_entry["key"]]
    sets = text_sets(corpora, want_langs, problems)
    timing["read_corpora_s"] = time.perf_counter() - t0
    if not sets:
        raise TokkitError("no text to evaluate: " + "; ".join(f"{p.where}: {p.problem}" for p in problems))
    t0 = time.perf_counter()
    batch = build_batch(sets)
    timing["segment_words_s"] = time.perf_counter() - t0
    return _Texts(corpora, pivot_entry, sets, batch)


def _load_tokenizers(tokenizers: list[str], problems: list[Problem], timing: dict,
                     say: Callable[[str, int, int], None]) -> list[LoadedTokenizer]:
    """Every tokenizer argument loaded (or with its error), under a unique display name."""
    loaded: list[LoadedTokenizer] = []
    names_seen: set[str] = set()
    t0 = time.perf_counter()
    for k, arg in enumerate(tokenizers):
        say("load", k, len(tokenizers))
        name, path = parse_tokenizer_arg(arg)
        name = _display_name(name)
        base, n = name, 2
        while name in names_seen:
            name, n = f"{base}-{n}", n + 1
        names_seen.add(name)
        lt = load_tokenizer(name, path)
        if lt.error:
            problems.append(Problem(f"tokenizer {name}", f"not loaded: {lt.error}"))
        loaded.append(lt)
    timing["load_tokenizers_s"] = time.perf_counter() - t0
    if not any(lt.tokenizer is not None for lt in loaded):
        raise TokkitError("no tokenizer could be loaded: " + "; ".join(lt.error or "" for lt in loaded))
    return loaded


def _corpus_metrics(lt: LoadedTokenizer, batch: Batch, opts: ReportOptions,
                    keep_tokens: bool) -> tuple[dict, SimpleNamespace | None, float, float]:
    """Encode every text once and compute the per-set compression, word and information metrics:
    (metric row, the tokens kept for the linguistic step or None, encode seconds, metric seconds)."""
    tok = lt.tokenizer
    t0 = time.perf_counter()
    enc = encode_texts(tok, batch.texts, batch.text_bytes)
    t_enc = time.perf_counter() - t0
    lt.info["offsets"] = {"exact_texts": int(enc.offsets_exact.sum()), "texts": len(batch.texts),
                          "verified_bytes_texts": enc.verified, "check": enc.check}
    lt.info["encode_seconds"] = round(enc.seconds, 3)
    t0 = time.perf_counter()
    m = {}
    m.update(C.compression(batch, enc, tok.vocab.unk_id))
    m.update(W.word_metrics(batch, enc))
    m.update(I.information(batch, enc, tok.vocab.size, alpha=opts.alpha, max_order=opts.max_order))
    m["_lengths"] = enc.lengths
    lt.info["utilization_pooled"] = I.pooled_utilization(enc, tok.vocab.size)
    # what the linguistic step needs, not the per-token text index
    kept = SimpleNamespace(ids=enc.ids, ends=enc.ends, lengths=enc.lengths) if keep_tokens else None
    del enc
    return m, kept, t_enc, time.perf_counter() - t0


def _audit(lt: LoadedTokenizer, problems: list[Problem]) -> dict:
    """The vocabulary audit and digit policy; a failure is reported, never raised."""
    tok = lt.tokenizer
    ex: dict = {}
    try:
        ex["audit"] = A.audit_vocabulary(tok)
    except Exception as err:  # noqa: BLE001 - an audit that fails on a strange vocabulary is reported
        ex["audit"] = {"error": f"{type(err).__name__}: {err}"}
        problems.append(Problem(f"tokenizer {lt.name}", f"vocabulary audit failed: {err}"))
    try:
        ex["digits"] = A.digit_policy(tok)
    except Exception as err:  # noqa: BLE001
        ex["digits"] = {"policy": None, "error": f"{type(err).__name__}: {err}"}
    und = ex["audit"].get("undecodable") or 0
    if und:
        shown = ", ".join(f"{e['id']}" for e in ex["audit"]["undecodable_examples"][:5])
        problems.append(Problem(f"tokenizer {lt.name}", f"{und} ids do not decode to their own bytes (ids {shown}...)"))
    return ex


def _measure(ok: list[LoadedTokenizer], batch: Batch, opts: ReportOptions, linguistic_on: bool,
             problems: list[Problem], timing: dict, say: Callable[[str, int, int], None]) -> _Measured:
    """Per tokenizer, in order: encode + corpus metrics, then the audit (when on)."""
    out = _Measured({}, {}, {})
    t_enc = t_met = t_aud = 0.0
    for k, lt in enumerate(ok):
        say("encode", k, len(ok))
        m, kept, dt_enc, dt_met = _corpus_metrics(lt, batch, opts, linguistic_on)
        t_enc += dt_enc
        t_met += dt_met
        out.rows[lt.name] = m
        if kept is not None:
            out.encoded[lt.name] = kept
        ex: dict = {}
        if opts.audit:
            t0 = time.perf_counter()
            ex = _audit(lt, problems)
            t_aud += time.perf_counter() - t0
        out.extras[lt.name] = ex
    timing["encode_s"] = t_enc
    timing["metrics_s"] = t_met
    timing["audit_s"] = t_aud
    return out


def _normalized_lengths(rows: dict, names: list[str], opts: ReportOptions, problems: list[Problem]) -> str:
    """Add ``nsl`` (tokens / the baseline tokenizer's tokens) to every row; the baseline's name."""
    baseline = opts.baseline if opts.baseline in rows else names[0]
    if opts.baseline and opts.baseline not in rows:
        problems.append(Problem(f"baseline {opts.baseline}", f"not among the tokenizers; using {baseline}"))
    for name in names:
        with np.errstate(divide="ignore", invalid="ignore"):
            rows[name]["nsl"] = rows[name]["tokens"] / rows[baseline]["tokens"]
    return baseline


def _parity_section(texts: _Texts, rows: dict, names: list[str], opts: ReportOptions,
                    problems: list[Problem]) -> list[dict]:
    """Premiums (into the rows, per set) and the Gini per aligned corpus against the pivot."""
    sets, batch, pivot_entry = texts.sets, texts.batch, texts.pivot_entry
    parity_out = []
    for cname in sorted({s.corpus for s in sets if s.aligned}):
        idx = [k for k, s in enumerate(sets) if s.corpus == cname and s.aligned]
        units = {len(sets[k].texts) for k in idx}
        if len(units) != 1:
            problems.append(Problem(cname, "aligned text sets have different numbers of units: no parity"))
            continue
        piv = next((k for k in idx if pivot_entry is not None and sets[k].lang == pivot_entry["key"]), None)
        if piv is None:
            problems.append(Problem(cname, f"pivot {opts.pivot} not in the report: no premiums"))
            continue
        entry = {"corpus": cname, "pivot": sets[piv].lang, "languages": len(idx), "units": units.pop(),
                 "n_boot": opts.n_boot, "ci": opts.ci, "seed": opts.seed, "tokenizers": {}}
        for name in names:
            counts = P.unit_matrix(batch, rows[name]["_lengths"], idx)
            res = P.parity(counts, idx.index(piv), n_boot=opts.n_boot, seed=opts.seed, ci=opts.ci)
            for key in ("premium", "premium_ci_low", "premium_ci_high"):
                col = rows[name].setdefault(key, np.full(len(sets), np.nan))
                col[idx] = res[key]
            entry["tokenizers"][name] = {"gini": res["gini"], "gini_ci": res["gini_ci"]}
        parity_out.append(entry)
    return parity_out


def _compound_recall(batch: Batch, wsl: slice, enc: SimpleNamespace) -> dict:
    """German: compound split points that are token boundaries, over the set's capitalised words
    of six letters or more (words ``wsl`` of the batch)."""
    words = batch.words
    spans = []
    for j in range(wsl.start, wsl.stop):
        w = words.types[words.type_ids[j]]
        if len(w) >= 6 and w[0].isupper():
            spans.append((w, int(words.text_index[j]), int(words.starts[j]), int(words.ends[j])))
    bounds = np.concatenate([[0], np.cumsum(enc.lengths)])
    ends_by_text = {}
    for _, ti, _, _ in spans:
        if ti not in ends_by_text:
            ends_by_text[ti] = enc.ends[bounds[ti]:bounds[ti + 1]]
    return LG.compound_recall(spans, ends_by_text)


def _linguistic_section(texts: _Texts, encoded: dict[str, SimpleNamespace],
                        ok: list[LoadedTokenizer]) -> list[dict]:
    """Lexicon and morphology rows per (text set, tokenizer)."""
    sets, batch = texts.sets, texts.batch
    names = [lt.name for lt in ok]
    by_name = {lt.name: lt.tokenizer for lt in ok}
    # texts of a set are consecutive, and so are their tokens and words: slices, not masks
    first_text = np.concatenate([[0], np.cumsum([len(x.texts) for x in sets])])
    word_cut = np.searchsorted(batch.words.text_index, first_text)
    tok_bounds = {name: np.concatenate([[0], np.cumsum(encoded[name].lengths)]) for name in names}
    out = []
    for k, s in enumerate(sets):
        iso3 = s.iso639_3
        wsl = slice(int(word_cut[k]), int(word_cut[k + 1]))
        word_list = [batch.words.types[t] for t in np.unique(batch.words.type_ids[wsl]).tolist()]
        for name in names:
            enc = encoded[name]
            tb = tok_bounds[name]
            ids = enc.ids[int(tb[first_text[k]]):int(tb[first_text[k + 1]])]
            row = {"tokenizer": name, "corpus": s.corpus, "lang": s.lang, "iso639_3": iso3}
            try:
                row.update(LG.linguistic_for_set(by_name[name], ids, iso3, word_list))
            except Exception as err:  # noqa: BLE001 - a failing optional analyser must not sink the report
                row["error"] = f"{type(err).__name__}: {err}"
            if iso3 == "deu":
                status = LG.german_status()
                if status:
                    row["compound_unavailable"] = status
                else:
                    row.update(_compound_recall(batch, wsl, enc))
            out.append(row)
    return out


def _examples_section(sets: list[TextSet], ok: list[LoadedTokenizer], opts: ReportOptions) -> list[dict]:
    """A snippet of a few text sets cut at each tokenizer's token boundaries."""
    examples = []
    for k in _pick_examples(sets, opts):
        if not sets[k].texts:
            continue
        snippet = _snippet(sets[k].texts[0])
        ex = {"corpus": sets[k].corpus, "lang": sets[k].lang, "name": sets[k].name, "script": sets[k].script,
              "text": snippet, "tokenizers": {}}
        for lt in ok:
            ex["tokenizers"][lt.name] = _example_pieces(lt.tokenizer, snippet)
        examples.append(ex)
    return examples


def _set_sizes(batch: Batch) -> tuple[list[int], list[int]]:
    """UTF-8 bytes and characters per text set."""
    return (batch.per_set(batch.nbytes).astype(np.int64).tolist(),
            batch.per_set(batch.nchars).astype(np.int64).tolist())


def _per_language(texts: _Texts, rows: dict, names: list[str]) -> list[dict]:
    """One row per (tokenizer, text set) with every metric."""
    set_bytes, set_chars = _set_sizes(texts.batch)
    metric_names = [m for m in rows[names[0]] if not m.startswith("_")]
    out = []
    for name in names:
        for k, s in enumerate(texts.sets):
            r = {"tokenizer": name, "corpus": s.corpus, "lang": s.lang, "tag": s.tag, "script": s.script,
                 "bytes": set_bytes[k], "chars": set_chars[k]}
            for mname in metric_names:
                r[mname] = rows[name][mname][k]
            out.append(r)
    return out


def _per_tokenizer(batch: Batch, ok: list[LoadedTokenizer], measured: _Measured, baseline: str,
                   parity_out: list[dict]) -> list[dict]:
    """One row per tokenizer: metrics pooled over every text (or averaged over text sets)."""
    rows = measured.rows
    total_bytes = float(batch.nbytes.sum())
    total_chars = float(batch.nchars.sum())
    out = []
    for lt in ok:
        m = rows[lt.name]
        tokens = float(np.nansum(m["tokens"]))
        prem = m.get("premium")
        out.append({
            "tokenizer": lt.name, "vocab_size": lt.tokenizer.vocab.size, "tokens": tokens,
            "bytes_per_token": total_bytes / tokens if tokens else None,
            "chars_per_token": total_chars / tokens if tokens else None,
            "tokens_per_char": tokens / total_chars if total_chars else None,
            "nsl": tokens / float(np.nansum(rows[baseline]["tokens"])),
            "unk_share": float(np.nansum(m["unk_share"] * m["tokens"])) / tokens if tokens else None,
            "fertility_mean": float(np.nanmean(m["fertility"])) if np.isfinite(m["fertility"]).any() else None,
            "pcw_mean": float(np.nanmean(m["pcw"])) if np.isfinite(m["pcw"]).any() else None,
            "entropy_mean": float(np.nanmean(m["entropy"])),
            "renyi_efficiency_mean": float(np.nanmean(m["renyi_efficiency"])),
            "utilization": lt.info.get("utilization_pooled"),
            "premium_median": float(np.nanmedian(prem)) if prem is not None and np.isfinite(prem).any() else None,
            "gini": next((p["tokenizers"][lt.name]["gini"] for p in parity_out), None),
            "digit_policy": (measured.extras[lt.name].get("digits") or {}).get("policy"),
        })
    return out


def _corpora_info(texts: _Texts, rows: dict, names: list[str]) -> list[dict]:
    """Provenance of each text set."""
    set_bytes, set_chars = _set_sizes(texts.batch)
    return [{"corpus": s.corpus, "lang": s.lang, "tag": s.tag, "iso639_3": s.iso639_3, "name": s.name,
             "script": s.script, "texts": len(s.texts), "aligned": s.aligned, "sha256": s.sha256,
             "segmentation": s.segmentation, "bytes": set_bytes[k], "chars": set_chars[k],
             "words": int(rows[names[0]]["words"][k])}
            for k, s in enumerate(texts.sets)]


def _settings(texts: _Texts, langs: list[str] | None, opts: ReportOptions, baseline: str,
              linguistic_on: bool) -> dict:
    """Every setting the numbers depend on (provenance)."""
    return {
        "pivot": texts.pivot_entry["key"] if texts.pivot_entry else opts.pivot, "baseline": baseline,
        "alpha": opts.alpha, "vocab_size_for_renyi": "declared", "n_boot": opts.n_boot, "ci": opts.ci,
        "seed": opts.seed, "linguistic": linguistic_on, "max_order": opts.max_order, "corpora": texts.corpora,
        "langs": langs, "special_tokens": "none added (no BOS/EOS)",
    }


def build_report(tokenizers: list[str], corpora: list[str] | None = None, langs: list[str] | None = None,
                 options: ReportOptions | None = None,
                 progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Evaluate ``tokenizers`` (paths, ``NAME=PATH`` or known short names) on ``corpora``
    (``udhr``, another corpus name, ``FILE:LANG``; default udhr) restricted to ``langs``."""
    opts = (options or ReportOptions()).validate()
    t_start = time.perf_counter()
    timing: dict = {}
    problems: list[Problem] = []
    say = progress or (lambda stage, done, total: None)
    if not tokenizers:
        raise TokkitError("no tokenizer given")

    texts = _gather_texts(corpora, langs, opts, problems, timing)
    loaded = _load_tokenizers(tokenizers, problems, timing, say)
    ok = [lt for lt in loaded if lt.tokenizer is not None]
    names = [lt.name for lt in ok]
    linguistic_on = opts.linguistic if opts.linguistic is not None else len(texts.sets) <= 20
    measured = _measure(ok, texts.batch, opts, linguistic_on, problems, timing, say)
    baseline = _normalized_lengths(measured.rows, names, opts, problems)
    t0 = time.perf_counter()
    parity_out = _parity_section(texts, measured.rows, names, opts, problems)
    timing["parity_s"] = time.perf_counter() - t0
    linguistic_rows = []
    if linguistic_on:
        t0 = time.perf_counter()
        linguistic_rows = _linguistic_section(texts, measured.encoded, ok)
        timing["linguistic_s"] = time.perf_counter() - t0
    examples = _examples_section(texts.sets, ok, opts)
    overlap = A.overlap({lt.name: lt.tokenizer.vocab for lt in ok}) if opts.audit and len(ok) > 1 else None

    for lt in ok:
        lt.info.update(measured.extras[lt.name])  # audit and digit policy after the provenance
    report = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "tokkit", "version": __version__, "python": platform.python_version()},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "settings": _settings(texts, langs, opts, baseline, linguistic_on),
        "metric_definitions": metric_definitions(),
        "tokenizers": [lt.info for lt in loaded],
        "corpora": _corpora_info(texts, measured.rows, names),
        "per_tokenizer": _per_tokenizer(texts.batch, ok, measured, baseline, parity_out),
        "per_language": _per_language(texts, measured.rows, names),
        "parity": parity_out,
        "linguistic": linguistic_rows,
        "overlap": overlap,
        "examples": examples,
        "problems": [p.as_dict() for p in problems],
        "timing": timing,
    }
    timing["total_s"] = time.perf_counter() - t_start
    return _clean(report)
