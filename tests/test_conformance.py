"""The suite against the reference implementation, its mutants, and over a pipe."""

import sys
import textwrap

import pytest

from kmemcg.conformance import machine, race
from kmemcg.conformance.adapters import PipeAdapter, PythonAdapter
from kmemcg.conformance.harness import Harness, Nonconformance
from kmemcg.conformance.mutants import MUTANTS
from kmemcg.conformance.protocol import ProtocolError
from kmemcg.impl.kernel import Kernel
from kmemcg.model.scopes import PRESETS

CFG = PRESETS["conformance"]


def reference():
    return PythonAdapter(Kernel.for_config(CFG))


def test_reference_conforms():
    stats = machine.run(CFG, reference, seed_value=11, examples=60)
    assert stats.failure is None, stats.failure
    assert stats.steps > 500


def test_z3_oracle_accepts_the_reference_too():
    stats = machine.run(CFG, reference, seed_value=5, examples=5, oracle="z3")
    assert stats.failure is None and stats.steps > 20


def scripted(impl, ops):
    h = Harness(impl, CFG)
    return h, [h.run(op, args) for op, args in ops]


ACTIVE_A = [
    ("mkdir", {"path": "/A"}),
    ("write", {"path": "/A", "file": "memory.kmem.limit_in_bytes", "text": "8k"}),
    ("write", {"path": "/A", "file": "memory.limit_in_bytes", "text": "4k"}),
    ("attach", {"task": "t1", "path": "/A"}),
]


def test_kmem_limit_reached_fails_at_once_and_res_failure_rolls_kmem_back():
    h, results = scripted(reference(), [
        *ACTIVE_A,
        ("alloc_kmem", {"task": "t1"}),  # kmem 4k/8k, res 4k/4k
        ("alloc_kmem", {"task": "t1"}),  # kmem fits, res does not: kmem rolled back
    ])
    assert results[-2] >= 0 and results[-1] == -12
    a = h.state
    assert a.kmem[1].usage == 4096 and a.kmem[1].failcnt == 0
    assert a.res[1].usage == 4096 and a.res[1].failcnt == 1


def kmem_a(text):
    return ("write", {"path": "/A", "file": "memory.kmem.limit_in_bytes", "text": text})


