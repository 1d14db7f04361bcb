"""Drop what a failure does not need, after Hypothesis has shrunk it.

Hypothesis shrinks the *choices* a run drew, not the operations it ran. A
machine's rule choice is filtered by preconditions (a free needs a page alive)
and its draws depend on the state (which page to free), so deleting one step
changes what the choices after it mean: the shrinker then meets runs that no
longer fail and stops in a local minimum, 13 to 50 operations long for a bug
that needs one. A pass over the reproducer itself (operations, or a race's
tries), one item at a time from the end as ddmin's last pass does, replays
each shorter list and keeps it when it shows the same failure.
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
