"""The model: proofs hold, named bugs are caught, explorer and Z3 agree."""

import random
from dataclasses import dataclass, replace
from typing import NamedTuple

import pytest
import z3

from kmemcg.conformance.cli import run_prove
from kmemcg.conformance.oracle import EvalOracle, Z3Oracle
from kmemcg.conformance.status import Exit
from kmemcg.model import explore, prove
from kmemcg.model.config import PAGE_SIZE, Config
from kmemcg.model.controller import MODEL
from kmemcg.model.core import Actions, Invariants, Model
from kmemcg.model.dual import Implies
from kmemcg.model.frame import unaffected
from kmemcg.model.scopes import PRESETS
from kmemcg.model.state import initial, replace_at

#: the counters and the tree only (the accounting preset's actions)
TINY = Config(name="tiny", memcgs=("root", "A"), parents=(-1, 0), tasks=("t1",), max_pages=1,
              kmem_limits=(PAGE_SIZE,), res_limits=(PAGE_SIZE,), max_failcnt=1,
              actions=PRESETS["accounting"].actions).validate()


def test_every_obligation_is_inductive():
    cfg = PRESETS["conformance"]
    r = prove.prove(cfg)
    assert r.ok, [(o.action, o.invariant) for o in r.failed]
    # every action but memcg death's (model/scopes.py, _DEATH_ONLY), every invariant
    assert len(r.obligations) == len(MODEL.scope(cfg)) * len(MODEL.invariants)


@pytest.mark.parametrize("preset", ["whole", "death", "death-hier"])
def test_memcg_death_is_proved_inductive(preset):
    """css_free's steps and the free preserve every invariant, M1.freed_is_empty
    included: it leans on M3 (the activation reference stays while kernel pages
    remain) and on a removed memcg holding no user page."""
    cfg = PRESETS[preset]
    r = prove.prove(cfg)
    assert r.ok, [(o.action, o.invariant) for o in r.failed]
    death = {"css_free.mark_dead", "css_free.read_usage", "css_free.put", "mem_cgroup_free"}
    assert death <= {o.action for o in r.obligations}


@pytest.mark.parametrize(("profile", "broken"), [
    # spawn and fork charge a stack through memcg_charge_kmem too (one helper,
    # tasks._stack_charge): the whole model has the bug at all three charges
    ("no_kmem_limit_check", {("charge.kmem", "I1.kmem_within_limit"),
                             ("spawn", "I1.kmem_within_limit"),
                             ("fork", "I1.kmem_within_limit")}),
    ("no_kmem_rollback", {("charge.res", "I4.kmem_accounted"), ("charge.res", "I3.kmem_within_res"),
                          ("spawn", "I4.kmem_accounted"), ("spawn", "I3.kmem_within_res"),
                          ("fork", "I4.kmem_accounted"), ("fork", "I3.kmem_within_res")}),
])
def test_named_bugs_fail_induction_where_expected(profile, broken):
    r = prove.prove(replace(PRESETS["conformance"], profile=profile))
    assert {(o.action, o.invariant) for o in r.failed} == broken
    o = r.failed[0]
    args, pre, post = o.cti
    # the counterexample to induction is a real step of the model
    assert MODEL.actions[o.action].guard(r.config, pre, *args)
    assert MODEL.actions[o.action].effect(r.config, pre, *args)[0] == post


def test_explorer_finds_the_shortest_trace_of_a_named_bug():
    r = explore.explore(replace(TINY, profile="no_kmem_limit_check"))
    assert r.violation == "I1.kmem_within_limit"
    # mkdir, four activation steps, attach, three steps to commit a page, one more charge
    assert [s.action for s in r.trace][1:] == [
        "mkdir", "kmem_limit.write", "activate.update_cache_sizes", "activate.static_key_inc",
        "activate.set_active", "attach", "charge.kmem", "charge.res", "charge.commit",
        "charge.kmem"]


def test_in_the_whole_model_a_thread_stack_meets_the_bug_first():
    # every action in scope: a task exits and is spawned again into the limited
    # group, and its two-page stack overshoots the one-page limit at once
    r = explore.explore(replace(TINY, actions=None, profile="no_kmem_limit_check"))
    assert r.violation == "I1.kmem_within_limit"
    assert [s.action for s in r.trace][1:] == [
        "mkdir", "kmem_limit.write", "activate.update_cache_sizes", "activate.static_key_inc",
        "activate.set_active", "exit", "spawn"]


def test_correct_profile_explores_without_violation_or_deadlock():
    r = explore.explore(TINY)
    assert r.ok and r.complete and r.deadlocks == 0
    assert r.graph.number_of_nodes() == r.distinct


