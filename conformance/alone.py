"""One operation run alone on the model, as the harness expects it.

The sequential path of an operation (a cgroupfs write with the activation it
starts, a page charge with its three steps, a free) taken from a state where
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
from kmemcg.model.state import ADMIN_IDLE, ONLINE, State

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


def _admin_run(cfg, s, steps):
    """The activation steps memcg_update_kmem_limit takes after its write."""
    names = ("activate.update_cache_sizes", "activate.static_key_inc", "activate.set_active")
    while s.admin_pc != ADMIN_IDLE:
        m = s.admin_memcg
        for name in names:
            act = MODEL.actions[name]
            if act.guard(cfg, s, m):
                post, ret = act.effect(cfg, s, m)
                steps.append((s, name, (m,), ret, post))
                s = post
                break
        else:
            raise AssertionError(f"the administrator is stuck at {s.admin_pc}")
    return s


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
        s, ret = _take(cfg, s, steps, *first)
        s = _admin_run(cfg, s, steps)
        if first[0] in ("rmdir", "force_empty") and ret == 0:
            target = cfg.parents[first[1][0]] if pre.hier[first[1][0]] else ROOT
            pages = tuple(sorted((k, target if k == "user" and mm == first[1][0] else mm, o)
                                 for k, mm, o in pages))
        return None, steps, s, pages
    t = cfg.task_index(a["task"]) if "task" in a else None
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
