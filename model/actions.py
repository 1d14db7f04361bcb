"""The model's actions: one guard and one effect per kernel step.

Each action is named after the kernel step it models and takes concrete
parameters (task and memcg indices, written values); everything that depends on
the state goes through the dual-mode helpers, so the same definition drives the
explorer, the oracle and the Z3 prover.

``effect`` returns ``(post, ret)``: ``ret`` is 0 when the step succeeds (or the
path goes on) and ``-errno`` when the operation ends with an error; a step that
ends an operation with an error may leave the state unchanged.
"""

from __future__ import annotations

from kmemcg.model import res_counter as rc
from kmemcg.model import state
from kmemcg.model.config import NONE, PAGE_SIZE, ROOT, UNLIMITED, Config
from kmemcg.model.dual import And, Count, Eq, If, Not, Or
from kmemcg.model.res_counter import EBUSY, EINVAL, ENOMEM
from kmemcg.model.slice import Slice
from kmemcg.model.state import (
    ABSENT,
    ADMIN_IDLE,
    CACHE_SIZES,
    FRESH,
    IDLE,
    KEY_INC,
    KMEM_CHARGED,
    OFFLINE,
    ONLINE,
    RES_CHARGED,
    SET_ACTIVE,
    State,
    replace_at,
)

ACCOUNTING = Slice("accounting")
ACTIONS = ACCOUNTING.actions
action = ACCOUNTING.action


# ---------------------------------------------------------------- derived facts


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


def lowest_free_id(cfg: Config, s: State):
    """ida_simple_get(&kmem_limited_groups, 0, ...): the lowest unused kmemcg_id."""
    result = cfg.n_memcgs
    for k in reversed(range(cfg.n_memcgs)):
        used = Count(Eq(s.kmemcg_id[m], k) for m in range(cfg.n_memcgs)) > 0
        result = If(used, result, k)
    return result


def _stutter(cfg, s, *args):
    """A named step that changes nothing (a bypass the oracle still checks)."""
    return s, 0


def admin_idle(s: State):
    return Eq(s.admin_pc, ADMIN_IDLE)


# ---------------------------------------------------------------- domains


def _tasks_memcgs(cfg):
    return [(t, m) for t in range(cfg.n_tasks) for m in range(cfg.n_memcgs)]


def _memcgs(cfg):
    return [(m,) for m in range(cfg.n_memcgs)]


def _non_root(cfg):
    return [(m,) for m in range(1, cfg.n_memcgs)]


def _counters(cfg):
    return [(m, c) for m in range(cfg.n_memcgs) for c in (0, 1)]


COUNTERS = ("res", "kmem")


# ---------------------------------------------------------------- the charge path
#
# memcg_kmem_newpage_charge -> memcg_charge_kmem (kmem first, then res) ->
# page allocation -> memcg_kmem_commit_charge. Each arrow is a preemption point.


def _end_charge(s: State, t: int, pc, memcg):
    return s._replace(
        task_pc=replace_at(s.task_pc, t, pc),
        task_charge=replace_at(s.task_charge, t, memcg),
    )


def _charge_kmem_guard(cfg, s, t, m):
    return And(
        Eq(s.task_pc[t], IDLE),
        Eq(s.task_memcg[t], m),
        s.static_key > 0,
        can_account_kmem(s, m),
    )


def _charge_kmem(cfg, s, t, m):
    levels = rc.chain(cfg, s, m)
    if cfg.profile == "no_kmem_limit_check":
        kmem, ok = rc.charge_nolimit(s.kmem, levels, PAGE_SIZE), True
    else:
        kmem, ok = rc.charge(s.kmem, levels, PAGE_SIZE)
    post = _end_charge(s._replace(kmem=kmem), t, If(ok, KMEM_CHARGED, IDLE), If(ok, m, NONE))
    return post, If(ok, 0, -ENOMEM)


action(
    "charge.kmem",
    ("task", "memcg"),
    _tasks_memcgs,
    "memcg_charge_kmem: res_counter_charge(&memcg->kmem), no reclaim (3.8)",
)((_charge_kmem_guard, _charge_kmem))


def _charge_res_guard(cfg, s, t, m):
    return And(Eq(s.task_pc[t], KMEM_CHARGED), Eq(s.task_charge[t], m))


