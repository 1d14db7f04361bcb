"""The administrator's face: the cgroup tree, task moves, limits, activation.

mkdir and rmdir (whose css_offline starts the walk over the memcg's caches,
model/actions/offline.py), memory.force_empty (rmdir's reparenting on a memcg
that stays online), attaching a task, memory.use_hierarchy, the two limits,
memory.kmem.limit_in_bytes' activation path (memcg_update_kmem_limit, one
preemption point per step) and the max_usage/failcnt resets. Kernel of record:
3.8-3.10 ``mm/memcontrol.c`` and ``kernel/cgroup.c``.
"""

from __future__ import annotations

from kmemcg.model import domains
from kmemcg.model import res_counter as rc
from kmemcg.model.actions.move_charge import mem_cgroup_can_attach
from kmemcg.model.actions.reclaim import mem_cgroup_resize_limit, try_to_free_mem_cgroup_pages
from kmemcg.model.actions.stock import drain_all_stock
from kmemcg.model.actions.user_memory import reparent_user_pages
from kmemcg.model.config import NONE, PAGE_SIZE, ROOT, UNLIMITED
from kmemcg.model.core import Actions
from kmemcg.model.dual import And, Eq, If, Not, Or
from kmemcg.model.facts import (
    admin_idle,
    anon_in_scope,
    has_children,
    lowest_free_id,
    online_children,
    reclaim_in_scope,
    tasks_in,
)
from kmemcg.model.res_counter import EBUSY, EINVAL
from kmemcg.model.state import (
    ABSENT,
    ADMIN_IDLE,
    CACHE_SIZES,
    CSS_LIVE,
    FRESH,
    KEY_INC,
    MEMCG_FREED,
    NOCACHE,
    OFFLINE,
    ONLINE,
    SET_ACTIVE,
    WORK_IDLE,
    State,
    memcg_caches,
    no_slabs,
    replace_at,
)

ACTIONS = Actions("admin")

#: the counter parameter of the resets: 0 is memcg->res, 1 memcg->kmem
COUNTERS = ("res", "kmem")


def _mkdir_guard(cfg, s, m):
    """memcg_create_mutex: css_online waits out an activation (3.9/3.10). 3.8
    held cgroup_lock only up to memcg_update_cache_sizes, so without
    ``activation_excludes_mkdir`` a second administrator's mkdir may run
    between it and memcg_kmem_set_active. The path is one never created, or
    one whose memcg was freed (__mem_cgroup_free): the model keeps one memcg
    per path, so a path whose removed memcg still lingers offline is not
    re-created (the kernel would make a second object)."""
    p = cfg.parents[m]
    may = admin_idle(s)
    if cfg.second_admin and not cfg.has_fix("activation_excludes_mkdir"):
        may = Or(may, Eq(s.admin_pc, KEY_INC), Eq(s.admin_pc, SET_ACTIVE))
    vacant = Or(Eq(s.lifecycle[m], ABSENT), Eq(s.lifecycle[m], MEMCG_FREED))
    return And(may, vacant, Eq(s.lifecycle[p], ONLINE))


def _fresh_caches(cfg, s: State, m: int) -> State:
    """A new memcg at a freed memcg's path has none of its caches: the freed
    ones' slots are blank again (a new struct mem_cgroup, new memcg_params)."""
    for c in memcg_caches(cfg, m):
        s = s._replace(**{f: replace_at(getattr(s, f), c, v) for f, v in (
            ("cache", NOCACHE), ("dead", False), ("slabs", no_slabs(cfg)),
            ("work", WORK_IDLE), ("requeued", False), ("create_pending", False),
            ("half_created", False), ("slot", False), ("listed", False))})
    return s


def _mkdir(cfg, s, m):
    p = cfg.parents[m]
    inherit = And(s.use_hierarchy[p], s.kmem_active[p])
    if cfg.roots:
        s = If(Eq(s.lifecycle[m], MEMCG_FREED), _fresh_caches(cfg, s, m), s)
    post = s._replace(
        lifecycle=replace_at(s.lifecycle, m, ONLINE),
        use_hierarchy=replace_at(s.use_hierarchy, m, s.use_hierarchy[p]),
        hier=replace_at(s.hier, m, s.use_hierarchy[p]),
        res=replace_at(s.res, m, FRESH),
        kmem=replace_at(s.kmem, m, FRESH),
        kmem_active=replace_at(s.kmem_active, m, inherit),
        kmemcg_id=replace_at(s.kmemcg_id, m, If(inherit, lowest_free_id(cfg, s), NONE)),
        static_key=s.static_key + If(inherit, 1, 0),
        # a new struct mem_cgroup: no DEAD bit, css_free not begun, no death put
        kmem_dead=replace_at(s.kmem_dead, m, False),
        destroy_pc=replace_at(s.destroy_pc, m, CSS_LIVE),
        death_puts=replace_at(s.death_puts, m, 0),
        # mem_cgroup_css_alloc: move_charge_at_immigrate = 0, not inherited
        move_charge=replace_at(s.move_charge, m, 0),
    )
    return post, 0


