"""The harness: run operations on an implementation, check every step.

For each operation the harness works out from the model what must happen (an
error with no step, or a first action with given arguments), then steps the
implementation, taking its abstract state after every step and asking the
oracle whether (pre, action, post) is a model step, and whether every
invariant still holds. Anything else is a :class:`Nonconformance` carrying the
trace so far, which a report renders and ``kmemcg replay`` re-runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from errno import EBUSY, EEXIST, EINVAL, ENOENT, ENOMEM
from functools import cache

from kmemcg.conformance.alone import USER_CHARGES, user_charge_target
from kmemcg.conformance.claims import Claim, KnownBug
from kmemcg.conformance.oracle import invariant_problems, make_oracle
from kmemcg.conformance.protocol import (
    OPERATIONS,
    Blocked,
    Done,
    ImplementationTimeout,
    ProtocolError,
)
from kmemcg.model import cgroupfs, slab_common
from kmemcg.model.config import MAX_ORDER, NONE, ROOT, UNLIMITED, Config
from kmemcg.model.controller import MODEL
from kmemcg.model.state import (
    ABSENT,
    CONTEXTS,
    LIFECYCLE,
    ONLINE,
    State,
    cache_name,
    from_json,
    initial,
    memcg_of,
    n_caches,
    root_of,
    root_own,
)

MAX_STEPS = 64
BYPASS_CONTEXT = ("no __GFP_KMEMCG", "__GFP_NOFAIL", "in_interrupt", "no mm", "PF_KTHREAD",
                  "fatal signal")


def memcg_paths(cfg: Config) -> tuple[str, ...]:
    """Each configured memcg's cgroupfs path: '/', '/A', '/A/B', ..."""
    paths: list[str] = []
    for m, name in enumerate(cfg.memcgs):
        p = cfg.parents[m]
        paths.append("/" if p == NONE else paths[p].rstrip("/") + "/" + name)
    return tuple(paths)


@dataclass
class TraceEntry:
    """One line of a trace: an operation started, or a step it took."""

    op_no: int
    op: str
    args: dict
    thread: int = 0
    action: str | None = None
    step_args: dict | None = None
    ret: int | None = None
    state: State | None = None


@dataclass
class Running:
    """An operation in flight on one thread of the implementation."""

    op_no: int
    op: str
    args: dict
    thread: int
    expect: tuple | None = None
    actions: list[str] = field(default_factory=list)
    last_ret: int = 0
    result: object = None
    #: the memcg a committed kmem page was charged to
    charged: int | None = None


class Nonconformance(Exception):
    """The implementation did something the model does not allow.

    ``ops`` are the operations run up to and including the failing one: what
    ``kmemcg replay`` needs to show the failure again."""

    def __init__(self, check: str, message: str, trace: list[TraceEntry], ops=()):
        super().__init__(f"[{check}] {message}")
        self.check = check
        self.message = message
        self.trace = list(trace)
        self.ops = list(ops)

    @property
    def reproducer(self) -> list:
        """What shows the failure again: the operations."""
        return self.ops


#: what a replay file's operations may be: the adapter's operations, and reads
REPLAYABLE = {**OPERATIONS, "read": ("path", "file")}


def check_of(e: ProtocolError) -> str:
    """The check that names a broken call: a time-out, or anything else."""
    return "timeout" if isinstance(e, ImplementationTimeout) else "protocol"


def call_text(op: str, args: dict) -> str:
    """An operation and its arguments as a call: ``mkdir(path='/A')``."""
    return f"{op}({', '.join(f'{k}={v!r}' for k, v in args.items())})"


@dataclass
class Page:
    kind: str  # "kmem" or "user"
    memcg: int | None  # the memcg charged, None when the allocation bypassed
    task: str
    order: int = 0  # a kmem allocation's: 1 << order pages, freed together


@dataclass
class TaskContext:
    """What set_task marked a task with: the kmem bypass context, and a fatal
    signal, which also sends the task's user pages to the root."""
    kthread: bool = False
    fatal_signal: bool = False
    has_mm: bool = True


