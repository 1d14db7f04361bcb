"""The page charge path, its bypasses and the uncharge, and user pages.

memcg_kmem_newpage_charge -> memcg_charge_kmem (kmem first, then res) -> the
page allocation -> memcg_kmem_commit_charge. Each arrow is a preemption point
where another task may attach elsewhere or the administrator may write a
limit; the task's ``task_pc`` says where it stands. Kernel of record: 3.8
``mm/memcontrol.c`` (domain sections 2-4). The one-step charges of slab pages
and thread stacks (model/actions/kmem.py) share the counters.

Every step takes the allocation's order, as the kernel's functions do
(memcg_kmem_newpage_charge(gfp, &memcg, order), commit and uncharge alike):
``charge.kmem`` names it and the task's ``task_order`` carries it to the later
steps, which charge, commit or give back ``PAGE_SIZE << order`` bytes, that is
``1 << order`` pages; SLUB's kmalloc_large (kmalloc_order, 3.8-3.10) is such an
allocation of order 2 and up. A configuration's ``orders`` bounds them.
"""

from __future__ import annotations

from kmemcg.model import domains
from kmemcg.model import res_counter as rc
from kmemcg.model.actions.kmem import kmem_level_charge, memcg_uncharge_kmem
from kmemcg.model.actions.stock import cpu_of, try_charge
from kmemcg.model.config import NONE, PAGE_SIZE, ROOT
from kmemcg.model.core import Actions
from kmemcg.model.dual import And, Eq, If, Not, Or
from kmemcg.model.facts import (
    newpage_charge_accounts,
    owner_memcg,
    pinned_user_pages,
    user_charge_memcg,
)
from kmemcg.model.res_counter import ENOMEM
from kmemcg.model.state import (
    IDLE,
    KMEM_CHARGED,
    RES_CHARGED,
    State,
    order_pages,
    replace_at,
)

ACTIONS = Actions("task")


def _stutter(cfg, s, *args):
    """A named step that changes nothing (a bypass the oracle still checks)."""
    return s, 0


def _task_exists(s: State, t: int):
    return Not(Eq(s.task_memcg[t], NONE))


def _end_charge(s: State, t: int, pc, memcg, order=0):
    return s._replace(
        task_pc=replace_at(s.task_pc, t, pc),
        task_charge=replace_at(s.task_charge, t, memcg),
        task_order=replace_at(s.task_order, t, order),
    )


def _in_flight_bytes(cfg, s: State, t: int):
    """PAGE_SIZE << order of task ``t``'s allocation in flight."""
    return PAGE_SIZE * order_pages(cfg, s.task_order[t])


def _charge_kmem_guard(cfg, s, t, m, o):
    """``m`` is the memcg of the task's mm owner (try_get_mem_cgroup_from_mm)."""
    return And(
        Eq(s.task_pc[t], IDLE),
        Eq(owner_memcg(cfg, s, t), m),
        newpage_charge_accounts(cfg, s, m),
    )


def _charge_kmem(cfg, s, t, m, o):
    levels = rc.chain(cfg, s, m)
    kmem, ok = kmem_level_charge(cfg, s, levels, PAGE_SIZE << o)
    post = _end_charge(s._replace(kmem=kmem), t, If(ok, KMEM_CHARGED, IDLE), If(ok, m, NONE),
                       If(ok, o, 0))
    return post, If(ok, 0, -ENOMEM)


ACTIONS.add(
    "charge.kmem",
    ("task", "memcg", "order"),
    domains.tasks_memcgs_orders,
    "memcg_charge_kmem(memcg, gfp, PAGE_SIZE << order): res_counter_charge(&memcg->kmem), "
    "no reclaim (3.8)",
)((_charge_kmem_guard, _charge_kmem))


def _charge_res_guard(cfg, s, t, m):
    return And(Eq(s.task_pc[t], KMEM_CHARGED), Eq(s.task_charge[t], m))


def _charge_res(cfg, s, t, m):
    """__mem_cgroup_try_charge: through the cpu's stock where the scope has it
    (model/actions/stock.py), else exact, reclaiming page cache at U before
    -ENOMEM (model/actions/reclaim.py)."""
    levels = rc.chain(cfg, s, m)
    nbytes = _in_flight_bytes(cfg, s, t)
    charged, ok = try_charge(cfg, s, m, order_pages(cfg, s.task_order[t]), cpu_of(cfg, t))
    rolled_back = (
        rc.uncharge(s.kmem, levels, nbytes) if cfg.has_fix("kmem_rollback") else s.kmem
    )
    post = _end_charge(
        charged._replace(kmem=If(ok, s.kmem, rolled_back)),
        t,
        If(ok, RES_CHARGED, IDLE),
        If(ok, m, NONE),
        If(ok, s.task_order[t], 0),
    )
    return post, If(ok, 0, -ENOMEM)


ACTIONS.add(
    "charge.res",
    ("task", "memcg"),
    domains.tasks_memcgs,
    "memcg_charge_kmem: __mem_cgroup_try_charge (through the cpu's stock where the scope "
    "has it), then kmem uncharged on -ENOMEM (3.8)",
)((_charge_res_guard, _charge_res))


def _committing_guard(cfg, s, t, m):
    """memcg_kmem_commit_charge's branch is patched in: the key's count is on."""
    return And(Eq(s.task_pc[t], RES_CHARGED), Eq(s.task_charge[t], m), s.static_key > 0)


