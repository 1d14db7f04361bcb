"""An outside kmem_cache_shrink (vmscan, /sys/kernel/slab) racing the destroy work.

Kernel of record: 3.10 ``mm/slab_common.c`` (domain section 13, R10).
"""

from __future__ import annotations

from kmemcg.model import domains
from kmemcg.model.actions.cache_ops import kmem_cache_shrink, record_error
from kmemcg.model.config import NONE
from kmemcg.model.core import Actions
from kmemcg.model.dual import And, Eq
from kmemcg.model.state import ALIVE, FREED, USE_AFTER_FREE

ACTIONS = Actions("shrink")


def _shrink_guard(cfg, s, c):
    """Only a shrink with an empty slab to release is a step; one with nothing
    to do changes nothing (and, repeated forever, would starve the worker out
    of slab_mutex, which is no kernel behaviour worth a counterexample)."""
    return And(Eq(s.shrinking, NONE), Eq(s.cache[c], ALIVE), s.slot[c], s.slabs[c][0] > 0)


def _shrink_release(cfg, s, c):
    return kmem_cache_shrink(cfg, s, c)._replace(shrinking=c), 0


ACTIONS.add("shrink.release", ("cache",), domains.caches,
       "kmem_cache_shrink from outside the worker (vmscan, /sys/kernel/slab)")(
    (_shrink_guard, _shrink_release))


def _shrink_done_guard(cfg, s, c):
    return Eq(s.shrinking, c)


def _shrink_done(cfg, s, c):
    s = record_error(s, Eq(s.cache[c], FREED), USE_AFTER_FREE)
    return s._replace(shrinking=NONE), 0


ACTIONS.add("shrink.done", ("cache",), domains.caches,
       "kmem_cache_shrink returns, still touching the cache on the way out")(
    (_shrink_done_guard, _shrink_done))
