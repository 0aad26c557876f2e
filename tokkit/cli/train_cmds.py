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
              help="SuperBPE: vocabulary size where stage 2 starts (default: 60% of --vocab-size below 64K, 40% from 64K).")
@click.option("--stage2-regex", help="SuperBPE: stage-2 pretokenizer, 'paper' (default), 'current' or a regex.")
@click.option("--terms", "terms_file", type=click.Path(dir_okay=False), help="Domain: a file of terms, one per line.")
@click.option("--pad-pow2/--no-pad-pow2", default=None, help="Pad the vocabulary to a power of two.")
@click.option("--tiktoken/--no-tiktoken", default=None, help="Also write tokenizer.tiktoken.")
@click.option("--text-field", help="Field of JSONL records (default text).")
@click.option("--errors", type=click.Choice(["strict", "replace"]), help="Invalid UTF-8 handling.")
@click.option("--max-record-bytes", type=click.IntRange(min=1), default=MAX_RECORD_BYTES, show_default=True,
              help="Longest corpus line (JSONL record) read; a longer one is an error naming the file and offset.")
@click.option("--counts", "counts", type=click.Path(dir_okay=False),
              help="Train from this count table (tokkit count --config OPTIONS) instead of a corpus.")
@click.option("--counts-stage2", "counts_stage2", type=click.Path(dir_okay=False),
              help="SuperBPE: the stage-2 count table (tokkit count --algo superbpe --stage2).")
@click.option("--weights", "weights_file", type=click.Path(dir_okay=False),
              help="JSON/TOML/YAML mapping of source (or language) -> weight; CORPUS=W works too (corpus:udhr=0.5).")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True),
              help="Language temperature T: languages weighted as (bytes of text)^(1/T); default proportional.")
@click.option("--weighting", type=click.Choice(["counts", "sample"]),
              help="Weights apply to counts (upweighting, default) or to sampling documents (upsampling).")
@click.option("--parity-aware", "parity_iterations", type=click.IntRange(min=0, max=100), default=None,
              help="Rounds of parity-aware weighting (bpe): language weights moved towards equal tokens per UDHR "
                   "article, English growing by at most --parity-budget.")
@click.option("--parity-budget", type=click.FloatRange(0, 1), help="Most extra English tokens (default 0.03).")
@click.option("--report", "report_corpora", multiple=True,
              help="After training, write the quality report of the result to OUT/report/ on this corpus "
                   "(udhr, a corpus name, FILE:LANG); repeatable.")
@click.option("--report-baseline", "report_baselines", multiple=True,
              help="Tokenizers to compare with in that report (names such as llama3, or paths); repeatable.")
@click.option("--force", is_flag=True, help="Replace an existing non-empty output directory (as a whole).")
def train(corpus, out, config, force, max_record_bytes, counts, counts_stage2, weights_file, report_corpora,
          report_baselines, **kw):
    """Train a tokenizer on CORPUS: files (text, .gz, .zst, JSONL, Parquet, Arrow), globs, directories
    of shards, save_to_disk folders, or bundled corpora (corpus:NAME[:LANG]; corpus:NAME:* for
    every language); CORPUS=W weights a source (docs/train.md, "Weights").

    Or from count tables made by `tokkit count` with the same options (--counts, and
    --counts-stage2 for SuperBPE): each is checked against what these options would count.

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
    if weights_file:
        from ..train.weights import read_weights

        given["weights"] = read_weights(weights_file)
    if report_baselines and not report_corpora:
        raise TokkitError("--report-baseline needs --report CORPUS")
    corpora = list(corpus)
    if config:
        opts = load_config(config, **given)
    else:
        opts = TrainOptions(**given).validate()
    if not corpora and counts is None and counts_stage2 is None:
        raise TokkitError("no corpus given (files, or corpus:NAME for a bundled corpus such as corpus:legal; "
                          "or --counts TABLE)")

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(task: str, done: int, total: int | None) -> None:
            if task not in tasks or (task == "count" and bar.tasks[tasks[task]].finished):
                label = {"count": "counting (bytes)", "parity": "parity rounds"}.get(task, "merging")
                tasks[task] = bar.add_task(label, total=total)
            bar.update(tasks[task], completed=done, total=total)

        res = run_train(opts, corpora, out, force=force, progress=progress, max_record_bytes=max_record_bytes,
                        counts=counts, counts_stage2=counts_stage2)
    m = res.manifest
    click.echo(f"{out}: {opts.algo} vocabulary of {m['vocab']['size']:,} tokens "
               f"({m['vocab']['merges']:,} merges) in {m['timings']['total_s']:.1f} s")
    for w in m["warnings"]:
        click.echo(f"warning: {w}", err=True)
    for name in m["files"]:
        click.echo(f"  {name}")
    click.echo("  manifest.json")
    if report_corpora:
        _report(out, list(report_corpora), list(report_baselines))


def _report(out: str, corpora: list[str], baselines: list[str]) -> None:
    """The trainer-report loop: the new tokenizer's quality report (with the baselines) in
    OUT/report/, written after the tokenizer (a failed report leaves the tokenizer in place)."""
    from pathlib import Path

    from ..quality import ReportOptions, build_report, write_report

    name = Path(out).name or "new"
    rep = build_report([f"{name}={out}", *baselines], corpora, None, ReportOptions())
    files = write_report(rep, Path(out) / "report", force=False, inputs=[])
    click.echo(f"  report/: {', '.join(f.name for f in files)}")
    for p in rep["problems"]:
        click.echo(f"tokkit: warning: {p['where']}: {p['problem']}", err=True)


COMMANDS = [train]
