"""Liveness on the explored state graph: P leads to Q under weak fairness.

A property ``P ~> Q`` fails when some reachable state satisfies P and some
fair behaviour from there never reaches Q. Within the states where Q does not
hold, such a behaviour ends in either a state with no successor (it stutters
forever) or a strongly connected component it can loop in forever: one where
every weakly fair action is either taken inside the component or disabled
somewhere in it (TLA+'s WF_vars(A) for each action instance A).
"""

from __future__ import annotations

import networkx as nx

from kmemcg.model.controller import MODEL
from kmemcg.model.core import LeadsTo


def check(result, prop: LeadsTo) -> list[tuple[str, object, list[int]]]:
    """Failures of ``prop``: (id, key, state ids from Init into the trap)."""
    cfg, g, states = result.config, result.graph, result.states
    sl = MODEL
    # an action outside the configuration's scope is never taken: no fairness
    scope = set(sl.actions) if cfg.actions is None else set(cfg.actions)
    fair = [(name, args) for name in prop.fair if name in scope
            for args in sl.actions[name].domain(cfg)]
    keys = {k for s in states for k in prop.premise(cfg, s)}
    failures = []
    for key in sorted(keys):
        starts = [i for i, s in enumerate(states)
                  if key in prop.premise(cfg, s) and not prop.goal(cfg, s, key)]
        if not starts:
            continue
        region = _reach(g, starts, lambda n, key=key: not prop.goal(cfg, states[n], key))
        # a copy: networkx's subgraph views are slow to walk repeatedly
        trap = _trap(cfg, sl, g, g.subgraph(region).copy(), states, fair)
        if trap is not None:
            failures.append((prop.id, key, _path(g, trap)))
    return failures


def _reach(g, starts, inside) -> set[int]:
    """The states reachable from ``starts`` through states where ``inside`` holds
    (one search from every start at once)."""
    seen = set(starts)
    todo = list(starts)
    while todo:
        for m in g.successors(todo.pop()):
            if m not in seen and inside(m):
                seen.add(m)
                todo.append(m)
    return seen


def _trap(cfg, sl, g, region, states, fair):
    """A state of ``region`` a fair behaviour can stay near forever, or None.

    Stuttering forever is fair where no fair action can change the state; the
    other actions (the environment's) need never be taken."""
    def moves(n, a):
        name, args = a
        act = sl.actions[name]
        s = states[n]
        return act.guard(cfg, s, *args) and act.effect(cfg, s, *args)[0] != s

    for n in region.nodes:
        if not any(moves(n, a) for a in fair):
            return n
    for comp in nx.strongly_connected_components(region):
        sub = region.subgraph(comp)
        if sub.number_of_edges() == 0:
            continue
        taken = {lab for _, _, d in sub.edges(data=True) for lab in d["labels"]}

        def starved(a, comp=comp, taken=taken):
            return a not in taken and all(moves(n, a) for n in comp)

        if not any(starved(a) for a in fair):
            return next(iter(comp))
    return None


def _path(g, target) -> list[int]:
    return nx.shortest_path(g, 0, target)


def check_all(result) -> list:
    out = []
    for prop in MODEL.liveness:
        out += check(result, prop)
    return out
