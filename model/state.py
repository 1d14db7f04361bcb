"""The abstract state: the one value where implementation, model and spec meet.

A :class:`State` is the whole controller: memcgs and their counters, tasks and
their stacks, the activation path, root caches and their per-memcg caches, and
the walks in flight (offline, root destruction, an outside shrinker). It is a
named tuple of tuples indexed by memcg, task, root and cache number (see
:class:`kmemcg.model.config.Config`), so it is hashable, cheap to copy, and its
fields may hold Python values (explorer, oracle) or Z3 terms (prover) alike.
A configuration that leaves a concern out of scope (no roots, no fork) leaves
its fields at their boot values, so they add no states. Names follow the
kernel fields they abstract.

Caches are numbered ``c = root * n_memcgs + memcg``; memcg 0, the root memcg,
never owns caches, and its number holds the root cache's own slabs (the
objects the root serves itself, with a configuration's ``root_objects``). A slab is ``2**slab_order`` pages of ``objs_per_slab``
objects, and a cache's slabs are counted by fill (``slabs[c][k]`` slabs hold k
objects each).
"""

from __future__ import annotations

from typing import NamedTuple

from kmemcg.model.config import NONE, ROOT, UNLIMITED, Config
from kmemcg.model.dual import Eq, If, Sum

# memcg lifecycle: not yet created, online, removed (rmdir'ed: offline, its
# struct mem_cgroup lingering while references remain), freed (__mem_cgroup_free;
# its path may be mkdir'ed again, a fresh memcg).
ABSENT, ONLINE, OFFLINE, MEMCG_FREED = 0, 1, 2, 3
LIFECYCLE = ("absent", "online", "offline", "freed")

# mem_cgroup_css_free -> kmem_cgroup_destroy (3.8-3.10), the step it takes next:
# not begun, read kmem usage (memcg_kmem_mark_dead done), test_and_clear DEAD
# (usage read as 0), done (the base reference put).
CSS_LIVE, CSS_READ_USAGE, CSS_TEST_DEAD, CSS_DONE = 0, 1, 2, 3
DESTROY_PC = ("none", "read_usage", "test_and_clear", "done")

# where a task's page allocation stands between memcg_kmem_newpage_charge and
# memcg_kmem_commit_charge: idle, kmem counter charged, res counter charged too.
IDLE, KMEM_CHARGED, RES_CHARGED = 0, 1, 2
TASK_PC = ("idle", "kmem_charged", "res_charged")

# the administrator's memcg_update_kmem_limit activation path: the step it takes next.
ADMIN_IDLE, CACHE_SIZES, KEY_INC, SET_ACTIVE = 0, 1, 2, 3
ADMIN_PC = ("idle", "update_cache_sizes", "static_key_inc", "set_active")

# the contexts memcg_kmem_get_cache never charges (3.8 memcontrol.h): a kernel
# thread (!current->mm, PF_KTHREAD), in_interrupt(), __GFP_NOFAIL,
# fatal_signal_pending(current), and a task whose memcg does not account kmem
# (the key off, or __memcg_kmem_get_cache's !memcg_can_account_kmem: the root
# memcg, a group never limited); the root cache serves them, queueing nothing
KTHREAD, INTERRUPT, NOFAIL, FATAL_SIGNAL, UNACCOUNTED = 0, 1, 2, 3, 4
CONTEXTS = ("kthread", "interrupt", "nofail", "fatal_signal", "unaccounted")

# enum move_type (3.8): the bits of memcg->move_charge_at_immigrate
MOVE_CHARGE_TYPE_ANON, MOVE_CHARGE_TYPE_FILE, NR_MOVE_TYPE = 0, 1, 2

