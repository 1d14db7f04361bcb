"""Invariants: each with an id, a one-line meaning and its source.

State invariants are predicates on one state; step properties relate a state
to its successor (TLA+'s ``[][P]_vars``). Structural ones (``kind="type"``)
are the facts induction needs beside the properties users care about.
"""

from __future__ import annotations

from kmemcg.model.actions import (
    ACCOUNTING,
    can_account_kmem,
    has_children,
    reaches,
    tasks_in,
)
from kmemcg.model.config import NONE, PAGE_SIZE, ROOT, UNLIMITED, Config
from kmemcg.model.dual import And, Count, Eq, If, Implies, Not, Or, Sum
from kmemcg.model.state import (
    ABSENT,
    ADMIN_IDLE,
    FRESH,
    IDLE,
    KMEM_CHARGED,
    ONLINE,
    RES_CHARGED,
    SET_ACTIVE,
    State,
)

INVARIANTS = ACCOUNTING.invariants
invariant = ACCOUNTING.invariant


def _all_memcgs(cfg, fn):
    return And(*(fn(m) for m in range(cfg.n_memcgs)))


def _in_flight_to(cfg, s, m, pcs):
    return Count(
        And(Or(*(Eq(s.task_pc[t], pc) for pc in pcs)), Eq(s.task_charge[t], m))
        for t in range(cfg.n_tasks)
    )


def _subtree_sum(cfg, s, m, per_memcg):
    return Sum(If(reaches(cfg, s, d, m), per_memcg(d), 0) for d in range(cfg.n_memcgs))


# ---------------------------------------------------------------- the properties


@invariant(
    "I1.kmem_within_limit",
    "kmem.usage <= kmem.limit for every memcg",
    "domain 12 I1; res_counter_charge fails over the limit",
)
def kmem_within_limit(cfg, s):
    return _all_memcgs(cfg, lambda m: s.kmem[m].usage <= s.kmem[m].limit)


@invariant(
    "I1.res_within_limit",
    "res.usage <= res.limit for every memcg",
    "domain 12 I1 (no -EINTR nofail path is modelled)",
)
def res_within_limit(cfg, s):
    return _all_memcgs(cfg, lambda m: s.res[m].usage <= s.res[m].limit)


@invariant("I2.max_usage_covers_usage", "max_usage >= usage for res and kmem", "domain 12 I2")
def max_covers(cfg, s):
    return _all_memcgs(
        cfg,
        lambda m: And(s.res[m].max_usage >= s.res[m].usage, s.kmem[m].max_usage >= s.kmem[m].usage),
    )


@invariant(
    "I4.kmem_accounted",
    "kmem.usage = committed kmem pages of the hierarchical subtree + in-flight charges",
    "domain 12 I2/I4; uncharge always targets pc->mem_cgroup",
)
def kmem_accounted(cfg, s):
    def per(d):
        return s.kmem_pages[d] + _in_flight_to(cfg, s, d, (KMEM_CHARGED, RES_CHARGED))

    return _all_memcgs(cfg, lambda m: Eq(s.kmem[m].usage, PAGE_SIZE * _subtree_sum(cfg, s, m, per)))


@invariant(
    "I4.res_accounted",
    "res.usage of a non-root memcg = its subtree's kmem + user pages + in-flight res",
    "domain 12 I2; root's usage comes from statistics, not the counter",
)
def res_accounted(cfg, s):
    def per(d):
        return s.kmem_pages[d] + s.user_pages[d] + _in_flight_to(cfg, s, d, (RES_CHARGED,))

    return And(
        *(
            Eq(s.res[m].usage, PAGE_SIZE * _subtree_sum(cfg, s, m, per))
            for m in range(1, cfg.n_memcgs)
        )
    )


@invariant(
    "I3.kmem_within_res",
    "active non-root memcg: kmem.usage <= res.usage + charges between kmem and res step",
    "domain 12 I3; kmem is charged first, so the window is real",
)
def kmem_within_res(cfg, s):
    def holds(m):
        window = _subtree_sum(cfg, s, m, lambda d: _in_flight_to(cfg, s, d, (KMEM_CHARGED,)))
        return Implies(s.kmem_active[m], s.kmem[m].usage <= s.res[m].usage + PAGE_SIZE * window)

    return And(*(holds(m) for m in range(1, cfg.n_memcgs)))


