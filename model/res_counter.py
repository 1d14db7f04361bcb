"""res_counter operations over a hierarchy of counters, in dual mode.

A *chain* is the walk ``counter -> parent -> ...`` as a list of
``(memcg index, present)`` pairs, nearest first, where ``present`` says whether
the walk reaches that level (it depends on the ``hier`` bits, which may be
symbolic). Each function returns a new tuple of counters.
"""

from __future__ import annotations

from kmemcg.model.config import Config
from kmemcg.model.dual import And, If, Max, Not
from kmemcg.model.state import Counter, State, replace_at

ENOMEM, EBUSY, EINVAL = 12, 16, 22


def chain(cfg: Config, s: State, m: int) -> list[tuple[int, object]]:
    """The levels res_counter_charge(&memcg->X) walks from memcg ``m``."""
    levels = [(m, True)]
    present, below = True, m
    for p in cfg.ancestors(m):
        present = And(present, s.hier[below])
        levels.append((p, present))
        below = p
    return levels


def charge(counters: tuple, levels, n: int):
    """res_counter_charge: (new counters, ok).

    The first level over its limit gets failcnt+1 and the levels below it are
    uncharged again, keeping the max_usage they recorded (kernel/res_counter.c).
    """
    fits = [counters[i].usage + n <= counters[i].limit for i, _ in levels]
    ok = And(*(If(present, f, True) for (_, present), f in zip(levels, fits, strict=False)))
    out = counters
    reached = True
    for ((i, present), f) in zip(levels, fits, strict=False):
        c = counters[i]
        reach = And(present, reached)
        bumped = And(reach, f)
        out = replace_at(
            out,
            i,
            Counter(
                usage=If(And(present, ok), c.usage + n, c.usage),
                max_usage=If(bumped, Max(c.max_usage, c.usage + n), c.max_usage),
                limit=c.limit,
                failcnt=If(And(reach, Not(f)), c.failcnt + 1, c.failcnt),
            ),
        )
        reached = bumped
    return out, ok


def uncharge(counters: tuple, levels, n: int) -> tuple:
    """res_counter_uncharge: every level loses ``n``, clamped at 0 (with a WARN)."""
    out = counters
    for i, present in levels:
        c = counters[i]
        left = If(c.usage >= n, c.usage - n, 0)
        out = replace_at(out, i, c._replace(usage=If(present, left, c.usage)))
    return out


def set_limit(counters: tuple, m: int, limit: int):
    """res_counter_set_limit: (new counters, 0 or -EBUSY); never reclaims."""
    c = counters[m]
    busy = c.usage > limit
    new = replace_at(counters, m, c._replace(limit=If(busy, c.limit, limit)))
    return new, If(busy, -EBUSY, 0)


def reset_max(counters: tuple, m: int) -> tuple:
    """res_counter_reset_max: max_usage = usage."""
    c = counters[m]
    return replace_at(counters, m, c._replace(max_usage=c.usage))


def reset_failcnt(counters: tuple, m: int) -> tuple:
    """res_counter_reset_failcnt: failcnt = 0."""
    return replace_at(counters, m, counters[m]._replace(failcnt=0))


def charge_nolimit(counters: tuple, levels, n: int) -> tuple:
    """A charge that never looks at the limit (the named bug of spec/)."""
    out = counters
    for i, present in levels:
        c = counters[i]
        new = c._replace(usage=c.usage + n, max_usage=Max(c.max_usage, c.usage + n))
        out = replace_at(out, i, If(present, new, c))
    return out
