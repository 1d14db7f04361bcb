"""Exhaustive interleavings of the implementation, over any scope.

Breadth-first over the implementation's abstract states: from each state,
every operation the environment may start, every running thread's next step,
and every queued work item a kworker may pick up. Each choice is one
implementation step, checked by the one step check the harness uses
(:func:`~kmemcg.conformance.harness.step_problem`: the oracle, then every
invariant) on the harness's alpha; an implementation state is reached again by
replaying its choice sequence on a fresh instance, since running generators
cannot be copied. The set of abstract states reached must equal the model
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
from dataclasses import dataclass, field
from errno import ENOMEM

from kmemcg.conformance.adapters import load_factory, require_faces
from kmemcg.conformance.calls import RAISED, bounded
from kmemcg.conformance.harness import (
    AlphaError,
    abstract_state,
    memcg_name,
    memcg_paths,
    model_args,
    step_problem,
)
from kmemcg.conformance.oracle import EvalOracle
from kmemcg.conformance.protocol import ImplementationTimeout, ProtocolError, SetupError
from kmemcg.impl.kernel import Kernel
from kmemcg.impl.lockdep import Lockdep
from kmemcg.impl.sched import Blocked, Step
from kmemcg.model.config import UNLIMITED, Config
from kmemcg.model.controller import MODEL
from kmemcg.model.slabinfo import expect_memcg_slabinfo, expect_proc_slabinfo
from kmemcg.model.state import ONLINE, ROOT, memcg_of, root_of


def _steps(k):
    """The implementation's paths step by step: the reference's ``steps``, or
    its generator methods."""
    return getattr(k, "steps", k)


def _rp(cfg, paths, c):
    """A cache number -> (its root's name, its memcg's path)."""
    return cfg.roots[root_of(cfg, c)], paths[memcg_of(cfg, c)]


#: thread keys of the guarded operations' starts, made once per choice
_KEYS: dict = {}


def _key(choice) -> str:
    key = _KEYS.get(choice)
    if key is None:
        key = _KEYS[choice] = f"{choice[1]}:{','.join(map(str, choice[2:]))}"
    return key


#: the kernel paths the environment starts when the model's guard of the
#: action they begin with holds: how to start each on the implementation, given
#: the action's arguments
OPERATIONS = {
    "alloc": lambda k, cfg, p, c: _steps(k).kmem_cache_alloc(*_rp(cfg, p, c)),
    "alloc.partial": lambda k, cfg, p, c, fill: _steps(k).kmem_cache_alloc(*_rp(cfg, p, c),
                                                                           fill),
    "free.object": lambda k, cfg, p, c, fill: _steps(k).kmem_cache_free(*_rp(cfg, p, c),
                                                                        fill, False),
    "free.release_pages": lambda k, cfg, p, c: _steps(k).kmem_cache_free(*_rp(cfg, p, c),
                                                                         1, True),
    "fork": lambda k, cfg, p, t, m: _steps(k).fork(cfg.tasks[t], p[m]),
    "exit": lambda k, cfg, p, t: _steps(k).exit(cfg.tasks[t]),
    "put_task_struct": lambda k, cfg, p, t: _steps(k).put_task_struct(cfg.tasks[t]),
    "rmdir": lambda k, cfg, p, m: _steps(k).rmdir(p[m]),
    "root_destroy.start": lambda k, cfg, p, r: _steps(k).kmem_cache_destroy(cfg.roots[r]),
    "shrink.release": lambda k, cfg, p, c: _steps(k).kmem_cache_shrink(*_rp(cfg, p, c)),
}

_GFP_KERNEL_ACCOUNT = 0xD0 | 0x100000
#: the cgroupfs and page operations, each run by one actor at a time: who
#: runs it, and how to start it on the implementation
ACTOR_OPERATIONS = {
    "mkdir": (lambda path: "admin", lambda k, path: _steps(k).mkdir(path)),
    "write": (lambda path, file, text: "admin",
              lambda k, path, file, text: _steps(k).write(path, file, text)),
    "attach": (lambda task, path: "admin",
               lambda k, task, path: _steps(k).attach(task, path)),
    "alloc_kmem": (lambda task, fail: task,
                   lambda k, task, fail: _steps(k).alloc_kmem_page(
                       task, _GFP_KERNEL_ACCOUNT, False, fail)),
    "alloc_user": (lambda task: task, lambda k, task: _steps(k).alloc_user_page(task)),
    "free_kmem": (lambda task, pfn: "kernel",
                  lambda k, task, pfn: _steps(k).free_kmem_page(task, pfn)),
    "free_user": (lambda pfn: "kernel", lambda k, pfn: _steps(k).free_user_page(pfn)),
}

#: what the interleaver drives: the cgroupfs and page paths, and alpha
FACES = ("mkdir", "write", "attach", "alloc_kmem_page", "free_kmem_page", "alloc_user_page",
         "free_user_page", "snapshot")
#: and with root caches in scope: the slab and task paths, the workqueue, slabinfo
CACHE_FACES = ("kmem_cache_alloc", "kmem_cache_free", "fork", "exit", "put_task_struct",
               "rmdir", "kmem_cache_destroy", "kmem_cache_shrink", "wq.queue", "wq.take",
               "snapshot", "proc_slabinfo", "read")


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


class ImplementationError(ProtocolError):
    """The implementation raised, or lacks what the interleaver drives."""


def problem_of(e: ProtocolError) -> str:
    """An implementation's failure as a verdict line: a time-out says so first."""
    return f"timeout: {e}" if isinstance(e, ImplementationTimeout) else str(e)


