"""Healing curves (issue: heal): held-out bits per byte against training minutes on this machine.

SmolLM2-135M is transplanted to each new tokenizer (the transplant table's: GPT-2, Qwen2, a 32k
tokkit BPE) from each start method (hybrid, fvt), then healed with each objective and training
mode; the held-out English (SPDX licences, held-out split) and German (UDHR) texts of the
transplant table are scored at 0 minutes and at each mark. Healing text: the legal train split
(English) and, when built (`corpora/build_cached.py gnome-help --install`), the German GNOME help
train split; neither holds an evaluation text.

    .venv/bin/python eval/heal_curve.py --tokenizers gpt2 --starts hybrid --losses lm,alm,alm+lm \
        --train new-rows --marks 2.5,5 --json ~/.cache/tokkit/eval/heal/curve.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def student(model: Path, tokenizer: str, name: str, start: str) -> Path:
    """The transplanted model (cached under $TOKKIT_CACHE/eval/heal/)."""
    from tokkit.io import cache_dir
    from tokkit.transplant import transplant

    out = cache_dir() / "eval" / "heal" / f"{name}-{start}"
    if not (out / "transplant_record.json").exists():
        t0 = time.perf_counter()
        transplant(model, tokenizer, out, method=start, force=True)
        print(f"transplant {name} {start}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return out


def corpora_for_healing() -> list[str]:
    from tokkit.corpora import list_corpora

    have = {c.name: c for c in list_corpora()}
    out = ["corpus:legal"]
    if "gnome-help" in have and (Path(have["gnome-help"].path or "") / "de.train.jsonl.gz").exists():
        out.append("corpus:gnome-help:de")
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizers", default="gpt2,qwen2,tokkit-bpe-32k")
    ap.add_argument("--starts", default="hybrid,fvt")
    ap.add_argument("--losses", default="lm,alm,alm+lm")
    ap.add_argument("--train", default="new-rows,lora")
    ap.add_argument("--marks", default="5,10,20,40", help="Minutes of training at which to evaluate.")
    ap.add_argument("--chars", type=int, default=6000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)

    from transplant_eval import eval_texts, eval_tokenizers

    from tokkit import assets
    from tokkit.heal import HealOptions, heal
    from tokkit.io import cache_dir, write_json_atomic
    from tokkit.lm import bits_per_byte, load_model

    texts = eval_texts(a.chars)
    base_model = assets.smollm2_gguf()
    model, tok = load_model(base_model)
    base = {k: bits_per_byte(model, tok, v)["bits_per_byte"] for k, v in texts.items()}
    del model
    marks = [float(m) for m in a.marks.split(",")]
    heal_corpora = corpora_for_healing()
    print(f"original: {base}; healing text: {heal_corpora}; marks (minutes): {marks}", file=sys.stderr)
    rows = []
    for name, path in eval_tokenizers(a.tokenizers).items():
        for start in a.starts.split(","):
            s = student(base_model, path, name, start)
            for train in a.train.split(","):
                for loss in a.losses.split(","):
                    opts = HealOptions(loss=loss, train=train, minutes=max(marks), eval_minutes=tuple(marks),
                                       eval_every=10**9, checkpoint_every=10**9, threads=a.threads)
                    out = cache_dir() / "eval" / "heal" / f"{name}-{start}-{train}-{loss.replace('+', '_')}"
                    rec = heal(s, base_model, heal_corpora, out, opts, eval_texts=texts, force=True)
                    row = {"tokenizer": name, "start": start, "train": train, "loss": loss,
                           "curve": [(round(e["seconds"] / 60, 2), e["eval"]) for e in rec["log"] if "eval" in e],
                           **{k: rec[k] for k in ("steps", "train_seconds", "teacher_seconds", "tokens",
                                                  "tokens_per_second")}}
                    rows.append(row)
                    print(json.dumps(row), file=sys.stderr)
    table(rows, base)
    if a.json:
        write_json_atomic(a.json, {"base": base, "rows": rows, "marks": marks, "corpora": heal_corpora})


def table(rows: list[dict], base: dict) -> None:
    keys = list(base)
    print("| tokenizer | start | train | loss | minutes | " + " | ".join(f"{k} bpb (x orig.)" for k in keys) + " |")
    print("|" + "---|" * (5 + len(keys)))
    for r in rows:
        for minutes, ev in r["curve"]:
            cells = " | ".join(f"{ev[k]:.4f} ({ev[k] / base[k]:.3f}x)" for k in keys)
            print(f"| {r['tokenizer']} | {r['start']} | {r['train']} | {r['loss']} | {minutes:.1f} | {cells} |")


if __name__ == "__main__":
    main()
