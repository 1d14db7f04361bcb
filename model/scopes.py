"""The shipped scopes of the one model (TLA+ models of one spec), and their lookup.

Each preset fixes which memcgs, tasks and root caches exist, what boots
online, which actions are enabled and which bounds apply, so a race scenario
is a small scope of the whole controller rather than a model of its own.
"""

from __future__ import annotations

from kmemcg.model.actions import death, offline, root_destroy, shrinker, slab, tasks, workers
from kmemcg.model.config import NONE, PAGE_SIZE, ROOT, UNLIMITED, Config
from kmemcg.model.controller import MODEL


def _names(actions) -> tuple[str, ...]:
    return tuple(a.name for a in actions)


def _family(module, prefix: str) -> tuple[str, ...]:
    return tuple(n for n in _names(module.ACTIONS) if n.startswith(prefix + "."))


#: Actions the explorer leaves out of the default configurations: the
#: max_usage/failcnt resets multiply history states without reaching new
#: behaviour; the prover and the conformance machine still cover them.
_NO_RESETS = (
    "charge.kmem", "charge.res", "charge.commit", "charge.abort", "free.uncharge",
    "user.charge", "user.uncharge", "mkdir", "rmdir", "attach", "use_hierarchy.write",
    "limit.write", "kmem_limit.write", "activate.update_cache_sizes",
    "activate.static_key_inc", "activate.set_active",
)

#: memcg death's actions (model/actions/death.py): explored on the death presets
#: and proved on ``whole``; the conformance machine's scope leaves them out
#: (examples/c, which it drives, frees no memcg)
_DEATH_ONLY = frozenset(_names(death.ACTIONS))
#: memory.move_charge_at_immigrate's write, so the charges an attach moves:
#: explored, proved and driven on their own scopes (immigrate, immigrate-race,
#: conformance-immigrate); conformance leaves it out, since its attach (the
#: precharge's phases with reclaim, over every task and group) quadruples
#: conformance's BMC
_IMMIGRATE_ONLY = frozenset({"move_charge.write"})
#: a root cache created at run time (a module load): explored and interleaved
#: on its own scope (root-create); ``whole`` (the prover's default) and
#: conformance (no root caches) keep their root caches from boot
_RUNTIME_ROOTS_ONLY = frozenset({"kmem_cache_create"})
_BUT_DEATH = tuple(n for n in MODEL.actions
                   if n not in _DEATH_ONLY | _IMMIGRATE_ONLY | _RUNTIME_ROOTS_ONLY)
#: what tasks sharing an mm and user memory add (fork of a thread or a
#: process, with the mm owner's memcg charged; anonymous pages and page cache,
#: with reclaim at U in every res charge): proved and explored on the tasks
#: and page-cache presets, and driven by the conformance machine; ``whole``
#: (the prover's default, with its BMC) leaves them out, since owner lookups
#: over every task pair and reclaim's retries multiply its unrolling
_MM_ONLY = frozenset({"fork", "anon.charge", "pagecache.charge"})
_WHOLE = tuple(n for n in MODEL.actions if n not in _IMMIGRATE_ONLY | _MM_ONLY)