def kernel_factory(spec: str | None = None, timeout: float | None = None):
    """``MOD:FACTORY`` -> ``make(cfg)``: a kernel booted as the configuration says.

    The factory is called with the model configuration and returns an object
    shaped like :class:`kmemcg.impl.kernel.Kernel`: its paths step by step
    (``steps.<path>``, or generator methods, yielding
    :class:`kmemcg.impl.sched.Step` or ``Blocked``), a workqueue ``wq``
    (``queue`` of items with ``name``, ``running`` and ``func(item)``, and
    ``take(item)``), ``snapshot()`` in the model's JSON shape (memcgs keyed by
    path or by name), ``proc_slabinfo()`` and ``read(path, file)``, and
    optionally ``hidden()``. Without a spec: the reference. A factory that
    raises, runs past ``timeout`` or returns something without those faces is
    a :class:`SetupError`."""
    if spec is None:
        return Kernel.for_config
    factory = load_factory(spec)

    def make(cfg):
        try:
            kernel = bounded(f"{spec}: the factory", factory, cfg, timeout=timeout)
        except ImplementationTimeout as e:
            raise SetupError(str(e)) from None
        except RAISED as e:  # the factory is someone else's code
            raise SetupError(f"{spec}: the factory raised {type(e).__name__}: {e}") from None
        return require_faces(kernel, CACHE_FACES if cfg.roots else FACES, spec)

    return make


class _Named:
    """A choice as the text a verdict names it by, made only when one does."""

    __slots__ = ("choice",)

    def __init__(self, choice):
        self.choice = choice

    def __str__(self) -> str:
        return " ".join(map(str, self.choice))

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _limit_text(v: int) -> str:
    return "-1" if v == UNLIMITED else str(v)


def _allowed(cfg: Config, action: str) -> bool:
    return cfg.actions is None or action in cfg.actions