def _charge_res(cfg, s, t, m):
    levels = rc.chain(cfg, s, m)
    res, ok = rc.charge(s.res, levels, PAGE_SIZE)
    rolled_back = (
        s.kmem if cfg.profile == "no_kmem_rollback" else rc.uncharge(s.kmem, levels, PAGE_SIZE)
    )
    post = _end_charge(
        s._replace(res=res, kmem=If(ok, s.kmem, rolled_back)),
        t,
        If(ok, RES_CHARGED, IDLE),
        If(ok, m, NONE),
    )
    return post, If(ok, 0, -ENOMEM)


action(
    "charge.res",
    ("task", "memcg"),
    _tasks_memcgs,
    "memcg_charge_kmem: __mem_cgroup_try_charge, then kmem uncharged on -ENOMEM (3.8)",
)((_charge_res_guard, _charge_res))


def _committing_guard(cfg, s, t, m):
    return And(Eq(s.task_pc[t], RES_CHARGED), Eq(s.task_charge[t], m))


def _commit(cfg, s, t, m):
    post = s._replace(kmem_pages=replace_at(s.kmem_pages, m, s.kmem_pages[m] + 1))
    return _end_charge(post, t, IDLE, NONE), 0


action(
    "charge.commit",
    ("task", "memcg"),
    _tasks_memcgs,
    "memcg_kmem_commit_charge: pc->mem_cgroup = memcg, SetPageCgroupUsed (3.8)",
)((_committing_guard, _commit))


def _uncharge_kmem(cfg, s: State, m: int) -> State:
    """memcg_uncharge_kmem (3.8-3.10 order): res first, kmem last."""
    levels = rc.chain(cfg, s, m)
    return s._replace(
        res=rc.uncharge(s.res, levels, PAGE_SIZE), kmem=rc.uncharge(s.kmem, levels, PAGE_SIZE)
    )


def _abort(cfg, s, t, m):
    return _end_charge(_uncharge_kmem(cfg, s, m), t, IDLE, NONE), -ENOMEM


action(
    "charge.abort",
    ("task", "memcg"),
    _tasks_memcgs,
    "memcg_kmem_commit_charge with page == NULL: memcg_uncharge_kmem (3.8)",
)((_committing_guard, _abort))
# The page allocator may fail for reasons the model does not track (low
# memory, order, fault injection), so after a charge either step may follow.


def _bypass_guard(cfg, s, t, m, flags):
    accounts = And(s.static_key > 0, can_account_kmem(s, m))
    return And(Eq(s.task_pc[t], IDLE), Eq(s.task_memcg[t], m), Or(flags != 0, Not(accounts)))


action(
    "charge.bypass",
    ("task", "memcg", "flags"),
    lambda cfg: [(t, m, 0) for t, m in _tasks_memcgs(cfg)],
    "memcg_kmem_newpage_charge returns true without charging (3.8 memcontrol.h)",
    explored=False,
)((_bypass_guard, _stutter))


action(
    "free.bypass",
    ("task",),
    lambda cfg: [(t,) for t in range(cfg.n_tasks)],
    "__memcg_kmem_uncharge_pages: a page without PageCgroupUsed is left alone (3.8)",
    explored=False,
)((lambda cfg, s, t: True, _stutter))


def _free_guard(cfg, s, m):
    return s.kmem_pages[m] > 0


def _free(cfg, s, m):
    post = _uncharge_kmem(cfg, s, m)
    return post._replace(kmem_pages=replace_at(s.kmem_pages, m, s.kmem_pages[m] - 1)), 0


action(
    "free.uncharge",
    ("memcg",),
    _memcgs,
    "__memcg_kmem_uncharge_pages: uncharge pc->mem_cgroup, clear Used (3.8)",
)((_free_guard, _free))


# ---------------------------------------------------------------- user pages


def _user_charge_guard(cfg, s, t, m):
    return And(Eq(s.task_pc[t], IDLE), Eq(s.task_memcg[t], m))


def _user_charge(cfg, s, t, m):
    more = replace_at(s.user_pages, m, s.user_pages[m] + 1)
    if m == ROOT:  # __mem_cgroup_try_charge: the root memcg is never charged
        return s._replace(user_pages=more), 0
    res, ok = rc.charge(s.res, rc.chain(cfg, s, m), PAGE_SIZE)
    return s._replace(res=res, user_pages=If(ok, more, s.user_pages)), If(ok, 0, -ENOMEM)


