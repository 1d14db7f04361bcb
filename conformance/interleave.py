"""Exhaustive interleavings of the implementation, over any scope.

Breadth-first over the implementation's abstract states: from each state,
every operation the environment may start, every running thread's next step,
and every queued work item a kworker may pick up. Each choice is one
implementation step, checked by the one step check the harness uses
(:func:`~kmemcg.conformance.harness.judge_step`: the oracle, then every
invariant) on the harness's alpha; an implementation state is reached again by
replaying its choice sequence on a fresh instance, since running generators
cannot be copied. The implementation is driven through the adapter protocol
(:mod:`kmemcg.conformance.protocol`), so the same search runs in process and
over a pipe. The set of abstract states reached must equal the model
explorer's on the same configuration.

Two kinds of operation, one search:

- *cgroupfs and page operations* (mkdir, a write to a ``memory.*`` file,
  attach, a page allocation or free) run on a thread per actor (the
  administrator, each task, the kernel freeing a page), one operation at a time;
  the environment offers the ones the harness's accounting machine would. An
  operation's result is checked when it returns (the errno of its last step, a
  page handle or -ENOMEM), and its return is a silent move the search closes
  over (the same abstract state, one actor free again).
- *kernel paths of the model's actions* (slab allocation and free, fork, exit,
  put_task_struct, rmdir with its offline walk, root-cache destruction, an
  outside shrink) are offered when the model's guard of their first action
  holds (the environment's contract), each on a thread of its own.

A try that cannot step (it waits for a lock, or its thread is gone) must leave
the abstract state and ``hidden()`` (what alpha forgets but the next steps
depend on) alone; with root caches in scope the slabinfo files are compared with
the model in every new state, and the reference's lock orders (lockdep) are
collected over every run.
"""

from __future__ import annotations

import time
from collections import deque
from copy import deepcopy
from dataclasses import dataclass, field
from errno import EINVAL, ENOENT, ENOMEM

from kmemcg.conformance.adapters import PythonAdapter, dies
from kmemcg.conformance.claims import Claim, KnownBug
from kmemcg.conformance.harness import (
    AlphaError,
    abstract_state,
    judge_step,
    memcg_name,
    memcg_paths,
    model_args,
    read_problems,
    reparents,
)
from kmemcg.conformance.objects import ALLOCS, FREES, SlabObjects
from kmemcg.conformance.oracle import EvalOracle
from kmemcg.conformance.protocol import (
    Blocked,
    Done,
    ImplementationTimeout,
    ProtocolError,
    Step,
)
from kmemcg.impl.kernel import Kernel
from kmemcg.impl.lockdep import Lockdep
from kmemcg.model.config import UNLIMITED, Config
from kmemcg.model.controller import MODEL
from kmemcg.model.serial import splits
from kmemcg.model.slab_common import object_size
from kmemcg.model.slabinfo import expect_proc_slabinfo
from kmemcg.model.state import (
    ABSENT,
    CONTEXTS,
    LIFECYCLE,
    MEMCG_FREED,
    ONLINE,
    ROOT,
    memcg_of,
    root_of,
)


def _cache(cfg, paths, c) -> dict:
    """A cache number -> the protocol's arguments naming it: its root, its memcg."""
    return {"root": cfg.roots[root_of(cfg, c)], "path": paths[memcg_of(cfg, c)]}


#: thread keys of the guarded operations' starts, made once per choice
_KEYS: dict = {}


def _key(choice) -> str:
    key = _KEYS.get(choice)
    if key is None:
        key = _KEYS[choice] = f"{choice[1]}:{','.join(map(str, choice[2:]))}"
    return key


#: the kernel paths the environment starts when the model's guard of the
#: action they begin with holds: the protocol operation that starts each, and
#: its arguments, given the action's
OPERATIONS = {
    # the slab is the implementation's choice: ``fill`` is a hint the reference
    # honours, so that every fill the model allows is reached on it; another
    # implementation's own choice is accepted when the model allows it (_same_path)
    "alloc": lambda cfg, p, c: ("kmem_cache_alloc", _cache(cfg, p, c)),
    "alloc.partial": lambda cfg, p, c, fill: ("kmem_cache_alloc",
                                              {**_cache(cfg, p, c), "fill": fill}),
    # a context the kernel never charges, on a task of the first group (while it
    # is online: the same step in the root memcg's "unaccounted" context reaches
    # the same states); "unaccounted": by a task of the root memcg
    "alloc.root": lambda cfg, p, r, x: ("kmem_cache_alloc", {
        "root": cfg.roots[r], **({"path": p[ROOT]} if CONTEXTS[x] == "unaccounted" else
                                 {"path": p[1], "context": CONTEXTS[x]})}),
    # a free names an object on a slab of that fill (_Run.apply picks its handle,
    # SlabObjects.handle_on), freed by the kernel (no task: an RCU callback, a
    # kworker), so a free that uncharges the freeing task's group rather than
    # the one recorded at the charge is seen; ``release`` is a hint, as ``fill``
    # is; by (root, path, fill) for an implementation whose steps name no object
    "free.object": lambda cfg, p, c, fill: ("kmem_cache_free",
                                            {**_cache(cfg, p, c), "fill": fill,
                                             "release": False}),
    "free.release_pages": lambda cfg, p, c: ("kmem_cache_free",
                                             {**_cache(cfg, p, c), "fill": 1, "release": True}),
    "spawn": lambda cfg, p, t, m: ("spawn", {"task": cfg.tasks[t], "path": p[m]}),
    "fork": lambda cfg, p, t, parent, th: ("fork", {"task": cfg.tasks[t],
                                                   "parent": cfg.tasks[parent],
                                                   "thread": bool(th)}),
    "exit": lambda cfg, p, t: ("exit", {"task": cfg.tasks[t]}),
    "put_task_struct": lambda cfg, p, t: ("put_task_struct", {"task": cfg.tasks[t]}),
    "rmdir": lambda cfg, p, m: ("rmdir", {"path": p[m]}),
    "root_destroy.start": lambda cfg, p, r: ("kmem_cache_destroy", {"root": cfg.roots[r]}),
    "shrink.release": lambda cfg, p, c: ("kmem_cache_shrink", _cache(cfg, p, c)),
    # the kernel runs css_free once the cgroup is unpinned, and the RCU free once
    # the refcnt is 0: the environment's contract, as for the workers
    "css_free.mark_dead": lambda cfg, p, m: ("css_free", {"path": p[m]}),
    "mem_cgroup_free": lambda cfg, p, m: ("mem_cgroup_free", {"path": p[m]}),
}