ACTIONS.add(
    "mkdir",
    ("memcg",),
    domains.non_root,
    "mem_cgroup_css_alloc + css_online + memcg_propagate_kmem (3.8)",
)((_mkdir_guard, _mkdir))


def _online_admin_guard(cfg, s, m, *_):
    return And(admin_idle(s), Eq(s.lifecycle[m], ONLINE))


def _rmdir_guard(cfg, s, m):
    """cgroup_mutex lets one offline run at a time; memcg_slab_mutex (3.16)
    keeps it apart from a root cache's destruction."""
    apart = Eq(s.rdestroy_root, NONE) if cfg.has_fix("offline_excludes_root_destroy") else True
    return And(_online_admin_guard(cfg, s, m), Eq(s.offline_memcg, NONE), apart)


def _busy(cfg, s, m):
    """cgroup_task_count(cgrp) || !list_empty(&cgrp->children): the test both
    rmdir and force_empty make. cgroup->children holds online children only
    (rmdir unlinks a child), whatever use_hierarchy says."""
    return Or(tasks_in(cfg, s, m) > 0, online_children(cfg, s, m) > 0)


def mem_cgroup_reparent_charges(cfg, s: State, m: int) -> State:
    """mem_cgroup_reparent_charges (3.8-3.10): every LRU page of ``m`` moves to
    its parent, or to the root when ``m`` does not charge its parent
    (mem_cgroup_move_parent: parent_mem_cgroup is NULL without hierarchy), and
    only ``m``'s own res level gives it up (__mem_cgroup_cancel_local_charge:
    the levels above were charged for it already, and a page moved to the root
    charges nothing there, the root being never charged directly). Kernel
    pages are not on an LRU and stay charged where they are: the loop ends once
    res.usage - kmem.usage is 0 (P11), with kmem left. Each turn of that loop
    first drains the stocks of ``m``'s subtree (drain_all_stock_sync), or the
    precharged pages would keep it from ending."""
    s = drain_all_stock(cfg, s, m)
    p = cfg.parents[m]
    moved = s.user_pages[m]
    target_parent = replace_at(s.user_pages, p, s.user_pages[p] + moved)
    target_root = replace_at(s.user_pages, ROOT, s.user_pages[ROOT] + moved)
    user = If(s.hier[m], target_parent, target_root)
    if anon_in_scope(cfg) or reclaim_in_scope(cfg):  # which kind each page is, kept
        s = reparent_user_pages(cfg, s, m)
    return s._replace(
        user_pages=replace_at(user, m, 0),
        res=replace_at(s.res, m, s.res[m]._replace(usage=s.res[m].usage - moved * PAGE_SIZE)),
    )


def _rmdir(cfg, s, m):
    """-EBUSY while a task is in the memcg or a child is online. Otherwise
    css_offline: mem_cgroup_reparent_charges, then mem_cgroup_destroy_all_caches
    starts the walk over the memcg's caches when there are root caches to walk."""
    busy = _busy(cfg, s, m)
    post = mem_cgroup_reparent_charges(cfg, s, m)._replace(
        lifecycle=replace_at(s.lifecycle, m, OFFLINE),
        offline_memcg=m if cfg.roots else NONE,
    )
    return If(busy, s, post), If(busy, -EBUSY, 0)


ACTIONS.add(
    "rmdir",
    ("memcg",),
    domains.non_root,
    "cgroup_rmdir -> mem_cgroup_css_offline: reparent charges, destroy all caches (3.10)",
)((_rmdir_guard, _rmdir))


