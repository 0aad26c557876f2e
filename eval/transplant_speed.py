"""Wall time of `tokkit transplant` (OMP, its defaults: aux donor, k=8) for SmolLM2-135M -> GPT-2 (50,257
tokens), as a user runs it: one CLI process each, on this machine's cores (issue: transplant,
target at most 2 minutes on 2 CPU cores).

- cold: an empty cache directory (the GGUF is dequantized and cached, MiniLM embeds the old
  vocabulary and the missing tokens, the head offset is fitted, the checkpoint is written);
- warm base: the base model's caches kept (dequantized checkpoint, the old vocabulary's MiniLM
  vectors: made once per base model), the new tokenizer never seen before (its missing tokens'
  vectors removed from the cache).

    .venv/bin/python eval/transplant_speed.py [--method omp] [--tokenizer gpt2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def run(cache: Path, model: str, tok: str, out: Path, method: str) -> float:
    env = dict(os.environ, TOKKIT_CACHE=str(cache))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tokkit", "transplant", model, tok, "--method", method, "--out", str(out),
                    "--force"], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", default="omp")
    ap.add_argument("--tokenizer", default="gpt2")
    args = ap.parse_args()

    from tokkit import assets

    model = str(assets.smollm2_gguf())
    tok = assets.pretrained_tokenizers()[args.tokenizer]
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        cache = d / "cache"
        cold = run(cache, model, tok, d / "out1", args.method)
        aux = sorted((cache / "aux").glob("*.npy"), key=lambda p: p.stat().st_size)
        for p in aux[:-1]:  # keep the largest: the old vocabulary's vectors
            p.unlink()
        warm = run(cache, model, tok, d / "out2", args.method)
        rec = json.loads((d / "out2" / "transplant_record.json").read_text())["summary"]
    print(f"SmolLM2-135M -> {args.tokenizer} ({rec['vocab_size']:,} tokens, {rec['alignment'].get('missing', 0):,} "
          f"made by {args.method}); {os.cpu_count()} cores")
    print("| run | wall s |")
    print("|---|---|")
    print(f"| cold (empty cache) | {cold:.1f} |")
    print(f"| warm base (new tokenizer) | {warm:.1f} |")


if __name__ == "__main__":
    main()
