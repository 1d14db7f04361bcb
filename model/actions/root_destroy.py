"""Root-cache destruction: kmem_cache_destroy of a root walks its memcg children.

kmem_cache_destroy_memcg_children (module unload): for each memcg child,
clear dead, cancel its destroy work (waiting for a running one), destroy it.
Kernel of record: 3.10 ``mm/memcontrol.c`` and ``mm/slab_common.c`` (domain
sections 6, 13).
"""

from __future__ import annotations

from kmemcg.model import domains
from kmemcg.model.actions.cache_ops import kmem_cache_destroy, running, set_cache
from kmemcg.model.config import NONE
from kmemcg.model.core import Actions
from kmemcg.model.dual import And, Eq, If, Implies, Not, Or
from kmemcg.model.state import (
    PENDING,
    RD_CANCEL,
    RD_DESTROY,
    RD_MARK,
    RD_WAIT,
    WORK_IDLE,
    cache_id,
    no_slabs,
    objects,
    replace_at,
    root_own,
)

ACTIONS = Actions("rmmod")


def _rd_start_guard(cfg, s, r):
    # every copy's objects, and with root_objects the root's own (root_own), are gone
    first = 0 if cfg.root_objects else 1
    objects_gone = And(*(Eq(objects(s, cache_id(cfg, r, m)), 0)
                         for m in range(first, cfg.n_memcgs)))
    sync = Eq(s.offline_memcg, NONE) if cfg.has_fix("offline_excludes_root_destroy") else True
    return And(s.root_alive[r], Eq(s.rdestroy_root, NONE), objects_gone, sync)


def _rd_start(cfg, s, r):
    """The walk begins. With root_objects the root's own slabs, empty by the
    guard, go now: the kernel's __kmem_cache_shutdown of the root comes after
    the children, but nothing can allocate from a root being unloaded, so
    only /proc/slabinfo's root line during the walk (no own slab instead of
    its empty ones) tells the two apart."""
    s2 = set_cache(s, root_own(cfg, r), slabs=no_slabs(cfg)) if cfg.root_objects else s
    return s2._replace(rdestroy_root=r, rdestroy_next=1, rdestroy_step=RD_MARK), 0


ACTIONS.add("root_destroy.start", ("root",), domains.roots,
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
        return If(s.slot[c], set_cache(s, c, dead=False), s)

    return _rd_child(cfg, s, r, mark)._replace(rdestroy_step=RD_CANCEL), 0


def _rd_mark_guard(cfg, s, r):
    """Before touching the children, wait for the creation works queued for this
    root (flush_memcg_workqueue, 4.18): none can be queued any more, and each
    finds the root dying."""
    if not cfg.has_fix("root_dying_flush"):
        return _rd_at(RD_MARK)(cfg, s, r)
    flushed = And(*(Not(Or(s.create_pending[c], s.half_created[c]))
                    for c in (cache_id(cfg, r, m) for m in range(1, cfg.n_memcgs))))
    return And(_rd_at(RD_MARK)(cfg, s, r), flushed)


ACTIONS.add("root_destroy.clear_dead", ("root",), domains.roots,
       "kmem_cache_destroy_memcg_children: c->dead = false (3.8), after "
       "flush_memcg_workqueue (4.18)")((_rd_mark_guard, _rd_mark))


def _rd_cancel(cfg, s, r):
    """cancel_work_sync, first half: try_to_grab_pending takes a queued item off
    the queue; a running one is then waited for (RD_WAIT)."""
    def cancel(s, c):
        if not cfg.has_fix("root_destroy_cancels_work"):
            return s
        w = s.work[c]
        return set_cache(s, c, work=If(Eq(w, PENDING), WORK_IDLE, w), requeued=False)

    waits = Or(*(And(Eq(s.rdestroy_next, m), running(s.work[cache_id(cfg, r, m)]))
                 for m in range(1, cfg.n_memcgs)))
    if not cfg.has_fix("root_destroy_cancels_work"):
        waits = False
    return _rd_child(cfg, s, r, cancel)._replace(
        rdestroy_step=If(waits, RD_WAIT, RD_DESTROY)), 0


ACTIONS.add("root_destroy.cancel_work", ("root",), domains.roots,
       "kmem_cache_destroy_memcg_children: cancel_work_sync -> try_to_grab_pending (3.8)")(
    (_rd_at(RD_CANCEL), _rd_cancel))


def _rd_flush_guard(cfg, s, r):
    """flush_work: the running item has returned."""
    def returned(m):
        w = s.work[cache_id(cfg, r, m)]
        return Implies(Eq(s.rdestroy_next, m), Or(Eq(w, WORK_IDLE), Eq(w, PENDING)))

    return And(_rd_at(RD_WAIT)(cfg, s, r), *(returned(m) for m in range(1, cfg.n_memcgs)))


def _rd_flush(cfg, s, r):
    return s._replace(rdestroy_step=RD_DESTROY), 0


ACTIONS.add("root_destroy.flush_work", ("root",), domains.roots,
       "kmem_cache_destroy_memcg_children: cancel_work_sync -> flush_work (3.8)")(
    (_rd_flush_guard, _rd_flush))


def _rd_destroy(cfg, s, r):
    def destroy(s, c):
        return If(s.slot[c], kmem_cache_destroy(cfg, s, c), s)

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


ACTIONS.add("root_destroy.destroy_child", ("root",), domains.roots,
       "kmem_cache_destroy_memcg_children: kmem_cache_destroy(c) (3.8)")(
    (_rd_destroy_guard, _rd_destroy))
