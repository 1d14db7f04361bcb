"""A slice of the model: one concern's state, actions and invariants.

The back-ends (explorer, prover, oracle) work on any slice; a configuration
names the one it instantiates. Slices are kept apart so each concern's state
space stays small enough to explore exhaustively: ``accounting`` (counters,
limits, activation) and ``destruction`` (per-memcg slab caches and the races
around their destruction).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class Invariant:
    id: str
    meaning: str
    check: Callable
    source: str
    kind: str = "safety"  # or "type" (structural), or "step" (over (pre, post))


@dataclass
class Slice:
    name: str
    initial: Callable = None  # (cfg) -> state
    in_constraint: Callable = None  # (cfg, state) -> bool, TLC's CONSTRAINT
    to_json: Callable = None  # (cfg, state) -> dict
    #: named profiles: name -> what it reproduces, and its upstream source.
    profiles: dict[str, str] = field(default_factory=dict)
    actions: dict[str, Action] = field(default_factory=dict)
    invariants: dict[str, Invariant] = field(default_factory=dict)
    #: leads-to properties checked on the explored graph (model/liveness.py)
    liveness: tuple = ()
    #: (cfg) -> the permutations of identical components (roots, say) that map
    #: the transition relation and every invariant to itself, identity first;
    #: None when the slice declares no symmetry (TLC's SYMMETRY)
    symmetry: Callable | None = None

    def action(self, name, params, domain, kernel, explored=True):
        """Register ``(guard, effect)`` as an action of this slice."""

        def register(fn_pair):
            guard, effect = fn_pair
            self.actions[name] = Action(name, params, domain, guard, effect, kernel, explored)
            return fn_pair

        return register

    def invariant(self, id, meaning, source, kind="safety"):
        def register(fn):
            self.invariants[id] = Invariant(id, meaning, fn, source, kind)
            return fn

        return register

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

    def step(self, cfg, s, name: str, args: tuple):
        """Apply one action: ``None`` when it is not enabled, else ``(post, ret)``."""
        a = self.actions[name]
        if not a.guard(cfg, s, *args):
            return None
        return a.effect(cfg, s, *args)


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


def slice_of(cfg) -> Slice:
    """The slice a configuration instantiates."""
    if cfg.slice == "accounting":
        from kmemcg.model import invariants  # noqa: F401  (registers the invariants)
        from kmemcg.model.actions import ACCOUNTING

        return ACCOUNTING
    if cfg.slice == "destruction":
        from kmemcg.model.destruction import DESTRUCTION

        return DESTRUCTION
    raise ValueError(f"unknown slice {cfg.slice!r} (accounting or destruction)")
