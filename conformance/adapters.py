"""Adapters: a Python implementation in-process, or any program over a pipe."""

from __future__ import annotations

import importlib
import json
import os
import selectors
import shlex
import subprocess
import sys
import time
import traceback
import weakref
from errno import ENOENT
from typing import ClassVar

from kmemcg.conformance.calls import RAISED, bounded
from kmemcg.conformance.protocol import (
    VERSION,
    Done,
    ImplementationTimeout,
    ProtocolError,
    Reply,
    SetupError,
    decode,
    frozen,
)
from kmemcg.conformance.sequential import WholeOperations
from kmemcg.impl.sched import Blocked, Step, Thread

#: the reference implementation's factory, as ``--impl`` names one
REFERENCE = "kmemcg.impl.kernel:Kernel.for_config"

#: what PythonAdapter drives on every scope: the faces of kmemcg.impl.kernel.Kernel
KERNEL_FACES = ("mkdir", "rmdir", "write", "attach", "alloc_kmem_page", "free_kmem_page",
                "alloc_user_page", "free_user_page", "set_task_flags", "read", "snapshot")
#: and on a scope with root caches or forked tasks: the slab and task paths, the
#: workqueue, /proc/slabinfo
CACHE_FACES = ("kmem_cache_alloc", "kmem_cache_free", "kmem_cache_shrink", "kmem_cache_destroy",
               "spawn", "fork", "exit", "put_task_struct", "wq.queue", "wq.take", "proc_slabinfo")


#: and on a scope where memcgs die: css_free, the RCU free, the memcg's state
DEATH_FACES = ("css_free", "mem_cgroup_free", "memcg_state")
#: and on a scope with tasks created and user memory: the task paths, the faults
TASK_FACES = ("spawn", "fork", "exit", "put_task_struct")
USER_MEMORY_FACES = ("fault_anon", "read_file")
#: and on a scope that loads a root cache at run time: kmem_cache_create
ROOT_CREATE_FACES = ("kmem_cache_create",)


#: seconds a program over a pipe has to answer its first request, ``hello``
STARTUP = 60.0

#: what an implementation of whole operations needs (docs/protocol.md, the minimal path)
WHOLE_FACES = ("call", "read", "snapshot")


def whole(kernel) -> bool:
    """Whether a Python implementation offers whole operations only: a ``call``
    and no ``steps`` of its own (the reference and its mutants step)."""
    return callable(getattr(kernel, "call", None)) and getattr(kernel, "steps", None) is None


def dies(cfg) -> bool:
    """Whether memcgs are freed in ``cfg``'s scope (model/actions/death.py)."""
    return cfg.actions is None or "mem_cgroup_free" in cfg.actions


def faces_for(cfg) -> tuple[str, ...]:
    """The faces a kernel must have to be driven over ``cfg``."""
    acts = set(cfg.actions) if cfg.actions is not None else None

    def any_of(*names):
        return acts is None or bool(acts & set(names))

    return tuple(dict.fromkeys(
        KERNEL_FACES + (CACHE_FACES if cfg.roots or not cfg.boot_tasks else ())
        + (DEATH_FACES if dies(cfg) else ())
        + (TASK_FACES if any_of("spawn", "fork") else ())
        + (USER_MEMORY_FACES if any_of("anon.charge", "pagecache.charge") else ())
        + (ROOT_CREATE_FACES if cfg.roots and any_of("kmem_cache_create") else ())))


def load_factory(spec: str):
    """``MOD:FACTORY`` -> the callable ``factory(config)``; a class with a
    ``for_config`` classmethod (a :class:`~kmemcg.impl.kernel.Kernel` subclass)
    gives that. A clear error for a bad spec."""
    mod_name, sep, attr = spec.strip().partition(":")
    if not sep or not mod_name or not attr:
        raise SetupError(f"--impl wants MOD:FACTORY (e.g. kmemcg.impl.kernel:Kernel), got {spec!r}")
    if "" not in sys.path and os.getcwd() not in sys.path:
        # a module in the current directory imports, as with python -m; last, so
        # that it shadows nothing installed
        sys.path.append(os.getcwd())
    try:
        mod = importlib.import_module(mod_name)
    except RAISED as e:  # an import can fail in any way
        raise SetupError(f"cannot import {mod_name!r}: {type(e).__name__}: {e}") from None
    factory = mod
    for part in attr.split("."):  # entry-point style: MOD:Class.method
        factory = getattr(factory, part, None)
    if factory is None or not callable(factory):
        raise SetupError(f"{mod_name!r} has no callable {attr!r}")
    if isinstance(factory, type) and callable(getattr(factory, "for_config", None)):
        return factory.for_config  # a Kernel subclass: booted as the configuration says
    return factory


