"""Bad input never ends in a traceback, a hang or a false success (issue 7).

Each test meets the command line (click's runner on ``kmemcg``'s ``main``, or
the installed script) with one bad input, and asserts the exit status, a
message that says what is wrong, and no traceback. The misbehaving
implementations are in ``tests/misbehaving.py``.
"""

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import misbehaving
import pytest
from click.testing import CliRunner

from kmemcg.conformance import report
from kmemcg.conformance.cli import main
from kmemcg.conformance.status import Exit

TESTS = Path(__file__).parent
SERVE = f"{sys.executable} -m kmemcg.conformance.serve"


@pytest.fixture(autouse=True)
def _misbehaving_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    misbehaving.CtrlC.calls = 0


def run(*args, env=None):
    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, env=env)
    assert "Traceback" not in r.output, r.output
    return r


def replay_file(path, ops, **extra):
    data = {"version": 2, "config": {"name": "c", "memcgs": ["root", "A"], "parents": [-1, 0],
                                     "tasks": ["t1"]},
            "impl": "kmemcg.impl.kernel:Kernel", "ops": ops, **extra}
    path.write_text(json.dumps(data))
    return path


# ---------------------------------------------------------------- files


def test_an_output_path_in_a_missing_directory_is_refused_before_any_work():
    r = run("explore", "--profile", "list_before_slot", "--itf", "/nonexistent/dir/x.json")
    assert r.exit_code == Exit.USAGE and "'/nonexistent/dir' does not exist" in r.output
    assert "distinct states" not in r.output  # refused before exploring
    r = run("conform", "--save", "/nonexistent/r.json", "--examples", "1")
    assert r.exit_code == Exit.USAGE and "--save" in r.output and "seed:" not in r.output


def test_a_write_that_fails_late_still_prints_the_finding(monkeypatch, tmp_path):
    def full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "write_json", full)
    r = run("explore", "--profile", "list_before_slot", "--itf", tmp_path / "t.json")
    assert r.exit_code == Exit.VIOLATION and "violates D4.no_null_deref" in r.output
    assert "cannot write the ITF trace" in r.output and "No space left" in r.output
    assert '"states": [' in r.output  # the trace itself, printed instead
    r = run("conform", "--impl", "misbehaving:GarbageSnapshot", "--seed", "1", "--examples", "2",
            "--save", tmp_path / "r.json")
    assert r.exit_code == Exit.VIOLATION and "nonconformance [alpha]" in r.output
    assert "cannot write the replay file" in r.output and '"impl": "misbehaving:' in r.output


def test_a_malformed_configuration_or_replay_file_is_a_usage_error(tmp_path):
    listed, binary = tmp_path / "list.json", tmp_path / "bin.json"
    listed.write_text("[1, 2]")
    binary.write_bytes(b"\xff\xfe")
    for f in (listed, binary):
        assert run("explore", "--config", f).exit_code == Exit.USAGE
        r = run("replay", f)
        assert r.exit_code == Exit.USAGE and "replay file" in r.output
    bad = tmp_path / "cfg.json"
    bad.write_text(json.dumps({"version": 2, "config": [1], "impl": "x:y", "ops": []}))
    r = run("replay", bad)
    assert r.exit_code == Exit.USAGE and "'config' must be an object" in r.output


def test_a_replay_file_of_the_old_format_says_so(tmp_path):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"version": 1, "config": {"memcgs": ["root"], "parents": [-1]},
                               "impl": "kmemcg.impl.kernel:Kernel", "seed": 7, "ops": []}))
    r = run("replay", old)
    assert r.exit_code == Exit.USAGE, r.output
    assert "format 1, written by an earlier kmemcg" in r.output
    assert "kmemcg conform --seed 7" in r.output


def test_an_unknown_operation_in_a_replay_file_is_the_files_fault(tmp_path):
    for ops, message in [
        ([{"op": "fly", "args": {}}], "unknown operation 'fly'"),
        ([{"op": "mkdir", "args": {}}], "mkdir lacks path"),
        ([{"op": "mkdir", "args": {"path": "/Z"}}], "path '/Z' is not in the configuration"),
        ([{"op": "alloc_kmem", "args": {"task": "t1", "gfp": ["GFP_ATOMIC"]}}], "gfp must be"),
        ([{"op": "mkdir"}], "not an object with 'op' and 'args'"),
        ([{"op": "alloc_kmem", "args": {"task": "t1", "order": 3}}],
         "order 3 is not one the configuration allocates"),
    ]:
        r = run("replay", replay_file(tmp_path / "r.json", ops))
        assert r.exit_code == Exit.USAGE and message in r.output, r.output
        assert "nonconformance" not in r.output