def test_each_mutant_is_caught_by_a_scripted_scenario():
    """Deterministic kills, independent of Hypothesis's luck."""
    scenarios = {
        "no_kmem_rollback": [*ACTIVE_A, ("alloc_kmem", {"task": "t1"}),
                             ("alloc_kmem", {"task": "t1"})],
        "limit_rounds_down": [("mkdir", {"path": "/A"}),
                              ("write", {"path": "/A", "file": "memory.limit_in_bytes",
                                         "text": "1"})],
        "uncharge_current_memcg": [*ACTIVE_A, ("alloc_kmem", {"task": "t1"}),
                                   ("attach", {"task": "t1", "path": "/"}),
                                   ("free_kmem", {"task": "t1", "page": 0})],
        "uncharge_one_page": [*ACTIVE_A[:2], ACTIVE_A[3],
                              ("alloc_kmem", {"task": "t1", "order": 1}),
                              ("free_kmem", {"task": "t1", "page": 0})],
        "activate_with_tasks": [("mkdir", {"path": "/A"}), ("attach", {"task": "t1", "path": "/A"}),
                                ("write", {"path": "/A", "file": "memory.kmem.limit_in_bytes",
                                           "text": "4k"})],
        "active_before_static_key": ACTIVE_A[:2],
        "enomem_as_ebusy": [*ACTIVE_A, ("alloc_kmem", {"task": "t1"}),
                            ("alloc_kmem", {"task": "t1"})],
        "force_empty_moves_kmem": [*ACTIVE_A, ("alloc_kmem", {"task": "t1"}),
                                   ("attach", {"task": "t1", "path": "/"}),
                                   ("write", {"path": "/A", "file": "memory.force_empty",
                                              "text": "0"})],
        "failcnt_every_level": [("write", {"path": "/", "file": "memory.use_hierarchy",
                                           "text": "1"}),
                                ("mkdir", {"path": "/A"}),
                                ("write", {"path": "/A", "file": "memory.use_hierarchy",
                                           "text": "1"}),
                                ("mkdir", {"path": "/A/B"}),
                                ("write", {"path": "/A", "file": "memory.limit_in_bytes",
                                           "text": "0"}),
                                ("attach", {"task": "t1", "path": "/A/B"}),
                                ("alloc_user", {"task": "t1"})],
        # the coverage gaps of issue 10: an active K lowered below an 8k usage
        "kmem_limit_ignores_usage": [
            ("mkdir", {"path": "/A"}), kmem_a("4k"),
            ("attach", {"task": "t1", "path": "/A"}), kmem_a("-1"),
            ("alloc_kmem", {"task": "t1", "order": 1}), kmem_a("4k")],
        "parse_accepts_minus_one_junk": [
            ("mkdir", {"path": "/A"}),
            ("write", {"path": "/A", "file": "memory.limit_in_bytes", "text": "-1x"})],
        "failcnt_reset_only_on_zero": [
            *ACTIVE_A, ("alloc_kmem", {"task": "t1"}), ("alloc_kmem", {"task": "t1"}),
            ("write", {"path": "/A", "file": "memory.failcnt", "text": "1"})],
        "max_usage_reset_to_zero": [
            *ACTIVE_A, ("alloc_kmem", {"task": "t1"}),
            ("write", {"path": "/A", "file": "memory.max_usage_in_bytes", "text": "0"})],
        "propagates_without_hierarchy": [
            ("mkdir", {"path": "/A"}), ("attach", {"task": "t1", "path": "/A"}),
            ("alloc_user", {"task": "t1"})],
        # kmem charged and rolled back: max_usage 4k above a usage of 0
        "kmem_max_usage_reads_usage": [
            *ACTIVE_A, ("alloc_kmem", {"task": "t1"}), ("alloc_kmem", {"task": "t1"}),
            ("read", {"path": "/A", "file": "memory.kmem.max_usage_in_bytes"})],
        # /A at U with two page cache pages: the third read reclaims them
        "no_reclaim_before_enomem": [
            ("mkdir", {"path": "/A"}),
            ("write", {"path": "/A", "file": "memory.limit_in_bytes", "text": "8k"}),
            ("attach", {"task": "t1", "path": "/A"}), ("read_file", {"task": "t1"}),
            ("read_file", {"task": "t1"}), ("read_file", {"task": "t1"})],
        # two page cache pages, then U written to one: the write reclaims them
        "resize_limit_without_reclaim": [
            ("mkdir", {"path": "/A"}), ("attach", {"task": "t1", "path": "/A"}),
            ("read_file", {"task": "t1"}), ("read_file", {"task": "t1"}),
            ("write", {"path": "/A", "file": "memory.limit_in_bytes", "text": "4k"})],
        # the outside judge's survivors: /A/B's page cache goes to /A, charged there already
        "reparents_to_root": [
            ("write", {"path": "/", "file": "memory.use_hierarchy", "text": "1"}),
            ("mkdir", {"path": "/A"}), ("mkdir", {"path": "/A/B"}),
            ("attach", {"task": "t1", "path": "/A/B"}), ("read_file", {"task": "t1"}),
            ("attach", {"task": "t1", "path": "/"}), ("rmdir", {"path": "/A/B"})],
        # /A at U with its own page cache: /A/B's read reclaims it
        "reclaims_charging_memcg_only": [
            ("mkdir", {"path": "/A"}),
            ("write", {"path": "/A", "file": "memory.use_hierarchy", "text": "1"}),
            ("mkdir", {"path": "/A/B"}),
            ("write", {"path": "/A", "file": "memory.limit_in_bytes", "text": "4k"}),
            ("attach", {"task": "t1", "path": "/A"}), ("read_file", {"task": "t1"}),
            ("attach", {"task": "t1", "path": "/A/B"}), ("read_file", {"task": "t1"})],
        # a dying task in /A faults a page: the root's, not /A's
        "fatal_signal_charges_group": [
            ("mkdir", {"path": "/A"}), ("attach", {"task": "t1", "path": "/A"}),
            ("set_task", {"task": "t1", "fatal_signal": True}), ("fault_anon", {"task": "t1"})],
        # an order-1 allocation over K = 4k, beside a page of page cache that stays
        "kmem_failure_reclaims": [
            ("mkdir", {"path": "/A"}), kmem_a("4k"),
            ("attach", {"task": "t1", "path": "/A"}), ("read_file", {"task": "t1"}),
            ("alloc_kmem", {"task": "t1", "order": 1})],
    }
    # the mutants the sequential machine hunts; the rest need an interleaving
    assert set(scenarios) == {n for n, m in MUTANTS.items() if m.machine}
    for name, ops in scenarios.items():
        scripted(reference(), ops)  # the reference passes the same scenario
        with pytest.raises(Nonconformance):
            scripted(PythonAdapter(MUTANTS[name].kernel.for_config(CFG)), ops)


