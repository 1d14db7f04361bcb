"""The race machine's model scenarios (issue 10): the explorer's shortest trace
to each step outcome, and to each invariant a profile's kernel breaks, replayed
as the interleaver's tries before the random runs. Through the command line."""

import json

import pytest
from click.testing import CliRunner

from kmemcg.conformance.cli import main
from kmemcg.conformance.status import Exit


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_the_vm_bug_on_corner_is_found_by_its_scenario_where_random_runs_miss_it(tmp_path):
    # 18 tries in one order: the uniform draws of 50 runs on seed 1 never take them
    missed = run("conform", "--profile", "activation_vm_bug_on", "--seed", "1",
                 "--examples", "50", "--no-scenarios", "--save", str(tmp_path / "r0.json"))
    assert missed.exit_code == Exit.OK, missed.output
    save = tmp_path / "r.json"
    found = run("conform", "--profile", "activation_vm_bug_on", "--seed", "1",
                "--examples", "50", "--save", str(save))
    assert found.exit_code == Exit.VIOLATION, found.output
    assert "I6.activation_limit_set" in found.output
    assert "found by the model's scenario for: violation I6.activation_limit_set" in found.output
    # saved as a race machine's failure is: its tries, which replay shows again
    assert json.loads(save.read_text())["schedule"]
    again = run("replay", str(save))
    assert again.exit_code == Exit.VIOLATION, again.output
    assert "I6.activation_limit_set" in again.output


def test_the_correct_kernel_passes_every_scenario_of_the_hierarchy_preset():
    r = run("conform", "--config", "activation-hierarchy", "--race", "--seed", "1",
            "--examples", "5")
    assert r.exit_code == Exit.OK, r.output
    assert "model scenarios (" in r.output and "fitted" in r.output
    assert "skipped" not in r.output


def test_a_scenario_that_does_not_fit_the_implementation_is_skipped_not_a_verdict():
    # its kworker items have other names: a schedule that picks one up by the
    # reference's name is not possible on it, which says nothing of conformance
    r = run("conform", "--impl", "misbehaving:renamed_work", "--config", "destruction",
            "--seed", "1", "--examples", "5")
    assert r.exit_code == Exit.OK, r.output
    assert "skipped: they do not fit the implementation" in r.output


@pytest.mark.parametrize("profile,prop", [("w2_dead_parent_leak", "L2.offline_memcg_freed"),
                                          ("no_destroy_on_last_page",
                                           "L1.dead_empty_cache_destroyed")])
def test_a_liveness_bug_is_found_at_the_end_of_its_lasso_stem(profile, prop, tmp_path):
    # the stem is the explorer's shortest trace to the state the lasso stays in;
    # at its end only the fair actions run, and none is left to free or destroy
    save = tmp_path / "r.json"
    r = run("conform", "--profile", profile, "--seed", "1", "--examples", "20",
            "--save", str(save))
    assert r.exit_code == Exit.VIOLATION, r.output
    assert f"[liveness] {prop}" in r.output
    again = run("replay", str(save))
    assert again.exit_code == Exit.VIOLATION and f"[liveness] {prop}" in again.output


def test_the_fixed_kernel_frees_the_dead_parent_at_every_run_end():
    r = run("conform", "--config", "death-hier", "--race", "--seed", "1", "--examples", "30")
    assert r.exit_code == Exit.OK, r.output


def test_under_a_kernel_claim_the_liveness_bug_of_that_kernel_is_a_warning():
    # 3.10 as merged lacks uncharge_tests_dead_ancestors: W2 is one of its known bugs
    r = run("conform", "--config", "death-hier", "--race", "--kernel", "3.10", "--seed", "1",
            "--examples", "20")
    assert r.exit_code == Exit.OK, r.output
    assert "known bug w2_dead_parent_leak: breaks L2.offline_memcg_freed" in r.output
