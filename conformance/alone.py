"""One operation run alone on the model, as the harness expects it.

The sequential path of an operation (a cgroupfs write with the activation it
starts, a page charge with its three steps, a free, rmdir with its offline walk, a
task's fork, exit or last put, css_free's three steps, a slab allocation or
free, a kworker's work item) taken from a state where nothing else runs: what
the coverage search replays to find each outcome's shortest scenario, and the
steps the suite supplies for an implementation of whole operations
(conformance/sequential.py).

Where the model leaves a choice inside one operation (which partial slab an
allocation fills, whether a free releases the slab it empties, the order of a
walk), :func:`model_operations` gives every way the operation can go; the
implementation's snapshot says which it took.
"""

from __future__ import annotations

from errno import EBUSY, EEXIST, EINVAL, ENOENT
from functools import cache

from kmemcg.model import cgroupfs
from kmemcg.model.config import NONE, ROOT, Config
from kmemcg.model.controller import MODEL
from kmemcg.model.facts import kmem_accounted, owner_memcg
from kmemcg.model.serial import BEGINS, CONTINUES, continues, under_way
from kmemcg.model.state import (
    CONTEXTS,
    ONLINE,
    PENDING,
    State,
    cache_id,
    cache_name,
    memcg_of,
    n_caches,
)

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


def _enabled(cfg, s, *firsts):
    """The first actions among ``firsts`` whose guard holds in ``s``, or None
    when none does (the operation is not one the model takes here)."""
    out = [(n, a) for n, a in firsts if MODEL.actions[n].guard(cfg, s, *a)]
    return out or None


def _one(name, arg_of):
    """A kernel path that begins with one action, given the operation's arguments."""
    return lambda cfg, s, paths, a: _enabled(cfg, s, (name, arg_of(cfg, paths, a)))


def _kmem_cache_alloc(cfg, s, paths, a):
    """kmem_cache_alloc: the root cache keeps a context the kernel never charges
    and a memcg that accounts no kmem (memcg_kmem_get_cache, 3.8): ``alloc.root``
    where root_objects keeps its objects, no step where they are forgotten;
    else the memcg's copy: a partial slab of any fill, or an empty or new one."""
    r = cfg.roots.index(a["root"]) if a.get("root") in cfg.roots else None
    t = cfg.task_index(a["task"]) if a.get("task") is not None else None
    m = s.task_memcg[t] if t is not None else \
        paths.index(a.get("path") or "/") if (a.get("path") or "/") in paths else None
    if r is None or m is None or m < 0 or s.lifecycle[m] != ONLINE:
        return None  # the kernel face's -ENOENT: no such root, no such memcg online
    context = a.get("context") or (None if kmem_accounted(s, m) else "unaccounted")
    if context is not None:
        if context not in CONTEXTS:
            return None
        return [] if not cfg.root_objects else \
            _enabled(cfg, s, ("alloc.root", (r, CONTEXTS.index(context))))
    c = cache_id(cfg, r, m)
    return _enabled(cfg, s, ("alloc", (c,)),
                    *(("alloc.partial", (c, k)) for k in range(1, cfg.objs_per_slab)))


def _kmem_cache_free(cfg, s, paths, a):
    """kmem_cache_free of an object on a slab of its cache (``a["cache"]``, as the
    caller tracked it; None: one the root served and the model forgot, no step):
    the slab kept, whatever its fill, or released when the free empties it."""
    c = a.get("cache")
    if c is None:
        return []
    return _enabled(cfg, s, *(("free.object", (c, k)) for k in range(1, cfg.objs_per_slab + 1)),
                    ("free.release_pages", (c,)))


def _memcg_cache(cfg, paths, a) -> tuple[int]:
    return (cache_id(cfg, cfg.roots.index(a["root"]), paths.index(a["path"])),)


def _kmem_cache_create(cfg, s, paths, a):
    """kmem_cache_create of a root of the scope: -EINVAL (no step) while a root of
    that name is loaded or being unloaded (kmem_cache_sanity_check, 3.8)."""
    if a.get("name") not in cfg.roots:
        return None
    return _enabled(cfg, s, ("kmem_cache_create", (cfg.roots.index(a["name"]),))) or -EINVAL


#: work items as a sequential implementation names them: "create CACHE" and
#: "destroy CACHE", CACHE a memcg cache's snapshot key; the action each begins with
WORK_ITEMS = {"create": "create_work.publish", "destroy": "destroy_work.start"}


def minimal_work_name(name: str) -> str:
    """The minimal path's name for a work item as the reference names it: the
    reference counts each creation work it kmallocs (``create dentry(1:A) #2``),
    which a sequential implementation need not."""
    kind, _, count = name.rpartition(" #")
    return kind if kind and count.isdigit() else name


def queued_work(cfg: Config, s: State) -> list[str]:
    """The work items queued and not running in ``s``, by those names: a pending
    creation, and a destruction pending (or queued again while it runs)."""
    caches = [c for c in range(n_caches(cfg)) if memcg_of(cfg, c)]
    return ([f"create {cache_name(cfg, c)}" for c in caches if s.create_pending[c]]
            + [f"destroy {cache_name(cfg, c)}" for c in caches
               if s.work[c] == PENDING or s.requeued[c]])


