"""Coverage of the model (conformance/coverage.py): measured on every run, driven
by the model's scenarios, and the interleaver's merge key (issue 10)."""

import json
import os
import subprocess
import sys
from errno import ENOMEM
from pathlib import Path

import pytest
from serial import SerialKernel

from kmemcg.conformance import coverage, machine, race, report
from kmemcg.conformance.adapters import PythonAdapter
from kmemcg.conformance.interleave import explore_impl, reference
from kmemcg.conformance.mutants import MUTANTS
from kmemcg.impl.kernel import Kernel
from kmemcg.model.scopes import PRESETS

TESTS = Path(__file__).parent


def kmemcg(*args, timeout=600):
    return subprocess.run([str(Path(sys.executable).parent / "kmemcg"), *args],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(TESTS)})


# ---------------------------------------------------------------- the merge key


def test_serial_implementation_reaches_every_serial_state_of_race():
    """A serial (one big lock) kernel allows only runs where no operation preempts
    another; the model has 255 states on those runs of `race` (issue 10). Merging
    runs on the abstract state alone lost an allocation's fail flag, chosen when it
    starts: the abort after it was never taken, and the search saw 177."""
    cfg = PRESETS["race"]
    cov = coverage.for_steps(cfg)
    r = explore_impl(cfg, make=lambda: PythonAdapter(SerialKernel.for_config(cfg)),
                     coverage=cov)
    assert r.problem is None
    assert "charge.abort = -ENOMEM" in cov.seen
    assert len(r.states) == 255


def test_reference_takes_every_step_outcome_of_race():
    cfg = PRESETS["race"]
    cov = coverage.for_steps(cfg)
    r = explore_impl(cfg, coverage=cov)
    assert r.problem is None and len(r.states) == 321
    assert cov.uncovered == []


class _BypassIgnoresFail(Kernel):
    """A bypassed allocation whose page allocation fails still returns a page."""

    def alloc_kmem_page(self, *a, **kw):
        path = Kernel.alloc_kmem_page.fn(self, *a, **kw)
        bypassed = False
        while True:
            try:
                y = next(path)
            except StopIteration as stop:
                return 4242 if bypassed and stop.value == -ENOMEM else stop.value
            bypassed = getattr(y, "action", None) == "charge.bypass"
            yield y


def test_interleaver_checks_the_result_of_a_merged_bypass():
    """After a bypass only the fail flag decides the result: a run merged with one
    whose flag differed has its result checked before it is merged."""
    cfg = PRESETS["race"]
    r = explore_impl(cfg, make=lambda: PythonAdapter(_BypassIgnoresFail.for_config(cfg)))
    assert r.problem is not None and "must fail with -12" in r.problem


# ---------------------------------------------------------------- the model's reach

CONFORMANCE = PRESETS["conformance"]

#: the outcomes a random run missed on some seeds, each the only witness of a
#: mutant's bug (issue 10); the last three lie six to eight operations deep, past
#: the exact search's bound, where only the search over shapes finds them
GAPS = {
    "kmem_limit_ignores_usage": "kmem_limit.write = -EBUSY [below usage]",
    "parse_accepts_minus_one_junk":
        "face: write memory.kmem.limit_in_bytes [minus-one-junk] = -EINVAL",
    "failcnt_reset_only_on_zero": "face: write memory.failcnt [text other, something to reset]",
    "max_usage_reset_to_zero": "max_usage.reset = 0 [usage > 0]",
    "propagates_without_hierarchy": "charge.kmem = 0 [flat]",
    "kmem_failure_reclaims": "charge.kmem = -ENOMEM [page cache stays]",
    "reparents_to_root": "rmdir = 0 [to a hierarchical parent]",
    "reclaims_charging_memcg_only": "anon.charge = 0 [reclaimed from another memcg]",
}


