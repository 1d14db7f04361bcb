"""The sequential Hypothesis machine: random operations, every step checked.

Each rule is one operation of the cgroupfs or kernel face, run to completion
through :class:`~kmemcg.conformance.harness.Harness`, which checks each step with the
oracle and all invariants; reads are compared with the face spec. A failure is
shrunk by Hypothesis to a short operation list, which the report prints and
``kmemcg replay`` re-runs.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, Verbosity, seed, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.internal.conjecture import engine
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from kmemcg.conformance import strategies as gen
from kmemcg.conformance.claims import Claim
from kmemcg.conformance.harness import Harness, Nonconformance
from kmemcg.model import cgroupfs
from kmemcg.model.config import Config
from kmemcg.model.state import OFFLINE, ONLINE

READ_FILES = (*cgroupfs.FILES, *cgroupfs.READ_ONLY, *cgroupfs.WRITE_ONLY, "memory.nosuch")


@dataclass
class Stats:
    """A machine run's counts and what it found."""

    steps: int = 0
    seconds: float = 0.0
    failure: Exception | None = None
    #: Ctrl-C stopped the run: the counts are those of the runs completed, and
    #: ``failure`` (if any) is the shortest seen, perhaps not fully shrunk
    interrupted: bool = False
    #: the failure with the shortest ``reproducer`` raised so far, so that a
    #: Ctrl-C while Hypothesis shrinks loses nothing found
    seen: Exception | None = None
    #: under a kernel claim: each known bug of that kernel seen (conformance/claims.py)
    warnings: list = field(default_factory=list)

    def saw(self, e):
        """Note a failure as it is raised; returns it, to be raised."""
        if self.seen is None or len(e.reproducer) <= len(self.seen.reproducer):
            self.seen = e
        return e


@dataclass
class RunStats(Stats):
    """The sequential machine's: operations run, and the failing ones."""

    ops: int = 0
    failing_ops: list = field(default_factory=list)


class MachineError(Exception):
    """Hypothesis stopped for a reason that is not a failure of the implementation."""


def fits(cfg: Config) -> bool:
    """Whether the sequential machine can drive ``cfg``: no root caches, tasks at boot."""
    return not cfg.roots and cfg.boot_tasks


def check_config(cfg: Config) -> Config:
    """What the machines need of a configuration, checked before Hypothesis runs
    (Hypothesis would stop with its own error, deep in a strategy)."""
    if not fits(cfg):
        raise ValueError(f"configuration {cfg.name!r} scopes in root caches or forked tasks; "
                         f"the sequential machine drives the counters and the tree (the race "
                         f"machine drives every scope: kmemcg conform --race)")
    if not cfg.tasks:
        raise ValueError(f"configuration {cfg.name!r} has no tasks: the conformance machine "
                         f"needs at least one (\"tasks\": [\"t1\"])")
    return cfg