# kmem_cache lifecycle of a memcg cache
NOCACHE, ALIVE, FREED = 0, 1, 2
CACHE = ("none", "alive", "freed")
# the destroy work_struct: idle, queued, or running at one of its steps
WORK_IDLE, PENDING, RUN_CHECK, RUN_SHRINK, RUN_DESTROY = 0, 1, 2, 3, 4
WORK = ("idle", "pending", "run:check", "run:shrink", "run:destroy")
# root destruction's step for the current child (RD_WAIT: cancel_work_sync has
# grabbed the pending bit and waits for a running item to return)
RD_MARK, RD_CANCEL, RD_DESTROY, RD_WAIT = 0, 1, 2, 3
RD_STEPS = ("mark", "cancel", "destroy", "wait")
# what went wrong, once (the error invariants name each)
OK, USE_AFTER_FREE, DOUBLE_DESTROY, NULL_DEREF = 0, 1, 2, 3
ERRORS = ("none", "use after free", "double destroy", "NULL dereference")


class Counter(NamedTuple):
    """struct res_counter, in bytes as in the kernel."""

    usage: int
    max_usage: int
    limit: int
    failcnt: int


FRESH = Counter(0, 0, UNLIMITED, 0)


class State(NamedTuple):
    """Abstract state of the kmem controller (see docs/architecture.md)."""

    #: cgroup lifecycle per memcg: ABSENT / ONLINE / OFFLINE.
    lifecycle: tuple
    #: memory.use_hierarchy per memcg.
    use_hierarchy: tuple
    #: res.parent != NULL: this memcg's counters charge its parent's (fixed at css_online).
    hier: tuple
    #: KMEM_ACCOUNTED_ACTIVE per memcg (memcg_kmem_is_active).
    kmem_active: tuple
    #: memcg->kmemcg_id, NONE when not kmem-limited.
    kmemcg_id: tuple
    #: memcg->res per memcg.
    res: tuple
    #: memcg->kmem per memcg.
    kmem: tuple
    #: committed kmem pages (PageCgroupUsed with pc->mem_cgroup == m) per memcg (pages).
    kmem_pages: tuple
    #: user (LRU) pages charged to each memcg.
    user_pages: tuple
    #: the memcg of each task (its css_set's); NONE: no such task (not yet
    #: forked, or exited: cgroup_exit moves it out).
    task_memcg: tuple
    #: where each task's in-flight page allocation stands (TASK_PC).
    task_pc: tuple
    #: the memcg an in-flight allocation charges (NONE when idle).
    task_charge: tuple
    #: the order of the in-flight allocation (0 when idle): it charges
    #: PAGE_SIZE << order bytes and commits 1 << order pages.
    task_order: tuple
    #: the memcg each task's thread stack is charged to (NONE: not charged);
    #: it stays charged after exit until put_task_struct.
    task_stack: tuple
    #: the administrator's activation step (ADMIN_PC) and the memcg it activates.
    admin_pc: int
    admin_memcg: int
    #: memcg_kmem_enabled_key's count.
    static_key: int
    #: per root cache: not yet destroyed (its module is loaded).
    root_alive: tuple
    #: per cache: NOCACHE / ALIVE / FREED, and memcg_params->dead.
    cache: tuple
    dead: tuple
    #: per cache, its slabs by fill: slabs[c][k] slabs hold k objects each
    #: (memcg_params->nr_pages and the object count follow from it); at the
    #: root memcg's number, the root cache's own slabs (root_own).
    slabs: tuple
    #: per cache: the destroy work_struct (WORK), and whether it was queued
    #: again while running.
    work: tuple
    requeued: tuple
    #: per cache: a creation work item is queued for this (root, memcg).
    create_pending: tuple
    #: per cache, without slot_before_list: the creation worker linked the
    #: cache, its slot not yet set.
    half_created: tuple
    #: per cache: root->memcg_params->memcg_caches[id] points here; the cache
    #: is on its memcg's list.
    slot: tuple
    listed: tuple
    #: memcg offline walking its cache list: the memcg (NONE when idle) and,
    #: per root, whether the walk has visited its cache. The list is newest
    #: first (list_add), and the state forgets creation order: any order is
    #: possible.
    offline_memcg: int
    offline_done: tuple
    #: root-cache destruction: the root (NONE when idle), the next memcg, its step.
    rdestroy_root: int
    rdestroy_next: int
    rdestroy_step: int
    #: the outside shrinker: the cache it is inside (NONE when idle).
    shrinking: int
    #: the first error a step made (ERRORS), OK while none.
    error: int
    #: KMEM_ACCOUNTED_DEAD per memcg (memcg_kmem_mark_dead, 3.8-3.10).
    kmem_dead: tuple
    #: per memcg, where mem_cgroup_css_free -> kmem_cgroup_destroy stands (DESTROY_PC).
    destroy_pc: tuple
    #: ghost, per memcg: how many times the death reference (the activation's
    #: mem_cgroup_get) was put since the memcg was created.
    death_puts: tuple
    #: per task, its mm_struct (task->mm): mm k is the one task k created (by
    #: spawn, or by a fork of a process); NONE once it exited (exit_mm).
    task_mm: tuple
    #: per mm, mm->owner: the task whose memcg the mm's charges go to (the
    #: creator, then the next live user after mm_update_next_owner); NONE
    #: while mm k does not exist (its last user's mmput freed it).
    mm_owner: tuple
    #: per mm, per memcg: its anonymous pages charged to that memcg (a part of
    #: user_pages; they go with the mm's last mmput, never by reclaim: no swap).
    mm_anon: tuple
    #: per memcg: its page cache pages (a part of user_pages; reclaimable, and
    #: they outlive the task that read them).
    page_cache: tuple
    #: per cpu, its memcg_stock_pcp: the memcg cached (NONE: none) and the
    #: res pages precharged to it and not yet used (empty without the stock).
    stock_memcg: tuple
    stock_pages: tuple
    #: memcg->move_charge_at_immigrate per memcg (0-3: MOVE_CHARGE_TYPE_ANON is
    #: bit 0, MOVE_CHARGE_TYPE_FILE bit 1); 0 at mem_cgroup_css_alloc.
    move_charge: tuple

    def __deepcopy__(self, memo) -> State:
        return self  # a value: a copy of a record holding it may share it


