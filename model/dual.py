"""Operators that work on Python values and on Z3 terms alike.

The model's actions and invariants are written once with these helpers and
plain arithmetic, so the same text is evaluated concretely by the explorer and
the oracle, and symbolically by the Z3 prover. A Python ``if`` on a state value
would break the symbolic reading; every state-dependent choice goes through
:func:`If`.

Concrete evaluation is the hot path of the explorer, so the mode is a switch
(:func:`symbolic`) rather than a type test per operand. A Z3 term reaching a
helper in concrete mode fails loudly: Z3 refuses to turn it into a bool.
"""

from __future__ import annotations

from contextlib import contextmanager

import z3

# made now, not at first use: a Ctrl-C landing inside its constructor would
# leave a half-made context whose finalizer then fails, traceback and all
z3.main_ctx()

_SYMBOLIC = False


@contextmanager
def symbolic():
    """Evaluate the model over Z3 terms inside this block."""
    global _SYMBOLIC
    old, _SYMBOLIC = _SYMBOLIC, True
    try:
        yield
    finally:
        _SYMBOLIC = old


def If(c, a, b):
    """``a if c else b``; a Z3 ``If`` when the condition is symbolic.

    Tuples (named or not) are chosen element by element, so a whole counter
    array or state field can be selected under a symbolic condition.
    """
    if not _SYMBOLIC or not isinstance(c, z3.ExprRef):
        return a if c else b
    if isinstance(a, tuple):
        items = tuple(If(c, x, y) for x, y in zip(a, b, strict=True))
        return type(a)(*items) if hasattr(a, "_fields") else items
    if a is b:
        return a
    return z3.If(c, a, b)


def And(*xs):
    if _SYMBOLIC:
        return z3.And(*xs) if xs else True
    for x in xs:
        if not x:
            return False
    return True


def Or(*xs):
    if _SYMBOLIC:
        return z3.Or(*xs) if xs else False
    for x in xs:
        if x:
            return True
    return False


def Not(x):
    if _SYMBOLIC and isinstance(x, z3.ExprRef):
        return z3.Not(x)
    return not x


def Implies(a, b):
    if _SYMBOLIC:
        return z3.Implies(a, b)
    return (not a) or b


def Max(a, b):
    return If(a >= b, a, b)


def Sum(xs):
    if not _SYMBOLIC:
        return sum(xs)
    total = 0
    for x in xs:
        total = total + x
    return total


def Count(conds):
    """How many of ``conds`` hold."""
    if not _SYMBOLIC:
        return sum(1 for c in conds if c)
    return Sum(If(c, 1, 0) for c in conds)


def Eq(a, b):
    """Equality of two values of the same shape (ints, bools, tuples of them)."""
    if not _SYMBOLIC:
        return a == b
    if isinstance(a, tuple):
        return And(*(Eq(x, y) for x, y in zip(a, b, strict=True)))
    if isinstance(a, bool) and isinstance(b, bool):
        return a == b
    return a == b
