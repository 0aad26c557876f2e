"""BPE-dropout throughput: tokkit's native encoder at p = 0.1 against its own plain (canonical)
encoding of the same text, and Hugging Face tokenizers with dropout = 0.1 (the reference tool)
side by side. One thread: one text at a time; batch: all cores.

    .venv/bin/python eval/dropout_speed.py [--tokenizers gpt2,llama3] [--p 0.1] [--repeat 3]

Texts: the bundled legal corpus (4.2 MB, English: pieces repeat, as in a training corpus) and
the UDHR in every bundled language (5.7 MB, 500+ languages: many distinct pieces). Plain: best
of `repeat` passes (its "encodes to itself" cache is learnt by then). Dropout: the first pass on
a fresh tokenizer (its memo of pieces' runs empty), and the best of the next passes, each with
a new seed (a new sample, as a new epoch). Every sample is checked to spell the text's bytes.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # numpy's idle BLAS threads would spin on a core

import numpy as np  # noqa: E402

import tokkit  # noqa: E402
from tokkit import assets, corpora  # noqa: E402


def texts_by_name() -> dict[str, list[str]]:
    return {
        "legal": list(corpora.open_corpus("legal", split="all")),
        "udhr": [x for units in corpora.udhr_parallel().values() for x in units],
    }


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def best(fn, repeat):
    return min(timed(fn)[0] for _ in range(repeat))


def run_ours(v, texts, p, repeat, batch):
    """(plain seconds, first dropout pass seconds, best later dropout pass seconds)."""
    tok = tokkit.Tokenizer(v)
    if batch:
        plain = best(lambda: tok.encode_batch_flat(texts), repeat)
        first, (ids, lens) = timed(lambda: tok.encode_batch_flat(texts, dropout=p, seed=0))
        later = min(timed(lambda s=s: tok.encode_batch_flat(texts, dropout=p, seed=s))[0] for s in range(1, repeat + 1))
        check(tok, texts, np.split(ids, np.cumsum(lens)[:-1]))
    else:
        plain = best(lambda: [tok.encode(t) for t in texts], repeat)
        first, samples = timed(lambda: [tok.encode(t, dropout=p, seed=0) for t in texts])
        later = min(timed(lambda s=s: [tok.encode(t, dropout=p, seed=s) for t in texts])[0]
                    for s in range(1, repeat + 1))
        check(tok, texts, samples)
    return plain, first, later


def check(tok, texts, samples):
    canon = tok.encode_batch(texts)
    assert all(tok.decode_bytes(a) == tok.decode_bytes(b) for a, b in zip(samples, canon))
    assert sum(len(a) for a in samples) > sum(len(b) for b in canon)


def run_hf(v, texts, p, repeat, batch):
    import json

    from tokenizers import Tokenizer as HF

    from tokkit.vocab.hf import vocab_to_hf_json

    spec = vocab_to_hf_json(v)
    spec["model"]["dropout"] = p
    hf = HF.from_str(json.dumps(spec))
    if batch:
        return best(lambda: hf.encode_batch(texts, add_special_tokens=False), repeat)
    return best(lambda: [hf.encode(t, add_special_tokens=False) for t in texts], repeat)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizers", default="gpt2,llama3")
    ap.add_argument("--texts", default="legal,udhr")
    ap.add_argument("--p", type=float, default=0.1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    sets = texts_by_name()
    print(f"p = {args.p}; {os.cpu_count()} cores; " + ", ".join(
        f"{k}: {len(sets[k]):,} texts, {sum(len(t.encode()) for t in sets[k]) / 1e6:.1f} MB"
        for k in args.texts.split(",")))
    print("| tokenizer | text | mode | plain MB/s | dropout MB/s, first pass | dropout MB/s, next passes "
          "| dropout / plain | HF dropout MB/s | tokkit / HF (dropout) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.tokenizers.split(","):
        v = tokkit.read_vocab(assets.pretrained_tokenizers()[name])
        for which in args.texts.split(","):
            texts = sets[which]
            mb = sum(len(t.encode()) for t in texts) / 1e6
            for batch in (False, True):
                plain, first, later = run_ours(v, texts, args.p, args.repeat, batch)
                hf = run_hf(v, texts, args.p, max(1, args.repeat - 1), batch)
                mode = f"batch ({os.cpu_count()} threads)" if batch else "1 thread"
                print(f"| {name} | {which} | {mode} | {mb / plain:.1f} | {mb / first:.1f} | {mb / later:.1f} "
                      f"| {plain / later:.2f} ({plain / first:.2f} first) | {mb / hf:.1f} | {hf / later:.1f}x |",
                      flush=True)


if __name__ == "__main__":
    main()
