"""Tasks and their mm: spawn and fork charge a thread stack, exit leaves, the last put uncharges.

copy_process charges the new task's stack (alloc_thread_info_node with
THREADINFO_GFP_ACCOUNTED) in the forking task's context, so to the memcg of
``current->mm->owner`` (memcg_kmem_newpage_charge -> try_get_mem_cgroup_from_mm),
and places the child in the forking task's cgroup (cgroup_fork). A process gets
an mm of its own (dup_mm); a thread (CLONE_VM | CLONE_THREAD) shares its
parent's. do_exit drops the task's mm (exit_mm: mm_update_next_owner when it
owned it, mmput) and moves the task out of its cgroup; the stack stays charged
until the final put_task_struct (an RCU callback), which uncharges it from the
memcg recorded at fork, online or not. Kernel of record: 3.8 ``kernel/fork.c``,
``kernel/exit.c`` and ``mm/memcontrol.c`` (domain section 4).

mm ``k`` is the one task ``k`` created, so a task slot can be filled by a new
process only once its old mm is gone.
"""

from __future__ import annotations

from kmemcg.model import domains
from kmemcg.model.actions.kmem import memcg_charge_kmem, memcg_uncharge_kmem
from kmemcg.model.config import NONE, PAGE_SIZE
from kmemcg.model.core import Actions
from kmemcg.model.dual import And, Eq, If, Not, Or
from kmemcg.model.facts import admin_idle, kmem_accounted, owner_memcg, threads_in_scope
from kmemcg.model.res_counter import ENOMEM
from kmemcg.model.state import IDLE, ONLINE, State, replace_at, thread_pages

ACTIONS = Actions("task")


def _slot_free(s: State, t: int, process=True):
    """No task ``t`` (not forked, or exited and put) and, for a new process, no
    mm ``t`` left (a thread takes its parent's)."""
    free = And(Eq(s.task_memcg[t], NONE), Eq(s.task_stack[t], NONE))
    return And(free, Eq(s.mm_owner[t], NONE)) if process else free


def _stack_charge(cfg, s: State, t: int, m, born: State):
    """dup_task_struct's alloc_thread_info_node, charged to memcg ``m`` (a
    concrete memcg or a state term): (post, ret). Charged when ``m`` accounts
    kmem; over a limit the fork fails -ENOMEM and nothing but the failcnt
    changes; uncharged, the task is born with no stack charge."""
    post, ret = born, 0
    # a concrete memcg (spawn's, or any in concrete mode) needs its own case only;
    # the root memcg (and NONE) is never charged
    for d in ((m,) if isinstance(m, int) else range(cfg.n_memcgs)):
        if d < 1:
            continue
        charged, ok = memcg_charge_kmem(cfg, s, d, thread_pages(cfg) * PAGE_SIZE)
        with_stack = born._replace(res=charged.res, kmem=charged.kmem,
                                   task_stack=replace_at(s.task_stack, t, d))
        here = And(Eq(m, d), kmem_accounted(s, d))
        post = If(here, If(ok, with_stack, charged), post)
        ret = If(And(here, Not(ok)), -ENOMEM, ret)
    return post, ret


def _spawn_guard(cfg, s, t, m):
    """The parent is some single-threaded process of m. memcg_update_kmem_limit
    activates m only while m has no task (under cgroup_lock), so no spawn
    lands in m meanwhile."""
    activating = And(Not(admin_idle(s)), Eq(s.admin_memcg, m))
    return And(_slot_free(s, t), Eq(s.lifecycle[m], ONLINE), Not(activating))


def _spawn(cfg, s, t, m):
    """copy_process by a process of memcg m that owns its mm, then exec: a new
    single-threaded process in m with an mm of its own; the stack is charged
    to m."""
    born = s._replace(task_memcg=replace_at(s.task_memcg, t, m),
                      task_mm=replace_at(s.task_mm, t, t), mm_owner=replace_at(s.mm_owner, t, t))
    return _stack_charge(cfg, s, t, m, born)


ACTIONS.add("spawn", ("task", "memcg"), domains.tasks_non_root,
            "copy_process -> dup_task_struct -> alloc_thread_info_node (3.8), by a "
            "process of the memcg")((_spawn_guard, _spawn))


