"""The explored state graph as a file (``explore --graph FILE``): GraphML
(``.graphml``) for graph tools and libraries, or DOT (``.dot``, ``.gv``) for
Graphviz, both written by networkx (DOT through pydot, no Graphviz binary).

A node is a distinct state, numbered as the explorer stored it (0 is Init), with
its depth and its JSON view; an edge is every model step from one state to
another, labelled with the steps as the traces print them. The shortest
counterexample's states, if any, are marked ``counterexample``.
"""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx

from kmemcg.conformance import report
from kmemcg.model.config import Config
from kmemcg.model.controller import MODEL

#: file suffix -> format
SUFFIXES = {".graphml": "graphml", ".dot": "dot", ".gv": "dot"}


def format_of(path: str) -> str:
    """The format a path asks for, or ValueError naming the ones known."""
    fmt = SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: the graph's format is its suffix: "
                         f"{', '.join(SUFFIXES)}")
    return fmt


def state_graph(cfg: Config, r) -> nx.DiGraph:
    """The explorer's result ``r`` as a graph with plain (exportable) attributes."""
    ids = {s: i for i, s in enumerate(r.states)}
    marked = {ids[st.state] for st in r.trace if st.state in ids}
    g = nx.DiGraph(name=f"kmemcg explore [{cfg.name}, profile {cfg.profile}]")
    for i, s in enumerate(r.states):
        g.add_node(i, label=str(i), init=i == 0, counterexample=i in marked,
                   state=json.dumps(MODEL.to_json(cfg, s), sort_keys=True))
    for a, b, data in r.graph.edges(data=True):
        steps = sorted(data["labels"])
        g.add_edge(a, b, label="; ".join(report.describe(cfg, n, args) for n, args in steps),
                   actions=" ".join(sorted({n for n, _ in steps})),
                   counterexample=a in marked and b in marked)
    return g


def write(cfg: Config, r, path: str) -> tuple[int, int]:
    """Write the graph; (nodes, edges) written."""
    g = state_graph(cfg, r)
    if format_of(path) == "graphml":
        nx.write_graphml(g, path)
    else:
        for _, d in g.nodes(data=True):
            d["tooltip"] = d.pop("state")  # a state's JSON is no label, but hovers well
            if d["counterexample"]:
                d["color"] = "red"
            if d["init"]:
                d["shape"] = "doublecircle"
        for _, _, d in g.edges(data=True):
            if d["counterexample"]:
                d["color"] = "red"
        nx.nx_pydot.write_dot(g, path)
    return g.number_of_nodes(), g.number_of_edges()
