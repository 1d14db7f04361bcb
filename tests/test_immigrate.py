"""memory.move_charge_at_immigrate (issue 9, "Tasks and address spaces"): the file's
parse, and the anonymous pages an attach moves with a task after a precharge that may
fail -ENOMEM, kernel charges left where they are (3.8 mem_cgroup_can_attach,
mem_cgroup_do_precharge, mem_cgroup_move_charge)."""

import errno
import sys

import pytest
from cli import run

from kmemcg.conformance import machine
from kmemcg.conformance.adapters import PipeAdapter, PythonAdapter
from kmemcg.conformance.harness import Harness, Nonconformance
from kmemcg.conformance.interleave import explore_impl
from kmemcg.conformance.mutants import MUTANTS
from kmemcg.impl.kernel import Kernel
from kmemcg.model import cgroupfs, explore, prove
from kmemcg.model.controller import MODEL
from kmemcg.model.scopes import PRESETS

PAGE = 4096
#: conformance's scope with the file's write (conformance itself leaves it out)
CFG = PRESETS["conformance-immigrate"]
FILE = "memory.move_charge_at_immigrate"


def _harness(cfg=CFG, impl=None):
    """The reference behind the protocol, every step judged by the model's oracle."""
    return Harness(impl or PythonAdapter(Kernel.for_config(cfg)), cfg)


def _run(h, *ops):
    return [h.run(op, args) for op, args in ops]


def _write(path, text, file=FILE):
    return ("write", {"path": path, "file": file, "text": text})


def _snap(h):
    return h.impl.snapshot()


@pytest.mark.parametrize(("text", "ret", "value"), [
    ("1", 0, 1), (" 3\n", 0, 3), ("0x2", 0, 2), ("03", 0, 3), ("0", 0, 0),
    ("4", -errno.EINVAL, 0),  # val >= 1 << NR_MOVE_TYPE
    ("8", -errno.EINVAL, 0), ("1x", -errno.EINVAL, 0), ("-1", -errno.EINVAL, 0),
    ("0x", -errno.EINVAL, 0),
    (str((1 << 64) + 1), 0, 1),  # simple_strtoull wraps silently at 2^64
    ("9" * 70, -errno.E2BIG, 0),  # past cgroup_write_X64's 64-byte buffer
])
def test_the_file_parses_as_cgroup_write_x64_and_refuses_4_and_up(text, ret, value):
    h = _harness()
    assert _run(h, ("mkdir", {"path": "/A"}), _write("/A", text)) == [0, ret]
    assert h.read("/A", FILE) == f"{value}\n"


def test_the_root_has_the_file_and_a_new_group_does_not_inherit_it():
    h = _harness()
    assert h.read("/", FILE) == "0\n"
    assert _run(h, _write("/", "3"), ("mkdir", {"path": "/A"})) == [0, 0]
    assert h.read("/", FILE) == "3\n" and h.read("/A", FILE) == "0\n"
    assert _snap(h)["memcgs"]["/"]["move_charge_at_immigrate"] == 3


def test_an_owner_that_moves_takes_its_anonymous_pages_and_their_charge():
    h = _harness()
    _run(h, ("fault_anon", {"task": "t1"}), ("fault_anon", {"task": "t1"}),
         ("mkdir", {"path": "/A"}), _write("/A", "1"))
    assert h.run("attach", {"task": "t1", "path": "/A"}) == 0
    s = _snap(h)
    assert s["mms"]["t1"]["anon"] == {"/A": 2}
    assert s["memcgs"]["/A"]["res"]["usage"] == 2 * PAGE and s["memcgs"]["/"]["user_pages"] == 0
    # and back to the root, whose file says so too: A gives the charge up
    assert _run(h, _write("/", "1"), ("attach", {"task": "t1", "path": "/"})) == [0, 0]
    s = _snap(h)
    assert s["mms"]["t1"]["anon"] == {"/": 2} and s["memcgs"]["/A"]["res"]["usage"] == 0


