"""Step properties: relations between a state and its successor (TLA+'s [][P]_vars)."""

from __future__ import annotations

from kmemcg.model.config import NONE
from kmemcg.model.core import Invariants
from kmemcg.model.dual import And, Eq, Implies, Not
from kmemcg.model.facts import has_children, tasks_in
from kmemcg.model.state import MEMCG_FREED

INVARIANTS = Invariants()


def _all_memcgs(cfg, fn):
    return And(*(fn(m) for m in range(cfg.n_memcgs)))


@INVARIANTS.add(
    "S.activation_monotone",
    "kmem accounting, once active, is never deactivated while the memcg lives",
    "domain 3: no code path clears KMEM_ACCOUNTED_ACTIVE (__mem_cgroup_free frees it)",
    kind="step",
)
def active_monotone(cfg, pre, post):
    return _all_memcgs(cfg, lambda m: Implies(And(pre.kmem_active[m],
                                                  Not(Eq(post.lifecycle[m], MEMCG_FREED))),
                                              post.kmem_active[m]))


@INVARIANTS.add(
    "S.activation_when_empty",
    "a memcg turns kmem-active only with no tasks and no hierarchical children",
    "domain 12 I6",
    kind="step",
)
def activation_when_empty(cfg, pre, post):
    def holds(m):
        turns = And(Not(pre.kmem_active[m]), post.kmem_active[m])
        # a second administrator may attach after the write's check
        no_tasks = True if cfg.second_admin else Eq(tasks_in(cfg, pre, m), 0)
        return Implies(turns, And(no_tasks, Not(has_children(cfg, pre, m))))

    return _all_memcgs(cfg, holds)


@INVARIANTS.add(
    "S.thread_stack_to_owner",
    "a new thread's stack is charged to the memcg its mm's owner was in, not to the "
    "forking thread's own",
    "3.8 copy_process -> alloc_thread_info_node -> memcg_kmem_newpage_charge -> "
    "try_get_mem_cgroup_from_mm(current->mm)",
    kind="step",
)
def thread_stack_to_owner(cfg, pre, post):
    n = cfg.n_tasks

    def holds(t):
        born = And(Eq(pre.task_memcg[t], NONE), Not(Eq(post.task_memcg[t], NONE)),
                   Not(Eq(post.task_stack[t], NONE)))
        return And(*(Implies(And(born, Eq(post.task_mm[t], k), Eq(pre.mm_owner[k], u)),
                             Eq(post.task_stack[t], pre.task_memcg[u]))
                     for k in range(n) for u in range(n)))

    return And(*(holds(t) for t in range(n)))
