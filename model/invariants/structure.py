"""Structural facts of the cgroup tree, the tasks and the activation path.

These are the ``type`` invariants induction needs beside the properties users
care about: ranges, the root's shape, what an absent memcg holds.
"""

from __future__ import annotations

from kmemcg.model.config import NONE, ROOT, UNLIMITED
from kmemcg.model.core import Invariants
from kmemcg.model.dual import And, Eq, Implies, Not, Or
from kmemcg.model.facts import threads_in_scope
from kmemcg.model.state import (
    ABSENT,
    ADMIN_IDLE,
    FRESH,
    IDLE,
    KEY_INC,
    KMEM_CHARGED,
    NOCACHE,
    ONLINE,
    RES_CHARGED,
    memcg_caches,
)

INVARIANTS = Invariants()


@INVARIANTS.add(
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


@INVARIANTS.add("T.absent_is_blank", "a memcg not yet created holds nothing", "cgroup core", kind="type")
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
                Eq(s.move_charge[m], 0),
                *(Eq(s.cache[c], NOCACHE) for c in memcg_caches(cfg, m)),
                *(Not(Eq(s.task_stack[t], m)) for t in range(cfg.n_tasks)),
            ),
        )

    return And(*(holds(m) for m in range(1, cfg.n_memcgs)))


@INVARIANTS.add(
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
            Or(*(Eq(s.lifecycle[m], v) for v in (0, 1, 2, 3))),
            Implies(Not(Eq(s.lifecycle[m], ABSENT)), Not(Eq(s.lifecycle[p], ABSENT))),
            Implies(Eq(s.lifecycle[m], ONLINE), Eq(s.lifecycle[p], ONLINE)),
            Implies(
                And(Eq(s.lifecycle[m], ONLINE), s.hier[m]),
                And(s.use_hierarchy[p], s.use_hierarchy[m]),
            ),
        )

    return And(*(holds(m) for m in range(1, cfg.n_memcgs)))


@INVARIANTS.add(
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
            # move_charge_at_immigrate below 1 << NR_MOVE_TYPE
            s.move_charge[m] >= 0,
            s.move_charge[m] < 4,
        )

    def task(t):
        pc, ch = s.task_pc[t], s.task_charge[t]
        return And(
            Or(Eq(s.task_memcg[t], NONE), *(Eq(s.task_memcg[t], m) for m in range(n))),
            # the root memcg is never charged: a stack is charged to a child or nowhere
            Or(Eq(s.task_stack[t], NONE), *(Eq(s.task_stack[t], m) for m in range(1, n))),
            Or(*(Eq(pc, v) for v in (IDLE, KMEM_CHARGED, RES_CHARGED))),
            # a task mid-charge is in the kernel: it exists
            Implies(Not(Eq(pc, IDLE)), Not(Eq(s.task_memcg[t], NONE))),
            Eq(Eq(pc, IDLE), Eq(ch, NONE)),
            Or(Eq(ch, NONE), *(Eq(ch, m) for m in range(1, n))),
            # the order in flight is one the scope allocates; 0 while idle
            Or(*(Eq(s.task_order[t], o) for o in {0, *cfg.orders})),
            Implies(Eq(pc, IDLE), Eq(s.task_order[t], 0)),
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


@INVARIANTS.add(
    "T.links",
    "tasks sit in online memcgs (rmdir fails while a task is in one); the activation "
    "path's memcg is online and "
    "not yet active (active from set_active on, where that comes before static_key_inc); "
    "an active memcg exists",
    "cgroup core",
    kind="type",
)
def links(cfg, s):
    n = cfg.n_memcgs
    tasks = And(
        *(
            Or(Eq(s.task_memcg[t], NONE),
               *(And(Eq(s.task_memcg[t], m), Eq(s.lifecycle[m], ONLINE)) for m in range(n)))
            for t in range(cfg.n_tasks)
        )
    )
    # ACTIVE is set last, or (without active_after_key) before static_key_inc
    active_while_activating = (False if cfg.has_fix("active_after_key")
                               else Eq(s.admin_pc, KEY_INC))
    admin = And(
        *(
            Implies(
                And(Not(Eq(s.admin_pc, ADMIN_IDLE)), Eq(s.admin_memcg, m)),
                And(
                    Eq(s.lifecycle[m], ONLINE),
                    Eq(s.kmem_active[m], active_while_activating),
                    Eq(s.kmemcg_id[m] >= 0, Not(Eq(s.admin_pc, 1))),
                ),
            )
            for m in range(1, n)
        )
    )
    exist = And(*(Implies(s.kmem_active[m], Not(Eq(s.lifecycle[m], ABSENT))) for m in range(n)))
    return And(tasks, admin, exist)


@INVARIANTS.add(
    "T.mm",
    "a live task has an mm and an exited one none (its own where no thread can be "
    "forked); an mm that exists is owned by a live task using it, and one nobody uses "
    "does not exist",
    "3.8 kernel/fork.c (mm_init_owner), kernel/exit.c (exit_mm, mm_update_next_owner, "
    "mmput)",
    kind="type",
)
def mm_shape(cfg, s):
    n = cfg.n_tasks

    # without threads in scope (facts.threads_in_scope) each task's mm is its own
    mms = range(n) if threads_in_scope(cfg) else None

    def task(t):
        mm = s.task_mm[t]
        return And(Or(Eq(mm, NONE), *(Eq(mm, k) for k in (mms or (t,)))),
                   Eq(Eq(s.task_memcg[t], NONE), Eq(mm, NONE)))

    def mm(k):
        owner = s.mm_owner[k]
        used = Or(*(Eq(s.task_mm[t], k) for t in range(n)))
        return And(Or(Eq(owner, NONE), *(And(Eq(owner, u), Eq(s.task_mm[u], k))
                                         for u in range(n))),
                   Eq(Eq(owner, NONE), Not(used)))

    return And(*(task(t) for t in range(n)), *(mm(k) for k in range(n)))
