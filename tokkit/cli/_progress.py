"""Progress bars shared by the command modules (the library reports progress through callbacks)."""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator


@contextlib.contextmanager
def step_bar(label: str, total: int | None) -> Iterator[Callable[[int, str], None]]:
    """A transient bar for a training loop: ``update(step, info)`` moves it and shows ``info``
    (the loss, a held-out figure) beside it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task(label, total=total, info="")
        yield lambda step, info: bar.update(task, completed=step, info=info)
