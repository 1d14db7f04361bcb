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

PAGE_SIZE = 4096
#: RESOURCE_MAX, (unsigned long long)LLONG_MAX: an unlimited counter's limit.
RESOURCE_MAX = (1 << 63) - 1
UNLIMITED = RESOURCE_MAX
ROOT = 0
NONE = -1


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
    #: values, in bytes, an administrator writes to memory.kmem.limit_in_bytes.
    kmem_limits: tuple[int, ...] = (PAGE_SIZE, UNLIMITED)
    #: values, in bytes, an administrator writes to memory.limit_in_bytes.
    res_limits: tuple[int, ...] = (PAGE_SIZE,)
    #: state constraint: failcnt stays at or below this (TLC's CONSTRAINT).
    max_failcnt: int = 1
    #: which model actions the explorer enumerates (None: all of them).
    actions: tuple[str, ...] | None = None
    #: named historical/bug profile, "correct" by default.
    profile: str = "correct"
    #: which slice of the model this instantiates (see model/slice.py).
    slice: str = "accounting"
    #: root slab caches (the destruction slice).
    roots: tuple[str, ...] = ()
    #: destruction slice: a slab is 2**slab_order pages holding objs_per_slab objects.
    slab_order: int = 0
    objs_per_slab: int = 1
    #: destruction slice: every non-root memcg's memory.kmem.limit_in_bytes (fixed).
    kmem_limit: int = UNLIMITED
    #: report states with no successor (TLC's CHECK_DEADLOCK); a protocol that
    #: ends, like destruction, reaches quiescent states legitimately.
    check_deadlock: bool = True
    extra: dict = field(default_factory=dict, compare=False, hash=False)

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
        ints = {"max_pages": self.max_pages, "max_failcnt": self.max_failcnt,
                "slab_order": self.slab_order, "objs_per_slab": self.objs_per_slab,
                "kmem_limit": self.kmem_limit}
        for key, v in ints.items():
            if not isinstance(v, int) or isinstance(v, bool):
                raise ValueError(f"{key} must be an integer, not {v!r}")
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
        if self.slice not in ("accounting", "destruction"):
            raise ValueError(f"unknown slice {self.slice!r} (accounting or destruction)")
        if not self.memcgs or self.parents[0] != NONE:
            raise ValueError("memcg 0 must be the root (parent -1)")
        if len(self.parents) != len(self.memcgs):
            raise ValueError("parents must have one entry per memcg")
        for m, p in enumerate(self.parents[1:], start=1):
            if not 0 <= p < m:
                raise ValueError(f"memcg {self.memcgs[m]!r}: parent must be an earlier memcg")
        if self.max_pages < 0 or self.max_failcnt < 0:
            raise ValueError("max_pages and max_failcnt must be >= 0")
        if not 0 <= self.slab_order <= 10 or self.objs_per_slab < 1:
            raise ValueError("slab_order must be 0..10 (MAX_ORDER) and objs_per_slab >= 1")
        if not 0 <= self.kmem_limit <= RESOURCE_MAX:
            raise ValueError(f"kmem_limit must be a byte count from 0 to {RESOURCE_MAX}")
        if self.kmem_limit % PAGE_SIZE and self.kmem_limit != RESOURCE_MAX:
            raise ValueError(f"kmem_limit must be whole pages ({PAGE_SIZE} bytes), as the "
                             f"kernel's PAGE_ALIGN leaves a written limit, or unlimited")
        if self.slice == "destruction" and (self.n_memcgs < 2 or not self.roots):
            raise ValueError("a destruction configuration needs a memcg besides the root and "
                             "at least one root cache")
        return self

    def check_slice(self) -> Config:
        """Profile and actions exist in the slice (kept out of validate(), which runs
        while the model's modules are still being imported)."""
        from kmemcg.model.slice import slice_of

        sl = slice_of(self)
        if self.profile not in sl.profiles:
            raise ValueError(f"unknown profile {self.profile!r} for the {self.slice} slice")
        if self.actions is not None:
            unknown = sorted(set(self.actions) - set(sl.actions))
            if unknown:
                raise ValueError(f"unknown actions for the {self.slice} slice: {unknown}")
        return self

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "memcgs": list(self.memcgs),
            "parents": list(self.parents),
            "tasks": list(self.tasks),
            "max_pages": self.max_pages,
            "kmem_limits": list(self.kmem_limits),
            "res_limits": list(self.res_limits),
            "max_failcnt": self.max_failcnt,
            "actions": None if self.actions is None else list(self.actions),
            "profile": self.profile,
            "slice": self.slice,
            "roots": list(self.roots),
            "slab_order": self.slab_order,
            "objs_per_slab": self.objs_per_slab,
            "kmem_limit": self.kmem_limit,
            "check_deadlock": self.check_deadlock,
        }

    @classmethod
    def from_json(cls, data: dict) -> Config:
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown configuration keys: {sorted(unknown)}")
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        if kw.get("actions") is None:
            kw.pop("actions", None)
        return cls(**kw).validate().check_slice()

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