def asks_bypass(ctx: TaskContext, a: dict) -> bool:
    """Whether an ``alloc_kmem`` with arguments ``a`` by a task in context ``ctx``
    bypasses accounting: __memcg_kmem_newpage_charge's early returns (3.8)."""
    gfp = set(a.get("gfp", ("GFP_KERNEL", "__GFP_KMEMCG")))
    return bool("__GFP_KMEMCG" not in gfp or "__GFP_NOFAIL" in gfp or a.get("in_interrupt")
                or not ctx.has_mm or ctx.kthread or ctx.fatal_signal)


@dataclass
class Harness:
    impl: object
    cfg: Config
    oracle_mode: str = "eval"
    #: False while replaying a prefix already checked: snapshots only
    verify: bool = True
    #: told of every failure as it is raised (the machine keeps the shortest, so
    #: that a Ctrl-C during shrinking does not lose what was found)
    on_failure: Callable[[Nonconformance], None] | None = None
    trace: list[TraceEntry] = field(default_factory=list)
    ops: list[tuple[str, dict]] = field(default_factory=list)
    steps_checked: int = 0
    #: the kernel the implementation claims to be, when not the correct one
    #: (conformance/claims.py): its known bugs are warnings, and nothing is
    #: checked after one breaks an invariant
    claim: Claim | None = None
    #: told of every operation decided and every step checked
    #: (a conformance.coverage.Coverage: which model outcomes the run exercised)
    coverage: object = None

    def __post_init__(self):
        self.oracle = make_oracle(self.cfg, self.oracle_mode)
        self.paths = memcg_paths(self.cfg)
        self.pages: dict[int, Page] = {}
        self.in_flight: list[Running] = []
        self.ctx = {t: TaskContext() for t in self.cfg.tasks}
        self.state = self.abstract(self._call("snapshot of the initial state",
                                               self.impl.snapshot))
        if self.state != initial(self.cfg):
            self.fail("alpha", "the initial abstract state is not the model's Init")

    @classmethod
    def started(cls, make_impl, cfg: Config, **kw) -> Harness:
        """A harness on a fresh ``make_impl()``. The implementation started once
        when the command began; if it no longer starts, that is a verdict."""
        try:
            impl = make_impl()
        except ProtocolError as e:
            failure = Nonconformance(check_of(e), f"starting the implementation: {e}", [])
            if kw.get("on_failure") is not None:
                kw["on_failure"](failure)
            raise failure from None
        return cls(impl, cfg, **kw)

    # ------------------------------------------------------------ plumbing

    def fail(self, check: str, message: str):
        e = Nonconformance(check, message, self.trace, self.ops)
        if self.on_failure is not None:
            self.on_failure(e)
        raise e

    def _call(self, what, fn, *args):
        try:
            return fn(*args)
        except ProtocolError as e:
            self.fail(check_of(e), f"{what}: {e}")

    def abstract(self, snap) -> State:
        """Protocol snapshot (keyed by path) -> model State (indexed by config)."""
        try:
            return abstract_state(self.cfg, self.paths, snap)
        except AlphaError as e:
            self.fail("alpha", str(e))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError,
                StopIteration) as e:
            self.fail("alpha", f"malformed snapshot ({type(e).__name__}: {e}): {str(snap)[:300]}")

    def _model_args(self, action: str, args: dict) -> tuple:
        try:
            return model_args(self.cfg, self.paths, action, args)
        except (KeyError, ValueError, TypeError, StopIteration) as e:
            self.fail("protocol", f"{action}: bad step arguments {args!r} ({e})")

    # ------------------------------------------------------------ expectations

    def _expect(self, op: str, a: dict):
        """(pure error or None, (first action, model args) or None) for an operation."""
        s, idx = self.state, self.paths.index
        if op in ("mkdir", "rmdir", "write") or op == "attach":
            m = idx(a["path"])
            online = s.lifecycle[m] == ONLINE
        if op == "mkdir":
            if online:
                return -EEXIST, None
            if s.lifecycle[self.cfg.parents[m]] != ONLINE:
                return -ENOENT, None
            return None, ("mkdir", (m,))
        if op == "rmdir":
            if not online:
                return -ENOENT, None
            if m == ROOT:
                return -EBUSY, None
            return None, ("rmdir", (m,))
        if op == "write":
            if not online:
                return -ENOENT, None
            e = cgroupfs.expect_write(self.cfg, s, m, a["file"], a["text"])
            return (-e.error, None) if e.error else (None, (e.action, e.args))
        if op == "attach":
            t = self.cfg.task_index(a["task"])
            if not online:
                return -ENOENT, None
            if s.task_memcg[t] == m:
                return 0, None
            return None, ("attach", (t, m))
        if op == "alloc_kmem":
            order = a.get("order", 0)
            if not isinstance(order, int) or isinstance(order, bool) \
                    or not 0 <= order < MAX_ORDER:
                return -EINVAL, None  # the protocol's: no such page order
            if order not in self.cfg.orders:
                raise ValueError(f"alloc_kmem of order {order}: the scope allocates orders "
                                 f"{list(self.cfg.orders)}")
            return None, None  # charge.bypass or charge.kmem; checked step by step
        if op in USER_CHARGES:
            t = self.cfg.task_index(a["task"])
            fatal = self.ctx[a["task"]].fatal_signal
            return None, (USER_CHARGES[op], (t, user_charge_target(self.cfg, s, t, fatal)))
        if op in ("free_kmem", "free_user"):
            page = self.pages.get(a["page"])
            if page is None:
                return -ENOENT, None
            if page.memcg is None:
                return None, ("free.bypass", ())
            if op == "free_kmem":  # __memcg_kmem_uncharge_pages(page, order)
                return None, ("free.uncharge", (page.memcg, page.order))
            return None, ("user.uncharge", (page.memcg,))
        if op == "set_task":
            return 0, None
        if op == "kmem_cache_create":  # model/slab_common.py, as a write's cgroupfs
            e = slab_common.expect_create(self.cfg, s, a.get("name"), a["size"],
                                          a["objs_per_slab"], a.get("order", 0))
            return (-e.error, None) if e.error else (None, (e.action, e.args))
        if op == "drain_stock":
            cpu = a["cpu"]
            if not isinstance(cpu, int) or isinstance(cpu, bool) \
                    or not 0 <= cpu < self.cfg.cpus:
                return -EINVAL, None
            if s.stock_memcg[cpu] == NONE:
                return 0, None  # an empty stock: drain_local_stock does nothing
            return None, ("stock.drain", (cpu,))
        raise ValueError(f"unknown operation {op}")

    def _bypass_expected(self, a: dict) -> bool:
        return asks_bypass(self.ctx[a["task"]], a)

    # ------------------------------------------------------------ running

    def run(self, op: str, args: dict):
        """Run one operation to completion alone (a read included); return its result."""
        if op == "read":
            return self.read(args["path"], args["file"])
        r = self.start(op, args)
        while not self.advance(r, alone=True):
            pass
        return r.result

    def start(self, op: str, args: dict) -> Running:
        """Begin an operation; nothing runs until :meth:`advance`."""
        op_no = len(self.ops)
        self.ops.append((op, dict(args)))
        self.trace.append(TraceEntry(op_no, op, dict(args)))
        thread = self._call(f"start of {call_text(op, args)}", self.impl.start, op, args)
        r = Running(op_no, op, dict(args), thread)
        self.in_flight.append(r)
        return r

    def advance(self, r: Running, alone: bool = False) -> bool:
        """Take one step of a running operation; True once it has returned.

        What the operation must do is decided from the state in which its first
        step (or its return) is seen: with threads interleaved, that is the state
        the implementation saw when it decided.
        """
        op, args = r.op, r.args
        reply = self._call(f"step of {call_text(op, args)}", self.impl.step, r.thread)
        if type(reply) is Blocked:
            if alone:
                self.fail("deadlock", f"{op} blocked on {reply.lock} with no other thread")
            return False
        if r.expect is None:
            r.expect = self._expect(op, args)
            if self.coverage is not None:
                page = self.pages.get(args.get("page"))
                self.coverage.face(self.state, op, args, self.paths, r.expect[0],
                                   page.memcg if page is not None else None)
                if op in USER_CHARGES and self.ctx[args["task"]].fatal_signal:
                    self.coverage.fatal_signal(self.state, op, self.cfg.task_index(args["task"]))
        pure, first = r.expect
        if type(reply) is Done:
            self.in_flight.remove(r)
            r.result = reply.result
            self._check_result(op, args, pure, r.actions, r.last_ret, r.result, r.charged)
            return True
        if len(r.actions) >= MAX_STEPS:
            self.fail("hang", f"{op} took more than {MAX_STEPS} steps")
        action, sargs, ret = reply.action, reply.args, reply.ret
        if action not in MODEL.actions:
            self.fail("protocol", f"unknown action {action!r}")
        margs = self._model_args(action, sargs)
        if pure is not None:
            self.fail("errno", f"{op} {args} must fail with {pure} and change nothing, "
                               f"but took step {action}")
        if not r.actions and first is not None and (action, margs) != first:
            self.fail("step", f"{op} {args}: first step must be {first[0]}{first[1]}, "
                              f"got {action}{margs}")
        self._op_specific(op, args, action, margs, sargs)
        self.check_step(r.op_no, op, args, r.thread, action, sargs, margs, ret)
        r.actions.append(action)
        r.last_ret = ret
        if action == "charge.commit" or (action == "user.charge" and ret == 0):
            r.charged = margs[1]  # the memcg recorded on the page (pc->mem_cgroup)
        return False

    def read(self, path: str, file: str):
        """A cgroupfs read, compared with the face spec. It is recorded with the
        operations, so that a read that fails replays."""
        args = {"path": path, "file": file}
        self.ops.append(("read", args))
        self.trace.append(TraceEntry(len(self.ops) - 1, "read", dict(args)))
        got = self._call(f"read {path}/{file}", self.impl.read, path, file)
        problem = read_problem(self.cfg, self.state, self.paths.index(path), path, file, got)
        if problem:
            self.fail("read", problem)
        return got

    def check_step(self, op_no, op, args, thread, action, sargs, margs, ret):
        pre = self.state
        post = self.abstract(self._call(f"snapshot after {action} (in {op})",
                                        self.impl.snapshot))
        self.trace.append(TraceEntry(op_no, op, dict(args), thread, action, dict(sargs), ret, post))
        if self.verify:
            bad, known = judge_step(self.cfg, self.oracle, pre, action, margs, ret, post,
                                    self.claim)
            if bad:
                self.fail(*bad)
            if self.coverage is not None:
                self.coverage.step(pre, action, margs, ret, post)
            if known is not None and known.broke:
                self.verify = False
        self.state = post
        self.steps_checked += 1
        self._track_pages(action, margs, ret, pre)

    def _op_specific(self, op, args, action, margs, sargs):
        if op == "alloc_kmem" and action == "charge.bypass":
            if self.coverage is not None:
                self.coverage.bypass([n for n, on in zip(BYPASS_CONTEXT, self._context_bits(args),
                                                         strict=True) if on],
                                     self.state, margs[1])
            want = self._bypass_expected(args)
            if bool(margs[2]) != want:
                ctx = [n for n, on in zip(BYPASS_CONTEXT, self._context_bits(args), strict=True) if on]
                self.fail("step", f"charge.bypass flags={margs[2]} but the context "
                                  f"{'asks' if want else 'does not ask'} for a bypass {ctx}")
        if op == "alloc_kmem" and action == "charge.kmem" and self._bypass_expected(args):
            self.fail("step", "charged an allocation whose context must bypass accounting")
        if op == "alloc_kmem" and action == "charge.kmem" and margs[2] != args.get("order", 0):
            self.fail("step", f"charge.kmem of order {margs[2]} for an allocation of order "
                              f"{args.get('order', 0)}: memcg_kmem_newpage_charge takes the "
                              f"allocation's order")
        if op == "alloc_kmem" and action in ("charge.commit", "charge.abort"):
            want = "charge.abort" if args.get("fail") else "charge.commit"
            if action != want:
                self.fail("step", f"the page allocator {'failed' if args.get('fail') else 'succeeded'}"
                                  f", so the charge must end with {want}, not {action}")

    def _context_bits(self, a):
        ctx = self.ctx[a["task"]]
        gfp = set(a.get("gfp", ("GFP_KERNEL", "__GFP_KMEMCG")))
        return ("__GFP_KMEMCG" not in gfp, "__GFP_NOFAIL" in gfp, bool(a.get("in_interrupt")),
                not ctx.has_mm, ctx.kthread, ctx.fatal_signal)

    def _track_pages(self, action, margs, ret, pre: State):
        if reparents(action, ret):
            m = margs[0]
            target = self.cfg.parents[m] if pre.hier[m] else ROOT
            for page in self.pages.values():
                if page.kind == "user" and page.memcg == m:
                    page.memcg = target
            for r in self.in_flight:  # charged, handle not yet returned
                if r.op == "alloc_user" and r.charged == m:
                    r.charged = target

    def _check_result(self, op, args, pure, actions, last_ret, result, committed=None):
        if op == "set_task":
            if result != 0:
                self.fail("errno", f"set_task returned {result}")
            ctx = self.ctx[args["task"]]
            for k in ("kthread", "fatal_signal", "has_mm"):
                if args.get(k) is not None:
                    setattr(ctx, k, bool(args[k]))
            return
        if op == "kmem_cache_create" and pure is None and actions:
            if result != args.get("name"):  # the cache, named as the other paths name it
                self.fail("errno", f"kmem_cache_create {args} returned {result!r}, not the "
                                   f"cache ({args.get('name')!r})")
            return
        if not isinstance(result, int) or isinstance(result, bool):
            self.fail("protocol", f"{op} returned {result!r}, not an integer")
        if pure is not None:
            if actions:
                return  # already reported
            if result != pure:
                self.fail("errno", f"{op} {args} returned {result}, must be {pure}")
            return
        if not actions:
            self.fail("step", f"{op} {args} returned {result} without taking any step")
        if op in ("alloc_kmem", "alloc_user"):
            want_fail = last_ret < 0 or (op == "alloc_kmem" and args.get("fail"))
            if want_fail and result != -ENOMEM:
                self.fail("errno", f"{op} must fail with {-ENOMEM}, returned {result}")
            if not want_fail and (result < 0 or result in self.pages):
                self.fail("errno", f"{op} must return a new page handle, returned {result}")
            if not want_fail:
                charged = committed
                self.pages[result] = Page("kmem" if op == "alloc_kmem" else "user", charged,
                                          args["task"], args.get("order", 0))
            return
        if op in ("free_kmem", "free_user"):
            if result != 0:
                self.fail("errno", f"{op} returned {result}")
            del self.pages[args["page"]]
            return
        if result != last_ret:
            self.fail("errno", f"{op} returned {result}, its last step returned {last_ret}")


