"""tokkit count / tokkit merge-counts."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import TokkitError
from ..textio import MAX_RECORD_BYTES, regular_file

PRESETS = ("gpt2", "llama3", "qwen2", "qwen35", "o200k", "smollm")


def _pretokenizer(preset: str | None, like: str | None):
    from ..vocab import read_vocab, spec

    if like:
        return read_vocab(like).pretokenizer
    preset = preset or "gpt2"
    if preset == "smollm":
        return spec.byte_level_preset("gpt2", individual_digits=True)
    return spec.byte_level_preset(preset)


@click.command()
@click.argument("corpus", nargs=-1, required=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Parquet file to write.")
@click.option("--preset", type=click.Choice(PRESETS), help="Pretokenizer preset (default gpt2).")
@click.option("--like", help="Use the pretokenizer of this tokenizer instead.")
@click.option("--text-field", default="text", show_default=True, help="Field of JSONL records.")
@click.option("--errors", type=click.Choice(["strict", "replace"]), default="strict", show_default=True,
              help="Invalid UTF-8: stop with the file and byte offset, or substitute U+FFFD.")
@click.option("--max-record-bytes", type=click.IntRange(min=1), default=MAX_RECORD_BYTES, show_default=True,
              help="Longest line (JSONL record) read; a longer one is an error naming the file and offset.")
@click.option("--force", is_flag=True, help="Replace an existing output file.")
def count(corpus, out, preset, like, text_field, errors, max_record_bytes, force):
    """Count the pretokens of CORPUS files (text, .gz, .zst, JSONL) into a Parquet count table."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    from ..counts import count_files
    from ..io import refuse_overwrite_inputs

    if preset and like:
        raise TokkitError("give --preset or --like, not both")
    refuse_overwrite_inputs([out], list(corpus))
    if Path(out).exists() and not force:
        raise TokkitError(f"{out}: exists (use --force to replace it)")
    files = [regular_file(c) for c in corpus]
    steps = _pretokenizer(preset, like)
    total = sum(p.stat().st_size for p in files)
    with Progress(TextColumn("counting"), BarColumn(), DownloadColumn(), TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("count", total=total or None)
        table = count_files(files, steps, text_field=text_field, errors=errors,
                            progress=lambda n: bar.advance(task, n), max_record_bytes=max_record_bytes)
    table.save(out)
    click.echo(f"{out}: {len(table):,} distinct pretokens, {table.total:,} in all")


@click.command("merge-counts")
@click.argument("tables", nargs=-1, required=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True)
def merge_counts(tables, out, force):
    """Sum count tables (shards made on different machines) into one."""
    from ..counts import CountTable, merge
    from ..io import refuse_overwrite_inputs

    refuse_overwrite_inputs([out], list(tables))
    if Path(out).exists() and not force:
        raise TokkitError(f"{out}: exists (use --force to replace it)")
    table = merge([CountTable.load(t) for t in tables])
    table.save(out)
    click.echo(f"{out}: {len(table):,} distinct pretokens, {table.total:,} in all (from {len(tables)} tables)")


COMMANDS = [count, merge_counts]
