"""Transplant SmolLM2-135M to other tokenizers with `tokkit transplant`, then load each result
with stock `AutoModelForCausalLM` / `AutoTokenizer` and print greedy continuations of English
prompts next to the original model's (issue: transplant, "loads and generates").

    .venv/bin/python eval/transplant_generate.py [--method hybrid] [--tokenizers gpt2,qwen2,tokkit-bpe-32k]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPTS = ["The capital of France is", "Once upon a time, there was a little", "The license grants you the right to"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", default="hybrid")
    ap.add_argument("--tokenizers", default="gpt2,qwen2,tokkit-bpe-32k")
    ap.add_argument("--tokens", type=int, default=12)
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tokkit import assets
    from tokkit.lm import load_model

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from transplant_eval import _tokkit_bpe

    def show(name, model, tk):
        for p in PROMPTS:
            ids = tk(p, return_tensors="pt").input_ids
            with torch.no_grad():
                out = model.generate(ids, max_new_tokens=args.tokens, do_sample=False,
                                     pad_token_id=tk.pad_token_id if tk.pad_token_id is not None else tk.eos_token_id)
            new = out[0, ids.shape[1]:]
            text = tk.decode(new, skip_special_tokens=True).replace("\n", "\\n")
            end = " (then end of text)" if len(new) and int(new[-1]) == tk.eos_token_id else ""
            print(f"| {name} | {p} | {text}{end} | {len(new)} |", flush=True)

    print("| model | prompt | greedy continuation | new tokens |")
    print("|---|---|---|---|")
    base, tok = load_model(assets.smollm2_gguf())
    show("SmolLM2 (own tokenizer)", base, _hf_tokenizer(tok))
    real = assets.pretrained_tokenizers()
    with tempfile.TemporaryDirectory() as d:
        for name in args.tokenizers.split(","):
            path = _tokkit_bpe() if name == "tokkit-bpe-32k" else real[name]
            out = Path(d) / name
            subprocess.run([sys.executable, "-m", "tokkit", "transplant", str(assets.smollm2_gguf()), path,
                            "--method", args.method, "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
            show(f"-> {name} ({args.method})", AutoModelForCausalLM.from_pretrained(out), AutoTokenizer.from_pretrained(out))


def _hf_tokenizer(tok):
    """The original tokenizer as a stock transformers tokenizer (tokkit writes tokenizer.json)."""
    import tempfile

    from transformers import AutoTokenizer

    d = tempfile.mkdtemp()
    tok.save(d)
    return AutoTokenizer.from_pretrained(d)


if __name__ == "__main__":
    main()