def where(e: BaseException, frames: int = 3) -> str:
    """The last frames an exception passed through outside the suite: where in
    the implementation it was raised, for its author."""
    suite = os.path.dirname(os.path.abspath(__file__))
    tb = [f for f in traceback.extract_tb(e.__traceback__)
          if os.path.dirname(os.path.abspath(f.filename)) != suite][-frames:]
    return "  raised at:\n" + "".join(traceback.format_list(tb)).rstrip("\n")


def require_faces(obj, faces, who: str):
    """Refuse, naming what is missing, an object without the faces the suite drives
    (``wq.take`` names an attribute of an attribute); a factory that returns None,
    say, is the user's mistake, not a verdict found later."""
    missing = []
    for face in faces:
        target = obj
        for part in face.split("."):
            target = getattr(target, part, None)
        if target is None:
            missing.append(face)
    if missing:
        got = "None" if obj is None else f"a {type(obj).__name__}"
        raise SetupError(f"{who} returned {got}, which lacks {', '.join(missing)}")
    return obj


class PythonAdapter:
    """Drive a Python object with the reference implementation's faces.

    The object needs the faces of :class:`kmemcg.impl.kernel.Kernel` (see
    :func:`faces_for`): its paths step by step (under ``steps``, as the
    reference has them, or as generator methods) yielding
    :class:`~kmemcg.impl.sched.Step` or ``Blocked`` records (or the protocol's
    dicts), plain ``set_task_flags``, ``read`` and ``snapshot``, and on a scope
    with root caches ``proc_slabinfo`` and a workqueue ``wq`` (``queue`` of items
    with ``name``, ``running`` and ``func(item)``; ``take(item)``); ``hidden()``
    is optional.
    An exception inside the implementation (a ``sys.exit()`` too) becomes a
    :class:`ProtocolError` naming where it was raised, never a crash of the
    suite; a call that runs past ``timeout`` seconds becomes an
    :class:`ImplementationTimeout`.
    """

    GFP: ClassVar[dict[str, int]] = {"GFP_KERNEL": 0xD0, "__GFP_KMEMCG": 0x100000,
                                      "__GFP_NOFAIL": 0x800}
    DEFAULT_GFP = ("GFP_KERNEL", "__GFP_KMEMCG")

    def __init__(self, kernel, name: str = "python", timeout: float | None = None,
                 faces=KERNEL_FACES):
        self.kernel = require_faces(kernel, faces, name)
        self.name = name
        self.timeout = timeout
        self.threads: dict[int, Thread] = {}
        self._next = 0
        self._steps = getattr(kernel, "steps", kernel)  # the reference's steps, or generators
        self._hidden = getattr(kernel, "hidden", None)

    @classmethod
    def from_spec(cls, spec: str, cfg, timeout: float | None = None) -> PythonAdapter:
        """The adapter around ``factory(cfg)`` for ``MOD:FACTORY``."""
        return cls.booting(load_factory(spec), cfg, spec, timeout)

    @classmethod
    def booting(cls, factory, cfg, name: str, timeout: float | None = None) -> PythonAdapter:
        """The adapter around ``factory(cfg)``: the machine ``cfg`` describes at
        boot. A factory that raises or runs past ``timeout`` is a SetupError."""
        try:
            kernel = bounded(f"{name}: the factory", factory, cfg, timeout=timeout)
        except ImplementationTimeout as e:
            raise SetupError(str(e)) from None
        except RAISED as e:
            raise SetupError(f"{name}: the factory raised {type(e).__name__}: {e}") from None
        if whole(kernel):  # the minimal path: whole operations and a snapshot
            return WholeOperations(cls(kernel, name=name, timeout=timeout, faces=WHOLE_FACES),
                                   cfg, name)
        return cls(kernel, name=name, timeout=timeout, faces=faces_for(cfg))

    def call(self, op: str, args: dict):
        """A whole operation, on an implementation of the minimal path."""
        return self._guard(op, self.kernel.call, op, args)

    @property
    def checkpoints(self) -> bool:
        """Whether the implementation offers ``save`` and ``restore`` (the
        ``checkpoint`` capability; used on the minimal path only)."""
        return all(callable(getattr(self.kernel, f, None)) for f in ("save", "restore"))

    def save(self) -> None:
        self._guard("save", self.kernel.save)

    def restore(self) -> None:
        self._guard("restore", self.kernel.restore)

    def _guard(self, what, fn, *args, **kw):
        try:
            return bounded(f"{self.name}: {what}", fn, *args, timeout=self.timeout, **kw)
        except ProtocolError:
            raise
        except RAISED as e:
            raise ProtocolError(f"{self.name}: {what} raised {type(e).__name__}: {e}\n"
                                f"{where(e)}") from None

    def _path(self, op: str, a: dict):
        """The kernel path an operation runs (a generator), or its result at once."""
        k, steps = self.kernel, self._steps
        if op == "set_task":
            return k.set_task_flags(a["task"], kthread=a.get("kthread"),
                                    fatal_signal=a.get("fatal_signal"), has_mm=a.get("has_mm"))
        if op == "alloc_kmem":
            gfp = sum(self.GFP[f] for f in a.get("gfp", self.DEFAULT_GFP))
            return steps.alloc_kmem_page(a["task"], gfp=gfp,
                                         in_interrupt=bool(a.get("in_interrupt")),
                                         fail=bool(a.get("fail")), order=a.get("order", 0))
        if op == "work":
            work = next((w for w in dict.fromkeys(k.wq.queue)
                         if w.name == a["item"] and not w.running), None)
            if work is None:
                return -ENOENT  # nothing of that name to pick up
            k.wq.take(work)
            return work.func(work)
        call = _CALLS.get(op)
        if call is None:
            raise ProtocolError(f"unknown operation {op!r}")
        return call(steps, a)

    def start(self, op: str, args: dict) -> int:
        path = self._guard(op, self._path, op, args)
        if not hasattr(path, "__next__"):
            path = _immediate(path)
        self._next += 1
        self.threads[self._next] = Thread(path, op)
        return self._next

    def step(self, thread: int) -> Reply:
        t = self.threads.get(thread)
        if t is None:
            raise ProtocolError(f"no thread {thread}")
        y = self._guard(f"thread {thread} ({t.name})", t.step)
        if y is None:
            del self.threads[thread]
            return Done(t.result)
        if type(y) is Step or type(y) is Blocked:
            return y
        try:
            return decode(y)
        except ProtocolError:
            raise ProtocolError(f"{self.name}: thread {thread} yielded {y!r}, not a Step") \
                from None

    def queued(self) -> list[str]:
        return self._guard("its workqueue", lambda: [
            w.name for w in dict.fromkeys(self.kernel.wq.queue) if not w.running])

    def read(self, path: str, file: str):
        return self._guard("read", self.kernel.read, path, file)

    def memcg_state(self, path: str):
        return self._guard("memcg_state", self.kernel.memcg_state, path)

    def slabinfo(self) -> str:
        # the protocol's name (an implementation of whole operations), else the
        # reference kernel's, after the procfs file
        face = getattr(self.kernel, "slabinfo", None) or self.kernel.proc_slabinfo
        return self._guard("/proc/slabinfo", face)

    def snapshot(self) -> dict:
        return self._guard("snapshot", self.kernel.snapshot)

    def hidden(self):
        return None if self._hidden is None else self._guard("hidden()", self._hidden)

    def close(self) -> None:
        self.threads.clear()


