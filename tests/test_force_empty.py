"""memory.force_empty, through the kernel's faces, the harness and the command line.

The expected numbers are worked out from the 3.8-3.10 kernel's rules
(../shared/domain/kernel-semantics.md section 2; mm/memcontrol.c's
mem_cgroup_force_empty_write, mem_cgroup_force_empty, mem_cgroup_reparent_charges
and mem_cgroup_move_parent): a write is refused on the root (-EINVAL) and while
the group has a task or a child cgroup (-EBUSY), whatever text it carries; it
moves the group's user pages to its parent, or to the root when the group does
not charge its parent, giving up only the group's own res level; kernel pages
stay charged to the group. Every page is 4096 bytes.
"""

from errno import EBUSY, EINVAL

import pytest
from click.testing import CliRunner

from kmemcg.conformance.adapters import PythonAdapter
from kmemcg.conformance.cli import main
from kmemcg.conformance.harness import Harness, Nonconformance
from kmemcg.conformance.mutants import MUTANTS
from kmemcg.impl.kernel import Kernel
from kmemcg.model import cgroupfs
from kmemcg.model.scopes import PRESETS

PAGE = 4096
CFG = PRESETS["conformance"]  # root, /A, /A/B; tasks t1, t2 in the root at boot
FE = "memory.force_empty"


def usage(k, path, kmem=False):
    return int(k.read(path, "memory.kmem.usage_in_bytes" if kmem else "memory.usage_in_bytes"))


@pytest.fixture
def k():
    return Kernel.for_config(CFG)


def test_the_root_is_refused_and_the_file_cannot_be_read(k):
    assert k.alloc_user_page("t1") >= 0
    assert k.write("/", FE, "0") == -EINVAL
    assert usage(k, "/") == PAGE
    k.mkdir("/A")
    assert k.read("/A", FE) == -EINVAL  # a trigger has no read handler
    assert k.read("/", FE) == -EINVAL


def test_kmem_stays_while_the_user_pages_go_to_the_root(k):
    """/A does not charge the root (no use_hierarchy): its pages move to the root."""
    assert k.mkdir("/A") == 0
    assert k.write("/A", "memory.kmem.limit_in_bytes", "8k") == 0  # activates: no tasks yet
    assert k.attach("t1", "/A") == 0
    kmem_page = k.alloc_kmem_page("t1")
    user = [k.alloc_user_page("t1") for _ in range(2)]
    assert min(kmem_page, *user) >= 0
    assert (usage(k, "/A"), usage(k, "/A", kmem=True)) == (3 * PAGE, PAGE)

    assert k.write("/A", FE, "0") == -EBUSY  # t1 is in the group
    assert (usage(k, "/A"), usage(k, "/A", kmem=True)) == (3 * PAGE, PAGE)

    assert k.attach("t1", "/") == 0
    assert k.write("/A", FE, "0") == 0
    # only kmem is left: usage_in_bytes - kmem.usage_in_bytes is 0
    assert (usage(k, "/A"), usage(k, "/A", kmem=True)) == (PAGE, PAGE)
    assert usage(k, "/") == 2 * PAGE  # the root's LRU now holds both pages

    # a moved page is uncharged from the root (whose counter is never
    # charged), not from /A
    assert k.free_user_page(user[0]) == 0
    assert (usage(k, "/A"), usage(k, "/"), usage(k, "/A", kmem=True)) == (PAGE, PAGE, PAGE)
    # and the kernel page, still /A's, is uncharged from /A
    assert k.free_kmem_page("t2", kmem_page) == 0
    assert (usage(k, "/A"), usage(k, "/A", kmem=True)) == (0, 0)
    assert k.write("/A", FE, "") == 0  # an empty group empties again


def test_under_hierarchy_the_user_pages_go_to_the_parent(k):
    assert k.mkdir("/A") == 0
    assert k.write("/A", "memory.use_hierarchy", "1") == 0
    assert k.mkdir("/A/B") == 0  # charges /A's counters
    assert k.attach("t1", "/A/B") == 0
    page = k.alloc_user_page("t1")
    assert page >= 0
    assert (usage(k, "/A/B"), usage(k, "/A")) == (PAGE, PAGE)
    assert k.attach("t1", "/") == 0

    assert k.write("/A", FE, "0") == -EBUSY  # /A has no task, but a child cgroup
    assert k.write("/A/B", FE, "0") == 0
    # /A's counter held the page already: only /B's own level gave it up
    assert (usage(k, "/A/B"), usage(k, "/A")) == (0, PAGE)

    assert k.rmdir("/A/B") == 0
    assert k.write("/A", FE, "0") == 0  # no child left; /A charges no parent: to the root
    assert (usage(k, "/A"), usage(k, "/")) == (0, PAGE)
    assert k.free_user_page(page) == 0
    assert (usage(k, "/A"), usage(k, "/")) == (0, 0)


