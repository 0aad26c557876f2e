"""Character-level BPE vs normal BPE under OCR-like noise: how well token boundaries stay aligned
between a noisy text and its clean original.

    .venv/bin/python eval/char_noise.py [--rates 0.02,0.05]

Noise: each ASCII letter or digit is replaced, with probability p, by a visually confusable ASCII
character (e<->c, l<->1, o<->0, i<->l, rn-like swaps excluded so lengths stay equal), else by a
random lowercase letter; byte offsets of clean and noisy text therefore coincide.

Measures (over the 77 held-out legal texts, encoded whole):
- boundary F1: the sets of token boundaries (byte offsets between tokens) of the clean and of
  the noisy encoding, compared as precision/recall;
- precision (the noisy encoding's boundaries that are clean ones: errors that add splits) and
  recall (clean boundaries kept);
- tokens per character of the clean text (the price of the small vocabulary).
Both tokenizers of a size are trained on the same corpus (the legal train split).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tokkit  # noqa: E402
from tokkit import assets, corpora  # noqa: E402
from tokkit.train import TrainOptions, train  # noqa: E402

CONFUSE = {"e": "c", "c": "e", "l": "1", "1": "l", "o": "0", "0": "o", "i": "l", "m": "n", "n": "m", "u": "v",
           "v": "u", "h": "b", "b": "h", "a": "o", "t": "f", "f": "t", "s": "5", "5": "s", "g": "q", "q": "g"}


def noisy(text: str, p: float, rng: random.Random) -> tuple[str, np.ndarray]:
    chars = list(text)
    changed = []
    pos = 0  # byte offset
    for i, ch in enumerate(chars):
        if ch.isascii() and ch.isalnum() and rng.random() < p:
            low = ch.lower()
            rep = CONFUSE.get(low) or rng.choice("abcdefghijklmnopqrstuvwxyz")
            chars[i] = rep.upper() if ch.isupper() and rep.isalpha() else rep
            changed.append(pos)
        pos += len(ch.encode())
    return "".join(chars), np.array(changed, dtype=np.int64)


def boundaries(tok, text: str) -> np.ndarray:
    ids = tok.encode(text)
    lens = np.array([len(tok.vocab.tokens[i]) for i in ids], dtype=np.int64)
    return np.cumsum(lens)[:-1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", default="0.02,0.05")
    args = ap.parse_args()
    held = list(corpora.open_corpus("legal", split="heldout"))
    chars = sum(len(t) for t in held)
    tmp = Path(tempfile.mkdtemp(prefix="tokkit-char-"))
    toks = []
    for size in (4096, 8192, 16384):
        c = train(TrainOptions(algo="char", vocab_size=size, min_frequency=2), ["corpus:legal"], tmp / f"c{size}")
        b = train(TrainOptions(algo="bpe", vocab_size=size), ["corpus:legal"], tmp / f"b{size}")
        toks.append((f"char BPE {size // 1024}k (max {3 if size <= 8192 else 4} chars)", tokkit.load(c.out)))
        toks.append((f"BPE {size // 1024}k", tokkit.load(b.out)))
    toks.append(("GPT-2 (50k)", tokkit.load(assets.pretrained_tokenizers()["gpt2"])))
    rates = [float(r) for r in args.rates.split(",")]
    head = " | ".join(f"F1 p={r:g} | P | R" for r in rates)
    print(f"held-out: {len(held)} legal texts, {chars:,} characters")
    print()
    print(f"| tokenizer | tokens/char | {head} |")
    print("|---|---|" + "---|---|---|" * len(rates))
    for name, tok in toks:
        n_tok = sum(map(len, tok.encode_batch(held)))
        cells = []
        for r in rates:
            rng = random.Random(1234)
            tp = fp = fn = 0
            for t in held:
                nt, changed = noisy(t, r, rng)
                a, b = boundaries(tok, t), boundaries(tok, nt)
                sa, sb = set(a.tolist()), set(b.tolist())
                tp += len(sa & sb)
                fp += len(sb - sa)
                fn += len(sa - sb)
            f1 = 2 * tp / (2 * tp + fp + fn)
            cells.append(f"{f1:.3f} | {tp / (tp + fp):.3f} | {tp / (tp + fn):.3f}")
        print(f"| {name} | {n_tok / chars:.3f} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
