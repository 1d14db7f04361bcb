"""examples/c: a second implementation, in C, of docs/protocol.md's minimal path,
built here with the system compiler and judged over the pipe; its wrong variants
(-DBUG_...) are killed. Small, seeded runs: the whole file takes some 30 s once the
model's scenarios are cached, and a few minutes on a loaded machine before."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kmemcg.conformance import report
from kmemcg.conformance.status import Exit
from kmemcg.model.config import Config
from kmemcg.model.scopes import PRESETS
from tests.cli import run
from tests.serial_states import OUTLIVED, shows_every_serial_state

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "c"
KMEMCG = Path(sys.executable).parent / "kmemcg"
CC = shutil.which("gcc") or shutil.which("cc")
BUGS = {"NO_KMEM_ROLLBACK": "kmem.usage", "LIMIT_ROUND_DOWN": "kmem.limit",
        "ACTIVATE_WITH_TASKS": "kmem_active", "NO_RECLAIM": "page_cache",
        "FATAL_TO_GROUP": "user_pages"}
#: variants a scope with tasks at boot cannot kill (no fork there): judged on FORKS
TASK_BUGS = ("STACK_TO_FORKER",)
#: variants no scope without move_charge_at_immigrate writes can kill: judged on immigrate
IMMIGRATE_BUGS = ("IMMIGRATE_FROM_SOURCE",)
#: variants only a scope with root caches can kill: judged on destruction
SLAB_BUGS = ("DESTROY_NOT_EMPTY",)
#: variants only a scope with the per-cpu stock can kill: judged on stock
STOCK_BUGS = ("NO_STOCK_DRAIN",)


def _write(path, file, text):
    return "write", {"path": path, "file": file, "text": text}


T1 = {"task": "t1"}
#: user memory in a hierarchy, /A at U (12k) over /A/B: reclaim of /A's tree
#: from a kernel page's res step and from faults, an anonymous page that no
#: reclaim frees (-ENOMEM), a limit write under the usage, force_empty and rmdir
RECLAIM = [
    _write("/", "memory.use_hierarchy", "1"), ("mkdir", {"path": "/A"}),
    ("mkdir", {"path": "/A/B"}), _write("/A/B", "memory.kmem.limit_in_bytes", "16k"),
    _write("/A", "memory.limit_in_bytes", "12k"), ("attach", {"task": "t1", "path": "/A/B"}),
    ("read_file", T1), ("fault_anon", T1), ("read_file", T1),
    ("alloc_kmem", T1),  # at U: B's two page cache pages reclaimed for it
    ("read_file", T1), ("fault_anon", T1),  # at U: the third page cache page reclaimed
    ("fault_anon", T1), ("alloc_kmem", T1),  # at U, nothing to reclaim: -ENOMEM
    _write("/A", "memory.limit_in_bytes", "8k"),  # -EBUSY: no reclaim for a limit
    _write("/A", "memory.limit_in_bytes", "-1"), ("read_file", T1),
    ("attach", {"task": "t1", "path": "/A"}), _write("/A/B", "memory.force_empty", "0"),
    ("read_file", T1), ("attach", {"task": "t1", "path": "/"}),
    ("rmdir", {"path": "/A/B"}), ("rmdir", {"path": "/A"}),  # A's kinds kept, in the root
]

pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler on PATH")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The implementation and its variants, compiled side by side, warnings as errors."""
    out = tmp_path_factory.mktemp("c")
    jobs = [subprocess.Popen([CC, "-O1", "-Wall", "-Wextra", "-Werror", "-std=gnu11", *flags,
                              "-o", str(out / name), str(EXAMPLE / "kmemcg.c")],
                             stderr=subprocess.PIPE, text=True)
            for name, flags in [("kmemcg-c", [])]
            + [(f"kmemcg-c-{b}", [f"-DBUG_{b}"])
               for b in [*BUGS, *TASK_BUGS, *IMMIGRATE_BUGS, *SLAB_BUGS, *STOCK_BUGS]]]
    for job in jobs:
        _, err = job.communicate(timeout=120)
        assert job.returncode == 0, err
    return out