action(
    "user.charge",
    ("task", "memcg"),
    _tasks_memcgs,
    "mem_cgroup_charge_common with __GFP_NORETRY: no reclaim, no OOM (3.8)",
)((_user_charge_guard, _user_charge))


def _user_uncharge_guard(cfg, s, m):
    return s.user_pages[m] > 0


def _user_uncharge(cfg, s, m):
    fewer = s._replace(user_pages=replace_at(s.user_pages, m, s.user_pages[m] - 1))
    if m == ROOT:
        return fewer, 0
    return fewer._replace(res=rc.uncharge(s.res, rc.chain(cfg, s, m), PAGE_SIZE)), 0


action(
    "user.uncharge",
    ("memcg",),
    _memcgs,
    "__mem_cgroup_uncharge_common: res_counter_uncharge unless root (3.8)",
)((_user_uncharge_guard, _user_uncharge))


# ---------------------------------------------------------------- the cgroup tree


def _mkdir_guard(cfg, s, m):
    p = cfg.parents[m]
    return And(admin_idle(s), Eq(s.lifecycle[m], ABSENT), Eq(s.lifecycle[p], ONLINE))


def _mkdir(cfg, s, m):
    p = cfg.parents[m]
    inherit = And(s.use_hierarchy[p], s.kmem_active[p])
    post = s._replace(
        lifecycle=replace_at(s.lifecycle, m, ONLINE),
        use_hierarchy=replace_at(s.use_hierarchy, m, s.use_hierarchy[p]),
        hier=replace_at(s.hier, m, s.use_hierarchy[p]),
        res=replace_at(s.res, m, FRESH),
        kmem=replace_at(s.kmem, m, FRESH),
        kmem_active=replace_at(s.kmem_active, m, inherit),
        kmemcg_id=replace_at(s.kmemcg_id, m, If(inherit, lowest_free_id(cfg, s), NONE)),
        static_key=s.static_key + If(inherit, 1, 0),
    )
    return post, 0


action(
    "mkdir",
    ("memcg",),
    _non_root,
    "mem_cgroup_css_alloc + css_online + memcg_propagate_kmem (3.8)",
)((_mkdir_guard, _mkdir))


def _online_admin_guard(cfg, s, m, *_):
    return And(admin_idle(s), Eq(s.lifecycle[m], ONLINE))


def _rmdir(cfg, s, m):
    busy = Or(tasks_in(cfg, s, m) > 0, online_children(cfg, s, m) > 0)
    p = cfg.parents[m]
    moved = s.user_pages[m]
    # mem_cgroup_reparent_charges: LRU pages go to the parent (root without
    # hierarchy); only this memcg's own res level is uncharged.
    target_parent = replace_at(s.user_pages, p, s.user_pages[p] + moved)
    target_root = replace_at(s.user_pages, ROOT, s.user_pages[ROOT] + moved)
    user = If(s.hier[m], target_parent, target_root)
    post = s._replace(
        lifecycle=replace_at(s.lifecycle, m, OFFLINE),
        user_pages=replace_at(user, m, 0),
        res=replace_at(s.res, m, s.res[m]._replace(usage=s.res[m].usage - moved * PAGE_SIZE)),
    )
    return If(busy, s, post), If(busy, -EBUSY, 0)


action(
    "rmdir",
    ("memcg",),
    _non_root,
    "cgroup_rmdir -> mem_cgroup_css_offline -> mem_cgroup_reparent_charges (3.8)",
)((_online_admin_guard, _rmdir))


def _attach_guard(cfg, s, t, m):
    return And(admin_idle(s), Eq(s.lifecycle[m], ONLINE), Not(Eq(s.task_memcg[t], m)))


def _attach(cfg, s, t, m):
    return s._replace(task_memcg=replace_at(s.task_memcg, t, m)), 0


