"""Parameter domains: the concrete arguments each action ranges over.

A domain is a function of the configuration, cached because the explorer asks
for it at every state.
"""

from __future__ import annotations

from functools import cache

from kmemcg.model.config import Config
from kmemcg.model.state import CONTEXTS, memcg_of, n_caches, root_own


@cache
def memcgs(cfg: Config):
    return tuple((m,) for m in range(cfg.n_memcgs))


@cache
def non_root(cfg: Config):
    return tuple((m,) for m in range(1, cfg.n_memcgs))


@cache
def tasks(cfg: Config):
    return tuple((t,) for t in range(cfg.n_tasks))


@cache
def tasks_memcgs(cfg: Config):
    return tuple((t, m) for t in range(cfg.n_tasks) for m in range(cfg.n_memcgs))


@cache
def tasks_memcgs_orders(cfg: Config):
    """A task, its memcg and the order of the page allocation it starts."""
    return tuple((t, m, o) for t, m in tasks_memcgs(cfg) for o in cfg.orders)


@cache
def memcgs_orders(cfg: Config):
    """A memcg and the order of a committed allocation freed from it."""
    return tuple((m, o) for (m,) in memcgs(cfg) for o in cfg.orders)


@cache
def tasks_non_root(cfg: Config):
    """Where spawn may place a new task: the root memcg is never charged, so a
    task spawned there has nothing to do with kmem and is left out of scope."""
    return tuple((t, m) for t in range(cfg.n_tasks) for m in range(1, cfg.n_memcgs))


@cache
def tasks_parents(cfg: Config):
    """fork's child slot, its parent, and whether it is a thread (1) or a
    process (0); a task is never its own parent (the guard sees to it)."""
    return tuple((t, p, th) for t in range(cfg.n_tasks) for p in range(cfg.n_tasks)
                 for th in (0, 1))


@cache
def counters(cfg: Config):
    return tuple((m, c) for m in range(cfg.n_memcgs) for c in (0, 1))


@cache
def roots(cfg: Config):
    return tuple((r,) for r in range(len(cfg.roots)))


@cache
def caches(cfg: Config):
    """The memcg caches (never the root memcg's)."""
    return tuple((c,) for c in range(n_caches(cfg)) if memcg_of(cfg, c) != 0)


@cache
def slab_caches(cfg: Config):
    """The caches objects are freed from: the memcg caches, and with
    ``root_objects`` each root cache's own slabs (root_own)."""
    own = tuple((root_own(cfg, r),) for r in range(len(cfg.roots))) if cfg.root_objects else ()
    return tuple(sorted(caches(cfg) + own))


@cache
def fills(cfg: Config):
    """A cache and the fill of the slab an object is freed from."""
    return tuple((c, k) for (c,) in slab_caches(cfg) for k in range(1, cfg.objs_per_slab + 1))


@cache
def roots_contexts(cfg: Config):
    """A root cache and a context its allocation is never charged in."""
    return tuple((r, x) for r in range(len(cfg.roots)) for x in range(len(CONTEXTS)))


@cache
def partial_fills(cfg: Config):
    """A cache and the fill of a partial slab an object may go to."""
    return tuple((c, k) for (c,) in caches(cfg) for k in range(1, cfg.objs_per_slab))


@cache
def memcgs_roots(cfg: Config):
    return tuple((m, r) for (m,) in non_root(cfg) for (r,) in roots(cfg))


@cache
def memcgs_move_values(cfg: Config):
    """A memcg (the root has the file too) and a value written to its
    memory.move_charge_at_immigrate: each valid one, 0 to 3, and 4, the first
    mem_cgroup_move_charge_write refuses."""
    return tuple((m, v) for m in range(cfg.n_memcgs) for v in range(5))
