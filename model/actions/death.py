"""Memcg death with kernel memory outstanding: css_free, the death put, the free.

An rmdir'ed memcg (css_offline, model/actions/cgroup.py) lingers while
references remain. Its css is freed (mem_cgroup_css_free) once the cgroup core
has no css reference left, and that runs kmem_cgroup_destroy in three steps,
each a preemption point against the last uncharge (W1):
memcg_kmem_mark_dead, the read of the kmem usage, and -- only if that read 0
-- test_and_clear(DEAD) with the death put; then the base reference is put.
The last uncharge's own test_and_clear is part of memcg_uncharge_kmem
(model/actions/kmem.py), so exactly one of the two puts.

References are derived from the state rather than counted (memcg->refcnt,
3.8-3.10; domain section 7): the base reference until css_free's put; the
activation's (memcg_update_kmem_limit or memcg_propagate_kmem) until the death
put; one per live per-memcg cache (memcg_register_cache, put in
memcg_release_cache); one per hierarchical child not yet freed (css_online's
mem_cgroup_get(parent), put by the child's __mem_cgroup_put). When none is
left, __mem_cgroup_put's call_rcu leads to __mem_cgroup_free, a step of its
own: disarm_kmem_keys (static_key_slow_dec, ida_simple_remove) and the memory
gone; the child's reference on its parent goes with it. Kernel of record: 3.10
``mm/memcontrol.c`` and ``kernel/cgroup.c``.
"""

from __future__ import annotations

from kmemcg.model import domains
from kmemcg.model.config import NONE, Config
from kmemcg.model.core import Actions
from kmemcg.model.dual import And, Count, Eq, If, Not, Or
from kmemcg.model.facts import in_flight_to
from kmemcg.model.state import (
    ALIVE,
    CSS_DONE,
    CSS_LIVE,
    CSS_READ_USAGE,
    CSS_TEST_DEAD,
    KMEM_CHARGED,
    MEMCG_FREED,
    OFFLINE,
    State,
    memcg_caches,
    replace_at,
)

ACTIONS = Actions("kernel")


def memcg_refs(cfg: Config, s: State, m: int):
    """memcg->refcnt, derived: base + activation + live caches + unfreed
    hierarchical children."""
    base = If(Eq(s.destroy_pc[m], CSS_DONE), 0, 1)
    activation = If(s.kmem_active[m], 1 - s.death_puts[m], 0)
    caches = Count(Eq(s.cache[c], ALIVE) for c in memcg_caches(cfg, m))
    children = Count(And(s.hier[c], Not(Eq(s.lifecycle[c], MEMCG_FREED)))
                     for c in cfg.children(m))
    return base + activation + caches + children


def _css_freeable(cfg: Config, s: State, m: int):
    """cgroup_free_fn may run ss->css_free: the cgroup is offline with its
    offline walk over, no css reference is held (a creation work's css_tryget,
    memcg_charge_kmem's try_get_mem_cgroup_from_mm between its kmem and res
    charges), and every child's css_free has run (a child holds its parent's
    dentry until cgroup_free_fn's dput, 3.9+)."""
    pinned = Or(*(s.create_pending[c] for c in memcg_caches(cfg, m)))
    children_done = And(*(Or(Eq(s.destroy_pc[c], CSS_DONE), Eq(s.lifecycle[c], MEMCG_FREED),
                             Eq(s.lifecycle[c], 0)) for c in cfg.children(m)))
    return And(Eq(s.lifecycle[m], OFFLINE), Eq(s.destroy_pc[m], CSS_LIVE),
               Not(Eq(s.offline_memcg, m)), Not(pinned),
               Eq(in_flight_to(cfg, s, m, (KMEM_CHARGED,)), 0), children_done)


def _mark_dead(cfg, s, m):
    """memcg_kmem_mark_dead: set DEAD if ACTIVE."""
    return s._replace(
        kmem_dead=replace_at(s.kmem_dead, m, Or(s.kmem_dead[m], s.kmem_active[m])),
        destroy_pc=replace_at(s.destroy_pc, m, CSS_READ_USAGE)), 0


ACTIONS.add(
    "css_free.mark_dead",
    ("memcg",),
    domains.non_root,
    "mem_cgroup_css_free -> kmem_cgroup_destroy -> memcg_kmem_mark_dead (3.8-3.10)",
)((_css_freeable, _mark_dead))


def _read_usage(cfg, s, m):
    """res_counter_read_u64(&memcg->kmem, RES_USAGE): not 0, and
    kmem_cgroup_destroy returns (the last uncharge will put), after which
    css_free puts the base reference; 0, and test_and_clear comes next."""
    zero = Eq(s.kmem[m].usage, 0)
    return s._replace(destroy_pc=replace_at(s.destroy_pc, m,
                                            If(zero, CSS_TEST_DEAD, CSS_DONE))), 0


ACTIONS.add(
    "css_free.read_usage",
    ("memcg",),
    domains.non_root,
    "kmem_cgroup_destroy: res_counter_read_u64(&memcg->kmem, RES_USAGE) != 0 -> return "
    "(3.8-3.10)",
)((lambda cfg, s, m: Eq(s.destroy_pc[m], CSS_READ_USAGE), _read_usage))


def _put(cfg, s, m):
    """memcg_kmem_test_and_clear_dead -> mem_cgroup_put, then css_free's
    mem_cgroup_put of the base reference."""
    dead = s.kmem_dead[m]
    return s._replace(
        kmem_dead=replace_at(s.kmem_dead, m, False),
        death_puts=replace_at(s.death_puts, m, If(dead, s.death_puts[m] + 1, s.death_puts[m])),
        destroy_pc=replace_at(s.destroy_pc, m, CSS_DONE)), 0


ACTIONS.add(
    "css_free.put",
    ("memcg",),
    domains.non_root,
    "kmem_cgroup_destroy: test_and_clear DEAD -> mem_cgroup_put; css_free's base "
    "mem_cgroup_put (3.8-3.10)",
)((lambda cfg, s, m: Eq(s.destroy_pc[m], CSS_TEST_DEAD), _put))


def _free_guard(cfg, s, m):
    return And(Eq(s.lifecycle[m], OFFLINE), memcg_refs(cfg, s, m) <= 0)


def _free(cfg, s, m):
    """__mem_cgroup_free: disarm_kmem_keys (static_key_slow_dec and
    ida_simple_remove for an active memcg); the counters are left as they
    were, so the freed-is-empty invariant reads what was there."""
    return s._replace(
        lifecycle=replace_at(s.lifecycle, m, MEMCG_FREED),
        kmem_active=replace_at(s.kmem_active, m, False),
        kmemcg_id=replace_at(s.kmemcg_id, m, NONE),
        static_key=s.static_key - If(s.kmem_active[m], 1, 0)), 0


ACTIONS.add(
    "mem_cgroup_free",
    ("memcg",),
    domains.non_root,
    "__mem_cgroup_put -> call_rcu(free_rcu) -> free_work -> __mem_cgroup_free (3.8-3.10)",
)((_free_guard, _free))
