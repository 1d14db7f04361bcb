"""The objects a root cache serves itself, through the public faces (3.8-3.10).

memcg_kmem_get_cache keeps the root cache for an allocation in a context the
kernel never charges (__GFP_NOFAIL, in_interrupt(), !current->mm or
PF_KTHREAD, fatal_signal_pending) and for the one allocation that queues a
group's copy; /proc/slabinfo's line for the root counts those objects, on the
root's own slabs, plus every per-memcg copy's (memcg_accumulate_slabinfo). The
numbers below are worked out by hand from those rules, not read off the code.
"""

from dataclasses import replace

import pytest

from kmemcg.conformance.adapters import PythonAdapter
from kmemcg.conformance.harness import abstract_state, memcg_paths
from kmemcg.conformance.interleave import explore_impl
from kmemcg.conformance.mutants import MUTANTS
from kmemcg.impl.kernel import Kernel
from kmemcg.impl.sched import run
from kmemcg.model.config import NONE, ROOT, Config
from kmemcg.model.explore import explore
from kmemcg.model.scopes import PRESETS
from kmemcg.model.slabinfo import expect_memcg_slabinfo, expect_proc_slabinfo

#: A and B kmem-limited at boot, one root cache of one-page slabs of two
#: objects, the root's own objects kept
TWO_GROUPS = Config(name="two-groups-root", memcgs=("root", "A", "B"),
                    parents=(NONE, ROOT, ROOT), tasks=("t1",), roots=("dentry",),
                    objs_per_slab=2, boot_memcgs=True, max_pages=0, max_cache_pages=4,
                    root_objects=True).validate()


def _line(text, name="dentry"):
    (line,) = [x for x in text.splitlines() if x.split(" ", 1)[0] == name]
    return line


def _model(k, cfg):
    s = abstract_state(cfg, memcg_paths(cfg), k.snapshot())
    return expect_proc_slabinfo(cfg, s), [expect_memcg_slabinfo(cfg, s, m)
                                          for m in range(1, cfg.n_memcgs)]


def _fill(k, cfg=TWO_GROUPS):
    """A's copy gets 20 objects, B's 13: 33 in the copies; the first allocation
    of each group queues its copy and is served by the root: 2 on the root's own."""
    for path, n in (("/A", 20), ("/B", 13)):
        assert k.kmem_cache_alloc("dentry", path) >= 0  # the root serves it, queues the copy
        k.flush_scheduled_work()
        for _ in range(n):
            assert k.kmem_cache_alloc("dentry", path) >= 0
    return k


def test_the_root_line_counts_its_own_objects_35_not_33():
    k = _fill(Kernel.for_config(TWO_GROUPS))
    # the copies: A 20 objects on 10 full slabs, B 13 on 7 slabs (one half full);
    # the root's own: 2 objects on one slab (the second fills the first's slab)
    assert _line(k.read("/A", "memory.kmem.slabinfo")) == "dentry 20 20 2 1 : slabdata 10 10"
    assert _line(k.read("/B", "memory.kmem.slabinfo")) == "dentry 13 14 2 1 : slabdata 7 7"
    assert _line(k.proc_slabinfo()) == "dentry 35 36 2 1 : slabdata 18 18"
    proc, mine = _model(k, TWO_GROUPS)
    assert k.proc_slabinfo() == proc
    assert [k.read(p, "memory.kmem.slabinfo") for p in ("/A", "/B")] == mine
    # the root's slab is never charged: A's and B's kmem is their copies' pages
    snap = k.snapshot()
    assert [snap["memcgs"][p]["kmem"]["usage"] for p in ("/A", "/B")] == [10 * 4096, 7 * 4096]
    assert snap["roots"]["dentry"]["slabs"] == [0, 0, 1]


def test_a_scope_that_forgets_root_objects_shows_33():
    cfg = replace(TWO_GROUPS, name="forgets", root_objects=False)
    k = _fill(Kernel.for_config(cfg))
    assert _line(k.proc_slabinfo()) == "dentry 33 34 2 1 : slabdata 17 17"
    assert k.proc_slabinfo() == _model(k, cfg)[0]
    assert "slabs" not in k.snapshot()["roots"]["dentry"]


