"""Derived facts: what the kernel computes from the state, for guards and invariants.

Each is a dual-mode expression (model/dual.py) named after the kernel helper
that computes it.
"""

from __future__ import annotations

from kmemcg.model.config import NONE, ROOT, Config
from kmemcg.model.dual import And, Count, Eq, If, Not, Or, Sum
from kmemcg.model.state import (
    ADMIN_IDLE,
    KEY_INC,
    MOVE_CHARGE_TYPE_ANON,
    NR_MOVE_TYPE,
    ONLINE,
    SET_ACTIVE,
    State,
    cache_pages,
    order_pages,
    stack_pages,
)


def tasks_in(cfg: Config, s: State, m: int):
    """cgroup_task_count."""
    return Count(Eq(s.task_memcg[t], m) for t in range(cfg.n_tasks))


def online_children(cfg: Config, s: State, m: int):
    """Children still in the cgroup tree (cgroup->children)."""
    return Count(Eq(s.lifecycle[c], ONLINE) for c in cfg.children(m))


def has_children(cfg: Config, s: State, m: int):
    """memcg_has_children: use_hierarchy and at least one child cgroup."""
    return And(s.use_hierarchy[m], online_children(cfg, s, m) > 0)


def can_account_kmem(s: State, m: int):
    """memcg_can_account_kmem: not the root memcg, and kmem-active."""
    return And(m != ROOT, s.kmem_active[m])


def kmem_accounted(s: State, m: int):
    """memcg_kmem_enabled() && memcg_can_account_kmem: a kmem allocation by a
    task of ``m`` is charged (the context bypasses aside)."""
    return And(s.static_key > 0, can_account_kmem(s, m))


def key_patching(cfg: Config, s: State):
    """The activation is inside static_key_slow_inc with the ACTIVE bit already
    set (only without the ``active_after_key`` fix): jump_label_update has
    patched the charge site (memcg_kmem_newpage_charge) but not yet the commit
    and uncharge sites, and the key's count is still 0. The model takes the
    order that exposes the race: the charge site first."""
    if cfg.has_fix("active_after_key"):
        return False
    return And(Eq(s.admin_pc, KEY_INC), Eq(s.static_key, 0))


def newpage_charge_accounts(cfg: Config, s: State, m: int):
    """memcg_kmem_newpage_charge's branch is patched in (the key is on, or is
    being patched with the charge site done) and the memcg can account kmem."""
    return And(Or(s.static_key > 0, key_patching(cfg, s)), can_account_kmem(s, m))


def activation_key_offset(cfg: Config, s: State):
    """The static key count minus the active memcgs during an activation: +1
    between static_key_inc and set_active (the fixed order), -1 between
    set_active and static_key_inc (without ``active_after_key``)."""
    if cfg.has_fix("active_after_key"):
        return If(Eq(s.admin_pc, SET_ACTIVE), 1, 0)
    return If(Eq(s.admin_pc, KEY_INC), -1, 0)


def reaches(cfg: Config, s: State, d: int, m: int):
    """Whether ``d``'s counters charge ``m``'s (d == m, or a hier path up to m)."""
    if d == m:
        return True
    path, below = [], d
    for p in cfg.ancestors(d):
        path.append(s.hier[below])
        if p == m:
            return And(*path)
        below = p
    return False


def per_memcg(cfg: Config, fn) -> tuple:
    """``fn(d)`` for every memcg, computed once for the sums below."""
    return tuple(fn(d) for d in range(cfg.n_memcgs))


def subtree_sum(cfg: Config, s: State, m: int, per: tuple):
    """Sum of ``per[d]`` (see :func:`per_memcg`) over the memcgs whose counters
    charge ``m``'s."""
    return Sum(If(reaches(cfg, s, d, m), per[d], 0) for d in range(cfg.n_memcgs))


def lowest_free_id(cfg: Config, s: State):
    """ida_simple_get(&kmem_limited_groups, 0, ...): the lowest unused kmemcg_id."""
    result = cfg.n_memcgs
    for k in reversed(range(cfg.n_memcgs)):
        used = Count(Eq(s.kmemcg_id[m], k) for m in range(cfg.n_memcgs)) > 0
        result = If(used, result, k)
    return result


def admin_idle(s: State):
    return Eq(s.admin_pc, ADMIN_IDLE)


def walking(s: State, m: int):
    """Offline is walking memcg m's cache list. 3.10 holds slab_caches_mutex for
    the whole walk, so a list_add or list_del of m's caches waits for its end;
    the model lets them interleave with it, which only adds behaviours."""
    return Eq(s.offline_memcg, m)


def in_flight_to(cfg: Config, s: State, m: int, pcs):
    """Tasks whose page charge to ``m`` stands at one of ``pcs``."""
    return Count(And(Or(*(Eq(s.task_pc[t], pc) for pc in pcs)), Eq(s.task_charge[t], m))
                 for t in range(cfg.n_tasks))


def in_flight_pages(cfg: Config, s: State, m: int, pcs):
    """The pages (1 << order each) of the page charges to ``m`` standing at one
    of ``pcs``."""
    return Sum(If(And(Or(*(Eq(s.task_pc[t], pc) for pc in pcs)), Eq(s.task_charge[t], m)),
                  order_pages(cfg, s.task_order[t]), 0)
               for t in range(cfg.n_tasks))


