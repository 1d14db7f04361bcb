"""The pytest plugin, as a user's suite meets it: items, seeds, replays, the database."""

import json

pytest_plugins = ["pytester"]

SUITE = """
from kmemcg.conformance.pytest_plugin import kmemcg_checks

test_reference = kmemcg_checks(impl="kmemcg.impl.kernel:Kernel", checks=[
    ["conform", "--examples", "20"],
    ["interleave", "--config", "destruction"],
])
test_mutant = kmemcg_checks(impl="kmemcg.conformance.mutants:FailcntEveryLevel",
                            checks=[["conform", "--examples", "{examples}"]])
"""


def _suite(pytester, examples):
    pytester.makepyfile(test_user=SUITE.replace("{examples}", str(examples)))


def test_each_check_is_an_item_and_a_faithful_kernel_passes(pytester):
    _suite(pytester, 1)
    r = pytester.runpytest_subprocess("-k", "reference", "--collect-only", "-q")
    assert "test_user.py::test_reference[conform-examples-20]" in r.stdout.str()
    assert "test_user.py::test_reference[interleave-config-destruction]" in r.stdout.str()
    r = pytester.runpytest_subprocess("-k", "reference", "--kmemcg-seed", "7")
    r.assert_outcomes(passed=2)
    assert "kmemcg: seed 7 (rerun with --kmemcg-seed 7)" in r.stdout.str()


def test_a_failure_names_its_seed_saves_a_replay_and_is_tried_first_next_time(pytester):
    _suite(pytester, 300)
    r = pytester.runpytest_subprocess("-k", "mutant", "--kmemcg-seed", "3")
    r.assert_outcomes(failed=1)
    out = r.stdout.str()
    assert "NONCONFORMANCE" in out and "--seed 3" in out and "[oracle]" in out
    replays = list((pytester.path / ".kmemcg" / "replays").glob("*.json"))
    assert len(replays) == 1 and json.loads(replays[0].read_text())["seed"] == 3
    # one run of another seed finds nothing alone (the next test says so)...
    _suite(pytester, 1)
    r = pytester.runpytest_subprocess("-k", "mutant", "--kmemcg-seed", "5")
    # ...but the database hands it the failure the last session saved
    r.assert_outcomes(failed=1)


def test_one_run_of_that_seed_alone_finds_nothing(pytester):
    _suite(pytester, 1)
    r = pytester.runpytest_subprocess("-k", "mutant", "--kmemcg-seed", "5")
    r.assert_outcomes(passed=1)
