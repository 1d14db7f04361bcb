"""Z3 back-end: inductive proofs, bounded model checking, and the step oracle.

Proofs range over *all* counter values: usages, limits, failcnts, max_usage,
page counts and the number of physical pages are unbounded integers; only the
shape (how many memcgs and tasks, which parent) comes from the configuration.
An obligation is one (action, invariant) pair: assuming every state invariant
and the action's guard, the invariant holds after the action, for every
parameter of the action. A failed obligation comes with its counterexample to
induction, rendered as two readable states.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import z3

from kmemcg.model.config import Config
from kmemcg.model.controller import MODEL
from kmemcg.model.core import symbolic_like
from kmemcg.model.dual import And, Eq, Or, symbolic


def symbolic_state(cfg: Config, tag: str):
    """A state of ``cfg``'s slice whose every field is a fresh Z3 constant."""
    return symbolic_like(MODEL.initial(cfg), tag)


def concrete_state(model: z3.ModelRef, s):
    """Read a symbolic state's values out of a Z3 model."""

    def val(x):
        if isinstance(x, tuple):
            items = tuple(val(y) for y in x)
            return type(x)(*items) if hasattr(x, "_fields") else items
        if not isinstance(x, z3.ExprRef):
            return x
        v = model.eval(x, model_completion=True)
        return z3.is_true(v) if z3.is_bool(v) else v.as_long()

    return val(s)


@dataclass
class Obligation:
    action: str
    invariant: str
    ok: bool
    seconds: float
    #: counterexample to induction: (args, pre, post) as concrete states.
    cti: tuple | None = None


@dataclass
class ProofReport:
    config: Config
    obligations: list[Obligation] = field(default_factory=list)
    seconds: float = 0.0
    init_ok: bool = True
    init_violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.init_ok and all(o.ok for o in self.obligations)

    @property
    def failed(self) -> list[Obligation]:
        return [o for o in self.obligations if not o.ok]


def prove(cfg: Config, actions: list[str] | None = None,
          invariants: list[str] | None = None) -> ProofReport:
    """Check every (action, invariant) obligation by induction."""
    t0 = time.perf_counter()
    report = ProofReport(cfg)
    sl = MODEL
    report.init_violations = sl.violated(cfg, sl.initial(cfg))
    report.init_ok = not report.init_violations
    names = actions or [a.name for a in sl.scope(cfg)]
    wanted = [i for i in sl.invariants.values() if invariants is None or i.id in invariants]
    with symbolic():
        scfg = cfg
        pre = symbolic_state(cfg, "pre")
        hyp = And(*(i.check(scfg, pre) for i in sl.state_invariants()))
        for name in names:
            a = sl.actions[name]
            cases = []
            for args in a.domain(cfg):
                post, _ = a.effect(scfg, pre, *args)
                cases.append((tuple(args), a.guard(scfg, pre, *args), post))
            for i in wanted:
                t1 = time.perf_counter()
                cti = None
                for args, guard, post in cases:
                    s = z3.Solver()
                    goal = i.check(scfg, pre, post) if i.kind == "step" else i.check(scfg, post)
                    s.add(hyp, guard, z3.Not(goal))
                    verdict = s.check()
                    if verdict == z3.sat:
                        m = s.model()
                        cti = (args, concrete_state(m, pre), concrete_state(m, post))
                        break
                    if verdict != z3.unsat:
                        cti = (args, None, None)
                        break
                report.obligations.append(
                    Obligation(name, i.id, cti is None, time.perf_counter() - t1, cti)
                )
    report.seconds = time.perf_counter() - t0
    return report


@dataclass
class BmcReport:
    config: Config
    depth: int
    ok: bool
    seconds: float
    violation: str | None = None
    trace: list = field(default_factory=list)
    #: why the solver could not decide (an interrupt, a resource limit): no verdict
    unknown: str | None = None


def bmc(cfg: Config, depth: int) -> BmcReport:
    """Bounded model checking: can any invariant break within ``depth`` steps of Init?"""
    t0 = time.perf_counter()
    sl = MODEL
    init = sl.initial(cfg)
    checked = sl.state_invariants()
    with symbolic():
        s = z3.Solver()
        states = [symbolic_state(cfg, "s0")]
        s.add(Eq(states[0], init))
        labels = []
        for k in range(1, depth + 1):
            cur, nxt = states[-1], symbolic_state(cfg, f"s{k}")
            choices, tags = [], []
            for a in sl.scope(cfg):
                name = a.name
                for args in a.domain(cfg):
                    post, _ = a.effect(cfg, cur, *args)
                    tag = z3.Bool(f"step{k}:{name}{tuple(args)}")
                    choices.append(And(tag, a.guard(cfg, cur, *args), Eq(nxt, post)))
                    tags.append((tag, name, tuple(args)))
            s.add(Or(*choices))
            states.append(nxt)
            labels.append(tags)
        found = None
        for i in checked:
            s.push()
            s.add(Or(*(z3.Not(i.check(cfg, st)) for st in states)))
            verdict = s.check()
            if verdict == z3.unknown:
                # an undecided query proves nothing: never read it as "no violation"
                return BmcReport(cfg, depth, False, time.perf_counter() - t0,
                                 unknown=f"{i.id}: {s.reason_unknown()}")
            if verdict == z3.sat:
                m = s.model()
                found = (i.id, [
                    (("Init", ()) if k == 0 else next(
                        ((n, a) for tag, n, a in labels[k - 1]
                         if z3.is_true(m.eval(tag, model_completion=True))), ("?", ())),
                     concrete_state(m, st))
                    for k, st in enumerate(states)
                ])
                s.pop()
                break
            s.pop()
    if found is None:
        return BmcReport(cfg, depth, True, time.perf_counter() - t0)
    bad, trace = found
    cut = next(k for k, (_, st) in enumerate(trace) if not sl.invariants[bad].check(cfg, st))
    return BmcReport(cfg, depth, False, time.perf_counter() - t0, bad, trace[: cut + 1])
