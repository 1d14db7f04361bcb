"""The per-cpu charge stock (memcg_stock, 3.8), a scope knob: the stock preset.

Expected numbers are worked out from 3.8's mm/memcontrol.c (consume_stock,
refill_stock, drain_stock, drain_all_stock_sync, __mem_cgroup_try_charge and
mem_cgroup_do_charge's CHARGE_RETRY; ../shared/domain/kernel-semantics.md
section 9), with the preset's batch of 2 pages and 2 cpus: t1 runs on cpu 0,
t2 on cpu 1. Every page is 4096 bytes.
"""

from dataclasses import replace
from errno import EINVAL

import pytest

from kmemcg.conformance.adapters import PythonAdapter
from kmemcg.conformance.harness import Harness, Nonconformance
from kmemcg.conformance.interleave import explore_impl
from kmemcg.conformance.mutants import MUTANTS
from kmemcg.impl.kernel import Kernel
from kmemcg.model import explore
from kmemcg.model.config import CHARGE_BATCH, Config
from kmemcg.model.controller import MODEL
from kmemcg.model.scopes import PRESETS
from kmemcg.model.state import initial

PAGE = 4096
CFG = PRESETS["stock"]  # root, /A online and kmem-active at boot; t1, t2 in the root


def usage(k, path, file="memory.usage_in_bytes"):
    return int(k.read(path, file))


@pytest.fixture
def k():
    k = Kernel.for_config(CFG)
    assert k.attach("t1", "/A") == 0 and k.attach("t2", "/A") == 0
    return k


def test_the_kernel_default_batch_is_32_pages_and_scopes_choose_a_small_one():
    assert CHARGE_BATCH == 32 and Config().charge_batch == 32
    assert (CFG.percpu_stock, CFG.charge_batch, CFG.nr_cpus) == (True, 2, 2)
    assert {n for n, p in PRESETS.items() if p.percpu_stock} == {"stock", "stock-race"}


def test_a_page_precharges_a_batch_and_the_next_one_is_served_from_the_stock(k):
    assert k.alloc_user_page("t1") >= 0
    # res took a batch of 2, one of them left in cpu 0's stock; kmem is untouched
    assert usage(k, "/A") == 2 * PAGE
    assert k.snapshot()["stock"] == [{"memcg": "/A", "nr_pages": 1},
                                     {"memcg": None, "nr_pages": 0}]
    assert k.alloc_kmem_page("t1") >= 0  # its res side consumes the stock
    assert usage(k, "/A") == 2 * PAGE
    assert usage(k, "/A", "memory.kmem.usage_in_bytes") == PAGE  # kmem is exact
    assert k.snapshot()["stock"][0] == {"memcg": "/A", "nr_pages": 0}


def test_usage_is_at_most_a_batch_per_cpu_above_the_true_total(k):
    assert k.alloc_user_page("t1") >= 0 and k.alloc_user_page("t2") >= 0
    assert usage(k, "/A") == 4 * PAGE  # 2 pages used, 1 in each cpu's stock
    assert k.drain_stock(0) == 0
    assert usage(k, "/A") == 3 * PAGE
    assert k.drain_stock(1) == 0
    assert usage(k, "/A") == 2 * PAGE  # exact again
    assert k.drain_stock(1) == 0  # an empty stock: nothing to do
    assert k.drain_stock(2) == -EINVAL and k.drain_stock(-1) == -EINVAL


def test_a_failed_batch_counts_a_failure_and_the_exact_retry_succeeds(k):
    assert k.write("/A", "memory.limit_in_bytes", "4096") == 0
    assert k.alloc_user_page("t1") >= 0  # the batch of 2 fails, the page fits
    assert usage(k, "/A") == PAGE
    assert usage(k, "/A", "memory.failcnt") == 1
    assert usage(k, "/A", "memory.max_usage_in_bytes") == PAGE
    assert k.alloc_user_page("t2") < 0  # over the limit: both attempts fail
    assert usage(k, "/A", "memory.failcnt") == 3