def reparents(action: str, ret: int) -> bool:
    """Whether a step ran mem_cgroup_reparent_charges: an rmdir or a force_empty
    that succeeded moved the memcg's user pages to its parent (the root without
    hierarchy), so a page handle now frees from there."""
    return action in ("rmdir", "force_empty") and ret == 0


#: every file a cgroupfs read may name: the memory.* files with a read handler,
#: a trigger without one (-EINVAL), and a file the controller does not have (-ENOENT)
READ_FILES = (*cgroupfs.FILES, *cgroupfs.READ_ONLY, *cgroupfs.WRITE_ONLY, "memory.nosuch")


def _read_lines(file: str, text):
    """A read's text as compared: a value without its trailing newline is the same
    value; memory.kmem.slabinfo's lines as a set (the order of a memcg's cache
    list is not part of the abstract state)."""
    if not isinstance(text, str):
        return text
    if file == "memory.kmem.slabinfo":
        return sorted(text.splitlines())
    return text if text.endswith("\n") else text + "\n"


def expect_read(cfg: Config, s: State, m: int, file: str):
    """What a read of ``file`` of memcg ``m`` gives in ``s`` (model/cgroupfs.py;
    -ENOENT unless the memcg is online); None where the read itself is the bug
    (it would walk into a half-registered cache, a profile's): undefined."""
    return cgroupfs.expect_read(cfg, s, m, file) if s.lifecycle[m] == ONLINE else -ENOENT