def _commit(cfg, s, t, m):
    pages = order_pages(cfg, s.task_order[t])
    post = s._replace(kmem_pages=replace_at(s.kmem_pages, m, s.kmem_pages[m] + pages))
    return _end_charge(post, t, IDLE, NONE), 0


ACTIONS.add(
    "charge.commit",
    ("task", "memcg"),
    domains.tasks_memcgs,
    "memcg_kmem_commit_charge(page, memcg, order): pc->mem_cgroup = memcg, "
    "SetPageCgroupUsed (3.8)",
)((_committing_guard, _commit))


def _abort(cfg, s, t, m):
    post = memcg_uncharge_kmem(cfg, s, m, _in_flight_bytes(cfg, s, t))
    return _end_charge(post, t, IDLE, NONE), -ENOMEM


ACTIONS.add(
    "charge.abort",
    ("task", "memcg"),
    domains.tasks_memcgs,
    "memcg_kmem_commit_charge with page == NULL: memcg_uncharge_kmem(memcg, "
    "PAGE_SIZE << order) (3.8)",
)((_committing_guard, _abort))
# The page allocator may fail for reasons the model does not track (low
# memory, order, fault injection), so after a charge either step may follow.


def _unpatched_guard(cfg, s, t, m):
    return And(Eq(s.task_pc[t], RES_CHARGED), Eq(s.task_charge[t], m), Eq(s.static_key, 0))


def _commit_unpatched(cfg, s, t, m):
    return _end_charge(s, t, IDLE, NONE), 0


ACTIONS.add(
    "charge.commit_unpatched",
    ("task", "memcg"),
    domains.tasks_memcgs,
    "memcg_kmem_commit_charge at a site static_key_slow_inc has not patched yet: "
    "memcg_kmem_enabled() is false, the charge is neither committed nor given back (W11)",
)((_unpatched_guard, _commit_unpatched))


def _bypass_guard(cfg, s, t, m, flags):
    accounts = newpage_charge_accounts(cfg, s, m)
    return And(Eq(s.task_pc[t], IDLE), Eq(owner_memcg(cfg, s, t), m),
               Or(flags != 0, Not(accounts)))


ACTIONS.add(
    "charge.bypass",
    ("task", "memcg", "flags"),
    lambda cfg: [(t, m, 0) for t, m in domains.tasks_memcgs(cfg)],
    "memcg_kmem_newpage_charge returns true without charging (3.8 memcontrol.h)",
    explored=False,
)((_bypass_guard, _stutter))


ACTIONS.add(
    "free.bypass",
    (),
    lambda cfg: [()],
    "__memcg_kmem_uncharge_pages: a page without PageCgroupUsed is left alone (3.8); "
    "whoever frees it, a task or the kernel",
    explored=False,
)((lambda cfg, s: True, _stutter))


# The state counts committed pages per memcg, not allocations: an order-o free
# may take any 1 << o of them, a superset of what the kernel's compound pages allow.
def _free_guard(cfg, s, m, o):
    return s.kmem_pages[m] >= 1 << o


def _free(cfg, s, m, o):
    post = memcg_uncharge_kmem(cfg, s, m, PAGE_SIZE << o)
    return post._replace(kmem_pages=replace_at(s.kmem_pages, m, s.kmem_pages[m] - (1 << o))), 0


ACTIONS.add(
    "free.uncharge",
    ("memcg", "order"),
    domains.memcgs_orders,
    "__memcg_kmem_uncharge_pages(page, order): uncharge pc->mem_cgroup, clear Used (3.8)",
)((_free_guard, _free))


# ---------------------------------------------------------------- user pages


def user_charge_guard(cfg, s, t, m):
    """``m`` is the memcg of the task's mm owner (mem_cgroup_charge_common(page,
    mm, ...) -> try_get_mem_cgroup_from_mm), or the root a fatal signal
    bypasses to; the task charges its own page, so it is at no kernel page
    charge of its own. Every user page's guard (the faults' too)."""
    return And(Eq(s.task_pc[t], IDLE), user_charge_memcg(cfg, s, t, m))


def _user_charge(cfg, s, t, m):
    more = replace_at(s.user_pages, m, s.user_pages[m] + 1)
    if m == ROOT:  # __mem_cgroup_try_charge: the root memcg is never charged
        return s._replace(user_pages=more), 0
    # __GFP_NORETRY: the page is charged or fails on the limits, no reclaim
    charged, ok = try_charge(cfg, s, m, 1, cpu_of(cfg, t), may_reclaim=False)
    return charged._replace(user_pages=If(ok, more, s.user_pages)), If(ok, 0, -ENOMEM)


ACTIONS.add(
    "user.charge",
    ("task", "memcg"),
    domains.tasks_memcgs,
    "mem_cgroup_charge_common with __GFP_NORETRY: no reclaim, no OOM (3.8)",
)((user_charge_guard, _user_charge))


def _user_uncharge_guard(cfg, s, m):
    """A pinned page is freed (anonymous pages go with their mm, page cache by reclaim)."""
    return pinned_user_pages(cfg, s, m) > 0


def _user_uncharge(cfg, s, m):
    fewer = s._replace(user_pages=replace_at(s.user_pages, m, s.user_pages[m] - 1))
    if m == ROOT:
        return fewer, 0
    return fewer._replace(res=rc.uncharge(s.res, rc.chain(cfg, s, m), PAGE_SIZE)), 0


ACTIONS.add(
    "user.uncharge",
    ("memcg",),
    domains.memcgs,
    "__mem_cgroup_uncharge_common: res_counter_uncharge unless root (3.8)",
)((_user_uncharge_guard, _user_uncharge))


