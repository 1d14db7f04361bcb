"""The minimal path (docs/protocol.md): an implementation of whole operations and
a snapshot, in process and over the pipe; the hello's capabilities; the race
commands judge it an operation at a time, between operations."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kmemcg.conformance.status import Exit
from kmemcg.model.scopes import PRESETS
from tests.cli import run
from tests.serial_states import OUTLIVED, shows_every_serial_state

KMEMCG = Path(sys.executable).parent / "kmemcg"
TESTS = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))


def test_a_sequential_implementation_conforms_with_no_steps_of_its_own():
    r = run("conform", "--impl", "whole:WholeKernel", "--seed", "3", "--examples", "10",
            "--steps", "20", "--no-scenarios")
    assert r.exit_code == Exit.OK, r.output
    assert "conforms" in r.output


def test_the_model_scenarios_pass_only_documented_arguments():
    """The scenarios' bypass contexts reach the implementation as gfp, in_interrupt
    and set_task, never as the search's own note of why (it once leaked as an
    undocumented ``bypass`` argument of alloc_kmem)."""
    r = run("conform", "--impl", "whole:DocumentedArgsOnly", "--seed", "1", "--examples", "1")
    assert r.exit_code == Exit.OK, r.output


def test_a_wrong_state_after_a_whole_operation_is_found_by_the_oracle(tmp_path):
    r = run("conform", "--impl", "whole:ForceEmptyMovesKmem", "--seed", "1",
            "--save", tmp_path / "r.json")
    assert r.exit_code == Exit.VIOLATION, r.output
    assert "force_empty" in r.output and "[oracle]" in r.output, r.output


def test_every_serial_run_of_a_sequential_implementation_is_the_models():
    """Forks, exits, the last put and memcg death run whole too: interleaved an
    operation at a time, death's states between operations are the model's serial
    ones. Once the interleaver freed a kernel page in the name of a task already
    reaped (-ESRCH), which the model does not know of: a failure of a valid
    implementation."""
    r = run("interleave", "--config", "death", "--impl", "whole:WholeKernel")
    assert r.exit_code == Exit.OK, r.output
    assert shows_every_serial_state(PRESETS["death"], r.output), r.output



def test_a_page_outliving_every_task_is_freed_by_the_kernel(tmp_path):
    """A kernel page lives on after the last task exits (a dentry, a socket) and is
    freed from the kernel's own context. Once the interleaver freed pages only in
    the name of a live task: page-cache's states between operations were 7,853 of
    the model's serial 8,503, a failure of every valid sequential implementation;
    here 49 of 50."""
    path = tmp_path / "outlived.json"
    path.write_text(json.dumps(OUTLIVED.to_json()))
    r = run("interleave", "--config", path, "--impl", "whole:WholeKernel")
    assert r.exit_code == Exit.OK, r.output
    assert shows_every_serial_state(OUTLIVED, r.output), r.output


@pytest.mark.parametrize("config", ["race", "destruction"])
def test_a_checkpoint_saves_replays_and_changes_no_verdict(config):
    """With the ``checkpoint`` capability each try from a state begins at a
    restore of it, not a replay from boot; the states found are the same."""
    r = run("interleave", "--config", config, "--impl", "whole:Checkpointed")
    assert r.exit_code == Exit.OK, r.output
    assert shows_every_serial_state(PRESETS[config], r.output), r.output
    assert re.search(r"; \d+ steps checked, [1-9]\d* tries from a checkpoint", r.output), r.output


def test_a_restore_that_does_not_bring_the_state_back_is_reported_as_such():
    r = run("interleave", "--config", "race", "--impl", "whole:ForgetfulRestore")
    assert r.exit_code == Exit.VIOLATION, r.output
    assert "restore did not bring back the state saved: its snapshot differs" in r.output, \
        r.output


def test_the_race_machine_drives_a_sequential_implementation_an_operation_at_a_time():
    r = run("conform", "--config", "death", "--impl", "whole:WholeKernel", "--seed", "2",
            "--examples", "30")
    assert r.exit_code == Exit.OK, r.output
    assert "conforms" in r.output, r.output


@pytest.mark.parametrize("config", ["destruction", "root-create"])
def test_slab_caches_run_whole_and_their_states_are_the_models(config):
    """Root caches, their lazy per-memcg copies and their asynchronous destruction
    are on the minimal path: the suite calls the queued works by name, and a
    sequential implementation shows every state between operations the model has."""
    r = run("interleave", "--config", config, "--impl", "whole:WholeKernel")
    assert r.exit_code == Exit.OK, r.output
    assert shows_every_serial_state(PRESETS[config], r.output), r.output


def test_a_wrong_slab_release_seen_whole_is_killed_by_interleave():
    """An emptied slab released with its page still charged, from an implementation
    with no steps: found through the snapshot alone (the race machine's scenario
    finds it too, below)."""
    r = run("interleave", "--config", "destruction", "--impl", "whole:ReleaseKeepsCharge")
    assert r.exit_code == Exit.VIOLATION, r.output
    assert "nr_pages" in r.output or "usage" in r.output, r.output


def _hello(*requests):
    lines = "".join(json.dumps({"id": i, **q}) + "\n" for i, q in enumerate(requests, 1))
    out = subprocess.run([KMEMCG, "serve"], input=lines, capture_output=True, text=True,
                         timeout=60)
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_the_server_says_its_capabilities_and_runs_a_whole_operation():
    hello, _, made, again = _hello(
        {"method": "hello", "params": {"protocol": 2}},
        {"method": "reset", "params": {"config": PRESETS["race"].to_json()}},
        {"method": "call", "params": {"op": "mkdir", "args": {"path": "/A"}}},
        {"method": "call", "params": {"op": "mkdir", "args": {"path": "/A"}}})
    assert hello["result"] == {"protocol": 2, "capabilities": ["steps", "call"]}
    assert made["result"] == 0 and again["result"] == -17  # -EEXIST


@pytest.mark.parametrize("caps", [["teleport"], ["checkpoint"]])
def test_a_hello_without_steps_or_call_is_a_usage_error(tmp_path, caps):
    server = tmp_path / "odd.py"
    server.write_text(
        "import json, sys\n"
        "for line in sys.stdin:\n"
        "    req = json.loads(line)\n"
        "    print(json.dumps({'id': req['id'], 'result': {'protocol': 2,"
        f" 'capabilities': {caps!r}}}}}), flush=True)\n")
    r = run("conform", "--pipe", f"{sys.executable} {server}", "--examples", "1")
    assert r.exit_code == Exit.USAGE, r.output
    assert caps[0] in r.output and "'steps' or 'call' must be among them" in r.output


def test_a_capability_this_suite_does_not_know_is_left_out(tmp_path):
    """A newer server's optional capability does not shut an older suite out."""
    server = tmp_path / "newer.py"
    server.write_text(
        "import json, sys\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        "from kmemcg.conformance import serve\n"
        "session = serve._Session('whole:WholeKernel')\n"
        "for line in sys.stdin:\n"
        "    req = json.loads(line)\n"
        "    result = session.answer(req['method'], req.get('params') or {})\n"
        "    if req['method'] == 'hello':\n"
        "        result = {'protocol': 2, 'capabilities': ['call', 'teleport']}\n"
        "    print(json.dumps({'id': req['id'], 'result': result}), flush=True)\n")
    r = run("conform", "--pipe", f"{sys.executable} {server}", "--seed", "1", "--examples", "3",
            "--no-scenarios")
    assert r.exit_code == Exit.OK, r.output


def test_the_race_machine_gives_a_sequential_implementation_scenarios_it_can_take(tmp_path):
    """The model's scenarios for an implementation of whole operations are its
    serial runs' shortest traces, so every one fits; what stays uncovered is
    what only a split path reaches, and the report says so."""
    r = run("conform", "--config", "destruction", "--impl", "whole:WholeKernel", "--seed", "1",
            "--examples", "20")
    assert r.exit_code == Exit.OK, r.output
    assert "fitted)" in r.output and "skipped" not in r.output, r.output
    assert "\n  uncovered: " not in r.output, r.output
    assert "uncovered where only a split path goes" in r.output, r.output
    r = run("conform", "--config", "destruction", "--impl", "whole:ReleaseKeepsCharge",
            "--seed", "1", "--examples", "20", "--save", tmp_path / "r.json")
    assert r.exit_code == Exit.VIOLATION, r.output
    assert "found by the model's scenario for" in r.output, r.output
