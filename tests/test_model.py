"""The model: proofs hold, named bugs are caught, explorer and Z3 agree."""

import random
from dataclasses import replace

import pytest
import z3

from kmemcg.conformance.oracle import EvalOracle, Z3Oracle
from kmemcg.model import explore, prove
from kmemcg.model.config import PAGE_SIZE, Config
from kmemcg.model.controller import MODEL
from kmemcg.model.scopes import PRESETS
from kmemcg.model.state import initial

#: the counters and the tree only (the accounting preset's actions)
TINY = Config(name="tiny", memcgs=("root", "A"), parents=(-1, 0), tasks=("t1",), max_pages=1,
              kmem_limits=(PAGE_SIZE,), res_limits=(PAGE_SIZE,), max_failcnt=1,
              actions=PRESETS["accounting"].actions).validate()


def test_every_obligation_is_inductive():
    r = prove.prove(PRESETS["conformance"])
    assert r.ok, [(o.action, o.invariant) for o in r.failed]
    assert len(r.obligations) == len(MODEL.actions) * len(MODEL.invariants)


@pytest.mark.parametrize(("profile", "broken"), [
    # fork charges its stack through memcg_charge_kmem too: the whole model has both
    ("no_kmem_limit_check", {("charge.kmem", "I1.kmem_within_limit"),
                             ("fork", "I1.kmem_within_limit")}),
    ("no_kmem_rollback", {("charge.res", "I4.kmem_accounted"), ("charge.res", "I3.kmem_within_res"),
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
    # every action in scope: a task exits and is forked again into the limited
    # group, and its two-page stack overshoots the one-page limit at once
    r = explore.explore(replace(TINY, actions=None, profile="no_kmem_limit_check"))
    assert r.violation == "I1.kmem_within_limit"
    assert [s.action for s in r.trace][1:] == [
        "mkdir", "kmem_limit.write", "activate.update_cache_sizes", "activate.static_key_inc",
        "activate.set_active", "exit", "fork"]


def test_correct_profile_explores_without_violation_or_deadlock():
    r = explore.explore(TINY)
    assert r.ok and r.complete and r.deadlocks == 0
    assert r.graph.number_of_nodes() == r.distinct


def test_bmc_finds_a_named_bug_within_its_depth():
    b = prove.bmc(replace(TINY, profile="no_kmem_limit_check"), 10)
    assert not b.ok and b.violation == "I1.kmem_within_limit"
    assert b.trace[-1][0] == ("charge.kmem", (0, 1))


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
