"""The abstract state: the one value where implementation, model and spec meet.

A :class:`State` is a named tuple of tuples indexed by memcg and task number
(see :class:`kmemcg.model.config.Config`), so it is hashable, cheap to copy, and its
fields may hold Python values (explorer, oracle) or Z3 terms (prover) alike.
Names follow the kernel fields they abstract.
"""

from __future__ import annotations

from typing import NamedTuple

from kmemcg.model.config import NONE, ROOT, UNLIMITED, Config

# memcg lifecycle (cgroup directory): not yet created, online, removed (rmdir'ed).
ABSENT, ONLINE, OFFLINE = 0, 1, 2
LIFECYCLE = ("absent", "online", "offline")

# where a task's page allocation stands between memcg_kmem_newpage_charge and
# memcg_kmem_commit_charge: idle, kmem counter charged, res counter charged too.
IDLE, KMEM_CHARGED, RES_CHARGED = 0, 1, 2
TASK_PC = ("idle", "kmem_charged", "res_charged")

# the administrator's memcg_update_kmem_limit activation path: the step it takes next.
ADMIN_IDLE, CACHE_SIZES, KEY_INC, SET_ACTIVE = 0, 1, 2, 3
ADMIN_PC = ("idle", "update_cache_sizes", "static_key_inc", "set_active")


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
    #: the memcg of each task (mm->owner's memcg).
    task_memcg: tuple
    #: where each task's in-flight page allocation stands (TASK_PC).
    task_pc: tuple
    #: the memcg an in-flight allocation charges (NONE when idle).
    task_charge: tuple
    #: the administrator's activation step (ADMIN_PC) and the memcg it activates.
    admin_pc: int
    admin_memcg: int
    #: memcg_kmem_enabled_key's count.
    static_key: int


def initial(cfg: Config) -> State:
    """Boot: only the root memcg exists and every task is in it."""
    n, t = cfg.n_memcgs, cfg.n_tasks
    return State(
        lifecycle=(ONLINE,) + (ABSENT,) * (n - 1),
        use_hierarchy=(False,) * n,
        hier=(False,) * n,
        kmem_active=(False,) * n,
        kmemcg_id=(NONE,) * n,
        res=(FRESH,) * n,
        kmem=(FRESH,) * n,
        kmem_pages=(0,) * n,
        user_pages=(0,) * n,
        task_memcg=(ROOT,) * t,
        task_pc=(IDLE,) * t,
        task_charge=(NONE,) * t,
        admin_pc=ADMIN_IDLE,
        admin_memcg=NONE,
        static_key=0,
    )


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


def to_json(cfg: Config, s: State) -> dict:
    """A readable, round-trippable rendering keyed by memcg and task names."""
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
        }
    def name(m):
        return None if m == NONE else cfg.memcgs[m]
    tasks = {
        t: {
            "memcg": name(s.task_memcg[i]),
            "pc": TASK_PC[s.task_pc[i]],
            "charging": name(s.task_charge[i]),
        }
        for i, t in enumerate(cfg.tasks)
    }
    return {
        "memcgs": memcgs,
        "tasks": tasks,
        "admin": {"pc": ADMIN_PC[s.admin_pc], "memcg": name(s.admin_memcg)},
        "static_key": s.static_key,
    }


def from_json(cfg: Config, d: dict) -> State:
    def idx(n):
        return NONE if n is None else cfg.memcg_index(n)
    ms = [d["memcgs"][n] for n in cfg.memcgs]

    ts = [d["tasks"][t] for t in cfg.tasks]
    return State(
        lifecycle=tuple(LIFECYCLE.index(m["lifecycle"]) for m in ms),
        use_hierarchy=tuple(bool(m["use_hierarchy"]) for m in ms),
        hier=tuple(bool(m["hier"]) for m in ms),
        kmem_active=tuple(bool(m["kmem_active"]) for m in ms),
        kmemcg_id=tuple(int(m["kmemcg_id"]) for m in ms),
        res=tuple(counter_from_json(m["res"]) for m in ms),
        kmem=tuple(counter_from_json(m["kmem"]) for m in ms),
        kmem_pages=tuple(int(m["kmem_pages"]) for m in ms),
        user_pages=tuple(int(m["user_pages"]) for m in ms),
        task_memcg=tuple(idx(t["memcg"]) for t in ts),
        task_pc=tuple(TASK_PC.index(t["pc"]) for t in ts),
        task_charge=tuple(idx(t["charging"]) for t in ts),
        admin_pc=ADMIN_PC.index(d["admin"]["pc"]),
        admin_memcg=idx(d["admin"]["memcg"]),
        static_key=int(d["static_key"]),
    )


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
    """StateConstraint: at most cfg.max_pages pages charged (kmem and user
    together) and every failcnt at most cfg.max_failcnt. Both are exploration
    bounds, as in a TLC model; the prover has neither."""
    bound = cfg.max_failcnt
    return (
        sum(s.kmem_pages) + sum(s.user_pages) <= cfg.max_pages
        and all(c.failcnt <= bound for c in s.res)
        and all(c.failcnt <= bound for c in s.kmem)
    )
