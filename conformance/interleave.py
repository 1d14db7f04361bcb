"""Exhaustive interleavings of the implementation's destruction paths.

Breadth-first over the implementation's abstract states: from each state,
every operation the environment may start (the model's guard of its first
step decides, as the environment's contract), every running thread's next
step, and every queued work item a kworker may pick up. Each choice is one
implementation step, checked by the oracle; an implementation state is
reached again by replaying its choice sequence on a fresh instance, since
running generators cannot be copied. The set of abstract states reached must
equal the model explorer's on the same configuration.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from kmemcg.conformance.adapters import load_factory, require_faces
from kmemcg.conformance.calls import RAISED, bounded
from kmemcg.conformance.oracle import EvalOracle, invariant_problems
from kmemcg.conformance.protocol import ImplementationTimeout, ProtocolError, SetupError
from kmemcg.impl.lockdep import Lockdep
from kmemcg.impl.sched import Blocked, Step
from kmemcg.impl.slab import SlabKernel
from kmemcg.model import domains
from kmemcg.model.config import Config
from kmemcg.model.controller import MODEL
from kmemcg.model.slabinfo import expect_memcg_slabinfo, expect_proc_slabinfo
from kmemcg.model.state import cache_name, from_json, memcg_of, root_of


def _rm(cfg, c):
    return root_of(cfg, c), memcg_of(cfg, c)


#: the environment's operations, by the model action each begins with: how to
#: start it on the implementation, given the action's arguments
OPERATIONS = {
    "alloc": lambda k, cfg, c: k.kmem_cache_alloc(*_rm(cfg, c)),
    "alloc.partial": lambda k, cfg, c, fill: k.kmem_cache_alloc(*_rm(cfg, c), fill),
    "free.object": lambda k, cfg, c, fill: k.kmem_cache_free(*_rm(cfg, c), fill, False),
    "free.release_pages": lambda k, cfg, c: k.kmem_cache_free(*_rm(cfg, c), 1, True),
    "fork": lambda k, cfg, t, m: k.fork(t, m),
    "exit": lambda k, cfg, t: k.do_exit(t),
    "put_task_struct": lambda k, cfg, t: k.put_task_struct(t),
    "rmdir": lambda k, cfg, m: k.mem_cgroup_css_offline(m),
    "root_destroy.start": lambda k, cfg, r: k.kmem_cache_destroy_root(r),
    "shrink.release": lambda k, cfg, c: k.kmem_cache_shrink(*_rm(cfg, c)),
}


#: what the interleaver drives (kmemcg.impl.slab.SlabKernel's faces)
SLAB_FACES = ("kmem_cache_alloc", "kmem_cache_free", "fork", "do_exit", "put_task_struct",
              "mem_cgroup_css_offline", "kmem_cache_destroy_root", "kmem_cache_shrink",
              "wq.queue", "wq.take", "snapshot", "proc_slabinfo", "memcg_slabinfo")


@dataclass
class InterleaveResult:
    states: set = field(default_factory=set)
    steps: int = 0
    seconds: float = 0.0
    problem: str | None = None
    trace: list = field(default_factory=list)
    #: False when max_states stopped the search: the states are then a subset
    complete: bool = True
    #: lock orders seen in every run (lockdep's graph), and its cycles; None
    #: when the implementation records none (only the reference reports to lockdep)
    lock_orders: list | None = field(default_factory=list)
    lock_cycles: list = field(default_factory=list)
    #: Ctrl-C stopped the search: the states and steps are those seen so far
    interrupted: bool = False


class ImplementationError(ProtocolError):
    """The implementation raised, or lacks what the interleaver drives."""


def problem_of(e: ProtocolError) -> str:
    """An implementation's failure as a verdict line: a time-out says so first."""
    return f"timeout: {e}" if isinstance(e, ImplementationTimeout) else str(e)