def _force_empty(cfg, s, m):
    """The write to memory.force_empty, a trigger: the text is ignored, and the
    root's -EINVAL is the face's (model/cgroupfs.py). -EBUSY as for rmdir.
    Otherwise 0: the reclaim loop (try_to_free_mem_cgroup_pages until no
    progress) frees the memcg's page cache and nothing else (anonymous pages
    have no swap, the pinned user pages are mlocked, and reclaim never frees
    kmem), in the same step, and mem_cgroup_reparent_charges moves the rest of
    the user pages as rmdir does; the memcg stays online, its kmem and caches
    still charged.

    One step, as rmdir is. The kernel's loop exit test, res.usage - kmem.usage
    > 0 in u64, wraps while a kmem charge to the memcg's counters stands between
    its two steps (charge.kmem done, charge.res not), so the kernel spins until
    that charge's res step or rollback; the model returns at once, which adds
    behaviours (the administrator goes on sooner) and removes none. A signal in
    the reclaim loop (-EINTR) is not modelled: the administrator gets none."""
    busy = _busy(cfg, s, m)
    emptied = s
    if reclaim_in_scope(cfg):  # the loop's try_to_free_mem_cgroup_pages: page cache goes
        emptied, _ = try_to_free_mem_cgroup_pages(cfg, s, m)
    return If(busy, s, mem_cgroup_reparent_charges(cfg, emptied, m)), If(busy, -EBUSY, 0)


ACTIONS.add(
    "force_empty",
    ("memcg",),
    domains.non_root,
    "mem_cgroup_force_empty_write -> mem_cgroup_force_empty: reparent, kmem stays (3.8)",
)((_online_admin_guard, _force_empty))


def _attach_guard(cfg, s, t, m):
    """cgroup_attach_task takes no memcg mutex (3.9/3.10): a second
    administrator may attach while the first is inside an activation."""
    may = True if cfg.second_admin else admin_idle(s)
    return And(may, Eq(s.lifecycle[m], ONLINE), Not(Eq(s.task_memcg[t], NONE)),
               Not(Eq(s.task_memcg[t], m)))


def _attach(cfg, s, t, m):
    """cgroup_attach_task: mem_cgroup_can_attach (which may fail -ENOMEM, the
    task left where it was), the task's move, mem_cgroup_move_task; only the
    anonymous pages move_charge_at_immigrate asks for go with it
    (model/actions/move_charge.py), never kernel charges."""
    post, ret = mem_cgroup_can_attach(cfg, s, t, m)
    moved = post._replace(task_memcg=replace_at(s.task_memcg, t, m))
    return If(Eq(ret, 0), moved, post), ret


ACTIONS.add(
    "attach",
    ("task", "memcg"),
    domains.tasks_memcgs,
    "cgroup_attach_task -> mem_cgroup_can_attach, mem_cgroup_move_task; kmem charges "
    "never move (mem_cgroup_move_charge, 3.8)",
)((_attach_guard, _attach))


def _hierarchy_write(cfg, s, m, v):
    p = cfg.parents[m]
    parent_hier = s.use_hierarchy[p] if p != NONE else False
    # "if (memcg->use_hierarchy == val) goto out": an int compare, so 2 is never "same"
    same = Eq(s.use_hierarchy[m], v == 1) if v in (0, 1) else False
    invalid = Or(parent_hier, v not in (0, 1))
    busy = online_children(cfg, s, m) > 0
    ret = If(same, 0, If(invalid, -EINVAL, If(busy, -EBUSY, 0)))
    post = s._replace(
        use_hierarchy=replace_at(s.use_hierarchy, m, If(Eq(ret, 0), v == 1, s.use_hierarchy[m]))
    )
    return post, ret


ACTIONS.add(
    "use_hierarchy.write",
    ("memcg", "value"),
    lambda cfg: [(m, v) for m in range(cfg.n_memcgs) for v in (0, 1)],
    "mem_cgroup_hierarchy_write (3.8)",
)((_online_admin_guard, _hierarchy_write))


# ---------------------------------------------------------------- limits


def _limit_write(cfg, s, m, v):
    """The root's limit cannot be set (-EINVAL); otherwise the write below the
    usage reclaims page cache first (model/actions/reclaim.py)."""
    if m == ROOT:
        return s, -EINVAL
    return mem_cgroup_resize_limit(cfg, s, m, v)


ACTIONS.add(
    "limit.write",
    ("memcg", "bytes"),
    lambda cfg: [(m, v) for m in range(cfg.n_memcgs) for v in cfg.res_limits],
    "mem_cgroup_write(RES_LIMIT) -> mem_cgroup_resize_limit: reclaim, then -EBUSY (3.8)",
)((_online_admin_guard, _limit_write))