def test_the_c_implementation_conforms_over_the_pipe(built):
    r = run("conform", "--pipe", built / "kmemcg-c", "--seed", "1", "--examples", "10",
            "--steps", "20")
    assert r.exit_code == Exit.OK, r.output
    assert "conforms" in r.output and "0 uncovered" in r.output


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_each_wrong_variant_of_the_c_implementation_is_killed(built, bug, tmp_path):
    r = run("conform", "--pipe", built / f"kmemcg-c-{bug}", "--seed", "1", "--examples", "10",
            "--steps", "20", "--save", tmp_path / "r.json")
    assert r.exit_code == Exit.VIOLATION, r.output
    assert "NONCONFORMANCE" in r.output and BUGS[bug] in r.output, r.output


@pytest.fixture(scope="module")
def reclaim_replay(tmp_path_factory):
    path = tmp_path_factory.mktemp("replay") / "reclaim.json"
    path.write_text(json.dumps(report.replay_data(PRESETS["conformance"], None, {},
                                                  ops=RECLAIM)))
    return path


def test_the_c_implementation_reclaims_page_cache_as_the_model_does(built, reclaim_replay):
    """Further than a short seeded run goes: reclaim of a hierarchy's tree,
    force_empty and rmdir with page cache and anonymous pages in the group."""
    r = run("replay", reclaim_replay, "--pipe", built / "kmemcg-c")
    assert r.exit_code == Exit.OK, r.output
    assert "conforms" in r.output
    for outcome in ("anon.charge = -ENOMEM", "anon.charge = 0 [reclaimed]",
                    "charge.res = 0 [reclaimed]", "face: write memory.force_empty"):
        assert outcome in r.output, r.output


@pytest.mark.parametrize("config", ["race", "destruction"])
def test_every_serial_run_of_the_c_implementation_is_the_models(built, config):
    """interleave drives whole operations one at a time: the states between
    operations must be every one of the model's serial runs (model/serial.py).
    On destruction, root caches, their per-memcg copies created by a work item
    and their destruction by another once emptied and dead run whole, the works
    called by name. The C example hands a freed page's number out again at once,
    which the interleaver once took for the old page's when the free returned."""
    _every_serial_state(built, config)


def _every_serial_state(built, config) -> None:
    """interleave over the pipe finds every state of the model's serial runs
    between operations on ``config`` (a preset's name or a file), and no other."""
    r = run("interleave", "--config", config, "--pipe", built / "kmemcg-c")
    assert r.exit_code == Exit.OK, r.output
    cfg = PRESETS[config] if config in PRESETS else Config.load(config)
    assert shows_every_serial_state(cfg, r.output), r.output


def test_a_wrong_variant_of_the_c_implementation_is_killed_by_interleave(built):
    r = run("interleave", "--config", "race", "--pipe", built / "kmemcg-c-NO_KMEM_ROLLBACK")
    assert r.exit_code == Exit.VIOLATION, r.output
    assert "kmem.usage" in r.output, r.output


def test_the_c_implementation_refuses_a_scope_it_does_not_implement(built, tmp_path):
    """A kernel other than the correct one (a profile whose fixes are removed)."""
    cfg = PRESETS["accounting"].to_json() | {"name": "rollback", "profile": "no_kmem_rollback"}
    path = tmp_path / "rollback.json"
    path.write_text(json.dumps(cfg))
    r = run("conform", "--config", path, "--pipe", built / "kmemcg-c", "--examples", "1")
    assert r.exit_code == Exit.USAGE, r.output
    assert "refuses the configuration 'rollback'" in r.output, r.output
    assert "only the correct profile is implemented" in r.output, r.output


def test_every_serial_run_of_the_c_implementation_is_the_models_as_memcgs_die(built):
    """Spawn, fork, exit, the last put, rmdir with kmem charged, css_free and
    mem_cgroup_free run whole: death's serial runs are the model's, between
    operations (an exit's deferred put may be preempted in the model)."""
    _every_serial_state(built, "death")


def test_the_c_implementation_frees_a_page_that_outlived_every_task(built, tmp_path):
    """free_kmem with no task: the kernel frees a page its allocator left behind."""
    path = tmp_path / "outlived.json"
    path.write_text(json.dumps(OUTLIVED.to_json()))
    _every_serial_state(built, str(path))


@pytest.fixture(scope="module")
def forks(tmp_path_factory):
    """tasks without exit and put_task_struct: the forks of threads moved away
    from their mm's owner, small enough to interleave in seconds."""
    return _preset_file(tmp_path_factory, "tasks", "forks", actions=["spawn", "fork", "attach"])