def test_the_model_reaches_the_gaps_each_with_a_scenario():
    reach = coverage.reachable(CONFORMANCE)
    for outcome in GAPS.values():
        assert outcome in reach.scenarios
    # lowering K below usage: activate, allocate past the limit once unlimited, lower again
    ops = [op for op, _ in reach.scenarios["kmem_limit.write = -EBUSY [below usage]"]]
    assert ops.count("write") >= 2 and "alloc_kmem" in ops


def test_what_random_runs_saw_outside_the_search_is_inside_it():
    """`conform --cover --no-scenarios --seed 3` saw both outside the search: a read
    that reclaimed page cache (net of the page it adds, the count stays) and a limit
    text "-x" (no text of the search had that parse branch)."""
    reach = coverage.reachable(CONFORMANCE)
    assert "pagecache.charge = 0 [reclaimed]" in reach.scenarios
    assert "face: write memory.kmem.limit_in_bytes [minus-junk] = -EINVAL" in reach.scenarios


def test_a_drain_of_a_stock_is_inside_the_search_cached_or_empty():
    """A random run on stock-race drained an empty stock (no step, 0), which the
    search, whose menu had no drain at all, never offered."""
    reach = coverage.reachable(PRESETS["stock-race"])
    assert "stock.drain = 0" in reach.scenarios
    assert "face: drain_stock = 0" in reach.scenarios


def test_every_scenario_exercises_its_outcome_on_the_reference():
    """The search runs operations on the model as the harness expects them: each
    scenario, replayed on the reference with every step checked, conforms and
    shows the outcome it was found for."""
    reach = coverage.reachable(CONFORMANCE)
    make = reference(CONFORMANCE)
    for outcome, ops in reach.scenarios.items():
        cov = coverage.Coverage(CONFORMANCE)
        assert machine.run_scenario(CONFORMANCE, make, ops, coverage=cov), outcome
        assert outcome in cov.seen, (outcome, ops)


def test_bug_sites_and_windows_are_named():
    """A profile's bug site is where the model without its fix takes another step;
    on destruction, the offline/root-destroy fix holds rmdir off."""
    cov = coverage.for_steps(PRESETS["destruction"])
    assert cov.reachable is not None
    assert "fix offline_excludes_root_destroy: rmdir held off" in cov.reachable
    assert "fix destroy_returns_when_requeued: destroy_work.check" in cov.reachable \
        or any(o.startswith("fix destroy_returns_when_requeued") for o in cov.reachable)
    assert any(o.startswith("window W12") for o in cov.reachable)
    r = explore_impl(PRESETS["destruction"], coverage=cov)
    assert r.problem is None and cov.uncovered == []


@pytest.mark.parametrize("name", GAPS)
def test_gap_mutants_die_in_a_scenario_whatever_the_seed(name):
    """Killed by the model's scenarios, which run before any random run: on every seed."""
    m = MUTANTS[name]
    make = lambda: PythonAdapter(m.kernel.for_config(CONFORMANCE), name=name)  # noqa: E731
    for seed in (1, 6):
        st, _ = coverage.conform(CONFORMANCE, make, seed_value=seed, examples=1, steps=5)
        assert st.failure is not None and st.killed_by, (name, seed)


def test_gap_mutants_are_wrong_and_the_reference_is_not():
    """Each gap mutant differs from the reference on its gap's scenario alone."""
    reach = coverage.reachable(CONFORMANCE)
    for name, outcome in GAPS.items():
        ops = reach.scenarios[outcome]
        assert machine.run_scenario(CONFORMANCE, reference(CONFORMANCE), ops)
        m = MUTANTS[name]
        with pytest.raises(machine.Nonconformance):
            machine.run_scenario(CONFORMANCE, lambda m=m: PythonAdapter(
                m.kernel.for_config(CONFORMANCE)), ops)


# ---------------------------------------------------------------- the command line


def test_conform_reports_coverage_and_the_scenarios():
    r = kmemcg("conform", "--seed", "3", "--examples", "5")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "reachable outcomes" in r.stdout and "; 0 uncovered" in r.stdout
    assert "model scenarios + 5 runs" in r.stdout


