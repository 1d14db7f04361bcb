"""A liveness counterexample as a lasso: a path from Init, then a loop forever.

The state graph's liveness check (``model/liveness.py``) names the state a fair
behaviour can stay near forever without reaching the goal. Either no fair action
can change that state, and the behaviour stutters there (the loop is that one
state), or the state lies in a strongly connected component where every fair
action is taken or disabled somewhere; the loop then walks every edge of the
component, so that each fair action taken there is taken in the loop and each
one disabled there is disabled at a state of the loop. That is the shape ITF
writes with ``loop``.
"""

from __future__ import annotations

import itertools

import networkx as nx

from kmemcg.model.controller import MODEL
from kmemcg.model.explore import Step


def lasso(result, prop, key, path: list[int]) -> tuple[list[Step], int]:
    """A failure of ``prop`` (a :class:`~kmemcg.model.liveness.LeadsTo`) for
    ``key``, reached by ``path``: (the steps from Init, the index of the step the
    loop starts at); the last step is followed by that one again."""
    cfg, g, states = result.config, result.graph, result.states
    sl = MODEL
    trap = path[-1]
    moves = [(b, _label(g, a, b)) for a, b in itertools.pairwise(path)]
    if _fair_can_move(cfg, sl, prop, states[trap]):
        region = g.subgraph(n for n in g.nodes if not prop.goal(cfg, states[n], key))
        comp = region.subgraph(next(c for c in nx.strongly_connected_components(region)
                                    if trap in c))
        moves += _closed_walk(comp, trap)[:-1]
    steps = [Step("Init", (), 0, states[path[0]])]
    steps += [Step(name, args, 0, states[n]) for n, (name, args) in moves]
    return steps, len(path) - 1


def _label(g, a, b):
    return sorted(g.edges[a, b]["labels"])[0]


def _fair_can_move(cfg, sl, prop, s) -> bool:
    for name in prop.fair:
        act = sl.actions.get(name)
        for args in act.domain(cfg) if act else ():
            if act.guard(cfg, s, *args) and act.effect(cfg, s, *args)[0] != s:
                return True
    return False


def _closed_walk(comp, start) -> list:
    """(state, (action, args)) moves from ``start`` back to it that take every
    labelled edge of ``comp``; the last move returns to ``start``."""
    walk, here = [], start

    def go(to):
        nonlocal here
        hops = nx.shortest_path(comp, here, to)
        walk.extend((b, _label(comp, a, b)) for a, b in itertools.pairwise(hops))
        here = to

    for a, b in sorted(comp.edges):
        for label in sorted(comp.edges[a, b]["labels"]):
            go(a)
            walk.append((b, label))
            here = b
    go(start)
    return walk
