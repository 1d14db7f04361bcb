"""memory.move_charge_at_immigrate: its write, and the charges an attach moves with the task.

A write of 0-3 sets memcg->move_charge_at_immigrate (mem_cgroup_move_charge_write:
``val >= 1 << NR_MOVE_TYPE`` is -EINVAL); the root has the file too (its cftype
has no CFTYPE_NOT_ON_ROOT). An attach into a group with bit 0
(MOVE_CHARGE_TYPE_ANON) set, of a task that owns its mm (``mm->owner == p``),
first precharges the destination with every anonymous page of the mm charged
to the task's old group (mem_cgroup_can_attach -> mem_cgroup_precharge_mc); a
failed precharge fails the attach with -ENOMEM and cancels what it charged
(mem_cgroup_clear_mc). Then the pages move (mem_cgroup_move_task ->
mem_cgroup_move_charge -> mem_cgroup_move_account: pc->mem_cgroup = to) and the
old group gives their charge up (__mem_cgroup_clear_mc ->
__mem_cgroup_cancel_charge(mc.from)). The walk (get_mctgt_type) finds only pages
mapped in the mm's page tables: kernel pages (slab pages, thread stacks,
kmalloc_large) are in none, so kmem never moves (domain section 8).

Bit 1 (MOVE_CHARGE_TYPE_FILE) moves file pages mapped into the mm's vmas
(mc_handle_file_pte: only for a pte of a vma with vm_file). The model's page
cache is read (add_to_page_cache_locked from read(2)), mapped by no task, so bit
1 moves nothing here: the value is kept and read back, and an attach with it
alone is a plain attach (its precharge counts 0 pages).

Kernel of record: 3.10 ``mm/memcontrol.c`` (AndreiLux/ref-3.10 e5be0cd57a62),
whose move code is 3.8's: mem_cgroup_do_precharge, mem_cgroup_can_attach,
mem_cgroup_move_charge_pte_range, mem_cgroup_clear_mc.
"""

from __future__ import annotations

from kmemcg.model import domains
from kmemcg.model import res_counter as rc
from kmemcg.model.actions.reclaim import limit_fail_at, try_to_free_mem_cgroup_pages
from kmemcg.model.config import PAGE_SIZE, ROOT, Config
from kmemcg.model.core import Actions
from kmemcg.model.dual import And, Eq, If, Not, Or, Sum
from kmemcg.model.facts import (
    admin_idle,
    immigrate_in_scope,
    moves_anon,
    owns_mm,
    reclaim_in_scope,
)
from kmemcg.model.res_counter import EINVAL, ENOMEM
from kmemcg.model.state import NR_MOVE_TYPE, ONLINE, State, replace_at

ACTIONS = Actions("admin")

def _write_guard(cfg, s, m, v):
    return And(admin_idle(s), Eq(s.lifecycle[m], ONLINE))


def _move_charge_write(cfg, s, m, v):
    """mem_cgroup_move_charge_write (3.8): -EINVAL from 1 << NR_MOVE_TYPE up;
    no lock, as can_attach reads the value once."""
    if v >= 1 << NR_MOVE_TYPE:
        return s, -EINVAL
    return s._replace(move_charge=replace_at(s.move_charge, m, v)), 0


ACTIONS.add(
    "move_charge.write",
    ("memcg", "value"),
    domains.memcgs_move_values,
    "mem_cgroup_move_charge_write (3.8)",
)((_write_guard, _move_charge_write))


# ---------------------------------------------------------------- the precharge


def _div_pages(x):
    """x // PAGE_SIZE, for a Python int or a Z3 integer term (whose / floors)."""
    return x // PAGE_SIZE if isinstance(x, int) else x / PAGE_SIZE


def _min(a, b):
    return If(a <= b, a, b)


def _room(counters: tuple, levels):
    """The whole pages every level of the walk still takes (limit - usage)."""
    room = None
    for i, present in levels:
        c = counters[i]
        left = If(c.limit - c.usage >= 0, _div_pages(c.limit - c.usage), 0)
        room = left if room is None else If(present, _min(room, left), room)
    return room


