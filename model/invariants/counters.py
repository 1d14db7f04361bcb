"""Invariants of the counters: limits, what each counter accounts, activation.

Stated on the whole controller: a memcg's kmem usage is every kernel page its
hierarchical subtree holds (committed pages, slab pages, thread stacks) plus
the charges in flight, however tasks have moved since (I4); kmem never exceeds
res for an active memcg but in the window between the two charges (I3).
"""

from __future__ import annotations

from kmemcg.model.config import NONE, PAGE_SIZE, UNLIMITED
from kmemcg.model.core import Invariants
from kmemcg.model.dual import And, Count, Eq, Implies, Not, Or, Sum
from kmemcg.model.facts import (
    activation_key_offset,
    anon_in_scope,
    can_account_kmem,
    has_children,
    in_flight_pages,
    in_flight_to,
    kernel_pages,
    key_patching,
    per_memcg,
    reclaim_in_scope,
    stock_held,
    subtree_sum,
    tasks_in,
)
from kmemcg.model.state import (
    ABSENT,
    ADMIN_IDLE,
    IDLE,
    KMEM_CHARGED,
    ONLINE,
    RES_CHARGED,
    stack_pages,
)

INVARIANTS = Invariants()


def _all_memcgs(cfg, fn):
    return And(*(fn(m) for m in range(cfg.n_memcgs)))


# ---------------------------------------------------------------- the properties


@INVARIANTS.add(
    "I1.kmem_within_limit",
    "kmem.usage <= kmem.limit for every memcg",
    "domain 12 I1; res_counter_charge fails over the limit",
)
def kmem_within_limit(cfg, s):
    return _all_memcgs(cfg, lambda m: s.kmem[m].usage <= s.kmem[m].limit)


@INVARIANTS.add(
    "I1.res_within_limit",
    "res.usage <= res.limit for every memcg",
    "domain 12 I1 (no -EINTR nofail path is modelled)",
)
def res_within_limit(cfg, s):
    return _all_memcgs(cfg, lambda m: s.res[m].usage <= s.res[m].limit)


@INVARIANTS.add("I2.max_usage_covers_usage", "max_usage >= usage for res and kmem", "domain 12 I2")
def max_covers(cfg, s):
    return _all_memcgs(
        cfg,
        lambda m: And(s.res[m].max_usage >= s.res[m].usage, s.kmem[m].max_usage >= s.kmem[m].usage),
    )


@INVARIANTS.add(
    "I4.kmem_accounted",
    "kmem.usage = the kernel pages of the hierarchical subtree (committed pages, slab "
    "pages, thread stacks) + in-flight charges (1 << order pages each)",
    "domain 12 I2/I4; uncharge always targets pc->mem_cgroup, memcg_bind_pages, "
    "THREADINFO_GFP_ACCOUNTED",
)
def kmem_accounted(cfg, s):
    per = per_memcg(cfg, lambda d: kernel_pages(cfg, s, d)
                    + in_flight_pages(cfg, s, d, (KMEM_CHARGED, RES_CHARGED)))
    return _all_memcgs(cfg, lambda m: Eq(s.kmem[m].usage, PAGE_SIZE * subtree_sum(cfg, s, m, per)))


def _res_exact_pages(cfg, s):
    """Per memcg, the pages res accounts exactly: kernel + user pages + in-flight res."""
    return per_memcg(cfg, lambda d: kernel_pages(cfg, s, d) + s.user_pages[d]
                     + in_flight_pages(cfg, s, d, (RES_CHARGED,)))


@INVARIANTS.add(
    "I4.res_accounted",
    "res.usage of a non-root memcg = its subtree's kernel + user pages + in-flight res "
    "+ the pages the per-cpu stocks hold for the subtree (none without the stock)",
    "domain 12 I2 (res additionally holds per-cpu stock); root's usage comes from "
    "statistics, not the counter",
)
def res_accounted(cfg, s):
    exact = _res_exact_pages(cfg, s)
    per = per_memcg(cfg, lambda d: exact[d] + stock_held(cfg, s, d)) if cfg.cpus else exact

    return And(
        *(
            Eq(s.res[m].usage, PAGE_SIZE * subtree_sum(cfg, s, m, per))
            for m in range(1, cfg.n_memcgs)
        )
    )


