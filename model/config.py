"""Model configurations: the CONSTANTS of a finite instance.

A configuration fixes the shape (which memcgs may exist and under which
parent, how many tasks, how many physical pages) and the finite domains the
explorer enumerates (limit values an administrator writes). Counter values
themselves stay unbounded for the Z3 prover; only the explorer and TLC need the
finite domains and the failcnt bound of the state constraint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from kmemcg.model.profiles import CORRECT, PROFILES, fixes_of

PAGE_SIZE = 4096
#: RESOURCE_MAX, (unsigned long long)LLONG_MAX: an unlimited counter's limit.
RESOURCE_MAX = (1 << 63) - 1
UNLIMITED = RESOURCE_MAX
ROOT = 0
NONE = -1
#: the buddy allocator's MAX_ORDER (x86_64, 3.8): an allocation is of order 0..10.
MAX_ORDER = 11
#: CHARGE_BATCH (mm/memcontrol.c, 3.8): the pages __mem_cgroup_try_charge charges
#: res at once, the excess kept in the cpu's memcg_stock.
CHARGE_BATCH = 32
#: the actions whose charging task is not named (a slab allocation by some task of
#: the memcg, spawn's parent): no cpu, so no per-cpu stock, is known for them
_UNNAMED_CPU = ("spawn", "fork", "alloc")
#: The user-memory faults (model/actions/user_memory.py), charged with reclaim.
_USER_MEMORY = ("anon.charge", "pagecache.charge")


@dataclass(frozen=True)
class Config:
    """A finite instance of the model (TLA+ CONSTANTS)."""

    name: str = "default"
    #: memcg names; index 0 is the root memcg.
    memcgs: tuple[str, ...] = ("root", "A", "B")
    #: parent index of each memcg (the root's is NONE).
    parents: tuple[int, ...] = (NONE, ROOT, 1)
    tasks: tuple[str, ...] = ("t1", "t2")
    #: state constraint: at most this many pages charged (kmem and user together).
    max_pages: int = 2
    #: state constraint: each slab cache holds at most this many pages.
    max_cache_pages: int = 2
    #: values, in bytes, an administrator writes to memory.kmem.limit_in_bytes.
    kmem_limits: tuple[int, ...] = (PAGE_SIZE, UNLIMITED)
    #: values, in bytes, an administrator writes to memory.limit_in_bytes.
    res_limits: tuple[int, ...] = (PAGE_SIZE,)
    #: state constraint: failcnt stays at or below this (TLC's CONSTRAINT).
    max_failcnt: int = 1
    #: which model actions the explorer enumerates (None: all of them).
    actions: tuple[str, ...] | None = None
    #: the kernel modelled: "correct", or a profile of model/profiles.py.
    profile: str = CORRECT
    #: root slab caches: the slots of kmem_cache_create'd root caches (at
    #: boot, or at run time without ``boot_roots``).
    roots: tuple[str, ...] = ()
    #: Init: every root cache is created at boot; False: each root slot starts
    #: empty and ``kmem_cache_create`` (a module load) fills it.
    boot_roots: bool = True
    #: a slab is 2**slab_order pages holding objs_per_slab objects.
    slab_order: int = 0
    objs_per_slab: int = 1
    #: a thread stack is 2**thread_size_order pages (THREAD_SIZE_ORDER: 1 on
    #: x86_64 in 3.8-3.10, two pages; 2 since 3.15's 16 KiB stacks).
    thread_size_order: int = 1
    #: the orders of the kernel page allocations a task makes through the
    #: charge path (alloc_pages(gfp | __GFP_KMEMCG, order)): 0 a page, 2 and
    #: up SLUB's kmalloc_large (kmalloc_order) of more than 8 KiB.
    orders: tuple[int, ...] = (0,)
    #: Init: every task exists at boot, in the root memcg; False: each task
    #: slot starts empty and ``fork`` fills it.
    boot_tasks: bool = True
    #: Init: every memcg is online at boot, kmem-limited at ``kmem_limit`` and
    #: kmem-active (kmemcg ids in memcg order); False: only the root is.
    boot_memcgs: bool = False
    #: memory.kmem.limit_in_bytes of the memcgs online at boot.
    kmem_limit: int = UNLIMITED
    #: report states with no successor (TLC's CHECK_DEADLOCK); a protocol that
    #: ends, like destruction, reaches quiescent states legitimately.
    check_deadlock: bool = True
    #: a second administrator runs mkdir and attach while the first is inside
    #: a kmem limit write: cgroup_attach_task takes no memcg mutex (3.9/3.10),
    #: and mkdir's css_online waits on memcg_create_mutex only where the
    #: activation holds it (fix activation_excludes_mkdir)
    second_admin: bool = False
    #: the objects a root cache serves itself (an allocation in a context the
    #: kernel never charges, or the one that queues its memcg's cache) are kept
    #: on the root's own slabs, and /proc/slabinfo counts them; False: they are
    #: forgotten as they are served (the scopes before root-served objects)
    root_objects: bool = False
    #: a task may charge a user page with a fatal signal pending (or TIF_MEMDIE):
    #: __mem_cgroup_try_charge's early bypass then hands the page to the root
    #: memcg, never res-charged (3.8). Off: every user page goes to the mm
    #: owner's group, as in the scopes the explorer and TLC count, whose
    #: faulting tasks have no signal context
    fatal_signals: bool = False
    #: the per-cpu charge stock (memcg_stock_pcp, 3.8): res charges go through
    #: consume_stock/refill_stock, charging up to ``charge_batch`` pages at once.
    #: Off: the exact-counter abstraction, res charged page for page.
    percpu_stock: bool = False
    #: CHARGE_BATCH, in pages (the kernel's 32; small in a scope, to explore)
    charge_batch: int = CHARGE_BATCH
    #: the cpus, each with its stock; task t runs on cpu t % nr_cpus
    nr_cpus: int = 2
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def __deepcopy__(self, memo) -> Config:
        return self  # a scope does not change: a copy of a record holding it may share it

    @property
    def n_memcgs(self) -> int:
        return len(self.memcgs)

    @property
    def n_tasks(self) -> int:
        return len(self.tasks)

    def children(self, m: int) -> tuple[int, ...]:
        return _children(self.parents, m)

    def ancestors(self, m: int) -> tuple[int, ...]:
        """Proper ancestors of ``m``, nearest first."""
        return _ancestors(self.parents, m)

    @property
    def loads_roots(self) -> bool:
        """Root caches are created at run time in this scope (kmem_cache_create)."""
        return bool(self.roots) and (self.actions is None or "kmem_cache_create" in self.actions)

    @property
    def fixes(self) -> frozenset[str]:
        """The fixes the kernel modelled has (model/profiles.py)."""
        return fixes_of(self.profile)

    @property
    def cpus(self) -> int:
        """The per-cpu stocks the state holds: none without the stock."""
        return self.nr_cpus if self.percpu_stock else 0

    def has_fix(self, fix: str) -> bool:
        """Whether the kernel modelled has ``fix`` (model/profiles.py)."""
        return fix not in PROFILES[self.profile].removes

    def memcg_index(self, name: str) -> int:
        try:
            return self.memcgs.index(name)
        except ValueError:
            raise KeyError(f"unknown memcg {name!r}; this configuration has {list(self.memcgs)}") from None

    def task_index(self, name: str) -> int:
        try:
            return self.tasks.index(name)
        except ValueError:
            raise KeyError(f"unknown task {name!r}; this configuration has {list(self.tasks)}") from None

    def validate(self) -> Config:
        ints = {"max_pages": self.max_pages, "max_cache_pages": self.max_cache_pages,
                "max_failcnt": self.max_failcnt,
                "slab_order": self.slab_order, "objs_per_slab": self.objs_per_slab,
                "thread_size_order": self.thread_size_order, "kmem_limit": self.kmem_limit,
                "charge_batch": self.charge_batch, "nr_cpus": self.nr_cpus}
        for key, v in ints.items():
            if not isinstance(v, int) or isinstance(v, bool):
                raise ValueError(f"{key} must be an integer, not {v!r}")
        for key in ("second_admin", "root_objects", "fatal_signals", "percpu_stock",
                    "boot_roots"):
            if not isinstance(getattr(self, key), bool):
                raise ValueError(f"{key} must be true or false")
        if self.charge_batch < 1 or self.nr_cpus < 1:
            raise ValueError("charge_batch and nr_cpus must be at least 1")
        if self.percpu_stock and (self.roots or self.actions is None
                                  or set(_UNNAMED_CPU) & set(self.actions)):
            raise ValueError("the per-cpu stock is modelled where the charging task, so its "
                             "cpu, is named: a scope with percpu_stock lists its actions, "
                             f"none of {list(_UNNAMED_CPU)}, and has no root caches")
        # the stock's batched charge is modelled without reclaim (CHARGE_RETRY
        # with the exact size only); the user-memory faults charge exactly and
        # reclaim page cache at U. Together they would need the stock drained
        # by reclaim (drain_all_stock_async), which the model does not have
        if self.percpu_stock and set(_USER_MEMORY) & set(self.actions):
            raise ValueError("the per-cpu stock is modelled without reclaim: a scope with "
                             f"percpu_stock has none of {list(_USER_MEMORY)} (page cache, "
                             "anonymous pages)")
        for key in ("memcgs", "tasks", "roots"):
            names = getattr(self, key)
            if not isinstance(names, tuple) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"{key} must be a list of names")
            if len(set(names)) != len(names):
                raise ValueError(f"{key} has duplicate names: {list(names)}")
        for key in ("kmem_limits", "res_limits"):
            vals = getattr(self, key)
            if not all(isinstance(v, int) and 0 <= v <= RESOURCE_MAX for v in vals):
                raise ValueError(f"{key} must be byte counts from 0 to {RESOURCE_MAX}")
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; the roster has "
                             f"{sorted(PROFILES)}")
        if not self.memcgs or self.parents[0] != NONE:
            raise ValueError("memcg 0 must be the root (parent -1)")
        if len(self.parents) != len(self.memcgs):
            raise ValueError("parents must have one entry per memcg")
        for m, p in enumerate(self.parents[1:], start=1):
            if not 0 <= p < m:
                raise ValueError(f"memcg {self.memcgs[m]!r}: parent must be an earlier memcg")
        if min(self.max_pages, self.max_cache_pages, self.max_failcnt) < 0:
            raise ValueError("max_pages, max_cache_pages and max_failcnt must be >= 0")
        if not 0 <= self.slab_order <= 10 or self.objs_per_slab < 1:
            raise ValueError("slab_order must be 0..10 (MAX_ORDER) and objs_per_slab >= 1")
        if not 0 <= self.thread_size_order <= 3:
            raise ValueError("thread_size_order must be 0..3 (a stack of 1 to 8 pages)")
        if not self.orders or len(set(self.orders)) != len(self.orders) or not all(
                isinstance(o, int) and not isinstance(o, bool) and 0 <= o < MAX_ORDER
                for o in self.orders):
            raise ValueError(f"orders must be distinct page orders 0..{MAX_ORDER - 1} "
                             f"(MAX_ORDER), at least one")
        if self.roots and self.n_memcgs < 2:
            raise ValueError("a configuration with root caches needs a memcg besides the root "
                             "(the root memcg never owns caches)")
        if not 0 <= self.kmem_limit <= RESOURCE_MAX:
            raise ValueError(f"kmem_limit must be a byte count from 0 to {RESOURCE_MAX}")
        if self.kmem_limit % PAGE_SIZE and self.kmem_limit != RESOURCE_MAX:
            raise ValueError(f"kmem_limit must be whole pages ({PAGE_SIZE} bytes), as the "
                             f"kernel's PAGE_ALIGN leaves a written limit, or unlimited")
        return self

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "memcgs": list(self.memcgs),
            "parents": list(self.parents),
            "tasks": list(self.tasks),
            "max_pages": self.max_pages,
            "max_cache_pages": self.max_cache_pages,
            "kmem_limits": list(self.kmem_limits),
            "res_limits": list(self.res_limits),
            "max_failcnt": self.max_failcnt,
            "actions": None if self.actions is None else list(self.actions),
            "profile": self.profile,
            "roots": list(self.roots),
            "boot_roots": self.boot_roots,
            "slab_order": self.slab_order,
            "objs_per_slab": self.objs_per_slab,
            "thread_size_order": self.thread_size_order,
            "orders": list(self.orders),
            "boot_tasks": self.boot_tasks,
            "boot_memcgs": self.boot_memcgs,
            "kmem_limit": self.kmem_limit,
            "check_deadlock": self.check_deadlock,
            "second_admin": self.second_admin,
            "root_objects": self.root_objects,
            "fatal_signals": self.fatal_signals,
            "percpu_stock": self.percpu_stock,
            "charge_batch": self.charge_batch,
            "nr_cpus": self.nr_cpus,
        }

    @classmethod
    def from_json(cls, data: dict) -> Config:
        if "slice" in data:
            raise ValueError("'slice' is gone: a configuration is a scope of the one model "
                             "(roots, boot_tasks, boot_memcgs, actions); see docs/architecture.md")
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown configuration keys: {sorted(unknown)}")
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        if kw.get("actions") is None:
            kw.pop("actions", None)
        return cls(**kw).validate()

    @classmethod
    def load(cls, path: str | Path) -> Config:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"cannot read configuration {path}: {e}") from None
        return cls.from_json(data)


@cache
def _children(parents: tuple[int, ...], m: int) -> tuple[int, ...]:
    return tuple(c for c, p in enumerate(parents) if p == m)


@cache
def _ancestors(parents: tuple[int, ...], m: int) -> tuple[int, ...]:
    out = []
    p = parents[m]
    while p != NONE:
        out.append(p)
        p = parents[p]
    return tuple(out)