def read_problem(cfg: Config, s: State, m: int, path: str, file: str, got) -> str | None:
    """The harness's read check: what ``got``, read from ``file`` of memcg ``m`` (at
    ``path``) in ``s``, gets wrong against the face spec, or None."""
    want = expect_read(cfg, s, m, file)
    if want is None or _read_lines(file, got) == _read_lines(file, want):
        return None
    return f"read {path.rstrip('/')}/{file}: got {got!r}, the model says {want!r}"


def every_read(s: State, paths):
    """(memcg, path, file) of every cgroupfs read a user may make in ``s``: each
    file of every online memcg, and one file of each other memcg (-ENOENT)."""
    for m, path in enumerate(paths):
        for file in READ_FILES if s.lifecycle[m] == ONLINE else READ_FILES[:1]:
            yield m, path, file


def read_problems(cfg: Config, s: State, paths, read) -> list[str]:
    """:func:`every_read` in ``s`` (``read(path, file)``, the implementation's),
    each checked as the harness checks a read: what the implementation shows a
    user in ``s`` that the model does not. A read the model leaves undefined is
    not made: making it is the bug (a NULL dereference in the implementation)."""
    out = []
    for m, path, file in every_read(s, paths):
        if expect_read(cfg, s, m, file) is None:
            continue
        problem = read_problem(cfg, s, m, path, file, read(path, file))
        if problem:
            out.append(problem)
    return out