def test_the_c_implementation_charges_a_stack_to_the_mm_owner(built, forks):
    _every_serial_state(built, forks)


def test_a_stack_charged_to_the_forking_thread_is_killed_by_interleave(built, forks):
    """A thread moved to the root forks: its stack goes to its mm owner's /A,
    not to the root (BUG_STACK_TO_FORKER: mem_cgroup_from_task(current))."""
    r = run("interleave", "--config", forks, "--pipe", built / "kmemcg-c-STACK_TO_FORKER")
    assert r.exit_code == Exit.VIOLATION, r.output
    assert "fork" in r.output and "kmem" in r.output, r.output


def test_the_c_implementation_moves_charges_at_immigrate(built):
    """memory.move_charge_at_immigrate: the model's scenarios on immigrate (a
    move of anonymous pages to the root and back, a precharge that fails
    -ENOMEM, a thread that is not the mm's owner) and a few seeded runs."""
    r = run("conform", "--config", "immigrate", "--pipe", built / "kmemcg-c", "--seed", "1",
            "--examples", "10", "--steps", "20")
    assert r.exit_code == Exit.OK, r.output
    assert "conforms" in r.output and "0 uncovered" in r.output, r.output


def test_an_attach_that_reads_the_source_groups_value_is_killed(built, tmp_path):
    """BUG_IMMIGRATE_FROM_SOURCE: a move out of a group with bit 0 set into one
    without takes the charges along; mem_cgroup_can_attach reads mc.to's value."""
    r = run("conform", "--config", "immigrate", "--pipe",
            built / "kmemcg-c-IMMIGRATE_FROM_SOURCE", "--seed", "1", "--examples", "10",
            "--steps", "20", "--save", tmp_path / "r.json")
    assert r.exit_code == Exit.VIOLATION, r.output
    assert "FOUND" in r.output and "mms.t1.anon" in r.output, r.output


def test_a_destroy_work_that_frees_a_cache_with_objects_is_killed(built):
    """BUG_DESTROY_NOT_EMPTY: kmem_cache_destroy_work_func frees a dead copy
    that still holds objects (the kernel shrinks it and frees it only if empty)."""
    r = run("interleave", "--config", "destruction", "--pipe",
            built / "kmemcg-c-DESTROY_NOT_EMPTY")
    assert r.exit_code == Exit.VIOLATION, r.output
    assert "destroy" in r.output, r.output


def _preset_file(tmp_path_factory, preset, name, **changes):
    """A preset's configuration with ``changes``, written as a file for --config."""
    path = tmp_path_factory.mktemp(name) / f"{name}.json"
    path.write_text(json.dumps(PRESETS[preset].to_json() | {"name": name, **changes}))
    return path


@pytest.fixture(scope="module")
def stock_kmem(tmp_path_factory):
    """stock-race's kernel pages alone: one task on one cpu, its charges
    through its stock, attach and the cpu's drain, small enough to interleave
    in seconds (stock-race itself, user pages too, takes some 20)."""
    return _preset_file(tmp_path_factory, "stock-race", "stock-kmem",
                        actions=["charge.kmem", "charge.res", "charge.commit", "charge.abort",
                                 "free.uncharge", "attach", "stock.drain"])


def test_the_c_implementation_charges_through_the_per_cpu_stock(built):
    """The model's scenarios on stock (two tasks on two cpus, a batch of two
    pages, a res limit a batch does not fit beside a page) and a few seeded
    runs: a page's charge precharging a second into the cpu's stock, a failed
    batch retried at one page (its failcnt counted), the stock drained by
    drain_stock and rmdir."""
    r = run("conform", "--config", "stock", "--pipe", built / "kmemcg-c", "--seed", "1",
            "--examples", "10", "--steps", "20")
    assert r.exit_code == Exit.OK, r.output
    assert "conforms" in r.output and "0 uncovered" in r.output, r.output


def test_every_serial_run_of_the_c_implementation_is_the_models_with_a_stock(built, stock_kmem):
    _every_serial_state(built, stock_kmem)


