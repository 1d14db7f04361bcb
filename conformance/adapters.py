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
from typing import ClassVar

from kmemcg.conformance.calls import RAISED, bounded
from kmemcg.conformance.protocol import (
    OPERATIONS,
    VERSION,
    ImplementationTimeout,
    ProtocolError,
    SetupError,
)
from kmemcg.impl.sched import Blocked, Step, Thread

#: what PythonAdapter drives: the faces of kmemcg.impl.kernel.Kernel
KERNEL_FACES = ("mkdir", "rmdir", "write", "attach", "alloc_kmem_page", "free_kmem_page",
                "alloc_user_page", "free_user_page", "set_task_flags", "read", "snapshot")


def load_factory(spec: str):
    """``MOD:FACTORY`` -> the callable; a clear error for a bad spec."""
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

    The object needs the faces of :class:`kmemcg.impl.kernel.Kernel`: the paths
    ``mkdir``, ``rmdir``, ``write``, ``attach``, ``alloc_kmem_page``,
    ``free_kmem_page``, ``alloc_user_page``, ``free_user_page`` step by step
    (under ``steps``, as the reference has them, or as generator methods), and
    plain ``set_task_flags``, ``read`` and ``snapshot``.
    An exception inside the implementation (a ``sys.exit()`` too) becomes a
    :class:`ProtocolError` naming where it was raised, never a crash of the
    suite; a call that runs past
    ``timeout`` seconds becomes an :class:`ImplementationTimeout`.
    """

    GFP: ClassVar[dict[str, int]] = {"GFP_KERNEL": 0xD0, "__GFP_KMEMCG": 0x100000,
                                      "__GFP_NOFAIL": 0x800}

    def __init__(self, kernel, name: str = "python", timeout: float | None = None):
        self.kernel = require_faces(kernel, KERNEL_FACES, name)
        self.name = name
        self.timeout = timeout
        self.threads: dict[int, Thread] = {}
        self._next = 0

    @classmethod
    def from_spec(cls, spec: str, tasks, timeout: float | None = None):
        factory = load_factory(spec)
        try:
            kernel = bounded(f"{spec}: the factory", factory, tasks=tuple(tasks), timeout=timeout)
        except ImplementationTimeout as e:
            raise SetupError(str(e)) from None
        except RAISED as e:
            raise SetupError(f"{spec}: the factory raised {type(e).__name__}: {e}") from None
        return cls(kernel, name=spec, timeout=timeout)

    def _guard(self, what, fn, *args, **kw):
        try:
            return bounded(f"{self.name}: {what}", fn, *args, timeout=self.timeout, **kw)
        except ProtocolError:
            raise
        except RAISED as e:
            raise ProtocolError(f"{self.name}: {what} raised {type(e).__name__}: {e}\n"
                                f"{where(e)}") from None

    def start(self, op: str, args: dict) -> int:
        if op not in OPERATIONS:
            raise ProtocolError(f"unknown operation {op!r}")
        k = self.kernel
        steps = getattr(k, "steps", k)  # the reference's step API, or generator methods
        a = args
        if op == "set_task":
            path = _immediate(self._guard(op, k.set_task_flags, a["task"], kthread=a.get("kthread"),
                                          fatal_signal=a.get("fatal_signal"),
                                          has_mm=a.get("has_mm")))
        else:
            calls = {
                "mkdir": lambda: steps.mkdir(a["path"]),
                "rmdir": lambda: steps.rmdir(a["path"]),
                "write": lambda: steps.write(a["path"], a["file"], a["text"]),
                "attach": lambda: steps.attach(a["task"], a["path"]),
                "alloc_kmem": lambda: steps.alloc_kmem_page(
                    a["task"], gfp=sum(self.GFP[f] for f in a.get("gfp", ("GFP_KERNEL",
                                                                         "__GFP_KMEMCG"))),
                    in_interrupt=bool(a.get("in_interrupt")), fail=bool(a.get("fail"))),
                "free_kmem": lambda: steps.free_kmem_page(a["task"], a["page"]),
                "alloc_user": lambda: steps.alloc_user_page(a["task"]),
                "free_user": lambda: steps.free_user_page(a["page"]),
            }
            path = self._guard(op, calls[op])
            if not hasattr(path, "__next__"):
                path = _immediate(path)
        self._next += 1
        self.threads[self._next] = Thread(path, op)
        return self._next

    def step(self, thread: int) -> dict:
        t = self.threads.get(thread)
        if t is None:
            raise ProtocolError(f"no thread {thread}")
        y = self._guard(f"thread {thread} ({t.name})", t.step)
        if y is None:
            del self.threads[thread]
            return {"done": True, "result": t.result}
        if isinstance(y, Blocked):
            return {"blocked": y.lock}
        if isinstance(y, Step):
            return {"action": y.action, "args": dict(y.args), "ret": y.ret}
        raise ProtocolError(f"{self.name}: thread {thread} yielded {y!r}, not a Step")

    def read(self, path: str, file: str):
        return self._guard("read", self.kernel.read, path, file)

    def snapshot(self) -> dict:
        return self._guard("snapshot", self.kernel.snapshot)

    def close(self) -> None:
        self.threads.clear()


def _immediate(value):
    """A path that returns at once (an operation with no step)."""
    return value
    yield  # pragma: no cover - makes this a generator


class PipeAdapter:
    """Talk to an implementation in any language over JSON lines on stdin/stdout.

    Each request is one line ``{"id": n, "method": m, "params": {...}}``; the
    reply is one line ``{"id": n, "result": ...}`` or ``{"id": n, "error": msg}``.
    Methods: ``hello`` (answers ``{"protocol": 1}``), ``reset`` (``tasks``),
    ``start``, ``step``, ``read``, ``snapshot``. A reply that is late (past
    ``timeout`` seconds), not JSON, or for another id ends the run with a
    :class:`ProtocolError` naming what was received; the program's stderr tail
    is kept for the report.
    """

    def __init__(self, command: str, tasks, timeout: float = 10.0):
        if not command.strip():
            raise SetupError("--pipe wants a command to run, got an empty one")
        self.command = command
        self.timeout = timeout
        self.name = command
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
            hello = self._call("hello", {})
            if not isinstance(hello, dict) or hello.get("protocol") != VERSION:
                raise ProtocolError(f"{command}: speaks protocol {hello!r}, this suite speaks "
                                    f"{VERSION}")
            self._call("reset", {"tasks": list(tasks)})
        except ProtocolError:
            self.close()
            raise

    def _call(self, method: str, params: dict):
        self._id += 1
        line = json.dumps({"id": self._id, "method": method, "params": params})
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise ProtocolError(f"{self.name}: exited ({self._stderr_tail()})") from None
        reply = self._readline(method)
        try:
            msg = json.loads(reply)
        except json.JSONDecodeError:
            raise ProtocolError(f"{self.name}: answered {method} with non-JSON {reply[:200]!r}") \
                from None
        if not isinstance(msg, dict) or msg.get("id") != self._id:
            raise ProtocolError(f"{self.name}: reply {reply[:200]!r} does not answer id {self._id}")
        if "error" in msg:
            raise ProtocolError(f"{self.name}: {method} failed: {msg['error']}")
        return msg.get("result")

    def _readline(self, method: str) -> str:
        """One reply line, read without blocking past the deadline: a program that
        writes half a line and then hangs is late, not a hang of the suite."""
        deadline = time.monotonic() + self.timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not self._sel.select(timeout=left):
                self.proc.kill()
                raise ImplementationTimeout(f"{self.name}: no reply to {method} within "
                                            f"{self.timeout:g}s")
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

    def start(self, op, args):
        return self._call("start", {"op": op, "args": args})

    def step(self, thread):
        return self._call("step", {"thread": thread})

    def read(self, path, file):
        return self._call("read", {"path": path, "file": file})

    def snapshot(self):
        return self._call("snapshot", {})

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