#: the cgroupfs and page operations, each run by one actor at a time: who
#: runs it, and its protocol arguments
ACTOR_OPERATIONS = {
    "mkdir": (lambda path: "admin", lambda path: {"path": path}),
    "write": (lambda path, file, text: "admin",
              lambda path, file, text: {"path": path, "file": file, "text": text}),
    "attach": (lambda task, path: "admin", lambda task, path: {"task": task, "path": path}),
    "alloc_kmem": (lambda task, fail, order: task,
                   lambda task, fail, order: {"task": task, "fail": fail,
                                              **({"order": order} if order else {})}),
    "alloc_user": (lambda task: task, lambda task: {"task": task}),
    "fault_anon": (lambda task: task, lambda task: {"task": task}),
    "read_file": (lambda task: task, lambda task: {"task": task}),
    "free_kmem": (lambda task, pfn: "kernel",
                  lambda task, pfn: {**({"task": task} if task else {}), "page": pfn}),
    "free_user": (lambda pfn: "kernel", lambda pfn: {"page": pfn}),
    # a cpu's stock drain work, one step (drain_local_stock)
    "drain_stock": (lambda cpu: "kernel", lambda cpu: {"cpu": cpu}),
    # a module load: the root cache of a slot, in the scope's geometry; also
    # tried while one of that name is loaded (a duplicate: -EINVAL, no step)
    "kmem_cache_create": (lambda name, size, num, order: "insmod",
                          lambda name, size, num, order: {"name": name, "size": size,
                                                          "objs_per_slab": num,
                                                          "order": order}),
}


#: with a configuration's ``second_admin``, the operations a second
#: administrator runs beside the first's writes
SECOND_ADMIN = frozenset({"mkdir", "attach"})


def actor_of(cfg: Config, op: str, args) -> str:
    """The actor that runs a cgroupfs or page operation."""
    if cfg.second_admin and op in SECOND_ADMIN:
        return "admin2"
    return ACTOR_OPERATIONS[op][0](*args)


@dataclass
class InterleaveResult:
    states: set = field(default_factory=set)
    steps: int = 0
    seconds: float = 0.0
    problem: str | None = None
    trace: list = field(default_factory=list)
    #: False when max_states stopped the search: the states are then a subset
    complete: bool = True
    #: lock orders seen in every run (lockdep's graph), and its cycles; None
    #: when the implementation records none (only the reference reports to lockdep)
    lock_orders: list | None = field(default_factory=list)
    lock_cycles: list = field(default_factory=list)
    #: Ctrl-C stopped the search: the states and steps are those seen so far
    interrupted: bool = False
    #: under a kernel claim: the states where a known bug broke an invariant
    #: (stored, not expanded), and each known bug seen
    broken: set = field(default_factory=set)
    warnings: list = field(default_factory=list)
    #: the paths the implementation split: (path under way, the path of the step
    #: taken in its middle), as model/serial.py names them
    splits: set = field(default_factory=set)
    #: the implementation runs whole operations (conformance/sequential.py): the
    #: states between two steps of one operation are the model's, shown for it
    whole: bool = False
    #: tries begun from a restored checkpoint rather than a replay from boot
    restored: int = 0


def problem_of(e: ProtocolError, during=None) -> str:
    """An implementation's failure as a verdict line, naming the try ``during``
    which it happened; a time-out says so first."""
    text = str(e) if during is None else f"{during}: {e}"
    return f"timeout: {text}" if isinstance(e, ImplementationTimeout) else text


def reference(cfg: Config, lockdep: Lockdep | None = None):
    """``make()`` for the reference kernel booted as ``cfg`` says."""
    return lambda: PythonAdapter(Kernel.for_config(cfg, lockdep), name="reference")