def kernel_pages(cfg: Config, s: State, m: int):
    """Every kernel page charged to ``m`` itself: committed pages, slab pages
    of its caches, its tasks' thread stacks."""
    return s.kmem_pages[m] + cache_pages(cfg, s, m) + stack_pages(cfg, s, m)


# ---------------------------------------------------------------- tasks and their mm


def threads_in_scope(cfg: Config) -> bool:
    """Whether two tasks can share an mm in the configuration's scope: ``fork``
    of a thread is in it and there are two tasks. Elsewhere every live task is
    a process that owns its mm (spawn), so the owner's memcg is its own and the
    charge paths read ``task_memcg`` alone (a field a scope leaves out stays at
    its boot value)."""
    return cfg.n_tasks > 1 and (cfg.actions is None or "fork" in cfg.actions)


def mm_users(cfg: Config, s: State, k: int):
    """atomic_read(&mm->mm_users): the live tasks using mm ``k``."""
    return Count(Eq(s.task_mm[t], k) for t in range(cfg.n_tasks))


def owner_memcg(cfg: Config, s: State, t: int):
    """mem_cgroup_from_task(rcu_dereference(task->mm->owner)), the memcg that
    try_get_mem_cgroup_from_mm charges for task ``t`` (3.8): its mm owner's,
    which for a thread moved away from its owner is not its own."""
    if not threads_in_scope(cfg):
        return s.task_memcg[t]
    n = cfg.n_tasks
    out = NONE
    for k in range(n):
        for u in range(n):
            out = If(And(Eq(s.task_mm[t], k), Eq(s.mm_owner[k], u)), s.task_memcg[u], out)
    return out


def user_charge_memcg(cfg: Config, s: State, t: int, m: int):
    """Whether __mem_cgroup_try_charge may commit task ``t``'s user page to
    memcg ``m`` (3.8): its mm owner's (try_get_mem_cgroup_from_mm), or, with a
    scope's ``fatal_signals``, the root, where a task with TIF_MEMDIE or a
    fatal signal pending goes by the early ``goto bypass`` (``*ptr =
    root_mem_cgroup``, -EINTR), before the stock and reclaim; the model holds
    no signals, so which one a given charge takes is the harness's to check.
    Either way the task is alive, with an mm (an owner's memcg)."""
    owner = owner_memcg(cfg, s, t)
    mine = Eq(owner, m)
    if not cfg.fatal_signals:
        return mine
    return Or(mine, And(m == ROOT, Not(Eq(owner, NONE))))


def stock_held(cfg: Config, s: State, d: int):
    """The res pages the stocks hold for memcg ``d`` itself."""
    total = 0
    for cpu in range(cfg.cpus):
        total = total + If(Eq(s.stock_memcg[cpu], d), s.stock_pages[cpu], 0)
    return total


# ---------------------------------------------------------------- user memory


def reclaim_in_scope(cfg: Config) -> bool:
    """Whether page cache can exist in the configuration's scope (``pagecache.charge``
    in it): only then has a res charge anything to reclaim. Elsewhere it charges
    or fails on the limits alone, as before user memory was reclaimable."""
    return cfg.actions is None or "pagecache.charge" in cfg.actions


def anon_in_scope(cfg: Config) -> bool:
    """Whether an mm can hold anonymous pages in the scope (``anon.charge`` in it)."""
    return cfg.actions is None or "anon.charge" in cfg.actions


def immigrate_in_scope(cfg: Config) -> bool:
    """Whether memory.move_charge_at_immigrate can be written in the scope
    (``move_charge.write`` in it): only then may an attach move charges, and
    elsewhere attach is a plain move of the task, as before the file existed."""
    return cfg.actions is None or "move_charge.write" in cfg.actions


def moves_anon(s: State, m: int):
    """move_anon() for mc.to = ``m``: MOVE_CHARGE_TYPE_ANON set in its
    move_charge_at_immigrate (3.8)."""
    v = s.move_charge[m]
    return Or(*(Eq(v, x) for x in range(1 << NR_MOVE_TYPE) if x >> MOVE_CHARGE_TYPE_ANON & 1))


def owns_mm(cfg: Config, s: State, t: int):
    """mm->owner == p, mem_cgroup_can_attach's test: in a scope without threads
    every live task owns its mm."""
    if not threads_in_scope(cfg):
        return True
    return Or(*(And(Eq(s.task_mm[t], k), Eq(s.mm_owner[k], t)) for k in range(cfg.n_tasks)))


def pinned_user_pages(cfg: Config, s: State, m: int):
    """The user pages of ``m`` that are neither an mm's anonymous pages nor page
    cache: those ``user.charge`` pins, freed one by one (``user.uncharge``)."""
    pages = s.user_pages[m]
    if anon_in_scope(cfg):
        pages = pages - Sum(s.mm_anon[k][m] for k in range(cfg.n_tasks))
    if reclaim_in_scope(cfg):
        pages = pages - s.page_cache[m]
    return pages
