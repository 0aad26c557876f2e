"""tokkit hypernet train."""

from __future__ import annotations

import click


@click.group()
def hypernet() -> None:
    """ZeTT hypernetworks: predict embeddings for any new tokenizer of a base model."""


@hypernet.command("train")
@click.argument("model")
@click.option("--corpus", "corpus", multiple=True, required=True,
              help="Training text: files (text, .gz, .zst, JSONL) or corpus:NAME[:LANG]; repeatable.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output directory (resumes from it).")
@click.option("--steps", type=int, default=200, show_default=True)
@click.option("--batch", type=int, default=16, show_default=True)
@click.option("--seq-len", type=int, default=128, show_default=True)
@click.option("--lr", type=float, default=1e-4, show_default=True)
@click.option("--hidden", type=int, default=256, show_default=True)
@click.option("--layers", type=int, default=2, show_default=True)
@click.option("--residual", type=click.Choice(["mean", "first"]), default="mean", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--eval-tokenizer", "eval_tokenizers", multiple=True,
              help="NAME=PATH: report bits per byte with this tokenizer during training; repeatable.")
@click.option("--eval-text", type=click.Path(exists=True, dir_okay=False), help="Held-out text for the curve.")
@click.option("--no-resume", is_flag=True, help="Start over even if --out has a checkpoint.")
def train_cmd(model, corpus, out, steps, batch, seq_len, lr, hidden, layers, residual, seed, eval_tokenizers,
              eval_text, no_resume):
    """Train a hypernetwork for MODEL (an HF model directory or a GGUF file), the model frozen."""
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..errors import TokkitError
    from ..hypernet.train import HyperTrainOptions, train_hypernet
    from ..train.options import TrainOptions
    from ..train.run import _iter_all, resolve_sources

    evals = {}
    for e in eval_tokenizers:
        if "=" not in e:
            raise TokkitError(f"--eval-tokenizer {e!r}: give NAME=PATH")
        k, v = e.split("=", 1)
        evals[k] = v
    if evals and not eval_text:
        raise TokkitError("--eval-tokenizer needs --eval-text")
    sources = resolve_sources(list(corpus))
    texts = [t for t, _ in _iter_all(sources, TrainOptions(), record=False)]
    ev = []
    if eval_text:
        raw = Path(eval_text).read_text(encoding="utf-8", errors="replace")
        ev = [raw[a:a + 2000] for a in range(0, min(len(raw), 40000), 2000)]
    opts = HyperTrainOptions(steps=steps, batch=batch, seq_len=seq_len, lr=lr, hidden=hidden, layers=layers,
                             residual=residual, seed=seed)
    with Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("train", total=steps, info="")

        def progress(step, total, rec):
            info = f"loss {rec.get('loss', 0):.3f}"
            if "eval_bpb" in rec:
                info += " " + " ".join(f"{k}={v:.3f}" for k, v in rec["eval_bpb"].items())
            bar.update(task, completed=step, info=info)

        last = train_hypernet(model, texts, out, opts, eval_tokenizers=evals, eval_texts=ev,
                              resume=not no_resume, progress=progress)
    click.echo(f"{out}: hypernetwork after {steps} steps (last loss {last.get('loss', float('nan')):.3f})")
    if "eval_bpb" in last:
        click.echo("bits per byte: " + ", ".join(f"{k} {v:.4f}" for k, v in last["eval_bpb"].items()))


COMMANDS = [hypernet]
