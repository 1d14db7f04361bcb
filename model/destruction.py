"""The destruction slice: per-memcg slab caches and the races around their end.

State for every (root cache, memcg) pair, the workqueue items that create and
destroy the memcg's cache, and three threads that race with the workers: memcg
offline (``mem_cgroup_destroy_all_caches``), root-cache destruction
(``kmem_cache_destroy_memcg_children``) and an outside shrinker
(``kmem_cache_shrink``). Charging is the accounting slice's business; here a
slab page is just a page the cache holds.

Kernel of record: 3.10 ``mm/memcontrol.c`` and ``mm/slab_common.c`` (domain
sections 5, 6, 13). The default profile closes every race the kernel later
fixed; each historical profile reopens one, citing its upstream fix.

A cache is numbered ``c = root * n_memcgs + memcg``; memcg 0 (the root memcg)
never owns caches.
"""

from __future__ import annotations

from typing import NamedTuple

from model.config import NONE, Config
from model.dual import And, Eq, If, Implies, Not, Or
from model.liveness import LeadsTo
from model.slice import Slice
from model.state import replace_at

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
    #: memcg_params->nr_pages: slab pages the cache holds.
    nr_pages: tuple
    #: allocated objects (one object fills one slab page).
    objects: tuple
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
    #: memcg offline walking its caches: the memcg (NONE when idle), the next root.
    offline_memcg: int
    offline_next: int
    #: root-cache destruction: the root (NONE when idle), the next memcg, its step.
    rdestroy_root: int
    rdestroy_next: int
    rdestroy_step: int
    #: the outside shrinker: the cache it is inside (NONE when idle).
    shrinking: int
    error: int


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


def cache_name(cfg: Config, c: int) -> str:
    """The kernel's name of a memcg cache, root(kmemcg_id:group) (3.8 kmem_cache_dup)."""
    r, m = divmod(c, cfg.n_memcgs)
    return f"{cfg.roots[r]}({m}:{cfg.memcgs[m]})"


def initial(cfg: Config) -> DState:
    n = n_caches(cfg)
    return DState(
        online=(True,) * cfg.n_memcgs, root_alive=(True,) * len(cfg.roots),
        cache=(NOCACHE,) * n, dead=(False,) * n, nr_pages=(0,) * n, objects=(0,) * n,
        work=(IDLE,) * n, requeued=(False,) * n, create_pending=(False,) * n,
        half_created=(False,) * n, slot=(False,) * n, listed=(False,) * n,
        offline_memcg=NONE, offline_next=0, rdestroy_root=NONE, rdestroy_next=0,
        rdestroy_step=RD_MARK, shrinking=NONE, error=OK,
    )


def in_constraint(cfg: Config, s: DState) -> bool:
    """StateConstraint: each cache holds at most cfg.max_pages pages."""
    return all(p <= cfg.max_pages for p in s.nr_pages)


def to_json(cfg: Config, s: DState) -> dict:
    caches = {}
    for c in range(n_caches(cfg)):
        if memcg_of(cfg, c) == 0:
            continue
        caches[cache_name(cfg, c)] = {
            "cache": CACHE[s.cache[c]], "dead": bool(s.dead[c]), "nr_pages": s.nr_pages[c],
            "objects": s.objects[c], "work": WORK[s.work[c]], "requeued": bool(s.requeued[c]),
            "create_pending": bool(s.create_pending[c]), "half_created": bool(s.half_created[c]),
            "slot": bool(s.slot[c]), "listed": bool(s.listed[c]),
        }
    def name(xs, i):
        return None if i == NONE else xs[i] if 0 <= i < len(xs) else i
    return {
        "memcgs": {m: {"online": bool(s.online[i])} for i, m in enumerate(cfg.memcgs)},
        "roots": {r: {"alive": bool(s.root_alive[i])} for i, r in enumerate(cfg.roots)},
        "caches": caches,
        "offline": {"memcg": name(cfg.memcgs, s.offline_memcg), "next_root": s.offline_next},
        "root_destroy": {"root": name(cfg.roots, s.rdestroy_root), "next_memcg": s.rdestroy_next,
                         "step": name(RD_STEPS, s.rdestroy_step)},
        "shrinking": None if s.shrinking == NONE else cache_name(cfg, s.shrinking)
        if 0 <= s.shrinking < n_caches(cfg) else s.shrinking,
        "error": name(ERRORS, s.error),
    }