class AlphaError(ValueError):
    """A snapshot that names what the configuration does not have."""


def memcg_name(cfg: Config, paths, x):
    """A memcg in a snapshot or a step, by cgroupfs path or by the configuration's name."""
    if x is None:
        return None
    if x in paths:
        return cfg.memcgs[paths.index(x)]
    if x in cfg.memcgs:
        return x
    raise AlphaError(f"unknown memcg path {x!r}")


def abstract_state(cfg: Config, paths, snap) -> State:
    """alpha's output -> the model State: a snapshot in the shape of
    model/state.py's ``to_json``, its memcgs keyed by cgroupfs path (the
    protocol's format) or by the configuration's names. A memcg left out is one
    not yet created; a cache left out, one never created. Raises
    :class:`AlphaError` for a memcg outside the configuration, and what
    ``from_json`` raises for a malformed one."""
    memcgs = dict(snap["memcgs"])
    named = {}
    for key, v in memcgs.items():
        try:
            named[memcg_name(cfg, paths, key)] = v
        except AlphaError:
            extra = sorted(k for k in memcgs if k not in paths and k not in cfg.memcgs)
            raise AlphaError(f"snapshot has memcgs outside the configuration: {extra}") from None
    blank = None
    for name in cfg.memcgs:
        if name not in named:
            blank = blank or _blank_memcg()
            named[name] = blank
    out = dict(snap)
    out["memcgs"] = named
    out["tasks"] = {t: {**v, "memcg": memcg_name(cfg, paths, v["memcg"]),
                        "charging": memcg_name(cfg, paths, v.get("charging")),
                        "stack": memcg_name(cfg, paths, v.get("stack"))}
                    for t, v in snap["tasks"].items()}
    out["admin"] = {**snap["admin"], "memcg": memcg_name(cfg, paths, snap["admin"].get("memcg"))}
    if "mms" in snap:  # each mm's anonymous pages by memcg path
        out["mms"] = {k: {**v, "anon": {memcg_name(cfg, paths, p): n
                                        for p, n in v.get("anon", {}).items()}}
                      for k, v in snap["mms"].items()}
    if "stock" in snap:
        out["stock"] = [{**x, "memcg": memcg_name(cfg, paths, x.get("memcg"))}
                        for x in snap["stock"]]
    offline = snap.get("offline")
    if offline is not None:
        out["offline"] = {**offline, "memcg": memcg_name(cfg, paths, offline.get("memcg"))}
    return from_json(cfg, out)