def initial(cfg: Config) -> State:
    """Boot: the root memcg, the root caches (``boot_roots``; else their slots
    are empty), and the configuration's boot scope (``boot_memcgs``: every
    memcg online and kmem-limited; ``boot_tasks``: every task in the root
    memcg)."""
    n, t, nr = cfg.n_memcgs, cfg.n_tasks, len(cfg.roots)
    nc = nr * n
    up = cfg.boot_memcgs
    others = n - 1
    limited = Counter(0, 0, cfg.kmem_limit, 0)
    return State(
        lifecycle=(ONLINE,) + ((ONLINE if up else ABSENT),) * others,
        use_hierarchy=(False,) * n,
        hier=(False,) * n,
        kmem_active=(False,) + (up,) * others,
        kmemcg_id=(NONE,) + (tuple(range(others)) if up else (NONE,) * others),
        res=(FRESH,) * n,
        kmem=(FRESH,) + ((limited if up else FRESH),) * others,
        kmem_pages=(0,) * n,
        user_pages=(0,) * n,
        task_memcg=((ROOT if cfg.boot_tasks else NONE),) * t,
        task_pc=(IDLE,) * t,
        task_charge=(NONE,) * t,
        task_order=(0,) * t,
        task_stack=(NONE,) * t,
        admin_pc=ADMIN_IDLE,
        admin_memcg=NONE,
        static_key=others if up else 0,
        root_alive=(cfg.boot_roots,) * nr,
        cache=(NOCACHE,) * nc, dead=(False,) * nc, slabs=(no_slabs(cfg),) * nc,
        work=(WORK_IDLE,) * nc, requeued=(False,) * nc, create_pending=(False,) * nc,
        half_created=(False,) * nc, slot=(False,) * nc, listed=(False,) * nc,
        offline_memcg=NONE, offline_done=(False,) * nr,
        rdestroy_root=NONE, rdestroy_next=0, rdestroy_step=RD_MARK,
        shrinking=NONE, error=OK,
        kmem_dead=(False,) * n, destroy_pc=(CSS_LIVE,) * n, death_puts=(0,) * n,
        # a task at boot is a process of its own: mm k is task k's, owned by it
        task_mm=tuple(range(t)) if cfg.boot_tasks else (NONE,) * t,
        mm_owner=tuple(range(t)) if cfg.boot_tasks else (NONE,) * t,
        mm_anon=((0,) * n,) * t, page_cache=(0,) * n,
        stock_memcg=(NONE,) * cfg.cpus, stock_pages=(0,) * cfg.cpus,
        move_charge=(0,) * n,
    )