def test_an_rmdir_that_leaves_a_stock_charged_is_killed(built, tmp_path):
    """BUG_NO_STOCK_DRAIN: mem_cgroup_reparent_charges without its
    drain_all_stock_sync, so a removed group's res keeps the page its cpu's
    stock precharged (the model's scenario for an rmdir with kmem pages)."""
    r = run("conform", "--config", "stock", "--pipe", built / "kmemcg-c-NO_STOCK_DRAIN",
            "--seed", "1", "--examples", "10", "--steps", "20", "--save", tmp_path / "r.json")
    assert r.exit_code == Exit.VIOLATION, r.output
    assert "NONCONFORMANCE" in r.output and "stock" in r.output and "rmdir" in r.output, \
        r.output


class _Pipe:
    """The C example over its pipe, spoken to directly: one request, one reply."""

    def __init__(self, binary):
        self.proc = subprocess.Popen([str(binary)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.n = 0

    def __call__(self, method, **params):
        self.n += 1
        self.proc.stdin.write(json.dumps({"id": self.n, "method": method, "params": params})
                              + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        assert reply.get("id") == self.n, reply
        return reply

    def close(self):
        self.proc.stdin.close()
        assert self.proc.wait(timeout=10) == 0


FILES = ("memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.failcnt",
         "memory.kmem.usage_in_bytes", "memory.kmem.slabinfo")
T2 = {"task": "t2"}
#: (before the save, after it) on each scope: the stock's precharge, consumed
#: and drained, a failed batch's failcnt; slab objects on the root's own slabs
#: and a copy's, the copy created by its work and destroyed by rmdir's
CHECKPOINTS = {
    "stock": ([("attach", {"task": "t1", "path": "/A"}), ("alloc_kmem", T1)],
              [("attach", {"task": "t2", "path": "/A"}), ("alloc_user", T2),
               ("alloc_kmem", T1), ("free_kmem", {"task": "t1", "page": 0}),
               _write("/A", "memory.limit_in_bytes", "16k"), ("alloc_user", T2),
               ("alloc_user", T2), ("drain_stock", {"cpu": 0}), ("attach", {"task": "t1", "path": "/"}),
               ("attach", {"task": "t2", "path": "/"}), _write("/A", "memory.force_empty", "0")]),
    "root-objects": ([("kmem_cache_alloc", {"root": "dentry", "path": "/"}),
                      ("kmem_cache_alloc", {"root": "dentry", "path": "/A"}),
                      ("work", {"item": "create dentry(1:A)"})],
                     [("kmem_cache_alloc", {"root": "dentry", "path": "/A"}),
                      ("kmem_cache_free", {"object": 0}),
                      ("kmem_cache_alloc", {"root": "dentry", "path": "/A"}),
                      ("kmem_cache_free", {"object": 2}), ("rmdir", {"path": "/A"}),
                      ("work", {"item": "destroy dentry(1:A)"})]),
}


@pytest.mark.parametrize("config", sorted(CHECKPOINTS))
def test_the_c_implementation_returns_to_a_saved_state(built, config):
    """The checkpoint capability: save remembers the whole machine, restore
    returns to it (the snapshot, the reads and what the same operations then
    return: handles and slabs included), as often as asked; a reset forgets it."""
    cfg = PRESETS[config]
    before, after = CHECKPOINTS[config]
    pipe = _Pipe(built / "kmemcg-c")
    try:
        assert "checkpoint" in pipe("hello", protocol=2)["result"]["capabilities"]
        pipe("reset", config=cfg.to_json())
        assert pipe("restore")["error"] == "nothing saved"

        def calls(ops):
            return [pipe("call", op=op, args=args)["result"] for op, args in ops]

        def seen():
            reads = [pipe("read", path=p, file=f)["result"]
                     for p in ("/", "/A") for f in FILES]
            return pipe("snapshot")["result"], reads, cfg.roots and pipe("slabinfo")["result"]

        calls(before)
        assert "result" in pipe("save")
        saved = seen()
        results = calls(after)
        assert seen() != saved
        for _ in range(2):  # the slot is kept: restore, and again after the same calls
            assert pipe("restore")["result"] == 0
            assert seen() == saved
            assert calls(after) == results
        assert pipe("restore")["result"] == 0
        assert pipe("restore")["result"] == 0  # twice in a row
        assert seen() == saved
        pipe("reset", config=cfg.to_json())
        assert pipe("restore")["error"] == "nothing saved"
    finally:
        pipe.close()