def _kmem_limit_write(cfg, s, m, v):
    if m == ROOT:
        return s, -EINVAL
    kmem, set_ret = rc.set_limit(s.kmem, m, v)
    active = s.kmem_active[m]
    if v == UNLIMITED:  # "-1" never activates
        return s._replace(kmem=kmem), set_ret
    refuse = Or(tasks_in(cfg, s, m) > 0, has_children(cfg, s, m))
    if cfg.has_fix("activation_refuses_over_limit"):
        # kmem charged through a removed hierarchical child can exceed the
        # limit; 3.8-3.10 VM_BUG_ON(ret) and go on with the limit unset
        refuse = Or(refuse, Not(Eq(set_ret, 0)))
    activate = s._replace(kmem=kmem, admin_pc=CACHE_SIZES, admin_memcg=m)
    post = If(active, s._replace(kmem=kmem), If(refuse, s, activate))
    return post, If(active, set_ret, If(refuse, -EBUSY, 0))


ACTIONS.add(
    "kmem_limit.write",
    ("memcg", "bytes"),
    lambda cfg: [(m, v) for m in range(cfg.n_memcgs) for v in cfg.kmem_limits],
    "memcg_update_kmem_limit under memcg_create_mutex + set_limit_mutex (3.9/3.10)",
)((_online_admin_guard, _kmem_limit_write))


def _admin_at(pc):
    return lambda cfg, s, m: And(Eq(s.admin_pc, pc), Eq(s.admin_memcg, m))


def _update_cache_sizes(cfg, s, m):
    ids = replace_at(s.kmemcg_id, m, lowest_free_id(cfg, s))
    after = KEY_INC if cfg.has_fix("active_after_key") else SET_ACTIVE
    return s._replace(kmemcg_id=ids, admin_pc=after), 0


ACTIONS.add(
    "activate.update_cache_sizes",
    ("memcg",),
    domains.non_root,
    "memcg_update_cache_sizes: ida_simple_get kmemcg_id, grow caches (3.8)",
)((_admin_at(CACHE_SIZES), _update_cache_sizes))


def _static_key_inc(cfg, s, m):
    """The last step without ``active_after_key``: it patches the commit and
    uncharge sites too, and the activation is done."""
    if cfg.has_fix("active_after_key"):
        return s._replace(static_key=s.static_key + 1, admin_pc=SET_ACTIVE), 0
    return s._replace(static_key=s.static_key + 1, admin_pc=ADMIN_IDLE, admin_memcg=NONE), 0


ACTIONS.add(
    "activate.static_key_inc",
    ("memcg",),
    domains.non_root,
    "static_key_slow_inc(&memcg_kmem_enabled_key) (3.9, SB)",
)((_admin_at(KEY_INC), _static_key_inc))


def _set_active(cfg, s, m):
    """Without ``active_after_key`` it comes before static_key_inc, and the
    step goes on into static_key_slow_inc, which patches the charge site
    first (facts.key_patching)."""
    active = replace_at(s.kmem_active, m, True)
    if not cfg.has_fix("active_after_key"):
        return s._replace(kmem_active=active, admin_pc=KEY_INC), 0
    return s._replace(kmem_active=active, admin_pc=ADMIN_IDLE, admin_memcg=NONE), 0


ACTIONS.add(
    "activate.set_active",
    ("memcg",),
    domains.non_root,
    "memcg_kmem_set_active after the static key is patched (3.8; before it: W11)",
)((_admin_at(SET_ACTIVE), _set_active))


def _counter_field(s: State, c: int):
    return (s.res, s.kmem)[c]


def _with_counters(s: State, c: int, counters: tuple) -> State:
    return s._replace(res=counters) if c == 0 else s._replace(kmem=counters)


def _reset_max(cfg, s, m, c):
    return _with_counters(s, c, rc.reset_max(_counter_field(s, c), m)), 0


ACTIONS.add(
    "max_usage.reset",
    ("memcg", "counter"),
    domains.counters,
    "mem_cgroup_reset(RES_MAX_USAGE): res_counter_reset_max (3.8)",
)((_online_admin_guard, _reset_max))


def _reset_failcnt(cfg, s, m, c):
    return _with_counters(s, c, rc.reset_failcnt(_counter_field(s, c), m)), 0


ACTIONS.add(
    "failcnt.reset",
    ("memcg", "counter"),
    domains.counters,
    "mem_cgroup_reset(RES_FAILCNT): res_counter_reset_failcnt (3.8)",
)((_online_admin_guard, _reset_failcnt))