def _base(cfg: Config, make_impl, oracle: str, stats: RunStats, claim: Claim | None = None):
    """What both machines share: a checked harness and a populated starting tree."""
    memcgs = st.integers(0, cfg.n_memcgs - 1)

    class Base(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.h = Harness.started(make_impl, cfg, oracle_mode=oracle, on_failure=stats.saw,
                                     claim=claim)

        def teardown(self):
            stats.ops += len(self.h.ops)
            stats.steps += self.h.steps_checked
            self.h.impl.close()

        def _run(self, op, **args):
            return self.h.run(op, args)

        def path(self, m):
            return self.h.paths[m]

        @initialize(data=st.data())
        def setup(self, data):
            """Start from a populated tree: random runs rarely build one themselves.

            The tree is built first; limits and task placement then come in a drawn
            order, so activation meets both empty groups and groups with tasks.
            Every setup operation goes through the harness, so it is checked too.
            """
            for m in range(1, cfg.n_memcgs):
                parent = cfg.parents[m]
                if self.h.state.lifecycle[parent] != 1 or not data.draw(st.booleans()):
                    continue
                if data.draw(st.booleans()):
                    self._run("write", path=self.path(parent), file="memory.use_hierarchy",
                              text="1")
                self._run("mkdir", path=self.path(m))
            moves = [("limit", m, f) for m in range(1, cfg.n_memcgs)
                     for f in ("memory.kmem.limit_in_bytes", "memory.limit_in_bytes")]
            moves += [("attach", t, None) for t in cfg.tasks]
            for kind, x, file in data.draw(st.permutations(moves)):
                if kind == "attach":
                    self._run("attach", task=x, path=self.path(data.draw(memcgs)))
                elif self.h.state.lifecycle[x] == 1 and data.draw(st.booleans()):
                    self._run("write", path=self.path(x), file=file,
                              text=data.draw(gen.small_limits))

    return Base


def machine_for(cfg: Config, make_impl, oracle: str = "eval", stats: RunStats | None = None,
                claim: Claim | None = None):
    """The sequential machine: each rule runs one operation to completion."""
    stats = stats if stats is not None else RunStats()
    memcgs = st.integers(0, cfg.n_memcgs - 1)
    tasks = st.sampled_from(cfg.tasks)
    large = gen.kmalloc_large_sizes(cfg.orders)

    class KmemMachine(_base(cfg, make_impl, oracle, stats, claim)):
        @rule(m=memcgs)
        def mkdir(self, m):
            if self.h.state.lifecycle[m] != OFFLINE:  # the model never re-creates a memcg
                self._run("mkdir", path=self.path(m))

        @rule(m=memcgs)
        def rmdir(self, m):
            self._run("rmdir", path=self.path(m))

        @rule(m=memcgs, write=gen.writes)
        def write(self, m, write):
            file, text = write
            self._run("write", path=self.path(m), file=file, text=text)

        @rule(m=memcgs, text=gen.trigger_texts)
        def force_empty(self, m, text):
            """What a user does before rmdir: move the group's tasks to its parent,
            then empty it, kernel memory left behind (each operation checked)."""
            s = self.h.state
            if m and s.lifecycle[m] == ONLINE:
                for i, t in enumerate(cfg.tasks):
                    if s.task_memcg[i] == m:
                        self._run("attach", task=t, path=self.path(cfg.parents[m]))
            self._run("write", path=self.path(m), file="memory.force_empty", text=text)

        @rule(m=memcgs, file=st.sampled_from(READ_FILES))
        def read(self, m, file):
            self._run("read", path=self.path(m), file=file)

        @rule(t=tasks, m=memcgs)
        def attach(self, t, m):
            self._run("attach", task=t, path=self.path(m))

        @rule(t=tasks, gfp=gen.gfp_sets, in_interrupt=gen.rarely, fail=gen.rarely,
              order=gen.page_orders(cfg.orders))
        def alloc_kmem(self, t, gfp, in_interrupt, fail, order):
            # order 0 is left out of the operation, as a client of old would
            self._run("alloc_kmem", task=t, gfp=gfp, in_interrupt=in_interrupt, fail=fail,
                      **({"order": order} if order else {}))

        @rule(t=tasks, n=st.integers(2, 4))
        def alloc_kmem_burst(self, t, n):
            """A task allocating several objects in a row (a dentry walk, a fork)."""
            for _ in range(n):
                self._run("alloc_kmem", task=t, gfp=["GFP_KERNEL", "__GFP_KMEMCG"],
                          in_interrupt=False, fail=False)

        if large is not None:
            @rule(t=tasks, size=large)
            def kmalloc_large(self, t, size):
                """kmalloc(size) past the kmalloc caches -> kmalloc_large: get_order(size)
                pages with __GFP_KMEMCG (kmalloc_order, 3.8-3.10), and their kfree at
                once (a short-lived buffer) -> __free_memcg_kmem_pages."""
                pfn = self._run("alloc_kmem", task=t, gfp=["GFP_KERNEL", "__GFP_KMEMCG"],
                                order=gen.get_order(size))
                if pfn >= 0:
                    self._run("free_kmem", task=t, page=pfn)

        @precondition(lambda self: any(p.kind == "kmem" for p in self.h.pages.values()))
        @rule(data=st.data(), t=tasks)
        def free_kmem(self, data, t):
            """Any task may free kernel memory (a dentry, a socket), not only its allocator."""
            pfn = data.draw(st.sampled_from(sorted(p for p, v in self.h.pages.items()
                                                   if v.kind == "kmem")))
            self._run("free_kmem", task=t, page=pfn)

        @rule(t=tasks)
        def alloc_user(self, t):
            self._run("alloc_user", task=t)

        @precondition(lambda self: any(p.kind == "user" for p in self.h.pages.values()))
        @rule(data=st.data())
        def free_user(self, data):
            pfn = data.draw(st.sampled_from(sorted(p for p, v in self.h.pages.items()
                                                   if v.kind == "user")))
            self._run("free_user", page=pfn)

        @rule(t=tasks, kthread=gen.rarely, fatal=gen.rarely, has_mm=st.just(True) | gen.rarely)
        def set_task(self, t, kthread, fatal, has_mm):
            self._run("set_task", task=t, kthread=kthread, fatal_signal=fatal, has_mm=has_mm)

    return KmemMachine


def quiet_settings(examples: int, steps: int, database: str | None = None) -> settings:
    """Silent (the suite reports failures itself, so Hypothesis's explain phase,
    seconds per failure, is skipped) and deterministic: no example database
    unless ``database`` names a directory, whose saved failures are then tried
    first (the pytest plugin's and ``conform --database``'s choice)."""
    db = DirectoryBasedExampleDatabase(database) if database else None
    return settings(max_examples=examples, stateful_step_count=steps, database=db,
                    deadline=None, verbosity=Verbosity.quiet, print_blob=False,
                    suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])


