"""Preemptible kernel paths and the scheduler that runs them.

A kernel path is a generator. Each ``yield`` is a preemption point and names
the model action just completed (:class:`Step`); a path waiting for a mutex
yields :class:`Blocked` instead. :func:`run` drives one path to completion, so
a path is also an ordinary function; :class:`Thread` lets a scheduler step
several paths in any order.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Step:
    """The model action a path just completed, with kernel-level arguments."""

    action: str
    args: dict = field(default_factory=dict)
    #: 0 when the step succeeded (or the path goes on), -errno when it failed.
    ret: int = 0


@dataclass(frozen=True)
class Blocked:
    """The path waits for ``lock``; stepping it again retries."""

    lock: str


Path = Generator[Step | Blocked, None, Any]


class Mutex:
    """struct mutex; ``yield from m.lock(owner)`` blocks while another owner holds it."""

    def __init__(self, name: str):
        self.name = name
        self.owner: object | None = None

    def lock(self, owner: object):
        while self.owner is not None and self.owner is not owner:
            yield Blocked(self.name)
        self.owner = owner

    def unlock(self, owner: object) -> None:
        assert self.owner is owner, f"{self.name} unlocked by a non-owner"
        self.owner = None


class Thread:
    """One path being stepped."""

    def __init__(self, path: Path, name: str = ""):
        self.path = path
        self.name = name
        self.done = False
        self.result: Any = None

    def step(self) -> Step | Blocked | None:
        """Run to the next preemption point; ``None`` once the path has returned."""
        if self.done:
            return None
        try:
            return next(self.path)
        except StopIteration as stop:
            self.done = True
            self.result = stop.value
            return None


def run(path: Path) -> tuple[Any, list[Step]]:
    """Run a path to completion alone: (its return value, the steps it took)."""
    t = Thread(path)
    steps = []
    while True:
        y = t.step()
        if y is None:
            return t.result, steps
        if isinstance(y, Blocked):
            raise RuntimeError(f"path blocked on {y.lock} with no other thread to release it")
        steps.append(y)
