"""Reading a TLA+ module's syntax tree (from the `tla` parser) in the spec tests."""

from __future__ import annotations


def units(mod, kind: str) -> list:
    return [u for u in mod.units if type(u).__name__ == kind]


def definitions(mod) -> dict:
    return {u.name: u for u in units(mod, "OperatorDefinition")}


def names(us) -> list[str]:
    return [n.operator for u in us for n in u.names]


def walk(node):
    """Every syntax node under ``node`` (the parser's nodes are named tuples)."""
    if isinstance(node, tuple) and hasattr(node, "_fields"):
        yield node
        for f in node._fields:
            yield from walk(getattr(node, f))
    elif isinstance(node, list | tuple):
        for x in node:
            yield from walk(x)


def is_(node, kind: str) -> bool:
    return type(node).__name__ == kind


def next_actions(mod) -> dict[str, tuple[list[str], dict[str, object]]]:
    """Each action Next takes: operator -> (argument names, bound variable -> its set)."""
    out = {}
    for q in walk(definitions(mod)["Next"].definiens):
        if not is_(q, "Quantification"):
            continue
        binders = {d.arguments[0].operator: d.arguments[1] for d in q.declarations}
        call = q.predicate
        assert is_(call, "OperatorApplication") and call.arguments, call
        out[call.operator] = ([a.operator for a in call.arguments], binders)
    return out
