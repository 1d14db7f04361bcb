"""Invariants of the caches' lifecycle, and its liveness property.

D: a cache is destroyed only once emptied, at most once, and never touched
after; offline marks every cache it has walked dead. T: the structural facts
of the walks that induction needs. L1: a dead cache emptied of pages is
eventually destroyed, under weak fairness of the workers.
"""

from __future__ import annotations

from kmemcg.model import domains
from kmemcg.model.config import NONE, Config
from kmemcg.model.core import Invariants, LeadsTo
from kmemcg.model.dual import And, Eq, Implies, Not, Or, Sum
from kmemcg.model.facts import walking
from kmemcg.model.state import (
    ALIVE,
    DOUBLE_DESTROY,
    FREED,
    NOCACHE,
    NULL_DEREF,
    OFFLINE,
    ONLINE,
    PENDING,
    RD_CANCEL,
    RD_DESTROY,
    RD_MARK,
    RD_WAIT,
    RUN_DESTROY,
    USE_AFTER_FREE,
    WORK_IDLE,
    State,
    memcg_of,
    no_slabs,
    nr_pages,
    objects,
    root_of,
    root_own,
)

INVARIANTS = Invariants()


def _all(cfg, fn):
    return And(*(fn(c) for (c,) in domains.caches(cfg)))


@INVARIANTS.add("D1.destroyed_only_when_empty", "a freed cache held no objects and no pages",
           "domain 12 I8; __kmem_cache_shutdown fails with objects")
def destroyed_empty(cfg, s):
    return _all(cfg, lambda c: Implies(Eq(s.cache[c], FREED), Eq(s.slabs[c], no_slabs(cfg))))


@INVARIANTS.add("D2.destroyed_at_most_once", "no cache is passed to kmem_cache_destroy twice",
           "domain 12 I8; R1 (v5), W6")
def at_most_once(cfg, s):
    return Not(Eq(s.error, DOUBLE_DESTROY))


@INVARIANTS.add("D3.no_use_after_destroy", "no step touches a freed cache; nothing refers to one",
           "domain 12 I8; R1, R3, R4, R10")
def no_uaf(cfg, s):
    refs = _all(cfg, lambda c: Implies(Eq(s.cache[c], FREED),
                                       And(Not(s.slot[c]), Not(s.listed[c]),
                                           Eq(s.work[c], WORK_IDLE), Not(Eq(s.shrinking, c)))))
    # a creation work holds its root cache (memcg_create_cache_enqueue's cw->cachep)
    roots = _all(cfg, lambda c: Implies(Not(s.root_alive[root_of(cfg, c)]),
                                        And(Not(s.create_pending[c]), Not(s.half_created[c]))))
    return And(Not(Eq(s.error, USE_AFTER_FREE)), refs, roots)


@INVARIANTS.add("D4.no_null_deref", "walking a memcg's cache list never meets an unpublished slot",
           "R5; fixed in 3.14 (96403da24444)")
def no_null(cfg, s):
    return Not(Eq(s.error, NULL_DEREF))


@INVARIANTS.add("D5.slot_agrees_with_list",
           "a cache is published in the root's slot iff it is on its memcg's list iff alive",
           "domain 12 I9 (list insertion and slot store as one step)")
def slot_list(cfg, s):
    def holds(c):
        alive = Eq(s.cache[c], ALIVE)
        # the half-registered window of list_before_slot is D4's to catch
        return And(Eq(s.listed[c], alive), Eq(s.slot[c], And(alive, Not(s.half_created[c]))))

    return _all(cfg, holds)


@INVARIANTS.add("D6.offline_caches_dead",
           "every live cache offline has walked past (or a finished offline left) is dead",
           "R13: a cache created after offline is never destroyed")
