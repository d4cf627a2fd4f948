"""Output for people: rich tables and progress bars with an ETA, drawn on a terminal and printed plainly otherwise.

On a terminal a progress bar redraws in place; redirected (a file, a pipe, CI), rich prints no control codes and
only the bar's last state, e.g. `processed ━━━━━━━━ 5301/5301 0:00:12 eta 0:00:00`. Records for machines (JSON lines)
never go through here: they are written to their stream as they are.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO

from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

PLAIN_WIDTH = 120  # the width of redirected output: wide enough for the demo's tables without wrapping cells


def console(stream: TextIO | None = None) -> Console:
    """A console on `stream` (standard output by default) that reads no markup or emoji in the text it is given."""
    out = stream or sys.stdout
    tty = out.isatty()
    return Console(file=out, markup=False, emoji=False, highlight=False, width=None if tty else PLAIN_WIDTH,
                   soft_wrap=False)


def err_console() -> Console:
    return console(sys.stderr)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str | None = None,
          whole: Sequence[str] = ()) -> Table:
    """Numbers right-aligned with thousands separators, fractions in [0, 1] as percentages.

    Long cells wrap, and fold rather than end in an ellipsis; the columns named in `whole` never wrap (identifiers).
    """
    numeric = [bool(rows) and all(is_number(r[i]) for r in rows) for i in range(len(headers))]
    t = Table(title=title, title_justify="left", title_style="bold", header_style="bold")
    for h, num in zip(headers, numeric, strict=True):
        t.add_column(h, justify="right" if num else "left", overflow="fold", no_wrap=h in whole)
    for r in rows:
        t.add_row(*(c if isinstance(c, ProgressBar) else Text(cell_text(c)) for c in r))
    return t


def bar(fraction: float, width: int = 12) -> ProgressBar:
    """A fraction as a bar, for a table cell."""
    return ProgressBar(total=1.0, completed=max(0.0, min(1.0, fraction)), width=width)


@contextlib.contextmanager
def progress(label: str, total: int, out: Console | None = None) -> Iterator[Callable[[int], None]]:
    """A progress bar with done/total, elapsed time and ETA; yields `show(done)`.

    The bar appears with the first progress, so a command that fails before doing anything (no broker) prints its
    one-sentence error and no empty bar."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn())
    p = Progress(*columns, console=out or err_console())
    task = p.add_task(label, total=total)

    def update(done: int) -> None:
        if not p.live.is_started:
            p.start()
        p.update(task, completed=done)

    try:
        yield update
    finally:
        if p.live.is_started:
            p.stop()


def show(out: Console, *parts: RenderableType | str) -> None:
    """Print renderables, and strings as plain text (never markup), separated by blank lines."""
    for i, part in enumerate(parts):
        if i:
            out.print()
        if isinstance(part, str):
            out.print(Text(part), soft_wrap=True)  # a sentence stays one line; the terminal wraps it
        else:
            out.print(part)


def cell_text(c: object) -> str:
    """How a table shows a value: shares as percentages, numbers with thousands separators."""
    if isinstance(c, float):
        return f"{c:.1%}" if 0 <= c <= 1 else f"{c:,.1f}"
    if isinstance(c, int) and not isinstance(c, bool):
        return f"{c:,}"
    return str(c)


def is_number(c: object) -> bool:
    return isinstance(c, int | float) and not isinstance(c, bool)
