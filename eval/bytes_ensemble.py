"""Byte-level ensemble of two models with different vocabularies: SmolLM2-135M (49,152-token
byte-level BPE) and SmolLM2 transplanted to the GPT-2 tokenizer (50,257 tokens; made by
`tokkit transplant SMOLLM2.gguf ggml-vocab-gpt-2.gguf --method fvt --out DIR`). Bits per byte
of held-out text (this repository's docs and code) under each member (canonical byte-level
model, chain rule) and under the per-step average and the posterior-weighted mixture.

    .venv/bin/python -m tokkit transplant $(python -c 'from tokkit import assets; print(assets.smollm2_gguf())') \\
        $(python -c "from tokkit import assets; print(assets.llama_vocab('gpt-2'))") --method fvt \\
        --out ~/.cache/tokkit/eval/bytes/smollm2-gpt2-fvt
    .venv/bin/python eval/bytes_ensemble.py --second ~/.cache/tokkit/eval/bytes/smollm2-gpt2-fvt --size 150 \\
        --out ~/.cache/tokkit/eval/bytes/ensemble.json
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def texts(size: int) -> list[bytes]:
    out = []
    for p in ["docs/architecture.md", "tokkit/tokenizer.py", "docs/train.md", "tokkit/counts.py"]:
        t = (ROOT / p).read_text(encoding="utf-8")
        a = t.find("\n", len(t) // 2) + 1
        b = t.rfind("\n", a, a + size) + 1
        out.append(t[a:b].encode())
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--second", required=True, help="the second model (HF directory or GGUF)")
    ap.add_argument("--size", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    import torch

    from tokkit import assets
    from tokkit.bytes import ByteEnsemble, ByteLM

    torch.set_num_threads(a.threads)
    members = [ByteLM.from_pretrained(assets.smollm2_gguf()), ByteLM.from_pretrained(a.second)]
    names = ["smollm2", Path(a.second).name]
    ens = {mode: ByteEnsemble(members, mode=mode) for mode in ("average", "posterior")}
    nats = {k: 0.0 for k in names + list(ens)}
    n = 0
    t0 = time.perf_counter()
    for x in texts(a.size):
        for m in members:
            m.reset()
        prefix_lp = np.zeros(len(members))
        for i in range(len(x)):
            dists = [m.next_byte_logprobs(x[:i]) for m in members]
            b = x[i]
            for name, d in zip(names, dists):
                nats[name] -= d[b]
            for mode, e in ens.items():
                nats[mode] -= e._combine(dists, prefix_lp)[b]
            prefix_lp = prefix_lp + np.array([d[b] for d in dists])
        n += len(x)
        print(f"text of {len(x)} bytes: " + ", ".join(f"{k} {v / math.log(2) / n:.4f}" for k, v in nats.items()),
              file=sys.stderr, flush=True)
    bpb = {k: v / math.log(2) / n for k, v in nats.items()}
    res = {"bits_per_byte": bpb, "bytes": n, "seconds": time.perf_counter() - t0, "members": names,
           "second_model": str(a.second)}
    print(res)
    if a.out:
        from tokkit.io import write_json_atomic

        write_json_atomic(a.out, res)


if __name__ == "__main__":
    main()
