"""The destruction slice: per-memcg slab caches and the races around their end.

State for every (root cache, memcg) pair, the workqueue items that create and
destroy the memcg's cache, and three threads that race with the workers: memcg
offline (``mem_cgroup_destroy_all_caches``), root-cache destruction
(``kmem_cache_destroy_memcg_children``) and an outside shrinker
(``kmem_cache_shrink``). Each cache's slabs are counted by how many objects
they hold (a slab is ``2**slab_order`` pages of ``objs_per_slab`` objects); a
new slab charges its pages to the memcg's kmem counter, a released one
uncharges them, and tasks' thread stacks are charged the same way, so the
counter can be checked against what the caches and stacks hold.

Kernel of record: 3.10 ``mm/memcontrol.c`` and ``mm/slab_common.c`` (domain
sections 5, 6, 13). The default profile closes every race the kernel later
fixed; each historical profile reopens one, citing its upstream fix.

A cache is numbered ``c = root * n_memcgs + memcg``; memcg 0 (the root memcg)
never owns caches.
"""

from __future__ import annotations

from functools import cache
from itertools import permutations
from typing import NamedTuple

from model import res_counter as rc
from model.config import NONE, PAGE_SIZE, UNLIMITED, Config
from model.dual import And, Count, Eq, If, Implies, Not, Or, Sum
from model.liveness import LeadsTo
from model.slice import Slice
from model.state import Counter, counter_from_json, counter_json, replace_at

DESTRUCTION = Slice("destruction")

# kmem_cache lifecycle of a memcg cache
NOCACHE, ALIVE, FREED = 0, 1, 2
CACHE = ("none", "alive", "freed")
# the destroy work_struct: idle, queued, or running at one of its steps
IDLE, PENDING, RUN_CHECK, RUN_SHRINK, RUN_DESTROY = 0, 1, 2, 3, 4
WORK = ("idle", "pending", "run:check", "run:shrink", "run:destroy")
# what went wrong, once (the error invariants name each)
OK, USE_AFTER_FREE, DOUBLE_DESTROY, NULL_DEREF = 0, 1, 2, 3
ERRORS = ("none", "use after free", "double destroy", "NULL dereference")
#: x86_64's THREAD_SIZE_ORDER (3.8): a thread stack is two pages.
THREAD_SIZE_ORDER = 1

DESTRUCTION.profiles = {
    "correct": "3.10 protocol with each race closed as upstream later did (default)",
    "destroy_while_requeued": "the last page goes away while the destroy worker runs; the "
                              "release hook re-queues the running work, the worker sees 0 "
                              "pages and frees the cache with its work still queued (3.8-3.15 "
                              "as merged [I]; upstream removed the async destroy in 3.16, "
                              "VDNOSCHED)",
    "v5_double_destroy": "the release hook queues destroy work that is already pending "
                         "(v5: no work_pending check, INIT_WORK on pending work) and the "
                         "worker runs twice over freed data (R1; fixed in v6, P25)",
    "root_destroy_no_cancel": "root-cache destruction does not cancel a child's pending "
                              "destroy work (fixed in v6: cancel pending work before "
                              "destroying child cache, P24)",
    "offline_vs_root_destroy": "memcg offline marks a cache dead and queues its destruction "
                               "while root destruction is between cancel and destroy (R4; "
                               "fixed in 3.16 by memcg_slab_mutex, VDSYNC)",
    "shrink_frees_last_page": "an outside kmem_cache_shrink frees the last slab, the worker "
                              "destroys the cache while the shrinker is still in it (R10; "
                              "fixed in 3.16, VDNOSCHED)",
    "no_destroy_on_last_page": "the last page going away no longer schedules destruction: "
                               "the races are gone, and a dead cache emptied after offline "
                               "leaks until its root is destroyed (3.16, VDNOSCHED; breaks "
                               "the liveness property, not safety)",
    "create_after_offline": "a creation work queued before offline runs after it: the new "
                            "cache is never marked dead (R13; no upstream fix found)",
    "create_vs_root_destroy": "a creation work queued before the root cache's destruction "
                              "runs after it and dereferences the freed root (3.8-4.17; "
                              "fixed in 4.18 by 92ee383f6daa, which marks the root dying and "
                              "flushes the creation works)",
    "list_before_slot": "creation links the cache into the memcg's list before publishing "
                        "the root's slot; offline walks the list into a NULL (R5; fixed in "
                        "3.14, 96403da24444)",
}


class DState(NamedTuple):
    """Abstract state of the destruction protocol."""

    #: memcg online (css_online .. css_offline); the root memcg always is.
    online: tuple
    #: root cache not yet destroyed (module loaded).
    root_alive: tuple
    #: per cache: NOCACHE / ALIVE / FREED.
    cache: tuple
    #: memcg_params->dead.
    dead: tuple
    #: per cache, its slabs by fill: slabs[c][k] slabs hold k objects each
    #: (memcg_params->nr_pages and the object count follow from it).
    slabs: tuple
    #: the destroy work_struct (WORK), and whether it was queued again while running.
    work: tuple
    requeued: tuple
    #: a creation work item is queued for this (root, memcg).
    create_pending: tuple
    #: list_before_slot only: the creation worker linked the cache, slot not yet set.
    half_created: tuple
    #: root->memcg_params->memcg_caches[id] points here; the cache is on memcg's list.
    slot: tuple
    listed: tuple
    #: memcg offline walking its cache list under memcg->slab_caches_mutex: the
    #: memcg (NONE when idle) and, per root, whether the walk has visited its cache.
    #: The list is in creation order, which the state forgets: any order is possible.
    offline_memcg: int
    offline_done: tuple
    #: root-cache destruction: the root (NONE when idle), the next memcg, its step.
    rdestroy_root: int
    rdestroy_next: int
    rdestroy_step: int
    #: the outside shrinker: the cache it is inside (NONE when idle).
    shrinking: int
    error: int
    #: memcg->kmem per memcg (res_counter, bytes); the root memcg is never charged.
    kmem: tuple
    #: per task: the memcg its thread stack is charged to (NONE: no task_struct),
    #: and whether it has exited (its stack stays charged until put_task_struct).
    task_memcg: tuple
    task_exited: tuple


# root destruction steps for the current child (RD_WAIT: cancel_work_sync has
# grabbed the pending bit and waits for a running item to return)
RD_MARK, RD_CANCEL, RD_DESTROY, RD_WAIT = 0, 1, 2, 3
RD_STEPS = ("mark", "cancel", "destroy", "wait")


def n_caches(cfg: Config) -> int:
    return len(cfg.roots) * cfg.n_memcgs


