"""The model's serial runs: every kernel path run to completion before another starts.

An implementation that runs each path under one big lock (or on one CPU with no
preemption) allows only these runs of the model: it is coarser-grained than the
model, not wrong. The explorer restricted to them (:func:`restricted`, a
restriction of the successor relation) gives the states such an implementation
must reach exactly (issue 10: 153, 481 and 1,362 on the destruction presets).

A path is under way when the state records it between two of its steps (a field
the kernel keeps for the walk in flight); while one is, only its own next steps
are allowed. A path of one step is never under way.
"""

from __future__ import annotations

from kmemcg.model.config import NONE, Config
from kmemcg.model.controller import MODEL
from kmemcg.model.explore import Result, explore
from kmemcg.model.state import (
    ADMIN_IDLE,
    CSS_READ_USAGE,
    CSS_TEST_DEAD,
    IDLE,
    RUN_CHECK,
    RUN_DESTROY,
    RUN_SHRINK,
)

#: the actions that continue a path begun by another step, and the path they
#: continue: its name and the parameter naming its instance (None: one instance)
CONTINUES = {
    # memcg_kmem_newpage_charge .. memcg_kmem_commit_charge (a task's allocation)
    "charge.res": ("charge", "task"),
    "charge.commit": ("charge", "task"),
    "charge.abort": ("charge", "task"),
    "charge.commit_unpatched": ("charge", "task"),
    # memcg_update_kmem_limit's activation, begun by a kmem limit write
    "activate.update_cache_sizes": ("activate", None),
    "activate.static_key_inc": ("activate", None),
    "activate.set_active": ("activate", None),
    # rmdir -> mem_cgroup_css_offline -> kmem_cgroup_css_offline's cache walk
    "offline.mark_dead": ("offline", None),
    "offline.done": ("offline", None),
    # kmem_cache_shrink of a memcg cache from outside (the shrinker)
    "shrink.done": ("shrink", None),
    # kmem_cache_destroy_memcg_children of a root cache (module unload)
    "root_destroy.clear_dead": ("root_destroy", None),
    "root_destroy.cancel_work": ("root_destroy", None),
    "root_destroy.flush_work": ("root_destroy", None),
    "root_destroy.destroy_child": ("root_destroy", None),
    # memcg_create_cache_work_func, when it links the cache before setting its slot
    "create_work.set_slot": ("create_work", "cache"),
    # kmem_cache_destroy_work_func once a kworker picked the item up
    "destroy_work.check": ("destroy_work", "cache"),
    "destroy_work.shrink": ("destroy_work", "cache"),
    "destroy_work.destroy": ("destroy_work", "cache"),
    # mem_cgroup_css_free -> kmem_cgroup_destroy (3.8-3.10)
    "css_free.read_usage": ("css_free", "memcg"),
    "css_free.put": ("css_free", "memcg"),
}

_RUNNING = (RUN_CHECK, RUN_SHRINK, RUN_DESTROY)


def under_way(cfg: Config, s) -> frozenset:
    """The paths under way in ``s``: (path, instance) pairs, as :data:`CONTINUES`
    names them (instance None for a path of which one runs at a time)."""
    out = {("charge", t) for t, pc in enumerate(s.task_pc) if pc != IDLE}
    if s.admin_pc != ADMIN_IDLE:
        out.add(("activate", None))
    if s.offline_memcg != NONE:
        out.add(("offline", None))
    if s.shrinking != NONE:
        out.add(("shrink", None))
    if s.rdestroy_root != NONE:
        out.add(("root_destroy", None))
    out |= {("create_work", c) for c, half in enumerate(s.half_created) if half}
    out |= {("destroy_work", c) for c, w in enumerate(s.work) if w in _RUNNING}
    out |= {("css_free", m) for m, pc in enumerate(s.destroy_pc)
            if pc in (CSS_READ_USAGE, CSS_TEST_DEAD)}
    return frozenset(out)


#: the steps that begin a path of more than one step, and the path they begin
BEGINS = {
    "charge.kmem": ("charge", "task"),
    "kmem_limit.write": ("activate", None),
    "rmdir": ("offline", None),
    "shrink.release": ("shrink", None),
    "root_destroy.start": ("root_destroy", None),
    "create_work.publish": ("create_work", "cache"),
    "destroy_work.start": ("destroy_work", "cache"),
    "css_free.mark_dead": ("css_free", "memcg"),
}


def _path(table, name: str, args: tuple):
    path, param = table[name]
    return path, (None if param is None else args[MODEL.actions[name].params.index(param)])


def continues(cfg: Config, name: str, args: tuple):
    """The (path, instance) a step continues, or None if it begins a path."""
    return _path(CONTINUES, name, args) if name in CONTINUES else None


def path_of(name: str) -> str:
    """The path a step belongs to: the one it begins or continues; a step that is a
    path of its own (mkdir, alloc, fork) is named after its action."""
    for table in (CONTINUES, BEGINS):
        if name in table:
            return table[name][0]
    return name


def splits(cfg: Config, s, name: str, args: tuple) -> frozenset:
    """The paths the step ``name(args)`` splits in ``s``: (path under way, the path
    of the step), one pair for each path under way that the step does not continue."""
    mine = continues(cfg, name, args)
    return frozenset((p, path_of(name)) for p, inst in under_way(cfg, s) if (p, inst) != mine)


def serial(cfg: Config, s, name: str, args: tuple) -> bool:
    """Whether a serial implementation may take the step ``name(args)`` in ``s``:
    always when no path is under way, else only the next step of one that is."""
    return not splits(cfg, s, name, args)


def splitting(pairs) -> callable:
    """The steps an implementation that splits only ``pairs`` (:func:`splits`) may
    take: a restriction of the successor relation for :func:`restricted`."""
    pairs = frozenset(pairs)
    return lambda cfg, s, name, args: splits(cfg, s, name, args) <= pairs


def restricted(cfg: Config, allowed=serial, **kw) -> Result:
    """The explorer on the model's runs that ``allowed`` keeps (by default the
    serial ones); no deadlock check: a path left waiting for another is a run
    such an implementation does not have."""
    return explore(cfg, allowed=allowed, check_deadlock=False, **kw)
