"""The language gate: how much a new token trusts MiniLM (an English model).

:func:`english_share` says how English each token is; :func:`gated` blends a MiniLM-based recipe
(OMP in the aux space) with FVT by that share. Hybrid scales its global (MiniLM-neighbour) part by
it (``hybrid.py``). Measured in docs/transplant.md.
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from ..tokenizer import Tokenizer
from .recipe import CONSTANT, Recipe

_EN_WORDS = r"\b(?:the|and|of|to|or|this|that|shall)\b"
_OTHER_WORDS = r"\b(?:und|der|die|das|le|la|les|et|des|du|el|los|que|di|il|che|och|van|het|een)\b"

#: words per language taken from wordfreq's lists for the gate (the most frequent ones)
GATE_WORDS = 30000


@functools.lru_cache(maxsize=4)
def _gate_texts(exclude: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(English, other-language) reference texts of :func:`english_share`, read once per process."""
    import re

    from .. import corpora

    legal = [t for t in corpora.open_corpus("legal", split="train")
             if len(re.findall(_EN_WORDS, t)) > 3 * len(re.findall(_OTHER_WORDS, t))]
    skip = {"eng", *exclude}
    other = [t for e in corpora.udhr_languages() if e["iso639_3"] not in skip for t in corpora.udhr(e["key"])]
    return legal + corpora.udhr("eng"), other


@functools.lru_cache(maxsize=1)
def _gate_words(n: int = GATE_WORDS) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, int]:
    """wordfreq's ``n`` most frequent words in each of its languages, as (distinct forms, then per
    (language, form) entry: form index, language index, word frequency; index of English). Each
    word counts twice at half its frequency, as " word" and " Word" (German nouns are capitalised
    and wordfreq lowercases). Built once (a few seconds) and cached on disk."""
    from importlib.metadata import version

    from ..io import atomic_path, cache_dir

    path = cache_dir() / "gate" / f"wordfreq-{version('wordfreq')}-{n}.npz"
    if path.exists():
        z = np.load(path)
        return (bytes(z["forms"]).decode().split("\n"), z["form"], z["lang"], z["weight"], int(z["en"]))
    out = _read_wordfreq(n)
    forms = out[0]
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, forms=np.frombuffer("\n".join(forms).encode(), np.uint8), form=out[1], lang=out[2],
                     weight=out[3], en=out[4])
    return out


def _read_wordfreq(n: int) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, int]:
    """:func:`_gate_words` from wordfreq's lists (no cache)."""
    import wordfreq

    langs = sorted(wordfreq.available_languages(wordlist="best"))
    index: dict[str, int] = {}
    form, lang, weight = [], [], []
    for li, code in enumerate(langs):
        # the list is bucketed by centibels: bucket i holds the words of frequency 10^(-i/100)
        words, freqs = [], []
        for i, bucket in enumerate(wordfreq.get_frequency_list(code, wordlist="best")):
            words += bucket
            freqs += [10 ** (-i / 100) / 2] * len(bucket)
            if len(words) >= n:
                break
        for w, f in zip(words[:n], freqs[:n]):
            if "\n" in w:  # the cache joins the forms with newlines
                continue
            for x in (" " + w, " " + w[:1].upper() + w[1:]):
                form.append(index.setdefault(x, len(index)))
                lang.append(li)
                weight.append(f)
    return (list(index), np.asarray(form, np.int64), np.asarray(lang, np.int64), np.asarray(weight),
            langs.index("en"))


def english_share(tok: Tokenizer, exclude: Sequence[str] = ()) -> np.ndarray:
    """[V] in (0, 1): how English each token of ``tok`` is, P_en / (P_en + P_other).

    Two references, averaged on each side: (1) text: the token's add-0.5-smoothed frequency when
    ``tok`` encodes English text (the English UDHR and the English documents of the bundled legal
    train split) and other-language text (the UDHR in every other language but ``exclude``);
    (2) words: its frequency when ``tok`` encodes the 30,000 most frequent words of each of
    wordfreq's 42 languages, weighted by word frequency, English against the mean of the other
    41 (so a German word is known as German even when ``exclude`` keeps the German UDHR out).
    0.5 for a token seen in neither. A licence counts as English when English function words
    outnumber others threefold (a few licences are German or French; a crude test, enough to
    keep them out)."""
    english, other = _gate_texts(tuple(sorted(exclude)))
    size = tok.vocab.size

    def freq(texts):
        ids, _ = tok.encode_batch_flat(texts, special="text")
        return np.bincount(ids.astype(np.int64), minlength=size).astype(np.float64)

    fe, fo = freq(english), freq(other)
    we, wo = _word_shares(tok)
    pe = ((fe + 0.5) / fe.sum() + we) / 2
    po = ((fo + 0.5) / fo.sum() + wo) / 2
    return np.where(fe + fo + we + wo > 0, pe / (pe + po), 0.5).astype(np.float32)


def _word_shares(tok: Tokenizer) -> tuple[np.ndarray, np.ndarray]:
    """([V] token frequencies in English words, [V] their mean over the other languages), from
    wordfreq's lists encoded by ``tok`` (each distinct word form once)."""
    import scipy.sparse as sp

    size = tok.vocab.size
    forms, form, lang, weight, en = _gate_words()
    ids, lens = tok.encode_batch_flat(forms, special="text")
    rows = np.repeat(np.arange(len(forms)), lens.astype(np.int64))
    counts = sp.csr_matrix((np.ones(len(ids)), (rows, ids.astype(np.int64))), shape=(len(forms), size))
    # [language, form] word frequencies times [form, token] counts: each language's token frequencies
    mix = sp.csr_matrix((weight, (lang, form)), shape=(int(lang.max()) + 1, len(forms)))
    table = (mix @ counts).toarray()
    table /= np.maximum(table.sum(1, keepdims=True), 1e-300)
    return table[en], np.delete(table, en, axis=0).mean(0)


def gated(a: Recipe, fvt: Recipe, lam) -> Recipe:
    """Rows lam * a + (1 - lam) * fvt as one recipe (both parts' old ids and weights); rows where
    either side is not a weighted sum (no decomposition, a constant) stay as ``a`` made them."""
    lam = np.asarray(lam, dtype=np.float32).copy()
    for r, (h1, h2) in enumerate(zip(a.how, fvt.how)):
        if h1 in CONSTANT or h2 != "fvt":
            lam[r] = 1.0
    ids = np.concatenate([a.ids, fvt.ids], axis=1)
    w = np.concatenate([a.weights * lam[:, None], fvt.weights * (1 - lam)[:, None]], axis=1)
    return Recipe(ids, w.astype(np.float32), list(a.how))