def no_slabs(cfg: Config) -> tuple:
    return (0,) * (cfg.objs_per_slab + 1)


# ---------------------------------------------------------------- caches


def n_caches(cfg: Config) -> int:
    return len(cfg.roots) * cfg.n_memcgs


def root_of(cfg: Config, c: int) -> int:
    return c // cfg.n_memcgs


def memcg_of(cfg: Config, c: int) -> int:
    return c % cfg.n_memcgs


def cache_id(cfg: Config, r: int, m: int) -> int:
    return r * cfg.n_memcgs + m


def slab_pages(cfg: Config) -> int:
    return 1 << cfg.slab_order


def nr_pages(cfg: Config, s: State, c: int):
    """memcg_params->nr_pages: every page of the cache's slabs (memcg_bind_pages)."""
    return slab_pages(cfg) * Sum(s.slabs[c])


def objects(s: State, c: int):
    return Sum(k * n for k, n in enumerate(s.slabs[c]))


def cache_name(cfg: Config, c: int) -> str:
    """The kernel's name of a memcg cache, root(kmemcg_id:group) (3.8 kmem_cache_dup)."""
    r, m = divmod(c, cfg.n_memcgs)
    return f"{cfg.roots[r]}({m}:{cfg.memcgs[m]})"


def root_own(cfg: Config, r: int) -> int:
    """The number holding root cache ``r``'s own slabs: the root memcg's, which
    owns no copy (a root cache's pages are never charged: no __GFP_KMEMCG)."""
    return cache_id(cfg, r, 0)


def memcg_caches(cfg: Config, m: int) -> tuple[int, ...]:
    """The caches memcg ``m`` may own, one per root."""
    return tuple(cache_id(cfg, r, m) for r in range(len(cfg.roots))) if m else ()


def cache_pages(cfg: Config, s: State, m: int):
    """Pages of memcg ``m``'s slab caches."""
    return Sum(nr_pages(cfg, s, c) for c in memcg_caches(cfg, m))


def thread_pages(cfg: Config) -> int:
    """THREAD_SIZE / PAGE_SIZE: the pages of one thread stack."""
    return 1 << cfg.thread_size_order


def order_pages(cfg: Config, order):
    """1 << order, the pages of an order-``order`` allocation (alloc_pages,
    3.8), for an order of the configuration's ``orders`` (0 for any other).
    A sum of cases, so that ``order`` may be a Z3 term."""
    return Sum(If(Eq(order, k), 1 << k, 0) for k in cfg.orders)


def stack_pages(cfg: Config, s: State, m: int):
    """Pages of the thread stacks charged to memcg ``m``."""
    return thread_pages(cfg) * Sum(If(Eq(s.task_stack[t], m), 1, 0) for t in range(cfg.n_tasks))


def replace_at(xs: tuple, i: int, value) -> tuple:
    return (*xs[:i], value, *xs[i + 1:])


def _limit_json(v: int):
    return "unlimited" if v == UNLIMITED else v


def _limit_from_json(v) -> int:
    return UNLIMITED if v == "unlimited" else int(v)


def counter_json(c: Counter) -> dict:
    return {**c._asdict(), "limit": _limit_json(c.limit)}


def counter_from_json(d: dict) -> Counter:
    return Counter(int(d["usage"]), int(d["max_usage"]), _limit_from_json(d["limit"]),
                   int(d["failcnt"]))


