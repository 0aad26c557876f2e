"""The ``tokkit`` command line: a thin layer over the Python API.

Each command group lives in its own module; a :class:`~tokkit.errors.TokkitError` becomes one
line on stderr and exit code 2 (anything else is a bug and keeps its traceback).
"""

from __future__ import annotations

import sys

import click

from ..errors import TokkitError


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TokkitError as e:
            click.echo(f"tokkit: error: {e}", err=True)
            ctx.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tokkit")
def cli() -> None:
    """Tokenizer engineering: train, transplant, byte-level probabilities, quality reports."""


def _register() -> None:
    """Add every ``COMMANDS`` list from the ``*_cmds`` modules of this package (one per group)."""
    import importlib
    import pkgutil

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.endswith("_cmds"):
            mod = importlib.import_module(f"{__name__}.{info.name}")
            for cmd in mod.COMMANDS:
                cli.add_command(cmd)


_register()


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="tokkit", standalone_mode=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
