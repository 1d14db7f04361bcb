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

from kmemcg.conformance.adapters import load_factory
from kmemcg.conformance.oracle import EvalOracle, invariant_problems
from kmemcg.impl.lockdep import Lockdep
from kmemcg.impl.sched import Blocked, Step
from kmemcg.impl.slab import SlabKernel
from kmemcg.model.config import Config
from kmemcg.model.destruction import cache_domain, cache_name, from_json, memcg_of, root_of
from kmemcg.model.slice import slice_of


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
    "offline.start": lambda k, cfg, m: k.mem_cgroup_css_offline(m),
    "root_destroy.start": lambda k, cfg, r: k.kmem_cache_destroy_root(r),
    "shrink.release": lambda k, cfg, c: k.kmem_cache_shrink(*_rm(cfg, c)),
}


def abstract(cfg: Config, kernel) -> tuple:
    """(the kernel's abstract state, None) or (None, why its snapshot is refused)."""
    try:
        snap = kernel.snapshot()
    except Exception as e:  # the implementation's own code
        return None, f"snapshot() raised {type(e).__name__}: {e}"
    try:
        return from_json(cfg, snap), None
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
        return None, f"snapshot refused: {type(e).__name__}: {e}"


@dataclass
class InterleaveResult:
    states: set = field(default_factory=set)
    steps: int = 0
    seconds: float = 0.0
    problem: str | None = None
    trace: list = field(default_factory=list)
    #: False when max_states stopped the search: the states are then a subset
    complete: bool = True
    #: lock orders seen in every run (lockdep's graph), and its cycles
    lock_orders: list = field(default_factory=list)
    lock_cycles: list = field(default_factory=list)


class ImplementationError(Exception):
    """The implementation raised, or lacks what the interleaver drives."""


def kernel_factory(spec: str | None = None):
    """``MOD:FACTORY`` -> ``make(cfg)``: a destruction kernel for a configuration.

    The factory is called with the model configuration and returns an object
    shaped like :class:`kmemcg.impl.slab.SlabKernel`: the path methods OPERATIONS
    starts (generators yielding :class:`kmemcg.impl.sched.Step` or ``Blocked``), a
    workqueue ``wq`` (``queue`` of items with ``name``, ``running`` and
    ``func(item)``, and ``take(item)``), ``snapshot()`` in the model's JSON
    shape, ``proc_slabinfo()``, ``memcg_slabinfo(m)``, and optionally
    ``hidden()``. Without a spec: the reference."""
    if spec is None:
        return SlabKernel.for_config
    factory = load_factory(spec)

    def make(cfg):
        try:
            return factory(cfg)
        except Exception as e:  # the factory is someone else's code
            raise ImplementationError(f"{spec}: the factory raised {type(e).__name__}: {e}") \
                from None

    return make


class _Run:
    """One implementation instance driven by a choice sequence. Whatever the
    implementation raises becomes an :class:`ImplementationError`."""

    def __init__(self, cfg: Config, make):
        self.cfg = cfg
        self.k = make()
        self.threads: dict[str, object] = {}
        self.waiting: str | None = None

    def choices(self, state):
        try:
            return self._choices(state)
        except Exception as e:
            raise ImplementationError(f"its workqueue: {type(e).__name__}: {e}") from None

    def _choices(self, state):
        sl = slice_of(self.cfg)
        out = []
        for name in OPERATIONS:
            for args in sl.actions[name].domain(self.cfg):
                if sl.actions[name].guard(self.cfg, state, *args):
                    out.append(("start", name, *args))
        out += [("step", t) for t in sorted(self.threads)]
        out += [("work", w.name) for w in dict.fromkeys(self.k.wq.queue) if not w.running]
        return out

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
        try:
            return self._apply(choice)
        except ImplementationError:
            raise
        except Exception as e:
            raise ImplementationError(f"{' '.join(map(str, choice))}: the implementation raised "
                                      f"{type(e).__name__}: {e}") from None

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
            hidden = _hidden(self.k)
            step = self.apply(choice)
            moved_hidden = step is None and _hidden(self.k) != hidden
        except ImplementationError as e:
            return None, None, str(e)
        except Exception as e:  # hidden() is the implementation's too
            return None, None, f"{choice}: hidden() raised {type(e).__name__}: {e}"
        if step is not None and not isinstance(step, Step):
            return None, None, f"{choice}: the implementation yielded {step!r}, not a Step"
        post, refused = abstract(self.cfg, self.k)
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
    sl = slice_of(cfg)
    out = []
    for p in sl.actions[action].params:
        v = args[p]
        if p == "cache":
            out.append(next(c for (c,) in cache_domain(cfg) if cache_name(cfg, c) == v))
        elif p == "memcg":
            out.append(cfg.memcgs.index(v))
        elif p == "root":
            out.append(cfg.roots.index(v))
        elif p == "task":
            out.append(cfg.tasks.index(v))
        else:
            out.append(v)
    return tuple(out)


