"""tokkit hypernet train."""

from __future__ import annotations

import contextlib
import os

import click

from ._progress import step_bar

#: the launcher's options: the parent process uses them, the ranks it starts never see them
_LAUNCHER = ("nproc", "nnodes", "node_rank", "master_addr", "master_port")


@click.group()
def hypernet() -> None:
    """ZeTT hypernetworks: predict embeddings for any new tokenizer of a base model."""


@hypernet.command("train")
@click.argument("model")
@click.option("--corpus", "corpus", multiple=True, required=True,
              help="Training text: files (text, .gz, .zst, JSONL) or corpus:NAME[:LANG]; repeatable.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output directory (resumes from it).")
@click.option("--steps", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=16, show_default=True,
              help="Sequences per step: the global batch, split across the processes of --nproc/torchrun.")
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
@click.option("--vocab-size", "vocab_sizes", type=click.IntRange(min=257), multiple=True,
              default=(4096, 8192, 16384), show_default=True,
              help="Sizes of the sampled Unigram vocabularies (one drawn per step); repeatable.")
@click.option("--warmup-steps", type=click.IntRange(min=0), default=20, show_default=True,
              help="Identity warm-up steps (single old tokens onto their own rows) before the LM loss.")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=25, show_default=True)
@click.option("--eval-tokenizer", "eval_tokenizers", multiple=True,
              help="NAME=PATH: report bits per byte with this tokenizer during training; repeatable.")
@click.option("--eval-text", type=click.Path(exists=True, dir_okay=False), help="Held-out text for the curve.")
@click.option("--no-resume", is_flag=True, help="Start over even if --out has a checkpoint.")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Data-parallel processes on this machine, started by torch's launcher (torchrun); gloo on the "
                   "CPU, nccl on GPUs (one GPU each).")
@click.option("--nnodes", type=click.IntRange(min=1), default=1, show_default=True,
              help="Machines taking part (run the same command on each, with its --node-rank).")
@click.option("--node-rank", type=click.IntRange(min=0), default=0, show_default=True,
              help="This machine's rank among --nnodes.")
@click.option("--master-addr", help="Address of the machine with --node-rank 0 [default: 127.0.0.1 on one machine].")
@click.option("--master-port", type=click.IntRange(min=1, max=65535),
              help="Its rendezvous port [default: a free port on one machine, 29500 on several].")
@click.pass_context
def train_cmd(ctx: click.Context, model: str, corpus: tuple[str, ...], out: str, steps: int, batch: int, seq_len: int,
              lr: float, hidden: int, layers: int, residual: str, seed: int, sampler: str,
              vocab_sizes: tuple[int, ...], warmup_steps: int, checkpoint_every: int,
              eval_tokenizers: tuple[str, ...], eval_text: str | None, no_resume: bool, nproc: int, nnodes: int,
              node_rank: int, master_addr: str | None, master_port: int | None) -> None:
    """Train a hypernetwork for MODEL (an HF model directory or a GGUF file), the model frozen.

    With --nproc N (and --nnodes for several machines) the training is data-parallel: torch's
    launcher starts the ranks, each trains on its slice of the global --batch, rank 0 writes --out.
    Started by torchrun directly (`torchrun ... -m tokkit hypernet train ...`), a process joins
    the launcher's process group the same way.
    """
    from ..errors import TokkitError
    from ..hypernet.distributed import in_launched_process, launch
    from ..hypernet.train import HyperTrainOptions

    evals = _eval_tokenizers(eval_tokenizers, eval_text)
    opts = HyperTrainOptions(steps=steps, batch=batch, seq_len=seq_len, lr=lr, hidden=hidden, layers=layers,
                             residual=residual, seed=seed, sampler=sampler, vocab_sizes=list(vocab_sizes),
                             warmup_steps=warmup_steps, checkpoint_every=checkpoint_every)  # checks the values
    if nproc > 1 or nnodes > 1:
        if in_launched_process():
            raise TokkitError("--nproc/--nnodes start the processes; under torchrun leave them out")
        launch(_rank_args(ctx), nproc, nnodes, node_rank, master_addr, master_port)
        return
    with _rank_errors():
        _train_here(model, corpus, out, opts, evals, eval_text, not no_resume)


