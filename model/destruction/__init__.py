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

The package: ``state`` (the slice, its profiles and state), ``actions``,
``invariants`` (with the liveness property) and ``symmetry``. Importing it
registers them all on ``DESTRUCTION`` (each submodule registers its part when imported).
"""

from kmemcg.model.destruction.actions import THREADS
from kmemcg.model.destruction.invariants import FAIR_ACTIONS
from kmemcg.model.destruction.state import (
    ALIVE,
    CACHE,
    DESTRUCTION,
    DOUBLE_DESTROY,
    ERRORS,
    FREED,
    IDLE,
    NOCACHE,
    NULL_DEREF,
    OK,
    PENDING,
    RD_CANCEL,
    RD_DESTROY,
    RD_MARK,
    RD_STEPS,
    RD_WAIT,
    RUN_CHECK,
    RUN_DESTROY,
    RUN_SHRINK,
    SLABINFO_HEADER,
    THREAD_SIZE_ORDER,
    USE_AFTER_FREE,
    WORK,
    DState,
    cache_domain,
    cache_id,
    cache_name,
    expect_memcg_slabinfo,
    expect_proc_slabinfo,
    fill_domain,
    fork_domain,
    from_json,
    in_constraint,
    initial,
    memcg_domain,
    memcg_of,
    memcg_root_domain,
    n_caches,
    no_slabs,
    nr_pages,
    objects,
    partial_domain,
    root_domain,
    root_of,
    slab_pages,
    task_domain,
    to_json,
    walking,
)
from kmemcg.model.destruction.symmetry import permute_roots, root_symmetry

__all__ = [
    "ALIVE",
    "CACHE",
    "DESTRUCTION",
    "DOUBLE_DESTROY",
    "ERRORS",
    "FAIR_ACTIONS",
    "FREED",
    "IDLE",
    "NOCACHE",
    "NULL_DEREF",
    "OK",
    "PENDING",
    "RD_CANCEL",
    "RD_DESTROY",
    "RD_MARK",
    "RD_STEPS",
    "RD_WAIT",
    "RUN_CHECK",
    "RUN_DESTROY",
    "RUN_SHRINK",
    "SLABINFO_HEADER",
    "THREADS",
    "THREAD_SIZE_ORDER",
    "USE_AFTER_FREE",
    "WORK",
    "DState",
    "cache_domain",
    "cache_id",
    "cache_name",
    "expect_memcg_slabinfo",
    "expect_proc_slabinfo",
    "fill_domain",
    "fork_domain",
    "from_json",
    "in_constraint",
    "initial",
    "memcg_domain",
    "memcg_of",
    "memcg_root_domain",
    "n_caches",
    "no_slabs",
    "nr_pages",
    "objects",
    "partial_domain",
    "permute_roots",
    "root_domain",
    "root_of",
    "root_symmetry",
    "slab_pages",
    "task_domain",
    "to_json",
    "walking",
]