def explore_impl(cfg: Config, make=None, max_states: int = 100_000) -> InterleaveResult:
    """Every interleaving the configuration allows, on the implementation."""
    lockdep = Lockdep()
    make = make or (lambda: SlabKernel.for_config(cfg, lockdep))
    sl = slice_of(cfg)
    oracle = EvalOracle(cfg)
    t0 = time.perf_counter()
    res = InterleaveResult()
    try:
        init, refused = abstract(cfg, make())
    except ImplementationError as e:
        res.problem = str(e)
        return res
    if init != sl.initial(cfg):
        res.problem = refused or "the implementation's initial state is not the model's Init"
        return res
    # one run per abstract state *and* hidden state: what alpha forgets but the
    # kernel's next steps depend on (a memcg's cache-list order) must be kept apart
    paths = {(init, _hidden(make())): []}
    queue = deque(paths)
    while queue and len(paths) < max_states:
        key = queue.popleft()
        state, prefix = key[0], paths[key]
        probe = _replay(cfg, make, prefix)
        try:
            choices = probe.choices(state)
        except ImplementationError as e:
            res.problem, res.trace = str(e), prefix
            break
        for choice in choices:
            run = _replay(cfg, make, prefix)
            step, post, problem = run.take(choice, state, oracle)
            key = known = None
            if problem is None:
                try:
                    key = (post, _hidden(run.k))
                    known = key in paths
                    if not known:
                        problem = "; ".join(slabinfo_problems(cfg, run.k, post)) or None
                except Exception as e:  # hidden() or a slabinfo read raised
                    problem = f"{choice}: the implementation raised {type(e).__name__}: {e}"
            if problem:
                res.problem = problem
                res.trace = [*prefix, choice]
                break
            if step is None:
                continue
            res.steps += 1
            if not known and sl.in_constraint(cfg, post):
                paths[key] = [*prefix, choice]
                queue.append(key)
        if res.problem:
            break
    res.complete = not queue or res.problem is not None
    res.states = {state for state, _ in paths}
    res.seconds = time.perf_counter() - t0
    res.lock_orders, res.lock_cycles = lockdep.orders(), lockdep.cycles()
    if res.lock_cycles and res.problem is None:
        res.problem = f"lock-order cycle (potential deadlock): {res.lock_cycles[0]}"
    return res


def slabinfo_problems(cfg, kernel, state) -> list[str]:
    """The slabinfo files read in ``state`` must show what the model says
    (lines compared as sets: list order is not part of the abstract state)."""
    from kmemcg.model.destruction import expect_memcg_slabinfo, expect_proc_slabinfo

    def lines(text):
        return sorted(text.splitlines()) if isinstance(text, str) else text

    out = []
    if lines(kernel.proc_slabinfo()) != lines(expect_proc_slabinfo(cfg, state)):
        out.append(f"/proc/slabinfo: {kernel.proc_slabinfo()!r}, model "
                   f"{expect_proc_slabinfo(cfg, state)!r}")
    for m in range(1, cfg.n_memcgs):
        want = expect_memcg_slabinfo(cfg, state, m)
        if want is not None and lines(kernel.memcg_slabinfo(m)) != lines(want):
            out.append(f"{cfg.memcgs[m]}/memory.kmem.slabinfo: {kernel.memcg_slabinfo(m)!r}, "
                       f"model {want!r}")
    return out


def describe(cfg: Config, schedule, make=None) -> list[str]:
    """A schedule as numbered lines: each try, and the model step it took (a try
    that waits, or finds its thread gone, takes none)."""
    try:
        run = _Run(cfg, make or (lambda: SlabKernel.for_config(cfg)))
    except ImplementationError as e:
        return [f"  (cannot re-run: {e})"]
    lines = []
    for i, choice in enumerate(schedule, 1):
        try:
            step = run.apply(tuple(choice))
        except ImplementationError as e:
            lines.append(f"{i:3}. {' '.join(str(x) for x in choice):<34} -> raised: {e}")
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


def _replay(cfg, make, prefix) -> _Run:
    run = _Run(cfg, make)
    for choice in prefix:
        run.apply(choice)
    return run