class _Run:
    """One implementation instance driven by a choice sequence. Whatever the
    implementation raises becomes an :class:`ImplementationError`; a call into
    it that runs past ``timeout`` seconds, an :class:`ImplementationTimeout`."""

    def __init__(self, cfg: Config, make, timeout: float | None = None):
        self.cfg = cfg
        self.paths = memcg_paths(cfg)
        self.timeout = timeout
        self.k = self.call("the factory", make)
        #: thread key -> [path, op, args, the model steps it took]
        self.threads: dict[str, list] = {}
        #: page handle -> (kind, memcg index charged or None), as the operations returned them
        self.pages: dict[int, tuple[str, int | None]] = {}
        self.waiting: str | None = None
        self.result_problem: str | None = None
        #: the actor whose operation returned on the last try (a silent move)
        self.returned: str | None = None

    def call(self, what: str, fn, *args):
        """A call into the implementation, bounded in time, its exceptions named."""
        try:
            return bounded(what, fn, *args, timeout=self.timeout)
        except ProtocolError:
            raise
        except RAISED as e:
            raise ImplementationError(f"{what}: the implementation raised "
                                      f"{type(e).__name__}: {e}") from None

    def abstract(self) -> tuple:
        """(the kernel's abstract state, None) or (None, why its snapshot is refused)."""
        try:
            snap = self.call("snapshot()", self.k.snapshot)
        except ImplementationTimeout:
            raise
        except ImplementationError as e:
            return None, str(e)
        try:
            return abstract_state(self.cfg, self.paths, snap), None
        except (AlphaError, ValueError, KeyError, TypeError, IndexError, AttributeError,
                StopIteration) as e:
            return None, f"snapshot refused: {type(e).__name__}: {e}"

    def hidden(self):
        """The implementation's ``hidden()`` state, if it has any."""
        return self.call("hidden()", _hidden, self.k)

    # ------------------------------------------------------------ choices

    def choices(self, state):
        cfg, out = self.cfg, []
        for name in OPERATIONS:
            if not _allowed(cfg, name):
                continue
            action = MODEL.actions[name]
            for args in action.domain(cfg):
                if action.guard(cfg, state, *args):
                    out.append(("start", name, *args))
        busy = set(self.threads)
        out += [("start", op, *args) for op, args in self._actor_operations(state)
                if ACTOR_OPERATIONS[op][0](*args) not in busy]
        out += [("step", t) for t in sorted(self.threads)]
        if self.cfg.roots:
            out += [("work", name) for name in self.call("its workqueue", self._idle_work)]
        return out

    def _actor_operations(self, s):
        """The cgroupfs and page operations the environment may start in ``s``."""
        cfg, paths, ops = self.cfg, self.paths, []
        for m, path in enumerate(paths):
            if m and s.lifecycle[m] == 0 and s.lifecycle[cfg.parents[m]] == ONLINE \
                    and _allowed(cfg, "mkdir"):
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
            ops += [("write", (path, f, t)) for f, t in writes]
            if _allowed(cfg, "attach"):
                ops += [("attach", (t, path)) for i, t in enumerate(cfg.tasks)
                        if s.task_memcg[i] >= 0]
        for i, t in enumerate(cfg.tasks):
            if s.task_memcg[i] < 0:
                continue  # not forked, or exited
            if _allowed(cfg, "charge.kmem"):
                ops += [("alloc_kmem", (t, fail)) for fail in (False, True)]
            if _allowed(cfg, "user.charge"):
                ops.append(("alloc_user", (t,)))
        # free one page of each kind per memcg: pages of one memcg are interchangeable
        seen = set()
        for pfn in sorted(self.pages):
            kind, memcg = self.pages[pfn]
            if (kind, memcg) in seen or memcg is None:
                continue
            seen.add((kind, memcg))
            if kind == "kmem" and _allowed(cfg, "free.uncharge") and cfg.tasks:
                ops.append(("free_kmem", (cfg.tasks[0], pfn)))
            if kind == "user" and _allowed(cfg, "user.uncharge"):
                ops.append(("free_user", (pfn,)))
        return ops

    def _idle_work(self):
        return [w.name for w in dict.fromkeys(self.k.wq.queue) if not w.running]

    # ------------------------------------------------------------ stepping

    def _retire(self, key: str) -> bool:
        """Let a thread that took its last step return; False if it had more to do."""
        thread = self.threads.pop(key, None)
        if thread is None:
            return True
        try:
            next(thread[0])
        except StopIteration:
            return True
        return False

    def apply(self, choice) -> Step | None:
        """Take one step; None when the choice cannot step (blocked, gone, or an
        operation returned)."""
        return self.call(_Named(choice), self._apply, choice)

    def _apply(self, choice) -> Step | None:
        self.waiting = None  # the lock the try found taken, if that is why it did not step
        self.returned = None
        kind = choice[0]
        if kind == "start":
            name, args = choice[1], choice[2:]
            actor = ACTOR_OPERATIONS.get(name)
            if actor is not None:
                key = actor[0](*args)
                thread = [actor[1](self.k, *args), name, args, []]
            else:
                key = _key(choice)
                if key in self.threads and not self._retire(key):
                    return None
                thread = [OPERATIONS[name](self.k, self.cfg, self.paths, *args), name,
                          None, None]
        elif kind == "step":
            key = choice[1]
            thread = self.threads.get(key)
        else:
            work = next((w for w in self.k.wq.queue if w.name == choice[1]), None)
            key = f"kworker:{choice[1]}"
            if work is None or work.running or not self._retire(key):
                return None
            self.k.wq.take(work)
            thread = [work.func(work), "kworker", None, None]
        if thread is None:
            return None
        try:
            y = next(thread[0])
        except StopIteration as stop:
            self.threads.pop(key, None)
            if thread[3] is not None:  # a cgroupfs or page operation
                self._returned(thread, stop.value)
                if kind == "step":
                    self.returned = key
            return None
        if isinstance(y, Blocked):
            self.waiting = y.lock
            self.threads[key] = thread
            return None
        self.threads[key] = thread
        if thread[3] is not None and isinstance(y, Step):
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
            self.pages[result] = ("kmem" if op == "alloc_kmem" else "user", charged)
        elif op in ("free_kmem", "free_user") and result == 0:
            self.pages.pop(args[-1], None)

    def _reparent(self, m: int, state) -> None:
        """rmdir moved memcg ``m``'s user pages to its parent (the root without
        hierarchy), as mem_cgroup_reparent_charges does."""
        target = self.cfg.parents[m] if state.hier[m] else ROOT
        for pfn, (kind, memcg) in list(self.pages.items()):
            if kind == "user" and memcg == m:
                self.pages[pfn] = (kind, target)

    def replay(self, choice) -> None:
        """Apply an already checked choice, keeping the page records."""
        step = self.apply(choice)
        if step is not None and step.action == "rmdir" and step.ret == 0 and any(
                kind == "user" for kind, _ in self.pages.values()):
            state, _ = self.abstract()
            self._reparent(model_args(self.cfg, self.paths, "rmdir", step.args)[0], state)

    def take(self, choice, state, oracle) -> tuple:
        """Apply ``choice`` in ``state`` and check it: (step or None, post-state,
        problem or None).
        A try that cannot step must leave the abstract state alone; a step must
        be one the model allows, into a state every invariant holds in; an
        operation that returns must return what its steps say."""
        self.result_problem = None
        try:
            hidden = self.hidden()
            step = self.apply(choice)
            moved_hidden = step is None and self.hidden() != hidden
            if step is not None and not isinstance(step, Step):
                return None, None, f"{choice}: the implementation yielded {step!r}, not a Step"
            post, refused = self.abstract()
        except ProtocolError as e:
            return None, None, problem_of(e)
        if refused:
            return step, None, f"{choice}: {refused}"
        if step is None:
            if self.result_problem:
                return None, state, f"{choice}: {self.result_problem}"
            moved = f"{choice} changed the abstract state without taking a model step"
            return None, state, (moved if post != state or moved_hidden else None)
        try:
            margs = model_args(self.cfg, self.paths, step.action, step.args)
        except (KeyError, ValueError, StopIteration, TypeError, AlphaError) as e:
            return step, None, (f"{choice}: the step {step.action} {step.args} does not name "
                                f"the model's parameters ({type(e).__name__}: {e})")
        bad = step_problem(self.cfg, oracle, state, step.action, margs, step.ret, post)
        if bad is None and step.action == "rmdir" and step.ret == 0:
            self._reparent(margs[0], post)
        return step, post, (f"[{bad[0]}] {step.action} {step.args}: {bad[1]}" if bad else None)


