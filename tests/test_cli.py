"""The public command line, end to end (small configurations)."""

import json
import subprocess
import sys

from click.testing import CliRunner

from kmemcg.conformance.cli import main
from kmemcg.conformance.status import Exit
from kmemcg.model.scopes import PRESETS

TINY = {"name": "tiny", "memcgs": ["root", "A"], "parents": [-1, 0], "tasks": ["t1"],
        "max_pages": 1, "kmem_limits": [4096], "res_limits": [4096], "max_failcnt": 1,
        "actions": list(PRESETS["accounting"].actions)}


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_list_profiles():
    r = run("explore", "--list-profiles")
    assert r.exit_code == 0
    names = [line.split("\t")[0] for line in r.output.splitlines()]
    assert names[0] == "correct" and "no_kmem_limit_check" in names


def test_explore_finds_a_profile_bug_and_writes_itf(tmp_path):
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    itf = tmp_path / "trace.itf.json"
    r = run("explore", "--config", str(cfg), "--profile", "no_kmem_limit_check",
            "--itf", str(itf))
    assert r.exit_code == 1
    assert "VIOLATION I1.kmem_within_limit" in r.output
    assert "10. [    t1] charge.kmem(memcg=A, order=0)" in r.output
    trace = json.loads(itf.read_text())
    assert len(trace["states"]) == 11 and trace["#meta"]["violation"] == "I1.kmem_within_limit"


def test_bad_config_is_a_usage_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"memcgs": ["root"], "parents": [-1], "colour": "blue"}')
    r = run("explore", "--config", str(bad))
    assert r.exit_code == 2 and "unknown configuration keys" in r.output
    r = run("explore", "--config", str(tmp_path / "missing.json"))
    assert r.exit_code == 2 and "cannot read configuration" in r.output


def test_bad_impl_spec_is_a_usage_error():
    r = run("conform", "--impl", "no.such.module:Factory", "--seed", "1", "--examples", "1")
    assert r.exit_code == 2 and "cannot import 'no.such.module'" in r.output
    r = run("conform", "--impl", "kmemcg.impl.kernel", "--seed", "1", "--examples", "1")
    assert r.exit_code == 2 and "MOD:FACTORY" in r.output


def test_conform_prints_its_seed_and_a_failure_replays(tmp_path):
    replay = tmp_path / "replay.json"
    r = run("conform", "--impl", "kmemcg.conformance.mutants:_LimitRoundsDown", "--seed", "4",
            "--examples", "200", "--save", str(replay))
    assert r.exit_code == 1
    assert "seed: 4" in r.output and "NONCONFORMANCE" in r.output
    r2 = run("replay", str(replay))
    assert r2.exit_code == 1 and "limit.write" in r2.output
    r3 = run("replay", str(replay), "--impl", "kmemcg.impl.kernel:Kernel")
    assert r3.exit_code == 0 and "conforms" in r3.output


def test_prove_exit_status_follows_the_verdict(tmp_path):
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    assert run("prove", "--config", str(cfg), "--bmc", "2").exit_code == 0
    r = run("prove", "--config", str(cfg), "--profile", "no_kmem_rollback", "--bmc", "0")
    assert r.exit_code == 1 and "counterexample to induction" in r.output


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "pip", "show", "kmemcg"], capture_output=True,
                         text=True)
    assert out.returncode == 0


def test_bad_input_never_tracebacks(tmp_path):
    bad = tmp_path / "bad.json"
    for text, message in [
        ('{"slice": "nope", "memcgs": ["root"], "parents": [-1]}', "'slice' is gone"),
        ('{"memcgs": ["root", "A"], "parents": [-1, 0], "max_pages": "x"}', "max_pages"),
        ('{"memcgs": ["root", "root"], "parents": [-1, 0]}', "duplicate"),
        ('{"memcgs": ["root"], "parents": [-1], "profile": "nope"}', "unknown profile"),
        ('{"memcgs": ["root"], "parents": [-1], "actions": ["fly"]}', "unknown actions"),
    ]:
        bad.write_text(text)
        r = run("explore", "--config", str(bad))
        assert r.exit_code == 2 and message in r.output, (text, r.output)
    r = run("explore", "--config", "accounting", "--max-states", "50")
    assert r.exit_code == Exit.INCOMPLETE and "INCOMPLETE" in r.output
    corrupt = tmp_path / "replay.json"
    corrupt.write_text('{"version": 2, "config": {"memcgs": ["root"], "parents": [-1]}, '
                       '"impl": "kmemcg.impl.kernel:Kernel", "ops": [{"op": "mkdir"}]}')
    r = run("replay", str(corrupt))
    assert r.exit_code == 2 and "not a valid operation list" in r.output
    r = run("conform", "--pipe", "/bin/false", "--seed", "1", "--examples", "1")
    assert r.exit_code == 1 and "broke the protocol" in r.output
    assert run("prove", "--bmc", "-1").exit_code == 2


def test_use_hierarchy_rejects_values_other_than_0_and_1():
    from kmemcg.conformance.adapters import PythonAdapter
    from kmemcg.conformance.harness import Harness
    from kmemcg.impl.kernel import Kernel
    from kmemcg.model.scopes import PRESETS

    cfg = PRESETS["conformance"]
    h = Harness(PythonAdapter(Kernel(tasks=cfg.tasks)), cfg)
    assert h.run("write", {"path": "/", "file": "memory.use_hierarchy", "text": "2"}) == -22
    assert h.run("write", {"path": "/", "file": "memory.use_hierarchy", "text": "1"}) == 0
