"""The root's memory.usage_in_bytes, through the harness (every read is compared
with the face spec, so the model and the reference must agree), with the numbers
derived by hand from the kernel's rule: mem_cgroup_usage(root) (3.8-3.10
mm/memcontrol.c) is MEM_CGROUP_STAT_CACHE + MEM_CGROUP_STAT_RSS summed over
for_each_mem_cgroup_tree(root), and mem_cgroup_iter walks the root's whole tree
whatever its use_hierarchy. Kernel pages are committed without touching those
statistics, so they never show there; every other group shows its res counter.
"""

from kmemcg.conformance.adapters import PythonAdapter
from kmemcg.conformance.harness import Harness
from kmemcg.impl.kernel import Kernel
from kmemcg.model.scopes import PRESETS

CFG = PRESETS["conformance"]  # root, A, A/B; tasks t1, t2 in the root
PAGE = 4096


def harness() -> Harness:
    return Harness(PythonAdapter(Kernel.for_config(CFG)), CFG)


def usage(h: Harness, path: str) -> int:
    return int(h.read(path, "memory.usage_in_bytes"))


def user_pages(h: Harness, task: str, n: int) -> list[int]:
    pfns = [h.run("alloc_user", {"task": task}) for _ in range(n)]
    assert all(pfn >= 0 for pfn in pfns)
    return pfns


def test_a_childs_pages_show_in_the_root_without_hierarchy():
    h = harness()
    h.run("mkdir", {"path": "/A"})
    h.run("attach", {"task": "t1", "path": "/A"})
    user_pages(h, "t1", 10)
    assert h.read("/", "memory.use_hierarchy") == "0\n"
    assert usage(h, "/A") == 10 * PAGE
    assert usage(h, "/") == 10 * PAGE  # the root's walk ignores its use_hierarchy
    # its counter was never charged: A's counters have no parent
    assert int(h.read("/", "memory.max_usage_in_bytes")) == 0


def test_the_root_sums_the_whole_tree_at_every_depth():
    h = harness()
    h.run("mkdir", {"path": "/A"})
    h.run("write", {"path": "/A", "file": "memory.use_hierarchy", "text": "1"})
    h.run("mkdir", {"path": "/A/B"})
    h.run("attach", {"task": "t1", "path": "/A/B"})
    user_pages(h, "t1", 3)
    user_pages(h, "t2", 2)  # t2 is still in the root
    assert usage(h, "/A/B") == 3 * PAGE
    assert usage(h, "/A") == 3 * PAGE  # B charges A's counter under A's use_hierarchy
    assert usage(h, "/") == 5 * PAGE  # the root's own 2 and B's 3


def test_kernel_pages_never_show_in_the_root_even_when_its_counter_holds_them():
    h = harness()
    h.run("write", {"path": "/", "file": "memory.use_hierarchy", "text": "1"})
    h.run("mkdir", {"path": "/A"})
    h.run("write", {"path": "/A", "file": "memory.kmem.limit_in_bytes", "text": "1M"})
    h.run("attach", {"task": "t1", "path": "/A"})
    assert h.run("alloc_kmem", {"task": "t1"}) >= 0
    assert h.run("alloc_kmem", {"task": "t1"}) >= 0
    user_pages(h, "t1", 1)
    assert usage(h, "/A") == 3 * PAGE  # res holds kmem and user pages alike
    assert int(h.read("/A", "memory.kmem.usage_in_bytes")) == 2 * PAGE
    # the root's counter is charged through A's under hierarchy, but what it
    # shows as usage is the statistics: the one user page
    assert int(h.read("/", "memory.max_usage_in_bytes")) == 3 * PAGE
    assert usage(h, "/") == PAGE


def test_reparented_pages_are_counted_once():
    h = harness()
    h.run("mkdir", {"path": "/A"})
    h.run("attach", {"task": "t1", "path": "/A"})
    user_pages(h, "t1", 4)
    h.run("attach", {"task": "t1", "path": "/"})
    assert h.run("rmdir", {"path": "/A"}) == 0  # A's pages move to the root
    assert usage(h, "/") == 4 * PAGE
    assert h.read("/A", "memory.usage_in_bytes") == -2  # the group is gone