def _one_by_one(cfg: Config, s: State, to: int, n):
    """mem_cgroup_do_precharge's one_by_one loop: ``n`` charges of a page, each
    __mem_cgroup_try_charge(1 page) with reclaim at U: (state, ok, pages charged).

    In closed form, so that ``n`` may be a Z3 term: the pages go in while every
    level has room; the next page fails at the first full level (its failcnt,
    the max_usage of the levels below, as res_counter_charge leaves them), which
    reclaims its subtree's page cache (model/actions/reclaim.py) and retries. A
    level that has reclaimed frees nothing again, nor does one below it (its
    subtree is inside), so the failures that make progress climb the walk: one
    phase per level, and a last one, are every page's tries. The root's level
    never fills (its limit cannot be set: T.root), so it has no phase or
    reclaim of its own (a try that fails there fails the precharge)."""
    levels = rc.chain(cfg, s, to)
    cur, left, done, ok = s, n, False, False
    for _ in range(sum(1 for i, _ in levels if i != ROOT) + 1):
        take = _min(left, _room(cur.res, levels))
        res, _ = rc.charge(cur.res, levels, PAGE_SIZE * take)
        filled = cur._replace(res=res)
        rest = left - take
        finished = Eq(rest, 0)
        # the page that does not fit: res_counter_charge fails at the full level
        res_f, _ = rc.charge(filled.res, levels, PAGE_SIZE)
        nxt = tried = filled._replace(res=res_f)
        progress = False
        if reclaim_in_scope(cfg):
            for over, fails_here in limit_fail_at(filled.res, levels, PAGE_SIZE):
                if fails_here is False or over == ROOT:
                    continue
                freed_state, freed = try_to_free_mem_cgroup_pages(cfg, tried, over)
                nxt = If(fails_here, freed_state, nxt)
                progress = Or(progress, And(fails_here, freed > 0))
        cur = If(done, cur, If(finished, filled, nxt))
        left = If(done, left, rest)
        ok = If(done, ok, finished)
        done = Or(done, finished, Not(progress))
        if done is True:
            break
    return cur, ok, n - left


def mem_cgroup_do_precharge(cfg: Config, s: State, to: int, n):
    """mem_cgroup_do_precharge(count) for mc.to = ``to`` (3.8): (state, ok). The
    root takes it uncharged; more than one page is first tried at once, with no
    reclaim (res_counter_charge: a failure counts in failcnt); else, or when
    that fails, one page at a time (:func:`_one_by_one`). A failure cancels the
    pages charged (mem_cgroup_clear_mc -> __mem_cgroup_cancel_charge(mc.to)):
    the failcnt, the max_usage and the page cache reclaimed on the way stay."""
    if to == ROOT:
        return s, True
    levels = rc.chain(cfg, s, to)
    bulk_res, bulk_ok = rc.charge(s.res, levels, PAGE_SIZE * n)
    at_once = And(n > 1, bulk_ok)
    start = If(n > 1, s._replace(res=bulk_res), s)
    after, ok, charged = _one_by_one(cfg, start, to, n)
    cancelled = after._replace(res=rc.uncharge(after.res, levels, PAGE_SIZE * charged))
    return If(at_once, s._replace(res=bulk_res), If(ok, after, cancelled)), Or(at_once, ok)


# ---------------------------------------------------------------- the attach


def mem_cgroup_can_attach(cfg: Config, s: State, t: int, m: int):
    """mem_cgroup_can_attach, then (on success) mem_cgroup_move_task, for task
    ``t`` moving from its group to ``m``: (state, ret), the task's own move
    left to the caller. With bit 0 of ``m``'s move_charge_at_immigrate and
    ``t`` its mm's owner, the mm's anonymous pages charged to the old group
    (pc->mem_cgroup == mc.from) are precharged to ``m`` and moved there, and
    the old group's res chain gives them up; kernel charges stay. Elsewhere
    the attach moves nothing."""
    if not immigrate_in_scope(cfg):
        return s, 0
    moving = And(moves_anon(s, m), owns_mm(cfg, s, t))
    if moving is False:  # concrete, and nothing to move
        return s, 0
    n_t, n_m = cfg.n_tasks, cfg.n_memcgs
    frm = s.task_memcg[t]
    here = [[And(Eq(s.task_mm[t], k), Eq(frm, d)) for d in range(n_m)] for k in range(n_t)]
    pages = Sum(If(here[k][d], s.mm_anon[k][d], 0) for k in range(n_t) for d in range(n_m))
    pre, ok = mem_cgroup_do_precharge(cfg, s, m, pages)
    # mem_cgroup_move_account of each page, then __mem_cgroup_cancel_charge(mc.from)
    res = pre.res
    for d in range(n_m):
        if d not in (m, ROOT):
            res = If(Eq(frm, d), rc.uncharge(res, rc.chain(cfg, s, d), PAGE_SIZE * pages), res)
    user = tuple(pre.user_pages[d] + (pages if d == m else If(Eq(frm, d), -pages, 0))
                 for d in range(n_m))
    anon = tuple(tuple(row[d] + (If(Eq(s.task_mm[t], k), pages, 0) if d == m
                                 else If(here[k][d], -pages, 0))
                       for d in range(n_m)) for k, row in enumerate(pre.mm_anon))
    moved = pre._replace(res=res, user_pages=user, mm_anon=anon)
    return If(moving, If(ok, moved, pre), s), If(And(moving, Not(ok)), -ENOMEM, 0)
