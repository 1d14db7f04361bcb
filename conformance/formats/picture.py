"""A counterexample interleaving as a picture (``--picture FILE.svg|FILE.dot``).

Each thread is a lane (a column: a task, the administrator, a kworker, a
guarded kernel path), the steps go down in the order they were taken, one row
each, joined by arrows, and the violating step (the last) is drawn in red with
what it violates. SVG is drawn with drawsvg, DOT written with pydot (no Graphviz
binary needed; ``dot -Tsvg`` renders it where Graphviz is installed).

:func:`from_model_trace` (the explorer's and BMC's counterexamples) and
:func:`from_tries` (the interleaver's and the race machine's schedules) turn
what a command found into a :class:`Picture`; :func:`write` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import drawsvg as dw
import pydot

from kmemcg.conformance import report
from kmemcg.model.config import Config

SUFFIXES = {".svg": "svg", ".dot": "dot", ".gv": "dot"}


@dataclass
class Event:
    """One step of one lane."""

    lane: str
    text: str
    #: a try that took no model step (it waits, or returns): drawn faint
    idle: bool = False


@dataclass
class Picture:
    title: str
    events: list[Event]
    #: what the last event violates (None: nothing is marked)
    violation: str | None = None
    lanes: list[str] = field(default_factory=list)

    def __post_init__(self):
        for e in self.events:
            if e.lane not in self.lanes:
                self.lanes.append(e.lane)


def from_model_trace(cfg: Config, steps, violation: str | None, title: str) -> Picture:
    """An explorer or BMC trace (``Step`` s, Init first): lanes are the model's threads."""
    events = [Event(report.thread_of(cfg, st.action, st.args),
                    report.describe(cfg, st.action, st.args) + (f" -> {st.ret}" if st.ret else ""))
              for st in steps if st.action != "Init"]
    return Picture(title, events, violation)


def from_tries(tries, violation: str | None, title: str) -> Picture:
    """A re-run schedule (``interleave.Try`` s): lanes are the threads the tries drove."""
    events = []
    for t in tries:
        if t.step is not None:
            args = ", ".join(f"{k}={v}" for k, v in t.step.args.items())
            text = f"{t.step.action}({args})" + (f" = {t.step.ret}" if t.step.ret else "")
        else:
            text = t.note or ""
        events.append(Event(t.thread or "-", text, idle=t.step is None))
    return Picture(title, events, violation)


# ------------------------------------------------------------ SVG

ROW, HEADER, PAD, CHAR, FONT = 34, 48, 12, 6.6, 11
#: the widest box (characters); longer steps are cut with an ellipsis (the text
#: output and the JSON verdict have them whole)
MAX_CHARS = 46


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS - 1] + "…"


def svg(p: Picture) -> dw.Drawing:
    lane_w = max(120, min(MAX_CHARS, max((len(e.text) for e in p.events), default=10)) * CHAR
                 + 2 * PAD)
    n = len(p.events)
    marked = None if p.violation is None else f"step {n} violates {p.violation}"
    if marked is not None and len(marked) > 3 * MAX_CHARS:
        marked = marked[:3 * MAX_CHARS - 1] + "…"
    width = max(PAD + len(p.lanes) * (lane_w + PAD) + 40,
                2 * PAD + len(marked or "") * CHAR * (FONT + 1) / FONT)
    height = HEADER + n * ROW + (2 * ROW if p.violation else ROW)
    d = dw.Drawing(width, height, font_family="monospace")
    d.append(dw.Rectangle(0, 0, width, height, fill="white"))
    d.append(dw.Text(p.title, FONT + 2, PAD, 18, font_weight="bold"))
    x_of = {lane: 40 + PAD + i * (lane_w + PAD) for i, lane in enumerate(p.lanes)}
    for lane, x in x_of.items():
        d.append(dw.Text(lane, FONT + 1, x + lane_w / 2, HEADER - 10, text_anchor="middle",
                         font_weight="bold"))
        d.append(dw.Line(x + lane_w / 2, HEADER - 4, x + lane_w / 2, HEADER + n * ROW,
                         stroke="#bbb", stroke_dasharray="4 3"))
    arrow = dw.Marker(-0.1, -0.5, 0.9, 0.5, scale=6, orient="auto")
    arrow.append(dw.Lines(-0.1, -0.5, -0.1, 0.5, 0.9, 0, fill="#555", close=True))
    prev = None
    for i, e in enumerate(p.events):
        y = HEADER + i * ROW
        x = x_of[e.lane]
        bad = p.violation is not None and i == n - 1
        d.append(dw.Text(str(i + 1), FONT, 34, y + ROW / 2 + 4, text_anchor="end", fill="#777"))
        d.append(dw.Rectangle(x, y + 4, lane_w, ROW - 8, rx=5,
                              fill="#fdd" if bad else "#f4f4f4" if e.idle else "#e8f0fe",
                              stroke="#c00" if bad else "#999" if e.idle else "#4a6fa5",
                              stroke_width=2 if bad else 1))
        d.append(dw.Text(_cut(e.text), FONT, x + PAD / 2, y + ROW / 2 + 4,
                         fill="#777" if e.idle else "#000"))
        if prev is not None:
            px, py = prev
            d.append(dw.Line(px + lane_w / 2, py + ROW - 4, x + lane_w / 2, y + 4,
                             stroke="#555", marker_end=arrow))
        prev = (x, y)
    if marked is not None:
        d.append(dw.Text(marked, FONT + 1, PAD,
                         HEADER + n * ROW + ROW * 0.8, fill="#c00", font_weight="bold"))
    return d


# ------------------------------------------------------------ DOT


def dot(p: Picture) -> pydot.Dot:
    """Lanes as clusters side by side, steps chained in order down the page."""
    g = pydot.Dot("interleaving", graph_type="digraph", rankdir="TB", label=p.title,
                  labelloc="t", fontname="monospace", newrank="true")
    g.set_node_defaults(shape="box", style="rounded,filled", fillcolor="#e8f0fe",
                        fontname="monospace", fontsize="10")
    clusters = {}
    for i, lane in enumerate(p.lanes):
        c = pydot.Cluster(f"lane{i}", label=lane, style="dashed", color="#bbbbbb")
        clusters[lane] = c
        g.add_subgraph(c)
    n = len(p.events)
    for i, e in enumerate(p.events):
        bad = p.violation is not None and i == n - 1
        label = f"{i + 1}. {e.text}" + (f"\nviolates {p.violation}" if bad else "")
        attrs = {"fillcolor": "#ffdddd", "color": "#cc0000", "penwidth": "2"} if bad else \
            {"fillcolor": "#f4f4f4", "fontcolor": "#777777"} if e.idle else {}
        clusters[e.lane].add_node(pydot.Node(f"s{i + 1}", label=label, **attrs))
        if i:
            g.add_edge(pydot.Edge(f"s{i}", f"s{i + 1}"))
    return g


def write(p: Picture, path: str) -> None:
    if SUFFIXES[Path(path).suffix.lower()] == "svg":
        svg(p).save_svg(path)
    else:
        Path(path).write_text(dot(p).to_string())
