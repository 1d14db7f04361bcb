"""The minimal path: an implementation of whole operations and a snapshot.

An implementation without the ``steps`` capability (its ``hello`` lists only
``call``) runs each operation to completion in one ``call(op, args) ->
result`` and is observed through ``snapshot()`` and ``read``: nothing about
preemption points, step records, threads, the workqueue or ``hidden()``.

:class:`WholeOperations` presents such an implementation to the harness as one
that steps. For each operation it runs the operation alone on the model
(:func:`~kmemcg.conformance.alone.model_operations`) from the state of the
implementation's last snapshot, hands the harness the model's steps, and makes
the implementation's own snapshot the post-state of the last one. So the
harness's checks all apply to what a sequential implementation shows: the
result and its errno, the state after the operation against the model's last
action (the oracle), every invariant, every read. What is left out is what a
whole operation has no way to show: the states between its steps, which are the
model's by construction. An operation that must fail and change nothing (an
errno with no step) must leave the snapshot as it was.

The interleaver drives the same presentation: an operation runs whole on its
first step, and until its last model step is handed out every other thread is
``Blocked`` on it (a big lock), so the runs it allows are the model's serial runs
(model/serial.py), and the verdict is the granularity's, between operations
(equal when its states where no path is under way are the model's).

Between whole operations every path is idle, so the bookkeeping fields of a
snapshot (the positions of the administrator and the tasks, the static key's
count, the walks in flight, the death ghosts, a cache's half-done creation) are
taken from the model when the implementation leaves them out
(:data:`BOOKKEEPING`); the counters, the tree, the activation state, the page
counts, the caches and their slabs are always the implementation's.

Where the model leaves a choice inside one operation (which partial slab an
allocation fills, whether a free releases the slab it empties), the model's
way that ends in the implementation's snapshot is the one handed to the
harness; an allocation names the slab it filled in its result, and the
harness's ghost of objects checks it as it checks a stepping implementation's.
Where no way ends there, the nearest is shown, so a report names the one slip.
Work items are named after what they do to which cache (``create CACHE``,
``destroy CACHE``) and called as operations while the model has them queued; a
path the kernel's environment starts (a kworker, RCU, the shrinker, a module's
unload) that is no longer due by its turn is not called at all.
"""

from __future__ import annotations

import json
from copy import deepcopy
from errno import EINVAL, ENOENT

from kmemcg.conformance.alone import KERNEL_PATHS, USER_CHARGES, model_operations, queued_work
from kmemcg.conformance.harness import (
    TaskContext,
    asks_bypass,
    expect_read,
    memcg_paths,
    protocol_args,
    reparents,
)
from kmemcg.conformance.harness import abstract_state as alpha
from kmemcg.conformance.protocol import Blocked, Done, ProtocolError, Step
from kmemcg.model.config import MAX_ORDER, ROOT, Config
from kmemcg.model.frame import leaves
from kmemcg.model.slabinfo import expect_proc_slabinfo
from kmemcg.model.state import State, initial, root_of, root_own, to_json

#: snapshot fields a sequential implementation may leave out, as the model has
#: them between whole operations (top level; per task; per memcg; per cache)
BOOKKEEPING = ("admin", "static_key", "mms", "offline", "root_destroy", "shrinking", "error")
TASK_BOOKKEEPING = ("pc", "charging", "order", "stack", "mm")
MEMCG_BOOKKEEPING = ("kmem_dead", "destroy", "death_puts")
CACHE_BOOKKEEPING = ("requeued", "half_created", "slot", "listed")
#: what a scope without root caches has none of: taken from the model if left out
NO_ROOTS = ("roots", "caches")

#: what a whole-operation implementation runs: the sequential machine's operations,
#: and the kernel paths that the interleaver and the race machine start (tasks,
#: memcg death, slab caches and their kworkers, a stock's drain)
WHOLE_OPERATIONS = ("mkdir", "rmdir", "write", "attach", "alloc_kmem", "free_kmem",
                    "alloc_user", "free_user", "fault_anon", "read_file", "set_task",
                    *KERNEL_PATHS)