def root_of(cfg: Config, c: int) -> int:
    return c // cfg.n_memcgs


def memcg_of(cfg: Config, c: int) -> int:
    return c % cfg.n_memcgs


def cache_id(cfg: Config, r: int, m: int) -> int:
    return r * cfg.n_memcgs + m


def slab_pages(cfg: Config) -> int:
    return 1 << cfg.slab_order


def nr_pages(cfg: Config, s: DState, c: int):
    """memcg_params->nr_pages: every page of the cache's slabs (memcg_bind_pages)."""
    return slab_pages(cfg) * Sum(s.slabs[c])


def objects(s: DState, c: int):
    return Sum(k * n for k, n in enumerate(s.slabs[c]))


def cache_name(cfg: Config, c: int) -> str:
    """The kernel's name of a memcg cache, root(kmemcg_id:group) (3.8 kmem_cache_dup)."""
    r, m = divmod(c, cfg.n_memcgs)
    return f"{cfg.roots[r]}({m}:{cfg.memcgs[m]})"


def initial(cfg: Config) -> DState:
    n = n_caches(cfg)
    kmem = (Counter(0, 0, UNLIMITED, 0),) + (Counter(0, 0, cfg.kmem_limit, 0),) * (cfg.n_memcgs - 1)
    return DState(
        online=(True,) * cfg.n_memcgs, root_alive=(True,) * len(cfg.roots),
        cache=(NOCACHE,) * n, dead=(False,) * n, slabs=(no_slabs(cfg),) * n,
        work=(IDLE,) * n, requeued=(False,) * n, create_pending=(False,) * n,
        half_created=(False,) * n, slot=(False,) * n, listed=(False,) * n,
        offline_memcg=NONE, offline_done=(False,) * len(cfg.roots), rdestroy_root=NONE, rdestroy_next=0,
        rdestroy_step=RD_MARK, shrinking=NONE, error=OK,
        kmem=kmem,
        task_memcg=(NONE,) * cfg.n_tasks, task_exited=(False,) * cfg.n_tasks,
    )


def no_slabs(cfg: Config) -> tuple:
    return (0,) * (cfg.objs_per_slab + 1)


def in_constraint(cfg: Config, s: DState) -> bool:
    """StateConstraint: each cache holds at most cfg.max_pages pages, and no
    kmem failcnt exceeds cfg.max_failcnt."""
    return (all(nr_pages(cfg, s, c) <= cfg.max_pages for c in range(n_caches(cfg)))
            and all(k.failcnt <= cfg.max_failcnt for k in s.kmem))


def _name(xs, i):
    return None if i == NONE else xs[i] if 0 <= i < len(xs) else i


def to_json(cfg: Config, s: DState) -> dict:
    """The state keyed by names; ``nr_pages`` and ``objects`` are derived from
    ``slabs`` and are checked, not read, by :func:`from_json`."""
    caches = {}
    for (c,) in cache_domain(cfg):
        caches[cache_name(cfg, c)] = {
            "cache": CACHE[s.cache[c]], "dead": bool(s.dead[c]), "slabs": list(s.slabs[c]),
            "nr_pages": nr_pages(cfg, s, c), "objects": objects(s, c),
            "work": WORK[s.work[c]], "requeued": bool(s.requeued[c]),
            "create_pending": bool(s.create_pending[c]), "half_created": bool(s.half_created[c]),
            "slot": bool(s.slot[c]), "listed": bool(s.listed[c]),
        }
    return {
        "memcgs": {m: {"online": bool(s.online[i]), "kmem": counter_json(s.kmem[i])}
                   for i, m in enumerate(cfg.memcgs)},
        "roots": {r: {"alive": bool(s.root_alive[i])} for i, r in enumerate(cfg.roots)},
        "caches": caches,
        "tasks": {t: {"memcg": _name(cfg.memcgs, s.task_memcg[i]),
                      "exited": bool(s.task_exited[i])} for i, t in enumerate(cfg.tasks)},
        "offline": {"memcg": _name(cfg.memcgs, s.offline_memcg),
                    "visited": [r for i, r in enumerate(cfg.roots) if s.offline_done[i]]},
        "root_destroy": {"root": _name(cfg.roots, s.rdestroy_root), "next_memcg": s.rdestroy_next,
                         "step": _name(RD_STEPS, s.rdestroy_step)},
        "shrinking": None if s.shrinking == NONE else cache_name(cfg, s.shrinking)
        if 0 <= s.shrinking < n_caches(cfg) else s.shrinking,
        "error": _name(ERRORS, s.error),
    }


def from_json(cfg: Config, d: dict) -> DState:
    """The inverse of :func:`to_json` (for implementations' snapshots). A
    snapshot whose ``nr_pages`` or ``objects`` disagree with its ``slabs`` is
    refused with ValueError: an implementation's page counter is part of what
    conformance checks."""
    n = n_caches(cfg)
    cs = [d["caches"].get(cache_name(cfg, c)) if memcg_of(cfg, c) else None for c in range(n)]
    blank = {"cache": "none", "dead": False, "slabs": list(no_slabs(cfg)), "work": "idle",
             "requeued": False, "create_pending": False, "half_created": False, "slot": False,
             "listed": False}
    cs = [x or blank for x in cs]

    def idx(xs, v):
        return NONE if v is None else xs.index(v)

    rd = d["root_destroy"]
    tasks = d.get("tasks", {})
    s = DState(
        online=tuple(bool(d["memcgs"][m]["online"]) for m in cfg.memcgs),
        root_alive=tuple(bool(d["roots"][r]["alive"]) for r in cfg.roots),
        cache=tuple(CACHE.index(x["cache"]) for x in cs),
        dead=tuple(bool(x["dead"]) for x in cs),
        slabs=tuple(tuple(int(k) for k in x["slabs"]) for x in cs),
        work=tuple(WORK.index(x["work"]) for x in cs),
        requeued=tuple(bool(x["requeued"]) for x in cs),
        create_pending=tuple(bool(x["create_pending"]) for x in cs),
        half_created=tuple(bool(x["half_created"]) for x in cs),
        slot=tuple(bool(x["slot"]) for x in cs),
        listed=tuple(bool(x["listed"]) for x in cs),
        offline_memcg=idx(cfg.memcgs, d["offline"]["memcg"]),
        offline_done=tuple(r in d["offline"]["visited"] for r in cfg.roots),
        rdestroy_root=idx(cfg.roots, rd["root"]),
        rdestroy_next=int(rd["next_memcg"]),
        rdestroy_step=RD_STEPS.index(rd["step"]),
        shrinking=NONE if d["shrinking"] is None else next(
            c for c in range(n) if memcg_of(cfg, c) and cache_name(cfg, c) == d["shrinking"]),
        error=ERRORS.index(d["error"]),
        kmem=tuple(counter_from_json(d["memcgs"][m]["kmem"]) for m in cfg.memcgs),
        task_memcg=tuple(idx(cfg.memcgs, tasks[t]["memcg"]) for t in cfg.tasks),
        task_exited=tuple(bool(tasks[t]["exited"]) for t in cfg.tasks),
    )
    for c, x in enumerate(cs):
        if len(s.slabs[c]) != cfg.objs_per_slab + 1:
            raise ValueError(f"{cache_name(cfg, c)}: slabs must count fills 0..{cfg.objs_per_slab}")
        for key, want in (("nr_pages", nr_pages(cfg, s, c)), ("objects", objects(s, c))):
            if key in x and x[key] != want:
                raise ValueError(f"{cache_name(cfg, c)}: {key} is {x[key]} but its slabs "
                                 f"{list(s.slabs[c])} hold {want}")
    return s