#: how each operation with a path starts it on the kernel's ``steps``
_CALLS = {
    "mkdir": lambda s, a: s.mkdir(a["path"]),
    "rmdir": lambda s, a: s.rmdir(a["path"]),
    "write": lambda s, a: s.write(a["path"], a["file"], a["text"]),
    "attach": lambda s, a: s.attach(a["task"], a["path"]),
    "free_kmem": lambda s, a: s.free_kmem_page(a.get("task"), a["page"]),
    "alloc_user": lambda s, a: s.alloc_user_page(a["task"]),
    "free_user": lambda s, a: s.free_user_page(a["page"]),
    "fault_anon": lambda s, a: s.fault_anon(a["task"]),
    "read_file": lambda s, a: s.read_file(a["task"]),
    "spawn": lambda s, a: s.spawn(a["task"], a["path"]),
    "fork": lambda s, a: s.fork(a["task"], a["parent"], a.get("thread", False)),
    "exit": lambda s, a: s.exit(a["task"]),
    "put_task_struct": lambda s, a: s.put_task_struct(a["task"]),
    # a context and the task named only when given: an implementation of the
    # protocol before root-served allocations takes neither
    "kmem_cache_alloc": lambda s, a: s.kmem_cache_alloc(
        a["root"], a["path"], a.get("fill"),
        **{k: a[k] for k in ("context", "task") if a.get(k) is not None}),
    # by handle; the face before handles (root, path, fill) still works
    "kmem_cache_free": lambda s, a: s.kmem_cache_free(
        a.get("object"), a.get("task"), release=a.get("release"),
        **({k: a.get(k) for k in ("root", "path", "fill")} if a.get("object") is None
           else {})),
    "kmem_cache_shrink": lambda s, a: s.kmem_cache_shrink(a["root"], a["path"]),
    "kmem_cache_destroy": lambda s, a: s.kmem_cache_destroy(a["root"]),
    # a name left out is kmem_cache_create's NULL name
    "kmem_cache_create": lambda s, a: s.kmem_cache_create(
        a.get("name"), a["size"], a["objs_per_slab"], a.get("order", 0)),
    "css_free": lambda s, a: s.css_free(a["path"]),
    "mem_cgroup_free": lambda s, a: s.mem_cgroup_free(a["path"]),
    "drain_stock": lambda s, a: s.drain_stock(a["cpu"]),
}


