"""memcg offline's walk over the memcg's caches (mem_cgroup_destroy_all_caches).

rmdir (model/actions/cgroup.py) takes the memcg offline and starts the walk;
each step marks one listed cache dead and queues its destruction. Kernel of
record: 3.10 ``mm/memcontrol.c`` (domain section 6).
"""

from __future__ import annotations

from kmemcg.model import domains
from kmemcg.model.actions.cache_ops import queue_destroy, record_error, set_cache
from kmemcg.model.config import NONE
from kmemcg.model.core import Actions
from kmemcg.model.dual import And, If, Implies, Not
from kmemcg.model.facts import walking
from kmemcg.model.state import NULL_DEREF, cache_id, replace_at

ACTIONS = Actions("rmdir")


def _offline_mark_guard(cfg, s, m, r):
    return And(walking(s, m), Not(s.offline_done[r]), s.listed[cache_id(cfg, r, m)])


def _offline_mark(cfg, s, m, r):
    """One list entry: c->dead = true; schedule_work(destroy). The list entry
    is turned into a cache through the root's slot (memcg_params_to_cache)."""
    c = cache_id(cfg, r, m)
    marked = queue_destroy(set_cache(s, c, dead=True), c)
    step = If(s.slot[c], marked, record_error(s, True, NULL_DEREF))
    return step._replace(offline_done=replace_at(s.offline_done, r, True)), 0


ACTIONS.add("offline.mark_dead", ("memcg", "root"), domains.memcgs_roots,
       "mem_cgroup_destroy_all_caches: dead = true, schedule_work (3.10)")(
    (_offline_mark_guard, _offline_mark))


def _offline_done_guard(cfg, s, m):
    return And(walking(s, m), *(Implies(s.listed[cache_id(cfg, r, m)], s.offline_done[r])
                                for (r,) in domains.roots(cfg)))


def _offline_done(cfg, s, m):
    return s._replace(offline_memcg=NONE, offline_done=(False,) * len(cfg.roots)), 0


ACTIONS.add("offline.done", ("memcg",), domains.non_root,
       "mem_cgroup_destroy_all_caches unlocks slab_caches_mutex; css_offline returns")(
    (_offline_done_guard, _offline_done))