#: an operation the model does not take where it is run (its "errno")
NOT_TAKEN = "no model step here"
#: the kernel paths the interleaver starts only once due (a task's spawn, fork, exit
#: and last put, memcg death, the shrinker, a module's unload, a kworker's work, a
#: stock's drain: KERNEL_PATHS but slab allocation, free and cache creation, whose
#: errors are the kernel face's): one no longer due by its turn is not called
WITHDRAWN = frozenset(KERNEL_PATHS) - {"kmem_cache_alloc", "kmem_cache_free", "kmem_cache_create"}


def completed(cfg: Config, snap, model: dict, names: dict):
    """A sequential implementation's snapshot with the bookkeeping it left out
    taken from ``model`` (``to_json`` of the model's state after the operation,
    memcgs keyed by the configuration's names; ``names``: a snapshot's memcg key,
    path or name, -> the configuration's name)."""
    if not isinstance(snap, dict):
        return snap  # the harness reports a malformed snapshot
    out = dict(snap)
    for k in (*BOOKKEEPING, *(() if cfg.roots else NO_ROOTS)):
        if k not in out:
            out[k] = model[k]
    tasks = out.get("tasks")
    if isinstance(tasks, dict):
        out["tasks"] = {t: ({**{k: model["tasks"][t][k] for k in TASK_BOOKKEEPING},
                             **v} if isinstance(v, dict) and t in model["tasks"] else v)
                        for t, v in tasks.items()}
    memcgs = out.get("memcgs")
    if isinstance(memcgs, dict):
        out["memcgs"] = {p: ({**{k: model["memcgs"][name][k] for k in MEMCG_BOOKKEEPING}, **v}
                             if isinstance(v, dict) and name is not None else v)
                         for p, v, name in ((p, v, names.get(p)) for p, v in memcgs.items())}
    caches = out.get("caches")
    if cfg.roots and isinstance(caches, dict):
        out["caches"] = {c: ({**{k: model["caches"][c][k] for k in CACHE_BOOKKEEPING}, **v}
                             if isinstance(v, dict) and c in model["caches"] else v)
                         for c, v in caches.items()}
    return out