SLABINFO_HEADER = ("# name <active_objs> <num_objs> <objperslab> <pagesperslab> "
                   ": slabdata <active_slabs> <num_slabs>")


def _slabinfo_line(cfg: Config, name: str, s: DState, cs: list[int]) -> str:
    """One slabinfo line, summed over the caches ``cs`` (memcg_slabinfo adds
    the children into their root's line)."""
    active = sum(objects(s, c) for c in cs)
    slabs = sum(sum(s.slabs[c]) for c in cs)
    used = sum(sum(s.slabs[c][1:]) for c in cs)
    return (f"{name} {active} {slabs * cfg.objs_per_slab} {cfg.objs_per_slab} "
            f"{slab_pages(cfg)} : slabdata {used} {slabs}")


def expect_proc_slabinfo(cfg: Config, s: DState) -> str:
    """What /proc/slabinfo shows: each live root with its children's counts."""
    lines = [SLABINFO_HEADER]
    for r, root in enumerate(cfg.roots):
        if not s.root_alive[r]:
            continue
        live = [cache_id(cfg, r, m) for m in range(1, cfg.n_memcgs)
                if s.slot[cache_id(cfg, r, m)]]
        lines.append(_slabinfo_line(cfg, root, s, live))
    return "\n".join(lines) + "\n"


def expect_memcg_slabinfo(cfg: Config, s: DState, m: int) -> str | None:
    """What memory.kmem.slabinfo of memcg ``m`` shows; None where reading it would
    walk into a half-registered cache (list_before_slot)."""
    if not s.online[m]:
        return None
    lines = [SLABINFO_HEADER]
    for r, root in enumerate(cfg.roots):
        c = cache_id(cfg, r, m)
        if s.listed[c]:
            if not s.slot[c]:
                return None
            lines.append(_slabinfo_line(cfg, root, s, [c]))
    return "\n".join(lines) + "\n"


#: per-cache fields, permuted with their root
_PER_CACHE = ("cache", "dead", "slabs", "work", "requeued", "create_pending", "half_created",
              "slot", "listed")