@INVARIANTS.add(
    "I4.res_within_stock_bound",
    "memory.usage_in_bytes of a non-root memcg is at least its subtree's true total "
    "(kernel + user pages + in-flight res) and at most CHARGE_BATCH pages x cpus above "
    "it with the per-cpu stock; exactly the true total without it",
    "domain 9: usage moves in steps of up to CHARGE_BATCH and includes unused stock",
)
def res_within_stock_bound(cfg, s):
    exact = _res_exact_pages(cfg, s)
    slack = PAGE_SIZE * cfg.charge_batch * cfg.cpus

    def holds(m):
        true = PAGE_SIZE * subtree_sum(cfg, s, m, exact)
        return And(true <= s.res[m].usage, s.res[m].usage <= true + slack)

    return And(*(holds(m) for m in range(1, cfg.n_memcgs)))


@INVARIANTS.add(
    "I4.stock_below_batch",
    "each cpu's stock holds 0 to CHARGE_BATCH - 1 pages, and pages only for the "
    "non-root memcg it caches",
    "refill_stock adds batch - nr_pages only after consume_stock failed (3.8); the root "
    "memcg is never charged",
)
def stock_below_batch(cfg, s):
    def holds(cpu):
        m, n = s.stock_memcg[cpu], s.stock_pages[cpu]
        return And(n >= 0, n < cfg.charge_batch, Implies(n > 0, m > 0),
                   Or(Eq(m, NONE), m > 0))

    return And(*(holds(cpu) for cpu in range(cfg.cpus)))


@INVARIANTS.add(
    "I3.kmem_within_res",
    "active non-root memcg: kmem.usage <= res.usage + charges between kmem and res step",
    "domain 12 I3; kmem is charged first, so the window is real",
)
def kmem_within_res(cfg, s):
    between = per_memcg(cfg, lambda d: in_flight_pages(cfg, s, d, (KMEM_CHARGED,)))

    def holds(m):
        window = subtree_sum(cfg, s, m, between)
        return Implies(s.kmem_active[m], s.kmem[m].usage <= s.res[m].usage + PAGE_SIZE * window)

    return And(*(holds(m) for m in range(1, cfg.n_memcgs)))


@INVARIANTS.add(
    "I5.kmem_charges_active_only",
    "kmem is charged only to kmem-active non-root memcgs",
    "memcg_can_account_kmem (3.8)",
)
def charges_active_only(cfg, s):
    def holds(m):
        charged = Or(kernel_pages(cfg, s, m) > 0,
                     in_flight_to(cfg, s, m, (KMEM_CHARGED, RES_CHARGED)) > 0)
        return Implies(charged, can_account_kmem(s, m))

    return _all_memcgs(cfg, holds)


@INVARIANTS.add(
    "I5.charged_implies_static_key",
    "while any kmem page is charged, memcg_kmem_enabled_key is on (a charge in flight: "
    "or being patched in, where ACTIVE comes before the key: what then leaks is I4's)",
    "domain 12 I5; VD10: never skip a commit or uncharge after a charge",
)
def charged_implies_key(cfg, s):
    pages = Sum(kernel_pages(cfg, s, m) for m in range(cfg.n_memcgs))
    in_flight = Count(Not(Eq(pc, IDLE)) for pc in s.task_pc)
    return And(Implies(pages > 0, s.static_key > 0),
               Implies(in_flight > 0, Or(s.static_key > 0, key_patching(cfg, s))))


@INVARIANTS.add(
    "I5.static_key_counts_active",
    "static key count = active memcgs (+1 between static_key_inc and set_active; -1 "
    "between set_active and static_key_inc where ACTIVE comes first)",
    "domain 3: one static_key_slow_inc per active memcg",
)
def key_counts_active(cfg, s):
    active = Count(s.kmem_active)
    return Eq(s.static_key, active + activation_key_offset(cfg, s))


@INVARIANTS.add(
    "I5.active_has_unique_id",
    "an active memcg has a kmemcg_id, and ids are unique",
    "domain 12 I5; ida_simple_get",
)
def unique_ids(cfg, s):
    n = cfg.n_memcgs
    has_id = And(*(Implies(s.kmem_active[m], s.kmemcg_id[m] >= 0) for m in range(n)))
    distinct = And(
        *(
            Implies(s.kmemcg_id[a] >= 0, Not(Eq(s.kmemcg_id[a], s.kmemcg_id[b])))
            for a in range(n)
            for b in range(n)
            if a != b
        )
    )
    return And(has_id, distinct)


