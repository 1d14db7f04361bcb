"""The cache races: the default protocol holds, every historical race is found."""

import errno
import json
from dataclasses import replace

import pytest
from click.testing import CliRunner

from kmemcg.conformance.adapters import PythonAdapter
from kmemcg.conformance.cli import main
from kmemcg.impl.kernel import Kernel
from kmemcg.model import explore, prove
from kmemcg.model.controller import MODEL
from kmemcg.model.profiles import MERGED, PROFILES
from kmemcg.model.scopes import PRESETS

#: the cache races of the roster, one each, and what each breaks on the
#: destruction preset (the releases as merged have several: tests/test_claims.py)
EXPECTED = {p.name: p.expect for p in PROFILES.values()
            if p.preset == "destruction" and p.name not in MERGED}


def test_every_cache_race_has_an_expectation():
    assert len(EXPECTED) == 9 and all(EXPECTED.values())


@pytest.mark.parametrize("preset", ["destruction", "destruction-kmem", "destruction-2roots"])
def test_default_protocol_is_safe_and_live(preset):
    r = explore.explore(PRESETS[preset])
    assert r.complete and r.violation is None and r.liveness == []
    assert r.ok


@pytest.mark.parametrize(("profile", "broken"), sorted(EXPECTED.items()))
def test_each_historical_profile_breaks_its_invariant_quickly(profile, broken):
    r = explore.explore(replace(PRESETS["destruction"], profile=profile))
    found = r.violation or (r.liveness[0][0] if r.liveness else None)
    assert found == broken
    if r.violation:
        assert len(r.trace) - 1 <= 10  # a shortest interleaving, BFS
        last = r.trace[-1].state
        assert broken in MODEL.violated(r.config, last)


@pytest.mark.parametrize("preset", ["destruction-kmem", "destruction-2roots"])
def test_safety_invariants_are_inductive_for_the_default_protocol(preset):
    rep = prove.prove(PRESETS[preset])
    assert rep.ok, [(o.action, o.invariant) for o in rep.failed]


def test_a_reopened_race_fails_induction_too():
    rep = prove.prove(replace(PRESETS["destruction"], profile="create_after_offline"))
    assert ("create_work.publish", "D6.offline_caches_dead") in {
        (o.action, o.invariant) for o in rep.failed}


def test_cli_reports_a_race_as_numbered_steps_per_thread():
    r = CliRunner().invoke(main, ["explore", "--profile", "destroy_while_requeued"])
    assert r.exit_code == 1
    assert "VIOLATION D3.no_use_after_destroy" in r.output
    assert "[kworker] destroy_work.destroy(cache=dentry(1:A))" in r.output
    assert "[  task] free.release_pages(cache=dentry(1:A))" in r.output


def test_cli_lists_every_profile_of_the_roster():
    r = CliRunner().invoke(main, ["explore", "--list-profiles"])
    rows = [line.split("\t") for line in r.output.splitlines()]
    assert {(name, sl) for name, sl, _ in rows} >= {("v5_double_destroy", "destruction"),
                                                    ("no_kmem_rollback", "accounting")}
    assert all(len(row) == 3 and row[2] for row in rows)


def test_implementation_reaches_exactly_the_models_states():
    from kmemcg.conformance.interleave import explore_impl

    for preset in ("destruction", "destruction-kmem"):
        cfg = PRESETS[preset]
        r = explore_impl(cfg)
        assert r.problem is None
        assert r.states == set(explore.explore(cfg, graph=False).states)


@pytest.mark.parametrize("profile", sorted(p for p, inv in EXPECTED.items() if inv[0] == "D"))
def test_implementation_profiles_hit_the_models_invariant(profile):
    from kmemcg.conformance.interleave import explore_impl

    r = explore_impl(replace(PRESETS["destruction"], profile=profile))
    assert r.problem is not None and EXPECTED[profile] in r.problem


def test_race_machine_finds_and_replays_a_race():
    from kmemcg.conformance import race

    cfg = replace(PRESETS["destruction"], profile="create_after_offline")
    st = race.run(cfg, seed_value=1, examples=1000, shrink_seconds=5)
    assert st.failure is not None and "D6.offline_caches_dead" in st.failure.message
    assert race.replay(cfg, st.schedule) == st.failure.message
    ok = race.run(PRESETS["destruction"], seed_value=1, examples=30)
    assert ok.failure is None and ok.steps > 100