#: the page orders the whole-controller scopes allocate: a page, a thread
#: stack's order 1, kmalloc_large's orders 2 and 3 (SLUB, 3.8-3.10).
_ORDERS = (0, 1, 2, 3)

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
    # what the conformance machine drives: every action, no exploration bounds;
    # pages of orders 0-3 (order 2 and 3: kmalloc_large of 8 KiB + 1 to 32 KiB)
    # (fatal_signals: its machine sets a task's signal context, so a user page may
    # go to the root)
    "conformance": Config(
        name="conformance", memcgs=("root", "A", "B"), parents=(NONE, ROOT, 1),
        tasks=("t1", "t2"), max_pages=4, orders=_ORDERS, actions=_BUT_DEATH,
        fatal_signals=True,
    ),
}
# what the sequential machine drives with memory.move_charge_at_immigrate: conformance's
# scope and the file's writes (its Hypothesis rules: writes, a move with charges)
PRESETS["conformance-immigrate"] = Config(
    name="conformance-immigrate", memcgs=("root", "A", "B"), parents=(NONE, ROOT, 1),
    tasks=("t1", "t2"), max_pages=4, orders=_ORDERS,
    actions=(*_BUT_DEATH, *sorted(_IMMIGRATE_ONLY)), fatal_signals=True,
)
# the attach-mid-charge window, small enough to interleave the implementation exhaustively
PRESETS["race"] = Config(
    name="race", memcgs=("root", "A"), parents=(NONE, ROOT), tasks=("t1",), max_pages=1,
    kmem_limits=(PAGE_SIZE,), res_limits=(PAGE_SIZE,), max_failcnt=1,
    actions=("charge.kmem", "charge.res", "charge.commit", "charge.abort", "free.uncharge",
             "user.charge", "user.uncharge", "mkdir", "attach", "kmem_limit.write",
             "limit.write", "activate.update_cache_sizes", "activate.static_key_inc",
             "activate.set_active"),
)
# kmalloc_large beside single pages: an order-2 allocation (16 KiB) fits the
# kmem limit only in an empty group, and after a limit write the res limit never
# (its kmem charge is rolled back); small enough to interleave exhaustively
PRESETS["large"] = Config(
    name="large", memcgs=("root", "A"), parents=(NONE, ROOT), tasks=("t1",), max_pages=4,
    kmem_limits=(4 * PAGE_SIZE,), res_limits=(3 * PAGE_SIZE,), max_failcnt=1, orders=(0, 2),
    actions=("charge.kmem", "charge.res", "charge.commit", "charge.abort", "free.uncharge",
             "mkdir", "attach", "kmem_limit.write", "limit.write",
             "activate.update_cache_sizes", "activate.static_key_inc", "activate.set_active"),
)
#: the cache races: memcgs online and kmem-limited at boot, tasks forked into
#: them, the caches' paths and rmdir (whose css_offline walks the caches). A
#: protocol that ends reaches quiescent states legitimately: no deadlock check.
_CACHE_RACES = dict(
    boot_tasks=False, boot_memcgs=True, check_deadlock=False,
    # in the order the cache races were explored before the model was one, so a
    # failing profile stops after as many states as it did then
    actions=(*_names(slab.ACTIONS), *_names(tasks.ACTIONS), *_family(workers, "create_work"),
             "rmdir", *_names(offline.ACTIONS), *_family(workers, "destroy_work"),
             *_names(shrinker.ACTIONS), *_names(root_destroy.ACTIONS)),
)
PRESETS["destruction"] = Config(
    name="destruction", memcgs=("root", "A"), parents=(NONE, ROOT), tasks=(),
    roots=("dentry",), max_pages=0, max_cache_pages=2, **_CACHE_RACES,
)
# order-1 slabs of two objects, a thread stack, and a kmem limit of two slabs
# worth: charging meets the cache lifecycle
PRESETS["destruction-kmem"] = Config(
    name="destruction-kmem", memcgs=("root", "A"), parents=(NONE, ROOT), tasks=("t1",),
    roots=("dentry",), max_pages=0, max_cache_pages=4, slab_order=1, objs_per_slab=2,
    kmem_limit=4 * PAGE_SIZE, **_CACHE_RACES,
)
PRESETS["destruction-2roots"] = Config(
    name="destruction-2roots", memcgs=("root", "A"), parents=(NONE, ROOT), tasks=(),
    roots=("dentry", "inode"), max_pages=0, max_cache_pages=1, **_CACHE_RACES,
)
# the objects a root cache serves itself, kept on its own slabs (root_objects):
# an allocation in a context the kernel never charges (alloc.root: a kernel
# thread, an interrupt, __GFP_NOFAIL, a fatal signal) and the one that queues
# A's copy, beside A's copy; frees of either, offline and root destruction.
# /proc/slabinfo's root line counts the root's own objects and the copy's.
PRESETS["root-objects"] = Config(
    name="root-objects", memcgs=("root", "A"), parents=(NONE, ROOT), tasks=(),
    roots=("dentry",), max_pages=0, max_cache_pages=2, root_objects=True, **_CACHE_RACES,
)
# a root cache created at run time (kmem_cache_create of a module being
# loaded): the slot starts empty, A is online and kmem-active at boot, and the
# cache races' paths run once it exists; after its unload has finished
# (root destruction) the module may be loaded again, a fresh cache
PRESETS["root-create"] = Config(
    name="root-create", memcgs=("root", "A"), parents=(NONE, ROOT), tasks=(),
    roots=("dentry",), boot_roots=False, max_pages=0, max_cache_pages=2,
    **{**_CACHE_RACES, "actions": ("kmem_cache_create", *_CACHE_RACES["actions"])},
)

