"""Model traces in the Informal Trace Format (ITF, Apalache ADR-015), as Apalache
and Quint write them and ``itf-py`` reads them.

The state's JSON view (``MODEL.to_json``) is mapped value by value: a record
keeps its field names as keys; a collection keyed by an entity's name (memcgs,
tasks, root caches, per-memcg caches such as ``dentry(1:A)``) is a map,
``{"#map": [[key, value], ...]}``, since its keys are data, not field names;
a list is an ITF sequence (a JSON array); an integer outside JSON's safe range
is ``{"#bigint": "..."}``; ``None`` (no memcg, no charge in flight) is the
variant ``NONE``, as the TLA+ spec names it, for ITF has no null.
"""

from __future__ import annotations

from kmemcg.model.config import Config
from kmemcg.model.controller import MODEL

#: the JSON view's collections keyed by an entity's name (model/state.py to_json)
ENTITY_MAPS = frozenset({"memcgs", "tasks", "roots", "caches"})
#: JSON's safe integers (ADR-015: beyond them, #bigint)
SAFE = 1 << 53
#: ITF's rendering of TLA+'s NONE: a variant with Apalache's unit value
NONE = {"tag": "NONE", "value": "U_OF_UNIT"}


def value(v):
    """One JSON-view value as ITF."""
    if v is None:
        return NONE
    if isinstance(v, bool | str):
        return v
    if isinstance(v, int):
        return v if -SAFE < v < SAFE else {"#bigint": str(v)}
    if isinstance(v, dict):
        return {k: value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [value(x) for x in v]
    if isinstance(v, tuple):
        return {"#tup": [value(x) for x in v]}
    raise TypeError(f"no ITF rendering of {type(v).__name__} {v!r}")


def entity_map(d: dict) -> dict:
    return {"#map": [[k, value(x)] for k, x in d.items()]}


def state(cfg: Config, s) -> dict:
    """A model state as an ITF state (its variables; ``#meta`` is the caller's)."""
    return {k: entity_map(v) if k in ENTITY_MAPS else value(v)
            for k, v in MODEL.to_json(cfg, s).items()}


def trace(cfg: Config, steps, violation: str | None, loop: int | None = None) -> dict:
    """A model trace (explorer ``Step`` s, Init first) as an ITF trace. A lasso
    (a liveness counterexample) gives ``loop``: the index of the state its loop
    starts at; the last state is followed by that one again (ADR-015)."""
    states = []
    for i, st in enumerate(steps):
        s = state(cfg, st.state)
        s["#meta"] = {"index": i, "action": st.action, "args": [value(a) for a in st.args]}
        states.append(s)
    return {
        "#meta": {"format": "ITF", "format-description": "https://apalache-mc.org/docs/adr/"
                  "015adr-trace.html", "source": "kmemcg explore", "config": cfg.name,
                  "violation": violation},
        "vars": sorted(MODEL.to_json(cfg, steps[0].state)),
        "states": states,
        **({} if loop is None else {"loop": loop}),
    }
