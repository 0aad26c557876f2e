"""The ``tokkit`` command line: a thin layer over the Python API.

Each command group lives in its own module; a :class:`~tokkit.errors.TokkitError` or an
``OSError`` (full disk, read-only file system) becomes one line on stderr and exit code 2, Ctrl-C
one line and exit code 130 (anything else is a bug and keeps its traceback).
"""

from __future__ import annotations

import sys

import click

from ..errors import TokkitError


def _os_error_line(e: OSError) -> str:
    """An error of the file system or the machine (read-only file system, full disk, no
    permission, a file that vanished) as ``FILE: problem``."""
    problem = e.strerror or str(e)
    return f"{e.filename}: {problem}" if e.filename else problem


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TokkitError as e:
            click.echo(f"tokkit: error: {e}", err=True)
            ctx.exit(2)
        except click.UsageError as e:  # an option out of its range, a missing argument: one line
            click.echo(f"tokkit: error: {e.format_message()}", err=True)
            ctx.exit(2)
        except OSError as e:  # the environment, not a bug: outputs were written atomically
            click.echo(f"tokkit: error: {_os_error_line(e)}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:  # Ctrl-C: partial outputs were removed on the way out
            click.echo("tokkit: error: interrupted", err=True)
            ctx.exit(130)


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
