"""Progress of a long command, as TLC prints it: states found, their rate, the
queue and the elapsed time (``mutants``: which mutant, of how many).

Shown on standard error only when it is a terminal, as one live line that goes
away when the command ends (rich); in a pipe, a file or CI, nothing is written,
so the output is exactly what it is without it.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


def on_terminal() -> bool:
    return sys.stderr.isatty()


class Line:
    """One command's live progress line; every method is a no-op off a terminal."""

    def __init__(self, what: str, total: int | None = None, enabled: bool | None = None):
        self.what, self.total = what, total
        self.enabled = on_terminal() if enabled is None else enabled
        self.t0 = time.perf_counter()
        self._bar = self._task = None

    def __enter__(self) -> Line:
        if self.enabled:
            columns = [SpinnerColumn(), TextColumn("[bold]{task.fields[what]}"),
                       TextColumn("{task.description}"), TimeElapsedColumn()]
            if self.total is not None:
                columns[2:2] = [BarColumn(bar_width=20), MofNCompleteColumn()]
            # what the command prints goes above the line while both share the terminal;
            # a standard output sent elsewhere is left alone
            self._bar = Progress(*columns, console=Console(stderr=True), transient=True,
                                 refresh_per_second=4, redirect_stdout=sys.stdout.isatty())
            self._bar.__enter__()
            self._task = self._bar.add_task("", total=self.total, what=self.what)
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
            self._bar = None

    def rate(self, n: int) -> float:
        elapsed = time.perf_counter() - self.t0
        return n / elapsed if elapsed > 0 else 0.0

    def say(self, text: str, advance: int = 0) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=text, advance=advance)

    # ---------------------------------------------------------------- callbacks

    def states(self, distinct: int, queue: int, steps: int | None = None) -> None:
        """A breadth-first search (the explorer, the interleaver): TLC's line."""
        checked = f", {steps:,} steps" if steps is not None else ""
        self.say(f"{distinct:,} distinct states ({self.rate(distinct):,.0f}/s), "
                 f"{queue:,} on queue{checked}")

    def runs(self, runs: int, steps: int, of: int | None = None) -> None:
        """A Hypothesis machine: runs done (of at most ``of``) and steps checked."""
        out_of = f" of {of:,}" if of else ""
        self.say(f"{runs:,}{out_of} runs, {steps:,} steps ({self.rate(steps):,.0f}/s)")

    def item(self, name: str) -> None:
        """The next item of a list (a mutant, a TLC configuration) starts."""
        self.t0 = time.perf_counter()
        self.say(name)

    def done(self) -> None:
        self.say("", advance=1)


@contextmanager
def shown(what: str, total: int | None = None):
    with Line(what, total) as line:
        yield line
