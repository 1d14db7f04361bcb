"""Tasks and their mm: spawn, fork of a thread or a process, the mm owner's group
charged for a stack, exit passing ownership on (issue 9, "Tasks and address spaces")."""

import errno

from kmemcg.conformance.adapters import PythonAdapter
from kmemcg.conformance.interleave import explore_impl
from kmemcg.conformance.mutants import MUTANTS
from kmemcg.impl.kernel import Kernel
from kmemcg.model import explore
from kmemcg.model.controller import MODEL
from kmemcg.model.scopes import PRESETS

PAGE = 4096
STACK = 2 * PAGE  # THREAD_SIZE on x86_64, 3.8-3.10


def _kernel(**kw):
    """/A kmem-active with a limit of two stacks, three task slots free."""
    kw.setdefault("kmem_limit", 2 * STACK)
    return Kernel(("t1", "t2", "t3"), memcgs=("root", "A"), parents=(-1, 0), boot_memcgs=True,
                  boot_tasks=False, **kw)


def _usage(k, path="/A"):
    return int(k.read(path, "memory.kmem.usage_in_bytes"))


def test_a_threads_stack_goes_to_its_mm_owners_group_not_its_own():
    k = _kernel()
    assert k.spawn("t1", "/A") == 0 and _usage(k) == STACK
    assert k.fork("t2", "t1", thread=True) == 0
    snap = k.snapshot()
    assert snap["tasks"]["t2"]["mm"] == "t1" and snap["mms"]["t1"]["owner"] == "t1"
    # the thread leaves for the root group, and forks: its mm's owner is still in /A
    assert k.attach("t2", "/") == 0
    assert k.fork("t3", "t2") == -errno.ENOMEM  # /A holds two stacks: its limit
    assert "t3" not in k.snapshot()["tasks"] or k.snapshot()["tasks"]["t3"]["memcg"] is None
    assert int(k.read("/A", "memory.kmem.failcnt")) == 1
    assert k.exit("t1") == 0  # the owner leaves: t2, in the root group, owns the mm now
    assert k.snapshot()["mms"]["t1"]["owner"] == "t2"
    assert k.fork("t3", "t2", thread=True) == 0 and _usage(k) == 2 * STACK  # the root: uncharged
    assert k.snapshot()["tasks"]["t3"]["stack"] is None


def test_the_last_user_frees_the_mm_and_the_stack_waits_for_the_last_put():
    k = _kernel()
    assert k.spawn("t1", "/A") == 0 and k.fork("t2", "t1", thread=True) == 0
    assert k.exit("t1") == 0 and k.exit("t2") == 0
    assert k.snapshot()["mms"]["t1"]["owner"] is None
    assert _usage(k) == 2 * STACK  # both stacks stay charged until the final puts
    assert k.put_task_struct("t1") == 0 and k.put_task_struct("t2") == 0 and _usage(k) == 0


def test_fork_refuses_what_the_kernel_would():
    k = _kernel()
    assert k.fork("t2", "t1") == -errno.ESRCH  # no such parent
    assert k.spawn("t1", "/A") == 0
    assert k.fork("t1", "t1") == -errno.EEXIST  # the pid is taken
    assert k.fork("t2", "t1", thread="yes") == -errno.EINVAL


def test_fork_bomb_stops_at_the_kmem_limit_while_another_group_still_forks():
    k = Kernel(("p", "c1", "c2", "q", "d1"), memcgs=("root", "A", "B"), parents=(-1, 0, 0),
               boot_memcgs=True, boot_tasks=False, kmem_limit=2 * STACK)
    assert k.spawn("p", "/A") == 0 and k.spawn("q", "/B") == 0
    assert k.fork("c1", "p") == 0
    assert k.fork("c2", "p") == -errno.ENOMEM  # /A's K is two stacks
    assert k.fork("d1", "q") == 0  # /B is not /A
    assert _usage(k, "/A") == 2 * STACK and _usage(k, "/B") == 2 * STACK


def test_the_tasks_preset_explores_and_the_implementation_reaches_the_same_states():
    r = explore.explore(PRESETS["tasks"])
    assert r.ok and r.distinct == 9991
    assert "S.thread_stack_to_owner" in MODEL.invariants


def test_a_stack_charged_to_the_forking_thread_is_caught_by_the_interleaving():
    cfg = PRESETS["tasks"]
    m = MUTANTS["stack_charged_to_forking_thread"]
    r = explore_impl(cfg, make=lambda: PythonAdapter(m.kernel.for_config(cfg)))
    assert r.problem is not None and "fork" in r.problem, r.problem
