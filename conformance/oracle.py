"""The oracle: is a concrete (pre, action, post) a step the model allows?

Two interchangeable back-ends answer it. ``eval`` evaluates the model's own
guard and effect on the concrete pre-state (the dual-mode text, concretely);
``z3`` asks Z3 whether the transition relation of that action admits the
observed pre, post and return value. Both read the same definitions, so they
agree; ``eval`` is the fast default and ``z3`` the independent witness.
"""

from __future__ import annotations

from dataclasses import dataclass

import z3

from kmemcg.model.config import Config
from kmemcg.model.controller import MODEL
from kmemcg.model.dual import And, Eq, symbolic
from kmemcg.model.frame import affected, leaves
from kmemcg.model.prove import symbolic_state
from kmemcg.model.state import State, diff_json


@dataclass
class Verdict:
    ok: bool
    problem: str = ""
    expected: State | None = None
    expected_ret: int | None = None


class EvalOracle:
    name = "eval"

    def __init__(self, cfg: Config):
        self.cfg = cfg

    def check(self, pre: State, action: str, args: tuple, ret: int, post: State) -> Verdict:
        a = MODEL.actions.get(action)
        if a is None:
            return Verdict(False, f"unknown action {action!r}")
        if not a.guard(self.cfg, pre, *args):
            return Verdict(False, f"{action}{args} is not enabled in the pre-state")
        want, want_ret = a.effect(self.cfg, pre, *args)
        problems = []
        if want_ret != ret:
            problems.append(f"returned {ret}, the model returns {want_ret}")
        if want != post:
            problems += diff_lines(self.cfg, want, post)
        return Verdict(not problems, "; ".join(problems), want, want_ret)


def diff_lines(cfg: Config, want: State, got: State) -> list[str]:
    to_json = MODEL.to_json
    return [f"{path}: model {w}, implementation {g}"
            for path, w, g in diff_json(to_json(cfg, want), to_json(cfg, got))]


class Z3Oracle:
    """The transition relation of each (action, args) as a cached Z3 solver."""

    name = "z3"

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.fallback = EvalOracle(cfg)
        self._solvers: dict[tuple, tuple] = {}
        with symbolic():
            self.pre = symbolic_state(cfg, "pre")
            self.post = symbolic_state(cfg, "post")
        self.ret = z3.Int("ret")

    def _solver(self, action: str, args: tuple):
        key = (action, args)
        if key not in self._solvers:
            a = MODEL.actions[action]
            with symbolic():
                want, want_ret = a.effect(self.cfg, self.pre, *args)
                relation = And(a.guard(self.cfg, self.pre, *args), Eq(self.post, want),
                               self.ret == want_ret)
            s = z3.Solver()
            s.add(relation)
            self._solvers[key] = (s, list(leaves(self.pre)), list(leaves(self.post)))
        return self._solvers[key]

    def check(self, pre: State, action: str, args: tuple, ret: int, post: State) -> Verdict:
        if action not in MODEL.actions:
            return Verdict(False, f"unknown action {action!r}")
        s, pre_vars, post_vars = self._solver(action, args)
        eqs = [v == _z3val(x) for v, x in zip(pre_vars, leaves(pre), strict=True)]
        eqs += [v == _z3val(x) for v, x in zip(post_vars, leaves(post), strict=True)]
        eqs.append(self.ret == ret)
        if s.check(*eqs) == z3.sat:
            return Verdict(True)
        # Z3 says no; the concrete reading explains why in words.
        v = self.fallback.check(pre, action, args, ret, post)
        if v.ok:
            return Verdict(False, "Z3 rejects a step the concrete model accepts (a model bug)")
        return v


def _z3val(x):
    return z3.BoolVal(x) if isinstance(x, bool) else z3.IntVal(x)


def make_oracle(cfg: Config, mode: str = "eval"):
    if mode == "eval":
        return EvalOracle(cfg)
    if mode == "z3":
        return Z3Oracle(cfg)
    raise ValueError(f"unknown oracle {mode!r} (eval or z3)")


def invariant_problems(cfg: Config, pre: State, post: State, action: str | None = None
                       ) -> list[str]:
    """Every state invariant on ``post`` and step property on (pre, post) that
    fails; given the ``action`` the oracle matched the step to, only those it
    can change (model/frame.py), the rest holding since ``pre``."""
    if action is None:
        return MODEL.violated(cfg, post) + MODEL.violated_step(cfg, pre, post)
    invariants = MODEL.invariants
    return [i for i in affected(MODEL, cfg, action)
            if not (invariants[i].check(cfg, pre, post) if invariants[i].kind == "step"
                    else invariants[i].check(cfg, post))]
