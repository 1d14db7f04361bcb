"""struct work_struct and the system workqueue (kernel/workqueue.c, 3.8).

Semantics that matter to the kmem races: queue_work() is a no-op while an item
is pending; an item that is running is not pending, so it can be queued again
and will run once more after it returns; cancel_work_sync() removes a pending
item and waits for a running one. Each item runs on its own kworker (cmwq), one
execution of an item at a time.
"""

from __future__ import annotations

from collections.abc import Callable

from kmemcg.impl.sched import Blocked


class WorkStruct:
    """struct work_struct: a function, its pending bit, and whether it runs."""

    def __init__(self, func: Callable, name: str):
        self.func = func  # a path (generator function) taking the work
        self.name = name
        self.pending = False
        self.running = False
        self.stage: str | None = None  # ghost: where a running item's function is


class Workqueue:
    def __init__(self, name: str = "events"):
        self.name = name
        self.queue: list[WorkStruct] = []

    def queue_work(self, work: WorkStruct) -> bool:
        """queue_work: False when already pending (a running item is not)."""
        if work.pending:
            return False
        work.pending = True
        self.queue.append(work)
        return True

    def init_work_pending(self, work: WorkStruct) -> None:
        """INIT_WORK on an item that is queued: the queue now holds it twice (v5)."""
        if work.pending:
            self.queue.append(work)

    def take(self, work: WorkStruct) -> None:
        """A kworker picks ``work`` off the queue: pending clears, it runs."""
        self.queue.remove(work)
        work.pending = work in self.queue
        work.running = True

    def done(self, work: WorkStruct) -> None:
        work.running = False

    def try_to_grab_pending(self, work: WorkStruct) -> None:
        """cancel_work_sync's first half: steal the pending bit, dequeue."""
        while work in self.queue:
            self.queue.remove(work)
        work.pending = False

    def flush_work(self, work: WorkStruct):
        """cancel_work_sync's second half: wait for a running item to return."""
        while work.running:
            yield Blocked(f"flush_work({work.name})")
