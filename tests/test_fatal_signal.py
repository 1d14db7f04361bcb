"""A user page of a task with a fatal signal pending goes to the root (3.8):
__mem_cgroup_try_charge's early bypass (``*ptr = root_mem_cgroup``, -EINTR),
which mem_cgroup_charge_common commits. Through the faces: the protocol, on the
reference served over the pipe and on examples/c, and ``kmemcg replay``."""

import errno
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kmemcg.conformance import report
from kmemcg.conformance.adapters import PipeAdapter
from kmemcg.conformance.status import Exit
from kmemcg.impl.kernel import Kernel
from kmemcg.impl.memcontrol import MemoryController
from kmemcg.model.scopes import PRESETS
from tests.cli import run

PAGE = 4096
CFG = PRESETS["conformance"].validate()
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "c" / "kmemcg.c"
CC = shutil.which("gcc") or shutil.which("cc")
SERVED = f"{sys.executable} -m kmemcg.conformance.serve kmemcg.impl.kernel:Kernel"
T1 = {"task": "t1"}
#: /A may hold no page at all; t1 in it, dying, faults three kinds of user page
DYING_IN_A = [
    ("mkdir", {"path": "/A"}),
    ("write", {"path": "/A", "file": "memory.limit_in_bytes", "text": "0"}),
    ("attach", {"task": "t1", "path": "/A"}),
    ("set_task", {"task": "t1", "fatal_signal": True}),
    ("fault_anon", T1), ("read_file", T1), ("alloc_user", T1),
]
READS = [("read", {"path": p, "file": "memory.usage_in_bytes"}) for p in ("/", "/A")]


@pytest.fixture(scope="module")
def c_example(tmp_path_factory):
    if CC is None:
        pytest.skip("no C compiler on PATH")
    out = tmp_path_factory.mktemp("c") / "kmemcg-c"
    subprocess.run([CC, "-O1", "-Wall", "-Wextra", "-Werror", "-std=gnu11", "-o", str(out),
                    str(EXAMPLE)], check=True, timeout=120)
    return str(out)


@pytest.fixture(params=["reference", "c"])
def pipe(request):
    """The command of an implementation served over the pipe."""
    return SERVED if request.param == "reference" else request.getfixturevalue("c_example")


def test_a_dying_tasks_user_pages_go_to_the_root_not_its_group(pipe):
    impl = PipeAdapter(pipe, CFG)
    try:
        results = [impl.call(op, args) for op, args in DYING_IN_A]
        assert results[3:6] == [0, 0, 0] and results[6] >= 0  # nothing refused at /A's U
        snap = impl.snapshot()["memcgs"]
        assert snap["/"]["user_pages"] == 3 and snap["/"]["page_cache"] == 1
        assert snap["/A"]["user_pages"] == 0 and snap["/A"]["res"]["usage"] == 0
        anon = impl.snapshot()["mms"]["t1"]["anon"]  # by memcg path (zeros may be left out)
        assert {m: n for m, n in anon.items() if n} == {"/": 1}
        assert int(impl.read("/", "memory.usage_in_bytes")) == 3 * PAGE
        assert int(impl.read("/A", "memory.usage_in_bytes")) == 0
        # the signal gone, the next fault is /A's again, refused at its limit of 0
        assert impl.call("set_task", {"task": "t1", "fatal_signal": False}) == 0
        assert impl.call("fault_anon", T1) == -errno.ENOMEM
        assert impl.snapshot()["memcgs"]["/"]["user_pages"] == 3
    finally:
        impl.close()


@pytest.fixture(scope="module")
def dying_replay(tmp_path_factory):
    path = tmp_path_factory.mktemp("replay") / "dying.json"
    ops = [*DYING_IN_A, *READS, ("free_user", {"page": 0}), *READS]
    path.write_text(json.dumps(report.replay_data(CFG, None, {}, ops=ops)))
    return path


def test_every_step_of_a_dying_tasks_faults_conforms(dying_replay, pipe):
    r = run("replay", dying_replay, "--pipe", pipe)
    assert r.exit_code == Exit.OK, r.output
    assert "conforms" in r.output


def test_a_kernel_that_charges_the_group_despite_the_signal_is_rejected(dying_replay):
    r = run("replay", dying_replay, "--impl",
            "kmemcg.conformance.mutants:_FatalSignalChargesGroup")
    assert r.exit_code == Exit.VIOLATION, r.output
    assert "first step must be anon.charge(0, 0)" in r.output, r.output


class _RootAlwaysMC(MemoryController):
    def try_charge_memcg(self, task):
        return self.root_mem_cgroup  # wrong: the bypass taken with no signal pending


class RootAlways(Kernel):
    """Every user page to the root, dying or not."""

    controller_class = _RootAlwaysMC


def test_a_kernel_that_sends_a_live_tasks_pages_to_the_root_is_rejected(tmp_path):
    path = tmp_path / "alive.json"
    path.write_text(json.dumps(report.replay_data(CFG, None, {}, ops=[
        ("mkdir", {"path": "/A"}), ("attach", {"task": "t1", "path": "/A"}),
        ("read_file", T1)])))
    assert run("replay", path).exit_code == Exit.OK
    r = run("replay", path, "--impl", "tests.test_fatal_signal:RootAlways")
    assert r.exit_code == Exit.VIOLATION, r.output
    assert "first step must be pagecache.charge(0, 1)" in r.output, r.output


def test_the_interleaver_rejects_it_in_a_scope_without_fatal_signals():
    """race leaves fatal_signals off: the model's guard itself refuses the root."""
    r = run("interleave", "--config", "race", "--impl", "tests.test_fatal_signal:RootAlways")
    assert r.exit_code == Exit.VIOLATION, r.output
    assert "user.charge(0, 0) is not enabled" in r.output, r.output