class WholeOperations:
    """An implementation of whole operations (``call``, ``snapshot``, ``read``),
    driven as one that steps; see the module's docstring."""

    stepping = False

    def __init__(self, inner, cfg: Config, name: str = ""):
        self.inner = inner
        self.cfg = cfg
        self.name = name or getattr(inner, "name", "implementation")
        self.paths = memcg_paths(cfg)
        self._names = {**{p: n for p, n in zip(self.paths, cfg.memcgs, strict=True)},
                       **{n: n for n in cfg.memcgs}}
        self.ctx = {t: TaskContext() for t in cfg.tasks}
        #: page handle -> (kind, memcg or NONE, order), as the model charged it
        self.pages: dict[int, tuple] = {}
        #: object handle -> the cache holding it (a root's own slabs' number with
        #: root_objects), or None for one the root served and the model forgot
        self.objects: dict[int, int | None] = {}
        #: thread id -> (op, args), started and not yet run
        self.threads: dict[int, tuple[str, dict]] = {}
        #: thread id -> [(reply, the model state after it, or None after the last)]
        #: still to hand out
        self.replies: dict[int, list] = {}
        #: the thread whose model steps are being handed out: the others wait on it
        self.running: int | None = None
        self._next = 0
        self._pages_after: tuple = ()
        first = completed(cfg, inner.snapshot(), to_json(cfg, initial(cfg)), self._names)
        self.state = self._alpha(first)
        #: the implementation's snapshot after its last whole operation
        self._last = first
        #: the model's state between two steps of the operation being handed out,
        #: shown in its place (None: the implementation's is shown)
        self._between: State | None = None
        #: what save() kept: the implementation's snapshot, the last one
        #: completed, and this bookkeeping
        self._saved: tuple | None = None

    def _alpha(self, snap) -> State | None:
        try:
            return alpha(self.cfg, self.paths, snap)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, StopIteration):
            return None  # the harness, reading the same snapshot, says what is wrong

    # ------------------------------------------------------------ the faces

    def start(self, op: str, args: dict) -> int:
        if op not in WHOLE_OPERATIONS:
            raise ProtocolError(f"{op}: not an operation of the sequential path "
                                f"({', '.join(WHOLE_OPERATIONS)})")
        self._next += 1
        self.threads[self._next] = (op, dict(args))
        return self._next

    def step(self, thread: int):
        if self.running is not None and thread in self.threads:
            # one operation at a time; a thread whose operation is over may return
            return Blocked(f"the whole operation of thread {self.running}")
        if thread in self.threads:
            self._run(thread, *self.threads.pop(thread))
        queue = self.replies.get(thread)
        if not queue:
            raise ProtocolError(f"no thread {thread}")
        reply, between = queue.pop(0)
        if type(reply) is not Done:  # another's return leaves the operation under way shown
            self._between = between
        if thread == self.running and len(queue) <= 1:  # only its return is left
            self.running = None
        if not queue:
            del self.replies[thread]
        return reply

    def snapshot(self):
        return self._last if self._between is None else to_json(self.cfg, self._between)

    def read(self, path: str, file: str):
        if self._between is not None and path in self.paths:
            # between two steps of an operation the implementation ran whole
            return expect_read(self.cfg, self._between, self.paths.index(path), file)
        return self.inner.read(path, file)

    def slabinfo(self) -> str:
        if self._between is not None:
            return expect_proc_slabinfo(self.cfg, self._between)
        return self.inner.slabinfo()

    def memcg_state(self, path: str):
        """The snapshot's lifecycle of the memcg at ``path``: not asked of a
        sequential implementation, whose snapshot says it."""
        snap = self.snapshot()
        memcgs = snap.get("memcgs") if isinstance(snap, dict) else None
        memcgs = memcgs if isinstance(memcgs, dict) else {}  # the harness says what is wrong
        entry = memcgs.get(path, memcgs.get(self._names.get(path)))
        if not isinstance(entry, dict) or entry.get("lifecycle") in (None, "absent"):
            return -ENOENT
        return entry["lifecycle"]

    def queued(self) -> list[str]:
        shown = self._between if self._between is not None else self.state
        # an item a kworker took is no longer queued, even while it waits its turn
        taken = {a["item"] for op, a in self.threads.values() if op == "work"}
        return [w for w in queued_work(self.cfg, shown) if w not in taken] \
            if shown is not None else []

    def hidden(self):
        return None

    @property
    def checkpoints(self) -> bool:
        """Whether the implementation can save and restore its state."""
        return getattr(self.inner, "checkpoints", False)

    def save(self) -> None:
        """Save the implementation's state, and this bookkeeping of it."""
        self.inner.save()
        # the last snapshot is handed out as it is, never changed: shared
        self._saved = (self.inner.snapshot(), self._last,
                       deepcopy({f: getattr(self, f) for f in _BOOKKEEPING}))

    def restore(self) -> None:
        """Back to the last :meth:`save`, which stays saved. A restore is checked
        by the snapshot it leaves: a checkpoint only saves time, so one that does
        not bring the state back must not pass for a verdict."""
        self.inner.restore()
        raw, self._last, kept = self._saved
        if (now := self.inner.snapshot()) != raw:
            raise ProtocolError(f"restore did not bring back the state saved: its snapshot "
                                f"differs ({_raw_diff(raw, now)})")
        for f, v in deepcopy(kept).items():
            setattr(self, f, v)

    def close(self) -> None:
        self.inner.close()

    # ------------------------------------------------------------ the model's steps

    def _run(self, thread: int, op: str, args: dict) -> None:
        """Call the operation whole; queue the model's steps (the model's way that
        ends in the implementation's snapshot), the implementation's snapshot
        after the last, then its result."""
        pre = self.state
        if pre is None:
            raise ProtocolError("the last snapshot was malformed")
        ways = self._model(pre, op, args)
        if op in WITHDRAWN and ways[0][0] is NOT_TAKEN:
            # started while another ran, and by its turn no longer due: its caller
            # (a kworker, RCU, module unload, the shrinker) would not call it now
            self.replies[thread] = [(Done(0), None)]
            return
        result, placed = _placed(op, self.inner.call(op, args))
        raw = self.inner.snapshot()
        chosen, distance = None, None
        for way in ways:  # the one whose end is the implementation's, else the nearest
            snap = completed(self.cfg, raw, to_json(self.cfg, way[2]), self._names)
            after = self._alpha(snap)
            d = 0 if after == way[2] else _distance(after, way[2])
            if distance is None or d < distance:
                chosen, distance = (way, snap, after), d
            if d == 0:
                break
        (pure, steps, _, pages_after), snap, after = chosen
        if steps and op == "free_kmem" and args.get("task") is not None \
                and pre.task_memcg[self.cfg.task_index(args["task"])] < 0 \
                and result != 0 and after == pre:
            # freed in the name of a task that exited while the free waited its
            # turn: the page is the model's to free, the name the implementation's
            # to refuse, changing nothing
            pure, steps = result, []
        if not steps and after is not None and after != pre:
            raise ProtocolError(
                f"{op}({args}) returned {result}: the model "
                f"{'fails it with ' + str(pure) if pure is not None else 'takes no step'} "
                f"and changes nothing, but the snapshot changed: {_diff(self.cfg, pre, after)}")
        # shown after each step: the model's post-state, but the implementation's after the last
        between = [*(p for *_, p in steps[:-1]), None] if steps else []
        self.replies[thread] = (
            [(Step(a, {**protocol_args(self.cfg, self.paths, a, m),
                       **self._choices(before, a, m, r, result, placed)}, r), shown)
             for (before, a, m, r, _), shown in zip(steps, between, strict=True)]
            + [(Done(result), None)])
        self.running = thread
        self._last, self.state = snap, after
        self._track(op, args, steps, result, pages_after)

    def _choices(self, s: State, action: str, margs: tuple, ret: int, result, slab) -> dict:
        """What a stepping implementation's allocation step says of its choices:
        the object it hands out, the slab it sits on, the root that served it."""
        if action not in ("alloc", "alloc.partial", "alloc.root") or ret < 0:
            return {}
        served = action == "alloc.root" or not s.slot[margs[0]]
        root = self.cfg.roots[margs[0] if action == "alloc.root" else root_of(self.cfg, margs[0])]
        return {"object": result, **({"slab": slab} if slab is not None else {}),
                **({"root": root} if served else {})}

    def _model(self, s: State, op: str, args: dict) -> list:
        """The operation alone on the model: its ways, [(pure errno or None, steps,
        post, pages after)]."""
        if op == "set_task":
            return [(0, [], s, ())]
        a = dict(args)
        order = a.get("order", 0)
        if op == "alloc_kmem" and (not isinstance(order, int) or isinstance(order, bool)
                                   or not 0 <= order < MAX_ORDER):
            return [(-EINVAL, [], s, ())]  # the protocol's: no such page order
        if op == "alloc_kmem" and asks_bypass(self.ctx[a["task"]], a):
            a["bypass"] = "context"
        if op in USER_CHARGES and self.ctx[a["task"]].fatal_signal:
            a["bypass"] = "fatal_signal"
        if op == "kmem_cache_alloc" and a.get("task") in self.ctx and not a.get("context"):
            ctx = self.ctx[a["task"]]  # memcg_kmem_get_cache's tests of current
            a["context"] = "kthread" if ctx.kthread or not ctx.has_mm else \
                "fatal_signal" if ctx.fatal_signal else None
        if op == "kmem_cache_free":
            if a.get("object") not in self.objects:
                return [(-ENOENT, [], s, ())]
            a["cache"] = self.objects[a["object"]]
        pages = ()
        if op in ("free_kmem", "free_user"):
            page = self.pages.get(a.get("page"))
            if page is None:
                return [(-ENOENT, [], s, ())]
            kind, m, order = page
            a["page"] = {"kind": kind, "memcg": m, "order": order}
            pages = (page,)
        ways = model_operations(self.cfg, s, self.paths, pages, op, a)
        if ways[0][1] is None:
            # started while another ran, and by its turn no longer one the model
            # takes (an attach of a task that exited meanwhile): as on the stepping
            # path, it may fail and must change nothing
            return [(NOT_TAKEN, [], s, ())]
        return ways

    def _track(self, op: str, args: dict, steps, result, pages_after) -> None:
        """The page and object handles, as the harness tracks them (the set_task
        context too)."""
        if op == "set_task":
            ctx = self.ctx[args["task"]]
            for k in ("kthread", "fatal_signal", "has_mm"):
                if args.get(k) is not None:
                    setattr(ctx, k, bool(args[k]))
        elif op in ("alloc_kmem", "alloc_user") and pages_after \
                and isinstance(result, int) and result >= 0:
            self.pages[result] = pages_after[0]
        elif op in ("free_kmem", "free_user") and steps:
            self.pages.pop(args["page"], None)
        elif op == "kmem_cache_alloc" and isinstance(result, int) and result >= 0:
            self.objects[result] = self._holder(steps)
        elif op == "kmem_cache_free" and (steps or self.objects.get(args.get("object"), 0) is None):
            self.objects.pop(args["object"], None)
        for pre, action, margs, ret, _ in steps:
            if reparents(action, ret):  # mem_cgroup_reparent_charges moved its user pages
                m = margs[0]
                target = self.cfg.parents[m] if pre.hier[m] else ROOT
                self.pages = {h: (k, target if k == "user" and mm == m else mm, o)
                              for h, (k, mm, o) in self.pages.items()}

    def _holder(self, steps) -> int | None:
        """The cache an allocation's object sits in, by the model's step: the
        memcg's copy once published, else (or in a context the kernel never
        charges) the root's own slabs with root_objects; None: forgotten."""
        if not steps:
            return None
        pre, action, margs, _, _ = steps[0]
        if action == "alloc.root":
            return root_own(self.cfg, margs[0])
        c = margs[0]
        if pre.slot[c]:
            return c
        return root_own(self.cfg, root_of(self.cfg, c)) if self.cfg.root_objects else None