# ---------------------------------------------------------------- factories


def test_a_factory_that_returns_none_or_lacks_faces_is_a_usage_error():
    r = run("conform", "--impl", "misbehaving:returns_none", "--examples", "1")
    assert r.exit_code == Exit.USAGE
    assert "misbehaving:returns_none returned None, which lacks mkdir, rmdir" in r.output
    r = run("conform", "--impl", "misbehaving:lacks_faces", "--examples", "1")
    assert r.exit_code == Exit.USAGE and "returned a _Half, which lacks rmdir, " in r.output
    assert "mkdir," not in r.output.split("lacks")[1]  # only what is missing
    r = run("interleave", "--config", "race", "--impl", "misbehaving:returns_none")
    assert r.exit_code == Exit.USAGE and "which lacks mkdir" in r.output
    for cmd in (["interleave"], ["conform", "--profile", "correct", "--examples", "1"]):
        r = run(*cmd, "--impl", "misbehaving:slab_returns_none")
        assert r.exit_code == Exit.USAGE and "kmem_cache_alloc" in r.output.split("lacks")[1]


def test_a_factory_that_raises_or_an_empty_impl_is_a_usage_error():
    r = run("conform", "--impl", "misbehaving:factory_raises", "--examples", "1")
    assert r.exit_code == Exit.USAGE
    assert "the factory raised RuntimeError: no kernel today" in r.output
    r = run("conform", "--impl", "", "--examples", "1")
    assert r.exit_code == Exit.USAGE and "wants MOD:FACTORY" in r.output


# ---------------------------------------------------------------- configurations and flags


def test_a_configuration_the_machine_cannot_drive_is_a_usage_error(tmp_path):
    cfg = tmp_path / "notasks.json"
    cfg.write_text(json.dumps({"memcgs": ["root", "A"], "parents": [-1, 0], "tasks": []}))
    for cmd in ("conform", "mutants"):
        r = run(cmd, "--config", cfg, "--seed", "1", "--examples", "1")
        assert r.exit_code == Exit.USAGE and "has no tasks" in r.output, r.output
        assert "InvalidArgument" not in r.output


@pytest.mark.parametrize("args", [
    ["mutants", "--examples", "0"], ["mutants", "--steps", "0"],
    ["explore", "--max-states", "0"], ["explore", "--max-states", "-3"],
    ["conform", "--timeout", "-1"], ["conform", "--timeout", "0"],
    ["interleave", "--timeout", "-1"], ["mutants", "--timeout", "0"],
])
def test_bounds_and_time_limits_must_be_positive(args):
    r = run(*args)
    assert r.exit_code == Exit.USAGE and "is not in the range" in r.output


def test_mutants_on_a_destruction_configuration_runs_the_destruction_mutants():
    r = run("mutants", "--config", "destruction-kmem", "--seed", "1")
    assert r.exit_code == Exit.OK, r.output
    assert r.output.count("killed   interleave destruction-kmem") == 5  # kfree_uncharges_current_memcg among them
    assert "(reference)" not in r.output and "ExceptionGroup" not in r.output
    assert "interrupt_charged" not in r.output  # destruction-kmem serves no root objects


def test_mutants_on_a_scope_without_tasks_leave_the_stack_mutants_out():
    r = run("mutants", "--config", "root-objects", "--seed", "1")
    assert r.exit_code == Exit.OK, r.output
    assert re.search(r"interrupt_charged +killed", r.output)  # the name column's width varies
    assert "stack_never_uncharged" not in r.output and "fork_ignores_kmem_limit" not in r.output


@pytest.mark.parametrize("pipe", ["", "   "])
def test_an_empty_pipe_command_is_a_usage_error(pipe, tmp_path):
    r = run("conform", "--pipe", pipe, "--examples", "1")
    assert r.exit_code == Exit.USAGE and "empty" in r.output and "conforms" not in r.output
    r = run("replay", replay_file(tmp_path / "r.json", []), "--pipe", pipe)
    assert r.exit_code == Exit.USAGE and "empty" in r.output