# memory.force_empty in a nested tree: B's user pages go to A under hierarchy,
# to the root without, and kmem stays charged where it was. No user.uncharge:
# a page reparented to a hierarchical root stays in the root's res counter
# (__mem_cgroup_uncharge_common skips the root, 3.8), so with uncharges that
# counter, and the state space, would grow without bound. force_empty is in no other exploration
# preset, so their counts stay as they were.
PRESETS["force-empty"] = Config(
    name="force-empty", memcgs=("root", "A", "B"), parents=(NONE, ROOT, 1), tasks=("t1",),
    max_pages=1, kmem_limits=(PAGE_SIZE,), res_limits=(), max_failcnt=1,
    actions=("charge.kmem", "charge.res", "charge.commit", "user.charge", "mkdir",
             "force_empty", "attach", "use_hierarchy.write", "kmem_limit.write",
             "activate.update_cache_sizes", "activate.static_key_inc", "activate.set_active"),
)

#: the activation path against a second administrator (attach, mkdir) and a
#: task's charge: the scopes of the activation profiles (model/profiles.py)
_ACTIVATE = ("kmem_limit.write", "activate.update_cache_sizes", "activate.static_key_inc",
             "activate.set_active")
# W11: a task attached into the group mid-activation charges at once; with
# ACTIVE before the key, its commit site may still be off
PRESETS["activation-key"] = Config(
    name="activation-key", memcgs=("root", "A"), parents=(NONE, ROOT), tasks=("t1",),
    max_pages=1, kmem_limits=(PAGE_SIZE,), res_limits=(), max_failcnt=1, second_admin=True,
    actions=("charge.kmem", "charge.res", "charge.commit", "charge.abort",
             "charge.commit_unpatched", "free.uncharge", "mkdir", "attach", *_ACTIVATE),
)
# W10: a second administrator's mkdir under a hierarchical group being activated
PRESETS["activation-mkdir"] = Config(
    name="activation-mkdir", memcgs=("root", "A", "B"), parents=(NONE, ROOT, 1), tasks=(),
    max_pages=0, kmem_limits=(PAGE_SIZE,), res_limits=(), max_failcnt=1, second_admin=True,
    actions=("mkdir", "use_hierarchy.write", *_ACTIVATE),
)
# the VM_BUG_ON corner: B, active under an inactive hierarchical A, charges an
# order-1 allocation to both; B is removed, and A's first K write is below it
PRESETS["activation-hierarchy"] = Config(
    name="activation-hierarchy", memcgs=("root", "A", "B"), parents=(NONE, ROOT, 1),
    tasks=("t1",), max_pages=2, kmem_limits=(PAGE_SIZE, 2 * PAGE_SIZE), res_limits=(),
    max_failcnt=0, orders=(1,),
    actions=("charge.kmem", "charge.res", "charge.commit", "mkdir", "rmdir", "attach",
             "use_hierarchy.write", *_ACTIVATE),
)

