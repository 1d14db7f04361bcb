"""The sequential Hypothesis machine: random operations, every step checked.

Each rule is one operation of the cgroupfs or kernel face, run to completion
through :class:`~kmemcg.conformance.harness.Harness`, which checks each step with the
oracle and all invariants; reads are compared with the face spec. A failure is
shrunk by Hypothesis to a short operation list, which the report prints and
``kmemcg replay`` re-runs.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, Verbosity, seed, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.internal import constants_ast
from hypothesis.internal.conjecture import engine, providers
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from kmemcg.conformance import strategies as gen
from kmemcg.conformance.alone import user_faults
from kmemcg.conformance.claims import Claim
from kmemcg.conformance.harness import (
    READ_FILES,
    Harness,
    Nonconformance,
    every_read,
    failure_of,
)
from kmemcg.conformance.minimize import one_minimal
from kmemcg.impl import kernel as kernel_module
from kmemcg.model import config as config_module
from kmemcg.model.config import Config
from kmemcg.model.facts import immigrate_in_scope
from kmemcg.model.state import OFFLINE, ONLINE


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
    runs: int = 0
    #: told ``(runs, steps)`` as each run ends (a progress line)
    progress: Callable[[int, int], None] | None = None

    def ran(self):
        """A run ended: count it and say so."""
        self.runs += 1
        if self.progress is not None:
            self.progress(self.runs, self.steps)

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
    #: the model's scenarios replayed before the random runs, and the outcome
    #: whose scenario showed the failure (None: a random run, or no failure)
    scenarios: int = 0
    killed_by: str | None = None
    #: the seeds run (more than one when --cover went on to the next seeds)
    seeds: int = 1


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


def _base(cfg: Config, make_impl, oracle: str, stats: RunStats, claim: Claim | None = None,
          coverage=None):
    """What both machines share: a checked harness and a populated starting tree."""
    memcgs = st.integers(0, cfg.n_memcgs - 1)

    class Base(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.h = Harness.started(make_impl, cfg, oracle_mode=oracle, on_failure=stats.saw,
                                     claim=claim, coverage=coverage)

        def teardown(self):
            stats.ops += len(self.h.ops)
            stats.steps += self.h.steps_checked
            self.h.impl.close()
            stats.ran()

        def _run(self, op, **args):
            return self.h.run(op, args)

        def path(self, m):
            return self.h.paths[m]

        def user_chargers(self) -> list[str]:
            """The tasks whose user page the scope models: a task with a fatal
            signal pending charges the root (__mem_cgroup_try_charge's bypass,
            3.8), which only a scope with ``fatal_signals`` has."""
            return [t for t in cfg.tasks if cfg.fatal_signals or not self.h.ctx[t].fatal_signal]

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
                claim: Claim | None = None, coverage=None):
    """The sequential machine: each rule runs one operation to completion."""
    stats = stats if stats is not None else RunStats()
    memcgs = st.integers(0, cfg.n_memcgs - 1)
    tasks = st.sampled_from(cfg.tasks)
    large = gen.kmalloc_large_sizes(cfg.orders)
    faults = user_faults(cfg)
    # move_charge_at_immigrate where the scope has it: elsewhere a move of
    # charges at attach is outside the model's scope (facts.immigrate_in_scope)
    writes = gen.writes_with_move_charge if immigrate_in_scope(cfg) else gen.writes

    class KmemMachine(_base(cfg, make_impl, oracle, stats, claim, coverage)):
        @rule(m=memcgs)
        def mkdir(self, m):
            if self.h.state.lifecycle[m] != OFFLINE:  # the model never re-creates a memcg
                self._run("mkdir", path=self.path(m))

        @rule(m=memcgs)
        def rmdir(self, m):
            self._run("rmdir", path=self.path(m))

        @rule(m=memcgs, write=writes)
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

        if immigrate_in_scope(cfg):
            @rule(t=tasks, m=memcgs, text=st.sampled_from(["1", "3", "1", "2"]))
            def move_with_charges(self, t, m, text):
                """What a user does to take a task's memory along: set the
                destination's move_charge_at_immigrate, then attach the task."""
                self._run("write", path=self.path(m), file="memory.move_charge_at_immigrate",
                          text=text)
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
            order = cfg.orders[0]  # the scope's smallest: a single page where it has one
            for _ in range(n):
                self._run("alloc_kmem", task=t, gfp=["GFP_KERNEL", "__GFP_KMEMCG"],
                          in_interrupt=False, fail=False, **({"order": order} if order else {}))

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

        @precondition(lambda self: self.user_chargers())
        @rule(data=st.data())
        def alloc_user(self, data):
            self._run("alloc_user", task=data.draw(st.sampled_from(self.user_chargers())))

        @precondition(lambda self: any(p.kind == "user" for p in self.h.pages.values()))
        @rule(data=st.data())
        def free_user(self, data):
            pfn = data.draw(st.sampled_from(sorted(p for p, v in self.h.pages.items()
                                                   if v.kind == "user")))
            self._run("free_user", page=pfn)

        if faults:
            @precondition(lambda self: self.user_chargers())
            @rule(data=st.data(), op=st.sampled_from(faults))
            def user_fault(self, data, op):
                """An anonymous page of the task's mm (freed with the mm), or a file
                page read into the page cache (reclaimable)."""
                self._run(op, task=data.draw(st.sampled_from(self.user_chargers())))

        @rule(t=tasks, kthread=gen.rarely, fatal=gen.rarely, has_mm=st.just(True) | gen.rarely)
        def set_task(self, t, kthread, fatal, has_mm):
            self._run("set_task", task=t, kthread=kthread, fatal_signal=fatal, has_mm=has_mm)

        if cfg.cpus:
            @rule(cpu=st.integers(0, cfg.cpus - 1))
            def drain_stock(self, cpu):
                """A cpu's stock drained (the drain work a reclaim queues, CPU_DEAD)."""
                self._run("drain_stock", cpu=cpu)

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