def _named(choice) -> str:
    """A choice as the text a verdict names it by."""
    return " ".join(map(str, choice))


def _limit_text(v: int) -> str:
    return "-1" if v == UNLIMITED else str(v)


def _allowed(cfg: Config, action: str) -> bool:
    return cfg.actions is None or action in cfg.actions


_UNKNOWN = object()


class _Run:
    """One implementation instance (``make()``, an adapter) driven by a choice
    sequence; what it raises or breaks arrives as a :class:`ProtocolError`."""

    def __init__(self, cfg: Config, make):
        self.cfg = cfg
        self.paths = memcg_paths(cfg)
        self.impl = make()
        #: thread key -> [thread id, op, args, the model steps it took]
        self.threads: dict[str, list] = {}
        #: page handle -> (kind, memcg index charged or None), as the operations returned them
        #: page handle -> (kind, memcg charged or None, order)
        self.pages: dict[int, tuple[str, int | None, int]] = {}
        self.waiting: str | None = None
        self.result_problem: str | None = None
        #: the actor whose operation returned on the last try (a silent move)
        self.returned: str | None = None
        #: the guarded kernel path that returned on the last try (a silent move
        #: that matters only when it releases what another try waits for)
        self.path_returned: str | None = None
        #: the thread the last try drove
        self.key: str | None = None
        #: the known bug of a claimed kernel the last try's step was (claims.py)
        self.known: KnownBug | None = None
        #: told of every step checked (a conformance.coverage.Coverage), or None
        self.coverage = None
        #: the model's parameters of the last step checked
        self.margs: tuple = ()
        self._hidden = _UNKNOWN
        #: guarded path thread key -> the model action (name, args) it was started
        #: for, until its first model step (which must be that action)
        self.first: dict[str, tuple] = {}
        #: the action the last try's step had to be (its path's first), or None
        self.expected: tuple | None = None
        #: the slab objects handed out (the ghost: handle -> cache and slab)
        self.objects = SlabObjects(cfg)
        #: guarded path thread key -> (protocol op, its args, the steps it took)
        self.paths_run: dict[str, tuple[str, dict, list]] = {}
        #: what the last try's step broke of the ghost of objects, if anything
        self.ghost_problem: str | None = None

    @property
    def checkpoints(self) -> bool:
        """Whether the run can be saved and restored rather than replayed: an
        implementation of whole operations with the ``checkpoint`` capability."""
        return getattr(self.impl, "stepping", True) is False \
            and getattr(self.impl, "checkpoints", False)

    def save(self) -> dict:
        """Save the implementation's state; this run's record of it, returned."""
        self.impl.save()
        return _copied({f: v for f, v in vars(self).items() if f not in _NOT_SAVED})

    def restore(self, saved: dict) -> _Run:
        """This run, back where :meth:`save` left it (``saved`` stays as it was)."""
        self.impl.restore()
        vars(self).update(_copied(saved))
        return self

    def abstract(self) -> tuple:
        """(the kernel's abstract state, None) or (None, why its snapshot is refused)."""
        try:
            snap = self.impl.snapshot()
        except ImplementationTimeout:
            raise
        except ProtocolError as e:
            return None, str(e)
        try:
            return abstract_state(self.cfg, self.paths, snap), None
        except (AlphaError, ValueError, KeyError, TypeError, IndexError, AttributeError,
                StopIteration) as e:
            return None, f"snapshot refused: {type(e).__name__}: {e}"

    def read_problems(self, state) -> str | None:
        """Every cgroupfs read of every online memcg, checked against ``state`` as
        the harness checks a read (:func:`~kmemcg.conformance.harness.read_problems`):
        the problem, or None."""
        bad = read_problems(self.cfg, state, self.paths, self.impl.read)
        return f"[read] {'; '.join(bad)}" if bad else None

    def hidden(self):
        """The implementation's ``hidden()`` state, asked once between two tries
        (each question is a round trip over a pipe)."""
        if self._hidden is _UNKNOWN:
            self._hidden = self.impl.hidden()
        return self._hidden

    def pending(self) -> tuple:
        """What the next steps depend on that neither the abstract state nor
        ``hidden()`` shows: the fail flag of each page allocation in flight, chosen
        when it starts and used by its last step (commit or abort) and its result.
        Two runs that differ only in it must not be merged; once the allocation's
        last model step is taken (or a charge failed), its result is settled. A
        bypassed allocation's flag decides only its result, which the search
        checks before merging such a run (:meth:`returns_settled`)."""
        return tuple(sorted((key, t[2][1]) for key, t in self.threads.items()
                            if t[1] == "alloc_kmem" and not _settled(t[3])))

    def returns_settled(self) -> str | None:
        """Let the allocation whose step was just taken return, if that step
        settled it (a bypass): the problem with its result, or None. A run about
        to be merged with one whose fail flag differed is checked this way."""
        thread = self.threads.get(self.key)
        if thread is None or thread[1] != "alloc_kmem" or not thread[3] \
                or thread[3][-1].action != "charge.bypass":
            return None
        y = self.impl.step(thread[0])
        if type(y) is not Done:
            return None  # more steps: the stored run explores them
        del self.threads[self.key]
        self._returned(thread, y.result)
        return self.result_problem

    # ------------------------------------------------------------ choices

    def choices(self, state):
        cfg, out = self.cfg, []
        for name in OPERATIONS:
            if not _allowed(cfg, name):
                continue
            action = MODEL.actions[name]
            for args in action.domain(cfg):
                # a path started and waiting for its first step goes on by a step
                # of its thread, not by a second start of it
                if action.guard(cfg, state, *args) \
                        and _key(("start", name, *args)) not in self.first:
                    out.append(("start", name, *args))
        busy = set(self.threads)
        out += [("start", op, *args) for op, args in self._actor_operations(state)
                if actor_of(cfg, op, args) not in busy]
        out += [("step", t) for t in sorted(self.threads)]
        if self.cfg.roots:
            out += [("work", name) for name in self.impl.queued()]
        return out

    def _actor_operations(self, s):
        """The cgroupfs and page operations the environment may start in ``s``."""
        cfg, paths, ops = self.cfg, self.paths, []
        for m, path in enumerate(paths):
            # a path never created, or whose memcg was freed (the model keeps one
            # memcg per path, so a lingering offline one is not re-created)
            if m and s.lifecycle[m] in (ABSENT, MEMCG_FREED) \
                    and s.lifecycle[cfg.parents[m]] == ONLINE and _allowed(cfg, "mkdir"):
                ops.append(("mkdir", (path,)))
            if s.lifecycle[m] != ONLINE:
                continue
            writes = []
            if _allowed(cfg, "use_hierarchy.write"):
                writes += [("memory.use_hierarchy", t) for t in ("0", "1")]
            if _allowed(cfg, "limit.write"):
                writes += [("memory.limit_in_bytes", _limit_text(v)) for v in cfg.res_limits]
            if _allowed(cfg, "kmem_limit.write"):
                writes += [("memory.kmem.limit_in_bytes", _limit_text(v))
                           for v in cfg.kmem_limits]
            if _allowed(cfg, "max_usage.reset"):
                writes += [("memory.max_usage_in_bytes", "0"),
                           ("memory.kmem.max_usage_in_bytes", "0")]
            if _allowed(cfg, "failcnt.reset"):
                writes += [("memory.failcnt", "0"), ("memory.kmem.failcnt", "0")]
            if _allowed(cfg, "force_empty"):  # the root's -EINVAL is a try with no step
                writes.append(("memory.force_empty", "0"))
            if _allowed(cfg, "move_charge.write"):  # the model's values: 0-3, and 4 refused
                writes += [("memory.move_charge_at_immigrate", str(v)) for v in range(5)]
            ops += [("write", (path, f, t)) for f, t in writes]
            if _allowed(cfg, "attach"):
                ops += [("attach", (t, path)) for i, t in enumerate(cfg.tasks)
                        if s.task_memcg[i] >= 0]
        for i, t in enumerate(cfg.tasks):
            if s.task_memcg[i] < 0:
                continue  # not forked, or exited
            if _allowed(cfg, "charge.kmem"):
                # a page allocation that fails ends with charge.abort: only where the
                # scope has that step (force-empty does not)
                fails = (False, True) if _allowed(cfg, "charge.abort") else (False,)
                ops += [("alloc_kmem", (t, fail, o)) for o in cfg.orders for fail in fails]
            if _allowed(cfg, "user.charge"):
                ops.append(("alloc_user", (t,)))
            if _allowed(cfg, "anon.charge"):
                ops.append(("fault_anon", (t,)))
            if _allowed(cfg, "pagecache.charge"):
                ops.append(("read_file", (t,)))
        if _allowed(cfg, "stock.drain"):
            ops += [("drain_stock", (c,)) for c in range(cfg.cpus) if s.stock_memcg[c] >= 0]
        if _allowed(cfg, "kmem_cache_create"):
            create = MODEL.actions["kmem_cache_create"]
            geometry = (object_size(cfg), cfg.objs_per_slab, cfg.slab_order)
            ops += [("kmem_cache_create", (name, *geometry)) for r, name in enumerate(cfg.roots)
                    if s.root_alive[r] or create.guard(cfg, s, r)]
        # free one page of each kind and order per memcg: those are interchangeable
        seen = set()
        # a kernel page is freed in the name of a task that exists, or by the
        # kernel once none does (it outlived them all: a dentry, a socket); the
        # free uncharges the memcg recorded at the charge, whoever frees it
        freer = next((t for i, t in enumerate(cfg.tasks) if s.task_memcg[i] >= 0), None)
        for pfn in sorted(self.pages):
            kind, memcg, order = self.pages[pfn]
            if (kind, memcg, order) in seen or memcg is None:
                continue
            seen.add((kind, memcg, order))
            if kind == "kmem" and _allowed(cfg, "free.uncharge"):
                ops.append(("free_kmem", (freer, pfn)))
            if kind == "user" and _allowed(cfg, "user.uncharge"):
                ops.append(("free_user", (pfn,)))
        return ops

    # ------------------------------------------------------------ stepping

    def _retire(self, key: str) -> bool:
        """Let a thread that took its last step return; False if it had more to do
        (the step it then takes is one no choice asked for, and shows as a change)."""
        thread = self.threads.get(key)
        if thread is None:
            return True
        y = self.impl.step(thread[0])
        if type(y) is Done:
            del self.threads[key]
            self._path_returned(key, y.result)
            return True
        return False

    def _observe(self, key: str, step: Step) -> None:
        """A guarded path's step: the ghost of objects follows an allocation or
        a free (what it breaks, ``ghost_problem``, the checked try reports)."""
        _, op_args, steps = self.paths_run[key]
        steps.append(step)
        if step.action not in ALLOCS and step.action not in FREES:
            return
        try:
            margs = model_args(self.cfg, self.paths, step.action, step.args)
        except (KeyError, ValueError, StopIteration, TypeError, AlphaError):
            return  # the checked try reports a step that names no model parameters
        if step.action in ALLOCS:
            self.ghost_problem = self.objects.allocated(step.action, margs, step.args, step.ret)
        elif op_args.get("object") is not None:
            self.ghost_problem = self.objects.freed(op_args["object"], step.action, margs)

    def _path_returned(self, key: str, result) -> None:
        """A guarded path returned: a slab path's result is checked against its
        steps and the ghost of objects (``result_problem``)."""
        op, op_args, steps = self.paths_run.pop(key, (None, None, None))
        if op in ("kmem_cache_alloc", "kmem_cache_free"):
            self.result_problem = self.objects.returned(op, op_args, steps, result)

    def apply(self, choice) -> Step | None:
        """Take one step; None when the choice cannot step (blocked, gone, or an
        operation returned)."""
        self.waiting = None  # the lock the try found taken, if that is why it did not step
        self.returned = None
        self.path_returned = None
        self._hidden = _UNKNOWN
        kind = choice[0]
        if kind == "start":
            name, args = choice[1], choice[2:]
            actor = ACTOR_OPERATIONS.get(name)
            if actor is not None:
                key = actor_of(self.cfg, name, args)
                thread = [self.impl.start(name, actor[1](*args)), name, args, []]
                if name in ("free_kmem", "free_user"):
                    # the page is gone once freed, before the free returns: an
                    # implementation may hand its number out again meanwhile
                    self.pages.pop(args[-1], None)
            else:
                key = _key(choice)
                if key in self.threads and not self._retire(key):
                    return None
                op, op_args = OPERATIONS[name](self.cfg, self.paths, *args)
                if op == "kmem_cache_free":
                    h = self.objects.handle_on(args[0], op_args["fill"])
                    if h is not None:
                        op_args = {"object": h, "release": op_args["release"]}
                thread = [self.impl.start(op, op_args), name, None, None]
                self.first[key] = (name, tuple(args))
                self.paths_run[key] = (op, op_args, [])
        elif kind == "step":
            key = choice[1]
            thread = self.threads.get(key)
            if thread is None:
                return None
        else:
            key = f"kworker:{choice[1]}"
            if not self._retire(key):
                return None
            thread = [self.impl.start("work", {"item": choice[1]}), "kworker", None, None]
        self.key = key  # the thread this try drives: a lane of a picture
        self.expected = None
        self.ghost_problem = None
        y = self.impl.step(thread[0])
        if type(y) is Step:
            self.expected = self.first.pop(key, None)
            if key in self.paths_run:
                self._observe(key, y)
        if type(y) is Done:
            unstepped = self.first.pop(key, None)
            self.threads.pop(key, None)
            if thread[3] is not None:  # a cgroupfs or page operation
                self._returned(thread, y.result)
                if kind == "step":
                    self.returned = key
            else:
                self._path_returned(key, y.result)
                if unstepped is not None and unstepped[0] in ("alloc", "alloc.partial") \
                        and self.result_problem is None and isinstance(y.result, int) \
                        and y.result >= 0:
                    # an object handed out with no step, where the model's guard of
                    # the allocation held (the group accounts kmem): served from the
                    # root and never charged. (Another path that returns an error
                    # with no step is an implementation that lacks it, which the
                    # granularity verdict judges by the states it reaches.)
                    self.result_problem = (f"the allocation started for {unstepped[0]}"
                                           f"{unstepped[1]} returned object {y.result} "
                                           f"without taking it")
                if kind == "step":
                    self.path_returned = key
            return None
        self.threads[key] = thread
        if type(y) is Blocked:
            self.waiting = y.lock
            return None
        if thread[3] is not None:
            thread[3].append(y)
        return y

    def _returned(self, thread, result) -> None:
        """An operation returned: its pages are recorded, its result checked."""
        _, op, args, steps = thread
        self.result_problem = _result_problem(op, args, steps, result)
        if op in ("alloc_kmem", "alloc_user") and isinstance(result, int) and result >= 0:
            charged = None
            for st in steps:
                if st.action == "charge.commit" or (st.action == "user.charge" and st.ret == 0):
                    charged = self.cfg.memcgs.index(
                        memcg_name(self.cfg, self.paths, st.args["memcg"]))
            order = args[2] if op == "alloc_kmem" else 0
            self.pages[result] = ("kmem" if op == "alloc_kmem" else "user", charged, order)

    def _reparent(self, m: int, state) -> None:
        """rmdir or force_empty moved memcg ``m``'s user pages to its parent (the
        root without hierarchy), as mem_cgroup_reparent_charges does."""
        target = self.cfg.parents[m] if state.hier[m] else ROOT
        for pfn, (kind, memcg, order) in list(self.pages.items()):
            if kind == "user" and memcg == m:
                self.pages[pfn] = (kind, target, order)

    def replay(self, choice) -> Step | None:
        """Apply an already checked choice, keeping the page records; the step
        it took, if any."""
        step = self.apply(choice)
        if step is not None and reparents(step.action, step.ret) and any(
                kind == "user" for kind, _, _ in self.pages.values()):
            state, _ = self.abstract()
            self._reparent(model_args(self.cfg, self.paths, step.action, step.args)[0], state)
        return step

    def take(self, choice, state, oracle, claim: Claim | None = None,
             reads: bool = True) -> tuple:
        """Apply ``choice`` in ``state`` and check it: (step or None, post-state,
        problem or None); under a kernel ``claim``, ``known`` is the known bug the
        step was, if any.
        A try that cannot step must leave the abstract state alone; a step must
        be one the model allows, into a state every invariant holds in (and, with
        ``reads``, where every cgroupfs read shows what the model says); an
        operation that returns must return what its steps say. The interleaver
        checks the reads itself, once per state it stores."""
        self.result_problem = None
        self.known = None
        try:
            hidden = self.hidden()
            step = self.apply(choice)
            moved_hidden = step is None and self.hidden() != hidden
            post, refused = self.abstract()
        except ProtocolError as e:
            return None, None, problem_of(e, _named(choice))
        if refused:
            return step, None, f"{_named(choice)}: {refused}"
        if step is None:
            if self.result_problem:
                return None, state, f"{_named(choice)}: {self.result_problem}"
            moved = f"{_named(choice)} changed the abstract state without taking a model step"
            return None, state, (moved if post != state or moved_hidden else None)
        try:
            margs = model_args(self.cfg, self.paths, step.action, step.args)
        except (KeyError, ValueError, StopIteration, TypeError, AlphaError) as e:
            return step, None, (f"{_named(choice)}: the step {step.action} {step.args} does not "
                                f"name the model's parameters ({type(e).__name__}: {e})")
        self.margs = tuple(margs)
        if self.expected is not None and not _same_path(self.expected, (step.action, margs)):
            name, args = self.expected
            return step, None, (f"{_named(choice)}: the path started for {name}{args} took "
                                f"{step.action}{margs} first")
        bad, self.known = judge_step(self.cfg, oracle, state, step.action, margs, step.ret,
                                     post, claim)
        if bad is None and (self.ghost_problem or self.result_problem):
            bad = ("objects", self.ghost_problem or self.result_problem)
        if bad is None and self.coverage is not None:
            self.coverage.step(state, step.action, margs, step.ret, post)
        if bad is None and reparents(step.action, step.ret):
            self._reparent(margs[0], post)
        if bad:
            return step, post, f"[{bad[0]}] {step.action} {step.args}: {bad[1]}"
        broken = self.known is not None and bool(self.known.broke)
        if reads and not broken:  # undefined from a broken state on, as the machine stops
            try:
                problem = self.read_problems(post)
            except ProtocolError as e:
                return step, None, problem_of(e, f"{_named(choice)}: reading cgroupfs")
            if problem:
                return step, post, f"{problem} (after {step.action} {step.args})"
        return step, post, None


