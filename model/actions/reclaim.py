"""Reclaim at the res limit: the retry loops of __mem_cgroup_try_charge and of
mem_cgroup_resize_limit (3.8), mem_cgroup_reclaim's two callers.

A res charge that fails at a level (res_counter_charge's ``limit_fail_at``, the
failing ancestor ``mem_over_limit``) reclaims that level's subtree
(mem_cgroup_reclaim -> try_to_free_mem_cgroup_pages over mem_cgroup_iter) and,
when that freed something, tries again (CHARGE_RETRY); with nothing freed the
charge fails -ENOMEM, since the model has no OOM killer (where the kernel's
may_oom path would loop and then kill). Only page cache is reclaimable: no
swap, so anonymous pages stay, and reclaim never frees kernel memory (domain
section 2). The scopes hold far fewer pages than SWAP_CLUSTER_MAX (32), one
reclaim pass's target, so a pass frees all of the subtree's page cache. Each
failed try counts in the failing level's failcnt, as res_counter_charge does.

A write of memory.limit_in_bytes below the res usage reclaims the memcg's own
subtree the same way before it gives -EBUSY (mem_cgroup_resize_limit).

The charge with its reclaim is one model step, and so is the limit write with
its. Kernel of record: 3.8 ``mm/memcontrol.c`` (mem_cgroup_do_charge,
mem_cgroup_resize_limit, mem_cgroup_reclaim) and ``mm/vmscan.c``
(try_to_free_mem_cgroup_pages); the 3.10 code is the same.
"""

from __future__ import annotations

from errno import EINVAL

from kmemcg.model import res_counter as rc
from kmemcg.model.config import PAGE_SIZE, RESOURCE_MAX, ROOT, Config
from kmemcg.model.dual import And, Eq, If, Not, Or
from kmemcg.model.facts import reaches, reclaim_in_scope
from kmemcg.model.state import State, replace_at


def limit_fail_at(counters: tuple, levels, n):
    """res_counter_charge's ``*limit_fail_at``: per level ``(memcg, whether the
    walk fails first there)``."""
    out, reached = [], True
    for i, present in levels:
        c = counters[i]
        fits = c.usage + n <= c.limit
        reach = And(present, reached)
        out.append((i, And(reach, Not(fits))))
        reached = And(reach, fits)
    return out


def try_to_free_mem_cgroup_pages(cfg: Config, s: State, over: int):
    """Free the page cache of ``over``'s subtree (``over`` alone without
    use_hierarchy, mem_cgroup_iter): (state, pages freed). Each page is
    uncharged from its memcg's res chain (the root's is never charged)."""
    freed_total = 0
    for d in range(cfg.n_memcgs):
        freed = If(reaches(cfg, s, d, over), s.page_cache[d], 0)
        if isinstance(freed, int) and freed == 0:
            continue  # concrete and nothing here: no change
        res = s.res if d == ROOT else rc.uncharge(s.res, rc.chain(cfg, s, d), PAGE_SIZE * freed)
        s = s._replace(res=res,
                       user_pages=replace_at(s.user_pages, d, s.user_pages[d] - freed),
                       page_cache=replace_at(s.page_cache, d, s.page_cache[d] - freed))
        freed_total = freed_total + freed
    return s, freed_total


def mem_cgroup_try_charge(cfg: Config, s: State, m: int, nbytes):
    """__mem_cgroup_try_charge(memcg ``m``, ``nbytes``) on the res counters,
    reclaiming page cache at the failing level before each retry:
    (state, ok). Without page cache in scope it is res_counter_charge alone."""
    levels = rc.chain(cfg, s, m)
    if not reclaim_in_scope(cfg):
        res, ok = rc.charge(s.res, levels, nbytes)
        return s._replace(res=res), ok
    # each retry follows a reclaim that emptied a subtree; a failure higher up
    # reclaims a bigger one, so one try per level, and the last, suffice
    cur, result, done = s, False, False
    for attempt in range(len(levels) + 1):
        res, ok = rc.charge(cur.res, levels, nbytes)
        tried = cur._replace(res=res)
        if ok is True or attempt == len(levels):
            nxt, stop = tried, True
        else:
            reclaimed, progress = tried, False
            for over, fails_here in limit_fail_at(cur.res, levels, nbytes):
                if fails_here is False:
                    continue
                freed_state, freed = try_to_free_mem_cgroup_pages(cfg, tried, over)
                reclaimed = If(fails_here, freed_state, reclaimed)
                progress = Or(progress, And(fails_here, freed > 0))
            nxt = If(ok, tried, If(progress, reclaimed, tried))
            stop = Or(ok, Not(progress))
        cur = If(done, cur, nxt)
        result = If(done, result, ok)
        done = Or(done, stop)
        if done is True:
            break
    return cur, result



def mem_cgroup_resize_limit(cfg: Config, s: State, m: int, limit):
    """mem_cgroup_resize_limit(memcg ``m``, ``limit``) (3.8-3.10) on memcg->res:
    (state, 0 or -EBUSY).

    The kernel loops: res_counter_set_limit; on -EBUSY,
    mem_cgroup_reclaim(memcg, MEM_CGROUP_RECLAIM_SHRINK), passes of
    try_to_free_mem_cgroup_pages over ``m``'s subtree that stop at the first to
    free anything, and again; retry_count = MEM_CGROUP_RECLAIM_RETRIES (5) x
    mem_cgroup_count_children counts down each round that left res usage no
    lower, and at 0 the write gives set_limit's -EBUSY. It never gives up while
    usage falls. A pass targets SWAP_CLUSTER_MAX (32) pages and the scopes hold
    fewer, so the first pass frees all of the subtree's page cache and the
    retries find nothing more: the model reclaims all it can, as the retries
    would, then sets the limit if the usage fits, else -EBUSY with the page
    cache gone (the loop does not give back what it reclaimed). What stays is
    what reclaim cannot free: kernel pages, anonymous pages (no swap), pinned
    pages. Not modelled: signal_pending's -EINTR (the administrator gets no
    signal), the memsw limit check (no swap accounting), and the
    drain_all_stock_async of a pass after the first (it only queues work).
    Without page cache in scope it is res_counter_set_limit alone. Before all
    that, the memsw check: memsw's limit stays RESOURCE_MAX with no swap
    accounting, so only a value PAGE_ALIGN carried past it (2^63, from the text
    9223372036854775807) is -EINVAL."""
    above = limit > RESOURCE_MAX
    post, ret = _resize_limit(cfg, s, m, limit)
    return If(above, s, post), If(above, -EINVAL, ret)


def _resize_limit(cfg: Config, s: State, m: int, limit):
    """mem_cgroup_resize_limit's loop, past the memsw check."""
    res, ret = rc.set_limit(s.res, m, limit)
    tried = s._replace(res=res)
    if not reclaim_in_scope(cfg):
        return tried, ret
    busy = Not(Eq(ret, 0))
    if busy is False:
        return tried, ret
    freed, _ = try_to_free_mem_cgroup_pages(cfg, s, m)
    res, ret_again = rc.set_limit(freed.res, m, limit)
    return If(busy, freed._replace(res=res), tried), If(busy, ret_again, ret)