#: the source folders whose literals Hypothesis may draw (see :func:`seed_only`)
SOURCES = (Path(__file__).parent, Path(config_module.__file__).parent,
           Path(kernel_module.__file__).parent)


@functools.cache
def kmemcg_constants() -> providers.Constants:
    """The literals of kmemcg's own source (the model, the reference, the suite),
    read from its files: the same for the same code, however it is installed."""
    pool = providers.Constants()
    for folder in SOURCES:
        for f in sorted(folder.rglob("*.py")):
            pool |= constants_ast._constants_from_source(f.read_bytes(), limit=True)
    return pool


@contextmanager
def seed_only():
    """Draws that depend on the seed and kmemcg's code alone. Hypothesis (6.131
    on) now and then draws a literal it collects from every module loaded from
    the working tree, so a seed found one thing in one process and another in
    a process that had imported more (another test, the CLI), in an editable
    install and not from a wheel, or after the user's own module was loaded.
    The pool is kmemcg's own literals, whatever is loaded."""
    real = providers._get_local_constants
    providers._get_local_constants = kmemcg_constants
    providers.CONSTANTS_CACHE.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = real
        providers.CONSTANTS_CACHE.cache.clear()


def run_machine(machine, *, seed_value: int, examples: int, steps: int,
                shrink_seconds: float, failure: type[Exception], database: str | None = None):
    """Run a seeded state machine quietly: (the shrunk failure or None, seconds).

    Whatever else Hypothesis ends with never surfaces raw: a group of errors (two
    distinct failures found, or a flaky one) gives the first failure it holds;
    anything else is a :class:`MachineError`."""
    seed(seed_value)(machine)
    t0 = time.perf_counter()
    try:
        with shrink_budget(shrink_seconds), seed_only():
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


def shortest(cfg: Config, make_impl, oracle: str, failure: Nonconformance,
             seconds: float, claim: Claim | None = None) -> Nonconformance:
    """The failure as its fewest operations show it (:mod:`.minimize`): the same
    check and message, each operation it does not need dropped (replayed under a
    fresh claim, so that the run's own warnings stay as they were)."""
    want = (failure.check, failure.message)

    def again(ops):
        return failure_of(make_impl, cfg, ops, oracle,
                          claim=None if claim is None else Claim(claim.cfg))

    def same(ops):
        e = again(ops)
        return e is not None and (e.check, e.message) == want

    ops = one_minimal(failure.ops, same, seconds)
    if len(ops) == len(failure.ops):
        return failure
    return again(ops)


