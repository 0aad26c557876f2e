"""A KL3M-style domain tokenizer trained on legal text vs GPT-2, cl100k and Llama-3 on held-out
legal text: tokens per character, and tokens per legal term.

    .venv/bin/python eval/domain_legal.py [--sizes 16384,32768,65536]

Train: the bundled SPDX legal corpus, train split (610 licence texts, 3.8 MB). Held-out: its
77 held-out texts (other licences: nothing shared with training). Terms: corpora/legal/terms.txt
(60 terms), each encoded alone with a leading space, as it appears in running text. The domain
tokenizer is measured without the term list (what the corpus alone gives) and with it (the
terms become added tokens: one token each by construction, listed for completeness).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tokkit  # noqa: E402
from tokkit import assets, corpora  # noqa: E402
from tokkit.train import TrainOptions, train  # noqa: E402
from tokkit.train.domain import read_terms  # noqa: E402

TERMS = Path(__file__).resolve().parent.parent / "corpora" / "legal" / "terms.txt"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="16384,32768,65536")
    args = ap.parse_args()
    held = list(corpora.open_corpus("legal", split="heldout"))
    chars = sum(len(t) for t in held)
    terms = read_terms(TERMS)
    tmp = Path(tempfile.mkdtemp(prefix="tokkit-domain-"))
    real = assets.pretrained_tokenizers()
    rows = []
    for name in ("gpt2", "cl100k", "llama3"):
        rows.append((name, tokkit.load(real[name])))
    for size in [int(s) for s in args.sizes.split(",")]:
        r = train(TrainOptions(algo="domain", vocab_size=size), ["corpus:legal"], tmp / f"d{size}")
        rows.append((f"tokkit domain {size // 1024}k (cased)", tokkit.load(r.out)))
    size = int(args.sizes.split(",")[-1])
    r = train(TrainOptions(algo="domain", vocab_size=size, lowercase=True), ["corpus:legal"], tmp / "unc")
    rows.append((f"tokkit domain {size // 1024}k (uncased)", tokkit.load(r.out)))
    r = train(TrainOptions(algo="domain", vocab_size=size, terms_file=str(TERMS)), ["corpus:legal"], tmp / "terms")
    rows.append((f"tokkit domain {size // 1024}k + term list", tokkit.load(r.out)))
    r = train(TrainOptions(algo="bpe", vocab_size=size), ["corpus:legal"], tmp / "bpe")
    rows.append((f"tokkit plain BPE {size // 1024}k (same corpus)", tokkit.load(r.out)))

    base = None
    print(f"held-out: {len(held)} licence texts, {chars:,} characters; terms: {len(terms)}")
    print()
    print("| tokenizer | vocab (actual) | tokens/char (held-out legal) | vs Llama-3 | tokens per term |")
    print("|---|---|---|---|---|")
    results = []
    for name, tok in rows:
        n = sum(map(len, tok.encode_batch(held)))
        per_term = sum(len(tok.encode(" " + t)) for t in terms) / len(terms)
        results.append((name, tok.vocab.size, n / chars, per_term))
        if name == "llama3":
            base = n / chars
    for name, size, tpc, per_term in results:
        print(f"| {name} | {size:,} | {tpc:.4f} | {tpc / base - 1:+.1%} | {per_term:.2f} |")


if __name__ == "__main__":
    main()