def _result_problem(op, args, steps, result) -> str | None:
    """What the harness checks of a returned cgroupfs or page operation."""
    if not isinstance(result, int) or isinstance(result, bool):
        return f"{op} returned {result!r}, not an integer"
    if not steps:
        return None if result <= 0 else f"{op} returned {result} without taking any step"
    last = steps[-1].ret
    if op in ("alloc_kmem", "alloc_user"):
        want_fail = last < 0 or (op == "alloc_kmem" and args[-1])
        if want_fail and result != -ENOMEM:
            return f"{op} must fail with {-ENOMEM}, returned {result}"
        if not want_fail and result < 0:
            return f"{op} must return a new page handle, returned {result}"
        return None
    if op in ("free_kmem", "free_user"):
        return None if result == 0 else f"{op} returned {result}"
    return None if result == last else f"{op} returned {result}, its last step returned {last}"


def explore_impl(cfg: Config, make=None, max_states: int = 100_000,
                 timeout: float | None = None) -> InterleaveResult:
    """Every interleaving the configuration allows, on the implementation
    (``make()``; the reference by default); each call into it bounded by
    ``timeout`` seconds. Ctrl-C returns what was seen so far, ``interrupted`` set."""
    lockdep = Lockdep() if make is None else None
    make = make or (lambda: Kernel.for_config(cfg, lockdep))
    t0 = time.perf_counter()
    res = InterleaveResult()
    paths: dict = {}
    try:
        _search(cfg, make, max_states, timeout, res, paths)
    except KeyboardInterrupt:
        res.interrupted = True
    if res.interrupted:
        res.complete = False
    res.states = {state for state, _ in paths}
    res.seconds = time.perf_counter() - t0
    if lockdep is None:
        res.lock_orders = None
    else:
        res.lock_orders, res.lock_cycles = lockdep.orders(), lockdep.cycles()
    if res.lock_cycles and res.problem is None:
        res.problem = f"lock-order cycle (potential deadlock): {res.lock_cycles[0]}"
    return res