#: what a run's save leaves out: the implementation, which saves itself, and
#: what no try changes
_NOT_SAVED = frozenset({"impl", "cfg", "paths", "coverage"})


def _copied(saved: dict) -> dict:
    """A deep copy of a run's record, its sentinel kept (compared by identity)."""
    return deepcopy(saved, {id(_UNKNOWN): _UNKNOWN})


def _same_path(expected: tuple, took: tuple) -> bool:
    """Whether a guarded path's first step is the one it was started for: that
    action, or, since the allocator chooses the slab and whether a slab a free
    empties is released (the hints are the reference's to honour), another
    allocation, or another free, of the same cache (the model must allow it:
    judge_step, and the ghost of objects)."""
    if expected == took:
        return True
    (want, wargs), (name, args) = expected, took
    return any(want in family and name in family and wargs[0] == args[0]
               for family in (ALLOCS - {"alloc.root"}, FREES))


#: the steps after which an allocation's fail flag decides no further step
_SETTLING = ("charge.commit", "charge.abort", "charge.bypass")


def _settled(steps) -> bool:
    """Whether an allocation's steps so far decide its remaining steps whatever its
    fail flag (after a bypass, only its result: :meth:`_Run.returns_settled`)."""
    return bool(steps) and (steps[-1].action in _SETTLING or steps[-1].ret < 0)