@contextmanager
def shrink_budget(seconds: float):
    """Bound Hypothesis's shrinking time (its own default is five minutes)."""
    old = getattr(engine, "MAX_SHRINKING_SECONDS", None)
    engine.MAX_SHRINKING_SECONDS = seconds
    try:
        yield
    finally:
        if old is not None:
            engine.MAX_SHRINKING_SECONDS = old


def run_machine(machine, *, seed_value: int, examples: int, steps: int,
                shrink_seconds: float, failure: type[Exception], database: str | None = None):
    """Run a seeded state machine quietly: (the shrunk failure or None, seconds).

    Whatever else Hypothesis ends with never surfaces raw: a group of errors (two
    distinct failures found, or a flaky one) gives the first failure it holds;
    anything else is a :class:`MachineError`."""
    seed(seed_value)(machine)
    t0 = time.perf_counter()
    try:
        with shrink_budget(shrink_seconds):
            run_state_machine_as_test(machine,
                                      settings=quiet_settings(examples, steps, database))
    except failure as e:
        return e, time.perf_counter() - t0
    except BaseExceptionGroup as group:
        found = _first(group, failure)
        if found is not None:
            return found, time.perf_counter() - t0
        raise MachineError(f"Hypothesis stopped with {type(group).__name__}: "
                           f"{_leaves(group)}") from None
    except Exception as e:  # InvalidArgument, Unsatisfiable, a bug of the machine
        raise MachineError(f"Hypothesis stopped with {type(e).__name__}: {e}") from None
    return None, time.perf_counter() - t0


def _first(group: BaseExceptionGroup, kind: type[Exception]):
    for e in group.exceptions:
        if isinstance(e, kind):
            return e
        if isinstance(e, BaseExceptionGroup):
            found = _first(e, kind)
            if found is not None:
                return found
    return None


def _leaves(group: BaseExceptionGroup) -> str:
    return "; ".join(f"{type(e).__name__}: {e}" for e in group.exceptions)


def run(cfg: Config, make_impl, *, seed_value: int, examples: int = 50, steps: int = 40,
        oracle: str = "eval", shrink_seconds: float = 20.0, claim: Claim | None = None,
        database: str | None = None) -> RunStats:
    """Run a machine; a failure is shrunk and returned in the stats, not raised;
    under a kernel ``claim`` its known bugs are warnings (``warnings``). Ctrl-C
    returns the stats so far, ``interrupted`` set."""
    check_config(cfg)
    stats = RunStats()
    machine = machine_for(cfg, make_impl, oracle, stats, claim)
    t0 = time.perf_counter()
    try:
        stats.failure, stats.seconds = run_machine(
            machine, seed_value=seed_value, examples=examples, steps=steps,
            shrink_seconds=shrink_seconds, failure=Nonconformance, database=database)
    except KeyboardInterrupt:
        stats.interrupted = True
        stats.failure, stats.seconds = stats.seen, time.perf_counter() - t0
    stats.failing_ops = stats.failure.ops if stats.failure else []
    stats.warnings = claim.warnings() if claim is not None else []
    return stats
