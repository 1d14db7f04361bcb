"""Root-cache creation at run time: kmem_cache_create of a module being loaded.

A root slot of the configuration (``Config.roots``) starts empty in a scope
with ``boot_roots`` off, and ``kmem_cache_create`` fills it; after
root-cache destruction (model/actions/root_destroy.py, the module's unload)
has finished, the slot may be filled again by a fresh cache: no memcg copy,
no slab, nothing queued. Kernel of record: 3.8-3.10 ``mm/slab_common.c``
(kmem_cache_create -> kmem_cache_create_memcg(NULL, ...)) and
``mm/memcontrol.c`` (memcg_register_cache).

One atomic action, not steps. kmem_cache_create_memcg runs its whole body
under ``slab_mutex``: kmem_cache_sanity_check, memcg_register_cache (the new
root's memcg_params sized for memcg_limited_groups_array_size of the
moment), __kmem_cache_create and the list_add to ``slab_caches``. An
activation grows every root's array in memcg_update_all_caches, under the
same mutex (the model's one step ``activate.update_cache_sizes``), so the two
are serialised: a root created before the update is on ``slab_caches`` and is
grown with the others; one created after is sized with the array the update
left, which has a slot for the new kmemcg_id. Nothing else can reach the
cache before kmem_cache_create returns it, so no step of another path can
fall inside. (memcg_register_cache allocates nothing while the static key is
off, which leaves a root created then with no memcg_params; a later
activation whose id fits the array does not allocate them either. That is a
known 3.x bug, reported on linux-mm on 2017-10-02, "crash during new
kmem-limited memory cgroup creation if kmem_cache has been created when
previous memory cgroup were inactive"; the model keeps no memcg_params
array, so this kernel's fixed behaviour is what it states.)

The sanity checks (a NULL or empty name, a size below ``sizeof(void *)`` or
above KMALLOC_MAX_SIZE, a root cache of that name on ``slab_caches``) change
nothing; they are the face's (model/slab_common.py), not a step.
"""

from __future__ import annotations

from kmemcg.model import domains
from kmemcg.model.actions.cache_ops import set_cache
from kmemcg.model.core import Actions
from kmemcg.model.dual import And, Eq, Not
from kmemcg.model.state import ALIVE, NOCACHE, WORK_IDLE, cache_id, no_slabs, replace_at, root_own

ACTIONS = Actions("insmod")


def _copies(cfg, r):
    return [cache_id(cfg, r, m) for m in range(1, cfg.n_memcgs)]


def _create_guard(cfg, s, r):
    """The slot holds no cache: never created, or its unload has finished, so
    that nothing of the old cache is still in flight (its copies destroyed or
    never made, no work queued or running on them, no outside shrink inside
    one). A fresh struct kmem_cache is what the kernel allocates; the model
    reuses the slot, so it waits for the old one's remains to settle. With
    every fix they have settled once the unload returns; a profile whose
    unload leaves work on a freed copy (root_destroy_cancels_work removed)
    has broken D3 by then, and its slot stays empty."""
    quiet = And(*(And(Not(Eq(s.cache[c], ALIVE)), Eq(s.work[c], WORK_IDLE), Not(s.requeued[c]),
                      Not(s.create_pending[c]), Not(s.half_created[c]),
                      Not(Eq(s.shrinking, c)))
                  for c in _copies(cfg, r)))
    return And(Not(s.root_alive[r]), Not(Eq(s.rdestroy_root, r)), quiet)


def _create(cfg, s, r):
    """kmem_cache_create_memcg(NULL, name, ...): a new root cache on
    slab_caches, its memcg_caches[] empty (memcg_register_cache), no slab yet."""
    out = s
    for c in _copies(cfg, r):
        out = set_cache(out, c, cache=NOCACHE, dead=False, slabs=no_slabs(cfg), slot=False,
                        listed=False)
    if cfg.root_objects:
        out = set_cache(out, root_own(cfg, r), slabs=no_slabs(cfg))
    return out._replace(root_alive=replace_at(out.root_alive, r, True)), 0


ACTIONS.add("kmem_cache_create", ("root",), domains.roots,
            "kmem_cache_create -> kmem_cache_create_memcg(NULL): memcg_register_cache, "
            "list_add(&s->list, &slab_caches) under slab_mutex (3.8-3.10)")(
    (_create_guard, _create))