def test_without_bit_0_the_pages_stay_charged_where_they_were():
    h = _harness()
    _run(h, ("fault_anon", {"task": "t1"}), ("mkdir", {"path": "/A"}), _write("/A", "2"))
    assert h.run("attach", {"task": "t1", "path": "/A"}) == 0  # bit 1 alone: file pages
    s = _snap(h)
    assert s["mms"]["t1"]["anon"] == {"/": 1} and s["memcgs"]["/A"]["res"]["usage"] == 0


def test_a_failed_precharge_fails_the_attach_and_the_task_stays():
    """12k of U with 8k in use: both pages at once fail (failcnt 1), then one at a
    time the second fails (failcnt 2); the first is given back."""
    h = _harness()
    _run(h, ("mkdir", {"path": "/A"}), _write("/A", "12k", "memory.limit_in_bytes"),
         ("attach", {"task": "t2", "path": "/A"}), ("fault_anon", {"task": "t2"}),
         ("fault_anon", {"task": "t2"}), ("fault_anon", {"task": "t1"}),
         ("fault_anon", {"task": "t1"}), _write("/A", "1"))
    assert h.run("attach", {"task": "t1", "path": "/A"}) == -errno.ENOMEM
    s = _snap(h)
    assert s["tasks"]["t1"]["memcg"] == "/" and s["mms"]["t1"]["anon"] == {"/": 2}
    assert s["memcgs"]["/A"]["res"] == {"usage": 2 * PAGE, "max_usage": 3 * PAGE,
                                        "limit": 3 * PAGE, "failcnt": 2}


def test_the_precharge_reclaims_the_destinations_page_cache_first():
    h = _harness()
    _run(h, ("mkdir", {"path": "/A"}), _write("/A", "8k", "memory.limit_in_bytes"),
         ("attach", {"task": "t2", "path": "/A"}), ("read_file", {"task": "t2"}),
         ("read_file", {"task": "t2"}), ("fault_anon", {"task": "t1"}),
         ("fault_anon", {"task": "t1"}), _write("/A", "3"))
    assert h.run("attach", {"task": "t1", "path": "/A"}) == 0
    s = _snap(h)["memcgs"]["/A"]
    assert s["page_cache"] == 0 and s["user_pages"] == 2 and s["res"]["usage"] == 2 * PAGE
    assert s["res"]["failcnt"] == 2  # the pages at once, then the first page before reclaim


def test_kernel_charges_never_move():
    h = _harness()
    _run(h, ("mkdir", {"path": "/A"}), _write("/A", "8k", "memory.kmem.limit_in_bytes"),
         ("attach", {"task": "t1", "path": "/A"}))
    page = h.run("alloc_kmem", {"task": "t1"})
    assert page >= 0
    _run(h, ("fault_anon", {"task": "t1"}), _write("/", "1"))
    assert h.run("attach", {"task": "t1", "path": "/"}) == 0
    s = _snap(h)
    assert s["memcgs"]["/A"]["kmem"]["usage"] == PAGE and s["memcgs"]["/A"]["kmem_pages"] == 1
    assert s["memcgs"]["/A"]["res"]["usage"] == PAGE  # the kernel page alone
    assert s["mms"]["t1"]["anon"] == {"/": 1}
    assert h.run("free_kmem", {"task": "t1", "page": page}) == 0  # uncharged from /A
    assert _snap(h)["memcgs"]["/A"]["kmem"]["usage"] == 0


