"""The workqueue's items: a cache's creation work and its destroy work.

memcg_create_cache_enqueue queues the creation of a (root, memcg) cache; the
worker re-checks, creates, links and publishes it. A dead cache's destroy
work_struct (living in the cache) shrinks it and destroys it once it holds no
page. Kernel of record: 3.8-3.10 ``mm/memcontrol.c`` (domain sections 5, 6, 13).
"""

from __future__ import annotations

from kmemcg.model import domains
from kmemcg.model.actions.cache_ops import (
    kmem_cache_destroy,
    kmem_cache_shrink,
    record_error,
    set_cache,
)
from kmemcg.model.core import Actions
from kmemcg.model.dual import And, Eq, If, Not
from kmemcg.model.state import (
    ALIVE,
    FREED,
    ONLINE,
    PENDING,
    RUN_CHECK,
    RUN_DESTROY,
    RUN_SHRINK,
    USE_AFTER_FREE,
    WORK_IDLE,
    State,
    memcg_of,
    no_slabs,
    nr_pages,
    root_of,
)

ACTIONS = Actions("kworker")

# ---------------------------------------------------------------- the creation work item


def _create_guard(cfg, s, c):
    return And(s.create_pending[c], Not(s.half_created[c]))


def _create(cfg, s, c):
    """memcg_create_kmem_cache: re-check the slot under memcg_cache_mutex, then
    create, link and publish. The fixed kernel does not create for a memcg
    that is already offline."""
    m = memcg_of(cfg, c)
    done = set_cache(s, c, create_pending=False)
    two_steps = not cfg.has_fix("slot_before_list")
    made = set_cache(done, c, cache=ALIVE, dead=False, slabs=no_slabs(cfg), work=WORK_IDLE,
                requeued=False, listed=True, slot=not two_steps, half_created=two_steps)
    allowed = Eq(s.lifecycle[m], ONLINE) if cfg.has_fix("create_checks_online") else True
    r = root_of(cfg, c)
    # 4.18 marks a root dying before destroying it; before, nothing stopped this
    dying = Eq(s.rdestroy_root, r) if cfg.has_fix("root_dying_flush") else False
    fresh = And(Not(s.slot[c]), Not(Eq(s.cache[c], ALIVE)), s.root_alive[r], Not(dying),
                allowed)
    done = record_error(done, Not(s.root_alive[r]), USE_AFTER_FREE)  # reads root->memcg_params
    return If(fresh, made, done), 0


ACTIONS.add("create_work.publish", ("cache",), domains.caches,
       "memcg_create_kmem_cache: kmem_cache_dup, list_add, memcg_caches[idx] = new (3.8)")(
    (_create_guard, _create))


def _half_guard(cfg, s, c):
    return s.half_created[c]


def _publish_slot(cfg, s, c):
    return set_cache(s, c, half_created=False, slot=True), 0


ACTIONS.add("create_work.set_slot", ("cache",), domains.caches,
       "list_before_slot: the slot store after memcg_cache_list_add (3.8-3.13)")(
    (_half_guard, _publish_slot))



def _work_guard(state):
    return lambda cfg, s, c: Eq(s.work[c], state)


def _start(cfg, s, c):
    s = record_error(s, Eq(s.cache[c], FREED), USE_AFTER_FREE)
    return set_cache(s, c, work=RUN_CHECK), 0


ACTIONS.add("destroy_work.start", ("cache",), domains.caches,
       "process_one_work: kmem_cache_destroy_work_func begins (3.10)")(
    (_work_guard(PENDING), _start))


def _finish(s: State, c: int) -> State:
    """The work function returns; a re-queued item becomes pending again."""
    return set_cache(s, c, work=If(s.requeued[c], PENDING, WORK_IDLE), requeued=False)


def _check(cfg, s, c):
    s = record_error(s, Eq(s.cache[c], FREED), USE_AFTER_FREE)
    return set_cache(s, c, work=If(Eq(nr_pages(cfg, s, c), 0), RUN_DESTROY, RUN_SHRINK)), 0


ACTIONS.add("destroy_work.check", ("cache",), domains.caches,
       "kmem_cache_destroy_work_func: nr_pages != 0 ? shrink : destroy (3.10)")(
    (_work_guard(RUN_CHECK), _check))


def _shrink_in_worker(cfg, s, c):
    """Shrink; at zero pages the release hook has re-queued us, so return."""
    return _finish(kmem_cache_shrink(cfg, s, c), c), 0


ACTIONS.add("destroy_work.shrink", ("cache",), domains.caches,
       "kmem_cache_destroy_work_func: kmem_cache_shrink, no retry after FIX7 (3.10)")(
    (_work_guard(RUN_SHRINK), _shrink_in_worker))


def _destroy_guard(cfg, s, c):
    ready = Eq(s.work[c], RUN_DESTROY)
    if not cfg.has_fix("destroy_waits_for_shrinker"):
        return ready
    return And(ready, Not(Eq(s.shrinking, c)))  # kmem_cache_destroy waits out the shrinker


def _destroy(cfg, s, c):
    """The work_struct lives in the cache. If the last page went away while
    this run was in progress, the release hook queued the work again; freeing
    the cache now leaves that queued item in freed memory (3.10 as merged).
    The fixed kernel returns instead, and the queued run destroys."""
    if not cfg.has_fix("destroy_returns_when_requeued"):
        return _finish(kmem_cache_destroy(cfg, s, c), c), 0
    return If(s.requeued[c], _finish(s, c), _finish(kmem_cache_destroy(cfg, s, c), c)), 0


ACTIONS.add("destroy_work.destroy", ("cache",), domains.caches,
       "kmem_cache_destroy_work_func: kmem_cache_destroy(cachep) (3.10)")(
    (_destroy_guard, _destroy))