def _result_problem(op, args, steps, result) -> str | None:
    """What the harness checks of a returned cgroupfs or page operation."""
    if op == "kmem_cache_create":  # (name, size, objs_per_slab, order)
        want = args[0] if steps else -EINVAL  # the cache, or a duplicate's -EINVAL
        return None if result == want else f"{op} {args[0]!r} returned {result!r}, not {want!r}"
    if not isinstance(result, int) or isinstance(result, bool):
        return f"{op} returned {result!r}, not an integer"
    if not steps:
        return None if result <= 0 else f"{op} returned {result} without taking any step"
    last = steps[-1].ret
    if op in ("alloc_kmem", "alloc_user"):
        want_fail = last < 0 or (op == "alloc_kmem" and args[1])  # (task, fail, order)
        if want_fail and result != -ENOMEM:
            return f"{op} must fail with {-ENOMEM}, returned {result}"
        if not want_fail and result < 0:
            return f"{op} must return a new page handle, returned {result}"
        return None
    if op in ("free_kmem", "free_user"):
        return None if result == 0 else f"{op} returned {result}"
    return None if result == last else f"{op} returned {result}, its last step returned {last}"


def explore_impl(cfg: Config, make=None, max_states: int = 100_000,
                 claim: Claim | None = None, progress=None, coverage=None
                 ) -> InterleaveResult:
    """Every interleaving the configuration allows, on the implementation
    (``make()`` returns it booted, behind the adapter protocol: in process or
    over a pipe; the reference by default). Under a kernel ``claim`` a known
    bug is a warning, and a state where one broke an invariant is not expanded.
    Ctrl-C returns what was seen so far, ``interrupted`` set.
    ``progress(states, queue, steps)`` is told after each state is expanded."""
    lockdep = Lockdep() if make is None else None
    make = make or reference(cfg, lockdep)
    t0 = time.perf_counter()
    res = InterleaveResult()
    paths: dict = {}
    try:
        _search(cfg, make, max_states, res, paths, claim, progress, coverage)
    except KeyboardInterrupt:
        res.interrupted = True
    if res.interrupted:
        res.complete = False
    res.states = {key[0] for key in paths}
    res.warnings = claim.warnings() if claim is not None else []
    res.seconds = time.perf_counter() - t0
    if lockdep is None:
        res.lock_orders = None
    else:
        res.lock_orders, res.lock_cycles = lockdep.orders(), lockdep.cycles()
    if res.lock_cycles and res.problem is None:
        res.problem = f"lock-order cycle (potential deadlock): {res.lock_cycles[0]}"
    return res