def _search(cfg: Config, make, max_states: int, timeout, res: InterleaveResult, paths: dict):
    """The breadth-first search of :func:`explore_impl`, filling ``res`` and
    ``paths`` (abstract and hidden state -> the choices that reach it)."""
    oracle = EvalOracle(cfg)
    prefix: list = []
    try:
        first = _Run(cfg, make, timeout)
        init, refused = first.abstract()
        if init != MODEL.initial(cfg):
            res.problem = refused or "the implementation's initial state is not the model's Init"
            return
        # one run per abstract state *and* hidden state: what alpha forgets but the
        # kernel's next steps depend on (a memcg's cache-list order) must be kept apart
        key = (init, first.hidden())
        paths[key] = []
        queue = deque([(key, [])])
        #: (state, the actors still busy) expanded after an operation returned silently
        closed = set()
        while queue and len(paths) < max_states:
            key, prefix = queue.popleft()
            state = key[0]
            for choice in _replay(cfg, make, prefix, timeout).choices(state):
                run = _replay(cfg, make, prefix, timeout)
                step, post, problem = run.take(choice, state, oracle)
                new = known = None
                if problem is None and step is not None:
                    new = (post, run.hidden())
                    known = new in paths
                    if not known and cfg.roots:
                        problem = "; ".join(slabinfo_problems(cfg, run, post)) or None
                if problem:
                    res.problem = problem
                    res.trace = [*prefix, choice]
                    return
                if step is None:
                    if run.returned is not None:  # the same state, one actor free again
                        busy = (key, frozenset(run.threads))
                        if busy not in closed:
                            closed.add(busy)
                            queue.append((key, [*prefix, choice]))
                    continue
                res.steps += 1
                if not known and MODEL.in_constraint(cfg, post):
                    paths[new] = [*prefix, choice]
                    queue.append((new, paths[new]))
        res.complete = not queue
    except ProtocolError as e:  # raised outside a checked try: a replay, hidden(), slabinfo
        res.problem, res.trace = problem_of(e), prefix


def slabinfo_problems(cfg, run: _Run, state) -> list[str]:
    """The slabinfo files read in ``state`` must show what the model says
    (lines compared as sets: list order is not part of the abstract state)."""

    def lines(text):
        return sorted(text.splitlines()) if isinstance(text, str) else text

    out = []
    got = run.call("/proc/slabinfo", run.k.proc_slabinfo)
    if lines(got) != lines(expect_proc_slabinfo(cfg, state)):
        out.append(f"/proc/slabinfo: {got!r}, model {expect_proc_slabinfo(cfg, state)!r}")
    for m in range(1, cfg.n_memcgs):
        want = expect_memcg_slabinfo(cfg, state, m)
        if want is None:
            continue
        got = run.call(f"{cfg.memcgs[m]}/memory.kmem.slabinfo", run.k.read, run.paths[m],
                       "memory.kmem.slabinfo")
        if lines(got) != lines(want):
            out.append(f"{cfg.memcgs[m]}/memory.kmem.slabinfo: {got!r}, model {want!r}")
    return out


def describe(cfg: Config, schedule, make=None, timeout: float | None = None) -> list[str]:
    """A schedule as numbered lines: each try, and the model step it took (a try
    that waits, or finds its thread gone, takes none)."""
    try:
        run = _Run(cfg, make or (lambda: Kernel.for_config(cfg)), timeout)
    except ProtocolError as e:
        return [f"  (cannot re-run: {problem_of(e)})"]
    lines = []
    for i, choice in enumerate(schedule, 1):
        try:
            step = run.apply(tuple(choice))
        except ProtocolError as e:
            lines.append(f"{i:3}. {' '.join(str(x) for x in choice):<34} -> {problem_of(e)}")
            break
        if not isinstance(step, Step):
            took = (f"waits for {run.waiting}" if run.waiting else
                    f"returns ({run.returned})" if run.returned else
                    "no step (nothing left to do)" if step is None else f"yielded {step!r}")
        else:
            args = ", ".join(f"{k}={v}" for k, v in step.args.items())
            took = f"{step.action}({args})" + (f" = {step.ret}" if step.ret else "")
        lines.append(f"{i:3}. {' '.join(str(x) for x in choice):<34} -> {took}")
    return lines


def _hidden(kernel):
    """The implementation's ``hidden()`` state, if it has any."""
    hidden = getattr(kernel, "hidden", None)
    return hidden() if hidden else None


def _replay(cfg, make, prefix, timeout=None) -> _Run:
    run = _Run(cfg, make, timeout)
    for choice in prefix:
        run.replay(choice)
    return run
