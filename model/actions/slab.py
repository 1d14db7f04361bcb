"""Allocating and freeing slab objects in a memcg's cache.

A task of a kmem-accounted memcg allocates from a root cache: its memcg's cache
if published (memcg_kmem_get_cache), else the creation is queued and the object
is served from the root cache, uncharged. An allocation in a context the
kernel never charges (a kernel thread, an interrupt, __GFP_NOFAIL, a fatal
signal pending) is served from the root cache whatever the task's memcg, and
queues nothing (``alloc.root``). With a configuration's ``root_objects`` the
objects a root serves are kept on its own slabs (``root_own``), which are never
charged; without, they are forgotten as they are served. A new slab charges its pages
(memcg_charge_kmem); a slab given back uncharges them, and the last page's
release hook may queue the cache's destruction. Kernel of record: 3.8
``mm/memcontrol.c``, ``mm/slab.c`` and ``mm/slub.c`` (domain sections 4, 5).
"""

from __future__ import annotations

from kmemcg.model import domains
from kmemcg.model.actions.cache_ops import record_error, release_slabs, root_serve, set_cache
from kmemcg.model.actions.kmem import memcg_charge_kmem
from kmemcg.model.config import PAGE_SIZE
from kmemcg.model.core import Actions
from kmemcg.model.dual import And, Eq, If, Not, Or
from kmemcg.model.facts import kmem_accounted
from kmemcg.model.res_counter import ENOMEM
from kmemcg.model.state import (
    FREED,
    ONLINE,
    USE_AFTER_FREE,
    memcg_of,
    replace_at,
    root_of,
    slab_pages,
)

ACTIONS = Actions("task")


def _alloc_guard(cfg, s, c):
    r, m = root_of(cfg, c), memcg_of(cfg, c)
    return And(Eq(s.lifecycle[m], ONLINE), kmem_accounted(s, m), s.root_alive[r],
               Not(Eq(s.rdestroy_root, r)))


def _moved(hist: tuple, frm: int, to: int) -> tuple:
    """One slab moves from fill ``frm`` to fill ``to``."""
    out = replace_at(hist, frm, hist[frm] - 1)
    return replace_at(out, to, out[to] + 1)


def _partial(cfg, s, c):
    """The cache has a slab that is neither empty nor full."""
    return Or(*(s.slabs[c][k] > 0 for k in range(1, cfg.objs_per_slab)))


def _alloc_new_guard(cfg, s, c):
    return And(_alloc_guard(cfg, s, c), Or(Not(s.slot[c]), Not(_partial(cfg, s, c))))


def _alloc(cfg, s, c):
    """kmem_cache_alloc by a task of the memcg, with no partial slab to fill:
    its cache if published, else queue the creation and serve this object from
    the root cache, uncharged. The object goes to an empty slab, else a new
    slab, whose pages are charged first (memcg_charge_kmem; -ENOMEM over the
    kmem limit, and the allocation fails)."""
    hist = s.slabs[c]
    charged, ok = memcg_charge_kmem(cfg, s, memcg_of(cfg, c), slab_pages(cfg) * PAGE_SIZE)
    grown = If(ok, set_cache(charged, c, slabs=replace_at(hist, 1, hist[1] + 1)), charged)
    used = If(hist[0] > 0, set_cache(s, c, slabs=_moved(hist, 0, 1)), grown)
    fails = And(Eq(hist[0], 0), Not(ok))
    used = record_error(used, Eq(s.cache[c], FREED), USE_AFTER_FREE)
    queued = set_cache(s, c, create_pending=True)
    if cfg.root_objects:  # the object the root serves meanwhile
        queued = root_serve(cfg, queued, root_of(cfg, c))
    return If(s.slot[c], used, queued), If(And(s.slot[c], fails), -ENOMEM, 0)


ACTIONS.add("alloc", ("cache",), domains.caches,
       "__memcg_kmem_get_cache / memcg_create_cache_enqueue, memcg_charge_kmem (3.8)")(
    (_alloc_new_guard, _alloc))


def _alloc_partial_guard(cfg, s, c, k):
    return And(_alloc_guard(cfg, s, c), s.slot[c], s.slabs[c][k] > 0)


def _alloc_partial(cfg, s, c, k):
    """The allocator fills a partial slab first; which one is its list order
    (SLAB's slabs_partial, SLUB's cpu and partial slabs), so any fill may be
    chosen: the model takes them all."""
    used = set_cache(s, c, slabs=_moved(s.slabs[c], k, k + 1))
    return record_error(used, Eq(s.cache[c], FREED), USE_AFTER_FREE), 0


ACTIONS.add("alloc.partial", ("cache", "fill"), domains.partial_fills,
       "kmem_cache_alloc -> cache_alloc_refill: an object from a partial slab (3.8)")(
    (_alloc_partial_guard, _alloc_partial))


def _alloc_root_guard(cfg, s, r, x):
    """The root is loaded and not being destroyed; the context ``x`` (CONTEXTS)
    makes memcg_kmem_get_cache return the root cache whatever the task's memcg."""
    if not cfg.root_objects:
        return False  # a scope that forgets root-served objects has no such step
    return And(s.root_alive[r], Not(Eq(s.rdestroy_root, r)))


def _alloc_root(cfg, s, r, x):
    """kmem_cache_alloc(root) in a context the kernel never charges: the root
    cache serves it, no page is charged and no creation is queued."""
    return root_serve(cfg, s, r), 0


ACTIONS.add("alloc.root", ("root", "context"), domains.roots_contexts,
       "memcg_kmem_get_cache: __GFP_NOFAIL, in_interrupt(), !current->mm / PF_KTHREAD, "
       "fatal_signal_pending(current) keep the root cache (3.8 memcontrol.h)")(
    (_alloc_root_guard, _alloc_root))


def _free_guard(cfg, s, c, k):
    return s.slabs[c][k] > 0


def _free_keep(cfg, s, c, k):
    return set_cache(s, c, slabs=_moved(s.slabs[c], k, k - 1)), 0


ACTIONS.add("free.object", ("cache", "fill"), domains.fills,
       "kmem_cache_free: the slab keeps its pages, even once empty (3.8); a root "
       "cache's own object too, with root_objects")(
    (_free_guard, _free_keep))


def _last_object(cfg, s, c):
    return s.slabs[c][1] > 0


def _free_release(cfg, s, c):
    hist = s.slabs[c]
    return release_slabs(cfg, s, c, replace_at(hist, 1, hist[1] - 1)), 0


ACTIONS.add("free.release_pages", ("cache",), domains.slab_caches,
       "kmem_cache_free of a slab's last object; the allocator frees the slab: "
       "kmem_freepages -> memcg_release_pages (3.8)")((_last_object, _free_release))