def test_cli_interleave_and_race_replay(tmp_path):
    r = CliRunner().invoke(main, ["interleave"])
    assert r.exit_code == 0 and ": equal;" in r.output
    r = CliRunner().invoke(main, ["interleave", "--profile", "create_vs_root_destroy"])
    assert r.exit_code == 1 and "D3.no_use_after_destroy after 5 steps" in r.output
    assert "root_destroy.start:0" in r.output
    assert "-> root_destroy.cancel_work(root=dentry)" in r.output
    save = tmp_path / "race.json"
    r = CliRunner().invoke(main, ["conform", "--profile", "create_after_offline", "--seed", "1",
                                  "--examples", "1000", "--save", str(save)])
    assert r.exit_code == 1 and "FOUND" in r.output
    r = CliRunner().invoke(main, ["replay", str(save)])
    assert r.exit_code == 1 and "D6.offline_caches_dead" in r.output


def test_lock_order_is_the_documented_one_and_has_no_cycle():
    from kmemcg.conformance.interleave import explore_impl

    r = explore_impl(PRESETS["destruction"])
    # domain 6: set_limit_mutex -> slab_mutex -> memcg->slab_caches_mutex (<= 3.15),
    # memcg_cache_mutex outside slab_mutex (3.10)
    assert {("set_limit_mutex", "slab_mutex"), ("slab_mutex", "memcg->slab_caches_mutex"),
            ("memcg_cache_mutex", "slab_mutex")} <= set(r.lock_orders)
    assert r.lock_cycles == []


def test_lockdep_reports_an_inversion():
    from kmemcg.impl.lockdep import Lockdep

    ld = Lockdep()
    with ld.locked("t1", "A", "B"):
        pass
    with ld.locked("t2", "B", "A"):
        pass
    assert ld.cycles() in ([["A", "B"]], [["B", "A"]])


def test_slabinfo_is_checked_at_every_state():
    from kmemcg.conformance.interleave import explore_impl
    from kmemcg.impl.kernel import Kernel

    class ForgetsChildren(Kernel):
        def proc_slabinfo(self):
            return "# name <active_objs> <num_objs>\n" + "".join(
                f"{r.name} 0 0\n" for r in self.slab.slab_caches if not r.freed)

    cfg = PRESETS["destruction"]
    r = explore_impl(cfg, make=lambda: PythonAdapter(ForgetsChildren.for_config(cfg)))
    assert r.problem is not None and "/proc/slabinfo" in r.problem


def _kernel(tasks=(), **kw):
    """The destruction presets' machine: memcg A online and kmem-limited at boot."""
    from kmemcg.impl.kernel import Kernel

    return Kernel(tasks, memcgs=("root", "A"), parents=(-1, 0), roots=("dentry",),
                  boot_memcgs=True, boot_tasks=False, **kw)


def _steps(path):
    """The steps a path takes, run alone."""
    from kmemcg.impl.sched import run

    return run(path)[1]


def _kmem(k):
    """memcg A's kmem counter, as the kernel's snapshot shows it."""
    return k.snapshot()["memcgs"]["/A"]["kmem"]


def test_slabinfo_shows_the_slab_geometry():
    k = _kernel(slab_order=1, objs_per_slab=2)
    k.kmem_cache_alloc("dentry", "/A")  # served by the root; queues the creation
    k.flush_scheduled_work()
    for _ in range(3):
        k.kmem_cache_alloc("dentry", "/A")
    # three objects on two order-1 slabs of two: four object slots, both slabs in use
    want = "dentry 3 4 2 2 : slabdata 2 2"
    assert k.proc_slabinfo().splitlines()[2] == want
    assert k.read("/A", "memory.kmem.slabinfo").splitlines()[2] == want
    assert _kmem(k)['usage'] == 2 * 2 * 4096
    # one set of counters: the slab pages are in A's res usage too
    assert k.read("/A", "memory.usage_in_bytes") == f"{2 * 2 * 4096}\n"


def test_a_slab_or_a_stack_over_the_kmem_limit_fails_with_enomem():
    from kmemcg.impl.sched import Step, run

    k = _kernel(slab_order=1, objs_per_slab=2, kmem_limit=4 * 4096, tasks=("t1",))
    (fork,) = _steps(k.steps.spawn("t1", "/A"))
    assert fork.ret == 0 and _kmem(k)['usage'] == 2 * 4096  # an order-1 stack
    k.kmem_cache_alloc("dentry", "/A")
    k.flush_scheduled_work()
    steps = [_steps(k.steps.kmem_cache_alloc("dentry", "/A"))[0] for _ in range(3)]
    assert [s.ret for s in steps] == [0, 0, -12]  # the second slab would pass the limit
    assert _kmem(k)['failcnt'] == 1
    busy = Step("rmdir", {"memcg": "/A"}, -16)
    assert run(k.steps.rmdir("/A")) == (-16, [busy])  # -EBUSY: t1 is still in A
    assert k.exit("t1") == 0
    assert _steps(k.steps.rmdir("/A"))[0].action == "rmdir"
    assert k.put_task_struct("t1") == 0  # the stack is uncharged from the offline memcg
    assert _kmem(k)['usage'] == 2 * 4096