def _search(cfg: Config, make, max_states: int, res: InterleaveResult, paths: dict,
            claim: Claim | None, progress=None, coverage=None):
    """The breadth-first search of :func:`explore_impl`, filling ``res`` and
    ``paths`` (abstract and hidden state -> the choices that reach it)."""
    oracle = EvalOracle(cfg)
    prefix: list = []
    try:
        first = _Run(cfg, make)
        res.whole = getattr(first.impl, "stepping", True) is False
        init, refused = first.abstract()
        if init != MODEL.initial(cfg):
            res.problem = refused or "the implementation's initial state is not the model's Init"
            return
        res.problem = first.read_problems(init)
        if res.problem:
            return
        # one run per abstract state *and* hidden state: what alpha forgets but the
        # kernel's next steps depend on (a memcg's cache-list order) must be kept
        # apart, and so must what the environment chose but the kernel has not yet
        # used (an allocation's fail flag: pending())
        key = (init, first.hidden(), first.pending())
        paths[key] = []
        queue = deque([(key, [])])
        #: (state, the actors still busy) expanded after an operation returned silently
        closed = set()
        while queue and len(paths) < max_states:
            key, prefix = queue.popleft()
            state = key[0]
            run = _replay(cfg, make, prefix)
            # each try starts from this state: restored, where the implementation
            # can save it, else replayed from boot
            saved = run.save() if run.checkpoints else None
            # a kernel path that took its last step returns lazily; its return is
            # closed over when it lets a try that waited here go on (it held the
            # lock: a serial implementation's one lock), not in every state
            waited, returns = [], []
            for n, choice in enumerate(run.choices(state)):
                if n and saved is not None:  # the first try runs on the run that listed them
                    run = run.restore(saved)
                    res.restored += 1
                elif n:
                    run = _replay(cfg, make, prefix)
                run.coverage = coverage
                step, post, problem = run.take(choice, state, oracle, claim, reads=False)
                new = known = None
                tail = [choice]
                broken = run.known is not None and bool(run.known.broke)
                if problem is None and step is not None:
                    new = (post, run.hidden(), run.pending())
                    known = new in paths
                    if known and step.action == "charge.bypass":
                        problem = run.returns_settled()
                        tail.append(("step", run.key))
                    if not known and not broken:
                        problem = run.read_problems(post)
                    if not known and problem is None and cfg.roots and not broken:
                        problem = "; ".join(slabinfo_problems(cfg, run, post)) or None
                    if not known and problem is None and dies(cfg) and not broken:
                        problem = "; ".join(state_problems(cfg, run, post)) or None
                if problem:
                    res.problem = problem
                    res.trace = [*prefix, *tail]
                    return
                if step is None:
                    if run.waiting is not None:
                        waited.append(choice)
                    if run.returned is not None:  # the same state, one actor free again
                        _close(key, run, [*prefix, choice], closed, queue)
                    elif run.path_returned is not None:
                        returns.append([*prefix, choice])
                    continue
                res.steps += 1
                res.splits |= splits(cfg, state, step.action, run.margs)
                if not known and MODEL.in_constraint(cfg, post):
                    paths[new] = [*prefix, choice]
                    if broken:  # undefined from here on: the explorer stops too
                        res.broken.add(post)
                    else:
                        queue.append((new, paths[new]))
            # replayed afresh: a run kept from an earlier try shares its
            # implementation with every later replay when that is one server
            # over a pipe, so by now it stands somewhere else
            for choices in returns:
                if any(_unblocks(_replay(cfg, make, choices), c) for c in waited):
                    _close(key, _replay(cfg, make, choices), choices, closed, queue)
            if progress is not None:
                progress(len(paths), len(queue), res.steps)
        res.complete = not queue
    except ProtocolError as e:  # raised outside a checked try: a replay, hidden(), slabinfo
        res.problem, res.trace = problem_of(e), prefix


