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

from conformance.oracle import EvalOracle, invariant_problems
from impl.lockdep import Lockdep
from impl.sched import Blocked, Step
from impl.slab import SlabKernel
from model.config import Config
from model.destruction import (
    cache_domain,
    cache_name,
    from_json,
    memcg_domain,
    memcg_of,
    root_domain,
    root_of,
)
from model.slice import slice_of

#: the environment's operations: (first model action, its domain, how to start it)
OPERATIONS = (
    ("alloc", cache_domain, lambda k, cfg, c: k.kmem_cache_alloc(root_of(cfg, c), memcg_of(cfg, c))),
    ("free.object", cache_domain,
     lambda k, cfg, c: k.kmem_cache_free(root_of(cfg, c), memcg_of(cfg, c), False)),
    ("free.release_pages", cache_domain,
     lambda k, cfg, c: k.kmem_cache_free(root_of(cfg, c), memcg_of(cfg, c), True)),
    ("offline.start", memcg_domain, lambda k, cfg, m: k.mem_cgroup_css_offline(m)),
    ("root_destroy.start", root_domain, lambda k, cfg, r: k.kmem_cache_destroy_root(r)),
    ("shrink.release", cache_domain,
     lambda k, cfg, c: k.kmem_cache_shrink(root_of(cfg, c), memcg_of(cfg, c))),
)


@dataclass
class InterleaveResult:
    states: set = field(default_factory=set)
    steps: int = 0
    seconds: float = 0.0
    problem: str | None = None
    trace: list = field(default_factory=list)
    #: lock orders seen in every run (lockdep's graph), and its cycles
    lock_orders: list = field(default_factory=list)
    lock_cycles: list = field(default_factory=list)


class _Run:
    """One implementation instance driven by a choice sequence."""

    def __init__(self, cfg: Config, make):
        self.cfg = cfg
        self.k = make()
        self.threads: dict[str, object] = {}

    def choices(self, state):
        sl = slice_of(self.cfg)
        out = []
        for name, domain, _ in OPERATIONS:
            for (x,) in domain(self.cfg):
                if sl.actions[name].guard(self.cfg, state, x):
                    out.append(("start", name, x))
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
        kind = choice[0]
        if kind == "start":
            _, name, x = choice
            start = next(s for n, _, s in OPERATIONS if n == name)
            key = f"{name}:{x}"
            if not self._retire(key):
                return None
            gen = start(self.k, self.cfg, x)
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
            return None
        self.threads[key] = gen
        return y


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
        else:
            out.append(v)
    return tuple(out)


def explore_impl(cfg: Config, make=None, max_states: int = 100_000) -> InterleaveResult:
    """Every interleaving the configuration allows, on the implementation."""
    lockdep = Lockdep()
    make = make or (lambda: SlabKernel(cfg.memcgs, cfg.roots, cfg.profile, lockdep=lockdep))
    sl = slice_of(cfg)
    oracle = EvalOracle(cfg)
    t0 = time.perf_counter()
    res = InterleaveResult()
    init = from_json(cfg, make().snapshot())
    if init != sl.initial(cfg):
        res.problem = "the implementation's initial state is not the model's Init"
        return res
    paths = {init: []}
    queue = deque([init])
    while queue and len(paths) < max_states:
        state = queue.popleft()
        prefix = paths[state]
        probe = _replay(cfg, make, prefix)
        for choice in probe.choices(state):
            run = _replay(cfg, make, prefix)
            step = run.apply(choice)
            if step is None:
                if from_json(cfg, run.k.snapshot()) != state:
                    res.problem = (f"{choice} changed the abstract state without taking a "
                                   f"model step")
                    res.trace = [*prefix, choice]
                    break
                continue
            res.steps += 1
            post = from_json(cfg, run.k.snapshot())
            v = oracle.check(state, step.action, _args(cfg, step.action, step.args), step.ret,
                             post)
            bad = [] if v.ok else [v.problem]
            if not bad and post != state:
                bad = invariant_problems(cfg, state, post)
            if not bad and post not in paths:
                bad = slabinfo_problems(cfg, run.k, post)
            if bad:
                res.problem = f"{step.action} {step.args}: {'; '.join(bad)}"
                res.trace = [*prefix, choice]
                break
            if post not in paths and sl.in_constraint(cfg, post):
                paths[post] = [*prefix, choice]
                queue.append(post)
        if res.problem:
            break
    res.states = set(paths)
    res.seconds = time.perf_counter() - t0
    res.lock_orders, res.lock_cycles = lockdep.orders(), lockdep.cycles()
    if res.lock_cycles and res.problem is None:
        res.problem = f"lock-order cycle (potential deadlock): {res.lock_cycles[0]}"
    return res


def slabinfo_problems(cfg, kernel, state) -> list[str]:
    """The slabinfo files read in ``state`` must show what the model says
    (lines compared as sets: list order is not part of the abstract state)."""
    from model.destruction import expect_memcg_slabinfo, expect_proc_slabinfo

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


def _replay(cfg, make, prefix) -> _Run:
    run = _Run(cfg, make)
    for choice in prefix:
        run.apply(choice)
    return run