def _name(xs, i):
    return None if i == NONE else xs[i] if 0 <= i < len(xs) else i


def _index(xs, v) -> int:
    return NONE if v is None else xs.index(v)


def to_json(cfg: Config, s: State) -> dict:
    """A readable, round-trippable rendering keyed by memcg, task, root and
    cache names. A cache's ``nr_pages`` and ``objects`` are derived from its
    ``slabs``; :func:`from_json` checks them rather than reading them."""
    memcgs = {}
    for m, name in enumerate(cfg.memcgs):
        memcgs[name] = {
            "lifecycle": LIFECYCLE[s.lifecycle[m]],
            "use_hierarchy": bool(s.use_hierarchy[m]),
            "hier": bool(s.hier[m]),
            "kmem_active": bool(s.kmem_active[m]),
            "kmemcg_id": s.kmemcg_id[m],
            "res": counter_json(s.res[m]),
            "kmem": counter_json(s.kmem[m]),
            "kmem_pages": s.kmem_pages[m],
            "user_pages": s.user_pages[m],
            "kmem_dead": bool(s.kmem_dead[m]),
            "destroy": DESTROY_PC[s.destroy_pc[m]],
            "death_puts": s.death_puts[m],
            "page_cache": s.page_cache[m],
            "move_charge_at_immigrate": s.move_charge[m],
        }
    tasks = {
        t: {
            "memcg": _name(cfg.memcgs, s.task_memcg[i]),
            "pc": TASK_PC[s.task_pc[i]],
            "charging": _name(cfg.memcgs, s.task_charge[i]),
            "order": s.task_order[i],
            "stack": _name(cfg.memcgs, s.task_stack[i]),
            # an mm is named after the task that created it
            "mm": _name(cfg.tasks, s.task_mm[i]),
        }
        for i, t in enumerate(cfg.tasks)
    }
    caches = {}
    for c in range(n_caches(cfg)):
        if memcg_of(cfg, c):
            caches[cache_name(cfg, c)] = {
                "cache": CACHE[s.cache[c]], "dead": bool(s.dead[c]), "slabs": list(s.slabs[c]),
                "nr_pages": nr_pages(cfg, s, c), "objects": objects(s, c),
                "work": WORK[s.work[c]], "requeued": bool(s.requeued[c]),
                "create_pending": bool(s.create_pending[c]),
                "half_created": bool(s.half_created[c]),
                "slot": bool(s.slot[c]), "listed": bool(s.listed[c]),
            }
    shrinking = s.shrinking
    # mm k, named after the task that created it: its owner (null: no such mm)
    mms = {t: {"owner": _name(cfg.tasks, s.mm_owner[i]),
               "anon": {cfg.memcgs[m]: s.mm_anon[i][m] for m in range(cfg.n_memcgs)}}
           for i, t in enumerate(cfg.tasks)}
    return {
        "memcgs": memcgs,
        "tasks": tasks,
        "mms": mms,
        "admin": {"pc": ADMIN_PC[s.admin_pc], "memcg": _name(cfg.memcgs, s.admin_memcg)},
        "static_key": s.static_key,
        "roots": {r: {"alive": bool(s.root_alive[i]),
                      **({"slabs": list(s.slabs[root_own(cfg, i)])} if cfg.root_objects else {})}
                  for i, r in enumerate(cfg.roots)},
        "caches": caches,
        "offline": {"memcg": _name(cfg.memcgs, s.offline_memcg),
                    "visited": [r for i, r in enumerate(cfg.roots) if s.offline_done[i]]},
        "root_destroy": {"root": _name(cfg.roots, s.rdestroy_root),
                         "next_memcg": s.rdestroy_next,
                         "step": _name(RD_STEPS, s.rdestroy_step)},
        "shrinking": None if shrinking == NONE else cache_name(cfg, shrinking)
        if 0 <= shrinking < n_caches(cfg) else shrinking,
        "error": _name(ERRORS, s.error),
        # memcg_stock per cpu, only where the scope has the stock
        **({"stock": [{"memcg": _name(cfg.memcgs, m), "nr_pages": n}
                      for m, n in zip(s.stock_memcg, s.stock_pages, strict=True)]}
           if cfg.percpu_stock else {}),
    }