def _immediate(value):
    """A path that returns at once (an operation with no step)."""
    return value
    yield  # pragma: no cover - makes this a generator


class ErrorReply(ProtocolError):
    """The program answered a request with an error reply."""

    def __init__(self, message: str, reply):
        super().__init__(message)
        self.reply = reply


class PipeAdapter:
    """Talk to an implementation in any language over JSON lines on stdin/stdout.

    Each request is one line ``{"id": n, "method": m, "params": {...}}``; the
    reply is one line ``{"id": n, "result": ...}`` or ``{"id": n, "error": msg}``.
    Methods: those of :mod:`kmemcg.conformance.protocol` (``hello`` first, then
    ``reset`` with the configuration). A reply that is late (past
    ``timeout`` seconds), not JSON, or for another id ends the run with a
    :class:`ProtocolError` naming what was received; the program's stderr tail
    is kept for the report.
    """

    def __init__(self, command: str, cfg, timeout: float = 10.0, startup: float = STARTUP):
        """``timeout`` bounds each reply; the first, ``hello``, is given
        ``startup`` seconds at least, since it includes the program's start
        (an interpreter's imports, a JVM), which a loaded machine stretches."""
        if not command.strip():
            raise SetupError("--pipe wants a command to run, got an empty one")
        self.command = command
        self.cfg = cfg
        self.timeout = timeout
        self.name = command
        #: a run's close leaves the process for the next ``reset`` (pipe_factory's)
        self.shared = False
        try:
            self.proc = subprocess.Popen(
                shlex.split(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, bufsize=1, env=os.environ.copy(),
            )
        except (OSError, ValueError) as e:  # ValueError: shlex meets an open quote
            raise SetupError(f"cannot start {command!r}: {e}") from None
        self._id = 0
        self._buf = b""
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            hello = self._call("hello", {"protocol": VERSION}, max(timeout, startup))
            theirs = hello.get("protocol") if isinstance(hello, dict) else hello
            if theirs != VERSION:
                raise SetupError(f"{command}: speaks protocol {theirs!r}; this suite speaks "
                                 f"version {VERSION} (docs/protocol.md)")
            self.capabilities = capabilities(command, hello)
            try:
                self.reset()
            except ErrorReply as e:  # it answered: this configuration is not one it has
                raise SetupError(f"{command}: refuses the configuration {cfg.name!r}: "
                                 f"{e.reply}") from None
        except ProtocolError:
            self.close()
            raise

    def reset(self) -> PipeAdapter:
        """Boot the machine again (the ``reset`` method): a fresh run on the same
        process, as the interleaver's replays need."""
        self._call("reset", {"config": self.cfg.to_json()})
        return self

    def _call(self, method: str, params: dict, timeout: float | None = None):
        self._id += 1
        line = json.dumps({"id": self._id, "method": method, "params": params})
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise ProtocolError(f"{self.name}: exited ({self._stderr_tail()})") from None
        reply = self._readline(method, self.timeout if timeout is None else timeout)
        try:
            msg = json.loads(reply)
        except json.JSONDecodeError:
            raise ProtocolError(f"{self.name}: answered {method} with non-JSON {reply[:200]!r}") \
                from None
        if not isinstance(msg, dict) or msg.get("id") != self._id:
            raise ProtocolError(f"{self.name}: reply {reply[:200]!r} does not answer id {self._id}")
        if "error" in msg:
            raise ErrorReply(f"{self.name}: {method} failed: {msg['error']}", msg["error"])
        return msg.get("result")

    def _readline(self, method: str, timeout: float) -> str:
        """One reply line, read without blocking past the deadline: a program that
        writes half a line and then hangs is late, not a hang of the suite."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not self._sel.select(timeout=left):
                self.proc.kill()
                raise ImplementationTimeout(f"{self.name}: no reply to {method} within "
                                            f"{timeout:g}s")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                if self._buf:
                    break  # its last words, with no newline
                raise ProtocolError(f"{self.name}: exited ({self._stderr_tail()})")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode(errors="replace")

    def _stderr_tail(self) -> str:
        try:
            self.proc.wait(timeout=1)
            err = self.proc.stderr.read() or ""
        except Exception:
            err = ""
        return f"status {self.proc.returncode}; stderr: {err[-500:]!r}"

    @property
    def stepping(self) -> bool:
        return "steps" in self.capabilities

    @property
    def checkpoints(self) -> bool:
        return "checkpoint" in self.capabilities

    def call(self, op, args):
        """A whole operation (the ``call`` capability): its result."""
        return self._call("call", {"op": op, "args": args})

    def save(self) -> None:
        """Remember the machine's state (the ``checkpoint`` capability)."""
        self._call("save", {})

    def restore(self) -> None:
        """Return to the state last saved."""
        self._call("restore", {})

    def start(self, op, args):
        return self._call("start", {"op": op, "args": args})

    def step(self, thread):
        reply = self._call("step", {"thread": thread})
        try:
            return decode(reply)
        except ProtocolError as e:
            raise ProtocolError(f"{self.name}: {e}") from None

    def queued(self):
        return self._call("queued", {})

    def read(self, path, file):
        return self._call("read", {"path": path, "file": file})

    def memcg_state(self, path):
        return self._call("memcg_state", {"path": path})

    def slabinfo(self):
        return self._call("slabinfo", {})

    def snapshot(self):
        return self._call("snapshot", {})

    def hidden(self):
        return frozen(self._call("hidden", {}))

    def close(self):
        if self.shared and self.proc.poll() is None:
            return  # booted again by the next run's reset, or ended with its factory
        self.end()

    def end(self):
        """End the program's process."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def capabilities(who: str, hello) -> frozenset[str]:
    """What a ``hello`` reply says the implementation offers: ``steps`` (start,
    step, queued, hidden: race checking), ``call`` (whole operations: the
    minimal path), or both, and optionally ``checkpoint`` (save and restore).
    A name this suite does not know is left out, as a newer server's optional
    capability should be; one of ``steps`` and ``call`` must be there. A reply
    without ``capabilities`` is a server of before the handshake said them,
    which steps."""
    caps = hello.get("capabilities", ["steps"]) if isinstance(hello, dict) else ["steps"]
    if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
        raise SetupError(f"{who}: hello's capabilities must be a list of names, got {caps!r}")
    if not set(caps) & {"steps", "call"}:
        raise SetupError(f"{who}: hello's capabilities {caps!r}: 'steps' or 'call' must be "
                         f"among them (this suite knows {', '.join(CAPABILITIES)})")
    return frozenset(caps) & frozenset(CAPABILITIES)


#: what an implementation may offer (docs/protocol.md)
CAPABILITIES = ("steps", "call", "checkpoint")


def whole_or_stepping(adapter, cfg):
    """An adapter as the suite drives it: one that steps as it is, one of whole
    operations only behind :class:`~kmemcg.conformance.sequential.WholeOperations`."""
    if getattr(adapter, "stepping", True):
        return adapter
    return WholeOperations(adapter, cfg, adapter.name)


def pipe_factory(command: str, cfg, timeout: float = 10.0):
    """``make()`` over one server process: the first call starts it, each later
    call boots it again with ``reset`` (a server that has exited, or was killed
    for a late reply, is started anew). A run's close leaves the process running,
    since starting an interpreter per run (a scenario, an example) cost more than
    the run; it is ended once ``make`` is no longer referenced."""
    held: list[PipeAdapter] = []

    def make():
        if not held or held[0].proc.poll() is not None:
            held[:] = [PipeAdapter(command, cfg, timeout)]
            held[0].shared = True
        else:
            held[0].reset()
        return whole_or_stepping(held[0], cfg)

    weakref.finalize(make, _end_all, held)
    return make


def _end_all(held: list) -> None:
    for pipe in held:
        pipe.end()
