"""Drop what a failure does not need, after Hypothesis has shrunk it.

Hypothesis shrinks the *choices* a run drew, not the operations it ran. The
machine's populated tree comes from one ``initialize`` rule whose operations
the shrinker cannot drop one by one, and its rule choice and draws depend on
the state (a free needs a page alive, which page is drawn from those alive),
so deleting a step can change what the choices after it mean. Traces of 3 to
50 operations were left for bugs that need one or two (issue 10 saw 13-26). A
pass over the reproducer itself (operations, or a race's tries), one item at a
time from the end as ddmin's last pass does, replays each shorter list and
keeps it when it shows the same failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence


def one_minimal(items: Sequence, same: Callable[[list], bool],
                seconds: float | None = None) -> list:
    """``items`` less every item whose removal keeps ``same`` true (each tried
    once, from the last); ``seconds`` bounds the pass (what is left then is
    kept: shorter, perhaps not minimal)."""
    deadline = None if seconds is None else time.perf_counter() + seconds
    out = list(items)
    for i in range(len(out) - 1, -1, -1):
        if deadline is not None and time.perf_counter() > deadline:
            break
        shorter = out[:i] + out[i + 1:]
        if same(shorter):
            out = shorter
    return out