def from_json(cfg: Config, d: dict) -> DState:
    """The inverse of :func:`to_json` (for implementations' snapshots)."""
    n = n_caches(cfg)
    cs = [d["caches"].get(cache_name(cfg, c)) if memcg_of(cfg, c) else None for c in range(n)]
    blank = {"cache": "none", "dead": False, "nr_pages": 0, "objects": 0, "work": "idle",
             "requeued": False, "create_pending": False, "half_created": False, "slot": False,
             "listed": False}
    cs = [x or blank for x in cs]

    def idx(xs, v):
        return NONE if v is None else xs.index(v)

    rd = d["root_destroy"]
    return DState(
        online=tuple(bool(d["memcgs"][m]["online"]) for m in cfg.memcgs),
        root_alive=tuple(bool(d["roots"][r]["alive"]) for r in cfg.roots),
        cache=tuple(CACHE.index(x["cache"]) for x in cs),
        dead=tuple(bool(x["dead"]) for x in cs),
        nr_pages=tuple(int(x["nr_pages"]) for x in cs),
        objects=tuple(int(x["objects"]) for x in cs),
        work=tuple(WORK.index(x["work"]) for x in cs),
        requeued=tuple(bool(x["requeued"]) for x in cs),
        create_pending=tuple(bool(x["create_pending"]) for x in cs),
        half_created=tuple(bool(x["half_created"]) for x in cs),
        slot=tuple(bool(x["slot"]) for x in cs),
        listed=tuple(bool(x["listed"]) for x in cs),
        offline_memcg=idx(cfg.memcgs, d["offline"]["memcg"]),
        offline_next=int(d["offline"]["next_root"]),
        rdestroy_root=idx(cfg.roots, rd["root"]),
        rdestroy_next=int(rd["next_memcg"]),
        rdestroy_step=RD_STEPS.index(rd["step"]),
        shrinking=NONE if d["shrinking"] is None else next(
            c for c in range(n) if memcg_of(cfg, c) and cache_name(cfg, c) == d["shrinking"]),
        error=ERRORS.index(d["error"]),
    )


def expect_proc_slabinfo(cfg: Config, s: DState) -> str:
    """What /proc/slabinfo shows: each live root with its children's counts."""
    lines = ["# name <active_objs> <num_objs>"]
    for r, root in enumerate(cfg.roots):
        if not s.root_alive[r]:
            continue
        live = [cache_id(cfg, r, m) for m in range(1, cfg.n_memcgs)
                if s.slot[cache_id(cfg, r, m)]]
        lines.append(f"{root} {sum(s.objects[c] for c in live)} "
                     f"{sum(s.nr_pages[c] for c in live)}")
    return "\n".join(lines) + "\n"


def expect_memcg_slabinfo(cfg: Config, s: DState, m: int) -> str | None:
    """What memory.kmem.slabinfo of memcg ``m`` shows; None where reading it would
    walk into a half-registered cache (list_before_slot)."""
    if not s.online[m]:
        return None
    lines = ["# name <active_objs> <num_objs>"]
    for r, root in enumerate(cfg.roots):
        c = cache_id(cfg, r, m)
        if s.listed[c]:
            if not s.slot[c]:
                return None
            lines.append(f"{root} {s.objects[c]} {s.nr_pages[c]}")
    return "\n".join(lines) + "\n"


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


def _release_empty(cfg, s: DState, c: int) -> DState:
    """Release every empty slab (kmem_cache_shrink); the release hook
    (memcg_release_pages) calls mem_cgroup_destroy_cache at zero pages."""
    emptied = And(s.nr_pages[c] > 0, Eq(s.objects[c], 0))
    s2 = _set(s, c, nr_pages=s.objects[c])
    return If(emptied, _destroy_cache(cfg, s2, c), s2)


def _kmem_cache_destroy(cfg, s: DState, c: int) -> DState:
    """kmem_cache_destroy(c): frees an empty cache and its slot and list entry;
    a cache with objects survives ("Slab cache still has objects")."""
    s = _fail(s, Eq(s.cache[c], FREED), DOUBLE_DESTROY)
    empty = Eq(s.objects[c], 0)
    freed = _set(s, c, cache=FREED, nr_pages=0, slot=False, listed=False)
    return If(And(empty, Eq(s.cache[c], ALIVE)), freed, s)


def cache_domain(cfg):
    return [(c,) for c in range(n_caches(cfg)) if memcg_of(cfg, c) != 0]


def memcg_domain(cfg):
    return [(m,) for m in range(1, cfg.n_memcgs)]


def root_domain(cfg):
    return [(r,) for r in range(len(cfg.roots))]


# ---------------------------------------------------------------- allocation and free