def _page(h: Harness, ref: dict):
    """A scenario's page (its kind, the memcg charged, its order) -> a handle the
    implementation returned for such a page, or None."""
    memcg = None if ref["memcg"] < 0 else ref["memcg"]
    return next((pfn for pfn, p in sorted(h.pages.items())
                 if (p.kind, p.memcg, p.order) == (ref["kind"], memcg, ref["order"])), None)


def run_scenario(cfg: Config, make_impl, ops, *, oracle: str = "eval", coverage=None,
                 stats: Stats | None = None, claim: Claim | None = None) -> bool:
    """Replay one scenario (operations, each checked) on a fresh implementation,
    then read every cgroupfs file it reaches (a read-only bug shows where the
    scenario left the counters, whatever the seed); raises
    :class:`Nonconformance`. False when it does not fit: a page it frees was
    never handed out (the implementation then already failed a check)."""
    h = Harness.started(make_impl, cfg, oracle_mode=oracle, coverage=coverage, claim=claim)
    try:
        for op, args in ops:
            # "bypass" is the search's note of why an allocation bypasses (the
            # harness works it out from the context): never the implementation's
            args = {k: v for k, v in args.items() if k != "bypass"}
            if isinstance(args.get("page"), dict):
                args["page"] = _page(h, args["page"])
                if args["page"] is None:
                    return False
            h.run(op, args)
        if h.verify:  # not past a known bug that broke an invariant: undefined there
            for _, path, file in list(every_read(h.state, h.paths)):
                h.read(path, file)
        return True
    finally:
        if stats is not None:
            stats.steps += h.steps_checked
            stats.ops += len(h.ops)
        h.impl.close()


def run_scenarios(cfg: Config, make_impl, scenarios: dict, stats: RunStats, *,
                  oracle: str = "eval", coverage=None, claim: Claim | None = None) -> None:
    """Each outcome's scenario, in order, skipping an outcome a scenario already
    run has exercised; the first failure stops, with the outcome named."""
    for outcome, ops in scenarios.items():
        if coverage is not None and outcome in coverage.seen:
            continue
        stats.scenarios += 1
        try:
            run_scenario(cfg, make_impl, ops, oracle=oracle, coverage=coverage, stats=stats,
                         claim=claim)
        except Nonconformance as e:
            stats.failure, stats.killed_by = e, outcome
            return


def run(cfg: Config, make_impl, *, seed_value: int, examples: int = 50, steps: int = 40,
        oracle: str = "eval", shrink_seconds: float = 20.0, claim: Claim | None = None,
        database: str | None = None, progress=None, coverage=None,
        scenarios: dict | None = None) -> RunStats:
    """Run a machine; a failure is shrunk and returned in the stats, not raised;
    under a kernel ``claim`` its known bugs are warnings (``warnings``).
    ``scenarios`` (outcome -> operations, the model's) run first, seed-independent.
    Ctrl-C returns the stats so far, ``interrupted`` set."""
    check_config(cfg)
    stats = RunStats(progress=progress)
    machine = machine_for(cfg, make_impl, oracle, stats, claim, coverage)
    t0 = time.perf_counter()
    try:
        if scenarios:
            run_scenarios(cfg, make_impl, scenarios, stats, oracle=oracle, coverage=coverage,
                          claim=claim)
        if stats.failure is None:
            stats.failure, _ = run_machine(
                machine, seed_value=seed_value, examples=examples, steps=steps,
                shrink_seconds=shrink_seconds, failure=Nonconformance, database=database)
        if stats.failure is not None:  # a scenario's too: its reads, and steps it need not take
            stats.failure = shortest(cfg, make_impl, oracle, stats.failure, shrink_seconds,
                                     claim)
        stats.seconds = time.perf_counter() - t0
    except KeyboardInterrupt:
        stats.interrupted = True
        stats.failure = stats.failure or stats.seen
        stats.seconds = time.perf_counter() - t0
    stats.failing_ops = stats.failure.ops if stats.failure else []
    stats.warnings = claim.warnings() if claim is not None else []
    return stats
