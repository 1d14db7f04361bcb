"""One operation run alone on the model, as the harness expects it.

The sequential path of an operation (a cgroupfs write with the activation it
starts, a page charge with its three steps, a free, rmdir with its offline walk, a
task's fork, exit or last put, css_free's three steps) taken from a state where
nothing else runs: what the coverage search replays to find each outcome's
shortest scenario, and the steps the suite supplies for an implementation of
whole operations (conformance/sequential.py).
"""

from __future__ import annotations

from errno import EBUSY, EEXIST, ENOENT

from kmemcg.model import cgroupfs
from kmemcg.model.config import NONE, ROOT, Config
from kmemcg.model.controller import MODEL
from kmemcg.model.facts import kmem_accounted, owner_memcg
from kmemcg.model.serial import BEGINS, CONTINUES, continues, under_way
from kmemcg.model.state import ONLINE, State

#: the user-page operations and the model action each is (no handle but a pinned page's)
USER_CHARGES = {"alloc_user": "user.charge", "fault_anon": "anon.charge",
                "read_file": "pagecache.charge"}


def user_charge_target(cfg: Config, s: State, t: int, fatal_signal: bool) -> int:
    """The memcg a user page of task ``t`` must be committed to: the root when a
    fatal signal is pending (__mem_cgroup_try_charge's bypass, 3.8), else its mm
    owner's (try_get_mem_cgroup_from_mm)."""
    return ROOT if fatal_signal else owner_memcg(cfg, s, t)


def user_faults(cfg: Config) -> tuple[str, ...]:
    """The user faults of the scope: ``fault_anon`` where ``anon.charge`` is in
    it, ``read_file`` where ``pagecache.charge`` is."""
    return tuple(op for op in ("fault_anon", "read_file")
                 if cfg.actions is None or USER_CHARGES[op] in cfg.actions)


#: the kernel paths started on their own thread (as the interleaver starts them) that
#: a sequential implementation runs whole: the protocol's operation -> its first model
#: action and that action's arguments, given the operation's
KERNEL_PATHS = {
    "spawn": lambda cfg, paths, a: ("spawn", (cfg.task_index(a["task"]),
                                              paths.index(a["path"]))),
    "fork": lambda cfg, paths, a: ("fork", (cfg.task_index(a["task"]),
                                            cfg.task_index(a["parent"]),
                                            int(bool(a.get("thread", False))))),
    "exit": lambda cfg, paths, a: ("exit", (cfg.task_index(a["task"]),)),
    "put_task_struct": lambda cfg, paths, a: ("put_task_struct", (cfg.task_index(a["task"]),)),
    "css_free": lambda cfg, paths, a: ("css_free.mark_dead", (paths.index(a["path"]),)),
    "mem_cgroup_free": lambda cfg, paths, a: ("mem_cgroup_free", (paths.index(a["path"]),)),
}


def _run_to_end(cfg, s, steps, name, args):
    """Take ``name(args)`` and then, while the path it begins is under way, the one
    continuation of that path that is enabled: the path run to its end with
    nothing else running (model/serial.py names the paths and their steps)."""
    s, ret = _take(cfg, s, steps, name, args)
    if name not in BEGINS:
        return s, ret
    path, inst = BEGINS[name][0], _instance(name, args)
    nexts = [(n, a) for n, (p, _) in CONTINUES.items()
             if p == path and (cfg.actions is None or n in cfg.actions)
             for a in MODEL.actions[n].domain(cfg) if continues(cfg, n, a) == (path, inst)]
    while (path, inst) in under_way(cfg, s):
        enabled = [(n, a) for n, a in nexts if MODEL.actions[n].guard(cfg, s, *a)]
        if not enabled:
            raise AssertionError(f"the {path} path begun by {name}{args} is stuck")
        s, _ = _take(cfg, s, steps, *enabled[0])
    return s, ret


def _instance(name: str, args: tuple):
    """The instance of the path ``name(args)`` begins (None: one runs at a time)."""
    param = BEGINS[name][1]
    return None if param is None else args[MODEL.actions[name].params.index(param)]


def _take(cfg, s, steps, name, args):
    post, ret = MODEL.actions[name].effect(cfg, s, *args)
    steps.append((s, name, args, ret, post))
    return post, ret


