"""Transplant methods compared on SmolLM2-135M (issue: transplant).

For each new tokenizer (GPT-2, Qwen2, a 32k BPE trained by tokkit on the bundled legal train split) and each
method, the missing rows are made in memory and the model is scored in bits per byte on held-out
English (SPDX licences of the held-out split) and on German (UDHR), next to the original model
with its own tokenizer; the table gives the ratio to the original. Also the leave-out check
(1,000 hidden shared tokens rebuilt by each method: cosine to the true rows, bits per byte).

    .venv/bin/python eval/transplant_eval.py [--methods ...] [--tokenizers ...] [--chars 6000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default="zero,mean,random,fvt+tied,fvt+mean,fvt,omp+tied,omp+mean,omp,omp-corpus,"
                                         "hybrid+tied,hybrid+mean,hybrid,zett+tied,zett",
                    help="METHOD[+HEAD]: HEAD is tied, mean or offset (default: auto, see docs/transplant.md).")
    ap.add_argument("--tokenizers", default="gpt2,qwen2,tokkit-bpe-32k")
    ap.add_argument("--chars", type=int, default=6000, help="Characters of each evaluation text.")
    ap.add_argument("--leave-out", type=int, default=1000, help="Hidden tokens for the leave-out check (0: skip).")
    ap.add_argument("--hypernet", help="A hypernetwork directory for the zett method (eval/zett_curve.py makes one).")
    ap.add_argument("--gate", default="language", choices=["language", "off"], help="OMP/hybrid language gate.")
    ap.add_argument("--json", help="Also write the results here.")
    args = ap.parse_args()

    import torch

    from tokkit import Tokenizer, assets, corpora
    from tokkit.lm import bits_per_byte, load_model
    from tokkit.transplant import MethodOptions
    from tokkit.transplant.evaluate import leave_out, method_rows

    texts = eval_texts(args.chars)
    donor_texts = list(corpora.open_corpus("legal", split="train")) + [t for k in ("eng", "fra", "nld") for t in corpora.udhr(k)]
    model, old = load_model(assets.smollm2_gguf())
    toks = eval_tokenizers(args.tokenizers)
    base = {k: bits_per_byte(model, old, v)["bits_per_byte"] for k, v in texts.items()}
    print(f"threads: {torch.get_num_threads()}; eval texts: " +
          ", ".join(f"{k} {len(v[0].encode()):,} bytes" for k, v in texts.items()))
    print("SmolLM2 with its own tokenizer: " + ", ".join(f"{k} {b:.4f} bits/byte" for k, b in base.items()))
    results = {"base": base, "rows": []}
    header = "| tokenizer | shared / missing | method | " + " | ".join(f"{k} bits/byte | ratio" for k in texts) + " | rows s |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for tname, path in toks.items():
        new = Tokenizer.from_file(path)
        from tokkit.transplant import align

        al = align(old.vocab, new.vocab)
        c = al.counts()
        sm = f"{c.get('copied', 0) + c.get('byte-matched', 0):,} / {c.get('missing', 0):,}"
        for m in args.methods.split(","):
            if m.startswith("zett") and not args.hypernet:
                continue
            method, _, variant = m.partition("+")
            donor = "aux"
            if method == "omp-corpus":
                method, donor = "omp", "corpus"
            # the German text is the UDHR's: its language stays out of the gate's reference text
            opts = MethodOptions(head=variant or "auto", donor=donor, donor_texts=donor_texts, hypernet=args.hypernet,
                                 gate=args.gate, gate_exclude=("deu",))
            t0 = time.perf_counter()
            rows, _ = method_rows(method, model, old, new, opts)
            secs = time.perf_counter() - t0
            bpb = {k: bits_per_byte(model, new, v, rows=rows)["bits_per_byte"] for k, v in texts.items()}
            cells = " | ".join(f"{bpb[k]:.4f} | {bpb[k] / base[k]:.3f}" for k in texts)
            print(f"| {tname} | {sm} | {m} | {cells} | {secs:.1f} |", flush=True)
            results["rows"].append({"tokenizer": tname, "method": m, "bits_per_byte": bpb, "seconds": secs})
    if args.leave_out:
        methods = [m for m in args.methods.split(",") if m in ("zero", "mean", "random", "fvt", "omp", "hybrid")]
        lo = leave_out(model, old, methods, n=args.leave_out, opts=MethodOptions(head="tied"),
                       texts=texts["en (legal held-out)"])
        print(f"\nleave-out: {lo['hidden']} shared tokens hidden and rebuilt (tied rows; original "
              f"{base['en (legal held-out)']:.4f} bits/byte)")
        print("| method | cosine to true row | cosine, mean row subtracted | en bits/byte | ratio |")
        print("|---|---|---|---|---|")
        for m in methods:
            r = lo[m]
            print(f"| {m} | {r['cosine_in']:.3f} | {r['centered_in']:.3f} | {r['bits_per_byte']:.4f} | "
                  f"{r['bits_per_byte'] / base['en (legal held-out)']:.3f} |")
        results["leave_out"] = lo
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


def eval_texts(chars: int = 6000) -> dict[str, list[str]]:
    """The held-out texts of the transplant table (also used by eval/zett_curve.py)."""
    from tokkit import corpora

    legal = "\n\n".join(corpora.open_corpus("legal", split="heldout"))
    return {"en (legal held-out)": [legal[:chars]], "de (UDHR)": ["\n\n".join(corpora.udhr("deu"))[:chars]]}


def eval_tokenizers(names: str = "gpt2,qwen2,tokkit-bpe-32k") -> dict[str, str]:
    """name -> tokenizer path for the transplant table's new tokenizers."""
    from tokkit import assets

    real = assets.pretrained_tokenizers()
    return {n: (_tokkit_bpe() if n == "tokkit-bpe-32k" else real[n]) for n in names.split(",")}


def _tokkit_bpe() -> str:
    """A 32k byte-level BPE trained by tokkit on the bundled legal train split (cached)."""
    from tokkit.io import cache_dir
    from tokkit.train import TrainOptions, train

    out = cache_dir() / "eval" / "transplant-bpe-32k"
    if not (out / "tokenizer.json").exists():
        train(TrainOptions(algo="bpe", vocab_size=32000), ["corpus:legal"], out, force=True)
    return str(out / "tokenizer.json")


if __name__ == "__main__":
    main()