def test_bmc_finds_a_named_bug_within_its_depth():
    b = prove.bmc(replace(TINY, profile="no_kmem_limit_check"), 10)
    assert not b.ok and b.violation == "I1.kmem_within_limit"
    assert b.trace[-1][0] == ("charge.kmem", (0, 1, 0))  # task, memcg, order


def test_the_two_oracles_agree_on_random_steps():
    rnd = random.Random(7)
    cfg = TINY
    ev, z = EvalOracle(cfg), Z3Oracle(cfg)
    seen = [initial(cfg)]
    steps = explore.enabled_steps(cfg)
    for _ in range(150):
        s = rnd.choice(seen)
        name, args, guard, effect = rnd.choice(steps)
        if not guard(cfg, s, *args):
            assert not ev.check(s, name, args, 0, s).ok
            assert not z.check(s, name, args, 0, s).ok
            continue
        post, ret = effect(cfg, s, *args)
        assert ev.check(s, name, args, ret, post).ok and z.check(s, name, args, ret, post).ok
        wrong = post._replace(static_key=post.static_key + 1)
        assert not ev.check(s, name, args, ret, wrong).ok
        assert not z.check(s, name, args, ret, wrong).ok
        seen.append(post)


def test_bmc_never_reads_an_undecided_query_as_no_violation(monkeypatch):
    monkeypatch.setattr(z3.Solver, "check", lambda self, *a: z3.unknown)
    monkeypatch.setattr(z3.Solver, "reason_unknown", lambda self: "canceled")
    b = prove.bmc(PRESETS["race"], 2)
    assert not b.ok and b.unknown.endswith("canceled")


# ---------------------------------------------------------------- frame reasoning


def _no_solver(self, *assumptions):
    raise AssertionError("a solver was asked")


def test_a_pair_whose_action_writes_nothing_the_invariant_reads_needs_no_solver(monkeypatch):
    # charge.kmem moves kmem counters and the task's pc; I1.res_within_limit reads res only
    monkeypatch.setattr(z3.Solver, "check", _no_solver)
    r = prove.prove(PRESETS["conformance"], actions=["charge.kmem"],
                    invariants=["I1.res_within_limit"])
    [o] = r.obligations
    assert o.ok and o.by_frame and o.queries == 0 and r.queries == 0


def test_a_broken_pair_is_still_caught_while_others_are_skipped():
    cfg = replace(PRESETS["conformance"], profile="no_kmem_limit_check")
    r = prove.prove(cfg)
    assert {(o.action, o.invariant) for o in r.failed} == {("charge.kmem", "I1.kmem_within_limit"),
                                                          ("spawn", "I1.kmem_within_limit"),
                                                          ("fork", "I1.kmem_within_limit")}
    assert r.by_frame and all(o.queries for o in r.failed)
    o = r.failed[0]
    args, pre, post = o.cti
    # a counterexample to induction: a step of the model from a state satisfying every invariant
    assert MODEL.actions[o.action].guard(cfg, pre, *args)
    assert MODEL.actions[o.action].effect(cfg, pre, *args)[0] == post
    sl = MODEL
    assert sl.violated(cfg, pre) == [] and "I1.kmem_within_limit" in sl.violated(cfg, post)


@pytest.mark.parametrize("preset", ["conformance", "destruction-kmem", "whole"])
def test_the_whole_prove_keeps_its_verdict(preset):
    lines = []
    assert run_prove(PRESETS[preset], bmc_depth=6, echo=lines.append) == Exit.OK
    assert lines[0].startswith(f"prove [{preset}]: ") and "BMC to depth 6 beside it" in lines[0]
    assert "0 failed" in lines[1] and "discharged by frame reasoning" in lines[2]
    assert lines[-1].startswith("bmc: depth 6, no violation")


def test_an_undecided_query_is_no_verdict_but_frame_reasoning_still_holds(monkeypatch):
    monkeypatch.setattr(z3.Solver, "check", lambda self, *a: z3.unknown)
    r = prove.prove(PRESETS["destruction-kmem"])
    assert not r.ok and r.failed
    assert all(o.cti[1] is None for o in r.failed)  # no counterexample: no verdict
    assert all(o.queries == 0 for o in r.obligations if o.ok)


class Inner(NamedTuple):
    a: int
    b: int


class Toy(NamedTuple):
    x: int
    y: int
    inner: Inner
    flags: tuple


def _always(cfg, s, *args):
    return True


@dataclass(frozen=True)
class ToyConfig:
    """A toy configuration: every action in scope."""

    name: str = "toy"
    actions: None = None
    check_deadlock: bool = False


TOY_CFG = ToyConfig()