#: memcg death with kernel memory outstanding (3.8-3.10 refcounting): a task
#: forks into an active memcg (its stack charged), exits, the memcg is removed
#: with the stack still charged, and css_free's three steps race the last
#: uncharge (put_task_struct, or a page freed after a charge whose task moved
#: away) in every order (W1); the freed path may be mkdir'ed again.
_DEATH = (*_names(tasks.ACTIONS), "rmdir", *_names(death.ACTIONS), "mkdir")
PRESETS["death"] = Config(
    name="death", memcgs=("root", "A"), parents=(NONE, ROOT), tasks=("t1",),
    boot_tasks=False, boot_memcgs=True, kmem_limit=4 * PAGE_SIZE, max_pages=1,
    actions=(*_DEATH, "attach", "charge.kmem", "charge.res", "charge.commit", "charge.abort",
             "free.uncharge"),
)
# a parent and a child under use_hierarchy, activated by the parent's first K
# write and inherited at the child's mkdir: the child's stack is charged to both
# counters, so the parent's kmem reaches 0 only through the child's uncharge (W2)
PRESETS["death-hier"] = Config(
    name="death-hier", memcgs=("root", "P", "C"), parents=(NONE, ROOT, 1), tasks=("t1",),
    boot_tasks=False, max_pages=0, kmem_limits=(4 * PAGE_SIZE,), res_limits=(),
    actions=(*_DEATH, "use_hierarchy.write", *_ACTIVATE),
)

#: tasks and their mm: processes spawned into a kmem-limited group (a limit of
#: two stacks), threads and processes forked from them, threads moved to the
#: root and back, exits that pass an mm's ownership on, the final puts. A
#: stack goes to the mm owner's group: three tasks let a thread that moved away
#: from its owner fork a third (the root memcg is never charged, so the
#: forking thread's own group would show no charge)
PRESETS["tasks"] = Config(
    name="tasks", memcgs=("root", "A"), parents=(NONE, ROOT),
    tasks=("t1", "t2", "t3"), boot_tasks=False, boot_memcgs=True, kmem_limit=4 * PAGE_SIZE,
    max_pages=0, kmem_limits=(), res_limits=(),
    actions=(*_names(tasks.ACTIONS), "attach"),
)

#: user memory and reclaim: A active at boot (K of four pages), a task that
#: attaches to it (or is spawned there) and faults anonymous pages and page
#: cache, and the kernel page charge path; U written to two pages makes K >= U,
#: where a kernel charge at U reclaims the page cache, and K written to one
#: page makes K < U, where a kmem charge over K fails at once
PRESETS["page-cache"] = Config(
    name="page-cache", memcgs=("root", "A"), parents=(NONE, ROOT), tasks=("t1",),
    boot_memcgs=True, kmem_limit=4 * PAGE_SIZE, max_pages=3, kmem_limits=(PAGE_SIZE,),
    res_limits=(2 * PAGE_SIZE,), max_failcnt=1,
    actions=("pagecache.charge", "anon.charge", "charge.kmem", "charge.res", "charge.commit",
             "free.uncharge", "limit.write", "kmem_limit.write", "attach", "exit", "spawn",
             "put_task_struct"),
)