def test_ordinary_calls_run_the_path_and_steps_give_the_generator():
    from kmemcg.impl.kernel import Kernel

    k = Kernel(tasks=("t1",))
    assert k.mkdir("/a") == 0 and k.mkdir("/a") == -17
    gen = k.steps.mkdir("/b")
    assert k.read("/b", "memory.usage_in_bytes") == -2  # nothing happens until driven
    assert [s.action for s in gen] == ["mkdir"]
    assert k.read("/b", "memory.usage_in_bytes") == "0\n"


@pytest.mark.parametrize(("mutant", "caught"), [
    ("release_keeps_charge", "memcgs.A.kmem.usage: model 0, implementation 8192"),
    ("nr_pages_counts_slabs", "nr_pages is 1 but its slabs [0, 1, 0] hold 2"),
    ("stack_never_uncharged", "memcgs.A.kmem.usage: model 0, implementation 8192"),
    ("fork_ignores_kmem_limit", "returned 0, the model returns -12"),
])
def test_charge_mutants_are_caught_by_the_interleaving(mutant, caught):
    from kmemcg.conformance.interleave import explore_impl
    from kmemcg.conformance.mutants import MUTANTS

    cfg = PRESETS["destruction-kmem"]
    kernel = MUTANTS[mutant].kernel
    r = explore_impl(cfg, make=lambda: PythonAdapter(kernel.for_config(cfg)))
    assert r.problem is not None and caught in r.problem, r.problem


def test_an_implementation_that_raises_gets_a_verdict_not_a_traceback(tmp_path):
    from kmemcg.conformance.interleave import explore_impl
    from kmemcg.impl.kernel import Kernel

    class Raises(Kernel):
        def kmem_cache_shrink(self, root, path):
            raise RuntimeError("oops in shrink")

    cfg = PRESETS["destruction"]
    r = explore_impl(cfg, make=lambda: PythonAdapter(Raises.for_config(cfg)))
    assert "kmem_cache_shrink raised RuntimeError: oops in shrink" in r.problem
    r = CliRunner().invoke(main, ["interleave", "--impl", "kmemcg.conformance.mutants:nope"])
    assert r.exit_code == 2 and "no callable 'nope'" in r.output
    r = CliRunner().invoke(main, ["interleave", "--impl", "misbehaving:factory_raises"])
    assert r.exit_code == 2 and "the factory raised RuntimeError" in r.output
    r = CliRunner().invoke(main, ["interleave", "--impl", "kmemcg.impl.kernel:Kernel"])
    assert r.exit_code == 0 and ": equal;" in r.output  # a Kernel class boots with for_config


def test_cli_checks_another_destruction_implementation():
    ok = CliRunner().invoke(main, ["interleave", "--config", "destruction-kmem", "--impl",
                                   "kmemcg.impl.kernel:Kernel.for_config"])
    assert ok.exit_code == 0 and ": equal;" in ok.output
    bad = CliRunner().invoke(main, ["interleave", "--config", "destruction-kmem", "--impl",
                                    "kmemcg.conformance.mutants:_ReleaseKeepsCharge.for_config"])
    assert bad.exit_code == 1 and "memcgs.A.kmem.usage: model 0" in bad.output
    race = CliRunner().invoke(main, ["conform", "--config", "destruction-kmem", "--impl",
                                     "kmemcg.conformance.mutants:_StackNeverUncharged.for_config",
                                     "--seed", "1", "--examples", "300"])
    assert race.exit_code == 1 and "FOUND" in race.output and "-> put_task_struct" in race.output