def test_a_pipe_command_that_cannot_start_is_a_usage_error():
    r = run("conform", "--pipe", "'unclosed", "--examples", "1")
    assert r.exit_code == Exit.USAGE and "No closing quotation" in r.output
    r = run("conform", "--pipe", "no-such-kmemcg-server", "--examples", "1")
    assert r.exit_code == Exit.USAGE and "cannot start 'no-such-kmemcg-server'" in r.output


# ---------------------------------------------------------------- implementations


# A hang is infinite, so the timeout that catches it can be generous: a tight one
# (0.05 s) also caught an honest step on a loaded 2-core machine.
HANG = 0.5


def test_a_hung_implementation_is_a_timeout_verdict_naming_the_call(tmp_path):
    t0 = time.monotonic()
    r = run("conform", "--impl", "misbehaving:SleepsInSnapshot", "--timeout", "0.1",
            "--seed", "1", "--examples", "3", "--save", tmp_path / "r.json")
    assert r.exit_code == Exit.VIOLATION and "nonconformance [timeout]" in r.output
    assert "snapshot of the initial state" in r.output and "within 0.1s" in r.output
    for impl in ("HangsInAttach", "SwallowsTimeouts"):
        r = run("interleave", "--config", "race", "--impl", f"misbehaving:{impl}.for_config",
                "--timeout", HANG)
        assert r.exit_code == Exit.VIOLATION
        assert "timeout: start attach t1 /: " in r.output
        assert f"did not return within {HANG}s" in r.output
    r = run("interleave", "--impl", "misbehaving:ShrinkHangs.for_config", "--timeout", HANG)
    assert r.exit_code == Exit.VIOLATION and "timeout: start shrink.release 1" in r.output
    r = run("replay", replay_file(tmp_path / "h.json", [
        {"op": "attach", "args": {"task": "t1", "path": "/"}}]),
        "--impl", "misbehaving:HangsInAttach", "--timeout", HANG)
    assert r.exit_code == Exit.VIOLATION and "[timeout]: step of attach" in r.output
    assert time.monotonic() - t0 < 10


def test_the_call_timer_is_always_cancelled_and_an_outer_one_kept():
    from kmemcg.conformance.calls import bounded
    from kmemcg.conformance.protocol import ImplementationTimeout

    before = signal.getsignal(signal.SIGALRM)
    assert bounded("quick", lambda: 7, timeout=0.05) == 7
    with pytest.raises(ImplementationTimeout, match=r"spin did not return within 0\.05s"):
        bounded("spin", lambda: time.sleep(5), timeout=0.05)
    with pytest.raises(ZeroDivisionError):
        bounded("raises", lambda: 1 / 0, timeout=0.05)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is before
    time.sleep(0.1)  # nothing fires into the caller afterwards
    signal.setitimer(signal.ITIMER_REAL, 30)
    try:
        bounded("quick", lambda: None, timeout=0.05)
        assert 25 < signal.getitimer(signal.ITIMER_REAL)[0] <= 30
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def test_an_implementation_that_exits_or_answers_garbage_gets_a_verdict(tmp_path):
    r = run("replay", replay_file(tmp_path / "r.json", [{"op": "mkdir", "args": {"path": "/A"}}]),
            "--impl", "misbehaving:ExitsInMkdir")
    assert r.exit_code == Exit.VIOLATION  # its sys.exit(3) is a verdict, not our status
    assert "nonconformance [protocol]" in r.output and "raised SystemExit: 3" in r.output
    r = run("conform", "--impl", "misbehaving:GarbageSnapshot", "--seed", "1", "--examples", "2",
            "--save", tmp_path / "g.json")
    assert r.exit_code == Exit.VIOLATION and "[alpha]: malformed snapshot" in r.output


# ---------------------------------------------------------------- findings kept


def test_a_liveness_counterexample_is_written_as_an_itf_lasso(tmp_path):
    itf = tmp_path / "l.itf.json"
    r = run("explore", "--profile", "no_destroy_on_last_page", "--itf", itf)
    assert r.exit_code == Exit.VIOLATION and "LIVENESS L1.dead_empty_cache_destroyed" in r.output
    trace = json.loads(itf.read_text())
    assert trace["#meta"]["violation"] == "L1.dead_empty_cache_destroyed"
    assert trace["loop"] == len(trace["states"]) - 1  # it stutters in its last state
    assert f"a lasso whose loop starts at state {trace['loop']}" in r.output
    clean = tmp_path / "none.json"
    r = run("explore", "--config", "destruction", "--itf", clean)
    assert r.exit_code == Exit.OK and "nothing written" in r.output and not clean.exists()


