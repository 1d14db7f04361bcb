"""Allocations of more than one page: the charge path takes the order.

SLUB's kmalloc_large (kmalloc_order, 3.8-3.10) asks alloc_pages for 2**order
pages with __GFP_KMEMCG; memcg_kmem_newpage_charge(gfp, &memcg, order) charges
PAGE_SIZE << order bytes, kmem first and res second (memcg_charge_kmem), the
commit records the memcg, and __memcg_kmem_uncharge_pages(page, order) gives
the same bytes back to that memcg (domain sections 1, 4, 8). The expected byte
counts below are computed from that rule, never read off the implementation.
Everything goes through public faces: the kernel's, the harness's and the CLI.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kmemcg.conformance.adapters import PythonAdapter
from kmemcg.conformance.cli import main
from kmemcg.conformance.harness import Harness, Nonconformance
from kmemcg.conformance.interleave import explore_impl
from kmemcg.conformance.mutants import MUTANTS
from kmemcg.conformance.status import Exit
from kmemcg.impl.kernel import Kernel
from kmemcg.model import explore
from kmemcg.model.config import PAGE_SIZE, Config
from kmemcg.model.scopes import PRESETS

ENOMEM, EINVAL = 12, 22
CFG = PRESETS["conformance"]


def kmalloc_large_order(size: int) -> int:
    """get_order(size): the least order whose 2**order pages hold ``size`` bytes."""
    order = 0
    while PAGE_SIZE << order < size:
        order += 1
    return order


#: an order-2 allocation: a kmalloc_large of 16 KiB (more than SLUB's 8 KiB
#: KMALLOC_MAX_CACHE_SIZE, so it leaves the kmalloc caches for the page allocator)
ORDER = kmalloc_large_order(16 * 1024)
BYTES = PAGE_SIZE << ORDER


def usage(k: Kernel, path: str, counter: str = "memory.kmem.usage_in_bytes") -> int:
    return int(k.read(path, counter))


def kernel(kmem_limit: str, res_limit: str = "-1") -> Kernel:
    """The reference with /A kmem-limited at ``kmem_limit`` and task t1 in it."""
    k = Kernel.for_config(CFG)
    assert k.mkdir("/A") == 0 and k.mkdir("/B") == 0
    assert k.write("/A", "memory.kmem.limit_in_bytes", kmem_limit) == 0
    assert k.write("/A", "memory.limit_in_bytes", res_limit) == 0
    assert k.write("/B", "memory.kmem.limit_in_bytes", "1M") == 0
    assert k.attach("t1", "/A") == 0
    return k


def test_get_order_of_the_sizes_kmalloc_large_serves():
    assert ORDER == 2 and BYTES == 16 * 1024
    assert kmalloc_large_order(8 * 1024 + 1) == 2  # just past the kmalloc caches
    assert kmalloc_large_order(32 * 1024) == 3


def test_an_order_2_allocation_charges_its_bytes_to_kmem_and_res():
    k = kernel("1M")
    page = k.alloc_kmem_page("t1", order=ORDER)
    assert page >= 0
    assert usage(k, "/A") == BYTES
    assert usage(k, "/A", "memory.usage_in_bytes") == BYTES
    assert k.snapshot()["memcgs"]["/A"]["kmem_pages"] == 1 << ORDER


def test_an_order_2_allocation_fails_at_the_kmem_limit_with_res_untouched():
    # three pages left under K: res_counter_charge(&memcg->kmem) fails at once
    k = kernel(str(BYTES - PAGE_SIZE))
    assert k.alloc_kmem_page("t1", order=ORDER) == -ENOMEM
    assert usage(k, "/A") == 0 and int(k.read("/A", "memory.kmem.failcnt")) == 1
    assert usage(k, "/A", "memory.usage_in_bytes") == 0  # res is never asked
    assert int(k.read("/A", "memory.failcnt")) == 0
    # a single page still fits
    assert k.alloc_kmem_page("t1") >= 0 and usage(k, "/A") == PAGE_SIZE


def test_a_res_failure_rolls_the_order_2_kmem_charge_back():
    k = kernel("1M", res_limit=str(BYTES - PAGE_SIZE))
    assert k.alloc_kmem_page("t1", order=ORDER) == -ENOMEM
    assert usage(k, "/A") == 0 and int(k.read("/A", "memory.failcnt")) == 1
    assert int(k.read("/A", "memory.kmem.max_usage_in_bytes")) == BYTES  # it was charged


def test_an_order_2_allocation_is_uncharged_from_its_memcg_after_a_move():
    k = kernel("1M")
    page = k.alloc_kmem_page("t1", order=ORDER)
    assert k.attach("t1", "/B") == 0
    k.alloc_kmem_page("t1")  # one page in B, so B's counter has something to lose
    assert k.free_kmem_page("t1", page) == 0
    assert usage(k, "/A") == 0 and usage(k, "/A", "memory.usage_in_bytes") == 0
    assert usage(k, "/B") == PAGE_SIZE


def test_a_kmalloc_large_has_no_slabinfo_line():
    """kmalloc_order goes to the page allocator, past every kmem_cache: neither
    /proc/slabinfo nor a cache of the memcg counts its pages."""
    k = Kernel.for_config(PRESETS["whole"])  # a root cache, dentry
    assert k.mkdir("/A") == 0 and k.write("/A", "memory.kmem.limit_in_bytes", "1M") == 0
    assert k.attach("t1", "/A") == 0 and k.kmem_cache_alloc("dentry", "/A") >= 0
    before, caches = k.proc_slabinfo(), k.snapshot()["caches"]
    assert k.alloc_kmem_page("t1", order=ORDER) >= 0
    assert k.proc_slabinfo() == before and k.snapshot()["caches"] == caches
    # the dentry came from the root cache while A's is created (domain 5): uncharged
    assert usage(k, "/A") == BYTES


def test_an_order_past_max_order_is_refused_and_changes_nothing():
    k = kernel("1M")
    before = k.snapshot()
    assert k.alloc_kmem_page("t1", order=11) == -EINVAL
    assert k.alloc_kmem_page("t1", order=-1) == -EINVAL
    assert k.snapshot() == before


# ---------------------------------------------------------------- through the harness

ACTIVE_A = [
    ("mkdir", {"path": "/A"}),
    ("write", {"path": "/A", "file": "memory.kmem.limit_in_bytes", "text": "20k"}),
    ("attach", {"task": "t1", "path": "/A"}),
]


def scripted(impl, ops):
    h = Harness(impl, CFG)
    return h, [h.run(op, args) for op, args in ops]


def test_the_harness_checks_each_step_of_an_order_2_allocation_and_its_free():
    h, results = scripted(PythonAdapter(Kernel.for_config(CFG)), [
        *ACTIVE_A,
        ("alloc_kmem", {"task": "t1", "order": ORDER}),  # 16k of 20k
        ("alloc_kmem", {"task": "t1", "order": 1}),      # 8k more: over K
        ("attach", {"task": "t1", "path": "/"}),
        ("free_kmem", {"task": "t1", "page": 0}),
    ])
    assert results[3] == 0 and results[4] == -ENOMEM and results[-1] == 0
    a = h.state
    assert a.kmem[1].usage == 0 and a.kmem[1].max_usage == BYTES and a.kmem[1].failcnt == 1
    assert a.kmem_pages[1] == 0
    steps = [(e.action, e.step_args) for e in h.trace if e.action]
    assert ("charge.kmem", {"task": "t1", "memcg": "/A", "order": ORDER}) in steps
    assert ("free.uncharge", {"memcg": "/A", "order": ORDER}) in steps


def test_a_charge_of_another_order_than_asked_is_caught():
    class ChargesOnePage(Kernel):
        def alloc_kmem_page(self, task, *a, order=0, **kw):
            return (yield from Kernel.alloc_kmem_page.fn(self, task, *a, order=0, **kw))

    with pytest.raises(Nonconformance, match=r"charge\.kmem of order 0 for an allocation of "
                                             r"order 2"):
        scripted(PythonAdapter(ChargesOnePage.for_config(CFG)),
                 [*ACTIVE_A, ("alloc_kmem", {"task": "t1", "order": ORDER})])


def test_a_step_and_a_snapshot_without_an_order_are_of_one_page():
    """A client of protocol 2 from before orders still conforms: its charge.kmem
    and free.uncharge steps carry no order, its tasks no ``order``."""
    class OldClient(Kernel):
        def snapshot(self):
            snap = super().snapshot()
            for t in snap["tasks"].values():
                t.pop("order")
            return snap

    class OldAdapter(PythonAdapter):
        def step(self, thread):
            reply = super().step(thread)
            if getattr(reply, "action", None) in ("charge.kmem", "free.uncharge"):
                reply.args.pop("order")
            return reply

    h, results = scripted(OldAdapter(OldClient.for_config(CFG)), [
        *ACTIVE_A, ("alloc_kmem", {"task": "t1"}), ("free_kmem", {"task": "t1", "page": 0})])
    assert results[-2:] == [0, 0] and h.state.kmem[1].usage == 0


def test_the_uncharge_one_page_mutant_is_killed_by_a_scripted_scenario():
    ops = [*ACTIVE_A, ("alloc_kmem", {"task": "t1", "order": ORDER}),
           ("free_kmem", {"task": "t1", "page": 0})]
    scripted(PythonAdapter(Kernel.for_config(CFG)), ops)
    with pytest.raises(Nonconformance, match=r"free.uncharge\(1, 2\)"):
        scripted(PythonAdapter(MUTANTS["uncharge_one_page"].kernel.for_config(CFG)), ops)


# ---------------------------------------------------------------- the model, the CLI

def test_every_interleaving_of_order_2_allocations_reaches_exactly_the_models_states():
    large = PRESETS["large"]
    assert ORDER in large.orders
    model = explore.explore(large)
    assert model.violation is None
    r = explore_impl(large)
    assert r.problem is None, r.problem
    assert len(r.states) == model.distinct > 100


def test_the_cli_explores_and_interleaves_a_scope_of_other_orders(tmp_path):
    """Any configuration may name its orders: here order 3 alone."""
    cfg = Config(name="order3", memcgs=("root", "A"), parents=(-1, 0), tasks=("t1",),
                 max_pages=8, kmem_limits=(PAGE_SIZE << 3,), res_limits=(PAGE_SIZE << 3,),
                 orders=(3,), actions=PRESETS["large"].actions)
    path = tmp_path / "order3.json"
    path.write_text(json.dumps(cfg.to_json()))
    runner = CliRunner()
    r = runner.invoke(main, ["explore", "--config", str(path)], catch_exceptions=False)
    assert r.exit_code == Exit.OK and "no violation" in r.output, r.output
    r = runner.invoke(main, ["interleave", "--config", str(path)], catch_exceptions=False)
    assert r.exit_code == Exit.OK and ": equal" in r.output, r.output


def test_the_interleaving_of_large_kills_the_uncharge_one_page_mutant():
    r = CliRunner().invoke(main, ["interleave", "--config", "large", "--impl",
                                  "kmemcg.conformance.mutants:UnchargeOnePage"],
                           catch_exceptions=False)
    assert r.exit_code == Exit.VIOLATION, r.output
    assert f"free.uncharge(1, 0): memcgs.A.kmem_pages: model {(1 << ORDER) - 1}" in r.output


def test_a_replay_of_an_order_2_free_kills_the_uncharge_one_page_mutant(tmp_path):
    """The one replay format, written by hand: the reference conforms, the mutant
    does not (whether a random run gets there is the seed's luck)."""
    from kmemcg.conformance import report

    ops = [*ACTIVE_A, ("alloc_kmem", {"task": "t1", "order": ORDER}),
           ("attach", {"task": "t1", "path": "/"}), ("free_kmem", {"task": "t1", "page": 0})]
    path = tmp_path / "replay.json"
    path.write_text(json.dumps(report.replay_data(CFG, None, {}, ops=ops)))
    runner = CliRunner()
    ok = runner.invoke(main, ["replay", str(path), "--impl", "kmemcg.impl.kernel:Kernel"],
                       catch_exceptions=False)
    assert ok.exit_code == Exit.OK and "conforms" in ok.output, ok.output
    bad = runner.invoke(main, ["replay", str(path), "--impl",
                               "kmemcg.conformance.mutants:UnchargeOnePage"],
                        catch_exceptions=False)
    assert bad.exit_code == Exit.VIOLATION and "free.uncharge(1, 2)" in bad.output, bad.output
