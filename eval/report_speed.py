"""Benchmark: `tokkit report` on 10 real tokenizers over every UDHR language, cold.

Tokenizers: GPT-2, Llama-3, Qwen2, SmolLM2 (llama.cpp GGUF vocabularies / the SmolLM2 GGUF),
cl100k (tiktoken), Mistral v1 and v3 (SentencePiece), and three tokkit-trained tokenizers
(BPE 32k, SuperBPE 32k, BPE 32k with right-to-left digit groups) trained on the legal corpus's
train split before the timing starts (cached under $TOKKIT_CACHE/eval/report_speed).

Each measured run is a fresh process (`python -m tokkit report ...`, RAYON_NUM_THREADS=2):
Python start-up and imports, reading the 521 declarations, word segmentation, loading every
tokenizer from its file (no cache), encoding, every metric, the audits, and writing
report.json/html/md/csv are all inside the time. Linguistic metrics are off by default for
reports with more than 20 text sets (the run says so); --linguistic times them too.

    .venv/bin/python eval/report_speed.py [--repeat 2] [--linguistic]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def tokkit_trained() -> dict[str, str]:
    from tokkit.io import cache_dir
    from tokkit.train.options import TrainOptions
    from tokkit.train.run import train

    base = cache_dir() / "eval" / "report_speed"
    out = {}
    for name, kw in (("tokkit-bpe-32k", dict(algo="bpe")),
                     ("tokkit-superbpe-32k", dict(algo="superbpe")),
                     ("tokkit-bpe-32k-r2l", dict(algo="bpe", digits="r2l3"))):
        d = base / name
        if not (d / "tokenizer.json").exists():
            print(f"training {name} on corpus:legal (not timed)", flush=True)
            train(TrainOptions(vocab_size=32000, **kw), ["corpus:legal"], d, force=True)
        out[name] = str(d)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--linguistic", action="store_true")
    ap.add_argument("--keep", help="copy the last report directory here")
    args = ap.parse_args()
    from tokkit import assets

    known = assets.pretrained_tokenizers()
    toks = [f"{n}={known[n]}" for n in ("gpt2", "llama3", "qwen2", "smollm2", "cl100k", "mistral-v1", "mistral-v3")]
    toks += [f"{n}={p}" for n, p in tokkit_trained().items()]
    env = dict(os.environ, RAYON_NUM_THREADS="2", TOKENIZERS_PARALLELISM="true", OMP_NUM_THREADS="2")
    times = []
    last = None
    for r in range(args.repeat):
        out = Path(tempfile.mkdtemp(prefix="report_speed_")) / "rep"
        cmd = [sys.executable, "-m", "tokkit", "report", *toks, "--corpus", "udhr", "--out", str(out)]
        if args.linguistic:
            cmd.append("--linguistic")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.PIPE)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        rep = json.loads((out / "report.json").read_text())
        times.append((wall, cpu, after.ru_maxrss / 1024))
        if last is not None:
            shutil.rmtree(last.parent, ignore_errors=True)
        last = out
        print(f"run {r + 1}: {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
    t = rep["timing"]
    n_texts = sum(c["texts"] for c in rep["corpora"])
    mb = sum(c["bytes"] for c in rep["corpora"]) / 1e6
    print()
    print(f"{len(rep['per_tokenizer'])} tokenizers x {len(rep['corpora'])} UDHR declarations "
          f"({n_texts:,} texts, {mb:.1f} MB) on {os.cpu_count()} cores; linguistic: {rep['settings']['linguistic']}")
    print()
    print("| run | wall s (whole command) | CPU s | peak RSS MB |")
    print("|---|---|---|---|")
    for k, (w, c, m) in enumerate(times, 1):
        print(f"| {k} | {w:.1f} | {c:.1f} | {m:.0f} |")
    print()
    print("Inside the last run (seconds, from report.json's timing):")
    print()
    print("| " + " | ".join(t) + " |")
    print("|" + "---|" * len(t))
    print("| " + " | ".join(f"{v:.2f}" for v in t.values()) + " |")
    print()
    print("| tokenizer | load s | encoder | tokens | bytes/token | median premium | Gini [95% CI] | digits |")
    print("|---|---|---|---|---|---|---|---|")
    info = {x["name"]: x for x in rep["tokenizers"]}
    for p in rep["per_tokenizer"]:
        i = info[p["tokenizer"]]
        g = next((q["tokenizers"][p["tokenizer"]] for q in rep["parity"]), None)
        gs = f"{g['gini']:.3f} [{g['gini_ci'][0]:.3f}, {g['gini_ci'][1]:.3f}]" if g else "-"
        print(f"| {p['tokenizer']} | {i['load_seconds']:.2f} | {i['encoder'][:12]} | {int(p['tokens']):,} | "
              f"{p['bytes_per_token']:.3f} | {p['premium_median']:.2f} | {gs} | {p['digit_policy']} |")
    if args.keep:
        dest = Path(args.keep)
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(last, dest)
    shutil.rmtree(last.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