def _work(cfg, s, paths, a):
    """A kworker runs the named item to its end (memcg_create_cache_work_func,
    kmem_cache_destroy_work_func)."""
    kind, _, cache = str(a.get("item", "")).partition(" ")
    names = {cache_name(cfg, c): c for c in range(n_caches(cfg)) if memcg_of(cfg, c)}
    if kind not in WORK_ITEMS or cache not in names or a["item"] not in queued_work(cfg, s):
        return None
    return _enabled(cfg, s, (WORK_ITEMS[kind], (names[cache],)))


def _drain_stock(cfg, s, paths, a):
    """drain_local_stock on a cpu: of a stock caching none it does nothing, 0."""
    cpu = a["cpu"]
    if type(cpu) is int and 0 <= cpu < cfg.cpus and s.stock_memcg[cpu] == NONE:
        return 0
    return _enabled(cfg, s, ("stock.drain", (cpu,)))


#: the kernel paths started on their own thread (as the interleaver starts them) that
#: a sequential implementation runs whole: the protocol's operation -> the first model
#: actions it may begin with in a state (each enabled there), [] for none (it changes
#: nothing), an errno it fails with at once, or None where the model does not take it
KERNEL_PATHS = {
    "spawn": _one("spawn", lambda cfg, paths, a: (cfg.task_index(a["task"]),
                                                  paths.index(a["path"]))),
    "fork": _one("fork", lambda cfg, paths, a: (cfg.task_index(a["task"]),
                                                cfg.task_index(a["parent"]),
                                                int(bool(a.get("thread", False))))),
    "exit": _one("exit", lambda cfg, paths, a: (cfg.task_index(a["task"]),)),
    "put_task_struct": _one("put_task_struct", lambda cfg, paths, a: (cfg.task_index(a["task"]),)),
    "css_free": _one("css_free.mark_dead", lambda cfg, paths, a: (paths.index(a["path"]),)),
    "mem_cgroup_free": _one("mem_cgroup_free", lambda cfg, paths, a: (paths.index(a["path"]),)),
    "kmem_cache_alloc": _kmem_cache_alloc,
    "kmem_cache_free": _kmem_cache_free,
    "kmem_cache_shrink": _one("shrink.release", _memcg_cache),
    "kmem_cache_destroy": _one("root_destroy.start",
                               lambda cfg, paths, a: (cfg.roots.index(a["root"]),)),
    "kmem_cache_create": _kmem_cache_create,
    "work": _work,
    "drain_stock": _drain_stock,
}


def _runs_to_end(cfg, s, name, args) -> list[tuple[list, State]]:
    """Every way to take ``name(args)`` and then, while the path it begins is
    under way, one of its enabled continuations: the path run to its end with
    nothing else running (model/serial.py names the paths and their steps), as
    ([(pre, action, args, ret, post)], the state after), one run per end state."""
    post, ret = MODEL.actions[name].effect(cfg, s, *args)
    first = [(s, name, args, ret, post)]
    if name not in BEGINS:
        return [(first, post)]
    path, inst = BEGINS[name][0], _instance(name, args)
    nexts = _continuations(cfg, path, inst)
    ends: dict[State, list] = {}
    todo = [(first, post)]
    while todo:
        steps, s = todo.pop()
        if (path, inst) not in under_way(cfg, s):
            ends.setdefault(s, steps)
            continue
        enabled = [(n, a) for n, a in nexts if MODEL.actions[n].guard(cfg, s, *a)]
        ways = [([(s, n, a, r, after)], after) for n, a in enabled
                for after, r in (MODEL.actions[n].effect(cfg, s, *a),)]
        if not ways:
            # it waits for a kworker (flush_work, flush_workqueue): with nothing else
            # running, the items queued run first, each to its end
            ways = [way for item in queued_work(cfg, s)
                    for first_work in _work(cfg, s, None, {"item": item}) or ()
                    for way in _runs_to_end(cfg, s, *first_work)]
        if not ways:
            raise AssertionError(f"the {path} path begun by {name}{args} is stuck")
        for more, after in reversed(ways):  # the first continuation's run comes first
            todo.append(([*steps, *more], after))
    return [(steps, end) for end, steps in ends.items()]


@cache
def _continuations(cfg: Config, path: str, inst) -> tuple:
    """The steps of the scope that continue that instance of the path."""
    return tuple((n, a) for n, (p, _) in CONTINUES.items()
                 if p == path and (cfg.actions is None or n in cfg.actions)
                 for a in MODEL.actions[n].domain(cfg) if continues(cfg, n, a) == (path, inst))


def _instance(name: str, args: tuple):
    """The instance of the path ``name(args)`` begins (None: one runs at a time)."""
    param = BEGINS[name][1]
    return None if param is None else args[MODEL.actions[name].params.index(param)]


