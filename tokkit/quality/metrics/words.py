"""Word-level metrics in context: the token boundaries of a full-text encode, mapped onto words.

A word of byte span [s, e) is covered by 1 + (number of token ends strictly inside it) tokens:
the tokens partition the text's bytes, so this is exact, and one ``searchsorted`` over global
(text base + in-text) offsets does every word of every language at once.
"""

from __future__ import annotations

import numpy as np

DEFINITIONS = {
    "words": ("words", "sum over the set", "words from the segmenter (see segmentation per text set)"),
    "fertility": ("tokens / word", "mean over the words of the set",
                  "tokens overlapping each word in a full-text encode"),
    "tokens_per_word": ("tokens / word", "ratio of sums over the set",
                        "all tokens (punctuation, spaces too) / words"),
    "pcw": ("share of words", "mean over the words of the set", "proportion of continued words: words in 2+ tokens"),
    "strr": ("share of word types", "over the distinct words of the set",
             "word types every occurrence of which is one token"),
}


def word_token_counts(batch, enc) -> np.ndarray:
    """Tokens covering each word of ``batch.words`` (int64, one per word)."""
    w = batch.words
    if not len(w):
        return np.zeros(0, np.int64)
    gends = enc.ends + batch.base[enc.text_of_token]
    # ends are non-decreasing within a text and texts are consecutive: globally sorted
    gs = w.starts + batch.base[w.text_index]
    ge = w.ends + batch.base[w.text_index]
    return np.searchsorted(gends, ge, "left") - np.searchsorted(gends, gs, "right") + 1


def word_metrics(batch, enc) -> dict[str, np.ndarray]:
    w = batch.words
    n = batch.n_sets
    counts = word_token_counts(batch, enc)
    set_of_word = batch.set_of_text[w.text_index] if len(w) else np.zeros(0, np.int64)
    words = np.bincount(set_of_word, minlength=n).astype(float)
    tokens = np.bincount(batch.set_of_text, weights=enc.lengths, minlength=n)
    split = counts > 1
    split_types = np.bincount(w.type_ids, weights=split, minlength=len(w.types)) if len(w) else np.zeros(0)
    whole_types = np.bincount(batch.set_of_type, weights=split_types == 0, minlength=n)
    n_types = np.bincount(batch.set_of_type, minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "words": words,
            "fertility": np.bincount(set_of_word, weights=counts, minlength=n) / words,
            "tokens_per_word": tokens / words,
            "pcw": np.bincount(set_of_word, weights=split, minlength=n) / words,
            "strr": whole_types / n_types,
        }
