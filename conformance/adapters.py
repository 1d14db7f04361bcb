"""Adapters: a Python implementation in-process, or any program over a pipe."""

from __future__ import annotations

import importlib
import json
import os
import selectors
import shlex
import subprocess
import time
import traceback
from typing import ClassVar

from kmemcg.conformance.protocol import OPERATIONS, VERSION, ProtocolError
from kmemcg.impl.sched import Blocked, Step, Thread


def load_factory(spec: str):
    """``MOD:FACTORY`` -> the callable; a clear error for a bad spec."""
    mod_name, sep, attr = spec.partition(":")
    if not sep or not mod_name or not attr:
        raise ProtocolError(f"--impl wants MOD:FACTORY (e.g. kmemcg.impl.kernel:Kernel), got {spec!r}")
    try:
        mod = importlib.import_module(mod_name)
    except Exception as e:  # an import can fail in any way
        raise ProtocolError(f"cannot import {mod_name!r}: {type(e).__name__}: {e}") from None
    factory = mod
    for part in attr.split("."):  # entry-point style: MOD:Class.method
        factory = getattr(factory, part, None)
    if factory is None or not callable(factory):
        raise ProtocolError(f"{mod_name!r} has no callable {attr!r}")
    return factory


class PythonAdapter:
    """Drive a Python object with the reference implementation's faces.

    The object needs the methods of :class:`kmemcg.impl.kernel.Kernel`: path methods
    (generators) ``mkdir``, ``rmdir``, ``write``, ``attach``,
    ``alloc_kmem_page``, ``free_kmem_page``, ``alloc_user_page``,
    ``free_user_page``, plain ``set_task_flags``, ``read`` and ``snapshot``.
    An exception inside the implementation becomes a :class:`ProtocolError`
    carrying its traceback, never a crash of the suite.
    """

    GFP: ClassVar[dict[str, int]] = {"GFP_KERNEL": 0xD0, "__GFP_KMEMCG": 0x100000,
                                      "__GFP_NOFAIL": 0x800}

    def __init__(self, kernel, name: str = "python"):
        self.kernel = kernel
        self.name = name
        self.threads: dict[int, Thread] = {}
        self._next = 0

    @classmethod
    def from_spec(cls, spec: str, tasks):
        factory = load_factory(spec)
        try:
            return cls(factory(tasks=tuple(tasks)), name=spec)
        except Exception as e:
            raise ProtocolError(f"{spec}: the factory raised {type(e).__name__}: {e}") from None

    def _guard(self, what, fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except ProtocolError:
            raise
        except Exception as e:
            tb = traceback.format_exc(limit=-3)
            raise ProtocolError(f"{self.name}: {what} raised {type(e).__name__}: {e}\n{tb}") \
                from None

    def start(self, op: str, args: dict) -> int:
        if op not in OPERATIONS:
            raise ProtocolError(f"unknown operation {op!r}")
        k = self.kernel
        a = args
        if op == "set_task":
            path = _immediate(self._guard(op, k.set_task_flags, a["task"], kthread=a.get("kthread"),
                                          fatal_signal=a.get("fatal_signal"),
                                          has_mm=a.get("has_mm")))
        else:
            calls = {
                "mkdir": lambda: k.mkdir(a["path"]),
                "rmdir": lambda: k.rmdir(a["path"]),
                "write": lambda: k.write(a["path"], a["file"], a["text"]),
                "attach": lambda: k.attach(a["task"], a["path"]),
                "alloc_kmem": lambda: k.alloc_kmem_page(
                    a["task"], gfp=sum(self.GFP[f] for f in a.get("gfp", ("GFP_KERNEL",
                                                                         "__GFP_KMEMCG"))),
                    in_interrupt=bool(a.get("in_interrupt")), fail=bool(a.get("fail"))),
                "free_kmem": lambda: k.free_kmem_page(a["task"], a["page"]),
                "alloc_user": lambda: k.alloc_user_page(a["task"]),
                "free_user": lambda: k.free_user_page(a["page"]),
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
        self.command = command
        self.timeout = timeout
        self.name = command
        try:
            self.proc = subprocess.Popen(
                shlex.split(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, bufsize=1, env=os.environ.copy(),
            )
        except OSError as e:
            raise ProtocolError(f"cannot start {command!r}: {e}") from None
        self._id = 0
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        hello = self._call("hello", {})
        if not isinstance(hello, dict) or hello.get("protocol") != VERSION:
            raise ProtocolError(f"{command}: speaks protocol {hello!r}, this suite speaks {VERSION}")
        self._call("reset", {"tasks": list(tasks)})

    def _call(self, method: str, params: dict):
        self._id += 1
        line = json.dumps({"id": self._id, "method": method, "params": params})
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise ProtocolError(f"{self.name}: exited ({self._stderr_tail()})") from None
        deadline = time.monotonic() + self.timeout
        if not self._sel.select(timeout=max(0.0, deadline - time.monotonic())):
            self.proc.kill()
            raise ProtocolError(f"{self.name}: no reply to {method} within {self.timeout}s")
        reply = self.proc.stdout.readline()
        if not reply:
            raise ProtocolError(f"{self.name}: exited ({self._stderr_tail()})")
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
