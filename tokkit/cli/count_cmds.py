"""tokkit count / tokkit merge-counts."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import TokkitError
from ..textio import MAX_RECORD_BYTES

PRESETS = ("gpt2", "llama3", "cl100k", "qwen2", "qwen35", "o200k", "smollm")


def _pretokenizer(preset: str | None, like: str | None):
    from ..vocab import read_vocab, spec

    if like:
        return read_vocab(like).pretokenizer
    preset = preset or "gpt2"
    if preset == "smollm":
        return spec.byte_level_preset("gpt2", individual_digits=True)
    return spec.byte_level_preset(preset)


def _train_options(preset: str | None, like: str | None, text_field: str, errors: str, kw: dict):
    """(training options, stage) a table is counted for (``--algo``, ``--config``, ``--stage2``
    and the other training options), or None for a plain table (``--preset``/``--like`` alone)."""
    from ..train.options import PRESETS as TRAIN_PRESETS
    from ..train.options import TrainOptions, load_config

    config, stage2, by_source = kw.pop("config", None), kw.pop("stage2", False), kw.pop("by_source", False)
    kw["added_tokens"] = None if kw.get("added_tokens") is None else [x for x in kw["added_tokens"].split(",") if x]
    given = {k: v for k, v in kw.items() if v is not None}
    if not (given or config or stage2 or by_source):
        return None
    if like:
        raise TokkitError("--like counts with another tokenizer's pretokenizer: not with training options "
                          "(--algo, --config, --stage2 ...)")
    if preset is not None and preset not in TRAIN_PRESETS:
        raise TokkitError(f"--preset {preset} is not a training preset (training presets: {', '.join(TRAIN_PRESETS)})")
    if given.get("regex") and preset:
        raise TokkitError("give --preset or --regex, not both")
    if preset is not None:
        given["preset"] = preset
    elif given.get("regex"):
        given["preset"] = None
    ctx = click.get_current_context()
    for name, value in (("text_field", text_field), ("errors", errors)):
        if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT:
            given[name] = value
    if stage2 and not config:
        given.setdefault("algo", "superbpe")
    opts = load_config(config, **given) if config else TrainOptions(**given).validate()
    return opts, (2 if stage2 else 1), by_source


def _count_for_training(corpus, out: str, force: bool, opts, stage: int, by_source: bool, max_record_bytes: int,
                        engine: str, ray_opts: dict) -> None:
    """Count CORPUS exactly as `tokkit train` with ``opts`` would (stage 1, or SuperBPE's 2),
    into a table stamped with the plan (tokkit.train.plan) that `tokkit train --counts` checks."""
    from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..io import refuse_overwrite_inputs
    from ..train.plan import CountPlan
    from ..train.run import count_for_training, resolve_sources

    plan = CountPlan.from_options(opts, stage)  # refuses what has no plan (unigram, stage 2 of bpe)
    sources = resolve_sources(list(corpus), max_record_bytes)  # globs and directories expanded
    refuse_overwrite_inputs([out], [s.path for s in sources if s.path is not None])
    if engine == "ray" and any(s.shard is None for s in sources):
        raise TokkitError("--engine ray counts files and shards; bundled corpora (corpus:NAME) are counted locally")
    if by_source:
        if engine == "ray":
            raise TokkitError("--by-source counts locally (one table per language or source); not with --engine ray")
        return _count_by_source(sources, out, opts, plan)
    if Path(out).exists() and not force:
        raise TokkitError(f"{out}: exists (use --force to replace it)")
    if engine == "ray":
        from ..readers import expand_all
        from ..scale.ray_count import count_on_ray

        shards = expand_all(corpus)
        with Progress(TextColumn("counting on Ray: tasks"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      transient=True) as bar:
            task = bar.add_task("count", total=None)
            table, _ = count_on_ray(shards, plan.pretokenizer, **ray_opts, text_field=opts.text_field,
                                    errors=opts.errors, max_record_bytes=max_record_bytes, transform=plan.transform,
                                    progress=lambda done, total: bar.update(task, completed=done, total=total))
        plan.stamp(table)
    else:
        with Progress(TextColumn("counting"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
                      transient=True) as bar:
            task = bar.add_task("count", total=None)
            table = count_for_training(opts, corpus, stage, max_record_bytes=max_record_bytes,
                                       progress=lambda _, done, total: bar.update(task, completed=done, total=total))
    table.save(out)
    click.echo(f"{out}: {len(table):,} distinct pretokens, {table.total:,} in all "
               f"(for {opts.algo}, stage {stage}, plan {plan.fingerprint()[:12]})")


def _count_by_source(sources, out: str, opts, plan) -> None:
    """`tokkit count --by-source`: the training counts kept per weighting group (language or
    source), so `tokkit train --counts T --temperature 3` (or --weights) needs no recount."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    from ..train.run import count_groups

    with Progress(TextColumn("counting by source"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
                  transient=True) as bar:
        task = bar.add_task("count", total=None)
        (grouped,) = count_groups(sources, [plan.pretokenizer], opts, plan.transform(),
                                  progress=lambda _, done, total: bar.update(task, completed=done, total=total))
    grouped.meta["count_plan"] = plan.to_dict()
    grouped.save(out)
    n = sum(len(t) for t in grouped.tables.values())
    click.echo(f"{out}: {len(grouped.groups)} groups, {n:,} (group, pretoken) rows (for {opts.algo}, stage "
               f"{plan.stage}, plan {plan.fingerprint()[:12]})")


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
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: this process, native threads; ray: one Ray task per shard, partial tables "
                   "tree-reduced (docs/scale.md).")
@click.option("--address", help="--engine ray: join the Ray cluster at HOST:PORT ('auto': the one this "
                                "machine belongs to); default: start a local cluster for the job.")
@click.option("--num-cpus", type=click.IntRange(min=1), help="--engine ray: CPUs of the local cluster "
                                                             "(default: all).")
@click.option("--task-mb", type=click.IntRange(min=1), default=256, show_default=True,
              help="--engine ray: MB of text per counting task (shards are grouped, never split).")
@click.option("--algo", type=click.Choice(("bpe", "superbpe", "domain", "char")),
              help="Count for `tokkit train --algo A --counts`: the trainer's pretokenizer and transform.")
@click.option("--config", type=click.Path(dir_okay=False), help="Count for training with this options file.")
@click.option("--stage2", is_flag=True, default=False, help="SuperBPE's stage-2 table (stage-2 pretokenizer).")
@click.option("--by-source", is_flag=True, default=False,
              help="Keep the counts per language / source (for train --counts with --weights or --temperature).")
@click.option("--stage2-regex", help="Training: SuperBPE stage-2 pretokenizer ('current', 'paper' or a regex).")
@click.option("--regex", help="Training: custom pretokenizer regex (instead of --preset).")
@click.option("--digits", type=click.Choice(("preset", "single", "l2r3", "r2l3")), help="Training: digit policy.")
@click.option("--normalization", type=click.Choice(["nfc", "nfkc"]), help="Training: Unicode normalization.")
@click.option("--lowercase/--cased", default=None, help="Training: uncased variant.")
@click.option("--added-tokens", help="Training: comma-separated added tokens (cut out before counting).")
@click.option("--terms", "terms_file", type=click.Path(dir_okay=False), help="Training (domain): a file of terms.")
def count(corpus, out, preset, like, text_field, errors, max_record_bytes, force, engine, address, num_cpus, task_mb,
          **train_kw):
    """Count the pretokens of CORPUS into a Parquet count table.

    CORPUS: files (text, .gz, .zst, JSONL, Parquet, Arrow), globs (data/*.parquet), directories
    of shards, or folders written by datasets' save_to_disk.

    With training options (--algo, --config, --stage2, ...: docs/train.md, "Training from count
    tables"): the table `tokkit train` with those options would count (its pretokenizer,
    normalization, added tokens cut out; CORPUS may also be corpus:NAME), stamped with the plan
    that `tokkit train --counts` checks; the defaults are then train's (preset llama3)."""
    from ..io import refuse_overwrite_inputs
    from ..readers import expand_all

    if preset and like:
        raise TokkitError("give --preset or --like, not both")
    if engine == "local" and (address or num_cpus):
        raise TokkitError("--address and --num-cpus need --engine ray")
    ray_opts = dict(address=address, num_cpus=num_cpus, task_bytes=task_mb << 20)
    training = _train_options(preset, like, text_field, errors, train_kw)
    if training is not None:
        return _count_for_training(corpus, out, force, *training, max_record_bytes, engine, ray_opts)
    bundled = [c for c in corpus if str(c).startswith("corpus:")]
    if bundled:
        raise TokkitError(f"{bundled[0]}: bundled corpora are counted for training: give a training option "
                          "(--algo bpe, or --config FILE)")
    shards = expand_all(corpus)
    refuse_overwrite_inputs([out], [sh.path for sh in shards])
    if Path(out).exists() and not force:
        raise TokkitError(f"{out}: exists (use --force to replace it)")
    steps = _pretokenizer(preset, like)
    opts = dict(text_field=text_field, errors=errors, max_record_bytes=max_record_bytes)
    if engine == "ray":
        table = _count_ray(shards, steps, opts, ray_opts)
    else:
        table = _count_local(shards, steps, opts)
    table.save(out)
    click.echo(f"{out}: {len(table):,} distinct pretokens, {table.total:,} in all")


def _count_local(shards, steps, opts):
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    from ..counts import count_files

    total = sum(sh.text_bytes_estimate(opts["text_field"]) for sh in shards)
    with Progress(TextColumn("counting"), BarColumn(), DownloadColumn(), TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("count", total=total or None)
        return count_files(shards, steps, progress=lambda n: bar.advance(task, n), **opts)


def _count_ray(shards, steps, opts, ray_opts):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..scale.ray_count import count_on_ray

    with Progress(TextColumn("counting on Ray: tasks"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as bar:
        task = bar.add_task("count", total=None)
        table, _ = count_on_ray(shards, steps, progress=lambda done, total: bar.update(task, completed=done, total=total),
                                **opts, **ray_opts)
    return table


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
