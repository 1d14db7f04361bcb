"""User memory: anonymous pages (owned by an mm) and page cache (owned by a group).

An anonymous page (do_anonymous_page -> mem_cgroup_newpage_charge) and a page
cache page (add_to_page_cache_locked -> mem_cgroup_cache_charge) are charged to
the memcg of the faulting task's mm owner (try_get_mem_cgroup_from_mm), with
reclaim at U (model/actions/reclaim.py); the root memcg is never charged.
A task with a fatal signal pending (TIF_MEMDIE too) charges the root instead:
__mem_cgroup_try_charge tests it first and bypasses to root_mem_cgroup
(-EINTR), which mem_cgroup_charge_common (and so mem_cgroup_cache_charge)
commits the page to, returning 0; a scope's ``fatal_signals`` lets it happen.
Anonymous pages stay until their mm's last user's mmput uncharges them (no
swap: reclaim never takes them); page cache stays with its group, whatever
becomes of the task, until reclaim frees it. Both are user (LRU) pages, so they
count in ``user_pages`` too. Kernel of record: 3.8 ``mm/memory.c``,
``mm/filemap.c``, ``kernel/fork.c`` (mmput) and ``mm/memcontrol.c``.
"""

from __future__ import annotations

from kmemcg.model import domains
from kmemcg.model import res_counter as rc
from kmemcg.model.actions.charge import user_charge_guard
from kmemcg.model.actions.reclaim import mem_cgroup_try_charge
from kmemcg.model.config import PAGE_SIZE, ROOT
from kmemcg.model.core import Actions
from kmemcg.model.dual import And, Eq, If, Not, Or
from kmemcg.model.res_counter import ENOMEM
from kmemcg.model.state import State, replace_at

ACTIONS = Actions("task")


def _user_charge(cfg, s: State, m: int, add):
    """__mem_cgroup_try_charge of one page to ``m`` (reclaiming at U), then
    ``add`` records the page: (post, ret)."""
    if m == ROOT:  # __mem_cgroup_try_charge: the root memcg is never charged
        return add(s), 0
    after, ok = mem_cgroup_try_charge(cfg, s, m, PAGE_SIZE)
    return If(ok, add(after), after), If(ok, 0, -ENOMEM)


def _anon_charge(cfg, s, t, m):
    """do_anonymous_page -> mem_cgroup_newpage_charge(page, mm, GFP_KERNEL): the
    page belongs to the task's mm."""
    def add(x: State) -> State:
        anon = tuple(If(Eq(s.task_mm[t], k), replace_at(row, m, row[m] + 1), row)
                     for k, row in enumerate(x.mm_anon))
        return x._replace(user_pages=replace_at(x.user_pages, m, x.user_pages[m] + 1),
                          mm_anon=anon)
    return _user_charge(cfg, s, m, add)


ACTIONS.add("anon.charge", ("task", "memcg"), domains.tasks_memcgs,
            "do_anonymous_page -> mem_cgroup_newpage_charge -> __mem_cgroup_try_charge, "
            "reclaim at U (3.8)")((user_charge_guard, _anon_charge))


def _pagecache_charge(cfg, s, t, m):
    """add_to_page_cache_locked -> mem_cgroup_cache_charge(page, current->mm,
    GFP_KERNEL): the page belongs to the group, not to the task."""
    def add(x: State) -> State:
        return x._replace(user_pages=replace_at(x.user_pages, m, x.user_pages[m] + 1),
                          page_cache=replace_at(x.page_cache, m, x.page_cache[m] + 1))
    return _user_charge(cfg, s, m, add)


ACTIONS.add("pagecache.charge", ("task", "memcg"), domains.tasks_memcgs,
            "add_to_page_cache_locked -> mem_cgroup_cache_charge -> __mem_cgroup_try_charge, "
            "reclaim at U (3.8)")((user_charge_guard, _pagecache_charge))


def mmput(cfg, s: State, t: int) -> State:
    """exit_mm -> mmput by task ``t``: when it is the mm's last user, exit_mmap
    frees the anonymous pages, each uncharged from the memcg it was charged to
    (__mem_cgroup_uncharge_common; the root's counter is never touched)."""
    for k in range(cfg.n_tasks):
        last = And(Eq(s.task_mm[t], k), Not(Or(*(Eq(s.task_mm[u], k)
                                                 for u in range(cfg.n_tasks) if u != t))))
        freed = s
        for d in range(cfg.n_memcgs):
            pages = s.mm_anon[k][d]
            if d != ROOT:
                freed = freed._replace(res=rc.uncharge(freed.res, rc.chain(cfg, s, d),
                                                       PAGE_SIZE * pages))
            freed = freed._replace(user_pages=replace_at(freed.user_pages, d,
                                                         freed.user_pages[d] - pages))
        freed = freed._replace(mm_anon=replace_at(s.mm_anon, k, (0,) * cfg.n_memcgs))
        s = If(last, freed, s)
    return s


def reparent_user_pages(cfg, s: State, m: int) -> State:
    """The anonymous and page cache pages of ``m`` go where the rest of its LRU
    pages go (mem_cgroup_reparent_charges: its parent under hierarchy, else the
    root); their count in user_pages is the caller's."""
    p = cfg.parents[m]

    def to(row, dst):
        return tuple(row[d] + row[m] if d == dst else 0 if d == m else row[d]
                     for d in range(cfg.n_memcgs))

    def moved(row):
        return If(s.hier[m], to(row, p), to(row, ROOT))

    return s._replace(mm_anon=tuple(moved(row) for row in s.mm_anon),
                      page_cache=moved(s.page_cache))