def _close(key, run: _Run, choices: list, closed: set, queue: deque) -> None:
    """Queue a silent move (a return: the same state, one thread fewer) once per
    state and set of threads still running."""
    busy = (key, frozenset(run.threads))
    if busy not in closed:
        closed.add(busy)
        queue.append((key, choices))


def _unblocks(run: _Run, choice) -> bool:
    """Whether ``choice``, which waited, goes on in ``run`` (a thread has returned)."""
    run.apply(choice)
    return run.waiting is None


def slabinfo_problems(cfg, run: _Run, state) -> list[str]:
    """/proc/slabinfo read in ``state`` must show what the model says (lines
    compared as sets: list order is not part of the abstract state); each memcg's
    memory.kmem.slabinfo is one of the cgroupfs reads (:meth:`_Run.read_problems`)."""

    def lines(text):
        return sorted(text.splitlines()) if isinstance(text, str) else text

    got = run.impl.slabinfo()
    if lines(got) != lines(expect_proc_slabinfo(cfg, state)):
        return [f"/proc/slabinfo: {got!r}, model {expect_proc_slabinfo(cfg, state)!r}"]
    return []


def state_problems(cfg, run: _Run, state) -> list[str]:
    """Each memcg's state read through the kernel face (``memcg_state``) must be
    its lifecycle in the model (a path never created: -ENOENT)."""
    out = []
    for m in range(1, cfg.n_memcgs):
        got = run.impl.memcg_state(run.paths[m])
        want = -ENOENT if state.lifecycle[m] == ABSENT else LIFECYCLE[state.lifecycle[m]]
        if got != want:
            out.append(f"memcg_state({run.paths[m]}) is {got!r}, model {want!r}")
    return out