def test_a_thread_that_does_not_own_its_mm_moves_alone():
    """mm->owner == p: t2, a thread of t1's, moves without the mm's pages; t1 then
    takes them. The kernel face (spawn, fork), on the immigrate scope's machine;
    its every interleaving is judged by the model in the mutant test below."""
    k = Kernel.for_config(PRESETS["immigrate"])
    assert k.spawn("t1", "/A") == 0 and k.fault_anon("t1") == 0
    assert k.fork("t2", "t1", thread=True) == 0 and k.write("/", FILE, "1") == 0
    assert k.attach("t2", "/") == 0
    assert k.snapshot()["mms"]["t1"]["anon"] == {"/A": 1}
    assert k.attach("t1", "/") == 0
    s = k.snapshot()
    assert s["mms"]["t1"]["anon"] == {"/": 1}
    # both stacks stay charged to /A: 2 pages each
    assert s["memcgs"]["/A"]["kmem"]["usage"] == 4 * PAGE == s["memcgs"]["/A"]["res"]["usage"]


def test_the_protocol_over_a_pipe_carries_the_file_and_the_move():
    cmd = f"{sys.executable} -m kmemcg.conformance.serve kmemcg.impl.kernel:Kernel"
    h = _harness(impl=PipeAdapter(cmd, CFG))
    try:
        _run(h, ("fault_anon", {"task": "t1"}), ("mkdir", {"path": "/A"}), _write("/A", "1"))
        assert h.read("/A", FILE) == "1\n"
        assert h.run("attach", {"task": "t1", "path": "/A"}) == 0
        assert _snap(h)["memcgs"]["/A"]["res"]["usage"] == PAGE
    finally:
        h.impl.close()


def test_the_face_spec_sends_the_write_to_the_model_action():
    s = MODEL.initial(CFG)
    e = cgroupfs.expect_write(CFG, s, 0, FILE, " 0x3\n")
    assert (e.error, e.action, e.args) == (0, "move_charge.write", (0, 3))
    post, ret = MODEL.step(CFG, s, "move_charge.write", (0, 4))
    assert ret == -errno.EINVAL and post == s


def test_the_immigrate_scope_explores_from_the_command_line():
    r = run("explore", "--config", "immigrate")
    assert r.exit_code == 0, r.output
    assert "25312 distinct" in r.output


def test_the_reference_interleaves_to_exactly_the_models_states():
    r = explore_impl(PRESETS["immigrate-race"])
    assert r.problem is None and r.complete
    assert len(r.states) == 352 == explore.explore(PRESETS["immigrate-race"]).distinct


@pytest.mark.parametrize("name", ["immigrate_moves_stack", "immigrate_without_precharge"])
def test_the_immigrate_mutants_die_in_the_interleaving_of_their_scope(name):
    cfg = PRESETS["immigrate-race"]
    m = MUTANTS[name]
    r = explore_impl(cfg, make=lambda: PythonAdapter(m.kernel.for_config(cfg), name=name))
    assert r.problem is not None and "attach" in r.problem, (name, r.problem)


def test_the_sequential_machine_drives_the_file_and_the_reference_conforms():
    stats = machine.run(CFG, lambda: PythonAdapter(Kernel.for_config(CFG)), seed_value=7,
                        examples=30)
    assert stats.failure is None, stats.failure
    assert stats.steps > 300


def test_a_move_without_precharge_is_caught_by_a_scripted_scenario():
    """/A at U: t1's page cannot be precharged there, so the attach must fail."""
    ops = [("fault_anon", {"task": "t1"}), ("mkdir", {"path": "/A"}),
           _write("/A", "0", "memory.limit_in_bytes"), _write("/A", "1"),
           ("attach", {"task": "t1", "path": "/A"})]
    assert _run(_harness(), *ops)[-1] == -errno.ENOMEM
    m = MUTANTS["immigrate_without_precharge"]
    with pytest.raises(Nonconformance, match="the model returns -12"):
        _run(_harness(impl=PythonAdapter(m.kernel.for_config(CFG))), *ops)


def test_the_immigrate_scope_proves():
    r = prove.prove(PRESETS["immigrate"])
    assert r.ok, [(o.action, o.invariant) for o in r.failed]
