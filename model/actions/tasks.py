"""Tasks: fork charges a thread stack, exit leaves the cgroup, the last put uncharges.

copy_process charges the new task's stack (alloc_thread_info_node with
THREADINFO_GFP_ACCOUNTED) to its memcg; do_exit moves the task out of its
cgroup, and the stack stays charged until the final put_task_struct (an RCU
callback), which uncharges it from the memcg recorded at fork, online or not.
Kernel of record: 3.8 ``kernel/fork.c`` and ``mm/memcontrol.c`` (domain
section 4).
"""

from __future__ import annotations

from kmemcg.model import domains
from kmemcg.model.actions.kmem import memcg_charge_kmem, memcg_uncharge_kmem
from kmemcg.model.config import NONE, PAGE_SIZE
from kmemcg.model.core import Actions
from kmemcg.model.dual import And, Eq, If, Not
from kmemcg.model.facts import admin_idle, kmem_accounted
from kmemcg.model.res_counter import ENOMEM
from kmemcg.model.state import IDLE, ONLINE, replace_at, thread_pages

ACTIONS = Actions("task")



def _fork_guard(cfg, s, t, m):
    """The parent is some task of m. memcg_update_kmem_limit activates m only
    while m has no task (under cgroup_lock), so no fork lands in m meanwhile."""
    activating = And(Not(admin_idle(s)), Eq(s.admin_memcg, m))
    return And(Eq(s.task_memcg[t], NONE), Eq(s.task_stack[t], NONE), Eq(s.lifecycle[m], ONLINE),
               Not(activating))


def _fork(cfg, s, t, m):
    """copy_process in a task of memcg m: the stack is charged when the memcg
    accounts kmem; over a limit fork fails -ENOMEM and nothing but the
    failcnt changes."""
    charged, ok = memcg_charge_kmem(cfg, s, m, thread_pages(cfg) * PAGE_SIZE)
    born = s._replace(task_memcg=replace_at(s.task_memcg, t, m))
    with_stack = charged._replace(task_memcg=born.task_memcg,
                                  task_stack=replace_at(s.task_stack, t, m))
    accounted = kmem_accounted(s, m)
    post = If(accounted, If(ok, with_stack, charged), born)
    return post, If(And(accounted, Not(ok)), -ENOMEM, 0)


ACTIONS.add("fork", ("task", "memcg"), domains.tasks_non_root,
            "copy_process -> dup_task_struct -> alloc_thread_info_node (3.8)")(
    (_fork_guard, _fork))


def _exit_guard(cfg, s, t):
    return And(Not(Eq(s.task_memcg[t], NONE)), Eq(s.task_pc[t], IDLE))


def _exit(cfg, s, t):
    return s._replace(task_memcg=replace_at(s.task_memcg, t, NONE)), 0


ACTIONS.add("exit", ("task",), domains.tasks,
            "do_exit -> cgroup_exit: the task leaves its cgroup; its stack stays "
            "charged (3.8)")((_exit_guard, _exit))


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