def test_pipe_adapter_drives_a_served_implementation():
    cmd = f"{sys.executable} -m kmemcg.conformance.serve kmemcg.impl.kernel:Kernel"
    stats = machine.run(CFG, lambda: PipeAdapter(cmd, CFG), seed_value=3, examples=3,
                        steps=20)
    assert stats.failure is None and stats.steps > 5


@pytest.mark.parametrize(("program", "message"), [
    ("print('hello there', flush=True)", "non-JSON"),
    ("import time; time.sleep(30)", "no reply"),
    ("import sys; sys.exit(3)", "exited"),
])
def test_pipe_adapter_turns_a_broken_program_into_a_clear_error(tmp_path, program, message):
    script = tmp_path / "impl.py"
    script.write_text(textwrap.dedent(program))
    with pytest.raises(ProtocolError, match=message):
        PipeAdapter(f"{sys.executable} {script}", CFG, timeout=1.0, startup=1.0)


def test_an_implementation_that_raises_is_a_nonconformance_not_a_crash():
    class Raising(Kernel):
        def mkdir(self, path):
            raise RuntimeError("boom")

    stats = machine.run(CFG, lambda: PythonAdapter(Raising.for_config(CFG)), seed_value=1,
                        examples=20, shrink_seconds=2)
    assert stats.failure is not None and stats.failure.check == "protocol"
    assert "boom" in stats.failure.message


def test_race_machine_accepts_the_reference():
    stats = race.run(CFG, seed_value=2, examples=60)
    assert stats.failure is None and stats.steps > 200


def test_a_task_moved_between_its_kmem_and_res_steps_is_charged_once_to_its_old_memcg():
    """The attach-mid-charge window, written out: the reference keeps the memcg it
    charged kmem to; a mutant that re-reads task->memcg is caught by the oracle."""
    def interleave(impl):
        h = Harness(impl, CFG)
        for op, args in ACTIVE_A[:2] + ACTIVE_A[3:]:
            h.run(op, args)
        alloc = h.start("alloc_kmem", {"task": "t1"})
        assert not h.advance(alloc)  # charge.kmem against /A
        move = h.start("attach", {"task": "t1", "path": "/"})
        while not h.advance(move):
            pass
        while not h.advance(alloc):
            pass
        return h

    h = interleave(reference())
    assert h.state.kmem[1].usage == h.state.res[1].usage == 4096
    assert h.state.task_memcg[0] == 0 and h.state.kmem_pages[1] == 1
    mutant = MUTANTS["res_charges_current_memcg"].kernel
    with pytest.raises(Nonconformance, match=r"charge\.res"):
        interleave(PythonAdapter(mutant.for_config(CFG)))


def test_implementation_interleaved_exhaustively_reaches_exactly_the_models_states():
    from kmemcg.conformance.interleave import explore_impl
    from kmemcg.model import explore

    race = PRESETS["race"]
    r = explore_impl(race)
    assert r.problem is None
    assert r.states == set(explore.explore(race, graph=False).states)


def test_exhaustive_interleaving_kills_the_race_only_mutant():
    from kmemcg.conformance.interleave import explore_impl

    race = PRESETS["race"]
    mutant = MUTANTS["res_charges_current_memcg"].kernel
    r = explore_impl(race, make=lambda: PythonAdapter(mutant.for_config(race)))
    assert r.problem is not None and "charge.res" in r.problem