#: the per-cpu charge stock (domain 9), a scope knob, not a profile: it is how
#: the kernel charges res, and the other scopes keep the exact-counter
#: abstraction. Two tasks on two cpus, a batch of 2 pages (the kernel's
#: CHARGE_BATCH is 32), a res limit a batch does not fit beside a page: a
#: page's charge precharges a second to its cpu's stock, a failed batch is
#: retried with the page alone (its failcnt counted), a stock caching the other
#: memcg is drained on refill, by its cpu's drain work, or by force_empty
PRESETS["stock"] = Config(
    name="stock", memcgs=("root", "A"), parents=(NONE, ROOT), tasks=("t1", "t2"),
    boot_memcgs=True, max_pages=1, kmem_limits=(), res_limits=(2 * PAGE_SIZE,),
    max_failcnt=1, percpu_stock=True, charge_batch=2, nr_cpus=2,
    actions=("charge.kmem", "charge.res", "charge.commit", "charge.abort", "free.uncharge",
             "user.charge", "user.uncharge", "attach", "force_empty", "limit.write",
             "stock.drain"),
)
# the stock's own race, small enough to interleave the implementation
# exhaustively: one task on one cpu, its page charges against its stock, and the
# cpu's drain work
PRESETS["stock-race"] = Config(
    name="stock-race", memcgs=("root", "A"), parents=(NONE, ROOT), tasks=("t1",),
    boot_memcgs=True, max_pages=1, kmem_limits=(), res_limits=(), max_failcnt=1,
    percpu_stock=True, charge_batch=2, nr_cpus=1,
    actions=("charge.kmem", "charge.res", "charge.commit", "charge.abort", "free.uncharge",
             "user.charge", "user.uncharge", "attach", "stock.drain"),
)

#: memory.move_charge_at_immigrate: a process spawned into A (its stack charged
#: there) faults anonymous pages, moves to the root and back, with the file's
#: bit 0 set or not on either side, and forks a thread that moves without its
#: mm's charges (not the owner). A res limit of three pages on A makes a move
#: of two pages back fail: the precharge of both at once fails, then one at a
#: time the second does (two failcnts), -ENOMEM, and the task stays. Stacks
#: never move (kernel memory is mapped by no page table the walk reads)
PRESETS["immigrate"] = Config(
    name="immigrate", memcgs=("root", "A"), parents=(NONE, ROOT), tasks=("t1", "t2"),
    boot_tasks=False, boot_memcgs=True, kmem_limit=4 * PAGE_SIZE, max_pages=2,
    kmem_limits=(), res_limits=(3 * PAGE_SIZE,), max_failcnt=2,
    actions=("spawn", "fork", "anon.charge", "attach", "move_charge.write", "limit.write"),
)

# the move's own small scope, which the reference interleaves exhaustively (the
# interleaver replays choice sequences, too slow for immigrate's states): one
# process spawned into A (its stack charged), its page moved to the root and
# back, a res limit of two pages that the stack fills (the precharge fails)
PRESETS["immigrate-race"] = Config(
    name="immigrate-race", memcgs=("root", "A"), parents=(NONE, ROOT), tasks=("t1",),
    boot_tasks=False, boot_memcgs=True, kmem_limit=4 * PAGE_SIZE, max_pages=1,
    kmem_limits=(), res_limits=(2 * PAGE_SIZE,), max_failcnt=1,
    actions=("spawn", "anon.charge", "attach", "move_charge.write", "limit.write"),
)

# the whole controller: a nested tree, two tasks, a root cache, every action
# force_empty and memcg death included (the prover's scope; too big to explore),
# a pinned user page of a task with a fatal signal going to the root (fatal_signals),
# tasks sharing an mm and immigration aside (see _MM_ONLY, _IMMIGRATE_ONLY)
PRESETS["whole"] = Config(
    name="whole", memcgs=("root", "A", "B"), parents=(NONE, ROOT, 1), tasks=("t1", "t2"),
    roots=("dentry",), max_pages=4, orders=_ORDERS, actions=_WHOLE, fatal_signals=True,
)

DEFAULT = PRESETS["accounting"].validate()


def check_scope(cfg: Config) -> Config:
    """The configuration's actions exist in the model."""
    if cfg.actions is not None:
        unknown = sorted(set(cfg.actions) - set(MODEL.actions))
        if unknown:
            raise ValueError(f"unknown actions: {unknown}; the model has {sorted(MODEL.actions)}")
    return cfg


def named(name_or_path: str) -> Config:
    """A preset by name, or a configuration file by path."""
    if name_or_path in PRESETS:
        return PRESETS[name_or_path].validate()
    return check_scope(Config.load(name_or_path))