def kernel_factory(spec: str | None = None, timeout: float | None = None):
    """``MOD:FACTORY`` -> ``make(cfg)``: a destruction kernel for a configuration.

    The factory is called with the model configuration and returns an object
    shaped like :class:`kmemcg.impl.slab.SlabKernel`: the path methods OPERATIONS
    starts (generators yielding :class:`kmemcg.impl.sched.Step` or ``Blocked``), a
    workqueue ``wq`` (``queue`` of items with ``name``, ``running`` and
    ``func(item)``, and ``take(item)``), ``snapshot()`` in the model's JSON
    shape, ``proc_slabinfo()``, ``memcg_slabinfo(m)``, and optionally
    ``hidden()``. Without a spec: the reference. A factory that raises, runs
    past ``timeout`` or returns something without those faces is a
    :class:`SetupError`."""
    if spec is None:
        return SlabKernel.for_config
    factory = load_factory(spec)

    def make(cfg):
        try:
            kernel = bounded(f"{spec}: the factory", factory, cfg, timeout=timeout)
        except ImplementationTimeout as e:
            raise SetupError(str(e)) from None
        except RAISED as e:  # the factory is someone else's code
            raise SetupError(f"{spec}: the factory raised {type(e).__name__}: {e}") from None
        return require_faces(kernel, SLAB_FACES, spec)

    return make


class _Run:
    """One implementation instance driven by a choice sequence. Whatever the
    implementation raises becomes an :class:`ImplementationError`; a call into
    it that runs past ``timeout`` seconds, an :class:`ImplementationTimeout`."""

    def __init__(self, cfg: Config, make, timeout: float | None = None):
        self.cfg = cfg
        self.timeout = timeout
        self.k = self.call("the factory", make)
        self.threads: dict[str, object] = {}
        self.waiting: str | None = None

    def call(self, what: str, fn, *args):
        """A call into the implementation, bounded in time, its exceptions named."""
        try:
            return bounded(what, fn, *args, timeout=self.timeout)
        except ProtocolError:
            raise
        except RAISED as e:
            raise ImplementationError(f"{what}: the implementation raised "
                                      f"{type(e).__name__}: {e}") from None

    def abstract(self) -> tuple:
        """(the kernel's abstract state, None) or (None, why its snapshot is refused)."""
        try:
            snap = self.call("snapshot()", self.k.snapshot)
        except ImplementationTimeout:
            raise
        except ImplementationError as e:
            return None, str(e)
        try:
            return from_json(self.cfg, snap), None
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
            return None, f"snapshot refused: {type(e).__name__}: {e}"

    def hidden(self):
        """The implementation's ``hidden()`` state, if it has any."""
        return self.call("hidden()", _hidden, self.k)

    def choices(self, state):
        sl = MODEL
        out = []
        for name in OPERATIONS:
            for args in sl.actions[name].domain(self.cfg):
                if sl.actions[name].guard(self.cfg, state, *args):
                    out.append(("start", name, *args))
        out += [("step", t) for t in sorted(self.threads)]
        out += [("work", name) for name in self.call("its workqueue", self._idle_work)]
        return out

    def _idle_work(self):
        return [w.name for w in dict.fromkeys(self.k.wq.queue) if not w.running]

    def _retire(self, key: str) -> bool:
        """Let a thread that took its last step return; False if it had more to do."""
        gen = self.threads.pop(key, None)
        if gen is None:
            return True
        try:
            next(gen)
        except StopIteration:
            return True
        return False

    def apply(self, choice) -> Step | None:
        """Take one step; None when the choice cannot step (blocked, or gone)."""
        return self.call(" ".join(map(str, choice)), self._apply, choice)

    def _apply(self, choice) -> Step | None:
        self.waiting = None  # the lock the try found taken, if that is why it did not step
        kind = choice[0]
        if kind == "start":
            _, name, *args = choice
            key = f"{name}:{','.join(map(str, args))}"
            if not self._retire(key):
                return None
            gen = OPERATIONS[name](self.k, self.cfg, *args)
        elif kind == "step":
            key = choice[1]
            gen = self.threads.get(key)
        else:
            work = next((w for w in self.k.wq.queue if w.name == choice[1]), None)
            key = f"kworker:{choice[1]}"
            if work is None or work.running or not self._retire(key):
                return None
            self.k.wq.take(work)
            gen = work.func(work)
        if gen is None:
            return None
        try:
            y = next(gen)
        except StopIteration:
            self.threads.pop(key, None)
            return None
        if isinstance(y, Blocked):
            self.waiting = y.lock
            return None
        self.threads[key] = gen
        return y

    def take(self, choice, state, oracle) -> tuple:
        """Apply ``choice`` in ``state`` and check it: (step or None, post-state,
        problem or None).
        A try that cannot step must leave the abstract state alone; a step must
        be one the model allows, into a state every invariant holds in."""
        try:
            hidden = self.hidden()
            step = self.apply(choice)
            moved_hidden = step is None and self.hidden() != hidden
            if step is not None and not isinstance(step, Step):
                return None, None, f"{choice}: the implementation yielded {step!r}, not a Step"
            post, refused = self.abstract()
        except ProtocolError as e:
            return None, None, problem_of(e)
        if refused:
            return step, None, f"{choice}: {refused}"
        if step is None:
            moved = f"{choice} changed the abstract state without taking a model step"
            return None, state, (moved if post != state or moved_hidden else None)
        try:
            args = _args(self.cfg, step.action, step.args)
        except (KeyError, ValueError, StopIteration, TypeError) as e:
            return step, None, (f"{choice}: the step {step.action} {step.args} does not name "
                                f"the model's parameters ({type(e).__name__}: {e})")
        v = oracle.check(state, step.action, args, step.ret, post)
        bad = [] if v.ok else [v.problem]
        if not bad and post != state:
            bad = invariant_problems(self.cfg, state, post)
        return step, post, (f"{step.action} {step.args}: {'; '.join(bad)}" if bad else None)