@INVARIANTS.add(
    "I6.activation_on_empty_group",
    "an activation in progress is for a group with no tasks and no hierarchical children",
    "domain 3 / I6: -EBUSY otherwise (memcg_update_kmem_limit)",
)
def activation_on_empty(cfg, s):
    def holds(m):
        # a second administrator may attach after the check: only the
        # children stay excluded (memcg_create_mutex)
        tasks = False if cfg.second_admin else tasks_in(cfg, s, m) > 0
        busy = Or(tasks, has_children(cfg, s, m))
        return Implies(And(Not(Eq(s.admin_pc, ADMIN_IDLE)), Eq(s.admin_memcg, m)), Not(busy))

    return And(*(holds(m) for m in range(1, cfg.n_memcgs)))


@INVARIANTS.add(
    "I6.activation_limit_set",
    "an activation in progress has the kmem limit it was written (its "
    "res_counter_set_limit did not fail: memcg_update_kmem_limit's VM_BUG_ON(ret))",
    "3.8-3.10 memcg_update_kmem_limit; a removed hierarchical child's charges on the "
    "parent make it fail (found here)",
)
def activation_limit_set(cfg, s):
    def holds(m):
        activating = And(Not(Eq(s.admin_pc, ADMIN_IDLE)), Eq(s.admin_memcg, m))
        return Implies(activating, Not(Eq(s.kmem[m].limit, UNLIMITED)))

    return And(*(holds(m) for m in range(1, cfg.n_memcgs)))


@INVARIANTS.add(
    "I6.children_inherit_active",
    "an online child charging an active parent is itself active",
    "memcg_propagate_kmem (3.8)",
)
def children_inherit(cfg, s):
    def holds(m):
        p = cfg.parents[m]
        return Implies(
            And(Eq(s.lifecycle[m], ONLINE), s.hier[m], s.kmem_active[p]), s.kmem_active[m]
        )

    return And(*(holds(m) for m in range(1, cfg.n_memcgs)))


@INVARIANTS.add(
    "I6.no_charge_leak",
    "a charged thread stack stays charged to the memcg recorded at fork, whatever the "
    "task did since (moved or exited): a created, kmem-active child whose kmem counter "
    "still holds every stack recorded for it",
    "domain 4; kmem charges never move (mem_cgroup_move_charge, 3.8), free_memcg_kmem_pages",
)
def no_charge_leak(cfg, s):
    def holds(t):
        d = s.task_stack[t]
        return Or(Eq(d, NONE), *(And(Eq(d, m), Not(Eq(s.lifecycle[m], ABSENT)), s.kmem_active[m],
                                     s.kmem[m].usage >= PAGE_SIZE * stack_pages(cfg, s, m))
                                 for m in range(1, cfg.n_memcgs)))

    return And(*(holds(t) for t in range(cfg.n_tasks)))


@INVARIANTS.add(
    "I4.user_pages_owned",
    "a memcg's user pages hold its page cache and every mm's anonymous pages charged "
    "to it (the rest are pinned pages, freed one by one); an mm that is gone holds no "
    "anonymous page (and none exist, or no page cache, where the scope has none)",
    "3.8 mem_cgroup_charge_common (MEM_CGROUP_CHARGE_TYPE_ANON / _CACHE), mmput -> "
    "exit_mmap, mem_cgroup_reparent_charges",
)
def user_pages_owned(cfg, s):
    n = cfg.n_tasks

    def holds(m):
        anon = Sum(s.mm_anon[k][m] for k in range(n))
        return And(s.page_cache[m] >= 0, *(s.mm_anon[k][m] >= 0 for k in range(n)),
                   anon + s.page_cache[m] <= s.user_pages[m])

    # where the scope has no anonymous pages or no page cache, none exist
    anon_here, cache_here = anon_in_scope(cfg), reclaim_in_scope(cfg)
    gone = And(*(Implies(Or(Eq(s.mm_owner[k], NONE), not anon_here), Eq(s.mm_anon[k][m], 0))
                 for k in range(n) for m in range(cfg.n_memcgs)),
               *(Eq(s.page_cache[m], 0) for m in range(cfg.n_memcgs) if not cache_here))
    return And(_all_memcgs(cfg, holds), gone)