def test_a_child_blocks_it_with_or_without_hierarchy(k):
    """-EBUSY on !list_empty(&cgrp->children), unlike activation's memcg_has_children,
    which counts children only under use_hierarchy."""
    assert k.mkdir("/A") == 0 and k.mkdir("/A/B") == 0
    assert k.write("/A", FE, "0") == -EBUSY
    assert k.write("/A", "memory.kmem.limit_in_bytes", "8k") == 0
    assert k.rmdir("/A/B") == 0
    assert k.write("/A", FE, "0") == 0


@pytest.mark.parametrize("text", ["0", "1", "", "garbage\n", "-1", "9" * 70])
def test_the_text_is_ignored(k, text):
    assert k.mkdir("/A") == 0 and k.attach("t1", "/A") == 0
    assert k.alloc_user_page("t1") >= 0
    assert k.write("/A", FE, text) == -EBUSY
    assert k.attach("t1", "/") == 0
    assert k.write("/A", FE, text) == 0
    assert usage(k, "/A") == 0
    assert cgroupfs.expect_write(CFG, None, 1, FE, text) == cgroupfs.Expect(
        action="force_empty", args=(1,))
    assert cgroupfs.expect_write(CFG, None, 0, FE, text) == cgroupfs.Expect(EINVAL)


#: the scenarios above as harness operations: every step checked against the model
SCENARIO = [
    ("write", {"path": "/", "file": FE, "text": "0"}),
    ("mkdir", {"path": "/A"}),
    ("write", {"path": "/A", "file": "memory.use_hierarchy", "text": "1"}),
    ("mkdir", {"path": "/A/B"}),
    ("write", {"path": "/A/B", "file": "memory.kmem.limit_in_bytes", "text": "8k"}),
    ("attach", {"task": "t1", "path": "/A/B"}),
    ("alloc_kmem", {"task": "t1"}),
    ("alloc_user", {"task": "t1"}),
    ("write", {"path": "/A/B", "file": FE, "text": "x"}),
    ("attach", {"task": "t1", "path": "/A"}),
    ("write", {"path": "/A", "file": FE, "text": "x"}),
    ("write", {"path": "/A/B", "file": FE, "text": ""}),
    ("read", {"path": "/A/B", "file": "memory.usage_in_bytes"}),
    ("read", {"path": "/A", "file": "memory.usage_in_bytes"}),
    ("read", {"path": "/A/B", "file": FE}),
    ("free_user", {"page": 1}),
    ("read", {"path": "/A", "file": "memory.usage_in_bytes"}),
]


def test_the_harness_checks_each_step_against_the_model():
    h = Harness(PythonAdapter(Kernel.for_config(CFG)), CFG)
    got = [h.run(op, args) for op, args in SCENARIO]
    assert got[0] == -EINVAL and got[8] == -EBUSY and got[10] == -EBUSY and got[11] == 0
    # /A/B keeps its kernel page; its user page went to /A, and was freed from there
    assert got[12:15] == [f"{PAGE}\n", f"{2 * PAGE}\n", -EINVAL]
    assert got[16] == f"{PAGE}\n"
    s = h.state
    assert (s.kmem[2].usage, s.kmem_pages[2], s.user_pages[2]) == (PAGE, 1, 0)
    actions = [e.action for e in h.trace if e.action]
    assert actions.count("force_empty") == 3  # the root's -EINVAL takes no step


def test_the_mutant_that_moves_kmem_is_caught_by_the_oracle():
    mutant = MUTANTS["force_empty_moves_kmem"].kernel
    h = Harness(PythonAdapter(mutant.for_config(CFG)), CFG)
    with pytest.raises(Nonconformance) as e:
        for op, args in SCENARIO:
            h.run(op, args)
    assert e.value.check == "oracle" and "force_empty" in e.value.message
    assert e.value.ops[-1] == SCENARIO[11]


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_every_interleaving_of_the_reference_reaches_the_models_states():
    r = run("interleave", "--config", "force-empty")
    assert r.exit_code == 0, r.output
    assert ": equal;" in r.output