@pytest.mark.parametrize("context", ["interrupt", "nofail", "kthread", "fatal_signal"])
def test_a_context_never_charged_is_served_by_the_root_and_queues_nothing(context):
    k = Kernel.for_config(TWO_GROUPS)
    assert k.attach("t1", "/A") == 0
    steps = run(k.steps.kmem_cache_alloc("dentry", "/A", context=context, task="t1"))[1]
    assert [(s.action, s.args) for s in steps] == [
        ("alloc.root", {"root": "dentry", "context": context, "object": 0, "slab": 0})]
    assert k.wq.queue == []  # no creation work: memcg_kmem_get_cache returned the root
    a = k.snapshot()["memcgs"]["/A"]
    assert a["kmem"]["usage"] == 0 and a["res"]["usage"] == 0
    assert _line(k.proc_slabinfo()) == "dentry 1 2 2 1 : slabdata 1 1"
    assert k.read("/A", "memory.kmem.slabinfo").splitlines()[2:] == []  # A has no copy
    # the same task in no such context queues A's copy (and the root serves that one too)
    assert k.kmem_cache_alloc("dentry", task="t1") == 1 and len(k.wq.queue) == 1
    assert _line(k.proc_slabinfo()) == "dentry 2 2 2 1 : slabdata 1 1"
    assert k.proc_slabinfo() == _model(k, TWO_GROUPS)[0]


@pytest.mark.parametrize("flags, context", [({"kthread": True}, "kthread"),
                                            ({"has_mm": False}, "kthread"),
                                            ({"fatal_signal": True}, "fatal_signal")])
def test_the_tasks_own_flags_are_contexts_too(flags, context):
    k = Kernel.for_config(TWO_GROUPS)
    assert k.attach("t1", "/B") == 0 and k.set_task_flags("t1", **flags) == 0
    steps = run(k.steps.kmem_cache_alloc("dentry", task="t1"))[1]
    assert [s.args.get("context") for s in steps] == [context] and k.wq.queue == []


def test_a_group_that_cannot_account_kmem_is_served_by_the_root():
    k = Kernel.for_config(TWO_GROUPS)
    steps = run(k.steps.kmem_cache_alloc("dentry", "/"))[1]  # the root memcg never accounts
    assert [(s.action, s.args["context"]) for s in steps] == [("alloc.root", "unaccounted")]
    assert _line(k.proc_slabinfo()) == "dentry 1 2 2 1 : slabdata 1 1"


def test_bad_contexts_and_tasks_are_refused_and_change_nothing():
    k = Kernel.for_config(TWO_GROUPS)
    before = k.snapshot()
    assert k.kmem_cache_alloc("dentry", "/A", context="softirq") == -22
    assert k.kmem_cache_alloc("dentry", "/A", context="unaccounted") == -22  # derived only
    assert k.kmem_cache_alloc("dentry", task="nobody") == -3
    assert k.kmem_cache_alloc("dentry", "/B", task="t1") == -22  # t1 is in the root memcg
    assert k.snapshot() == before


def test_a_root_object_is_freed_from_the_roots_own_slab_and_uncharges_nothing():
    k = Kernel.for_config(TWO_GROUPS)
    objects = [k.kmem_cache_alloc("dentry", "/A", context="interrupt") for _ in range(3)]
    assert objects == [0, 1, 2]  # 0 and 1 fill the first slab, 2 starts a second
    assert _line(k.proc_slabinfo()) == "dentry 3 4 2 1 : slabdata 2 2"
    assert k.kmem_cache_free(objects[0]) == 0  # the full slab keeps its page
    assert _line(k.proc_slabinfo()) == "dentry 2 4 2 1 : slabdata 2 2"
    assert k.kmem_cache_free(objects[2]) == 0  # its slab empties and is released
    assert _line(k.proc_slabinfo()) == "dentry 1 2 2 1 : slabdata 1 1"
    assert k.kmem_cache_free(objects[2]) == -2  # no longer in use
    # the face before handles: an object of the root's own on a slab of one
    assert k.kmem_cache_free(root="dentry", path="/", fill=2) == -2  # no slab holds two
    assert k.kmem_cache_free(root="dentry", path="/", fill=1, release=False) == 0
    assert _line(k.proc_slabinfo()) == "dentry 0 2 2 1 : slabdata 0 1"
    assert k.proc_slabinfo() == _model(k, TWO_GROUPS)[0]
    assert all(m["kmem"]["usage"] == 0 for m in k.snapshot()["memcgs"].values())


def test_the_root_objects_preset_explores_and_interleaves_alike():
    cfg = PRESETS["root-objects"].validate()
    model = explore(cfg)
    assert model.ok and model.distinct == 1521
    # some reachable state holds a root-served object beside a charged copy
    own = [s for s in model.states if sum(s.slabs[0][1:]) and s.kmem[1].usage]
    assert own
    r = explore_impl(cfg)
    assert r.problem is None and r.states == set(model.states)


def test_interrupt_charged_is_killed_by_the_interleaving():
    m = MUTANTS["interrupt_charged"]
    cfg = PRESETS[m.interleave]
    r = explore_impl(cfg, make=lambda: PythonAdapter(m.kernel.for_config(cfg), name=m.name))
    assert r.problem is not None and "alloc.root" in r.problem
