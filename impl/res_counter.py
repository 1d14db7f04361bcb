"""struct res_counter (kernel/res_counter.c, as of 3.8), in bytes."""

from __future__ import annotations

from errno import EBUSY, ENOMEM

#: RESOURCE_MAX: (unsigned long long)LLONG_MAX.
RESOURCE_MAX = (1 << 63) - 1


class ResCounter:
    """A hierarchical resource counter: usage, max_usage, limit, failcnt, parent."""

    __slots__ = ("failcnt", "limit", "max_usage", "parent", "usage")

    def __init__(self, parent: ResCounter | None = None):
        """res_counter_init."""
        self.usage = 0
        self.max_usage = 0
        self.limit = RESOURCE_MAX
        self.failcnt = 0
        self.parent = parent

    def _charge_locked(self, val: int) -> int:
        """res_counter_charge_locked."""
        if self.usage + val > self.limit:
            self.failcnt += 1
            return -ENOMEM
        self.usage += val
        self.max_usage = max(self.max_usage, self.usage)
        return 0

    def charge(self, val: int) -> tuple[int, ResCounter | None]:
        """res_counter_charge: returns (0 or -ENOMEM, the counter that failed).

        Levels below the failing one are uncharged again; what they recorded in
        max_usage stays.
        """
        c: ResCounter | None = self
        while c is not None:
            if c._charge_locked(val):
                u = self
                while u is not c:
                    u._uncharge_locked(val)
                    u = u.parent
                return -ENOMEM, c
            c = c.parent
        return 0, None

    def _uncharge_locked(self, val: int) -> None:
        """res_counter_uncharge_locked: clamps at 0 (the kernel WARNs)."""
        self.usage = self.usage - val if self.usage >= val else 0

    def uncharge_until(self, top: ResCounter | None, val: int) -> int:
        """res_counter_uncharge_until: returns what is left in this counter (3.8)."""
        c: ResCounter | None = self
        while c is not top and c is not None:
            c._uncharge_locked(val)
            c = c.parent
        return self.usage

    def uncharge(self, val: int) -> int:
        """res_counter_uncharge (3.8: returns the own counter's usage left)."""
        return self.uncharge_until(None, val)

    def snapshot(self) -> dict:
        """The counter's four fields, as the model's abstract state names them."""
        return {"usage": self.usage, "max_usage": self.max_usage, "limit": self.limit,
                "failcnt": self.failcnt}

    def set_limit(self, limit: int) -> int:
        """res_counter_set_limit: -EBUSY below current usage; never reclaims."""
        if self.usage > limit:
            return -EBUSY
        self.limit = limit
        return 0

    def reset_max(self) -> None:
        """res_counter_reset_max."""
        self.max_usage = self.usage

    def reset_failcnt(self) -> None:
        """res_counter_reset_failcnt."""
        self.failcnt = 0