def permute_roots(cfg: Config, s: DState, perm: tuple[int, ...]) -> DState:
    """``s`` with root r renamed perm[r]: its caches, its alive bit, the walks'
    references to it. Roots are interchangeable: no step or invariant looks at
    a root's index (offline walks a list in creation order, which the state
    does not keep)."""
    n = cfg.n_memcgs

    def cache(c):
        return c if c == NONE else perm[c // n] * n + c % n

    def roots(xs):
        out = list(xs)
        for r, x in enumerate(xs):
            out[perm[r]] = x
        return tuple(out)

    def caches(xs):
        out = list(xs)
        for c, x in enumerate(xs):
            out[cache(c)] = x
        return tuple(out)

    return s._replace(
        root_alive=roots(s.root_alive), offline_done=roots(s.offline_done),
        rdestroy_root=s.rdestroy_root if s.rdestroy_root == NONE else perm[s.rdestroy_root],
        shrinking=cache(s.shrinking), **{f: caches(getattr(s, f)) for f in _PER_CACHE})


def root_symmetry(cfg: Config) -> tuple:
    """Every permutation of the root caches, the identity first."""
    return tuple(lambda s, p=p: permute_roots(cfg, s, p)
                 for p in permutations(range(len(cfg.roots))))


DESTRUCTION.symmetry = root_symmetry
DESTRUCTION.initial = initial
DESTRUCTION.in_constraint = in_constraint
DESTRUCTION.to_json = to_json
action = DESTRUCTION.action
invariant = DESTRUCTION.invariant


# ---------------------------------------------------------------- helpers


def _set(s: DState, c: int, **fields) -> DState:
    return s._replace(**{k: replace_at(getattr(s, k), c, v) for k, v in fields.items()})


def _fail(s: DState, when, code) -> DState:
    """Record the first error: an action that touches freed memory, say."""
    return s._replace(error=If(And(when, Eq(s.error, OK)), code, s.error))


def _queue_destroy(s: DState, c: int, *, reinit: bool = False) -> DState:
    """schedule_work(&cachep->memcg_params->destroy): a no-op while pending; a
    running item is queued again. ``reinit`` is v5's INIT_WORK on a pending
    item, after which it runs twice."""
    w = s.work[c]
    running = Or(Eq(w, RUN_CHECK), Eq(w, RUN_SHRINK), Eq(w, RUN_DESTROY))
    again = Or(running, Eq(w, PENDING)) if reinit else running
    s = _fail(s, Eq(s.cache[c], FREED), USE_AFTER_FREE)
    s = _set(s, c, requeued=Or(s.requeued[c], again))
    return _set(s, c, work=If(Eq(w, IDLE), PENDING, w))


def _destroy_cache(cfg, s: DState, c: int) -> DState:
    """mem_cgroup_destroy_cache: the last page is gone; destroy a dead cache
    later, unless its destruction is already queued (the v6 fix)."""
    if cfg.profile == "v5_double_destroy":
        return If(s.dead[c], _queue_destroy(s, c, reinit=True), s)
    if cfg.profile == "no_destroy_on_last_page":
        return s
    pending = Eq(s.work[c], PENDING)
    return If(And(s.dead[c], Not(pending)), _queue_destroy(s, c), s)


def _release(cfg, s: DState, c: int, hist: tuple) -> DState:
    """Give the slabs missing from ``hist`` back to the page allocator: each is
    uncharged from the cache's memcg (__memcg_kmem_uncharge_pages), and the
    release hook (memcg_release_pages) calls mem_cgroup_destroy_cache when the
    cache's last page goes."""
    gone = Sum(s.slabs[c]) - Sum(hist)
    m = memcg_of(cfg, c)
    s2 = _set(s, c, slabs=hist)._replace(
        kmem=rc.uncharge(s.kmem, [(m, True)], gone * slab_pages(cfg) * PAGE_SIZE))
    emptied = And(gone > 0, Eq(Sum(hist), 0))
    return If(emptied, _destroy_cache(cfg, s2, c), s2)


def _shrink(cfg, s: DState, c: int) -> DState:
    """__kmem_cache_shrink: release every empty slab."""
    return _release(cfg, s, c, (0, *s.slabs[c][1:]))


def _kmem_cache_destroy(cfg, s: DState, c: int) -> DState:
    """kmem_cache_destroy(c): __kmem_cache_shutdown releases the empty slabs, then
    the cache is freed with its slot and list entry; a cache with objects
    survives ("Slab cache still has objects")."""
    s = _fail(s, Eq(s.cache[c], FREED), DOUBLE_DESTROY)
    empty = Eq(objects(s, c), 0)
    freed = _set(_shrink(cfg, s, c), c, cache=FREED, slot=False, listed=False)
    return If(And(empty, Eq(s.cache[c], ALIVE)), freed, s)


@cache
def cache_domain(cfg):
    return tuple((c,) for c in range(n_caches(cfg)) if memcg_of(cfg, c) != 0)


@cache
def memcg_domain(cfg):
    return tuple((m,) for m in range(1, cfg.n_memcgs))


@cache
def root_domain(cfg):
    return tuple((r,) for r in range(len(cfg.roots)))


# ---------------------------------------------------------------- allocation and free


def _alloc_guard(cfg, s, c):
    r = root_of(cfg, c)
    return And(s.online[memcg_of(cfg, c)], s.root_alive[r], Not(Eq(s.rdestroy_root, r)))


def _moved(hist: tuple, frm: int, to: int) -> tuple:
    """One slab moves from fill ``frm`` to fill ``to``."""
    out = replace_at(hist, frm, hist[frm] - 1)
    return replace_at(out, to, out[to] + 1)


def _alloc(cfg, s, c):
    """kmem_cache_alloc by a task of the memcg: its cache if published, else
    queue the creation and serve this object from the root cache, uncharged.
    The object goes to the fullest partial slab, else an empty one, else a new
    slab, whose pages are charged first (memcg_charge_kmem; -ENOMEM over the
    kmem limit, and the allocation fails)."""
    m = memcg_of(cfg, c)
    hist = s.slabs[c]
    kmem, ok = rc.charge(s.kmem, [(m, True)], slab_pages(cfg) * PAGE_SIZE)
    grown = If(ok, _set(s, c, slabs=replace_at(hist, 1, hist[1] + 1)), s)._replace(kmem=kmem)
    used, fails = grown, Not(ok)
    for k in range(cfg.objs_per_slab):  # fuller slabs are tried first: outermost
        used = If(hist[k] > 0, _set(s, c, slabs=_moved(hist, k, k + 1)), used)
        fails = And(Eq(hist[k], 0), fails)
    used = _fail(used, Eq(s.cache[c], FREED), USE_AFTER_FREE)
    queued = _set(s, c, create_pending=True)
    return If(s.slot[c], used, queued), If(And(s.slot[c], fails), -rc.ENOMEM, 0)


action("alloc", ("cache",), cache_domain,
       "__memcg_kmem_get_cache / memcg_create_cache_enqueue, memcg_charge_kmem (3.8)")(
    (_alloc_guard, _alloc))


@cache
def fill_domain(cfg):
    """A cache and the fill of the slab an object is freed from."""
    return tuple((c, k) for (c,) in cache_domain(cfg) for k in range(1, cfg.objs_per_slab + 1))


def _free_guard(cfg, s, c, k):
    return s.slabs[c][k] > 0


def _free_keep(cfg, s, c, k):
    return _set(s, c, slabs=_moved(s.slabs[c], k, k - 1)), 0


action("free.object", ("cache", "fill"), fill_domain,
       "kmem_cache_free: the slab keeps its pages, even once empty (3.8)")(
    (_free_guard, _free_keep))


def _last_object(cfg, s, c):
    return s.slabs[c][1] > 0


def _free_release(cfg, s, c):
    hist = s.slabs[c]
    return _release(cfg, s, c, replace_at(hist, 1, hist[1] - 1)), 0


action("free.release_pages", ("cache",), cache_domain,
       "kmem_cache_free of a slab's last object; the allocator frees the slab: "
       "kmem_freepages -> memcg_release_pages (3.8)")((_last_object, _free_release))


# ---------------------------------------------------------------- thread stacks


@cache
def task_domain(cfg):
    return tuple((t,) for t in range(cfg.n_tasks))


@cache
def fork_domain(cfg):
    return tuple((t, m) for t in range(cfg.n_tasks) for m in range(1, cfg.n_memcgs))


STACK_BYTES = PAGE_SIZE << THREAD_SIZE_ORDER


def _fork_guard(cfg, s, t, m):
    return And(Eq(s.task_memcg[t], NONE), s.online[m])


def _fork(cfg, s, t, m):
    """copy_process in a task of memcg m: alloc_thread_info_node charges the
    stack (THREADINFO_GFP_ACCOUNTED); over the kmem limit fork fails -ENOMEM."""
    kmem, ok = rc.charge(s.kmem, [(m, True)], STACK_BYTES)
    forked = s._replace(task_memcg=replace_at(s.task_memcg, t, m))
    return If(ok, forked, s)._replace(kmem=kmem), If(ok, 0, -rc.ENOMEM)


action("fork", ("task", "memcg"), fork_domain,
       "copy_process -> dup_task_struct -> alloc_thread_info_node (3.8)")((_fork_guard, _fork))


def _exit_guard(cfg, s, t):
    return And(Not(Eq(s.task_memcg[t], NONE)), Not(s.task_exited[t]))


def _exit(cfg, s, t):
    return s._replace(task_exited=replace_at(s.task_exited, t, True)), 0


action("exit", ("task",), task_domain,
       "do_exit: the task leaves its cgroup; its stack stays charged (3.8)")(
    (_exit_guard, _exit))


def _put_guard(cfg, s, t):
    return s.task_exited[t]


def _put_task_struct(cfg, s, t):
    """free_thread_info -> free_memcg_kmem_pages: the stack is uncharged from the
    memcg it was charged to, online or not."""
    kmem = s.kmem
    for m in range(1, cfg.n_memcgs):
        kmem = If(Eq(s.task_memcg[t], m), rc.uncharge(s.kmem, [(m, True)], STACK_BYTES), kmem)
    return s._replace(kmem=kmem, task_memcg=replace_at(s.task_memcg, t, NONE),
                      task_exited=replace_at(s.task_exited, t, False)), 0


action("put_task_struct", ("task",), task_domain,
       "__put_task_struct -> free_task -> free_thread_info (3.8)")((_put_guard, _put_task_struct))


# ---------------------------------------------------------------- creation work


def _create_guard(cfg, s, c):
    return And(s.create_pending[c], Not(s.half_created[c]))


def _create(cfg, s, c):
    """memcg_create_kmem_cache: re-check the slot under memcg_cache_mutex, then
    create, link and publish. The fixed kernel does not create for a memcg
    that is already offline."""
    m = memcg_of(cfg, c)
    done = _set(s, c, create_pending=False)
    two_steps = cfg.profile == "list_before_slot"
    made = _set(done, c, cache=ALIVE, dead=False, slabs=no_slabs(cfg), work=IDLE,
                requeued=False, listed=True, slot=not two_steps, half_created=two_steps)
    allowed = s.online[m] if cfg.profile != "create_after_offline" else True
    r = root_of(cfg, c)
    # 4.18 marks a root dying before destroying it; before, nothing stopped this
    dying = Eq(s.rdestroy_root, r) if cfg.profile != "create_vs_root_destroy" else False
    fresh = And(Not(s.slot[c]), Not(Eq(s.cache[c], ALIVE)), s.root_alive[r], Not(dying),
                allowed)
    done = _fail(done, Not(s.root_alive[r]), USE_AFTER_FREE)  # reads root->memcg_params
    return If(fresh, made, done), 0


action("create_work.publish", ("cache",), cache_domain,
       "memcg_create_kmem_cache: kmem_cache_dup, list_add, memcg_caches[idx] = new (3.8)")(
    (_create_guard, _create))


def _half_guard(cfg, s, c):
    return s.half_created[c]


def _publish_slot(cfg, s, c):
    return _set(s, c, half_created=False, slot=True), 0


action("create_work.set_slot", ("cache",), cache_domain,
       "list_before_slot: the slot store after memcg_cache_list_add (3.8-3.13)")(
    (_half_guard, _publish_slot))


# ---------------------------------------------------------------- memcg offline


def _offline_start_guard(cfg, s, m):
    sync = Eq(s.rdestroy_root, NONE) if cfg.profile != "offline_vs_root_destroy" else True
    # cgroup_rmdir: -EBUSY while a task is attached (an exited one has left)
    no_tasks = And(*(Not(And(Eq(s.task_memcg[t], m), Not(s.task_exited[t])))
                     for t in range(cfg.n_tasks)))
    return And(s.online[m], Eq(s.offline_memcg, NONE), sync, no_tasks)


def _offline_start(cfg, s, m):
    return s._replace(online=replace_at(s.online, m, False), offline_memcg=m), 0


action("offline.start", ("memcg",), memcg_domain,
       "mem_cgroup_css_offline -> mem_cgroup_destroy_all_caches (3.10)")(
    (_offline_start_guard, _offline_start))


def walking(s: DState, m: int):
    """Offline is walking memcg m's cache list. 3.10 holds slab_caches_mutex for
    the whole walk, so a list_add or list_del of m's caches waits for its end;
    the model lets them interleave with it, which only adds behaviours."""
    return Eq(s.offline_memcg, m)


@cache
def memcg_root_domain(cfg):
    return tuple((m, r) for (m,) in memcg_domain(cfg) for (r,) in root_domain(cfg))


def _offline_mark_guard(cfg, s, m, r):
    return And(walking(s, m), Not(s.offline_done[r]), s.listed[cache_id(cfg, r, m)])


def _offline_mark(cfg, s, m, r):
    """One list entry: c->dead = true; schedule_work(destroy). The list entry
    is turned into a cache through the root's slot (memcg_params_to_cache)."""
    c = cache_id(cfg, r, m)
    marked = _queue_destroy(_set(s, c, dead=True), c)
    step = If(s.slot[c], marked, _fail(s, True, NULL_DEREF))
    return step._replace(offline_done=replace_at(s.offline_done, r, True)), 0


action("offline.mark_dead", ("memcg", "root"), memcg_root_domain,
       "mem_cgroup_destroy_all_caches: dead = true, schedule_work (3.10)")(
    (_offline_mark_guard, _offline_mark))


def _offline_done_guard(cfg, s, m):
    return And(walking(s, m), *(Implies(s.listed[cache_id(cfg, r, m)], s.offline_done[r])
                                for (r,) in root_domain(cfg)))


def _offline_done(cfg, s, m):
    return s._replace(offline_memcg=NONE, offline_done=(False,) * len(cfg.roots)), 0


action("offline.done", ("memcg",), memcg_domain,
       "mem_cgroup_destroy_all_caches unlocks slab_caches_mutex; css_offline returns")(
    (_offline_done_guard, _offline_done))


# ---------------------------------------------------------------- the destroy worker


def _work_guard(state):
    return lambda cfg, s, c: Eq(s.work[c], state)


def _start(cfg, s, c):
    s = _fail(s, Eq(s.cache[c], FREED), USE_AFTER_FREE)
    return _set(s, c, work=RUN_CHECK), 0


action("destroy_work.start", ("cache",), cache_domain,
       "process_one_work: kmem_cache_destroy_work_func begins (3.10)")(
    (_work_guard(PENDING), _start))


def _finish(s: DState, c: int) -> DState:
    """The work function returns; a re-queued item becomes pending again."""
    return _set(s, c, work=If(s.requeued[c], PENDING, IDLE), requeued=False)


def _check(cfg, s, c):
    s = _fail(s, Eq(s.cache[c], FREED), USE_AFTER_FREE)
    return _set(s, c, work=If(Eq(nr_pages(cfg, s, c), 0), RUN_DESTROY, RUN_SHRINK)), 0


action("destroy_work.check", ("cache",), cache_domain,
       "kmem_cache_destroy_work_func: nr_pages != 0 ? shrink : destroy (3.10)")(
    (_work_guard(RUN_CHECK), _check))


def _shrink_in_worker(cfg, s, c):
    """Shrink; at zero pages the release hook has re-queued us, so return."""
    return _finish(_shrink(cfg, s, c), c), 0


action("destroy_work.shrink", ("cache",), cache_domain,
       "kmem_cache_destroy_work_func: kmem_cache_shrink, no retry after FIX7 (3.10)")(
    (_work_guard(RUN_SHRINK), _shrink_in_worker))


def _destroy_guard(cfg, s, c):
    ready = Eq(s.work[c], RUN_DESTROY)
    if cfg.profile == "shrink_frees_last_page":
        return ready
    return And(ready, Not(Eq(s.shrinking, c)))  # kmem_cache_destroy waits out the shrinker


def _destroy(cfg, s, c):
    """The work_struct lives in the cache. If the last page went away while
    this run was in progress, the release hook queued the work again; freeing
    the cache now leaves that queued item in freed memory (3.10 as merged).
    The default profile returns instead, and the queued run destroys."""
    if cfg.profile in ("destroy_while_requeued", "v5_double_destroy"):  # both predate the fix
        return _finish(_kmem_cache_destroy(cfg, s, c), c), 0
    return If(s.requeued[c], _finish(s, c), _finish(_kmem_cache_destroy(cfg, s, c), c)), 0


action("destroy_work.destroy", ("cache",), cache_domain,
       "kmem_cache_destroy_work_func: kmem_cache_destroy(cachep) (3.10)")(
    (_destroy_guard, _destroy))


# ---------------------------------------------------------------- an outside shrinker


def _shrink_guard(cfg, s, c):
    """Only a shrink with an empty slab to release is a step; one with nothing
    to do changes nothing (and, repeated forever, would starve the worker out
    of slab_mutex, which is no kernel behaviour worth a counterexample)."""
    return And(Eq(s.shrinking, NONE), Eq(s.cache[c], ALIVE), s.slot[c], s.slabs[c][0] > 0)


def _shrink_release(cfg, s, c):
    return _shrink(cfg, s, c)._replace(shrinking=c), 0


action("shrink.release", ("cache",), cache_domain,
       "kmem_cache_shrink from outside the worker (vmscan, /sys/kernel/slab)")(
    (_shrink_guard, _shrink_release))


def _shrink_done_guard(cfg, s, c):
    return Eq(s.shrinking, c)


def _shrink_done(cfg, s, c):
    s = _fail(s, Eq(s.cache[c], FREED), USE_AFTER_FREE)
    return s._replace(shrinking=NONE), 0


action("shrink.done", ("cache",), cache_domain,
       "kmem_cache_shrink returns, still touching the cache on the way out")(
    (_shrink_done_guard, _shrink_done))


# ---------------------------------------------------------------- root cache destruction


def _rd_start_guard(cfg, s, r):
    objects_gone = And(*(Eq(objects(s, cache_id(cfg, r, m)), 0) for m in range(1, cfg.n_memcgs)))
    sync = Eq(s.offline_memcg, NONE) if cfg.profile != "offline_vs_root_destroy" else True
    return And(s.root_alive[r], Eq(s.rdestroy_root, NONE), objects_gone, sync)


def _rd_start(cfg, s, r):
    return s._replace(rdestroy_root=r, rdestroy_next=1, rdestroy_step=RD_MARK), 0


action("root_destroy.start", ("root",), root_domain,
       "kmem_cache_destroy(root) -> kmem_cache_destroy_memcg_children (3.8)")(
    (_rd_start_guard, _rd_start))


def _rd_at(step):
    def guard(cfg, s, r):
        return And(Eq(s.rdestroy_root, r), s.rdestroy_next < cfg.n_memcgs,
                   Eq(s.rdestroy_step, step))

    return guard


def _rd_child(cfg, s, r, fn):
    out = s
    for m in range(1, cfg.n_memcgs):
        out = If(Eq(s.rdestroy_next, m), fn(s, cache_id(cfg, r, m)), out)
    return out


def _rd_mark(cfg, s, r):
    """c->dead = false, so the shrink inside destroy cannot re-arm the worker."""
    def mark(s, c):
        return If(s.slot[c], _set(s, c, dead=False), s)

    return _rd_child(cfg, s, r, mark)._replace(rdestroy_step=RD_CANCEL), 0


def _rd_mark_guard(cfg, s, r):
    """Before touching the children, wait for the creation works queued for this
    root (flush_memcg_workqueue, 4.18): none can be queued any more, and each
    finds the root dying."""
    if cfg.profile == "create_vs_root_destroy":
        return _rd_at(RD_MARK)(cfg, s, r)
    flushed = And(*(Not(Or(s.create_pending[c], s.half_created[c]))
                    for c in (cache_id(cfg, r, m) for m in range(1, cfg.n_memcgs))))
    return And(_rd_at(RD_MARK)(cfg, s, r), flushed)


action("root_destroy.clear_dead", ("root",), root_domain,
       "kmem_cache_destroy_memcg_children: c->dead = false (3.8), after "
       "flush_memcg_workqueue (4.18)")((_rd_mark_guard, _rd_mark))


def _rd_cancel(cfg, s, r):
    """cancel_work_sync, first half: try_to_grab_pending takes a queued item off
    the queue; a running one is then waited for (RD_WAIT)."""
    def cancel(s, c):
        if cfg.profile == "root_destroy_no_cancel":
            return s
        w = s.work[c]
        return _set(s, c, work=If(Eq(w, PENDING), IDLE, w), requeued=False)

    def running(c):
        w = s.work[c]
        return Or(Eq(w, RUN_CHECK), Eq(w, RUN_SHRINK), Eq(w, RUN_DESTROY))

    waits = Or(*(And(Eq(s.rdestroy_next, m), running(cache_id(cfg, r, m)))
                 for m in range(1, cfg.n_memcgs)))
    if cfg.profile == "root_destroy_no_cancel":
        waits = False
    return _rd_child(cfg, s, r, cancel)._replace(
        rdestroy_step=If(waits, RD_WAIT, RD_DESTROY)), 0


action("root_destroy.cancel_work", ("root",), root_domain,
       "kmem_cache_destroy_memcg_children: cancel_work_sync -> try_to_grab_pending (3.8)")(
    (_rd_at(RD_CANCEL), _rd_cancel))


def _rd_flush_guard(cfg, s, r):
    """flush_work: the running item has returned."""
    def returned(m):
        w = s.work[cache_id(cfg, r, m)]
        return Implies(Eq(s.rdestroy_next, m), Or(Eq(w, IDLE), Eq(w, PENDING)))

    return And(_rd_at(RD_WAIT)(cfg, s, r), *(returned(m) for m in range(1, cfg.n_memcgs)))


def _rd_flush(cfg, s, r):
    return s._replace(rdestroy_step=RD_DESTROY), 0


action("root_destroy.flush_work", ("root",), root_domain,
       "kmem_cache_destroy_memcg_children: cancel_work_sync -> flush_work (3.8)")(
    (_rd_flush_guard, _rd_flush))


def _rd_destroy(cfg, s, r):
    def destroy(s, c):
        return If(s.slot[c], _kmem_cache_destroy(cfg, s, c), s)

    s2 = _rd_child(cfg, s, r, destroy)
    last = s.rdestroy_next + 1 >= cfg.n_memcgs
    done = s2._replace(root_alive=replace_at(s2.root_alive, r, If(last, False, True)),
                       rdestroy_root=If(last, NONE, r), rdestroy_next=If(last, 0, s.rdestroy_next + 1),
                       rdestroy_step=RD_MARK)
    return done, 0


def _rd_destroy_guard(cfg, s, r):
    """kmem_cache_destroy(c) takes slab_mutex, which an outside shrinker holds."""
    def not_shrinking(m):
        return Implies(Eq(s.rdestroy_next, m), Not(Eq(s.shrinking, cache_id(cfg, r, m))))

    return And(_rd_at(RD_DESTROY)(cfg, s, r),
               *(not_shrinking(m) for m in range(1, cfg.n_memcgs)))


action("root_destroy.destroy_child", ("root",), root_domain,
       "kmem_cache_destroy_memcg_children: kmem_cache_destroy(c) (3.8)")(
    (_rd_destroy_guard, _rd_destroy))


# ---------------------------------------------------------------- invariants


def _all(cfg, fn):
    return And(*(fn(c) for (c,) in cache_domain(cfg)))


@invariant("D1.destroyed_only_when_empty", "a freed cache held no objects and no pages",
           "domain 12 I8; __kmem_cache_shutdown fails with objects")
def destroyed_empty(cfg, s):
    return _all(cfg, lambda c: Implies(Eq(s.cache[c], FREED), Eq(s.slabs[c], no_slabs(cfg))))


@invariant("D2.destroyed_at_most_once", "no cache is passed to kmem_cache_destroy twice",
           "domain 12 I8; R1 (v5), W6")
def at_most_once(cfg, s):
    return Not(Eq(s.error, DOUBLE_DESTROY))


@invariant("D3.no_use_after_destroy", "no step touches a freed cache; nothing refers to one",
           "domain 12 I8; R1, R3, R4, R10")
def no_uaf(cfg, s):
    refs = _all(cfg, lambda c: Implies(Eq(s.cache[c], FREED),
                                       And(Not(s.slot[c]), Not(s.listed[c]),
                                           Eq(s.work[c], IDLE), Not(Eq(s.shrinking, c)))))
    # a creation work holds its root cache (memcg_create_cache_enqueue's cw->cachep)
    roots = _all(cfg, lambda c: Implies(Not(s.root_alive[root_of(cfg, c)]),
                                        And(Not(s.create_pending[c]), Not(s.half_created[c]))))
    return And(Not(Eq(s.error, USE_AFTER_FREE)), refs, roots)


@invariant("D4.no_null_deref", "walking a memcg's cache list never meets an unpublished slot",
           "R5; fixed in 3.14 (96403da24444)")
def no_null(cfg, s):
    return Not(Eq(s.error, NULL_DEREF))


@invariant("D5.slot_agrees_with_list",
           "a cache is published in the root's slot iff it is on its memcg's list iff alive",
           "domain 12 I9 (list insertion and slot store as one step)")
def slot_list(cfg, s):
    def holds(c):
        alive = Eq(s.cache[c], ALIVE)
        # the half-registered window of list_before_slot is D4's to catch
        return And(Eq(s.listed[c], alive), Eq(s.slot[c], And(alive, Not(s.half_created[c]))))

    return _all(cfg, holds)


@invariant("D6.offline_caches_dead",
           "every live cache offline has walked past (or a finished offline left) is dead",
           "R13: a cache created after offline is never destroyed")
def offline_dead(cfg, s):
    def holds(c):
        m, r = memcg_of(cfg, c), root_of(cfg, c)
        finished = And(Not(s.online[m]), Not(Eq(s.offline_memcg, m)))
        passed = And(walking(s, m), s.offline_done[r])
        by_root = Eq(s.rdestroy_root, r)
        return Implies(And(Or(finished, passed), Eq(s.cache[c], ALIVE), Not(by_root)), s.dead[c])

    return _all(cfg, holds)


@invariant("K1.kmem_within_limit", "no memcg's kmem usage exceeds its kmem limit",
           "domain 12 I1; res_counter_charge")
def kmem_within_limit(cfg, s):
    return And(*(s.kmem[m].usage <= s.kmem[m].limit for m in range(cfg.n_memcgs)))


def stack_pages(cfg, s, m):
    """Pages of the thread stacks charged to memcg m (exited tasks' included)."""
    return (1 << THREAD_SIZE_ORDER) * Count(Eq(s.task_memcg[t], m) for t in range(cfg.n_tasks))


@invariant("K2.kmem_is_slabs_and_stacks",
           "a memcg's kmem usage is the pages of its caches' slabs plus its tasks' stacks",
           "domain 12 I4, with no bypassed charge in this slice (memcg_bind_pages, "
           "THREADINFO_GFP_ACCOUNTED)")
def kmem_is_slabs_and_stacks(cfg, s):
    def holds(m):
        pages = Sum(nr_pages(cfg, s, cache_id(cfg, r, m)) for r in range(len(cfg.roots)))
        return Eq(s.kmem[m].usage, PAGE_SIZE * (pages + stack_pages(cfg, s, m)))

    return And(Eq(s.kmem[0].usage, 0), *(holds(m) for m in range(1, cfg.n_memcgs)))


@invariant("T.destruction_ranges", "fields in range; counts non-negative; pages cover objects",
           "model bounds", kind="type")
def ranges(cfg, s):
    def holds(c):
        return And(Or(*(Eq(s.cache[c], v) for v in (NOCACHE, ALIVE, FREED))),
                   Or(*(Eq(s.work[c], v) for v in range(5))),
                   *(n >= 0 for n in s.slabs[c]),
                   Implies(Not(Eq(s.cache[c], ALIVE)), Eq(s.slabs[c], no_slabs(cfg))),
                   Implies(Eq(s.cache[c], NOCACHE),
                           And(Eq(s.work[c], IDLE), Not(s.requeued[c]), Not(s.dead[c]))),
                   Implies(s.requeued[c], Not(Eq(s.work[c], IDLE))),
                   Implies(s.half_created[c], And(Eq(s.cache[c], ALIVE), s.listed[c])))

    nr, nm = len(cfg.roots), cfg.n_memcgs
    threads = And(
        Or(Eq(s.offline_memcg, NONE), *(Eq(s.offline_memcg, m) for m in range(1, nm))),
        Implies(Eq(s.offline_memcg, NONE), Not(Or(*s.offline_done))),
        Or(Eq(s.rdestroy_root, NONE), *(Eq(s.rdestroy_root, r) for r in range(nr))),
        Implies(Eq(s.rdestroy_root, NONE), And(Eq(s.rdestroy_next, 0), Eq(s.rdestroy_step, RD_MARK))),
        Implies(Not(Eq(s.rdestroy_root, NONE)), And(s.rdestroy_next >= 1, s.rdestroy_next < nm)),
        Or(*(Eq(s.rdestroy_step, v) for v in (RD_MARK, RD_CANCEL, RD_DESTROY, RD_WAIT))),
        Or(Eq(s.shrinking, NONE), *(Eq(s.shrinking, c) for (c,) in cache_domain(cfg))),
        Implies(Not(Eq(s.offline_memcg, NONE)),
                And(*(Implies(Eq(s.offline_memcg, m), Not(s.online[m])) for m in range(1, nm)))),
        s.online[0],
    )

    def task(t):
        m = s.task_memcg[t]
        return And(Or(Eq(m, NONE), *(Eq(m, i) for i in range(1, nm))),
                   Implies(s.task_exited[t], Not(Eq(m, NONE))),
                   # rmdir waits for the cgroup's tasks to leave
                   Implies(Not(s.task_exited[t]),
                           And(*(Implies(Eq(m, i), s.online[i]) for i in range(1, nm)))))

    def counter(m):
        k = s.kmem[m]
        return And(k.usage >= 0, k.max_usage >= k.usage, k.failcnt >= 0,
                   Eq(k.limit, cfg.kmem_limit if m else UNLIMITED))

    return And(_all(cfg, holds), threads, Or(*(Eq(s.error, v) for v in range(4))),
               *(task(t) for t in range(cfg.n_tasks)),
               *(counter(m) for m in range(cfg.n_memcgs)))


@invariant("T.destruction_progress",
           "what root destruction has passed is freed, its current child cancelled; "
           "unloading starts with no objects; offline and unloading exclude each other",
           "the loops of mem_cgroup_destroy_all_caches and kmem_cache_destroy_memcg_children",
           kind="type")
def progress(cfg, s):
    def holds(c):
        r, m = root_of(cfg, c), memcg_of(cfg, c)
        by_root = Eq(s.rdestroy_root, r)
        half = True if cfg.profile == "list_before_slot" else Not(s.half_created[c])
        # a child root destruction has passed is gone; the one it cancelled stays idle
        passed = Implies(And(by_root, s.rdestroy_next > m), Not(Eq(s.cache[c], ALIVE)))
        strict = cfg.profile not in ("root_destroy_no_cancel", "offline_vs_root_destroy")
        at = And(by_root, Eq(s.rdestroy_next, m), Eq(s.cache[c], ALIVE))
        cancelled = Implies(And(at, Eq(s.rdestroy_step, RD_DESTROY)),
                            And(Not(s.dead[c]), Eq(s.work[c], IDLE))) if strict else True
        # waiting for the running item: nothing is queued behind it
        waiting = Implies(And(at, Eq(s.rdestroy_step, RD_WAIT)),
                          And(Not(s.dead[c]), Not(Eq(s.work[c], PENDING)),
                              Not(s.requeued[c]))) if strict else True
        dying = Implies(And(Not(s.root_alive[r])), Not(Eq(s.cache[c], ALIVE)))
        # module unload starts with every object freed, and nothing allocates after
        unloading = Implies(by_root, Eq(objects(s, c), 0))
        # flush_memcg_workqueue ran before the first child was touched
        began = Not(And(Eq(s.rdestroy_next, 1), Eq(s.rdestroy_step, RD_MARK)))
        flushed = Implies(And(by_root, began),
                          And(Not(s.create_pending[c]), Not(s.half_created[c]))) \
            if cfg.profile != "create_vs_root_destroy" else True
        cleared = Implies(And(by_root, Eq(s.rdestroy_next, m),
                              Not(Eq(s.rdestroy_step, RD_MARK)), Eq(s.cache[c], ALIVE)),
                          Not(s.dead[c])) if synced else True
        # only offline arms the worker, and nothing allocates from an offline memcg's
        # cache, so the pages the worker saw at its check stay gone
        offline = Implies(Or(s.dead[c], Not(Eq(s.work[c], IDLE))), Not(s.online[m]))
        checked = Implies(Eq(s.work[c], RUN_DESTROY), Eq(Sum(s.slabs[c]), 0))
        return And(half, passed, cancelled, waiting, dying, unloading, cleared, flushed,
                   offline, checked)

    synced = cfg.profile != "offline_vs_root_destroy"
    apart = Not(And(Not(Eq(s.offline_memcg, NONE)), Not(Eq(s.rdestroy_root, NONE))))
    return And(_all(cfg, holds), apart if synced else True)


def dead_empty_caches(cfg: Config, s: DState) -> list[int]:
    """Caches the liveness property is about: dead, alive, holding no page."""
    return [c for (c,) in cache_domain(cfg)
            if s.cache[c] == ALIVE and s.dead[c] and nr_pages(cfg, s, c) == 0]


#: who takes each step, for traces: the action's prefix names the thread
THREADS = {"alloc": "task", "free": "task", "fork": "task", "exit": "task",
           "put_task_struct": "rcu", "create_work": "kworker", "destroy_work": "kworker",
           "offline": "rmdir", "root_destroy": "rmmod", "shrink": "shrink"}

#: worker actions that are weakly fair (the workqueue runs what is queued)
FAIR_ACTIONS = ("destroy_work.start", "destroy_work.check", "destroy_work.shrink",
                "destroy_work.destroy", "create_work.publish", "create_work.set_slot",
                "offline.mark_dead", "offline.done", "shrink.done",
                "root_destroy.clear_dead", "root_destroy.cancel_work",
                "root_destroy.flush_work", "root_destroy.destroy_child")


DESTRUCTION.liveness = (
    LeadsTo(
        "L1.dead_empty_cache_destroyed",
        "a dead cache whose pages reach 0 is eventually destroyed",
        lambda cfg, s: dead_empty_caches(cfg, s),
        lambda cfg, s, c: s.cache[c] == FREED,
        FAIR_ACTIONS,
        "domain 6; P25 (mem_cgroup_destroy_cache), under weak fairness of the workers",
    ),
)
