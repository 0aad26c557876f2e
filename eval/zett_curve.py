"""ZeTT hypernetwork for SmolLM2-135M, trained on the CPU: bits per byte with tokenizers it never
saw (GPT-2, Qwen2, a tokkit-trained BPE) vs FVT and the first-piece start, along training.

    .venv/bin/python eval/zett_curve.py [--steps 300] [--eval-every 50] [--out DIR]

Training text: the legal train split, UDHR English, and the train splits of kjv and
gnome-help:en when they are built. Evaluation text: 12 held-out legal texts and 8 held-out KJV
documents when present (first 2,000 characters each), never trained on. For every tokenizer,
shared tokens (same bytes as a SmolLM2 token) and special tokens keep SmolLM2's rows in every
method; the methods differ only on the other rows. Prints the curve (bits per byte after each
evaluation) and a final table; writes the hypernetwork and its log to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--out", default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--residual", default="mean")
    args = ap.parse_args()
    import torch

    from tokkit import Tokenizer, assets, corpora
    from tokkit.hypernet.train import HyperTrainOptions, train_hypernet
    from tokkit.lm import bits_per_byte, load_model
    from tokkit.transplant.align import base_rows, decompose, special_rows
    from tokkit.train import TrainOptions, train

    if args.threads:
        torch.set_num_threads(args.threads)
    avail = {c.name for c in corpora.list_corpora() if c.available}
    texts = list(corpora.open_corpus("legal", split="train")) + ["\n".join(corpora.udhr("eng"))]
    for name, lang in (("kjv", None), ("gnome-help", "en")):
        if name in avail:
            texts += list(corpora.open_corpus(name, lang, split="train"))
    ev = [t[:2000] for t in corpora.open_corpus("legal", split="heldout")][:12]
    if "kjv" in avail:
        ev += [t[:2000] for t in corpora.open_corpus("kjv", split="heldout")][:8]
    tmp = Path(tempfile.mkdtemp(prefix="tokkit-zett-"))
    bpe = train(TrainOptions(algo="bpe", vocab_size=32000), ["corpus:legal"], tmp / "bpe32k")
    real = assets.pretrained_tokenizers()
    evals = {"gpt2": real["gpt2"], "qwen2": real["qwen2"], "tokkit-bpe-32k": str(bpe.out)}

    model, old = load_model(assets.smollm2_gguf())
    rows, tied = base_rows(model)
    base = {"smollm2 (own tokenizer)": bits_per_byte(model, old, ev)["bits_per_byte"]}
    fixed = {}
    for name, path in evals.items():
        tok = Tokenizer.from_file(path)
        pieces, lengths = decompose(tok.vocab.tokens, old, 8)
        mask = torch.arange(8)[None] < torch.as_tensor(lengths).clamp(min=1)[:, None]
        x = rows[torch.as_tensor(pieces)]
        idx, sp = old.vocab.index(), special_rows(tok.vocab, old.vocab)
        added = {t.id for t in tok.vocab.added}
        for method, tab in (("fvt", (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)), ("first", x[:, 0])):
            tab = tab.clone()
            for i, b in enumerate(tok.vocab.tokens):
                if i in sp:
                    tab[i] = rows[sp[i]]
                elif b in idx and i not in added:
                    tab[i] = rows[idx[b]]
            fixed[(name, method)] = bits_per_byte(model, tok, ev, rows=tab)["bits_per_byte"]
    print(f"eval text: {len(ev)} texts, {sum(len(t.encode()) for t in ev):,} bytes; training text: "
          f"{sum(len(t) for t in texts) / 1e6:.1f} M characters; threads: {torch.get_num_threads()}")
    print(f"SmolLM2 with its own tokenizer: {base['smollm2 (own tokenizer)']:.4f} bits/byte")
    for (name, method), v in fixed.items():
        print(f"{name} {method}: {v:.4f}")
    del model
    out = Path(args.out) if args.out else tmp / "hypernet"
    t0 = time.perf_counter()

    def progress(step, total, rec):
        if "eval_bpb" in rec:
            print(f"step {step}/{total} ({rec['seconds']:.0f} s): "
                  + ", ".join(f"{k} {v:.4f}" for k, v in rec["eval_bpb"].items()), flush=True)

    train_hypernet(assets.smollm2_gguf(), texts, out,
                   HyperTrainOptions(steps=args.steps, eval_every=args.eval_every, residual=args.residual,
                                     checkpoint_every=args.eval_every),
                   eval_tokenizers=evals, eval_texts=ev, progress=progress)
    log = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    curve = [(r["step"], r["seconds"], r["eval_bpb"]) for r in log if "eval_bpb" in r]
    print(f"\ntrained {args.steps} steps in {time.perf_counter() - t0:.0f} s\n")
    print("| tokenizer | SmolLM2 own | first piece | FVT | " + " | ".join(f"ZeTT @{s} ({sec / 60:.0f} min)"
                                                                    for s, sec, _ in curve) + " |")
    print("|---" * (4 + len(curve)) + "|")
    own = base["smollm2 (own tokenizer)"]
    for name in evals:
        cells = [f"{fixed[(name, 'first')]:.4f}", f"{fixed[(name, 'fvt')]:.4f}"]
        cells += [f"{bpb[name]:.4f}" for _, _, bpb in curve]
        print(f"| {name} | {own:.4f} | " + " | ".join(cells) + " |")
    print("\nratio to SmolLM2 with its own tokenizer (final): "
          + ", ".join(f"{n}: FVT {fixed[(n, 'fvt')] / own:.3f}, ZeTT {curve[-1][2][n] / own:.3f}" for n in evals))


if __name__ == "__main__":
    main()