@invariant(
    "I5.kmem_charges_active_only",
    "kmem is charged only to kmem-active non-root memcgs",
    "memcg_can_account_kmem (3.8)",
)
def charges_active_only(cfg, s):
    def holds(m):
        charged = Or(s.kmem_pages[m] > 0, _in_flight_to(cfg, s, m, (KMEM_CHARGED, RES_CHARGED)) > 0)
        return Implies(charged, can_account_kmem(s, m))

    return _all_memcgs(cfg, holds)


@invariant(
    "I5.charged_implies_static_key",
    "while any kmem page is charged, memcg_kmem_enabled_key is on",
    "domain 12 I5; VD10: never skip a commit or uncharge after a charge",
)
def charged_implies_key(cfg, s):
    charged = Sum(s.kmem_pages) + Count(Not(Eq(pc, IDLE)) for pc in s.task_pc)
    return Implies(charged > 0, s.static_key > 0)


@invariant(
    "I5.static_key_counts_active",
    "static key count = active memcgs (+1 between static_key_inc and set_active)",
    "domain 3: one static_key_slow_inc per active memcg",
)
def key_counts_active(cfg, s):
    pending = Eq(s.admin_pc, SET_ACTIVE)
    active = Count(s.kmem_active)
    return Eq(s.static_key, active + If(pending, 1, 0))


