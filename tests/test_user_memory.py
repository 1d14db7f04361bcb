"""User memory and reclaim at U (issue 9, "User memory and reclaim"): anonymous pages
owned by the mm, page cache owned by the group, reclaim of page cache before -ENOMEM,
K < U against K >= U, and force_empty with user pages."""

import errno

from kmemcg.conformance.adapters import PythonAdapter
from kmemcg.conformance.interleave import explore_impl
from kmemcg.conformance.mutants import MUTANTS
from kmemcg.impl.kernel import Kernel
from kmemcg.model import explore, prove
from kmemcg.model.scopes import PRESETS

PAGE = 4096


def _group(k_text=None, u_text=None):
    """/A with a task attached, U and K written as given (K written activates)."""
    k = Kernel(("t1",))
    assert k.mkdir("/A") == 0
    if k_text is not None:
        assert k.write("/A", "memory.kmem.limit_in_bytes", k_text) == 0
    if u_text is not None:
        assert k.write("/A", "memory.limit_in_bytes", u_text) == 0
    assert k.attach("t1", "/A") == 0
    return k


def _read(k, file, path="/A"):
    return int(k.read(path, file))


def test_a_kernel_charge_at_u_reclaims_page_cache_when_k_is_at_least_u():
    k = _group(k_text="16k", u_text="8k")  # K >= U
    assert k.read_file("t1") == 0 and k.read_file("t1") == 0  # /A at U, all page cache
    assert k.snapshot()["memcgs"]["/A"]["page_cache"] == 2
    assert k.alloc_kmem_page("t1") >= 0  # res is full: reclaim makes room
    snap = k.snapshot()["memcgs"]["/A"]
    assert snap["page_cache"] == 0 and snap["kmem_pages"] == 1
    assert _read(k, "memory.usage_in_bytes") == PAGE
    assert _read(k, "memory.failcnt") == 1  # the try before the reclaim
    assert _read(k, "memory.kmem.failcnt") == 0


def test_a_kmem_charge_over_k_fails_at_once_when_k_is_below_u():
    k = _group(k_text="4k", u_text="16k")  # K < U
    assert k.read_file("t1") == 0
    assert k.alloc_kmem_page("t1") >= 0
    assert k.alloc_kmem_page("t1") == -errno.ENOMEM  # over K: no reclaim
    snap = k.snapshot()["memcgs"]["/A"]
    assert snap["page_cache"] == 1 and _read(k, "memory.kmem.failcnt") == 1
    assert _read(k, "memory.failcnt") == 0


def test_anonymous_pages_are_not_reclaimed_and_go_with_the_mm():
    k = _group(u_text="8k")
    assert k.fault_anon("t1") == 0 and k.fault_anon("t1") == 0
    assert k.fault_anon("t1") == -errno.ENOMEM  # no page cache, no swap
    assert k.snapshot()["mms"]["t1"]["anon"] == {"/A": 2}
    assert k.exit("t1") == 0  # the last user's mmput frees them
    assert _read(k, "memory.usage_in_bytes") == 0 and k.snapshot()["mms"]["t1"]["anon"] == {}


def test_page_cache_outlives_the_task_that_read_it():
    k = _group()
    assert k.read_file("t1") == 0 and k.exit("t1") == 0
    assert k.snapshot()["memcgs"]["/A"]["page_cache"] == 1
    assert _read(k, "memory.usage_in_bytes") == PAGE


def test_reclaim_takes_the_failing_ancestors_subtree():
    k = Kernel(("t1", "t2"))
    assert k.write("/", "memory.use_hierarchy", "1") == 0
    for path in ("/P", "/P/C1", "/P/C2"):
        assert k.mkdir(path) == 0
    assert k.write("/P", "memory.limit_in_bytes", "8k") == 0
    assert k.attach("t1", "/P/C1") == 0 and k.attach("t2", "/P/C2") == 0
    assert k.read_file("t1") == 0 and k.read_file("t1") == 0  # C1's cache fills P's U
    assert k.fault_anon("t2") == 0  # fails at P: P's subtree (C1 too) is reclaimed
    assert k.snapshot()["memcgs"]["/P/C1"]["page_cache"] == 0
    assert _read(k, "memory.usage_in_bytes", "/P") == PAGE


