"""The interleaver's verdict: the implementation's states against the model's.

An implementation that allows fewer interleavings than the model (one that runs
some paths, or all of them, to completion before another starts) reaches fewer
states: it is coarser-grained, not wrong. Its states are then compared with the
model *restricted to the runs it allows*: the explorer with only the splits of a
path by another that the implementation was seen to take (model/serial.py; for
a serial implementation, none: the model's serial runs).

- ``equal``: the implementation's states are the model's;
- ``coarser-grained``: they are the restricted model's; the verdict names the
  model states never reached and the paths never split (by which other path);
- ``DIFFERENT``: a state outside the model, or one of the restricted model that
  the implementation never reached.

An implementation of whole operations shows no state between two steps of one
operation (the suite shows the model's there, along one of the ways the
operation could go), so its verdict compares the states between operations:
those where no path is under way, of the implementation and of the model alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kmemcg.model import explore as explorer
from kmemcg.model.config import UNLIMITED
from kmemcg.model.controller import MODEL
from kmemcg.model.serial import restricted, splits, splitting, under_way
from kmemcg.model.state import Counter

EQUAL, COARSER, DIFFERENT = "equal", "coarser-grained", "DIFFERENT"

#: how many model states a verdict shows of those never reached
EXAMPLES = 3


@dataclass
class Granularity:
    verdict: str
    model_states: int
    implementation_states: int
    #: the model restricted to the runs the implementation allows (None: not needed)
    restricted_states: int | None = None
    #: states the implementation reached that the model has not
    outside: list = field(default_factory=list)
    #: states of the restricted model the implementation never reached
    missing: list = field(default_factory=list)
    #: states of the (whole) model it never reached
    unreached: list = field(default_factory=list)
    #: (path, the path that splits it) the model has and the implementation never took
    never_split: list = field(default_factory=list)
    #: the splits the implementation took
    taken: list = field(default_factory=list)
    #: states the model's known bugs broke (under a kernel claim)
    broken: int = 0
    #: only the states between operations were compared (whole operations)
    between_operations: bool = False

    @property
    def ok(self) -> bool:
        return self.verdict != DIFFERENT

    def counts(self) -> dict:
        return {"model_states": self.model_states,
                "restricted_model_states": self.restricted_states,
                "only_implementation": len(self.outside), "only_model": len(self.unreached),
                "missing_from_restricted_model": len(self.missing),
                "never_split": len(self.never_split), "granularity": self.verdict}


def judge(cfg, states: set, impl_splits: set, claim=None,
          between_operations: bool = False) -> Granularity:
    """The verdict on the states an interleaving of the implementation reached
    (``states``), having split the paths ``impl_splits`` (InterleaveResult.splits);
    ``between_operations``: compare only the states where no path is under way."""
    def kept(xs) -> set:
        return {s for s in xs if not under_way(cfg, s)} if between_operations else set(xs)

    states = kept(states)
    model_splits: set = set()

    def observe(cfg, s, name, args):  # every model step: which paths it splits
        model_splits.update(splits(cfg, s, name, args))
        return True

    keep = claim is not None
    model = explorer.explore(cfg, graph=False, keep_going=keep, allowed=observe)
    model_states = kept(model.states)
    g = Granularity(EQUAL, len(model_states), len(states), taken=sorted(impl_splits),
                    broken=len(model.broken), between_operations=between_operations)
    g.outside = sorted(states - model_states, key=repr)
    g.unreached = sorted(model_states - states, key=repr)
    g.never_split = sorted(model_splits - impl_splits)
    if not g.outside and not g.unreached:
        return g
    if g.outside:
        g.verdict = DIFFERENT
        return g
    narrow = kept(restricted(cfg, allowed=splitting(impl_splits), graph=False,
                             keep_going=keep).states)
    g.restricted_states = len(narrow)
    g.missing = sorted(narrow - states, key=repr)
    g.verdict = COARSER if narrow == states else DIFFERENT
    return g


def _split_text(pairs) -> str:
    return ", ".join(f"{p} by {q}" for p, q in pairs)


def lines(cfg, g: Granularity) -> list[str]:
    """What the text output says beyond the counts."""
    out = []
    if g.outside:
        out.append(f"  {len(g.outside)} states outside the model, e.g. "
                   f"{_state_text(cfg, g.outside[0])}")
    if g.restricted_states is not None:
        how = ("splits no path (serial)" if not g.taken else
               f"splits {len(g.taken)} of the model's {len(g.taken) + len(g.never_split)} "
               f"(path, splitting path) pairs")
        out.append(f"  the implementation {how}: the model restricted to the runs it "
                   f"allows has {g.restricted_states} states"
                   + (" between operations" if g.between_operations else "")
                   + (f", {len(g.missing)} of them never reached" if g.missing else
                      ": equal"))
        for s in g.missing[:EXAMPLES]:
            out.append(f"    missing: {_state_text(cfg, s)}")
    if g.unreached:
        out.append(f"  model states never reached: {len(g.unreached)}, e.g.")
        for s in g.unreached[:EXAMPLES]:
            out.append(f"    {_state_text(cfg, s)}")
    if g.never_split and g.unreached:
        out.append(f"  paths never split: {_split_text(g.never_split)}")
    return out


def _plain(v):
    """A field's value without the counters' names (usage, max_usage, limit, failcnt)."""
    if isinstance(v, Counter):
        return tuple("max" if x == UNLIMITED else x for x in v)
    if isinstance(v, tuple):
        return tuple(_plain(x) for x in v)
    return v


def _state_text(cfg, s) -> str:
    """A state as the fields where it differs from the initial state (a counter as
    (usage, max_usage, limit, failcnt))."""
    init = MODEL.initial(cfg)
    return "{" + ", ".join(f"{f}={_plain(v)!r}" for f, v, w in zip(s._fields, s, init, strict=True)
                           if v != w) + "}"


def to_json(cfg, g: Granularity) -> dict:
    """The verdict's detail for --json: counts, a few examples, the splits never taken."""
    return {"verdict": g.verdict, "model_states": g.model_states,
            "between_operations": g.between_operations,
            "implementation_states": g.implementation_states,
            "restricted_model_states": g.restricted_states,
            "outside_model": [_state_text(cfg, s) for s in g.outside[:EXAMPLES]],
            "missing_from_restricted_model": [_state_text(cfg, s) for s in g.missing[:EXAMPLES]],
            "never_reached": {"count": len(g.unreached),
                              "examples": [_state_text(cfg, s) for s in g.unreached[:EXAMPLES]]},
            "never_split": [{"path": p, "by": q} for p, q in g.never_split]}

