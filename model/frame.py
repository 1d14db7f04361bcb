"""Frame reasoning: which leaves of the state an action writes and a formula reads.

An action's effect, evaluated on a symbolic state, keeps every leaf it does
not write as the very term it was (effects use ``_replace`` and
``replace_at``); an invariant evaluated on it is a term over the constants of
the leaves it reads. Where the two are disjoint the action cannot change the
invariant: the prover needs no solver call for the pair, and an invariant no
action of a scope writes into need not be checked past Init by the explorer.

Premise (the dual style's own rule, model/dual.py): no Python ``if`` on a
state value, so a formula's term mentions every leaf its value depends on.
"""

from __future__ import annotations

from functools import cache

import z3

from kmemcg.model.config import Config
from kmemcg.model.core import Model, symbolic_like
from kmemcg.model.dual import symbolic


def leaves(x):
    """The ints, bools and terms of a (nested) tuple, depth first."""
    if isinstance(x, tuple):
        for y in x:
            yield from leaves(y)
    else:
        yield x


def written(pre, post) -> set[int]:
    """Ids of the pre-state constants whose leaf ``post`` does not keep.

    Obligation: every leaf outside the result is, in ``post``, the very term it
    is in ``pre``. A subtree ``post`` shares with ``pre`` is skipped unread.
    """
    out: set[int] = set()
    stack = [(pre, post)]
    while stack:
        a, b = stack.pop()
        if a is b:
            continue
        if isinstance(a, tuple):
            stack.extend(zip(a, b, strict=True))
        elif not (isinstance(b, z3.ExprRef) and z3.eq(a, b)):
            out.add(a.get_id())
    return out


def constants(term) -> set[int]:
    """Ids of the uninterpreted constants ``term`` mentions.

    Obligation: a formula's value is a function of these constants alone, so an
    invariant evaluated on a symbolic state reads no leaf but those whose
    constants appear here (a Python bool reads nothing).
    """
    out: set[int] = set()
    if not isinstance(term, z3.ExprRef):
        return out
    seen: set[int] = set()
    stack = [term]
    while stack:
        t = stack.pop()
        key = t.get_id()
        if key in seen:
            continue
        seen.add(key)
        if z3.is_const(t) and t.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            out.add(key)
        else:
            stack.extend(t.children())
    return out


def as_term(v):
    """A Python int or bool as a Z3 value (``z3.substitute`` takes terms only)."""
    if isinstance(v, z3.ExprRef):
        return v
    return z3.BoolVal(v) if isinstance(v, bool) else z3.IntVal(v)


def substitution(template, value) -> list[tuple]:
    """Pairs that turn a term over ``template``'s constants into one over ``value``."""
    return [(c, as_term(v)) for c, v in zip(leaves(template), leaves(value), strict=True)]


def unaffected(model: Model, cfg: Config) -> frozenset[str]:
    """Ids of the invariants no explored step of ``cfg`` can change: each reads
    only leaves no enabled action writes, so its value is the one at Init (a
    step invariant's, the one on Init's stutter)."""
    return _unaffected(model, cfg)


@cache
def _unaffected(model: Model, cfg: Config) -> frozenset[str]:
    with symbolic():
        pre = symbolic_like(model.initial(cfg), "pre")
        writes: set[int] = set()
        for a in model.enabled(cfg):
            for args in a.domain(cfg):
                writes |= written(pre, a.effect(cfg, pre, *args)[0])
        out = set()
        for i in model.invariants.values():
            term = i.check(cfg, pre, pre) if i.kind == "step" else i.check(cfg, pre)
            if not constants(as_term(term)) & writes:
                out.add(i.id)
    return frozenset(out)


def affected(model: Model, cfg: Config, action: str) -> tuple[str, ...]:
    """Ids of the invariants a step of ``action`` (with any arguments) can change
    under ``cfg``: those that read a leaf it writes. After a step the oracle has
    matched to the model's effect, from a state every invariant holds in, the
    rest still hold."""
    return _affected(model, cfg)[action]


@cache
def _affected(model: Model, cfg: Config) -> dict[str, tuple[str, ...]]:
    with symbolic():
        pre = symbolic_like(model.initial(cfg), "pre")
        reads = {i.id: constants(as_term(i.check(cfg, pre, pre) if i.kind == "step"
                                         else i.check(cfg, pre)))
                 for i in model.invariants.values()}
        out = {}
        for a in model.actions.values():
            writes: set[int] = set()
            for args in a.domain(cfg):
                writes |= written(pre, a.effect(cfg, pre, *args)[0])
            out[a.name] = tuple(i for i, r in reads.items() if r & writes)
    return out
