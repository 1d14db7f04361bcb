"""Explicit-state breadth-first exploration, TLC-style.

Semantics follow TLC's model checker so the distinct-state counts agree with it
on the same configuration: every state satisfying the state constraint is
stored and expanded; a successor outside the constraint is checked against the
invariants but neither stored nor counted. A violation yields the shortest
trace (breadth-first). The state graph is kept as a networkx ``DiGraph`` for
deadlock and graph analyses.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import networkx as nx

from kmemcg.model.config import Config
from kmemcg.model.controller import MODEL
from kmemcg.model.frame import affected, unaffected
from kmemcg.model.liveness import check_all

State = tuple  # the model's state: a named tuple of tuples


@dataclass(frozen=True)
class Step:
    """One labelled transition of a trace."""

    action: str
    args: tuple
    ret: int
    state: State


@dataclass
class Result:
    config: Config
    distinct: int = 0
    generated: int = 0
    depth: int = 0
    seconds: float = 0.0
    violation: str | None = None
    #: the states of a counterexample, the initial state first.
    trace: list[Step] = field(default_factory=list)
    deadlocks: int = 0
    graph: nx.DiGraph | None = None
    complete: bool = True
    #: every stored state, by id (the graph's node labels)
    states: list = field(default_factory=list)
    #: liveness properties that fail: (property id, key, a trace into the lasso)
    liveness: list = field(default_factory=list)
    #: states were identified up to the model's symmetry (liveness is then unchecked)
    symmetry: bool = False
    #: with ``keep_going``: each invariant broken, with the shortest trace to it
    #: (``violation`` and ``trace`` are then the first of them)
    violations: dict = field(default_factory=dict)
    #: with ``keep_going``: the ids of the states that break one (stored, not expanded)
    broken: set = field(default_factory=set)
    #: by state id: (the id of the state it was first reached from, action, args,
    #: ret), None for Init; the breadth-first tree :func:`trace_to` walks
    parent: list = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return (self.violation is None and self.deadlocks == 0 and self.complete
                and not self.liveness)

    @property
    def rate(self) -> float:
        return self.distinct / self.seconds if self.seconds else 0.0


def in_constraint(cfg: Config, s) -> bool:
    """The model's StateConstraint (TLC's CONSTRAINT)."""
    return MODEL.in_constraint(cfg, s)


def enabled_steps(cfg: Config):
    """The (action, args) pairs the explorer tries, fixed per configuration."""
    actions = MODEL.actions
    names = cfg.actions if cfg.actions is not None else [a for a in actions if actions[a].explored]
    out = []
    for name in names:
        if name not in actions:
            raise ValueError(f"unknown action {name!r} in configuration {cfg.name!r}")
        a = actions[name]
        for args in a.domain(cfg):
            out.append((name, tuple(args), a.guard, a.effect))
    return out


def successors(cfg: Config, s: State, steps=None):
    """Yield (action, args, ret, post) for each enabled step (stutters included)."""
    for name, args, guard, effect in steps or enabled_steps(cfg):
        if guard(cfg, s, *args):
            post, ret = effect(cfg, s, *args)
            yield name, args, ret, post


def explore(cfg: Config, *, graph: bool = True, max_states: int | None = None,
            check_deadlock: bool | None = None, progress=None,
            symmetry: bool = False, keep_going: bool = False,
            progress_every: int = 20000, allowed=None) -> Result:
    """Breadth-first search from the initial state of ``cfg``.

    A violation ends the search, as in TLC, unless ``keep_going``: then the
    state that breaks an invariant is stored but not expanded (the kernel has
    gone wrong there; what follows is undefined), each invariant's first trace
    is kept in ``violations``, and the search goes on. That is the state space
    of a kernel claimed with its known bugs (conformance/claims.py).

    With ``symmetry``, a state is known once any permutation of it is (TLC's
    SYMMETRY): each orbit is stored once, as the first member reached, so traces
    stay real behaviours. As in TLC, liveness is then not checked: the property
    names a cache, and a permutation moves it.

    ``allowed(cfg, s, action, args)``, if given, restricts the successor
    relation: a step it refuses is not taken (the runs of a coarser-grained
    implementation, model/serial.py)."""
    t0 = time.perf_counter()
    sl = MODEL
    if symmetry and sl.symmetry is None:
        raise ValueError("the model declares no symmetry")
    # the identity alone (one root, say) reduces nothing, and then liveness is checked
    perms = sl.symmetry(cfg) if symmetry else ()
    if len(perms) < 2:
        perms = ()

    def orbit(s):
        return min(p(s) for p in perms) if perms else s

    if check_deadlock is None:
        check_deadlock = cfg.check_deadlock
    steps = enabled_steps(cfg)
    # an invariant no enabled step can change holds everywhere once it holds
    # at Init (checked there below, a step invariant on Init's stutter)
    fixed = unaffected(sl, cfg)
    init = sl.initial(cfg)
    state_inv = sl.state_invariants()
    step_inv = [i for i in sl.step_invariants()
                if i.id not in fixed or not i.check(cfg, init, init)]
    constraint = sl.in_constraint
    res = Result(cfg, symmetry=bool(perms))
    ids: dict[State, int] = {orbit(init): 0}
    states: list[State] = [init]
    parent: list[tuple[int, str, tuple, int] | None] = [None]
    depth = [0]
    g = nx.DiGraph() if graph else None
    if g is not None:
        g.add_node(0)

    def fail(name, at_id, extra: Step | None = None):
        trace = _trace(states, parent, at_id) + ([extra] if extra else [])
        if res.violation is None:
            res.violation, res.trace = name, trace
        res.violations.setdefault(name, trace)

    for i in state_inv:
        if not i.check(cfg, init):
            fail(i.id, 0)
            return _finish(res, t0, states, depth, g, parent)
    # past Init, a step can break only an invariant that reads a leaf its action
    # writes (model/frame.py): the state it leaves holds every invariant
    checked = {name: affected(sl, cfg, name) for name in {step[0] for step in steps}}
    state_of = {name: [i for i in state_inv if i.id in ids_ and i.id not in fixed]
                for name, ids_ in checked.items()}
    step_of = {name: [i for i in step_inv if i.id in ids_ or i.id in fixed]
               for name, ids_ in checked.items()}
    queue = deque([0])
    while queue:
        sid = queue.popleft()
        s = states[sid]
        any_succ = False
        for name, args, guard, effect in steps:
            if not guard(cfg, s, *args) or (allowed is not None
                                            and not allowed(cfg, s, name, args)):
                continue
            post, ret = effect(cfg, s, *args)
            any_succ = True
            res.generated += 1
            if post == s:
                continue
            bad = next((i.id for i in step_of[name] if not i.check(cfg, s, post)), None)
            if bad is not None:
                fail(bad, sid, Step(name, args, ret, post))
                if not keep_going:
                    return _finish(res, t0, states, depth, g, parent)
            key = orbit(post)
            known = ids.get(key)
            if known is None:
                bad = bad or next((i.id for i in state_of[name] if not i.check(cfg, post)), None)
                if bad is not None and not keep_going:
                    fail(bad, sid, Step(name, args, ret, post))
                    return _finish(res, t0, states, depth, g, parent)
                if not constraint(cfg, post):
                    continue
                known = len(states)
                ids[key] = known
                states.append(post)
                parent.append((sid, name, args, ret))
                depth.append(depth[sid] + 1)
                if bad is None:
                    queue.append(known)
                else:
                    res.broken.add(known)
                    fail(bad, known)
                if max_states is not None and len(states) >= max_states:
                    res.complete = False
                    queue.clear()
                    break
                if progress is not None and known % progress_every == 0:
                    progress(known, len(queue))
            if g is not None:
                if g.has_edge(sid, known):
                    g.edges[sid, known]["labels"].add((name, args))
                else:
                    g.add_edge(sid, known, labels={(name, args)})
        if check_deadlock and not any_succ and sid not in res.broken:
            res.deadlocks += 1
            if res.violation is None:
                fail("Deadlock", sid)
    return _finish(res, t0, states, depth, g, parent)


def _finish(res: Result, t0: float, states, depth, g, parent) -> Result:
    res.states = states
    res.parent = parent
    res.graph = g
    if g is not None and res.violation is None and res.complete and not res.symmetry:
        res.liveness = check_all(res)
    res.distinct = len(states)
    res.depth = max(depth) + 1 if depth else 0
    res.seconds = time.perf_counter() - t0
    res.graph = g
    return res


def trace_to(res: Result, sid: int) -> list[Step]:
    """The shortest trace from Init to stored state ``sid`` (breadth-first: its
    first parent is on a shortest path), Init first."""
    return _trace(res.states, res.parent, sid)


def _trace(states, parent, sid) -> list[Step]:
    out: list[Step] = []
    while parent[sid] is not None:
        pid, name, args, ret = parent[sid]
        out.append(Step(name, args, ret, states[sid]))
        sid = pid
    out.append(Step("Init", (), 0, states[sid]))
    return out[::-1]
