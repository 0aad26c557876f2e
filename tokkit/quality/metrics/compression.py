"""Compression: bytes, characters and tokens per text set (ratios of sums over the set)."""

from __future__ import annotations

import numpy as np

DEFINITIONS = {
    "tokens": ("tokens", "sum over the texts of the set", "tokens of a full-text encode, no BOS/EOS"),
    "bytes_per_token": ("UTF-8 bytes / token", "ratio of sums over the set", "higher = more compression"),
    "chars_per_token": ("code points / token", "ratio of sums over the set", "higher = more compression"),
    "tokens_per_char": ("tokens / code point", "ratio of sums over the set", "KL3M's measure; lower = better"),
    "nsl": ("tokens / baseline tokens", "ratio of sums over the set",
            "normalised sequence length against the baseline tokenizer on the same texts"),
    "unk_share": ("share of tokens", "over the tokens of the set",
                  "tokens that are the unknown token (text the tokenizer cannot represent; a low premium "
                  "with a high unk share is not efficiency)"),
}


def compression(batch, enc, unk_id: int | None = None) -> dict[str, np.ndarray]:
    tokens = np.bincount(batch.set_of_text, weights=enc.lengths, minlength=batch.n_sets)
    if unk_id is not None and len(enc.ids):
        unk = np.bincount(batch.set_of_text[enc.text_of_token], weights=enc.ids == unk_id, minlength=batch.n_sets)
    else:
        unk = np.zeros(batch.n_sets)
    nbytes = batch.per_set(batch.nbytes)
    nchars = batch.per_set(batch.nchars)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "tokens": tokens,
            "bytes_per_token": nbytes / tokens,
            "chars_per_token": nchars / tokens,
            "tokens_per_char": tokens / nchars,
            "unk_share": unk / tokens,
        }
