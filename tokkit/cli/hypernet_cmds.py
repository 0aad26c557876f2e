"""tokkit hypernet train."""

from __future__ import annotations

import click

from ._progress import step_bar


@click.group()
def hypernet() -> None:
    """ZeTT hypernetworks: predict embeddings for any new tokenizer of a base model."""


@hypernet.command("train")
@click.argument("model")
@click.option("--corpus", "corpus", multiple=True, required=True,
              help="Training text: files (text, .gz, .zst, JSONL) or corpus:NAME[:LANG]; repeatable.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output directory (resumes from it).")
@click.option("--steps", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--seq-len", type=click.IntRange(min=2), default=128, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-4, show_default=True)
@click.option("--hidden", type=click.IntRange(min=4), default=256, show_default=True,
              help="Width (a multiple of the 4 attention heads).")
@click.option("--layers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--residual", type=click.Choice(["mean", "first"]), default="mean", show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--sampler", type=click.Choice(["unigram", "dynamic", "mixed"]), default="unigram", show_default=True,
              help="The tokens each step trains on: sampled Unigram vocabularies (ZeTT), batch-level merges up to "
                   "whole words (dynamic tokenization, docs/dynamic.md), or both alternating.")
@click.option("--eval-tokenizer", "eval_tokenizers", multiple=True,
              help="NAME=PATH: report bits per byte with this tokenizer during training; repeatable.")
@click.option("--eval-text", type=click.Path(exists=True, dir_okay=False), help="Held-out text for the curve.")
@click.option("--no-resume", is_flag=True, help="Start over even if --out has a checkpoint.")
def train_cmd(model, corpus, out, steps, batch, seq_len, lr, hidden, layers, residual, seed, sampler,
              eval_tokenizers, eval_text, no_resume):
    """Train a hypernetwork for MODEL (an HF model directory or a GGUF file), the model frozen."""
    from ..errors import TokkitError
    from ..hypernet.train import HyperTrainOptions, train_hypernet
    from ..textio import read_bytes
    from ..train.run import read_texts

    evals = {}
    for e in eval_tokenizers:
        if "=" not in e:
            raise TokkitError(f"--eval-tokenizer {e!r}: give NAME=PATH")
        k, v = e.split("=", 1)
        evals[k] = v
    if evals and not eval_text:
        raise TokkitError("--eval-tokenizer needs --eval-text")
    opts = HyperTrainOptions(steps=steps, batch=batch, seq_len=seq_len, lr=lr, hidden=hidden, layers=layers,
                             residual=residual, seed=seed, sampler=sampler)  # checks the values
    texts = read_texts(corpus)
    ev = []
    if eval_text:
        raw = read_bytes(eval_text).decode("utf-8", errors="replace")  # a regular file, bounded
        ev = [raw[a:a + 2000] for a in range(0, min(len(raw), 40000), 2000)]
    with step_bar("training", steps) as update:

        def progress(step, total, rec):
            info = f"loss {rec.get('loss', 0):.3f}"
            if "eval_bpb" in rec:
                info += " " + " ".join(f"{k}={v:.3f}" for k, v in rec["eval_bpb"].items())
            update(step, info)

        last = train_hypernet(model, texts, out, opts, eval_tokenizers=evals, eval_texts=ev,
                              resume=not no_resume, progress=progress, inputs=[*corpus, eval_text])
    click.echo(f"{out}: hypernetwork after {steps} steps (last loss {last.get('loss', float('nan')):.3f})")
    if "eval_bpb" in last:
        click.echo("bits per byte: " + ", ".join(f"{k} {v:.4f}" for k, v in last["eval_bpb"].items()))


COMMANDS = [hypernet]
