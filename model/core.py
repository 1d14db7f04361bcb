"""The model's vocabulary: actions, invariants, leads-to properties, the model.

Each concern's module (``model/actions/*``, ``model/invariants/*``) collects its
definitions into an :class:`Actions` or :class:`Invariants` list; the one
:class:`Model` (``kmemcg.model.controller.MODEL``) is built from all of them at
once, so importing it yields the whole model and nothing registers by side
effect. Back-ends (explorer, prover, oracle, TLA+ writer) take a Model and a
configuration, and know nothing of any concern.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import z3


@dataclass(frozen=True)
class Action:
    name: str
    #: parameter names, for traces and the adapter protocol.
    params: tuple[str, ...]
    #: all concrete parameter tuples for a configuration.
    domain: Callable[..., Iterable[tuple]]
    guard: Callable
    effect: Callable
    #: the kernel function (or patch) this step models.
    kernel: str
    #: whether the explorer enumerates it (named stutter steps need not be).
    explored: bool = True
    #: who takes the step in a trace ("task": the task parameter's name).
    thread: str = "kernel"


@dataclass(frozen=True)
class Invariant:
    id: str
    meaning: str
    check: Callable
    source: str
    kind: str = "safety"  # or "type" (structural), or "step" (over (pre, post))


@dataclass(frozen=True)
class LeadsTo:
    """``P ~> Q`` per key, under weak fairness of ``fair`` (model/liveness.py)."""

    id: str
    meaning: str
    #: the keys (caches, say) for which P holds in a state
    premise: Callable
    #: whether Q holds for a key in a state
    goal: Callable
    #: names of the weakly fair actions (every parameter instance is fair on its own)
    fair: tuple[str, ...]
    source: str = ""
    #: (cfg) -> whether the property says anything in the configuration's scope
    #: (None: always); a TLC run checks only those that do
    applies: Callable | None = None


class Actions(list):
    """One concern's actions, in the order the explorer tries them."""

    def __init__(self, thread: str):
        super().__init__()
        self.thread = thread

    def add(self, name, params, domain, kernel, explored=True, thread=None):
        """Register ``(guard, effect)`` as the action ``name``."""

        def register(fn_pair):
            guard, effect = fn_pair
            self.append(Action(name, params, domain, guard, effect, kernel, explored,
                               thread or self.thread))
            return fn_pair

        return register


class Invariants(list):
    """One concern's invariants, in the order the explorer reports them."""

    def add(self, id, meaning, source, kind="safety"):
        def register(fn):
            self.append(Invariant(id, meaning, fn, source, kind))
            return fn

        return register


@dataclass(frozen=True, eq=False)  # one object per model: compared and hashed by identity
class Model:
    """The whole controller: a state, its actions, invariants and liveness."""

    initial: Callable  # (cfg) -> state
    in_constraint: Callable  # (cfg, state) -> bool, TLC's CONSTRAINT
    to_json: Callable  # (cfg, state) -> dict
    actions: dict[str, Action]
    invariants: dict[str, Invariant]
    #: leads-to properties checked on the explored graph (model/liveness.py)
    liveness: tuple[LeadsTo, ...] = ()
    #: (cfg) -> the permutations of identical components (roots, say) that map
    #: the transition relation and every invariant to itself, identity first
    #: (TLC's SYMMETRY)
    symmetry: Callable | None = None

    @classmethod
    def build(cls, *, actions: Iterable[Action], invariants: Iterable[Invariant], **kw):
        acts, invs = {}, {}
        for a in actions:
            if a.name in acts:
                raise ValueError(f"action {a.name!r} is defined twice")
            acts[a.name] = a
        for i in invariants:
            if i.id in invs:
                raise ValueError(f"invariant {i.id!r} is defined twice")
            invs[i.id] = i
        return cls(actions=acts, invariants=invs, **kw)

    def state_invariants(self, kind: str | None = None) -> list[Invariant]:
        return [i for i in self.invariants.values()
                if i.kind != "step" and (kind is None or i.kind == kind)]

    def step_invariants(self) -> list[Invariant]:
        return [i for i in self.invariants.values() if i.kind == "step"]

    def violated(self, cfg, s) -> list[str]:
        """Ids of the state invariants ``s`` breaks (concrete states only)."""
        return [i.id for i in self.state_invariants() if not i.check(cfg, s)]

    def violated_step(self, cfg, pre, post) -> list[str]:
        return [i.id for i in self.step_invariants() if not i.check(cfg, pre, post)]

    def enabled(self, cfg) -> list[Action]:
        """The actions the explorer enumerates under ``cfg``: its ``actions`` scope
        in the order given, or every explored action."""
        if cfg.actions is not None:
            return [self.actions[n] for n in cfg.actions]
        return [a for a in self.actions.values() if a.explored]

    def scope(self, cfg) -> list[Action]:
        """Every action of ``cfg``'s transition relation: its ``actions``, or all
        of them, the named stutter steps included (the prover's and the
        oracle's relation; the explorer's is :meth:`enabled`)."""
        if cfg.actions is None:
            return list(self.actions.values())
        return [self.actions[n] for n in cfg.actions]

    def step(self, cfg, s, name: str, args: tuple):
        """Apply one action: ``None`` when it is not enabled, else ``(post, ret)``."""
        a = self.actions[name]
        if not a.guard(cfg, s, *args):
            return None
        return a.effect(cfg, s, *args)

    def thread_of(self, cfg, name: str, args: tuple) -> str:
        """Who takes a step, for traces: a task's name, or the action's thread."""
        a = self.actions.get(name)
        if a is None:
            return "kernel"
        if a.thread == "task" and "task" in a.params:
            return cfg.tasks[args[a.params.index("task")]]
        return a.thread


def symbolic_like(template, tag: str):
    """A value shaped like ``template`` whose ints and bools are fresh Z3 constants."""
    if isinstance(template, tuple):
        names = getattr(template, "_fields", None)
        items = []
        for i, x in enumerate(template):
            sub = f"{tag}.{names[i]}" if names else f"{tag}[{i}]"
            items.append(symbolic_like(x, sub))
        return type(template)(*items) if names else tuple(items)
    if isinstance(template, bool):
        return z3.Bool(tag)
    if isinstance(template, int):
        return z3.Int(tag)
    raise TypeError(f"cannot make {template!r} symbolic")
