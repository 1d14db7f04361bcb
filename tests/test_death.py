"""Memcg death with kernel memory outstanding (3.8-3.10, domain section 7, W1, W2).

Through the kernel object's faces (cgroupfs, kernel, snapshot), the explorer
and the interleaver; expected values from the kernel's refcounting: rmdir
offlines a group with kmem charged, the group lingers until its kmem usage is
0 and its caches are gone, and exactly one put drops the death reference.
"""

from __future__ import annotations

from errno import EBUSY, ENOENT

import pytest
from click.testing import CliRunner

from kmemcg.conformance.adapters import PythonAdapter
from kmemcg.conformance.cli import main
from kmemcg.conformance.interleave import explore_impl
from kmemcg.conformance.mutants import MUTANTS
from kmemcg.conformance.status import Exit
from kmemcg.impl.kernel import Kernel
from kmemcg.impl.memcontrol import PAGE_SIZE
from kmemcg.model.explore import explore
from kmemcg.model.liveness import check_all
from kmemcg.model.scopes import PRESETS

STACK = 2 * PAGE_SIZE  # an order-1 thread stack (x86_64, 3.8-3.10)


def _memcg(k: Kernel, path: str) -> dict:
    return k.snapshot()["memcgs"][path]


def _lingering(k: Kernel) -> Kernel:
    """/A active (K written), a task forked into it with its stack charged, the
    task gone but its task_struct not yet put, /A removed."""
    assert k.mkdir("/A") == 0
    assert k.write("/A", "memory.kmem.limit_in_bytes", "16K") == 0
    assert k.spawn("t1", "/A") == 0
    assert k.exit("t1") == 0
    assert k.rmdir("/A") == 0
    return k


def _kernel() -> Kernel:
    return Kernel(tasks=("t1",), memcgs=("root", "A"), parents=(-1, 0), boot_tasks=False)


def test_rmdir_is_busy_with_a_task_or_an_online_child():
    k = Kernel(tasks=("t1",), memcgs=("root", "A", "B"), parents=(-1, 0, 1), boot_tasks=False)
    assert k.mkdir("/A") == 0 and k.mkdir("/A/B") == 0
    assert k.rmdir("/A") == -EBUSY  # an online child
    assert k.spawn("t1", "/A/B") == 0
    assert k.rmdir("/A/B") == -EBUSY  # a task
    assert k.memcg_state("/A/B") == "online"


def test_lingering_group_with_kernel_objects_is_freed_after_the_last_free():
    """The README's scenario: dentry-like objects outlive the group's rmdir."""
    k = Kernel(tasks=("t1",), memcgs=("root", "A"), parents=(-1, 0), roots=("dentry",))
    assert k.mkdir("/A") == 0
    assert k.write("/A", "memory.kmem.limit_in_bytes", "1M") == 0
    assert k.attach("t1", "/A") == 0
    assert k.kmem_cache_alloc("dentry", "/A") >= 0  # queues A's copy, served by the root
    k.flush_scheduled_work()
    dentry = k.kmem_cache_alloc("dentry", "/A")  # a slab charged to A
    assert dentry >= 0
    assert k.attach("t1", "/") == 0
    assert k.rmdir("/A") == 0  # kmem outstanding: offline all the same
    assert k.memcg_state("/A") == "offline"
    assert k.read("/A", "memory.kmem.usage_in_bytes") == -ENOENT  # its directory is gone
    assert _memcg(k, "/A")["kmem"]["usage"] == PAGE_SIZE
    assert k.css_free("/A") == 0  # reads PAGE_SIZE: the last uncharge will put
    k.flush_scheduled_work()  # the dead cache's destroy work: it still has a page
    assert k.mem_cgroup_free("/A") == -ENOENT and k.memcg_state("/A") == "offline"
    assert k.kmem_cache_free(dentry) == 0  # the emptied slab is released
    assert _memcg(k, "/A")["kmem"]["usage"] == 0
    assert _memcg(k, "/A")["death_puts"] == 1
    assert k.memcg_state("/A") == "offline"  # its cache still holds it
    k.flush_scheduled_work()  # destroyed: memcg_release_cache puts the last reference
    assert k.mem_cgroup_free("/A") == 0
    assert k.memcg_state("/A") == "freed"
    snap = k.snapshot()
    assert snap["memcgs"]["/A"]["kmemcg_id"] == -1 and snap["static_key"] == 0
    assert k.mkdir("/A") == 0  # a fresh group at the path
    assert k.memcg_state("/A") == "online"
    assert k.read("/A", "memory.kmem.usage_in_bytes") == "0\n"
    assert k.read("/A", "memory.kmem.limit_in_bytes") == f"{(1 << 63) - 1}\n"
    assert not k.snapshot()["memcgs"]["/A"]["kmem_active"]


