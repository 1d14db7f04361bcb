"""memcg_charge_kmem and memcg_uncharge_kmem: kernel pages against two counters.

A kernel page charges ``memcg->kmem`` first and then ``memcg->res``, each up
the hierarchy (res_counter_charge walks the parents); when res fails the kmem
charge is given back. Slab pages and thread stacks take the whole charge in one
model step; the page charge path of model/actions/charge.py takes it in three,
with preemption points between (domain section 2).
"""

from __future__ import annotations

from kmemcg.model import res_counter as rc
from kmemcg.model.actions.reclaim import mem_cgroup_try_charge
from kmemcg.model.config import Config
from kmemcg.model.dual import And, Eq, If
from kmemcg.model.state import State, replace_at


def kmem_level_charge(cfg: Config, s: State, levels, nbytes):
    """res_counter_charge(&memcg->kmem): (counters, ok). Without the
    ``kmem_limit_check`` fix the charge never looks at the limit."""
    if cfg.has_fix("kmem_limit_check"):
        return rc.charge(s.kmem, levels, nbytes)
    return rc.charge_nolimit(s.kmem, levels, nbytes), True


def memcg_charge_kmem(cfg: Config, s: State, m: int, nbytes):
    """memcg_charge_kmem (3.8) in one step: (state with both counters, ok). The
    kmem counter fails at once, with no reclaim; the res charge
    (__mem_cgroup_try_charge) reclaims page cache at U first
    (model/actions/reclaim.py), never kernel memory."""
    levels = rc.chain(cfg, s, m)
    kmem, kmem_ok = kmem_level_charge(cfg, s, levels, nbytes)
    after, res_ok = mem_cgroup_try_charge(cfg, s, m, nbytes)
    given_back = rc.uncharge(kmem, levels, nbytes) if cfg.has_fix("kmem_rollback") else kmem
    return (If(kmem_ok, after._replace(kmem=If(res_ok, kmem, given_back)),
               s._replace(kmem=kmem)),
            And(kmem_ok, res_ok))


def memcg_uncharge_kmem(cfg: Config, s: State, m: int, nbytes) -> State:
    """memcg_uncharge_kmem (3.8-3.10 order): res first, kmem last; when the kmem
    counter res_counter_uncharge returns is down to 0,
    memcg_kmem_test_and_clear_dead and, if it was set, mem_cgroup_put (the
    death reference). res_counter_uncharge returns the memcg's own counter
    only, so 3.8-3.10 test ``m`` alone; with the ``uncharge_tests_dead_ancestors``
    fix every hierarchical level the uncharge brought to 0 is tested (W2)."""
    levels = rc.chain(cfg, s, m)
    post = s._replace(res=rc.uncharge(s.res, levels, nbytes),
                      kmem=rc.uncharge(s.kmem, levels, nbytes))
    tested = levels if cfg.has_fix("uncharge_tests_dead_ancestors") else levels[:1]
    return put_dead_at_zero(cfg, post, tested)


def put_dead_at_zero(cfg: Config, s: State, levels) -> State:
    """For each level reached whose kmem usage is 0: test_and_clear_bit(DEAD)
    and, if it was set, the death put (counted in the ghost ``death_puts``)."""
    for i, present in levels:
        put = And(present, Eq(s.kmem[i].usage, 0), s.kmem_dead[i])
        s = s._replace(
            kmem_dead=replace_at(s.kmem_dead, i, If(put, False, s.kmem_dead[i])),
            death_puts=replace_at(s.death_puts, i, If(put, s.death_puts[i] + 1,
                                                      s.death_puts[i])))
    return s