action(
    "attach",
    ("task", "memcg"),
    _tasks_memcgs,
    "cgroup_attach_task; kmem charges never move (mem_cgroup_move_charge, 3.8)",
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


action(
    "use_hierarchy.write",
    ("memcg", "value"),
    lambda cfg: [(m, v) for m in range(cfg.n_memcgs) for v in (0, 1)],
    "mem_cgroup_hierarchy_write (3.8)",
)((_online_admin_guard, _hierarchy_write))


# ---------------------------------------------------------------- limits


def _limit_write(cfg, s, m, v):
    if m == ROOT:
        return s, -EINVAL
    res, ret = rc.set_limit(s.res, m, v)
    return s._replace(res=res), ret


action(
    "limit.write",
    ("memcg", "bytes"),
    lambda cfg: [(m, v) for m in range(cfg.n_memcgs) for v in cfg.res_limits],
    "mem_cgroup_write(RES_LIMIT) -> mem_cgroup_resize_limit, no reclaimable pages (3.8)",
)((_online_admin_guard, _limit_write))


def _kmem_limit_write(cfg, s, m, v):
    if m == ROOT:
        return s, -EINVAL
    kmem, set_ret = rc.set_limit(s.kmem, m, v)
    active = s.kmem_active[m]
    if v == UNLIMITED:  # "-1" never activates
        return s._replace(kmem=kmem), set_ret
    refuse = Or(tasks_in(cfg, s, m) > 0, has_children(cfg, s, m))
    activate = s._replace(kmem=kmem, admin_pc=CACHE_SIZES, admin_memcg=m)
    post = If(active, s._replace(kmem=kmem), If(refuse, s, activate))
    return post, If(active, set_ret, If(refuse, -EBUSY, 0))


action(
    "kmem_limit.write",
    ("memcg", "bytes"),
    lambda cfg: [(m, v) for m in range(cfg.n_memcgs) for v in cfg.kmem_limits],
    "memcg_update_kmem_limit under memcg_create_mutex + set_limit_mutex (3.9/3.10)",
)((_online_admin_guard, _kmem_limit_write))


def _admin_at(pc):
    return lambda cfg, s, m: And(Eq(s.admin_pc, pc), Eq(s.admin_memcg, m))


def _update_cache_sizes(cfg, s, m):
    ids = replace_at(s.kmemcg_id, m, lowest_free_id(cfg, s))
    return s._replace(kmemcg_id=ids, admin_pc=KEY_INC), 0


action(
    "activate.update_cache_sizes",
    ("memcg",),
    _non_root,
    "memcg_update_cache_sizes: ida_simple_get kmemcg_id, grow caches (3.8)",
)((_admin_at(CACHE_SIZES), _update_cache_sizes))


def _static_key_inc(cfg, s, m):
    return s._replace(static_key=s.static_key + 1, admin_pc=SET_ACTIVE), 0


action(
    "activate.static_key_inc",
    ("memcg",),
    _non_root,
    "static_key_slow_inc(&memcg_kmem_enabled_key) (3.9, SB)",
)((_admin_at(KEY_INC), _static_key_inc))


def _set_active(cfg, s, m):
    active = replace_at(s.kmem_active, m, True)
    return s._replace(kmem_active=active, admin_pc=ADMIN_IDLE, admin_memcg=NONE), 0


action(
    "activate.set_active",
    ("memcg",),
    _non_root,
    "memcg_kmem_set_active after the static key is patched (3.8)",
)((_admin_at(SET_ACTIVE), _set_active))


def _counter_field(s: State, c: int):
    return (s.res, s.kmem)[c]


def _with_counters(s: State, c: int, counters: tuple) -> State:
    return s._replace(res=counters) if c == 0 else s._replace(kmem=counters)


def _reset_max(cfg, s, m, c):
    return _with_counters(s, c, rc.reset_max(_counter_field(s, c), m)), 0


action(
    "max_usage.reset",
    ("memcg", "counter"),
    _counters,
    "mem_cgroup_reset(RES_MAX_USAGE): res_counter_reset_max (3.8)",
)((_online_admin_guard, _reset_max))


def _reset_failcnt(cfg, s, m, c):
    return _with_counters(s, c, rc.reset_failcnt(_counter_field(s, c), m)), 0


action(
    "failcnt.reset",
    ("memcg", "counter"),
    _counters,
    "mem_cgroup_reset(RES_FAILCNT): res_counter_reset_failcnt (3.8)",
)((_online_admin_guard, _reset_failcnt))


ACCOUNTING.initial = state.initial
ACCOUNTING.in_constraint = state.in_constraint
ACCOUNTING.to_json = state.to_json
ACCOUNTING.profiles = {
    "correct": "the 3.8-3.10 controller as merged (default)",
    "no_kmem_limit_check": "a kmem charge that skips the limit check (a named bug, no upstream)",
    "no_kmem_rollback": "a res failure that leaves the kmem charge in place (a named bug; "
                        "memcg_charge_kmem always rolled back)",
}