def _toy_model(*extra_invariants):
    """A model of any shape: nested named tuples, a tuple written element by element."""
    acts, invs = Actions("toy"), Invariants()
    always = _always
    acts.add("bump_x", (), lambda cfg: [()], "-")(
        (always, lambda cfg, s: (s._replace(x=s.x + 1), 0)))
    acts.add("bump_a", (), lambda cfg: [()], "-")(
        (always, lambda cfg, s: (s._replace(inner=s.inner._replace(a=s.inner.a + 1)), 0)))
    acts.add("set_flag", ("i",), lambda cfg: [(0,), (1,)], "-")(
        (always, lambda cfg, s, i: (s._replace(flags=replace_at(s.flags, i, True)), 0)))
    invs.add("x_nonneg", "", "")(lambda cfg, s: s.x >= 0)
    invs.add("a_nonneg", "", "")(lambda cfg, s: s.inner.a >= 0)
    invs.add("flag1_needs_x", "", "")(lambda cfg, s: Implies(s.flags[1], s.x >= 0))
    # no action writes y, and a step that keeps y breaks this: never skipped
    invs.add("y_grows", "", "", kind="step")(lambda cfg, pre, post: post.y > pre.y)
    invs.add("x_never_shrinks", "", "", kind="step")(lambda cfg, pre, post: post.x >= pre.x)
    for id, check in extra_invariants:
        invs.add(id, "", "")(check)
    return Model.build(initial=lambda cfg: Toy(0, 0, Inner(0, 0), (False, False)),
                       in_constraint=None, to_json=None, actions=acts, invariants=invs)


def test_frame_reasoning_works_on_any_named_tuple_state(monkeypatch):
    monkeypatch.setattr(prove, "MODEL", _toy_model())
    r = prove.prove(TOY_CFG)
    queries = {(o.action, o.invariant): o.queries for o in r.obligations if o.ok}
    assert queries == {
        ("bump_x", "x_nonneg"): 1, ("bump_a", "x_nonneg"): 0, ("set_flag", "x_nonneg"): 0,
        ("bump_x", "a_nonneg"): 0, ("bump_a", "a_nonneg"): 1, ("set_flag", "a_nonneg"): 0,
        # set_flag(0) writes flags[0] only: one query, for set_flag(1)
        ("bump_x", "flag1_needs_x"): 1, ("bump_a", "flag1_needs_x"): 0,
        ("set_flag", "flag1_needs_x"): 1,
        # a step invariant reading only x after the step: its stutter lemma holds
        ("bump_x", "x_never_shrinks"): 1, ("bump_a", "x_never_shrinks"): 0,
        ("set_flag", "x_never_shrinks"): 0,
    }
    failed = {(o.action, o.invariant): o.cti for o in r.failed}
    assert set(failed) == {(a, "y_grows") for a in ("bump_x", "bump_a", "set_flag")}
    args, pre, post = failed["set_flag", "y_grows"]
    assert args == (0,) and post.y == pre.y and post.flags[0]


def test_bmc_reports_a_shortest_violation(monkeypatch):
    monkeypatch.setattr(prove, "MODEL", _toy_model(("x_below_3", lambda cfg, s: s.x < 3)))
    assert prove.bmc(TOY_CFG, 2).ok
    b = prove.bmc(TOY_CFG, 6)
    assert b.violation == "x_below_3"
    assert [a for a, _ in b.trace] == [("Init", ()), *[("bump_x", ())] * 3]


def test_the_explorer_checks_past_init_only_what_a_step_can_change():
    # no root caches in scope: no step touches a cache, so D1-D6 hold as at Init
    fixed = unaffected(MODEL, PRESETS["accounting"])
    assert {"D1.destroyed_only_when_empty", "D3.no_use_after_destroy"} <= fixed
    assert "I1.kmem_within_limit" not in fixed and "I4.kmem_accounted" not in fixed
    # the cache races never activate a memcg: the activation facts are fixed there
    fixed = unaffected(MODEL, PRESETS["destruction"])
    assert "I5.static_key_counts_active" in fixed and "D3.no_use_after_destroy" not in fixed


def test_an_invariant_no_step_changes_is_still_checked_at_init(monkeypatch):
    # y is never written: "y_positive" is fixed, and it is false at Init
    toy = _toy_model(("y_positive", lambda cfg, s: s.y > 0))
    monkeypatch.setattr(explore, "MODEL", replace(toy, in_constraint=lambda cfg, s: s.x < 2))
    assert "y_positive" in unaffected(explore.MODEL, TOY_CFG)
    r = explore.explore(TOY_CFG)
    assert r.violation == "y_positive" and len(r.trace) == 1