def test_force_empty_drains_the_stocks_of_the_group(k):
    assert k.alloc_user_page("t1") >= 0 and k.alloc_kmem_page("t2") >= 0
    assert usage(k, "/A") == 4 * PAGE
    assert k.attach("t1", "/") == 0 and k.attach("t2", "/") == 0
    assert k.write("/A", "memory.force_empty", "0") == 0
    # the user page went to the root; the kernel page stays, exactly
    assert usage(k, "/A") == PAGE == usage(k, "/A", "memory.kmem.usage_in_bytes")
    assert all(s["memcg"] is None for s in k.snapshot()["stock"])


def test_the_harness_checks_each_step_against_the_model_with_the_stock():
    h = Harness.started(lambda: PythonAdapter(Kernel.for_config(CFG)), CFG)
    for op, args in [("attach", {"task": "t1", "path": "/A"}),
                     ("attach", {"task": "t2", "path": "/A"}),
                     ("alloc_user", {"task": "t1"}), ("alloc_kmem", {"task": "t2"}),
                     ("alloc_kmem", {"task": "t2"}), ("drain_stock", {"cpu": 0}),
                     ("drain_stock", {"cpu": 0}), ("drain_stock", {"cpu": 5})]:
        h.run(op, args)
    assert h.state.stock_memcg == (-1, 1) and h.state.stock_pages == (0, 0)
    assert h.state.res[1].usage == 3 * PAGE


@pytest.mark.parametrize("name", ["drain_keeps_charge", "kmem_batched"])
def test_the_stock_mutants_are_caught(name):
    mutant = MUTANTS[name].kernel
    h = Harness.started(lambda: PythonAdapter(mutant.for_config(CFG)), CFG)
    ops = [("attach", {"task": "t1", "path": "/A"}), ("alloc_kmem", {"task": "t1"}),
           ("drain_stock", {"cpu": 0})]
    with pytest.raises(Nonconformance):
        for op, args in ops:
            h.run(op, args)


def test_stock_invariants_are_exact_without_the_stock_and_catch_a_lost_page():
    inv = MODEL.invariants
    s = initial(CFG)
    for name, args in (("attach", (0, 1)), ("user.charge", (0, 1))):
        s, ret = MODEL.step(CFG, s, name, args)
        assert ret == 0
    assert (s.res[1].usage, s.stock_pages) == (2 * PAGE, (1, 0))
    assert inv["I4.res_within_stock_bound"].check(CFG, s)
    # the same state read without the stock: the precharged page is over the truth
    off = replace(CFG, percpu_stock=False, actions=CFG.actions[:-1])
    bare = s._replace(stock_memcg=(), stock_pages=())
    assert not inv["I4.res_within_stock_bound"].check(off, bare)
    assert not inv["I4.res_accounted"].check(off, bare)
    # a stock that lost its page without uncharging it breaks the exact accounting
    lost = s._replace(stock_pages=(0, 0))
    assert not inv["I4.res_accounted"].check(CFG, lost)
    assert inv["I4.res_within_stock_bound"].check(CFG, lost)  # still within the bound


def test_a_stock_scope_must_name_its_charging_tasks():
    with pytest.raises(ValueError, match="per-cpu stock"):
        replace(CFG, actions=(*CFG.actions, "alloc")).validate()
    with pytest.raises(ValueError, match="per-cpu stock"):
        replace(CFG, actions=None).validate()
    with pytest.raises(ValueError, match="at least 1"):
        replace(CFG, charge_batch=0).validate()


def test_the_reference_interleaves_to_exactly_the_models_states_on_stock_race():
    race = PRESETS["stock-race"]
    r = explore_impl(race)
    assert r.problem is None
    assert r.states == set(explore.explore(race, graph=False).states)
    assert len(r.states) == 284


@pytest.mark.parametrize("name,step", [("drain_keeps_charge", "stock.drain"),
                                       ("kmem_batched", "charge.kmem")])
def test_every_interleaving_of_stock_race_kills_the_stock_mutants(name, step):
    race = PRESETS[MUTANTS[name].interleave]
    mutant = MUTANTS[name].kernel
    r = explore_impl(race, make=lambda: PythonAdapter(mutant.for_config(race)))
    assert r.problem is not None and step in r.problem