def _fork_guard(cfg, s, t, parent, thread):
    """The parent is a live task at no charge of its own (it is in copy_process);
    the child's slot is free (and, for a process, its mm slot)."""
    return And(_slot_free(s, t, not thread), Not(Eq(s.task_memcg[parent], NONE)),
               Eq(s.task_pc[parent], IDLE))


def _fork(cfg, s, t, parent, thread):
    """copy_process in task ``parent``: the stack is charged to the memcg of the
    parent's mm owner (try_get_mem_cgroup_from_mm(current->mm)), which for a
    thread moved away from its owner is not the parent's own; the child joins
    the parent's cgroup (cgroup_fork), sharing its mm (a thread) or with one of
    its own that it owns (a process, dup_mm: the COW pages stay charged where
    they are)."""
    mm = s.task_mm[parent] if thread else t
    born = s._replace(task_memcg=replace_at(s.task_memcg, t, s.task_memcg[parent]),
                      task_mm=replace_at(s.task_mm, t, mm))
    if not thread:
        born = born._replace(mm_owner=replace_at(s.mm_owner, t, t))
    return _stack_charge(cfg, s, t, owner_memcg(cfg, s, parent), born)


ACTIONS.add("fork", ("task", "parent", "thread"), domains.tasks_parents,
            "copy_process(CLONE_VM | CLONE_THREAD if a thread) -> dup_task_struct -> "
            "alloc_thread_info_node, charged to current->mm->owner's memcg (3.8)")(
    (_fork_guard, _fork))


def _exit_guard(cfg, s, t):
    return And(Not(Eq(s.task_memcg[t], NONE)), Eq(s.task_pc[t], IDLE))


def mm_update_next_owner(cfg, s: State, t: int) -> State:
    """exit_mm -> mm_update_next_owner (3.8): the mm ``t`` owns passes to another
    live user; the kernel searches children, siblings, then every thread, and
    the model takes the first user in task order (pid order). With none left,
    mmput frees the mm (its owner NONE)."""
    for k in range(cfg.n_tasks):
        nxt = NONE
        for u in reversed(range(cfg.n_tasks)):
            if u != t:
                nxt = If(Eq(s.task_mm[u], k), u, nxt)
        owned = And(Eq(s.task_mm[t], k), Eq(s.mm_owner[k], t))
        # the last user's mmput frees an mm whatever its owner field says
        last = And(Eq(s.task_mm[t], k), Not(Or(*(Eq(s.task_mm[u], k)
                                                  for u in range(cfg.n_tasks) if u != t))))
        s = s._replace(mm_owner=replace_at(s.mm_owner, k, If(Or(owned, last), nxt,
                                                             s.mm_owner[k])))
    return s


def _exit(cfg, s, t):
    """do_exit: exit_mm (mm_update_next_owner, mmput), then cgroup_exit."""
    if threads_in_scope(cfg):
        s = mm_update_next_owner(cfg, s, t)
    else:  # every live task owns its mm alone: mmput frees it
        s = s._replace(mm_owner=replace_at(s.mm_owner, t, NONE))
    return s._replace(task_memcg=replace_at(s.task_memcg, t, NONE),
                      task_mm=replace_at(s.task_mm, t, NONE)), 0


ACTIONS.add("exit", ("task",), domains.tasks,
            "do_exit -> exit_mm (mm_update_next_owner, mmput) -> cgroup_exit: the task "
            "leaves its cgroup; its stack stays charged (3.8)")((_exit_guard, _exit))


def _put_guard(cfg, s, t):
    return And(Eq(s.task_memcg[t], NONE), Not(Eq(s.task_stack[t], NONE)))


def _put_task_struct(cfg, s, t):
    """free_thread_info -> free_memcg_kmem_pages: the stack is uncharged from the
    memcg it was charged to, online or not."""
    post = s
    for m in range(1, cfg.n_memcgs):
        post = If(Eq(s.task_stack[t], m), memcg_uncharge_kmem(cfg, s, m, thread_pages(cfg) * PAGE_SIZE), post)
    return post._replace(task_stack=replace_at(s.task_stack, t, NONE)), 0


ACTIONS.add("put_task_struct", ("task",), domains.tasks,
            "__put_task_struct -> free_task -> free_thread_info (3.8)", thread="rcu")(
    (_put_guard, _put_task_struct))
