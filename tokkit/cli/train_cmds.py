"""tokkit train."""

from __future__ import annotations

import click

from ..textio import MAX_RECORD_BYTES
from ..train.options import ALGOS, DIGIT_POLICIES, PRESETS, RANGES


def _csv(value: str | None) -> list[str] | None:
    return None if value is None else [x for x in value.split(",") if x]


def _range(option: str) -> click.IntRange:
    """The range of a numeric option, the same as the options' own check (TOML/YAML configs)."""
    return click.IntRange(*RANGES[option])


def _ints(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        return [int(x) for x in value.split(",") if x]
    except ValueError:
        raise click.BadParameter(f"{value!r}: give sizes as comma-separated integers",
                                 param_hint="'--snapshots'") from None


@click.command()
@click.argument("corpus", nargs=-1)
@click.option("--algo", type=click.Choice(ALGOS), help="Algorithm (default bpe).")
@click.option("--vocab-size", type=_range("vocab_size"), help="Size of the whole vocabulary (default 32000).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--config", "config", type=click.Path(dir_okay=False), help="TOML or YAML file with every option.")
@click.option("--preset", type=click.Choice(PRESETS), help="Pretokenizer preset (default llama3).")
@click.option("--regex", help="Custom pretokenizer regex (instead of --preset).")
@click.option("--digits", type=click.Choice(DIGIT_POLICIES), help="Digit policy (default: the preset's).")
@click.option("--normalization", type=click.Choice(["nfc", "nfkc"]), help="Unicode normalization.")
@click.option("--lowercase/--cased", default=None, help="Uncased variant (lowercase normalizer).")
@click.option("--special-tokens", help="Comma-separated special tokens (default <|endoftext|>).")
@click.option("--added-tokens", help="Comma-separated ordinary added tokens.")
@click.option("--min-frequency", type=_range("min_frequency"), help="Least count of a merged pair.")
@click.option("--max-token-bytes", type=_range("max_token_bytes"), help="Longest token in bytes.")
@click.option("--max-token-chars", type=_range("max_token_chars"),
              help="Longest token in characters (char: 3 up to 8k, else 4).")
@click.option("--snapshots", help="Extra vocabulary sizes from the same run, comma-separated.")
@click.option("--extend", type=click.Path(exists=True), help="Extend this tokenizer: keep its ids, learn more.")
@click.option("--transition", type=_range("transition"),
              help="SuperBPE: vocabulary size where stage 2 starts (default 80%).")
@click.option("--stage2-regex", help="SuperBPE: stage-2 pretokenizer, 'current' (default), 'paper' or a regex.")
@click.option("--terms", "terms_file", type=click.Path(dir_okay=False), help="Domain: a file of terms, one per line.")
@click.option("--pad-pow2/--no-pad-pow2", default=None, help="Pad the vocabulary to a power of two.")
@click.option("--tiktoken/--no-tiktoken", default=None, help="Also write tokenizer.tiktoken.")
@click.option("--text-field", help="Field of JSONL records (default text).")
@click.option("--errors", type=click.Choice(["strict", "replace"]), help="Invalid UTF-8 handling.")
@click.option("--max-record-bytes", type=click.IntRange(min=1), default=MAX_RECORD_BYTES, show_default=True,
              help="Longest corpus line (JSONL record) read; a longer one is an error naming the file and offset.")
@click.option("--force", is_flag=True, help="Replace an existing non-empty output directory (as a whole).")
def train(corpus, out, config, force, max_record_bytes, **kw):
    """Train a tokenizer on CORPUS files (text, .gz, .zst, JSONL) or bundled corpora (corpus:NAME[:LANG]).

    Writes tokenizer.json + config files (stock AutoTokenizer loads them), optional
    tokenizer.tiktoken, snapshots/<size>/ and manifest.json.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..errors import TokkitError
    from ..train.options import TrainOptions, load_config
    from ..train.run import train as run_train

    kw["special_tokens"] = _csv(kw.pop("special_tokens"))
    kw["added_tokens"] = _csv(kw.pop("added_tokens"))
    kw["snapshots"] = _ints(kw.pop("snapshots"))
    if kw.get("regex") and kw.get("preset"):
        raise TokkitError("give --preset or --regex, not both")
    if kw.get("regex"):
        kw["preset"] = None
    given = {k: v for k, v in kw.items() if v is not None}
    corpora = list(corpus)
    if config:
        opts = load_config(config, **given)
    else:
        opts = TrainOptions(**given).validate()
    if not corpora:
        raise TokkitError("no corpus given (files, or corpus:NAME for a bundled corpus such as corpus:legal)")

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(task: str, done: int, total: int | None) -> None:
            if task not in tasks or (task == "count" and bar.tasks[tasks[task]].finished):
                label = "counting (bytes)" if task == "count" else "merging"
                tasks[task] = bar.add_task(label, total=total)
            bar.update(tasks[task], completed=done, total=total)

        res = run_train(opts, corpora, out, force=force, progress=progress, max_record_bytes=max_record_bytes)
    m = res.manifest
    click.echo(f"{out}: {opts.algo} vocabulary of {m['vocab']['size']:,} tokens "
               f"({m['vocab']['merges']:,} merges) in {m['timings']['total_s']:.1f} s")
    for w in m["warnings"]:
        click.echo(f"warning: {w}", err=True)
    for name in m["files"]:
        click.echo(f"  {name}")
    click.echo("  manifest.json")


COMMANDS = [train]