#: Actions the explorer leaves out of the default configurations: the
#: max_usage/failcnt resets multiply history states without reaching new
#: behaviour; the prover and the conformance machine still cover them.
_NO_RESETS = (
    "charge.kmem", "charge.res", "charge.commit", "charge.abort", "free.uncharge",
    "user.charge", "user.uncharge", "mkdir", "rmdir", "attach", "use_hierarchy.write",
    "limit.write", "kmem_limit.write", "activate.update_cache_sizes",
    "activate.static_key_inc", "activate.set_active",
)

PRESETS = {
    # two tasks race their charges in one child of the root
    "accounting": Config(
        name="accounting", memcgs=("root", "A"), parents=(NONE, ROOT), tasks=("t1", "t2"),
        max_pages=1, kmem_limits=(PAGE_SIZE, UNLIMITED), res_limits=(PAGE_SIZE,),
        max_failcnt=1, actions=_NO_RESETS,
    ),
    # a nested limit: B charges A's counters under use_hierarchy
    "hierarchy": Config(
        name="hierarchy", memcgs=("root", "A", "B"), parents=(NONE, ROOT, 1), tasks=("t1",),
        max_pages=0, kmem_limits=(PAGE_SIZE,), res_limits=(PAGE_SIZE,), max_failcnt=1,
        actions=_NO_RESETS,
    ),
    # what the conformance machine drives: no exploration bounds apply
    "conformance": Config(
        name="conformance", memcgs=("root", "A", "B"), parents=(NONE, ROOT, 1),
        tasks=("t1", "t2"), max_pages=4,
    ),
}
DEFAULT = PRESETS["accounting"].validate()


def named(name_or_path: str) -> Config:
    """A preset by name, or a configuration file by path."""
    if name_or_path in PRESETS:
        return PRESETS[name_or_path].validate()
    return Config.load(name_or_path)


# the attach-mid-charge window, small enough to interleave the implementation exhaustively
PRESETS["race"] = Config(
    name="race", memcgs=("root", "A"), parents=(NONE, ROOT), tasks=("t1",), max_pages=1,
    kmem_limits=(PAGE_SIZE,), res_limits=(PAGE_SIZE,), max_failcnt=1,
    actions=("charge.kmem", "charge.res", "charge.commit", "charge.abort", "free.uncharge",
             "user.charge", "user.uncharge", "mkdir", "attach", "kmem_limit.write",
             "limit.write", "activate.update_cache_sizes", "activate.static_key_inc",
             "activate.set_active"),
)
PRESETS["destruction"] = Config(
    name="destruction", slice="destruction", memcgs=("root", "A"), parents=(NONE, ROOT),
    tasks=(), roots=("dentry",), max_pages=2, check_deadlock=False,
)
# order-1 slabs of two objects, a thread stack, and a kmem limit of two slabs
# worth: charging meets the cache lifecycle
PRESETS["destruction-kmem"] = Config(
    name="destruction-kmem", slice="destruction", memcgs=("root", "A"), parents=(NONE, ROOT),
    tasks=("t1",), roots=("dentry",), max_pages=4, slab_order=1, objs_per_slab=2,
    kmem_limit=4 * PAGE_SIZE, check_deadlock=False,
)
PRESETS["destruction-2roots"] = Config(
    name="destruction-2roots", slice="destruction", memcgs=("root", "A"), parents=(NONE, ROOT),
    tasks=(), roots=("dentry", "inode"), max_pages=1, check_deadlock=False,
)
