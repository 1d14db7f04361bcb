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


def release_slabs(cfg, s: State, c: int, hist: tuple) -> State:
    """Give the slabs missing from ``hist`` back to the page allocator: each is
    uncharged from the cache's memcg (__memcg_kmem_uncharge_pages), and the
    release hook (memcg_release_pages) calls mem_cgroup_destroy_cache when the
    cache's last page goes."""
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