@pytest.mark.slow  # minutes: every interleaving of destruction-2roots, twice
def test_offline_walks_the_list_newest_first_an_order_the_state_forgets():
    """Two roots, no slabs: the implementation walks newest cache first; the
    model lets offline visit the caches in any order. Their states agree only
    when the interleaver keeps runs with different list orders apart."""
    from kmemcg.conformance.interleave import explore_impl
    from kmemcg.impl.kernel import Kernel

    cfg = replace(PRESETS["destruction-2roots"], max_pages=0)
    model = set(explore.explore(cfg, graph=False).states)
    r = explore_impl(cfg)
    assert r.problem is None and r.states == model

    class Forgetful(Kernel):
        hidden = None  # one run per abstract state: a list order is never tried

    partial = explore_impl(cfg, make=lambda: PythonAdapter(Forgetful.for_config(cfg)))
    assert partial.problem is None and partial.states < model


@pytest.mark.parametrize(("profile", "every"), [
    ("correct", 1), ("offline_vs_root_destroy", 3), ("list_before_slot", 1),
    ("create_vs_root_destroy", 1)])
def test_root_permutations_are_a_symmetry_of_the_model(profile, every):
    from kmemcg.model.symmetry import permute_roots

    cfg = replace(PRESETS["destruction-2roots"], profile=profile)
    sl, swap = MODEL, (1, 0)
    steps = explore.enabled_steps(cfg)
    for s in explore.explore(cfg, graph=False).states[::every]:
        t = permute_roots(cfg, s, swap)
        posts = {permute_roots(cfg, p, swap) for *_, p in explore.successors(cfg, s, steps)}
        assert posts == {p for *_, p in explore.successors(cfg, t, steps)}
        assert sl.violated(cfg, s) == sl.violated(cfg, t)
        assert sl.in_constraint(cfg, s) == sl.in_constraint(cfg, t)


def test_the_renaming_moves_every_per_cache_and_per_root_field():
    """A field added to DState later must be renamed too, or the symmetry lies."""
    from kmemcg.model.state import n_caches
    from kmemcg.model.symmetry import _PER_CACHE

    # sizes that tell the index sets apart: 2 roots, 3 memcgs, 6 caches, 4 tasks
    cfg = replace(PRESETS["destruction-2roots"], memcgs=("root", "A", "B"), parents=(-1, 0, 0),
                  tasks=("t1", "t2", "t3", "t4"))
    s = MODEL.initial(cfg)
    per_cache = {f for f in s._fields
                 if isinstance(getattr(s, f), tuple) and len(getattr(s, f)) == n_caches(cfg)}
    assert per_cache == set(_PER_CACHE)
    per_root = {f for f in s._fields if isinstance(getattr(s, f), tuple)
                and len(getattr(s, f)) == len(cfg.roots)} - per_cache
    assert per_root == {"root_alive", "offline_done"}


def test_symmetry_keeps_one_state_per_orbit_and_every_verdict():
    from kmemcg.model.symmetry import root_symmetry

    cfg = PRESETS["destruction-2roots"]
    full = explore.explore(cfg, graph=False)
    reduced = explore.explore(cfg, graph=False, symmetry=True)
    perms = root_symmetry(cfg)
    assert reduced.distinct == len({min(p(s) for p in perms) for s in full.states})
    assert reduced.distinct < full.distinct and reduced.violation is None
    for profile, broken in EXPECTED.items():
        if broken.startswith("D"):
            bug = replace(cfg, profile=profile)
            r = explore.explore(bug, symmetry=True)
            assert r.violation == broken
            assert len(r.trace) == len(explore.explore(bug, graph=False).trace)
    r = CliRunner().invoke(main, ["explore", "--config", "accounting", "--symmetry"])
    assert r.exit_code == 2 and "no symmetry to use" in r.output
    # one root: nothing to reduce, so liveness is still checked
    r = CliRunner().invoke(main, ["explore", "--profile", "no_destroy_on_last_page", "--symmetry"])
    assert r.exit_code == 1 and "VIOLATION L1.dead_empty_cache_destroyed" in r.output
    r = CliRunner().invoke(main, ["explore", "--config", "destruction-2roots", "--profile",
                                  "no_destroy_on_last_page", "--symmetry"])
    assert "no violation of the safety properties; liveness NOT checked" in r.output