def offline_dead(cfg, s):
    def holds(c):
        m, r = memcg_of(cfg, c), root_of(cfg, c)
        finished = And(Not(Eq(s.lifecycle[m], ONLINE)), Not(Eq(s.offline_memcg, m)))
        passed = And(walking(s, m), s.offline_done[r])
        by_root = Eq(s.rdestroy_root, r)
        return Implies(And(Or(finished, passed), Eq(s.cache[c], ALIVE), Not(by_root)), s.dead[c])

    return _all(cfg, holds)


@INVARIANTS.add("D7.root_own_slabs",
           "a root cache's own slabs (the objects it serves itself) exist only while it "
           "is loaded and not being destroyed, and only in a scope that keeps them "
           "(root_objects)",
           "3.8 kmem_cache_destroy: __kmem_cache_shutdown; is_root_cache pages carry no "
           "__GFP_KMEMCG (their charge is I-counters' to check)")
def root_own_slabs(cfg, s):
    def holds(r):
        h = s.slabs[root_own(cfg, r)]
        gone = Or(Not(s.root_alive[r]), Eq(s.rdestroy_root, r))
        kept = Implies(gone, Eq(h, no_slabs(cfg))) if cfg.root_objects \
            else Eq(h, no_slabs(cfg))
        return And(kept, *(n >= 0 for n in h))

    return And(*(holds(r) for r in range(len(cfg.roots))))


@INVARIANTS.add("T.destruction_ranges",
           "cache fields in range; slab counts non-negative and zero unless alive; the "
           "walks' indices in range", "model bounds", kind="type")
def ranges(cfg, s):
    def holds(c):
        return And(Or(*(Eq(s.cache[c], v) for v in (NOCACHE, ALIVE, FREED))),
                   Or(*(Eq(s.work[c], v) for v in range(5))),
                   *(n >= 0 for n in s.slabs[c]),
                   Implies(Not(Eq(s.cache[c], ALIVE)), Eq(s.slabs[c], no_slabs(cfg))),
                   Implies(Eq(s.cache[c], NOCACHE),
                           And(Eq(s.work[c], WORK_IDLE), Not(s.requeued[c]), Not(s.dead[c]))),
                   Implies(s.requeued[c], Not(Eq(s.work[c], WORK_IDLE))),
                   Implies(s.half_created[c], And(Eq(s.cache[c], ALIVE), s.listed[c])))

    nr, nm = len(cfg.roots), cfg.n_memcgs
    threads = And(
        Or(Eq(s.offline_memcg, NONE), *(Eq(s.offline_memcg, m) for m in range(1, nm))),
        Implies(Eq(s.offline_memcg, NONE), Not(Or(*s.offline_done))),
        Or(Eq(s.rdestroy_root, NONE), *(Eq(s.rdestroy_root, r) for r in range(nr))),
        Implies(Eq(s.rdestroy_root, NONE), And(Eq(s.rdestroy_next, 0), Eq(s.rdestroy_step, RD_MARK))),
        Implies(Not(Eq(s.rdestroy_root, NONE)), And(s.rdestroy_next >= 1, s.rdestroy_next < nm)),
        Or(*(Eq(s.rdestroy_step, v) for v in (RD_MARK, RD_CANCEL, RD_DESTROY, RD_WAIT))),
        Or(Eq(s.shrinking, NONE), *(Eq(s.shrinking, c) for (c,) in domains.caches(cfg))),
        Implies(Not(Eq(s.offline_memcg, NONE)),
                And(*(Implies(Eq(s.offline_memcg, m), Eq(s.lifecycle[m], OFFLINE))
                     for m in range(1, nm)))),
        Eq(s.lifecycle[0], ONLINE),
    )

    return And(_all(cfg, holds), threads, Or(*(Eq(s.error, v) for v in range(4))))


@INVARIANTS.add("T.destruction_progress",
           "what root destruction has passed is freed, its current child cancelled, its "
           "creation works flushed; unloading starts with no objects; offline and unloading "
           "exclude each other; only offline arms the worker, which destroys with no page",
           "the loops of mem_cgroup_destroy_all_caches and kmem_cache_destroy_memcg_children",
           kind="type")
