"""A computation beside the command (model/background.py), nested included."""

import os

from kmemcg.model.background import Background


def _pid() -> int:
    return os.getpid()


def _pid_of_nested() -> tuple[int, int]:
    """This worker's pid, and that of the work it asks to run beside it."""
    with Background(_pid) as inner:
        return os.getpid(), inner.result()


def test_a_worker_runs_its_own_background_work_in_turn():
    """``kmemcg check`` warms the coverage search in a worker, and the search
    runs its deep pass in the background: a daemonic worker may start no
    process, so that pass runs in the worker itself (once, an AssertionError)."""
    with Background(_pid_of_nested) as outer:
        worker, inner = outer.result()
    assert worker != os.getpid()
    assert inner == worker