def _alloc_guard(cfg, s, c):
    r = root_of(cfg, c)
    return And(s.online[memcg_of(cfg, c)], s.root_alive[r], Not(Eq(s.rdestroy_root, r)))


def _alloc(cfg, s, c):
    """kmem_cache_alloc by a task of the memcg: its cache if published, else
    queue the creation and serve this object from the root cache."""
    has = s.slot[c]
    new_slab = s.objects[c] >= s.nr_pages[c]
    used = _set(s, c, objects=s.objects[c] + 1,
                nr_pages=If(new_slab, s.nr_pages[c] + 1, s.nr_pages[c]))
    used = _fail(used, Eq(s.cache[c], FREED), USE_AFTER_FREE)
    queued = _set(s, c, create_pending=True)
    return If(has, used, queued), 0


action("alloc", ("cache",), cache_domain,
       "__memcg_kmem_get_cache / memcg_create_cache_enqueue (3.8)")((_alloc_guard, _alloc))


def _has_objects(cfg, s, c):
    return s.objects[c] > 0


def _free_keep(cfg, s, c):
    return _set(s, c, objects=s.objects[c] - 1), 0


action("free.object", ("cache",), cache_domain,
       "kmem_cache_free: the slab keeps its page (3.8)")((_has_objects, _free_keep))


def _free_release(cfg, s, c):
    s = _set(s, c, objects=s.objects[c] - 1)
    return _release_empty(cfg, s, c), 0


action("free.release_pages", ("cache",), cache_domain,
       "kmem_cache_free releasing the emptied slab: memcg_release_pages (3.8)")(
    (_has_objects, _free_release))


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
    made = _set(done, c, cache=ALIVE, dead=False, nr_pages=0, objects=0, work=IDLE,
                requeued=False, listed=True, slot=not two_steps, half_created=two_steps)
    allowed = s.online[m] if cfg.profile != "create_after_offline" else True
    r = root_of(cfg, c)
    fresh = And(Not(s.slot[c]), Not(Eq(s.cache[c], ALIVE)), s.root_alive[r],
                Not(Eq(s.rdestroy_root, r)), allowed)
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
    return And(s.online[m], Eq(s.offline_memcg, NONE), sync)


def _offline_start(cfg, s, m):
    return s._replace(online=replace_at(s.online, m, False), offline_memcg=m, offline_next=0), 0


action("offline.start", ("memcg",), memcg_domain,
       "mem_cgroup_css_offline -> mem_cgroup_destroy_all_caches (3.10)")(
    (_offline_start_guard, _offline_start))


def _offline_mark_guard(cfg, s, m):
    return And(Eq(s.offline_memcg, m), s.offline_next < len(cfg.roots))


def _offline_mark(cfg, s, m):
    """One list entry: c->dead = true; schedule_work(destroy). The list entry
    is turned into a cache through the root's slot (memcg_params_to_cache)."""
    out = s
    for r in range(len(cfg.roots)):
        c = cache_id(cfg, r, m)
        at = Eq(s.offline_next, r)
        null = And(s.listed[c], Not(s.slot[c]))
        marked = _queue_destroy(_set(s, c, dead=True), c)
        step = If(s.listed[c], If(null, _fail(s, True, NULL_DEREF), marked), s)
        out = If(at, step, out)
    return out._replace(offline_next=s.offline_next + 1), 0


action("offline.mark_dead", ("memcg",), memcg_domain,
       "mem_cgroup_destroy_all_caches: dead = true, schedule_work (3.10)")(
    (_offline_mark_guard, _offline_mark))


def _offline_done_guard(cfg, s, m):
    return And(Eq(s.offline_memcg, m), s.offline_next >= len(cfg.roots))


def _offline_done(cfg, s, m):
    return s._replace(offline_memcg=NONE, offline_next=0), 0


