"""The sequential Hypothesis machine: random operations, every step checked.

Each rule is one operation of the cgroupfs or kernel face, run to completion
through :class:`~conformance.harness.Harness`, which checks each step with the
oracle and all invariants; reads are compared with the face spec. A failure is
shrunk by Hypothesis to a short operation list, which the report prints and
``kmemcg replay`` re-runs.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Verbosity, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from conformance import strategies as gen
from conformance.harness import Harness, Nonconformance
from model import cgroupfs
from model.config import Config
from model.state import OFFLINE

READ_FILES = (*cgroupfs.FILES, "memory.nosuch")


@dataclass
class RunStats:
    ops: int = 0
    steps: int = 0
    seconds: float = 0.0
    failure: Nonconformance | None = None
    failing_ops: list = field(default_factory=list)


def machine_for(cfg: Config, make_impl, oracle: str = "eval", stats: RunStats | None = None):
    """A RuleBasedStateMachine class bound to one configuration and implementation."""
    stats = stats if stats is not None else RunStats()
    memcgs = st.integers(0, cfg.n_memcgs - 1)
    tasks = st.sampled_from(cfg.tasks)

    class KmemMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.h = Harness(make_impl(), cfg, oracle)

        def teardown(self):
            stats.ops += len(self.h.ops)
            stats.steps += self.h.steps_checked
            self.h.impl.close()

        def _run(self, op, **args):
            try:
                return self.h.run(op, args)
            except Nonconformance as e:
                e.ops = list(self.h.ops)
                raise

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

        @rule(m=memcgs, file=st.sampled_from(READ_FILES))
        def read(self, m, file):
            got = self.h._call("read", self.h.impl.read, self.path(m), file)
            if self.h.state.lifecycle[m] != 1:
                want = -2
            else:
                want = cgroupfs.expect_read(cfg, self.h.state, m, file)
            if got != want:
                self.h.fail("read", f"read {self.path(m)}/{file}: got {got!r}, the model says "
                                    f"{want!r}")

        @rule(t=tasks, m=memcgs)
        def attach(self, t, m):
            self._run("attach", task=t, path=self.path(m))

        @rule(t=tasks, gfp=gen.gfp_sets, in_interrupt=gen.rarely, fail=gen.rarely)
        def alloc_kmem(self, t, gfp, in_interrupt, fail):
            self._run("alloc_kmem", task=t, gfp=gfp, in_interrupt=in_interrupt, fail=fail)

        @rule(t=tasks, n=st.integers(2, 4))
        def alloc_kmem_burst(self, t, n):
            """A task allocating several objects in a row (a dentry walk, a fork)."""
            for _ in range(n):
                self._run("alloc_kmem", task=t, gfp=["GFP_KERNEL", "__GFP_KMEMCG"],
                          in_interrupt=False, fail=False)

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


@contextmanager
def shrink_budget(seconds: float):
    """Bound Hypothesis's shrinking time (its own default is five minutes)."""
    from hypothesis.internal.conjecture import engine

    old = getattr(engine, "MAX_SHRINKING_SECONDS", None)
    engine.MAX_SHRINKING_SECONDS = seconds
    try:
        yield
    finally:
        if old is not None:
            engine.MAX_SHRINKING_SECONDS = old


def run(cfg: Config, make_impl, *, seed_value: int, examples: int = 50, steps: int = 40,
        oracle: str = "eval", shrink_seconds: float = 20.0) -> RunStats:
    """Run the machine; a failure is shrunk and returned in the stats, not raised."""
    stats = RunStats()
    machine = machine_for(cfg, make_impl, oracle, stats)
    seed(seed_value)(machine)
    conf = settings(max_examples=examples, stateful_step_count=steps, database=None,
                    deadline=None, verbosity=Verbosity.quiet, print_blob=False,
                    suppress_health_check=list(HealthCheck))
    t0 = time.perf_counter()
    try:
        with shrink_budget(shrink_seconds):
            run_state_machine_as_test(machine, settings=conf)
    except Nonconformance as e:
        stats.failure = e
        stats.failing_ops = getattr(e, "ops", [])
    stats.seconds = time.perf_counter() - t0
    return stats
