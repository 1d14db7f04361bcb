"""Exhaustive interleavings of the accounting paths on an implementation.

The same idea as :mod:`kmemcg.conformance.interleave`, through the adapter protocol:
from each abstract state, every operation the administrator or an idle task
may start, and every running operation's next step, each checked by the
:class:`~kmemcg.conformance.harness.Harness` (oracle, invariants, errno). States are
reached again by replaying choice sequences on a fresh implementation. The
reachable abstract states must equal the explorer's on the same configuration;
this is where a task moved between its kmem and res steps gets tested
exhaustively.
"""

from __future__ import annotations

import time
from collections import deque

from kmemcg.conformance.harness import Harness, Nonconformance, memcg_paths
from kmemcg.conformance.interleave import InterleaveResult
from kmemcg.model.config import UNLIMITED, Config
from kmemcg.model.state import ONLINE, in_constraint, initial


def _limit_text(v: int) -> str:
    return "-1" if v == UNLIMITED else str(v)


def operations(cfg: Config, h: Harness) -> list[tuple[str, str, dict]]:
    """(thread, operation, arguments) the environment may start in ``h.state``."""
    s, paths = h.state, memcg_paths(cfg)
    ops: list[tuple[str, str, dict]] = []
    wanted = set(cfg.actions) if cfg.actions is not None else None

    def allowed(action):
        return wanted is None or action in wanted

    for m, path in enumerate(paths):
        if m and s.lifecycle[m] == 0 and s.lifecycle[cfg.parents[m]] == ONLINE and allowed("mkdir"):
            ops.append(("admin", "mkdir", {"path": path}))
        if s.lifecycle[m] != ONLINE:
            continue
        if m and allowed("rmdir"):
            ops.append(("admin", "rmdir", {"path": path}))
        writes = []
        if allowed("use_hierarchy.write"):
            writes += [("memory.use_hierarchy", t) for t in ("0", "1")]
        if allowed("limit.write"):
            writes += [("memory.limit_in_bytes", _limit_text(v)) for v in cfg.res_limits]
        if allowed("kmem_limit.write"):
            writes += [("memory.kmem.limit_in_bytes", _limit_text(v)) for v in cfg.kmem_limits]
        if allowed("max_usage.reset"):
            writes += [("memory.max_usage_in_bytes", "0"), ("memory.kmem.max_usage_in_bytes", "0")]
        if allowed("failcnt.reset"):
            writes += [("memory.failcnt", "0"), ("memory.kmem.failcnt", "0")]
        ops += [("admin", "write", {"path": path, "file": f, "text": t}) for f, t in writes]
        for t in cfg.tasks:
            if allowed("attach"):
                ops.append(("admin", "attach", {"task": t, "path": path}))
    for t in cfg.tasks:
        if allowed("charge.kmem"):
            ops += [(t, "alloc_kmem", {"task": t, "fail": fail}) for fail in (False, True)]
        if allowed("user.charge"):
            ops.append((t, "alloc_user", {"task": t}))
    # free one page of each kind per memcg: pages of one memcg are interchangeable
    seen = set()
    for pfn in sorted(h.pages):
        page = h.pages[pfn]
        key = (page.kind, page.memcg)
        if key in seen or page.memcg is None:
            continue
        seen.add(key)
        if page.kind == "kmem" and allowed("free.uncharge"):
            ops.append(("kernel", "free_kmem", {"task": cfg.tasks[0], "page": pfn}))
        if page.kind == "user" and allowed("user.uncharge"):
            ops.append(("kernel", "free_user", {"page": pfn}))
    return ops


class _Run:
    def __init__(self, cfg: Config, make):
        self.h = Harness.started(make, cfg)
        self.running: dict[str, object] = {}

    def choices(self):
        out = [("start", who, op, args) for who, op, args in operations(self.h.cfg, self.h)
               if who not in self.running]
        out += [("step", who) for who in sorted(self.running)]
        return out

    def apply(self, choice) -> bool:
        """One move; True when it took a model step (False: an operation returned,
        or failed at once with no step)."""
        before = self.h.steps_checked
        if choice[0] == "start":
            _, who, op, args = choice
            r = self.h.start(op, dict(args))
            if not self.h.advance(r):
                self.running[who] = r
        else:
            r = self.running[choice[1]]
            if self.h.advance(r):
                del self.running[choice[1]]
        return self.h.steps_checked > before


def explore_accounting(cfg: Config, make, max_states: int = 50_000) -> InterleaveResult:
    """Breadth-first over abstract states; silent moves (an operation returning
    after its last step) are closed over within each expansion. Ctrl-C returns
    what was seen so far, ``interrupted`` set; ``max_states`` stops the search
    ``complete`` unset."""
    t0 = time.perf_counter()
    res = InterleaveResult(lock_orders=None)  # the accounting paths report no lock
    paths: dict = {}
    try:
        _search(cfg, make, max_states, res, paths)
    except KeyboardInterrupt:
        res.interrupted = True
        res.complete = False
    res.states = set(paths)
    res.seconds = time.perf_counter() - t0
    return res


def _search(cfg: Config, make, max_states: int, res: InterleaveResult, paths: dict):
    def fail(e, trace):
        res.problem = f"[{e.check}] {e.message}"
        res.trace = trace

    try:
        init = _Run(cfg, make).h.state
    except Nonconformance as e:
        fail(e, [])
        return
    if init != initial(cfg):
        res.problem = "the implementation's initial state is not the model's Init"
        return
    paths[init] = []
    queue = deque([init])
    while queue and len(paths) < max_states and res.problem is None:
        state = queue.popleft()
        closure, seen_prefixes = [paths[state]], 0
        while seen_prefixes < len(closure) and res.problem is None:
            prefix = closure[seen_prefixes]
            seen_prefixes += 1
            try:
                choices = _replay(cfg, make, prefix).choices()
            except Nonconformance as e:  # a replay that no longer holds: not deterministic
                fail(e, prefix)
                break
            for choice in choices:
                try:
                    run = _replay(cfg, make, prefix)
                    moved = run.apply(choice)
                except Nonconformance as e:
                    fail(e, [*prefix, choice])
                    break
                if not moved:
                    if choice[0] == "step":  # a silent return: same state, fewer threads
                        closure.append([*prefix, choice])
                    continue
                res.steps += 1
                post = run.h.state
                if post not in paths and in_constraint(cfg, post):
                    paths[post] = [*prefix, choice]
                    queue.append(post)
    res.complete = res.problem is not None or not queue


def _replay(cfg, make, prefix) -> _Run:
    """A fresh implementation driven along ``prefix``, which was checked already."""
    run = _Run(cfg, make)
    run.h.verify = False
    for choice in prefix:
        run.apply(choice)
    run.h.verify = True
    return run
