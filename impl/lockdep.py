"""Lock-order recording, as lockdep does: an edge A -> B whenever B is taken
while A is held. A cycle in the graph is a potential deadlock, whether or not
any run deadlocked."""

from __future__ import annotations

from contextlib import contextmanager

import networkx as nx


class Lockdep:
    def __init__(self):
        self.graph = nx.DiGraph()
        self.held: dict[object, list[str]] = {}

    @contextmanager
    def locked(self, owner: object, *names: str):
        """Hold ``names`` in order for the duration of one step (no preemption inside)."""
        held = self.held.setdefault(owner, [])
        for name in names:
            for h in held:
                if h != name:
                    self.graph.add_edge(h, name)
            held.append(name)
        try:
            yield
        finally:
            for name in reversed(names):
                held.remove(name)

    def cycles(self) -> list[list[str]]:
        return list(nx.simple_cycles(self.graph))

    def orders(self) -> list[tuple[str, str]]:
        return sorted(self.graph.edges)
