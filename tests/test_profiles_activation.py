"""The activation profiles (issue 9): W11, W10 and the VM_BUG_ON corner.

Each is checked through the public faces: the explorer and the race machine
on the command line, and the reference kernel's cgroupfs and kernel face built
with and without the fix. Expected values come from the kernel semantics
(domain sections 3 and 13), not from the implementation.
"""

import pytest
from click.testing import CliRunner

from kmemcg.conformance.cli import main
from kmemcg.conformance.status import Exit
from kmemcg.impl.kernel import Kernel
from kmemcg.impl.sched import Blocked
from kmemcg.impl.slab import FIXES
from kmemcg.model.profiles import PROFILES

KMEM_LIMIT = "memory.kmem.limit_in_bytes"
KMEM_USAGE = "memory.kmem.usage_in_bytes"
RESOURCE_MAX = "9223372036854775807\n"
EBUSY, EIO = 16, 5


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def kernel(without: str = "", tasks=("t1",)) -> Kernel:
    return Kernel(tasks, fixes=FIXES - {without} if without else FIXES)


# (profile, its shortest trace in model steps, as the kernel path has it:
#  W11: mkdir, the write, cache sizes, set_active, attach, kmem, res, commit at
#  the unpatched site; W10: mkdir A, use_hierarchy, the write, cache sizes, mkdir
#  B; VM_BUG_ON: mkdir A, use_hierarchy, mkdir B, B's write and its three
#  activation steps, attach, the order-1 kmem charge, attach away, rmdir B, A's write)
SHORTEST = {"active_before_key": 8, "mkdir_during_activation": 5, "activation_vm_bug_on": 12}


@pytest.mark.parametrize("profile", sorted(SHORTEST))
def test_the_explorer_finds_each_profile_with_its_shortest_trace(profile):
    r = run("explore", "--profile", profile)
    assert r.exit_code == Exit.VIOLATION
    assert f"VIOLATION {PROFILES[profile].expect}" in r.output
    n = SHORTEST[profile]
    assert f"\n {n:2}. [" in r.output and f"\n {n + 1:2}. [" not in r.output


@pytest.mark.parametrize("preset", ["activation-key", "activation-mkdir"])
def test_the_correct_kernel_conforms_on_every_interleaving_of_the_activation_presets(preset):
    r = run("interleave", "--config", preset)
    assert r.exit_code == Exit.OK, r.output


def test_the_interleaver_finds_the_vm_bug_on_corner_on_the_reference():
    r = run("interleave", "--profile", "activation_vm_bug_on")
    assert r.exit_code == Exit.VIOLATION
    assert "I6.activation_limit_set" in r.output