def test_conform_without_scenarios_prints_what_stayed_uncovered():
    r = kmemcg("conform", "--seed", "3", "--examples", "2", "--no-scenarios", "--cover",
               "--budget", "0")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "uncovered: " in r.stdout


def test_race_and_interleave_report_coverage():
    r = kmemcg("interleave", "--config", "race")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "coverage: 33/33 reachable outcomes; 0 uncovered" in r.stdout or \
        "; 0 uncovered" in r.stdout
    r = kmemcg("conform", "--race", "--config", "race", "--seed", "1", "--examples", "20")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "reachable outcomes" in r.stdout


def test_mutants_name_the_scenario_that_killed_a_gap_mutant():
    r = kmemcg("mutants", "--seed", "1", "--examples", "20")
    line = next(x for x in r.stdout.splitlines() if x.startswith("kmem_limit_ignores_usage"))
    assert "killed" in line and "scenario: " in line


def test_replay_says_what_its_operations_exercised(tmp_path):
    data = report.replay_data(CONFORMANCE, 1, None, ops=[
        ("mkdir", {"path": "/A"}),
        ("write", {"path": "/A", "file": "memory.limit_in_bytes", "text": "-1x"})])
    path = tmp_path / "replay.json"
    path.write_text(json.dumps(data))
    r = kmemcg("replay", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert ("coverage: 2 outcomes exercised: face: write memory.limit_in_bytes "
            "[minus-one-junk] = -EINVAL; mkdir = 0") in r.stdout


@pytest.mark.parametrize("preset,window", [("death", "window W1"), ("death-hier", "window W2")])
def test_death_windows_are_reached_and_covered(preset, window):
    """With memcg death modelled, W1 (the last uncharge between css_free's
    mark_dead and its usage read) is a window of death, and W2 (a dead
    hierarchical parent still charged, uncharged through its child) one of
    death-hier; the reference's every interleaving covers each."""
    cov = coverage.for_steps(PRESETS[preset])
    assert any(o.startswith(window) for o in cov.reachable), sorted(cov.reachable)
    if preset == "death":  # death-hier's interleaving takes minutes
        r = explore_impl(PRESETS[preset], coverage=cov)
        assert r.problem is None and cov.uncovered == []


def test_race_coverage_of_a_scope_too_large_to_explore_says_at_least():
    """A race scope the explorer cannot finish (conformance): the step outcomes of
    the states it stored are each reachable, so the race machine is asked to cover
    them (it reported "reachable: unknown" and never what stayed uncovered)."""
    cov = coverage.for_steps(CONFORMANCE, max_states=300)
    assert cov.reachable and not cov.complete
    assert "charge.bypass = 0" in cov.reachable and "mkdir = 0" in cov.reachable
    st = race.run(CONFORMANCE, seed_value=1, examples=5, steps=10, coverage=cov)
    assert st.failure is None
    lines = cov.lines()
    assert "(at least: the search was bounded)" in lines[0], lines
    assert set(cov.seen) & cov.reachable and cov.uncovered
    assert any(x.startswith("  uncovered: ") for x in lines), lines


def test_immigration_mutant_dies_in_a_scenario_whatever_the_seed():
    """An attach that moves several anonymous pages into a group at its limit is
    -ENOMEM only if the destination is precharged: six operations in, a shape's
    outcome on conformance-immigrate."""
    cfg = PRESETS["conformance-immigrate"]
    assert "attach = -ENOMEM [moves several anonymous pages]" in coverage.reachable(cfg).scenarios
    m = MUTANTS["immigrate_without_precharge"]
    for seed in (1, 6):
        st, _ = coverage.conform(cfg, lambda: PythonAdapter(m.kernel.for_config(cfg)),
                                 seed_value=seed, examples=1, steps=5)
        assert st.failure is not None and st.killed_by, seed
