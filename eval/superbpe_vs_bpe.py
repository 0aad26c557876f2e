"""SuperBPE vs BPE at the same vocabulary size, on held-out English that was not trained on.

    .venv/bin/python eval/superbpe_vs_bpe.py [--sizes 32000,64000] [--transitions 0.8,0.5]

Train text: the train splits of the English corpora (kjv, kernel-docs, gnome-help:en,
debian-reference:en, legal). Held-out text: the held-out splits of the same corpora (other
documents). Both algorithms use the Llama-3 pretokenizer for (stage 1) BPE; SuperBPE's stage 2
uses the reference stage-2 regex and constraints (at most 4 words, no ": "). Reports bytes per
token on the held-out text, how many fewer tokens SuperBPE needs, and training wall time
(counting included) relative to plain BPE, all from one process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tokkit  # noqa: E402
from tokkit import corpora  # noqa: E402
from tokkit.train import TrainOptions, train  # noqa: E402

#: stage-2 pretokenizers to compare: the reference's current regex, digits only (runs of 1-3
#: digits isolated, everything else may merge), and the paper-era regex (only right-to-left
#: 3-digit groups split; tokkit's default since the trainer sweep, docs/train.md)
STAGE2 = {"current": "current", "digits": r"\p{N}{1,3}", "paper": "paper"}
SOURCES = [("kjv", None), ("kernel-docs", None), ("gnome-help", "en"), ("debian-reference", "en"), ("legal", None)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="32000,64000")
    ap.add_argument("--transitions", default="0.8,0.5")
    ap.add_argument("--stage2", default="current", help="Comma-separated: " + ", ".join(STAGE2))
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    fracs = [float(x) for x in args.transitions.split(",")]
    avail = {c.name for c in corpora.list_corpora() if c.available}
    used = [(n, lang) for n, lang in SOURCES if n in avail]
    tmp = tempfile.mkdtemp(prefix="tokkit-superbpe-")
    # one JSON record per document, so that both trainers see whole documents (line breaks
    # and indentation included), as they will when encoding
    train_file = os.path.join(tmp, "train.jsonl")
    with open(train_file, "w", encoding="utf-8") as f:
        for n, lang in used:
            for t in corpora.open_corpus(n, lang, split="train"):
                f.write(json.dumps({"text": t}) + "\n")
    parts = {n: list(corpora.open_corpus(n, lang, split="heldout")) for n, lang in used}
    held = [t for texts in parts.values() for t in texts]
    held_bytes = sum(len(t.encode()) for t in held)

    def per_corpus(tok) -> dict[str, int]:
        return {n: sum(map(len, tok.encode_batch(texts))) for n, texts in parts.items()}
    print(f"train: {os.path.getsize(train_file) / 1e6:.1f} MB from {', '.join(n for n, _ in used)}; "
          f"held-out: {held_bytes / 1e6:.1f} MB ({len(held)} documents)")
    print()
    names = list(parts)
    print("| vocab | tokenizer | transition | held-out bytes/token | tokens vs BPE (all) | "
          + " | ".join(names) + " | mean over corpora | train time | time vs BPE |")
    print("|---" * (8 + len(names)) + "|")
    for size in sizes:
        t0 = time.perf_counter()
        bpe = train(TrainOptions(algo="bpe", vocab_size=size), [train_file], os.path.join(tmp, f"bpe{size}"))
        t_bpe = time.perf_counter() - t0
        pc_bpe = per_corpus(tokkit.load(bpe.out))
        n_bpe = sum(pc_bpe.values())
        print(f"| {size:,} | BPE | - | {held_bytes / n_bpe:.3f} | 1.000 | " + " | ".join("1.000" for _ in names)
              + f" | 1.000 | {t_bpe:.1f} s | 1.00 |", flush=True)
        for frac, st2 in [(f, s2) for f in fracs for s2 in args.stage2.split(",")]:
            t = int(round(size * frac))
            t0 = time.perf_counter()
            extra = {"stage2_regex": STAGE2[st2]} if STAGE2[st2] else {}
            sup = train(TrainOptions(algo="superbpe", vocab_size=size, transition=t, **extra), [train_file],
                        os.path.join(tmp, f"sup{size}_{t}_{st2}"))
            t_sup = time.perf_counter() - t0
            pc = per_corpus(tokkit.load(sup.out))
            n_sup = sum(pc.values())
            ratios = [pc[n] / pc_bpe[n] for n in names]
            mean = sum(ratios) / len(ratios)
            label = "SuperBPE" + ("" if st2 == "paper" else f" (stage 2: {st2})")  # paper: the default
            print(f"| {size:,} | {label} | {t:,} ({frac:.0%}) | {held_bytes / n_sup:.3f} | {n_sup / n_bpe:.3f} "
                  f"({(1 - n_sup / n_bpe):.1%} fewer) | " + " | ".join(f"{r:.3f}" for r in ratios)
                  + f" | {mean:.3f} ({1 - mean:.1%} fewer) | {t_sup:.1f} s | {t_sup / t_bpe:.2f} |", flush=True)


if __name__ == "__main__":
    main()