@invariant(
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


@invariant(
    "I6.activation_on_empty_group",
    "an activation in progress is for a group with no tasks and no hierarchical children",
    "domain 3 / I6: -EBUSY otherwise (memcg_update_kmem_limit)",
)
def activation_on_empty(cfg, s):
    def holds(m):
        busy = Or(tasks_in(cfg, s, m) > 0, has_children(cfg, s, m))
        return Implies(And(Not(Eq(s.admin_pc, ADMIN_IDLE)), Eq(s.admin_memcg, m)), Not(busy))

    return And(*(holds(m) for m in range(1, cfg.n_memcgs)))


@invariant(
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


# ---------------------------------------------------------------- structure


@invariant(
    "T.root", "the root memcg is online, unlimited, never kmem-active", "cgroup core", kind="type"
)
def root_shape(cfg, s):
    r = ROOT
    return And(
        Eq(s.lifecycle[r], ONLINE),
        Not(s.hier[r]),
        Not(s.kmem_active[r]),
        Eq(s.kmemcg_id[r], NONE),
        Eq(s.res[r].limit, UNLIMITED),
        Eq(s.kmem[r].limit, UNLIMITED),
        Eq(s.kmem_pages[r], 0),
    )


@invariant("T.absent_is_blank", "a memcg not yet created holds nothing", "cgroup core", kind="type")
def absent_blank(cfg, s):
    def holds(m):
        return Implies(
            Eq(s.lifecycle[m], ABSENT),
            And(
                Not(s.use_hierarchy[m]),
                Not(s.hier[m]),
                Not(s.kmem_active[m]),
                Eq(s.kmemcg_id[m], NONE),
                Eq(s.res[m], FRESH),
                Eq(s.kmem[m], FRESH),
                Eq(s.kmem_pages[m], 0),
                Eq(s.user_pages[m], 0),
            ),
        )

    return And(*(holds(m) for m in range(1, cfg.n_memcgs)))


@invariant(
    "T.tree",
    "a created memcg's parent exists; an online one's parent is online; "
    "a charging link implies the parent has use_hierarchy while both are online",
    "cgroup core; mem_cgroup_hierarchy_write refuses with children",
    kind="type",
)
def tree_shape(cfg, s):
    def holds(m):
        p = cfg.parents[m]
        return And(
            Or(*(Eq(s.lifecycle[m], v) for v in (0, 1, 2))),
            Implies(Not(Eq(s.lifecycle[m], ABSENT)), Not(Eq(s.lifecycle[p], ABSENT))),
            Implies(Eq(s.lifecycle[m], ONLINE), Eq(s.lifecycle[p], ONLINE)),
            Implies(
                And(Eq(s.lifecycle[m], ONLINE), s.hier[m]),
                And(s.use_hierarchy[p], s.use_hierarchy[m]),
            ),
        )

    return And(*(holds(m) for m in range(1, cfg.n_memcgs)))


@invariant(
    "T.ranges", "counts are non-negative, ids and indices in range", "model bounds", kind="type"
)
def ranges(cfg, s):
    n = cfg.n_memcgs

    def memcg(m):
        return And(
            s.kmem_pages[m] >= 0,
            s.user_pages[m] >= 0,
            s.res[m].failcnt >= 0,
            s.kmem[m].failcnt >= 0,
            s.res[m].usage >= 0,
            s.kmem[m].usage >= 0,
            s.kmemcg_id[m] >= NONE,
            s.kmemcg_id[m] < n,
            Implies(s.kmemcg_id[m] >= 0, Or(s.kmem_active[m], Eq(s.admin_memcg, m))),
        )

    def task(t):
        pc, ch = s.task_pc[t], s.task_charge[t]
        return And(
            Or(*(Eq(s.task_memcg[t], m) for m in range(n))),
            Or(*(Eq(pc, v) for v in (IDLE, KMEM_CHARGED, RES_CHARGED))),
            Eq(Eq(pc, IDLE), Eq(ch, NONE)),
            Or(Eq(ch, NONE), *(Eq(ch, m) for m in range(1, n))),
        )

    admin = And(
        Or(*(Eq(s.admin_pc, v) for v in range(4))),
        Eq(Eq(s.admin_pc, ADMIN_IDLE), Eq(s.admin_memcg, NONE)),
        Or(Eq(s.admin_memcg, NONE), *(Eq(s.admin_memcg, m) for m in range(1, n))),
    )
    return And(
        *(memcg(m) for m in range(n)),
        *(task(t) for t in range(cfg.n_tasks)),
        admin,
        s.static_key >= 0,
    )


@invariant(
    "T.links",
    "tasks sit in online memcgs; the activation path's memcg is online and "
    "not yet active; an active memcg exists",
    "cgroup core",
    kind="type",
)
def links(cfg, s):
    n = cfg.n_memcgs
    tasks = And(
        *(
            Or(*(And(Eq(s.task_memcg[t], m), Eq(s.lifecycle[m], ONLINE)) for m in range(n)))
            for t in range(cfg.n_tasks)
        )
    )
    admin = And(
        *(
            Implies(
                And(Not(Eq(s.admin_pc, ADMIN_IDLE)), Eq(s.admin_memcg, m)),
                And(
                    Eq(s.lifecycle[m], ONLINE),
                    Not(s.kmem_active[m]),
                    Eq(s.kmemcg_id[m] >= 0, Not(Eq(s.admin_pc, 1))),
                ),
            )
            for m in range(1, n)
        )
    )
    exist = And(*(Implies(s.kmem_active[m], Not(Eq(s.lifecycle[m], ABSENT))) for m in range(n)))
    return And(tasks, admin, exist)


# ---------------------------------------------------------------- step properties


@invariant(
    "S.activation_monotone",
    "kmem accounting, once active, is never deactivated",
    "domain 3: no code path clears KMEM_ACCOUNTED_ACTIVE",
    kind="step",
)
def active_monotone(cfg, pre, post):
    return _all_memcgs(cfg, lambda m: Implies(pre.kmem_active[m], post.kmem_active[m]))


@invariant(
    "S.activation_when_empty",
    "a memcg turns kmem-active only with no tasks and no hierarchical children",
    "domain 12 I6",
    kind="step",
)
def activation_when_empty(cfg, pre, post):
    def holds(m):
        turns = And(Not(pre.kmem_active[m]), post.kmem_active[m])
        return Implies(turns, And(Eq(tasks_in(cfg, pre, m), 0), Not(has_children(cfg, pre, m))))

    return _all_memcgs(cfg, holds)


def state_invariants(kind: str | None = None):
    return ACCOUNTING.state_invariants(kind)


def step_invariants():
    return ACCOUNTING.step_invariants()


def violated(cfg: Config, s: State) -> list[str]:
    """Ids of the state invariants ``s`` breaks (concrete states only)."""
    return ACCOUNTING.violated(cfg, s)


def violated_step(cfg: Config, pre: State, post: State) -> list[str]:
    return ACCOUNTING.violated_step(cfg, pre, post)
