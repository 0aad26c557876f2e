"""tokkit report."""

from __future__ import annotations

import click

from ..quality.report import MAX_ALPHA, MAX_BOOT, MIN_BOOT


def _csv(value: str | None) -> list[str] | None:
    return None if not value else [x.strip() for x in value.split(",") if x.strip()]


@click.command()
@click.argument("tokenizers", nargs=-1, required=True)
@click.option("--corpus", "corpora", multiple=True,
              help="udhr (default), another corpus name (held-out split), or FILE:LANG; repeatable.")
@click.option("--langs", help="Comma-separated languages (ISO 639-1/3, BCP 47 or UDHR keys); default all.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--pivot", default="eng", show_default=True, help="Pivot language of the premiums.")
@click.option("--baseline", help="Tokenizer name for the normalised sequence length (default: the first).")
@click.option("--alpha", default=2.5, show_default=True, type=click.FloatRange(0, MAX_ALPHA, min_open=True),
              help="Rényi entropy order (not 1).")
@click.option("--bootstrap", "n_boot", default=1000, show_default=True, type=click.IntRange(MIN_BOOT, MAX_BOOT),
              help="Bootstrap resamples over aligned units.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2 ** 32 - 1),
              help="Seed of the bootstrap.")
@click.option("--linguistic/--no-linguistic", default=None,
              help="Lexicon/morphology metrics (default: on for 20 text sets or fewer).")
@click.option("--no-audit", is_flag=True, help="Skip the vocabulary audits (unreachable, undecodable, digits).")
@click.option("--force", is_flag=True, help="Replace an existing non-empty output directory (as a whole).")
def report(tokenizers, corpora, langs, out, pivot, baseline, alpha, n_boot, seed, linguistic, no_audit, force):
    """Quality report for TOKENIZERS (paths in any format tokkit reads, NAME=PATH, or the known
    names gpt2, llama3, qwen2, smollm2, cl100k, mistral-v1, mistral-v3, minilm).

    Writes OUT/report.json (versioned schema), report.html (self-contained, offline), report.md
    and CSV files. Problems with inputs (unknown language, empty file, ids that do not decode)
    are reported inside the report.
    """
    import sys

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..quality import ReportOptions, build_report, write_report
    from ..quality.inputs import parse_tokenizer_arg

    opts = ReportOptions(pivot=pivot, baseline=baseline, alpha=alpha, n_boot=n_boot, seed=seed,
                         linguistic=linguistic, audit=not no_audit)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True, console=Console(stderr=True), disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("report", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        rep = build_report(list(tokenizers), list(corpora) or None, _csv(langs), opts, progress=progress)
    inputs = [parse_tokenizer_arg(t)[1] for t in tokenizers] + [c.rpartition(":")[0] or c for c in corpora]
    files = write_report(rep, out, force=force, inputs=inputs)
    click.echo(f"{out}: {', '.join(f.name for f in files)} ({len(rep['per_tokenizer'])} tokenizers, "
               f"{len(rep['corpora'])} text sets, {rep['timing']['total_s']:.1f} s)")
    for p in rep["problems"]:
        click.echo(f"tokkit: warning: {p['where']}: {p['problem']}", err=True)


COMMANDS = [report]