@pytest.mark.parametrize("profile", ["mkdir_during_activation", "active_before_key"])
def test_the_race_machine_finds_w10_and_w11(profile, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the replay file
    r = run("conform", "--profile", profile, "--seed", "1")
    assert r.exit_code == Exit.VIOLATION
    assert PROFILES[profile].expect in r.output


# ---------------------------------------------------------------- the kernel face


def _activate_up_to_the_window(k: Kernel):
    """mkdir /A and the first K write, stepped to where the two orders differ:
    the write's step, memcg_update_cache_sizes, and the activation's next step."""
    assert k.mkdir("/A") == 0
    write = k.steps.write("/A", KMEM_LIMIT, "4096")
    taken = [next(write).action for _ in range(3)]
    return write, taken


def test_w11_active_before_the_key_leaks_a_charge_the_commit_site_skipped():
    k = kernel(without="active_after_key")
    write, taken = _activate_up_to_the_window(k)
    assert taken == ["kmem_limit.write", "activate.update_cache_sizes", "activate.set_active"]
    assert k.attach("t1", "/A") == 0  # cgroup_attach_task takes no memcg mutex
    pfn = k.alloc_kmem_page("t1")
    assert pfn >= 0
    assert [s.action for s in write] == ["activate.static_key_inc"]
    assert k.free_kmem_page("t1", pfn) == 0
    # the page was charged at the patched charge site and never committed, so
    # its free uncharged nothing: one page stays charged forever
    assert k.read("/A", KMEM_USAGE) == "4096\n"


def test_w11_the_fixed_order_charges_nothing_before_the_key_is_on():
    k = kernel()
    write, taken = _activate_up_to_the_window(k)
    assert taken == ["kmem_limit.write", "activate.update_cache_sizes",
                     "activate.static_key_inc"]
    assert k.attach("t1", "/A") == 0
    pfn = k.alloc_kmem_page("t1")  # not yet ACTIVE: memcg_can_account_kmem bypasses
    assert [s.action for s in write] == ["activate.set_active"]
    assert k.free_kmem_page("t1", pfn) == 0
    assert k.read("/A", KMEM_USAGE) == "0\n"


def _hierarchical_a_mid_activation(k: Kernel):
    assert k.mkdir("/A") == 0
    assert k.write("/A", "memory.use_hierarchy", "1") == 0
    write = k.steps.write("/A", KMEM_LIMIT, "4096")
    assert [next(write).action for _ in range(2)] == ["kmem_limit.write",
                                                      "activate.update_cache_sizes"]
    return write


def test_w10_memcg_create_mutex_holds_mkdir_off_the_activation():
    k = kernel(tasks=())
    write = _hierarchical_a_mid_activation(k)
    mkdir = k.steps.mkdir("/A/B")
    assert isinstance(next(mkdir), Blocked)
    list(write)
    assert [s.action for s in mkdir] == ["mkdir"]
    # born under an active hierarchical parent: active itself (memcg_propagate_kmem)
    assert k.read("/A/B", "memory.kmem.slabinfo").startswith("slabinfo - version: 2.1")


def test_w10_3_8s_unlocked_tail_lets_a_child_be_born_inactive_under_an_active_parent():
    k = kernel(without="activation_excludes_mkdir", tasks=())
    write = _hierarchical_a_mid_activation(k)
    assert k.mkdir("/A/B") == 0  # 3.8: cgroup_unlock before static_key_slow_inc
    list(write)
    assert k.read("/A", "memory.kmem.slabinfo").startswith("slabinfo - version: 2.1")
    assert k.read("/A/B", "memory.kmem.slabinfo") == -EIO  # never accounts kmem


def _b_charges_a_and_goes(k: Kernel):
    """B, active under an inactive hierarchical A, charges an order-1 page to
    both counters; the task leaves and B is removed with the page charged."""
    assert k.mkdir("/A") == 0
    assert k.write("/A", "memory.use_hierarchy", "1") == 0
    assert k.mkdir("/A/B") == 0
    assert k.write("/A/B", KMEM_LIMIT, "8192") == 0
    assert k.attach("t1", "/A/B") == 0
    assert k.alloc_kmem_page("t1", order=1) >= 0
    assert k.attach("t1", "/") == 0
    assert k.rmdir("/A/B") == 0
    assert k.read("/A", KMEM_USAGE) == "8192\n"  # the dead child's charge
    assert k.read("/A", KMEM_LIMIT) == RESOURCE_MAX


def test_vm_bug_on_corner_3_8_to_3_10_activate_with_the_limit_unset():
    k = kernel(without="activation_refuses_over_limit")
    _b_charges_a_and_goes(k)
    # res_counter_set_limit fails (usage 8192 > 4096): VM_BUG_ON(ret), which
    # without DEBUG_VM goes on: the write succeeds and the limit is not set
    assert k.write("/A", KMEM_LIMIT, "4096") == 0
    assert k.read("/A", KMEM_LIMIT) == RESOURCE_MAX
    assert k.read("/A", "memory.kmem.slabinfo").startswith("slabinfo - version: 2.1")


def test_vm_bug_on_corner_fixed_the_write_is_refused():
    k = kernel()
    _b_charges_a_and_goes(k)
    assert k.write("/A", KMEM_LIMIT, "4096") == -EBUSY
    assert k.read("/A", KMEM_LIMIT) == RESOURCE_MAX
    assert k.read("/A", "memory.kmem.slabinfo") == -EIO  # still inactive
    assert k.write("/A", KMEM_LIMIT, "8192") == 0  # a limit the usage fits activates