def test_a_dead_cache_keeping_an_empty_slab_leaks_as_3_10_did():
    """VDNOSCHED: "nr_pages never gets to zero unless the cache is shrunk
    explicitly". L1 (pages reach 0 -> destroyed) holds; the stronger "a dead
    cache with no objects is destroyed" fails, with an empty slab kept."""
    from kmemcg.model.invariants import FAIR_ACTIONS
    from kmemcg.model.liveness import LeadsTo, check
    from kmemcg.model.state import ALIVE, FREED, nr_pages, objects
    from kmemcg.model.state import WORK_IDLE as IDLE

    r = explore.explore(PRESETS["destruction"])
    unused = LeadsTo(
        "dead_unused_cache_destroyed", "a dead cache with no objects is eventually destroyed",
        lambda cfg, s: [c for (c,) in MODEL.actions["alloc"].domain(cfg)
                        if s.cache[c] == ALIVE and s.dead[c] and objects(s, c) == 0],
        lambda cfg, s, c: s.cache[c] == FREED, FAIR_ACTIONS)
    (fail,) = check(r, unused)
    _, c, path = fail
    trap = r.states[path[-1]]
    assert objects(trap, c) == 0 and nr_pages(r.config, trap, c) > 0 and trap.work[c] == IDLE
    assert r.liveness == []


@pytest.mark.parametrize(("change", "message"), [
    ({"memcgs": ["root"], "parents": [-1]}, "needs a memcg besides the root"),
    ({"kmem_limit": 5000}, "kmem_limit must be whole pages"),
    ({"objs_per_slab": 0}, "objs_per_slab >= 1"),
    ({"slab_order": "1"}, "slab_order must be an integer"),
])
def test_a_bad_destruction_configuration_is_a_clear_error(tmp_path, change, message):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({**PRESETS["destruction"].to_json(), **change}))
    r = CliRunner().invoke(main, ["explore", "--config", str(path)])
    assert r.exit_code == 2 and message in r.output


def test_three_objects_a_slab_any_partial_slab_may_be_filled():
    """Which partial slab the allocator fills is its list order: with three objects
    a slab, a state with partial slabs of two fills offers both, and the
    implementation (first on its list) reaches exactly the model's states."""
    from kmemcg.conformance.interleave import explore_impl

    cfg = replace(PRESETS["destruction-kmem"], objs_per_slab=3, tasks=())
    m = explore.explore(cfg, graph=False)
    both = [s for s in m.states if s.slabs[1][1] and s.slabs[1][2]]
    assert both
    offered = {args for name, args, *_ in explore.successors(cfg, both[0])
               if name == "alloc.partial"}
    assert offered == {(1, 1), (1, 2)}
    r = explore_impl(cfg)
    assert r.problem is None and r.states == set(m.states)


def test_a_thread_stack_is_thread_size_order_pages(tmp_path):
    """THREAD_SIZE_ORDER is a configuration constant: 2 gives 16 KiB stacks (3.15's
    x86_64), charged at fork and uncharged at the last put_task_struct."""
    from kmemcg.conformance.interleave import explore_impl

    cfg = replace(PRESETS["destruction-kmem"], name="big-stacks", thread_size_order=2)
    k = Kernel.for_config(cfg)
    assert k.spawn("t1", "/A") == 0
    assert k.read("/A", "memory.kmem.usage_in_bytes").strip() == str(4 * 4096)
    assert k.read("/A", "memory.usage_in_bytes").strip() == str(4 * 4096)
    assert k.exit("t1") == 0 and k.put_task_struct("t1") == 0
    assert k.read("/A", "memory.kmem.usage_in_bytes").strip() == "0"
    small = replace(cfg, kmem_limit=2 * 4096)  # a 4-page stack over a 2-page kmem limit
    assert Kernel.for_config(small).spawn("t1", "/A") == -errno.ENOMEM
    r = explore_impl(cfg)
    assert r.problem is None and r.states == set(explore.explore(cfg, graph=False).states)
    path = tmp_path / "big.json"
    path.write_text(json.dumps(cfg.to_json()))
    out = CliRunner().invoke(main, ["interleave", "--config", str(path)])
    assert out.exit_code == 0 and ": equal;" in out.output


def test_a_root_destroyed_after_its_only_group_was_freed_is_unloaded():
    """kmem_cache_destroy_memcg_children walks memcg_limited_groups_array_size
    slots, a size that never shrinks (3.8): once /A's kmemcg_id was freed, counting
    the ids in use walked none, and the root stayed loaded forever."""
    k = Kernel(tasks=("t1",), memcgs=("root", "A"), parents=(-1, 0), roots=("dentry",),
               boot_tasks=False)
    assert k.mkdir("/A") == 0 and k.write("/A", "memory.kmem.limit_in_bytes", "16K") == 0
    assert k.rmdir("/A") == 0 and k.css_free("/A") == 0 and k.mem_cgroup_free("/A") == 0
    assert k.memcg_state("/A") == "freed"
    assert k.kmem_cache_destroy("dentry") == 0
    assert k.snapshot()["roots"]["dentry"]["alive"] is False
    assert "dentry" not in k.proc_slabinfo()