def test_force_empty_frees_page_cache_and_moves_anonymous_pages_to_the_parent():
    k = Kernel(("t1", "t2"))
    assert k.write("/", "memory.use_hierarchy", "1") == 0
    assert k.mkdir("/P") == 0 and k.mkdir("/P/C") == 0
    assert k.attach("t1", "/P/C") == 0
    assert k.read_file("t1") == 0 and k.fault_anon("t1") == 0
    assert k.write("/P/C", "memory.force_empty", "0") == -errno.EBUSY  # a task is in it
    assert k.attach("t1", "/P") == 0
    assert k.write("/P/C", "memory.force_empty", "whatever") == 0  # the text is ignored
    snap = k.snapshot()
    assert snap["memcgs"]["/P/C"]["user_pages"] == 0 and snap["mms"]["t1"]["anon"] == {"/P": 1}
    assert snap["memcgs"]["/P"]["page_cache"] == 0  # freed by the reclaim loop, not moved
    assert k.write("/", "memory.force_empty", "0") == -errno.EINVAL


def test_the_page_cache_preset_explores_and_proves():
    r = explore.explore(PRESETS["page-cache"])
    assert r.ok and r.distinct == 29669  # 25,348 before the limit write reclaimed
    assert prove.prove(PRESETS["page-cache"]).ok


def test_no_reclaim_before_enomem_is_caught_by_the_interleaving():
    cfg = PRESETS["page-cache"]
    m = MUTANTS["no_reclaim_before_enomem"]
    r = explore_impl(cfg, make=lambda: PythonAdapter(m.kernel.for_config(cfg)))
    assert r.problem is not None and "-12" in r.problem, r.problem


def test_a_limit_write_below_the_usage_reclaims_page_cache_then_sets_the_limit():
    k = _group(k_text="1M")
    assert [k.read_file("t1") for _ in range(3)] == [0, 0, 0]
    assert k.write("/A", "memory.limit_in_bytes", "8k") == 0  # mem_cgroup_resize_limit
    assert k.snapshot()["memcgs"]["/A"]["page_cache"] == 0  # one pass frees all three
    assert _read(k, "memory.usage_in_bytes") == 0
    assert _read(k, "memory.limit_in_bytes") == 2 * PAGE
    assert _read(k, "memory.failcnt") == 0  # a limit write counts no failure


def test_a_limit_write_below_unreclaimable_usage_is_ebusy_with_the_page_cache_gone():
    k = _group(k_text="1M")
    assert k.alloc_kmem_page("t1") >= 0 and k.fault_anon("t1") == 0  # never reclaimed
    assert k.read_file("t1") == 0 and k.read_file("t1") == 0
    assert _read(k, "memory.usage_in_bytes") == 4 * PAGE
    assert k.write("/A", "memory.limit_in_bytes", "4k") == -errno.EBUSY
    snap = k.snapshot()["memcgs"]["/A"]
    assert snap["page_cache"] == 0 and snap["kmem_pages"] == 1  # reclaimed, not given back
    assert _read(k, "memory.usage_in_bytes") == 2 * PAGE
    assert _read(k, "memory.limit_in_bytes") == (1 << 63) - 1  # unchanged
    assert k.write("/A", "memory.limit_in_bytes", "8k") == 0  # now it fits


def test_a_limit_write_reclaims_the_hierarchy_below_the_group():
    k = Kernel(("t1",))
    assert k.mkdir("/P") == 0
    assert k.write("/P", "memory.use_hierarchy", "1") == 0
    assert k.mkdir("/P/C") == 0 and k.attach("t1", "/P/C") == 0
    assert k.read_file("t1") == 0 and k.read_file("t1") == 0  # C's, charged to P too
    assert k.write("/P", "memory.limit_in_bytes", "4k") == 0  # P's tree: C's page cache
    assert k.snapshot()["memcgs"]["/P/C"]["page_cache"] == 0
    assert _read(k, "memory.usage_in_bytes", "/P") == 0


def test_resize_limit_without_reclaim_is_caught_by_the_interleaving():
    cfg = PRESETS["page-cache"]
    m = MUTANTS["resize_limit_without_reclaim"]
    r = explore_impl(cfg, make=lambda: PythonAdapter(m.kernel.for_config(cfg)))
    assert r.problem is not None and "limit.write" in r.problem, r.problem
