"""Training byte-level BPE: tokkit (streaming count + native trainer) vs HF tokenizers'
BpeTrainer, same text, same pretokenizer (Llama-3 regex), each in its own process so peak memory
(max RSS) is measured per tool; merges asserted identical.

    .venv/bin/python eval/train_speed.py [--sizes 32000,64000]

Text: the train splits of every built cached corpus + the legal train split, written once to a
temporary file (both tools read the same file).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HF_CODE = r"""
import json, sys, tokenizers
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from tokkit.vocab import spec
path, size, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(pattern=tokenizers.Regex(spec.LLAMA3_PATTERN),
    behavior="isolated"), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
tr = trainers.BpeTrainer(vocab_size=size, special_tokens=["<|endoftext|>"], show_progress=False,
                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
tok.train([path], trainer=tr)
json.dump([m if isinstance(m, list) else m.split(" ") for m in json.loads(tok.to_str())["model"]["merges"]], open(out, "w"))
"""

OURS_CODE = r"""
import json, sys
from tokkit import _native
from tokkit.counts import count_files
from tokkit.train import train_bpe
from tokkit.vocab import spec
path, size, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
v = train_bpe(count_files([path], spec.byte_level_preset("llama3")), size)
json.dump([[_native.bytelevel_encode(v.tokens[a]), _native.bytelevel_encode(v.tokens[b])] for a, b, _ in v.merges],
          open(out, "w"))
"""


def run(code: str, path: str, size: int) -> tuple[float, float, list]:
    """Run one tool in its own process; wall time and that process's own peak RSS (os.wait4)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, path, str(size), out], stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if status:
        raise SystemExit(proc.stderr.read().decode())
    merges = json.load(open(out))
    os.unlink(out)
    return wall, usage.ru_maxrss / 1024, merges


def main() -> None:
    from tokkit import corpora

    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="32000,64000")
    args = ap.parse_args()
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        path = f.name
        names = ["legal"]
        for t in corpora.open_corpus("legal", split="train"):
            f.write(t + "\n")
        for c in corpora.list_corpora():
            if c.kind == "cached" and c.available:
                langs = [None]
                if c.languages > 1:
                    from tokkit.io import cache_dir

                    d = cache_dir() / "corpora" / c.name
                    langs = sorted({p.name.split(".")[0] for p in d.glob("*.train.jsonl.gz")})
                for lang in langs:
                    for t in corpora.open_corpus(c.name, lang=lang, split="train"):
                        f.write(t + "\n")
                names.append(c.name)
    mb = os.path.getsize(path) / 1e6
    print(f"training text: {mb:.1f} MB ({', '.join(names)}); {os.cpu_count()} cores")
    print("| vocab | tokkit s | HF s | time ratio (tokkit/HF) | tokkit peak MB | HF peak MB | merges identical |")
    print("|---|---|---|---|---|---|---|")
    for size in [int(s) for s in args.sizes.split(",")]:
        t_ours, rss_ours, m_ours = run(OURS_CODE, path, size)
        t_hf, rss_hf, m_hf = run(HF_CODE, path, size)
        print(f"| {size:,} | {t_ours:.1f} | {t_hf:.1f} | {t_ours / t_hf:.2f} | {rss_ours:.0f} | "
              f"{rss_hf:.0f} | {m_ours == m_hf} |", flush=True)
    os.unlink(path)


if __name__ == "__main__":
    main()
