"""tokkit transplant, tokkit eval-lm."""

from __future__ import annotations

import click

from ..transplant.options import ANCHORS, DEFAULT_METHOD, GATES, HEADS, METHODS


@click.command()
@click.argument("model")
@click.argument("tokenizer")
@click.option("--method", type=click.Choice(METHODS), default=DEFAULT_METHOD.value, show_default=True,
              help="How rows of new tokens are made.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output model directory.")
@click.option("--k", type=int, help="OMP: anchors per token (default 64 with a donor model, 8 with aux/corpus).")
@click.option("--omp-candidates", type=int,
              help="OMP: anchors screened per token before the fit (default 64 x k; 0: all, slow).")
@click.option("--donor", default="aux", show_default=True,
              help="OMP donor space: aux (MiniLM), corpus (vectors from --donor-corpus tokenized with the new "
                   "tokenizer), or the path of a donor model that uses the new tokenizer.")
@click.option("--donor-corpus", "donor_corpus", multiple=True,
              help="Text for --donor corpus: files (text, .gz, .zst, JSONL) or corpus:NAME[:LANG]; repeatable.")
@click.option("--omp-anchors", type=click.Choice(ANCHORS), default="old", show_default=True,
              help="OMP in the aux space: atoms from every old token, or only from tokens both vocabularies share.")
@click.option("--decomposition-weight", type=float, default=1.0, show_default=True,
              help="OMP in the aux space: weight of the base model's decomposition block (0: MiniLM alone).")
@click.option("--gate", type=click.Choice(GATES), default="language", show_default=True,
              help="OMP (aux donor) and hybrid: weigh MiniLM's part of a new token's row by how English the "
                   "token is (MiniLM reads English), FVT's by the rest.")
@click.option("--head", type=click.Choice(HEADS), default="auto", show_default=True,
              help="LM head rows of new tokens: offset (recipe + fitted logit offset), tied (same as input), "
                   "mean (unties a tied model), auto (offset for hybrid, omp and fvt, else tied).")
@click.option("--hypernet", type=click.Path(exists=True, file_okay=False), help="--method zett: the hypernetwork.")
@click.option("--pad-to-multiple", type=int, help="Pad the embedding matrices to a multiple of this.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--force", is_flag=True, help="Replace an existing non-empty output directory (as a whole).")
def transplant(model, tokenizer, method, out, k, omp_candidates, donor, donor_corpus, omp_anchors,
               decomposition_weight, gate, head, hypernet, pad_to_multiple, seed, force):
    """Give MODEL (an HF model directory or a GGUF file) the tokenizer TOKENIZER (any format tokkit
    reads); write a stock HF checkpoint to --out, with transplant_record.json."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ..transplant import MethodOptions
    from ..transplant import transplant as run

    opts = MethodOptions(k=k, candidates=omp_candidates, donor=donor, donor_texts=_read_corpus(donor_corpus),
                         head=head, seed=seed, hypernet=hypernet, anchors=omp_anchors,
                         decomposition_weight=decomposition_weight, gate=gate)
    opts.check(method, unused=True)  # every option checked here, before anything is loaded
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(stage, done, total):
            label = {"load": "loading the model", "aux": "embedding tokens (MiniLM)", "write": "writing"}.get(stage, stage)
            if stage not in tasks:
                tasks[stage] = bar.add_task(label, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        s = run(model, tokenizer, out, method=method, opts=opts, force=force, pad_to_multiple=pad_to_multiple,
                progress=progress)
    rows = ", ".join(f"{k} {v}" for k, v in s["rows"].items())
    click.echo(f"{out}: {s['vocab_size']} tokens ({rows}); {'tied' if s['tied'] else 'untied'}; {s['seconds']} s")


@click.command("eval-lm")
@click.argument("model")
@click.option("--text", "text_file", required=True, type=click.Path(dir_okay=False),
              help="Held-out text (UTF-8) to score.")
@click.option("--max-len", type=click.IntRange(min=1), default=1024, show_default=True, help="Window in tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print {bits_per_byte, bytes, tokens} as JSON.")
def eval_lm(model, text_file, max_len, as_json):
    """Bits per byte of MODEL (an HF model directory with its tokenizer, or a GGUF file) on a text:
    tokenizer-independent, so an original and a transplanted model compare directly."""
    import json

    from ..errors import FormatError
    from ..lm import bits_per_byte, load_model
    from ..textio import read_text

    text = read_text(text_file)  # a regular file, bounded, UTF-8
    if not text.strip():
        raise FormatError(text_file, "empty text")
    m, tok = load_model(model)
    r = bits_per_byte(m, tok, [text], max_len=max_len)
    out = {"bits_per_byte": r["bits_per_byte"], "bytes": r["bytes"], "tokens": r["tokens"]}
    if as_json:
        click.echo(json.dumps(out, allow_nan=False))
    else:
        click.echo(f"{r['bits_per_byte']:.4f} bits/byte ({r['bytes']:,} bytes, {r['tokens']:,} tokens)")


def _read_corpus(sources) -> list[str]:
    """The texts of --donor-corpus (files or corpus:NAME[:LANG])."""
    if not sources:
        return []
    from ..train.run import read_texts

    return read_texts(sources)


COMMANDS = [transplant, eval_lm]