#: what WholeOperations keeps of the implementation's run, saved beside its state
_BOOKKEEPING = ("ctx", "pages", "objects", "threads", "replies", "running", "_next",
                "_pages_after", "state", "_between")


def _placed(op: str, result):
    """An allocation's result as the harness takes it (the handle), and the slab
    the implementation says the object sits on (None: it named none)."""
    if op == "kmem_cache_alloc" and isinstance(result, dict):
        return result.get("object"), result.get("slab")
    return result, None


def _distance(a: State | None, b: State) -> int:
    """How many fields two states differ in: a wrong implementation is shown
    against the model's way it went nearest, so the report names its one slip."""
    xs, ys = list(leaves(a)) if a is not None else [], list(leaves(b))
    return sum(x != y for x, y in zip(xs, ys, strict=False)) + abs(len(xs) - len(ys)) + (a is None)


def _raw_diff(a, b, at: str = "") -> str:
    """Where two snapshots (JSON values) first differ, briefly."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if a.get(k) != b.get(k):
                return _raw_diff(a.get(k), b.get(k), f"{at}.{k}" if at else str(k))
    return f"{at or 'the snapshot'}: saved {json.dumps(a, default=repr)[:80]}, " \
        f"now {json.dumps(b, default=repr)[:80]}"


def _diff(cfg: Config, a: State, b: State) -> str:
    """The fields two states differ in, briefly."""
    out = [f"{f}: {x} -> {y}" for f, x, y in zip(a._fields, a, b, strict=True) if x != y]
    return "; ".join(out)[:400] or "nothing"