def progress(cfg, s):
    synced = cfg.has_fix("offline_excludes_root_destroy")

    def holds(c):
        r, m = root_of(cfg, c), memcg_of(cfg, c)
        by_root = Eq(s.rdestroy_root, r)
        half = Not(s.half_created[c]) if cfg.has_fix("slot_before_list") else True
        # a child root destruction has passed is gone; the one it cancelled stays idle
        passed = Implies(And(by_root, s.rdestroy_next > m), Not(Eq(s.cache[c], ALIVE)))
        strict = cfg.has_fix("root_destroy_cancels_work") and synced
        at = And(by_root, Eq(s.rdestroy_next, m), Eq(s.cache[c], ALIVE))
        cancelled = Implies(And(at, Eq(s.rdestroy_step, RD_DESTROY)),
                            And(Not(s.dead[c]), Eq(s.work[c], WORK_IDLE))) if strict else True
        # waiting for the running item: nothing is queued behind it
        waiting = Implies(And(at, Eq(s.rdestroy_step, RD_WAIT)),
                          And(Not(s.dead[c]), Not(Eq(s.work[c], PENDING)),
                              Not(s.requeued[c]))) if strict else True
        dying = Implies(Not(s.root_alive[r]), Not(Eq(s.cache[c], ALIVE)))
        # module unload starts with every object freed, and nothing allocates after
        unloading = Implies(by_root, Eq(objects(s, c), 0))
        # flush_memcg_workqueue ran before the first child was touched
        began = Not(And(Eq(s.rdestroy_next, 1), Eq(s.rdestroy_step, RD_MARK)))
        flushed = Implies(And(by_root, began),
                          And(Not(s.create_pending[c]), Not(s.half_created[c]))) \
            if cfg.has_fix("root_dying_flush") else True
        cleared = Implies(And(by_root, Eq(s.rdestroy_next, m),
                              Not(Eq(s.rdestroy_step, RD_MARK)), Eq(s.cache[c], ALIVE)),
                          Not(s.dead[c])) if synced else True
        # only offline arms the worker, and nothing allocates from an offline memcg's
        # cache, so the pages the worker saw at its check stay gone
        offline = Implies(Or(s.dead[c], Not(Eq(s.work[c], WORK_IDLE))), Not(Eq(s.lifecycle[m], ONLINE)))
        checked = Implies(Eq(s.work[c], RUN_DESTROY), Eq(Sum(s.slabs[c]), 0))
        return And(half, passed, cancelled, waiting, dying, unloading, cleared, flushed,
                   offline, checked)

    apart = Not(And(Not(Eq(s.offline_memcg, NONE)), Not(Eq(s.rdestroy_root, NONE))))
    return And(_all(cfg, holds), apart if synced else True)


def dead_empty_caches(cfg: Config, s: State) -> list[int]:
    """Caches the liveness property is about: dead, alive, holding no page."""
    return [c for (c,) in domains.caches(cfg)
            if s.cache[c] == ALIVE and s.dead[c] and nr_pages(cfg, s, c) == 0]


#: the actions that are weakly fair: the workqueue runs what is queued, and
#: the walks, once begun, go on
FAIR_ACTIONS = ("destroy_work.start", "destroy_work.check", "destroy_work.shrink",
                "destroy_work.destroy", "create_work.publish", "create_work.set_slot",
                "offline.mark_dead", "offline.done", "shrink.done",
                "root_destroy.clear_dead", "root_destroy.cancel_work",
                "root_destroy.flush_work", "root_destroy.destroy_child")


LIVENESS = (
    LeadsTo(
        "L1.dead_empty_cache_destroyed",
        "a dead cache whose pages reach 0 is eventually destroyed",
        lambda cfg, s: dead_empty_caches(cfg, s),
        lambda cfg, s, c: s.cache[c] == FREED,
        FAIR_ACTIONS,
        "domain 6; P25 (mem_cgroup_destroy_cache), under weak fairness of the workers",
        applies=lambda cfg: bool(cfg.roots),
    ),
)
