"""tokkit heal."""

from __future__ import annotations

import json

import click

from ..heal.options import TRAIN
from ._progress import step_bar


@click.command()
@click.argument("student", type=click.Path(exists=True, file_okay=False))
@click.option("--teacher", required=True, help="The original model the student was transplanted from (GGUF or HF dir).")
@click.option("--corpus", "corpus", multiple=True, required=True,
              help="Healing text: files (text, .gz, .zst, JSONL, Parquet, Arrow), globs, directories of shards, "
                   "save_to_disk folders or corpus:NAME[:LANG]; repeatable. Keep evaluation text out of it.")
@click.option("--text-field", default="text", show_default=True,
              help="Field of JSONL records / text column of Parquet and Arrow shards.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output model directory.")
@click.option("--loss", default="alm+lm", show_default=True,
              help="lm, alm, or a mix with weights: alm+lm, alm:1+lm:0.2.")
@click.option("--train", "train_mode", type=click.Choice(TRAIN), default="lora", show_default=True,
              help="lora: LoRA adapters (merged when saved) + the rows the transplant made; new-rows: only those "
                   "rows (every other weight bit-identical); embeddings: all rows.")
@click.option("--steps", type=click.IntRange(min=1), help="Stop after this many steps.")
@click.option("--minutes", type=click.FloatRange(min=0, min_open=True), help="Stop after this much training time.")
@click.option("--batch", type=click.IntRange(min=1), default=8, show_default=True, help="Text pieces per step.")
@click.option("--piece-bytes", type=click.IntRange(min=16), default=512, show_default=True,
              help="Corpus documents are cut into pieces of about this many bytes.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=3e-3, show_default=True,
              help="Learning rate of the embedding rows.")
@click.option("--lr-lora", type=click.FloatRange(min=0, min_open=True), default=3e-4, show_default=True)
@click.option("--lora-rank", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--alm-temperature", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True)
@click.option("--eval-text", "eval_texts", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Held-out text: bits per byte in the progress line and the record; repeatable.")
@click.option("--eval-every", type=click.IntRange(min=1), default=25, show_default=True)
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), help="torch CPU threads (default: torch's).")
@click.option("--force", is_flag=True, help="Replace a non-empty --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the record's summary as JSON.")
def heal(student, teacher, corpus, out, text_field, loss, train_mode, steps, minutes, batch, piece_bytes, lr, lr_lora,
         lora_rank, alm_temperature, eval_texts, eval_every, checkpoint_every, seed, threads, force, as_json):
    """Heal STUDENT (a `tokkit transplant` output) by distillation from its original model:
    train the rows the transplant made (or LoRA) until --steps or --minutes. Running the same
    command again after an interruption resumes from OUT.heal-state/."""
    from pathlib import Path

    from ..heal import HealOptions
    from ..heal import heal as run_heal
    from ..textio import read_text

    opts = HealOptions(loss=loss, train=train_mode, steps=steps, minutes=minutes, batch=batch, piece_bytes=piece_bytes,
                       lr=lr, lr_lora=lr_lora, lora_rank=lora_rank, alm_temperature=alm_temperature, seed=seed,
                       eval_every=eval_every, checkpoint_every=checkpoint_every, threads=threads,
                       text_field=text_field)
    evals = {Path(p).stem: [read_text(p)] for p in eval_texts}
    with step_bar("healing", steps) as update:

        def progress(step, total, rec):
            info = f"loss {rec['loss']:.3f}"
            if "eval" in rec:
                info += " " + " ".join(f"{k} {v:.4f} bits/byte" for k, v in rec["eval"].items())
            update(step, info)

        rec = run_heal(student, teacher, list(corpus), out, opts, eval_texts=evals, force=force, progress=progress)
    curve = [e for e in rec["log"] if "eval" in e]
    summary = {"out": out, "steps": rec["steps"], "train_seconds": rec["train_seconds"],
               "eval_before": curve[0]["eval"] if curve else None, "eval_after": curve[-1]["eval"] if curve else None}
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"{out}: healed for {rec['steps']} steps ({rec['train_seconds']:.0f} s of training)")
    if curve:
        for k in curve[0]["eval"]:
            click.echo(f"  {k}: {curve[0]['eval'][k]:.4f} -> {curve[-1]['eval'][k]:.4f} bits per byte")


COMMANDS = [heal]