def test_a_lasso_through_a_cycle_is_a_fair_loop_of_the_graph():
    from kmemcg.conformance.lasso import lasso
    from kmemcg.model import explore
    from kmemcg.model.controller import MODEL
    from kmemcg.model.liveness import LeadsTo, check
    from kmemcg.model.scopes import PRESETS

    cfg = PRESETS["race"]
    r = explore.explore(cfg)
    # never reached, and the fair actions can always move: the trap is a cycle
    prop = LeadsTo("T.never", "nothing", premise=lambda c, s: {0}, goal=lambda c, s, k: False,
                   fair=("attach", "user.charge"))
    (_, key, path), *_ = check(r, prop)
    steps, loop = lasso(r, prop, key, path)
    ids = {s: i for i, s in enumerate(r.states)}
    walk = [ids[st.state] for st in steps]
    assert loop == len(path) - 1 < len(walk) - 1 and walk[:len(path)] == path
    assert all(r.graph.has_edge(a, b) for a, b in itertools.pairwise(walk))
    assert r.graph.has_edge(walk[-1], walk[loop])  # the loop closes
    taken = {(st.action, st.args) for st in steps[loop + 1:]}
    taken.add(next(iter(sorted(r.graph.edges[walk[-1], walk[loop]]["labels"]))))
    sl = MODEL
    for name in prop.fair:
        for args in sl.actions[name].domain(cfg):
            a = sl.actions[name]
            idle_somewhere = any(not a.guard(cfg, r.states[n], *args)
                                 or a.effect(cfg, r.states[n], *args)[0] == r.states[n]
                                 for n in walk[loop:])
            assert (name, tuple(args)) in taken or idle_somewhere, (name, args)


def test_a_failed_read_saves_the_operations_that_replay_it(tmp_path):
    save = tmp_path / "r.json"
    # enough runs that a read comes up whatever the machine's rules are (10 of 10 seeds)
    r = run("conform", "--impl", "misbehaving:WrongRead", "--seed", "1", "--examples", "20",
            "--steps", "3", "--save", save)
    assert r.exit_code == Exit.VIOLATION and "nonconformance [read]" in r.output
    ops = json.loads(save.read_text())["ops"]
    assert ops and ops[-1]["op"] == "read"
    r = run("replay", save)
    assert r.exit_code == Exit.VIOLATION and "nonconformance [read]" in r.output
    r = run("replay", save, "--impl", "kmemcg.impl.kernel:Kernel")
    assert r.exit_code == Exit.OK and "conforms" in r.output and "not reproduced" in r.output