def model_args(cfg: Config, paths, action: str, args: dict) -> tuple:
    """A step's kernel-level arguments (paths, names) -> the model action's
    parameters (indices)."""
    out = []
    for p in MODEL.actions[action].params:
        # a step without an order is of a single page (protocol 2 before orders)
        v = args.get(p, 0) if p == "order" else args[p]
        if p in ("task", "parent"):
            out.append(cfg.task_index(v))
        elif p == "memcg":
            out.append(cfg.memcgs.index(memcg_name(cfg, paths, v)))
        elif p == "counter":
            out.append(("res", "kmem").index(v))
        elif p == "cache":
            out.append(cache_index(cfg, v))
        elif p == "root":
            out.append(cfg.roots.index(v))
        elif p == "context":
            out.append(CONTEXTS.index(v))
        else:
            out.append(int(v))
    return tuple(out)


def protocol_args(cfg: Config, paths, action: str, margs: tuple) -> dict:
    """The inverse of :func:`model_args`: a model action's parameters (indices)
    -> the step's kernel-level arguments (paths, names), as an implementation
    that steps reports them."""
    out = {}
    for p, v in zip(MODEL.actions[action].params, margs, strict=True):
        if p in ("task", "parent"):
            out[p] = cfg.tasks[v]
        elif p == "memcg":
            out[p] = paths[v]
        elif p == "counter":
            out[p] = ("res", "kmem")[v]
        elif p == "cache":  # a root's own slabs by the root's name (cache_index's inverse)
            out[p] = cache_name(cfg, v) if memcg_of(cfg, v) else cfg.roots[root_of(cfg, v)]
        elif p == "root":
            out[p] = cfg.roots[v]
        elif p == "context":
            out[p] = CONTEXTS[v]
        else:
            out[p] = v
    return out