@dataclass
class Try:
    """One try of a schedule as re-run: the thread it drove and what it did."""

    index: int
    choice: tuple
    #: the thread key (admin, a task, a guarded path such as ``alloc:0``, ``kworker:...``)
    thread: str | None
    #: the model step taken, if any
    step: Step | None
    #: what happened instead of a step (waits, returns, a broken protocol)
    note: str | None = None

    @property
    def text(self) -> str:
        if self.step is not None:
            args = ", ".join(f"{k}={v}" for k, v in self.step.args.items())
            took = f"{self.step.action}({args})" + (f" = {self.step.ret}" if self.step.ret else "")
        else:
            took = self.note
        return f"{self.index:3}. {' '.join(str(x) for x in self.choice):<34} -> {took}"


def schedule_tries(cfg: Config, schedule, make=None) -> list[Try]:
    """Re-run a schedule: each try, the thread it drove and the model step it
    took (a try that waits, or finds its thread gone, takes none)."""
    try:
        run = _Run(cfg, make or reference(cfg))
    except ProtocolError as e:
        return [Try(0, (), None, None, f"(cannot re-run: {problem_of(e)})")]
    out = []
    for i, choice in enumerate(schedule, 1):
        choice = tuple(choice)
        run.key = None
        try:
            step = run.apply(choice)
        except ProtocolError as e:
            out.append(Try(i, choice, run.key, None, problem_of(e)))
            break
        if isinstance(step, Step):
            out.append(Try(i, choice, run.key, step))
            continue
        note = (f"waits for {run.waiting}" if run.waiting else
                f"returns ({run.returned})" if run.returned else
                "no step (nothing left to do)" if step is None else f"yielded {step!r}")
        out.append(Try(i, choice, run.key, None, note))
    return out


def describe_tries(tries: list[Try]) -> list[str]:
    """Re-run tries as numbered lines: each try, and the model step it took."""
    if tries and tries[0].index == 0:
        return [f"  {tries[0].note}"]
    return [t.text for t in tries]


def describe(cfg: Config, schedule, make=None) -> list[str]:
    """A schedule as numbered lines: each try, and the model step it took."""
    return describe_tries(schedule_tries(cfg, schedule, make))


def _replay(cfg, make, prefix) -> _Run:
    run = _Run(cfg, make)
    for choice in prefix:
        run.replay(choice)
    return run
