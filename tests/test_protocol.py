"""Protocol 2 through its public faces: ``kmemcg serve``, ``--pipe`` on every
command and scope, version refusals, and the one replay format."""

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from kmemcg.conformance.cli import main
from kmemcg.conformance.status import Exit

KMEMCG = Path(sys.executable).parent / "kmemcg"
SERVE = f"{KMEMCG} serve"


def run(*args):
    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert "Traceback" not in r.output, r.output
    return r


def talk(*requests, impl=None):
    """The replies of ``kmemcg serve`` to request lines."""
    lines = "".join(json.dumps({"id": i, **r}) + "\n" for i, r in enumerate(requests, 1))
    cmd = [KMEMCG, "serve", *(["--impl", impl] if impl else [])]
    out = subprocess.run(cmd, input=lines, capture_output=True, text=True, timeout=60)
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_interleaving_over_the_pipe_reaches_exactly_the_models_states_on_a_cache_scope():
    r = run("interleave", "--config", "destruction", "--pipe", SERVE)
    assert r.exit_code == Exit.OK, r.output
    assert "implementation 441 abstract states, model 441: equal" in r.output


def test_a_race_found_over_the_pipe_replays_over_the_pipe(tmp_path):
    served = f"{SERVE} --impl kmemcg.conformance.mutants:_StackNeverUncharged"
    save = tmp_path / "race.json"
    r = run("conform", "--config", "destruction-kmem", "--pipe", served, "--seed", "1",
            "--examples", "300", "--save", save)
    assert r.exit_code == Exit.VIOLATION and "FOUND" in r.output, r.output
    assert "-> put_task_struct" in r.output
    data = json.loads(save.read_text())
    assert data["version"] == 2 and data["pipe"] == served and data["schedule"]
    again = run("replay", save)  # over the pipe it was found with
    assert again.exit_code == Exit.VIOLATION and "kmem.usage: model 0" in again.output
    fixed = run("replay", save, "--pipe", SERVE)  # the reference: the same tries conform
    assert fixed.exit_code == Exit.OK and "conforms" in fixed.output


def test_the_sequential_machine_and_its_replay_run_over_the_pipe(tmp_path):
    r = run("conform", "--pipe", SERVE, "--seed", "2", "--examples", "3", "--steps", "10")
    assert r.exit_code == Exit.OK and "conforms" in r.output, r.output
    save = tmp_path / "r.json"
    bad = run("conform", "--pipe", f"{SERVE} --impl kmemcg.conformance.mutants:EnomemAsEbusy",
              "--seed", "1", "--examples", "200", "--save", save)
    assert bad.exit_code == Exit.VIOLATION and "[errno]" in bad.output, bad.output
    assert json.loads(save.read_text())["ops"]
    assert run("replay", save).exit_code == Exit.VIOLATION


def test_a_version_1_client_is_refused_clearly_and_the_server_goes_on():
    old_hello, old_reset, hello = talk(
        {"method": "hello", "params": {}},
        {"method": "reset", "params": {"tasks": ["t1"]}},
        {"method": "hello", "params": {"protocol": 2}})
    assert "speaks kmemcg protocol 2" in old_hello["error"]
    assert "version 1" in old_hello["error"]
    assert "hello" in old_reset["error"]
    assert hello["result"]["protocol"] == 2
    _, reset = talk({"method": "hello", "params": {"protocol": 2}},
                    {"method": "reset", "params": {"tasks": ["t1"]}})
    assert "a 'tasks' list is protocol 1's" in reset["error"]


def test_the_server_boots_the_configuration_and_steps_a_path():
    from kmemcg.model.scopes import PRESETS

    cfg = PRESETS["destruction-kmem"].to_json()
    replies = talk({"method": "hello", "params": {"protocol": 2}},
                   {"method": "reset", "params": {"config": cfg}},
                   {"method": "start", "params": {"op": "spawn",
                                                  "args": {"task": "t1", "path": "/A"}}},
                   {"method": "step", "params": {"thread": 1}},
                   {"method": "step", "params": {"thread": 1}},
                   {"method": "snapshot", "params": {}},
                   {"method": "start", "params": {"op": "fly", "args": {}}})
    spawn, done, snap, fly = (r.get("result", r.get("error")) for r in replies[3:])
    assert spawn == {"action": "spawn", "args": {"task": "t1", "memcg": "/A"}, "ret": 0}
    assert done == {"done": True, "result": 0}
    assert snap["tasks"]["t1"]["memcg"] == "/A" and snap["memcgs"]["/A"]["kmem"]["usage"] == 8192
    assert "unknown operation 'fly'" in fly


def test_a_version_1_server_is_a_usage_error_naming_both_versions(tmp_path):
    old = tmp_path / "v1.py"
    old.write_text("import json, sys\n"
                   "for line in sys.stdin:\n"
                   "    r = json.loads(line)\n"
                   "    print(json.dumps({'id': r['id'], 'result': {'protocol': 1}}), flush=True)\n")
    r = run("interleave", "--config", "race", "--pipe", f"{sys.executable} {old}")
    assert r.exit_code == Exit.USAGE
    assert "speaks protocol 1; this suite speaks version 2" in r.output


def test_a_reader_that_goes_away_stops_the_command_quietly():
    p = subprocess.run(f"{KMEMCG} explore --config accounting --profile no_kmem_limit_check "
                       f"| head -1", shell=True, capture_output=True, text=True, timeout=120,
                       executable="/bin/bash")
    assert "VIOLATION I1.kmem_within_limit" in p.stdout
    assert p.stderr == "", p.stderr