@cache
def _cache_names(cfg: Config) -> dict:
    """A cache's name -> its number; with root_objects a root's own slabs are
    named by the root's name (cache_show prints it)."""
    own = {r: root_own(cfg, i) for i, r in enumerate(cfg.roots)} if cfg.root_objects else {}
    return {**{cache_name(cfg, c): c for c in range(n_caches(cfg)) if memcg_of(cfg, c)}, **own}


def cache_index(cfg: Config, name: str) -> int:
    try:
        return _cache_names(cfg)[name]
    except KeyError:
        raise ValueError(f"unknown cache {name!r}") from None


def judge_step(cfg: Config, oracle, pre: State, action: str, margs: tuple, ret: int,
               post: State, claim: Claim | None = None
               ) -> tuple[tuple[str, str] | None, KnownBug | None]:
    """The one step check: ((check, message) when (pre, action(margs) = ret,
    post) is not a model step or breaks an invariant, else None; and, under a
    kernel ``claim``, the known bug of that kernel the step is, else None).
    An invariant a known bug breaks is that bug, not a problem."""
    v = oracle.check(pre, action, margs, ret, post)
    if not v.ok:
        return ("oracle", f"{action}{margs}: {v.problem}"), None
    # a stutter keeps every invariant that held
    bad = invariant_problems(cfg, pre, post, action) if post != pre else []
    known = claim.known(pre, action, margs, ret, post, bad) if claim is not None else None
    if bad and known is None:
        return ("invariant", f"after {action}{margs}: {', '.join(bad)}"), None
    return None, known


def _blank_memcg() -> dict:
    fresh = {"usage": 0, "max_usage": 0, "limit": UNLIMITED, "failcnt": 0}
    return {"lifecycle": LIFECYCLE[ABSENT], "use_hierarchy": False, "hier": False,
            "kmem_active": False, "kmemcg_id": -1, "res": dict(fresh), "kmem": dict(fresh),
            "kmem_pages": 0, "user_pages": 0}


def failure_of(make_impl, cfg: Config, ops, oracle_mode: str = "eval",
               claim: Claim | None = None) -> Nonconformance | None:
    """Run operations alone, in order, on a fresh implementation, every step
    checked (under a kernel ``claim``, if any): the nonconformance they show, or None."""
    try:
        h = Harness.started(make_impl, cfg, oracle_mode=oracle_mode, claim=claim)
    except Nonconformance as e:
        return e
    try:
        for op, args in ops:
            h.run(op, args)
    except Nonconformance as e:
        return e
    finally:
        h.impl.close()
    return None