def _take(cfg, s, steps, name, args):
    post, ret = MODEL.actions[name].effect(cfg, s, *args)
    steps.append((s, name, args, ret, post))
    return post, ret


def model_operation(cfg: Config, s: State, paths, pages: tuple, op: str, a: dict):
    """One operation run alone on the model, as the harness expects it: the first
    of :func:`model_operations`."""
    return model_operations(cfg, s, paths, pages, op, a)[0]


def model_operations(cfg: Config, s: State, paths, pages: tuple, op: str, a: dict) -> list:
    """Every way one operation run alone on the model can go, as the harness
    expects it: [(pure errno or None, [(pre, action, args, ret, post)], the state
    after, pages after)], never empty; steps None where the model does not take
    the operation here. ``pages`` is the ghost list of (kind, memcg, order)
    allocations, as the harness tracks page handles."""
    if op in ("mkdir", "rmdir", "write", "attach"):
        m = paths.index(a["path"])
        online = s.lifecycle[m] == ONLINE
        if op == "mkdir":
            if online:
                return [(-EEXIST, [], s, pages)]
            if s.lifecycle[cfg.parents[m]] != ONLINE:
                return [(-ENOENT, [], s, pages)]
            first = ("mkdir", (m,))
        elif not online:
            return [(-ENOENT, [], s, pages)]
        elif op == "rmdir":
            if m == ROOT:
                return [(-EBUSY, [], s, pages)]
            first = ("rmdir", (m,))
        elif op == "attach":
            t = cfg.task_index(a["task"])
            if s.task_memcg[t] == m:
                return [(0, [], s, pages)]
            first = ("attach", (t, m))
        else:
            e = cgroupfs.expect_write(cfg, s, m, a["file"], a["text"])
            if e.error:
                return [(-e.error, [], s, pages)]
            first = (e.action, e.args)
        if not MODEL.actions[first[0]].guard(cfg, s, *first[1]):
            return [(None, None, s, pages)]  # not alone here (the harness drives it alone)
        moved = pages
        if first[0] in ("rmdir", "force_empty"):
            target = cfg.parents[first[1][0]] if s.hier[first[1][0]] else ROOT
            moved = tuple(sorted((k, target if k == "user" and mm == first[1][0] else mm, o)
                                 for k, mm, o in pages))
        return [(None, steps, post, moved if steps[0][3] == 0 else pages)
                for steps, post in _runs_to_end(cfg, s, *first)]
    if op in KERNEL_PATHS:  # started where the model's guard of its first action holds
        firsts = KERNEL_PATHS[op](cfg, s, paths, a)
        if firsts is None:
            return [(None, None, s, pages)]
        if isinstance(firsts, int):
            return [(firsts, [], s, pages)]
        return [(None, steps, post, pages) for first in firsts
                for steps, post in _runs_to_end(cfg, s, *first)] or [(None, [], s, pages)]
    steps: list = []
    t = cfg.task_index(a["task"]) if "task" in a else None
    if t is not None and s.task_memcg[t] < 0 and op not in ("free_kmem", "free_user"):
        return [(None, None, s, pages)]  # no such task (not forked yet, or exited)
    if op == "alloc_kmem":
        m, order = s.task_memcg[t], a.get("order", 0)
        bypass = a.get("bypass")
        if bypass or not kmem_accounted(s, m):
            _take(cfg, s, steps, "charge.bypass", (t, m, 1 if bypass else 0))
            return [(None, steps, s, tuple(sorted((*pages, ("kmem", NONE, order)))))]
        s, ret = _take(cfg, s, steps, "charge.kmem", (t, m, order))
        if ret == 0:
            s, ret = _take(cfg, s, steps, "charge.res", (t, m))
        if ret == 0:
            s, ret = _take(cfg, s, steps, "charge.abort" if a.get("fail") else "charge.commit",
                           (t, m))
            if not a.get("fail"):
                pages = tuple(sorted((*pages, ("kmem", m, order))))
        return [(None, steps, s, pages)]
    if op in USER_CHARGES:  # the mm owner's group, or the root a fatal signal bypasses to
        m = user_charge_target(cfg, s, t, a.get("bypass") == "fatal_signal")
        s, ret = _take(cfg, s, steps, USER_CHARGES[op], (t, m))
        if ret == 0 and op == "alloc_user":  # only a pinned page has a handle
            pages = tuple(sorted((*pages, ("user", m, 0))))
        return [(None, steps, s, pages)]
    if op in ("free_kmem", "free_user"):
        page = a["page"]
        kind, m, order = page["kind"], page["memcg"], page["order"]
        rest = list(pages)
        rest.remove((kind, m, order))
        if m == NONE:
            _take(cfg, s, steps, "free.bypass", ())
        elif kind == "kmem":
            s, _ = _take(cfg, s, steps, "free.uncharge", (m, order))
        else:
            s, _ = _take(cfg, s, steps, "user.uncharge", (m,))
        return [(None, steps, s, tuple(rest))]
    raise ValueError(f"unknown operation {op}")
