"""struct res_counter semantics, from kernel/res_counter.c (3.8), hand-computed."""

from errno import EBUSY, ENOMEM

from kmemcg.impl.res_counter import RESOURCE_MAX, ResCounter


def chain(*limits):
    """counters top-down: chain(10, 5) is a root limited to 10 with a child limited to 5."""
    parent = None
    out = []
    for limit in limits:
        c = ResCounter(parent)
        c.limit = limit
        out.append(c)
        parent = c
    return out


def test_fresh_counter_is_unlimited():
    c = ResCounter()
    assert (c.usage, c.max_usage, c.limit, c.failcnt) == (0, 0, RESOURCE_MAX, 0)


def test_first_failing_level_alone_counts_the_failure():
    top, mid, low = chain(10, 3, 100)
    assert low.charge(2) == (0, None)
    ret, at = low.charge(2)  # low fits (4 <= 100), mid does not (4 > 3)
    assert (ret, at) == (-ENOMEM, mid)
    assert (low.failcnt, mid.failcnt, top.failcnt) == (0, 1, 0)


def test_rolled_back_levels_keep_their_max_usage():
    top, mid, low = chain(10, 3, 100)
    low.charge(2)
    low.charge(2)
    assert low.usage == 2 and low.max_usage == 4  # the charge that never stuck
    assert mid.usage == 2 and mid.max_usage == 2
    assert top.usage == 2


def test_uncharge_clamps_at_zero_and_returns_own_remainder():
    top, low = chain(RESOURCE_MAX, RESOURCE_MAX)
    top.charge(5)  # top alone has more than low
    low.charge(3)
    assert low.uncharge(2) == 1
    assert low.uncharge(7) == 0  # clamps (the kernel WARNs)
    assert top.usage == 0  # 8 - 2 - 7 clamps to 0 too


def test_set_limit_refuses_below_usage_and_never_reclaims():
    (c,) = chain(10)
    c.charge(6)
    assert c.set_limit(5) == -EBUSY and c.limit == 10 and c.usage == 6
    assert c.set_limit(6) == 0 and c.limit == 6


def test_resets():
    (c,) = chain(1)
    c.charge(1)
    c.charge(1)
    c.uncharge(1)
    assert (c.max_usage, c.failcnt) == (1, 1)
    c.reset_max()
    c.reset_failcnt()
    assert (c.max_usage, c.failcnt) == (0, 0)
