"""Step properties: relations between a state and its successor (TLA+'s [][P]_vars)."""

from __future__ import annotations

from kmemcg.model.config import NONE
from kmemcg.model.core import Invariants
from kmemcg.model.dual import And, Eq, Implies, Not, Or, Sum
from kmemcg.model.facts import has_children, immigrate_in_scope, moves_anon, owns_mm, tasks_in
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


@INVARIANTS.add(
    "S.anon_only_at_mmput",
    "an mm's anonymous pages are never reclaimed (no swap): their number falls only "
    "when the mm goes with its last user",
    "3.8 shrink_page_list without swap; mmput -> exit_mmap",
    kind="step",
)
def anon_only_at_mmput(cfg, pre, post):
    def holds(k):
        before = Sum(pre.mm_anon[k])
        after = Sum(post.mm_anon[k])
        return Implies(after < before, Eq(post.mm_owner[k], NONE))

    return And(*(holds(k) for k in range(cfg.n_tasks)))


@INVARIANTS.add(
    "S.immigrate_moves_owner_anon",
    "a task's move between groups moves no kernel charge (kmem counters, committed "
    "pages, thread stacks), and anonymous pages only where the destination's "
    "move_charge_at_immigrate has bit 0 and the task owns its mm: its mm's pages, "
    "from the old group to the new",
    "3.8 mem_cgroup_can_attach (mm->owner == p), get_mctgt_type (pc->mem_cgroup == "
    "mc.from, mapped pages only), mem_cgroup_move_account",
    kind="step",
)
def immigrate_moves_owner_anon(cfg, pre, post):
    n_t, n_m = cfg.n_tasks, cfg.n_memcgs

    def holds(t):
        src, dst = pre.task_memcg[t], post.task_memcg[t]
        moved = And(Not(Eq(src, NONE)), Not(Eq(dst, NONE)), Not(Eq(src, dst)))
        kernel = And(*(Eq(post.kmem[m].usage, pre.kmem[m].usage) for m in range(n_m)),
                     *(Eq(post.kmem_pages[m], pre.kmem_pages[m]) for m in range(n_m)),
                     *(Eq(post.task_stack[u], pre.task_stack[u]) for u in range(n_t)))
        if not immigrate_in_scope(cfg):
            return Implies(moved, kernel)
        may = [And(moves_anon(pre, m), owns_mm(cfg, pre, t), Eq(dst, m)) for m in range(n_m)]
        anon = And(*(Implies(Not(Eq(post.mm_anon[k][d], pre.mm_anon[k][d])),
                             And(Or(*may), Eq(pre.task_mm[t], k), Or(Eq(d, src), Eq(d, dst))))
                     for k in range(n_t) for d in range(n_m)))
        return Implies(moved, And(kernel, anon))

    return And(*(holds(t) for t in range(n_t)))