def _args(cfg, action: str, args: dict) -> tuple:
    sl = MODEL
    out = []
    for p in sl.actions[action].params:
        v = args[p]
        if p == "cache":
            out.append(next(c for (c,) in domains.caches(cfg) if cache_name(cfg, c) == v))
        elif p == "memcg":
            out.append(cfg.memcgs.index(v))
        elif p == "root":
            out.append(cfg.roots.index(v))
        elif p == "task":
            out.append(cfg.tasks.index(v))
        else:
            out.append(v)
    return tuple(out)


def explore_impl(cfg: Config, make=None, max_states: int = 100_000,
                 timeout: float | None = None) -> InterleaveResult:
    """Every interleaving the configuration allows, on the implementation; each
    call into it bounded by ``timeout`` seconds. Ctrl-C returns what was seen so
    far, ``interrupted`` set."""
    lockdep = Lockdep() if make is None else None
    make = make or (lambda: SlabKernel.for_config(cfg, lockdep))
    t0 = time.perf_counter()
    res = InterleaveResult()
    paths: dict = {}
    try:
        _search(cfg, make, max_states, timeout, res, paths)
    except KeyboardInterrupt:
        res.interrupted = True
    if res.interrupted:
        res.complete = False
    res.states = {state for state, _ in paths}
    res.seconds = time.perf_counter() - t0
    if lockdep is None:
        res.lock_orders = None
    else:
        res.lock_orders, res.lock_cycles = lockdep.orders(), lockdep.cycles()
    if res.lock_cycles and res.problem is None:
        res.problem = f"lock-order cycle (potential deadlock): {res.lock_cycles[0]}"
    return res