def _run(gen):
    """The actions a path's generator yields, to its end."""
    return [step.action for step in gen]


@pytest.mark.parametrize("order", ["uncharge_first", "between", "uncharge_last"])
def test_every_order_of_the_last_uncharge_against_css_free_puts_once(order):
    """W1 (a), (b), (c): the last uncharge before mark_dead, between mark_dead and
    the usage read, and after the read."""
    k = _lingering(_kernel())
    assert _memcg(k, "/A")["kmem"]["usage"] == STACK
    if order == "uncharge_first":
        assert k.put_task_struct("t1") == 0
        assert _memcg(k, "/A")["death_puts"] == 0  # not dead yet: no put
    css = k.steps.css_free("/A")
    assert next(css).action == "css_free.mark_dead"
    if order == "between":
        assert k.put_task_struct("t1") == 0
        assert _memcg(k, "/A")["death_puts"] == 1  # the uncharge's test_and_clear put
    assert next(css).action == "css_free.read_usage"
    rest = _run(css)
    assert rest == ([] if order == "uncharge_last" else ["css_free.put"])
    if order == "uncharge_last":
        assert k.memcg_state("/A") == "offline"
        assert k.put_task_struct("t1") == 0
    assert _memcg(k, "/A")["death_puts"] == 1
    assert not _memcg(k, "/A")["kmem_dead"]
    assert k.mem_cgroup_free("/A") == 0 and k.memcg_state("/A") == "freed"


def test_model_puts_once_in_every_interleaving_and_the_reference_reaches_its_states():
    cfg = PRESETS["death"]
    model = explore(cfg)
    assert model.violation is None and not check_all(model)
    assert max(s.death_puts[1] for s in model.states) == 1
    # the uncharge's put lands after mark_dead, before the read (read_usage) and so
    # before the test_and_clear it makes fail; or css_free is done
    put_at = {s.destroy_pc[1] for s in model.states if s.death_puts[1] == 1}
    assert put_at == {1, 2, 3}
    impl = explore_impl(cfg)
    assert impl.problem is None and impl.complete
    assert impl.states == set(model.states)


def test_w2_dead_parent_is_never_freed_and_the_fix_frees_it():
    runner = CliRunner()
    broken = runner.invoke(main, ["explore", "--config", "death-hier",
                                  "--profile", "w2_dead_parent_leak"])
    assert broken.exit_code == Exit.VIOLATION, broken.output
    assert "LIVENESS L2.offline_memcg_freed" in broken.output
    assert "mem_cgroup_free(memcg=C)" in broken.output  # the child goes, P stays
    fixed = runner.invoke(main, ["explore", "--config", "death-hier"])
    assert fixed.exit_code == Exit.OK, fixed.output


def test_w2_on_the_reference_kernel():
    """Parent and child both dead, the parent's usage read non-zero: the child's
    last uncharge frees the child; the parent is freed only with the fix."""
    for fixes, parent_freed in ((None, True), (frozenset(), False)):
        kw = {} if fixes is None else {"fixes": fixes}
        k = Kernel(tasks=("t1",), memcgs=("root", "P", "C"), parents=(-1, 0, 1),
                   boot_tasks=False, **kw)
        assert k.mkdir("/P") == 0
        assert k.write("/P", "memory.use_hierarchy", "1") == 0
        assert k.write("/P", "memory.kmem.limit_in_bytes", "16K") == 0
        assert k.mkdir("/P/C") == 0  # inherits the activation
        assert k.spawn("t1", "/P/C") == 0 and k.exit("t1") == 0
        assert k.rmdir("/P/C") == 0 and k.rmdir("/P") == 0
        assert k.css_free("/P") == -EBUSY  # the child's css_free comes first
        assert k.css_free("/P/C") == 0 and k.css_free("/P") == 0
        assert k.put_task_struct("t1") == 0
        assert _memcg(k, "/P")["kmem"]["usage"] == 0
        assert k.mem_cgroup_free("/P/C") == 0
        assert (k.mem_cgroup_free("/P") == 0) is parent_freed
        assert k.memcg_state("/P") == ("freed" if parent_freed else "offline")


def test_double_put_at_death_is_killed_by_the_interleaving():
    m = MUTANTS["double_put_at_death"]
    cfg = PRESETS[m.interleave]
    r = explore_impl(cfg, make=lambda: PythonAdapter(m.kernel.for_config(cfg), name=m.name))
    assert r.problem is not None and "kmem_dead" in r.problem
