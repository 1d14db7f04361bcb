"""A computation in a process of its own, beside this one.

On two cores a long computation that shares nothing with the rest of a command
(BMC beside the induction; the coverage search beside ``kmemcg check``'s other
checks) costs the wall time of the longer of the two, not their sum. The worker
is started with ``spawn``: it gets its function and arguments pickled, and sends
back its result or the exception it raised. It ignores Ctrl-C, which is the
parent's to handle (leaving the block ends the worker), and it ends itself once
orphaned, since a parent killed outright cannot end it. Where no process can be
started, or the worker dies, :meth:`Background.result` computes here instead:
the worker only ever saves time. A worker starts no worker of its own (a
daemonic process may not, and its parent has the other core already): its
background work is done in it, in turn.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

import z3


def _exit_when_orphaned(parent: int) -> None:
    """Z3's calls release the GIL, so this thread runs while a query does."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _child(fn, args: tuple, conn, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    z3.set_param("ctrl_c", False)  # else Z3 installs its own SIGINT handler per query
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    try:
        conn.send(fn(*args))
    except Exception as e:  # the parent reports it; a traceback here would be lost
        conn.send(e)
    finally:
        conn.close()


class Background:
    """``fn(*args)`` in a worker process while the ``with`` block runs; ``fn``
    must be a module-level function, and its arguments and result picklable."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args
        self.process = self.conn = None

    def __enter__(self) -> Background:
        ctx = multiprocessing.get_context("spawn")
        receive, send = ctx.Pipe(duplex=False)
        try:
            if multiprocessing.current_process().daemon:
                raise OSError("a worker starts no worker")
            self.process = ctx.Process(target=_child, daemon=True,
                                       args=(self.fn, self.args, send, os.getpid()))
            self.process.start()
        except OSError:
            self.process = None
        send.close()
        self.conn = receive
        return self

    def result(self, between=None):
        """The worker's result (its exception raised here); ``between()`` is
        called every tenth of a second while it is awaited (a caller's chance
        to act on a held-back Ctrl-C)."""
        if self.process is not None:
            try:
                while between is not None and not self.conn.poll(0.1):
                    between()
                got = self.conn.recv()
            except EOFError:  # the worker died (killed, out of memory): compute here
                self.process = None
            else:
                if isinstance(got, Exception):
                    raise got
                return got
        return self.fn(*self.args)

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()
        if self.process is not None:
            self.process.join()
        self.conn.close()