def _search(cfg: Config, make, max_states: int, timeout, res: InterleaveResult, paths: dict):
    """The breadth-first search of :func:`explore_impl`, filling ``res`` and
    ``paths`` (abstract and hidden state -> the choices that reach it)."""
    sl = MODEL
    oracle = EvalOracle(cfg)
    prefix: list = []
    try:
        first = _Run(cfg, make, timeout)
        init, refused = first.abstract()
        if init != sl.initial(cfg):
            res.problem = refused or "the implementation's initial state is not the model's Init"
            return
        # one run per abstract state *and* hidden state: what alpha forgets but the
        # kernel's next steps depend on (a memcg's cache-list order) must be kept apart
        paths[init, first.hidden()] = []
        queue = deque(paths)
        while queue and len(paths) < max_states:
            key = queue.popleft()
            state, prefix = key[0], paths[key]
            for choice in _replay(cfg, make, prefix, timeout).choices(state):
                run = _replay(cfg, make, prefix, timeout)
                step, post, problem = run.take(choice, state, oracle)
                key = known = None
                if problem is None:
                    key = (post, run.hidden())
                    known = key in paths
                    if not known:
                        problem = "; ".join(slabinfo_problems(cfg, run, post)) or None
                if problem:
                    res.problem = problem
                    res.trace = [*prefix, choice]
                    return
                if step is None:
                    continue
                res.steps += 1
                if not known and sl.in_constraint(cfg, post):
                    paths[key] = [*prefix, choice]
                    queue.append(key)
        res.complete = not queue
    except ProtocolError as e:  # raised outside a checked try: a replay, hidden(), slabinfo
        res.problem, res.trace = problem_of(e), prefix


def slabinfo_problems(cfg, run: _Run, state) -> list[str]:
    """The slabinfo files read in ``state`` must show what the model says
    (lines compared as sets: list order is not part of the abstract state)."""

    def lines(text):
        return sorted(text.splitlines()) if isinstance(text, str) else text

    out = []
    got = run.call("/proc/slabinfo", run.k.proc_slabinfo)
    if lines(got) != lines(expect_proc_slabinfo(cfg, state)):
        out.append(f"/proc/slabinfo: {got!r}, model {expect_proc_slabinfo(cfg, state)!r}")
    for m in range(1, cfg.n_memcgs):
        want = expect_memcg_slabinfo(cfg, state, m)
        if want is None:
            continue
        got = run.call(f"{cfg.memcgs[m]}/memory.kmem.slabinfo", run.k.memcg_slabinfo, m)
        if lines(got) != lines(want):
            out.append(f"{cfg.memcgs[m]}/memory.kmem.slabinfo: {got!r}, model {want!r}")
    return out


def describe(cfg: Config, schedule, make=None, timeout: float | None = None) -> list[str]:
    """A schedule as numbered lines: each try, and the model step it took (a try
    that waits, or finds its thread gone, takes none)."""
    try:
        run = _Run(cfg, make or (lambda: SlabKernel.for_config(cfg)), timeout)
    except ProtocolError as e:
        return [f"  (cannot re-run: {problem_of(e)})"]
    lines = []
    for i, choice in enumerate(schedule, 1):
        try:
            step = run.apply(tuple(choice))
        except ProtocolError as e:
            lines.append(f"{i:3}. {' '.join(str(x) for x in choice):<34} -> {problem_of(e)}")
            break
        if not isinstance(step, Step):
            took = (f"waits for {run.waiting}" if run.waiting else "no step (nothing left to do)"
                    if step is None else f"yielded {step!r}")
        else:
            args = ", ".join(f"{k}={v}" for k, v in step.args.items())
            took = f"{step.action}({args})" + (f" = {step.ret}" if step.ret else "")
        lines.append(f"{i:3}. {' '.join(str(x) for x in choice):<34} -> {took}")
    return lines


def _hidden(kernel):
    """The implementation's ``hidden()`` state, if it has any."""
    hidden = getattr(kernel, "hidden", None)
    return hidden() if hidden else None


def _replay(cfg, make, prefix, timeout=None) -> _Run:
    run = _Run(cfg, make, timeout)
    for choice in prefix:
        run.apply(choice)
    return run