def model_operation(cfg: Config, s: State, paths, pages: tuple, op: str, a: dict):
    """One operation run alone on the model, as the harness expects it:
    (pure errno or None, [(pre, action, args, ret, post)], the state after, pages after).
    ``pages`` is the ghost list of (kind, memcg, order) allocations, as the
    harness tracks page handles."""
    steps: list = []
    if op in ("mkdir", "rmdir", "write", "attach"):
        m = paths.index(a["path"])
        online = s.lifecycle[m] == ONLINE
        if op == "mkdir":
            if online:
                return -EEXIST, steps, s, pages
            if s.lifecycle[cfg.parents[m]] != ONLINE:
                return -ENOENT, steps, s, pages
            first = ("mkdir", (m,))
        elif not online:
            return -ENOENT, steps, s, pages
        elif op == "rmdir":
            if m == ROOT:
                return -EBUSY, steps, s, pages
            first = ("rmdir", (m,))
        elif op == "attach":
            t = cfg.task_index(a["task"])
            if s.task_memcg[t] == m:
                return 0, steps, s, pages
            first = ("attach", (t, m))
        else:
            e = cgroupfs.expect_write(cfg, s, m, a["file"], a["text"])
            if e.error:
                return -e.error, steps, s, pages
            first = (e.action, e.args)
        if not MODEL.actions[first[0]].guard(cfg, s, *first[1]):
            return None, None, s, pages  # not alone here (the harness drives it alone)
        pre = s
        s, ret = _run_to_end(cfg, s, steps, *first)
        if first[0] in ("rmdir", "force_empty") and ret == 0:
            target = cfg.parents[first[1][0]] if pre.hier[first[1][0]] else ROOT
            pages = tuple(sorted((k, target if k == "user" and mm == first[1][0] else mm, o)
                                 for k, mm, o in pages))
        return None, steps, s, pages
    if op in KERNEL_PATHS:  # started where the model's guard of its first action holds
        first = KERNEL_PATHS[op](cfg, paths, a)
        if not MODEL.actions[first[0]].guard(cfg, s, *first[1]):
            return None, None, s, pages
        s, _ = _run_to_end(cfg, s, steps, *first)
        return None, steps, s, pages
    t = cfg.task_index(a["task"]) if "task" in a else None
    if t is not None and s.task_memcg[t] < 0 and op not in ("free_kmem", "free_user"):
        return None, None, s, pages  # no such task (not forked yet, or exited)
    if op == "alloc_kmem":
        m, order = s.task_memcg[t], a.get("order", 0)
        bypass = a.get("bypass")
        if bypass or not kmem_accounted(s, m):
            _take(cfg, s, steps, "charge.bypass", (t, m, 1 if bypass else 0))
            return None, steps, s, tuple(sorted((*pages, ("kmem", NONE, order))))
        s, ret = _take(cfg, s, steps, "charge.kmem", (t, m, order))
        if ret == 0:
            s, ret = _take(cfg, s, steps, "charge.res", (t, m))
        if ret == 0:
            s, ret = _take(cfg, s, steps, "charge.abort" if a.get("fail") else "charge.commit",
                           (t, m))
            if not a.get("fail"):
                pages = tuple(sorted((*pages, ("kmem", m, order))))
        return None, steps, s, pages
    if op in USER_CHARGES:  # the mm owner's group, or the root a fatal signal bypasses to
        m = user_charge_target(cfg, s, t, a.get("bypass") == "fatal_signal")
        s, ret = _take(cfg, s, steps, USER_CHARGES[op], (t, m))
        if ret == 0 and op == "alloc_user":  # only a pinned page has a handle
            pages = tuple(sorted((*pages, ("user", m, 0))))
        return None, steps, s, pages
    if op in ("free_kmem", "free_user"):
        page = a["page"]
        kind, m, order = page["kind"], page["memcg"], page["order"]
        rest = list(pages)
        rest.remove((kind, m, order))
        if m == NONE:
            _take(cfg, s, steps, "free.bypass", (t or 0,))
        elif kind == "kmem":
            s, _ = _take(cfg, s, steps, "free.uncharge", (m, order))
        else:
            s, _ = _take(cfg, s, steps, "user.uncharge", (m,))
        return None, steps, s, tuple(rest)
    raise ValueError(f"unknown operation {op}")