def _eval_tokenizers(specs: tuple[str, ...], eval_text: str | None) -> dict[str, str]:
    from ..errors import TokkitError

    evals = {}
    for e in specs:
        if "=" not in e:
            raise TokkitError(f"--eval-tokenizer {e!r}: give NAME=PATH")
        k, v = e.split("=", 1)
        evals[k] = v
    if evals and not eval_text:
        raise TokkitError("--eval-tokenizer needs --eval-text")
    return evals


def _train_here(model: str, corpus: tuple[str, ...], out: str, opts, evals: dict[str, str], eval_text: str | None,
                resume: bool) -> None:
    """Train in this process: alone, or as one rank of a launcher's run (rank 0 draws the
    progress bar and prints the result)."""
    from ..hypernet.distributed import env_rank
    from ..hypernet.train import train_hypernet
    from ..textio import read_bytes
    from ..train.run import read_texts

    texts = read_texts(corpus)
    ev = []
    if eval_text:
        raw = read_bytes(eval_text).decode("utf-8", errors="replace")  # a regular file, bounded
        ev = [raw[a:a + 2000] for a in range(0, min(len(raw), 40000), 2000)]
    main = env_rank() == 0
    with step_bar("training", opts.steps) if main else contextlib.nullcontext() as update:

        def progress(step, total, rec):
            info = f"loss {rec.get('loss', 0):.3f}"
            if "eval_bpb" in rec:
                info += " " + " ".join(f"{k}={v:.3f}" for k, v in rec["eval_bpb"].items())
            update(step, info)

        last = train_hypernet(model, texts, out, opts, eval_tokenizers=evals, eval_texts=ev, resume=resume,
                              progress=progress if main else None, inputs=[*corpus, eval_text])
    if main:
        click.echo(f"{out}: hypernetwork after {opts.steps} steps (last loss {last.get('loss', float('nan')):.3f})")
        if "eval_bpb" in last:
            click.echo("bits per byte: " + ", ".join(f"{k} {v:.4f}" for k, v in last["eval_bpb"].items()))


@contextlib.contextmanager
def _rank_errors():
    """In a rank of a launcher's run, an error also goes where the launcher reads it; a rank that
    ``--nproc`` started exits quietly (2, or 130 for Ctrl-C) and the launcher prints the first
    failed rank's line once. Alone, or under torchrun, errors go to the command group as always."""
    from ..errors import TokkitError
    from ..hypernet.distributed import LAUNCHED, in_launched_process, report_failure

    try:
        yield
    except (TokkitError, OSError, KeyboardInterrupt) as e:
        if not in_launched_process():
            raise
        from . import _os_error_line

        line = ("interrupted" if isinstance(e, KeyboardInterrupt)
                else _os_error_line(e) if isinstance(e, OSError) else str(e))
        report_failure(line)
        if os.environ.get(LAUNCHED):
            raise click.exceptions.Exit(130 if isinstance(e, KeyboardInterrupt) else 2) from None
        raise


def _rank_args(ctx: click.Context) -> list[str]:
    """This command's arguments again, as each rank runs it (``python -m tokkit ARGS``): every
    parameter from its parsed value, the launcher's options left out."""
    names = []
    c = ctx
    while c.parent is not None:  # "hypernet", "train" (the root is the program)
        names.insert(0, c.info_name)
        c = c.parent
    args = []
    for p in ctx.command.params:
        v = ctx.params[p.name]
        if p.name in _LAUNCHER or v is None:
            continue
        if isinstance(p, click.Argument):
            args.append(str(v))
            continue
        flag = max(p.opts, key=len)  # the long name
        if getattr(p, "is_flag", False):
            args += [flag] if v else []
        elif p.multiple:
            args += [x for item in v for x in (flag, str(item))]
        else:
            args += [flag, str(v)]
    return [*names, *args]


COMMANDS = [hypernet]
