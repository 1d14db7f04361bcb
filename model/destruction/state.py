"""The destruction slice's state: caches, their slabs, the walking threads.

The slice object (``DESTRUCTION``) and its profiles, the state (``DState``),
its numbering (a cache is ``c = root * n_memcgs + memcg``; memcg 0, the root
memcg, never owns caches), the parameter domains, the slab geometry (a slab is
``2**slab_order`` pages of ``objs_per_slab`` objects), and the readable JSON
and slabinfo renderings.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

from kmemcg.model.config import NONE, UNLIMITED, Config
from kmemcg.model.dual import Eq, Sum
from kmemcg.model.slice import Slice
from kmemcg.model.state import Counter, counter_from_json, counter_json

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
    #: The list is newest first (list_add), and the state forgets creation order: any
    #: order is possible.
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
            if x is blank or x.get(key) == want:
                continue
            got = f"is {x[key]}" if key in x else "is missing"
            raise ValueError(f"{cache_name(cfg, c)}: {key} {got} but its slabs "
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


@cache
def cache_domain(cfg):
    return tuple((c,) for c in range(n_caches(cfg)) if memcg_of(cfg, c) != 0)


@cache
def memcg_domain(cfg):
    return tuple((m,) for m in range(1, cfg.n_memcgs))


@cache
def root_domain(cfg):
    return tuple((r,) for r in range(len(cfg.roots)))


@cache
def fill_domain(cfg):
    """A cache and the fill of the slab an object is freed from."""
    return tuple((c, k) for (c,) in cache_domain(cfg) for k in range(1, cfg.objs_per_slab + 1))


@cache
def partial_domain(cfg):
    """A cache and the fill of a partial slab an object may go to."""
    return tuple((c, k) for (c,) in cache_domain(cfg) for k in range(1, cfg.objs_per_slab))


@cache
def task_domain(cfg):
    return tuple((t,) for t in range(cfg.n_tasks))


@cache
def fork_domain(cfg):
    return tuple((t, m) for t in range(cfg.n_tasks) for m in range(1, cfg.n_memcgs))


def walking(s: DState, m: int):
    """Offline is walking memcg m's cache list. 3.10 holds slab_caches_mutex for
    the whole walk, so a list_add or list_del of m's caches waits for its end;
    the model lets them interleave with it, which only adds behaviours."""
    return Eq(s.offline_memcg, m)


@cache
def memcg_root_domain(cfg):
    return tuple((m, r) for (m,) in memcg_domain(cfg) for (r,) in root_domain(cfg))


DESTRUCTION.initial = initial
DESTRUCTION.in_constraint = in_constraint
DESTRUCTION.to_json = to_json