action("offline.done", ("memcg",), memcg_domain, "mem_cgroup_css_offline returns")(
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
    return _set(s, c, work=If(Eq(s.nr_pages[c], 0), RUN_DESTROY, RUN_SHRINK)), 0


action("destroy_work.check", ("cache",), cache_domain,
       "kmem_cache_destroy_work_func: nr_pages != 0 ? shrink : destroy (3.10)")(
    (_work_guard(RUN_CHECK), _check))


def _shrink_in_worker(cfg, s, c):
    """Shrink; at zero pages the release hook has re-queued us, so return."""
    s = _release_empty(cfg, s, c)
    return _finish(s, c), 0


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
    return And(Eq(s.shrinking, NONE), Eq(s.cache[c], ALIVE), s.slot[c],
               s.nr_pages[c] > s.objects[c])


def _shrink_release(cfg, s, c):
    return _release_empty(cfg, s, c)._replace(shrinking=c), 0


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
    objects_gone = And(*(Eq(s.objects[cache_id(cfg, r, m)], 0) for m in range(1, cfg.n_memcgs)))
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


action("root_destroy.clear_dead", ("root",), root_domain,
       "kmem_cache_destroy_memcg_children: c->dead = false (3.8)")((_rd_at(RD_MARK), _rd_mark))


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
    return _all(cfg, lambda c: Implies(Eq(s.cache[c], FREED),
                                       And(Eq(s.objects[c], 0), Eq(s.nr_pages[c], 0))))


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
    return And(Not(Eq(s.error, USE_AFTER_FREE)), refs)


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
        passed = And(Eq(s.offline_memcg, m), s.offline_next > r)
        by_root = Eq(s.rdestroy_root, r)
        return Implies(And(Or(finished, passed), Eq(s.cache[c], ALIVE), Not(by_root)), s.dead[c])

    return _all(cfg, holds)


@invariant("T.destruction_ranges", "fields in range; counts non-negative; pages cover objects",
           "model bounds", kind="type")
def ranges(cfg, s):
    def holds(c):
        return And(Or(*(Eq(s.cache[c], v) for v in (NOCACHE, ALIVE, FREED))),
                   Or(*(Eq(s.work[c], v) for v in range(5))),
                   s.objects[c] >= 0, s.nr_pages[c] >= s.objects[c],
                   Implies(Not(Eq(s.cache[c], ALIVE)),
                           And(Eq(s.objects[c], 0), Eq(s.nr_pages[c], 0))),
                   Implies(Eq(s.cache[c], NOCACHE),
                           And(Eq(s.work[c], IDLE), Not(s.requeued[c]), Not(s.dead[c]))),
                   Implies(s.requeued[c], Not(Eq(s.work[c], IDLE))),
                   Implies(s.half_created[c], And(Eq(s.cache[c], ALIVE), s.listed[c])))

    nr, nm = len(cfg.roots), cfg.n_memcgs
    threads = And(
        Or(Eq(s.offline_memcg, NONE), *(Eq(s.offline_memcg, m) for m in range(1, nm))),
        s.offline_next >= 0, s.offline_next <= nr,
        Implies(Eq(s.offline_memcg, NONE), Eq(s.offline_next, 0)),
        Or(Eq(s.rdestroy_root, NONE), *(Eq(s.rdestroy_root, r) for r in range(nr))),
        Implies(Eq(s.rdestroy_root, NONE), And(Eq(s.rdestroy_next, 0), Eq(s.rdestroy_step, RD_MARK))),
        Implies(Not(Eq(s.rdestroy_root, NONE)), And(s.rdestroy_next >= 1, s.rdestroy_next < nm)),
        Or(*(Eq(s.rdestroy_step, v) for v in (RD_MARK, RD_CANCEL, RD_DESTROY, RD_WAIT))),
        Or(Eq(s.shrinking, NONE), *(Eq(s.shrinking, c) for (c,) in cache_domain(cfg))),
        Implies(Not(Eq(s.offline_memcg, NONE)),
                And(*(Implies(Eq(s.offline_memcg, m), Not(s.online[m])) for m in range(1, nm)))),
        s.online[0],
    )
    return And(_all(cfg, holds), threads, Or(*(Eq(s.error, v) for v in range(4))))


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
        unloading = Implies(by_root, Eq(s.objects[c], 0))
        cleared = Implies(And(by_root, Eq(s.rdestroy_next, m),
                              Not(Eq(s.rdestroy_step, RD_MARK)), Eq(s.cache[c], ALIVE)),
                          Not(s.dead[c])) if synced else True
        return And(half, passed, cancelled, waiting, dying, unloading, cleared)

    synced = cfg.profile != "offline_vs_root_destroy"
    apart = Not(And(Not(Eq(s.offline_memcg, NONE)), Not(Eq(s.rdestroy_root, NONE))))
    return And(_all(cfg, holds), apart if synced else True)


def dead_empty_caches(cfg: Config, s: DState) -> list[int]:
    """Caches the liveness property is about: dead, alive, holding no page."""
    return [c for (c,) in cache_domain(cfg)
            if s.cache[c] == ALIVE and s.dead[c] and s.nr_pages[c] == 0]


#: who takes each step, for traces: the action's prefix names the thread
THREADS = {"alloc": "task", "free": "task", "create_work": "kworker", "destroy_work": "kworker",
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
