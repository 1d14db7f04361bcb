"""--kernel: an implementation judged as the kernel it claims to be.

A faithful 3.10 (the reference booted as the roster's 3.10) passes under
``--kernel 3.10`` with its known bugs as warnings; the same run without the
claim is a failure; a bug 3.10 did not have is a failure under the claim too.
"""

import json
from dataclasses import replace

import pytest
from click.testing import CliRunner

from kmemcg.conformance.cli import main
from kmemcg.impl.kernel import Kernel
from kmemcg.model import explore
from kmemcg.model.profiles import CORRECT, FIXES, MERGED, PROFILES, merged
from kmemcg.model.scopes import PRESETS


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def as_v5(cfg):
    """A kernel with v5's double destroy (INIT_WORK on pending work), a bug 3.8
    had already fixed (v6 of the series), whatever it is asked to boot as."""
    return Kernel.for_config(replace(cfg, profile="v5_double_destroy"))


def test_a_release_lacks_exactly_the_fixes_merged_after_it():
    lacks = set(PROFILES[merged("3.10")].removes)
    assert "slot_before_list" in lacks           # 3.14, 96403da24444
    assert "root_dying_flush" in lacks           # 4.18, 92ee383f6daa
    assert "create_checks_online" in lacks       # R13: no upstream fix
    assert "destroy_skips_pending" not in lacks  # v6, merged for 3.8
    assert lacks == {f.name for f in FIXES.values() if f.since is None
                     or tuple(map(int, f.since.split("."))) > (3, 10)}


def test_the_claimed_model_keeps_going_past_each_known_bug():
    """Pruned at a broken invariant, the 3.10 model reaches every single bug of
    the roster that 3.10 has, each breaking what its profile says."""
    cfg = replace(PRESETS["destruction"], profile=merged("3.10"))
    r = explore.explore(cfg, keep_going=True, graph=False)
    assert r.complete and r.deadlocks == 0 and r.broken
    lacks = set(PROFILES[cfg.profile].removes)
    singles = [p for p in PROFILES.values() if p.removes and set(p.removes) <= lacks
               and p.name not in MERGED and p.expect and "." in p.expect
               and not p.expect.startswith("L")]
    assert singles and {p.expect for p in singles} <= set(r.violations)
    # on the correct kernel nothing is pruned: the same 441 states
    r = explore.explore(PRESETS["destruction"], keep_going=True, graph=False)
    assert (r.distinct, r.violations, r.broken) == (441, {}, set())


def test_interleave_accepts_a_faithful_3_10_with_warnings():
    r = run("interleave", "--kernel", "3.10")
    assert r.exit_code == 0, r.output
    first = r.output.splitlines()[0]
    assert "equal" in first and "broken by known bugs, not expanded" in first
    assert "warning: known bug list_before_slot: breaks D4.no_null_deref" in r.output
    assert "warning: known bug create_after_offline: breaks D6.offline_caches_dead" in r.output


def test_without_the_claim_the_same_kernel_fails():
    r = run("interleave", "--profile", merged("3.10"))
    assert r.exit_code == 1, r.output
    assert "the implementation reaches" in r.output


def test_the_race_machine_accepts_the_claim_and_warns():
    r = run("conform", "--config", "destruction", "--kernel", "3.10", "--seed", 3,
            "--examples", 200)
    assert r.exit_code == 0, r.output
    assert "conforms" in r.output and "warning: known bug" in r.output


def test_a_bug_the_claimed_kernel_did_not_have_still_fails():
    r = run("interleave", "--kernel", "3.10", "--impl", "test_claims:as_v5")
    assert r.exit_code == 1, r.output
    assert "[oracle]" in r.output


def test_claiming_the_correct_kernel_is_the_default_check():
    r = run("interleave", "--kernel", CORRECT)
    assert r.exit_code == 0 and "0 known bug(s) seen" in r.output, r.output


@pytest.mark.parametrize("args, says", [
    (["--kernel", "2.6"], "unknown kernel '2.6'"),
    (["--kernel", "3.10", "--profile", "list_before_slot"], "not both"),
])
def test_a_bad_claim_is_a_usage_error(args, says):
    r = run("interleave", *args)
    assert r.exit_code == 2 and says in r.output, r.output


def test_a_failure_under_a_claim_replays_under_it(tmp_path):
    save = tmp_path / "r.json"
    r = run("conform", "--config", "destruction", "--kernel", "3.10", "--seed", 3,
            "--impl", "test_claims:as_v5", "--save", save)
    assert r.exit_code == 1 and "FOUND" in r.output, r.output
    data = json.loads(save.read_text())
    assert data["kernel"] == merged("3.10")
    r = run("replay", save)
    assert r.exit_code == 1 and "[oracle]" in r.output, r.output
