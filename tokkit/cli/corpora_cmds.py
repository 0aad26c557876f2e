"""tokkit corpora ..."""

from __future__ import annotations

import json

import click


@click.group()
def corpora() -> None:
    """List and show the bundled and cached corpora."""


@corpora.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    """List corpora (bundled and cached) and whether they are available."""
    from .. import corpora as C

    infos = C.list_corpora()
    rows = [i.__dict__ if hasattr(i, "__dict__") else dict(i) for i in infos]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return
    for r in rows:
        click.echo("  ".join(f"{k}={v}" for k, v in r.items()))


COMMANDS = [corpora]