def test_a_failure_found_over_a_pipe_replays_over_the_pipe(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    save = tmp_path / "p.json"
    r = run("conform", "--pipe", f"{SERVE} misbehaving:GarbageSnapshot", "--seed", "1",
            "--examples", "2", "--save", save)
    assert r.exit_code == Exit.VIOLATION and "nonconformance [alpha]" in r.output
    assert json.loads(save.read_text())["pipe"] == f"{SERVE} misbehaving:GarbageSnapshot"
    r = run("replay", save)
    assert r.exit_code == Exit.VIOLATION and "nonconformance [alpha]" in r.output
    for override in (["--impl", "kmemcg.impl.kernel:Kernel"],
                     ["--pipe", f"{SERVE} kmemcg.impl.kernel:Kernel"]):
        r = run("replay", save, *override)
        assert r.exit_code == Exit.OK and "conforms" in r.output


def test_interleave_says_when_no_lock_order_was_recorded():
    r = run("interleave", "--impl", "kmemcg.impl.kernel:Kernel.for_config")
    assert r.exit_code == Exit.OK and ": equal;" in r.output
    assert "lock order: not recorded by this implementation" in r.output
    assert "lock order (lockdep)" not in r.output
    r = run("interleave")
    assert "lock order (lockdep): " in r.output and "slab_mutex -> " in r.output


# ---------------------------------------------------------------- statuses


def test_tlc_missing_or_failing_is_a_tool_error_with_its_message_whole(monkeypatch):
    from kmemcg.model import tlc as tlc_runner

    for error in (tlc_runner.TlcNotFound("TLC not found: set TLA2TOOLS_JAR"),
                  tlc_runner.TlcError("TLC crashed on Kmem.cfg:\nError: parse error at line 3")):
        def fail(*a, error=error, **kw):
            raise error

        monkeypatch.setattr(tlc_runner, "run_shipped", fail)
        r = run("tlc")
        assert r.exit_code == Exit.TOOL and str(error) in r.output


def test_an_internal_error_is_one_paragraph_and_debug_re_raises(monkeypatch):
    from kmemcg.conformance import cli

    def broken(*a, **kw):
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(cli, "run_explore", broken)
    r = run("explore")
    assert r.exit_code == Exit.INTERNAL
    assert "internal error: RuntimeError: a bug of ours" in r.output and "KMEMCG_DEBUG=1" in r.output
    r = CliRunner().invoke(main, ["explore"], env={"KMEMCG_DEBUG": "1"})
    assert isinstance(r.exception, RuntimeError)


def test_ctrl_c_prints_what_was_checked_and_exits_interrupted(monkeypatch, tmp_path):
    r = run("conform", "--impl", "misbehaving:CtrlCAfterAWhile", "--seed", "1", "--examples", "50")
    assert r.exit_code == Exit.INTERRUPTED
    assert "INTERRUPTED" in r.output and "steps checked" in r.output
    assert "interrupted (Ctrl-C)" in r.output
    from kmemcg.model import explore

    def interrupted(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(explore, "explore", interrupted)
    r = run("explore")
    assert r.exit_code == Exit.INTERRUPTED and "explore [accounting" in r.output


def test_a_failure_found_before_ctrl_c_is_printed_and_saved(tmp_path):
    # the read bug is found in the first few runs, and Ctrl-C comes while it is
    # shrunk (so on 10 of 10 seeds, not on whichever the machine's rules favour);
    # random runs alone, as the model's scenarios would spend the snapshots first
    misbehaving.CtrlC.after = 120
    save = tmp_path / "r.json"
    r = run("conform", "--impl", "misbehaving:WrongReadThenCtrlC", "--seed", "1",
            "--examples", "50", "--steps", "8", "--save", save, "--no-scenarios")
    assert r.exit_code == Exit.INTERRUPTED
    assert "NONCONFORMANCE (found before Ctrl-C" in r.output and "[read]" in r.output
    r = run("replay", save, "--impl", "misbehaving:WrongRead")
    assert r.exit_code == Exit.VIOLATION and "nonconformance [read]" in r.output


@pytest.mark.parametrize("delay", [0.3, 0.5, 0.9])
def test_a_real_sigint_is_the_interrupted_status(delay):
    """Wherever it lands, from the model made symbolic at start-up (inside Z3's
    ctypes calls and finalizers) to the runs, a Ctrl-C is the interrupted
    status with what was found so far, never an internal error or a traceback."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    kmemcg = Path(sys.executable).parent / "kmemcg"
    p = subprocess.Popen([kmemcg, "conform", "--seed", "1", "--examples", "100000"],
                         stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=env,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert p.stdout.readline().startswith("seed: 1")
    time.sleep(delay)
    p.send_signal(signal.SIGINT)
    out = p.communicate(timeout=120)[0]  # a loaded machine is slow to report
    assert p.returncode == Exit.INTERRUPTED and "interrupted (Ctrl-C)" in out
    assert "Traceback" not in out and "internal error" not in out


@pytest.mark.parametrize("delay", [0.2, 0.8, 2.0])
def test_a_sigint_during_the_proof_ends_its_bmc_worker_too(delay):
    """BMC runs in a process of its own beside the induction: a Ctrl-C is still
    the interrupted status, the worker prints no traceback of its own, and it
    ends with the proof (else it would hold the output open until its BMC ends)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    kmemcg = Path(sys.executable).parent / "kmemcg"
    p = subprocess.Popen([kmemcg, "prove", "--bmc", "30"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=env,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first = p.stdout.readline()  # the worker starts right after this line
        assert first.startswith("prove [whole]: ")
        time.sleep(delay)
        p.send_signal(signal.SIGINT)
        out = p.communicate(timeout=120)[0]  # BMC to depth 30 would take far longer
    finally:
        p.kill()  # a worker left running ends itself once orphaned
    assert p.returncode == Exit.INTERRUPTED and "interrupted (Ctrl-C)" in out
    assert "Traceback" not in out and "internal error" not in out