_BLANK_CACHE = {"cache": "none", "dead": False, "work": "idle", "requeued": False,
                "create_pending": False, "half_created": False, "slot": False,
                "listed": False}


def from_json(cfg: Config, d: dict) -> State:
    """The inverse of :func:`to_json` (for implementations' snapshots). A cache
    left out is one never created. A snapshot whose ``nr_pages`` or ``objects``
    disagree with its ``slabs`` is refused with ValueError: an implementation's
    page counter is part of what conformance checks."""
    ms = [d["memcgs"][n] for n in cfg.memcgs]
    ts = [d["tasks"][t] for t in cfg.tasks]
    n = n_caches(cfg)
    caches = d.get("caches", {})
    blank = {**_BLANK_CACHE, "slabs": list(no_slabs(cfg))}
    roots = d.get("roots", {})
    cs = [caches.get(cache_name(cfg, c), blank) if memcg_of(cfg, c) else
          {**blank, "slabs": roots.get(cfg.roots[root_of(cfg, c)], {}).get("slabs", blank["slabs"])}
          if cfg.root_objects else blank
          for c in range(n)]
    rd = d.get("root_destroy", {"root": None, "next_memcg": 0, "step": "mark"})
    offline = d.get("offline", {"memcg": None, "visited": []})
    shrinking = d.get("shrinking")
    mms = d.get("mms")
    stock = d.get("stock", [{"memcg": None, "nr_pages": 0}] * cfg.cpus)
    if len(stock) != cfg.cpus:
        raise ValueError(f"stock must list {cfg.cpus} cpus, not {len(stock)}")

    def memcg(x):
        return _index(cfg.memcgs, x)

    s = State(
        lifecycle=tuple(LIFECYCLE.index(m["lifecycle"]) for m in ms),
        use_hierarchy=tuple(bool(m["use_hierarchy"]) for m in ms),
        hier=tuple(bool(m["hier"]) for m in ms),
        kmem_active=tuple(bool(m["kmem_active"]) for m in ms),
        kmemcg_id=tuple(int(m["kmemcg_id"]) for m in ms),
        res=tuple(counter_from_json(m["res"]) for m in ms),
        kmem=tuple(counter_from_json(m["kmem"]) for m in ms),
        kmem_pages=tuple(int(m["kmem_pages"]) for m in ms),
        user_pages=tuple(int(m["user_pages"]) for m in ms),
        task_memcg=tuple(memcg(t["memcg"]) for t in ts),
        task_pc=tuple(TASK_PC.index(t["pc"]) for t in ts),
        task_charge=tuple(memcg(t["charging"]) for t in ts),
        # a snapshot of protocol 2 before orders had none: order 0 while idle
        task_order=tuple(int(t.get("order", 0)) for t in ts),
        task_stack=tuple(memcg(t.get("stack")) for t in ts),
        admin_pc=ADMIN_PC.index(d["admin"]["pc"]),
        admin_memcg=memcg(d["admin"]["memcg"]),
        static_key=int(d["static_key"]),
        # a root the snapshot leaves out is not on slab_caches: not (yet) created
        root_alive=tuple(bool(roots.get(r, {}).get("alive", False)) for r in cfg.roots),
        cache=tuple(CACHE.index(x["cache"]) for x in cs),
        dead=tuple(bool(x["dead"]) for x in cs),
        slabs=tuple(tuple(int(k) for k in x["slabs"]) for x in cs),
        work=tuple(WORK.index(x["work"]) for x in cs),
        requeued=tuple(bool(x["requeued"]) for x in cs),
        create_pending=tuple(bool(x["create_pending"]) for x in cs),
        half_created=tuple(bool(x["half_created"]) for x in cs),
        slot=tuple(bool(x["slot"]) for x in cs),
        listed=tuple(bool(x["listed"]) for x in cs),
        offline_memcg=memcg(offline["memcg"]),
        offline_done=tuple(r in offline["visited"] for r in cfg.roots),
        rdestroy_root=_index(cfg.roots, rd["root"]),
        rdestroy_next=int(rd["next_memcg"]),
        rdestroy_step=RD_STEPS.index(rd["step"]),
        shrinking=NONE if shrinking is None else next(
            c for c in range(n) if memcg_of(cfg, c) and cache_name(cfg, c) == shrinking),
        error=ERRORS.index(d.get("error", "none")),
        # a snapshot of protocol 2 before memcg death had none of these: boot values
        kmem_dead=tuple(bool(m.get("kmem_dead", False)) for m in ms),
        destroy_pc=tuple(DESTROY_PC.index(m.get("destroy", "none")) for m in ms),
        death_puts=tuple(int(m.get("death_puts", 0)) for m in ms),
        # a snapshot from before mm_structs had none: each live task a process
        # of its own (its own mm, which it owns)
        task_mm=tuple(_index(cfg.tasks, t.get("mm", name if t["memcg"] is not None else None))
                      for name, t in zip(cfg.tasks, ts, strict=True)),
        mm_owner=tuple(_index(cfg.tasks, mms[name]["owner"]) if mms is not None
                       else _index(cfg.tasks, name if t["memcg"] is not None else None)
                       for name, t in zip(cfg.tasks, ts, strict=True)),
        mm_anon=tuple(tuple(int(mms[name].get("anon", {}).get(mn, 0)) if mms is not None else 0
                            for mn in cfg.memcgs) for name in cfg.tasks),
        page_cache=tuple(int(m.get("page_cache", 0)) for m in ms),
        stock_memcg=tuple(memcg(x["memcg"]) for x in stock),
        stock_pages=tuple(int(x["nr_pages"]) for x in stock),
        # a snapshot from before move_charge_at_immigrate had none: its boot value
        move_charge=tuple(int(m.get("move_charge_at_immigrate", 0)) for m in ms),
    )
    for c, x in enumerate(cs):
        if len(s.slabs[c]) != cfg.objs_per_slab + 1:
            what = cache_name(cfg, c) if memcg_of(cfg, c) else cfg.roots[root_of(cfg, c)]
            raise ValueError(f"{what}: slabs must count fills 0..{cfg.objs_per_slab}")
        for key, want in (("nr_pages", nr_pages(cfg, s, c)), ("objects", objects(s, c))):
            if x is blank or not memcg_of(cfg, c) or x.get(key) == want:
                continue
            got = f"is {x[key]}" if key in x else "is missing"
            raise ValueError(f"{cache_name(cfg, c)}: {key} {got} but its slabs "
                             f"{list(s.slabs[c])} hold {want}")
    return s


def diff_json(ja: dict, jb: dict) -> list[tuple[str, object, object]]:
    """(field path, value in a, value in b) for each leaf that differs."""
    out: list[tuple[str, object, object]] = []

    def walk(x, y, path):
        if isinstance(x, dict):
            for k in x:
                walk(x[k], y[k], f"{path}.{k}" if path else k)
        elif x != y:
            out.append((path, x, y))

    walk(ja, jb, "")
    return out


def in_constraint(cfg: Config, s: State) -> bool:
    """StateConstraint: at most cfg.max_pages pages charged outside the caches
    (kmem and user together), at most cfg.max_cache_pages pages in any one
    cache, and every failcnt at most cfg.max_failcnt. These are exploration
    bounds, as in a TLC model; the prover has none."""
    bound = cfg.max_failcnt
    return (
        sum(s.kmem_pages) + sum(s.user_pages) <= cfg.max_pages
        and all(nr_pages(cfg, s, c) <= cfg.max_cache_pages for c in range(n_caches(cfg)))
        and all(c.failcnt <= bound for c in s.res)
        and all(c.failcnt <= bound for c in s.kmem)
    )
