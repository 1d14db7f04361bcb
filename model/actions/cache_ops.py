"""What the paths do to a cache: the kernel functions several of them call.

schedule_work on the destroy work_struct, the last page's release hook, giving
slabs back to the page allocator (uncharging them), kmem_cache_shrink and
kmem_cache_destroy, and recording the first error a step makes (touching a
freed cache, destroying one twice). Kernel of record: 3.10 ``mm/memcontrol.c``
and ``mm/slab_common.c`` (domain sections 5, 6).
"""

from __future__ import annotations

from kmemcg.model.actions.kmem import memcg_uncharge_kmem
from kmemcg.model.config import PAGE_SIZE
from kmemcg.model.dual import And, Eq, If, Not, Or, Sum
from kmemcg.model.state import (
    ALIVE,
    DOUBLE_DESTROY,
    FREED,
    OK,
    PENDING,
    RUN_CHECK,
    RUN_DESTROY,
    RUN_SHRINK,
    USE_AFTER_FREE,
    WORK_IDLE,
    State,
    memcg_of,
    objects,
    replace_at,
    root_own,
    slab_pages,
)


def set_cache(s: State, c: int, **fields) -> State:
    return s._replace(**{k: replace_at(getattr(s, k), c, v) for k, v in fields.items()})


def record_error(s: State, when, code) -> State:
    """Record the first error: an action that touches freed memory, say."""
    return s._replace(error=If(And(when, Eq(s.error, OK)), code, s.error))


def running(w):
    """The work item is executing, at any of its steps (not pending)."""
    return Or(Eq(w, RUN_CHECK), Eq(w, RUN_SHRINK), Eq(w, RUN_DESTROY))


def queue_destroy(s: State, c: int, *, reinit: bool = False) -> State:
    """schedule_work(&cachep->memcg_params->destroy): a no-op while pending; a
    running item is queued again. ``reinit`` is v5's INIT_WORK on a pending
    item, after which it runs twice."""
    w = s.work[c]
    again = Or(running(w), Eq(w, PENDING)) if reinit else running(w)
    s = record_error(s, Eq(s.cache[c], FREED), USE_AFTER_FREE)
    s = set_cache(s, c, requeued=Or(s.requeued[c], again))
    return set_cache(s, c, work=If(Eq(w, WORK_IDLE), PENDING, w))


def mem_cgroup_destroy_cache(cfg, s: State, c: int) -> State:
    """mem_cgroup_destroy_cache: the last page is gone; destroy a dead cache
    later, unless its destruction is already queued (the v6 fix)."""
    if not cfg.has_fix("last_page_schedules_destroy"):
        return s
    if not cfg.has_fix("destroy_skips_pending"):
        return If(s.dead[c], queue_destroy(s, c, reinit=True), s)
    pending = Eq(s.work[c], PENDING)
    return If(And(s.dead[c], Not(pending)), queue_destroy(s, c), s)


def root_serve(cfg, s: State, r: int) -> State:
    """Root cache ``r`` serves an object itself (kept on its own slabs,
    root_own): a partial slab, else an empty one, else a new slab, whose pages
    are not charged (a root cache has no __GFP_KMEMCG). Which partial slab the
    allocator's list yields is not kept; the model takes the fullest, and so
    does the reference (only with three objects a slab or more can it matter)."""
    c = root_own(cfg, r)
    hist = s.slabs[c]

    def moved(frm, to):
        out = replace_at(hist, frm, hist[frm] - 1)
        return replace_at(out, to, out[to] + 1)

    grown = If(hist[0] > 0, moved(0, 1), replace_at(hist, 1, hist[1] + 1))
    for k in range(1, cfg.objs_per_slab):  # the fullest partial slab wins
        grown = If(hist[k] > 0, moved(k, k + 1), grown)
    return set_cache(s, c, slabs=grown)


def release_slabs(cfg, s: State, c: int, hist: tuple) -> State:
    """Give the slabs missing from ``hist`` back to the page allocator: each is
    uncharged from the cache's memcg (__memcg_kmem_uncharge_pages), and the
    release hook (memcg_release_pages) calls mem_cgroup_destroy_cache when the
    cache's last page goes. A root cache's own slabs (root_own) were never
    charged and have no hook (is_root_cache): they just go."""
    if memcg_of(cfg, c) == 0:
        return set_cache(s, c, slabs=hist)
    gone = Sum(s.slabs[c]) - Sum(hist)
    s2 = memcg_uncharge_kmem(cfg, set_cache(s, c, slabs=hist), memcg_of(cfg, c),
                             gone * slab_pages(cfg) * PAGE_SIZE)
    emptied = And(gone > 0, Eq(Sum(hist), 0))
    return If(emptied, mem_cgroup_destroy_cache(cfg, s2, c), s2)


def kmem_cache_shrink(cfg, s: State, c: int) -> State:
    """__kmem_cache_shrink: release every empty slab."""
    return release_slabs(cfg, s, c, (0, *s.slabs[c][1:]))


def kmem_cache_destroy(cfg, s: State, c: int) -> State:
    """kmem_cache_destroy(c): __kmem_cache_shutdown releases the empty slabs
    (uncharging them), then the cache is freed with its slot and list entry; a
    cache with objects survives, its empty slabs gone all the same ("Slab cache
    still has objects")."""
    s = record_error(s, Eq(s.cache[c], FREED), DOUBLE_DESTROY)
    shut = kmem_cache_shrink(cfg, s, c)
    freed = set_cache(shut, c, cache=FREED, slot=False, listed=False)
    return If(Eq(s.cache[c], ALIVE), If(Eq(objects(s, c), 0), freed, shut), s)
