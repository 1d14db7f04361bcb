"""Calls into an implementation, bounded in time.

An in-process implementation runs on the suite's own thread, so a hang or an
endless loop in it would hang the suite. A per-call timer (``SIGALRM`` through
``setitimer``) interrupts it, in pure-Python loops and in ``time.sleep`` alike,
and the call becomes an :class:`ImplementationTimeout` naming it. The timer is
armed only while the implementation's code runs and is always cancelled, so it
never fires into the checker's own code. Signals reach only the main thread:
elsewhere the call runs unbounded.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from kmemcg.conformance.protocol import ImplementationTimeout

#: what an implementation may raise that must become a verdict, not end the
#: suite: SystemExit too (a ``sys.exit()`` in its code); Ctrl-C passes through
RAISED = (Exception, SystemExit)
#: after the first expiry the timer fires again this often, so an implementation
#: that swallows one expiry meets the next
_REFIRE = 0.05


class _Expired(BaseException):
    """The timer went off inside the implementation. A BaseException, so that its
    own ``except Exception`` does not swallow it."""


_armed = False
#: a Ctrl-C that :func:`sticky_interrupts` saw; raised again at the next call
_interrupted = False


#: frames an exception raised in is only printed, traceback and all: a gc
#: callback (Hypothesis installs one) and a finalizer (Z3's objects have them)
_UNRAISABLE = frozenset({"gc_callback", "__del__"})


def _on_sigint(signum, frame):
    global _interrupted
    _interrupted = True
    if not _unraisable(frame):
        raise KeyboardInterrupt
    # raised there it would only be printed; the next call into the
    # implementation, or the end of sticky_interrupts, raises it instead


def _unraisable(frame) -> bool:
    """Whether the signal arrived where a raised exception is only printed."""
    while frame is not None:
        if frame.f_code.co_name in _UNRAISABLE:
            return True
        frame = frame.f_back
    return False


@contextmanager
def sticky_interrupts() -> Iterator[None]:
    """Ctrl-C that cannot be lost or disguised. Python only prints an exception
    raised inside a gc callback or a finalizer, so a Ctrl-C landing there would
    vanish, leaving a traceback on the terminal; this handler records it
    instead of raising it there, and the next call into the implementation
    raises it. A Ctrl-C landing inside a ctypes call (Z3's, as the model is
    made symbolic) comes out as a ``ctypes.ArgumentError``: whatever a block
    raises after a Ctrl-C, or finishes with one pending, is the Ctrl-C."""
    global _interrupted
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
        if _interrupted:
            raise KeyboardInterrupt
    except Exception:
        if _interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.signal(signal.SIGINT, old)
        _interrupted = False


def interruption_point() -> None:
    """Raise the Ctrl-C a finalizer or a gc callback had to hold back, if any: for
    code that waits (on a worker, say) rather than calling an implementation."""
    if _interrupted:
        raise KeyboardInterrupt


def _expire(signum, frame):
    if _armed:
        raise _Expired


def _can_time() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def bounded(what: str, fn, *args, timeout: float | None = None, **kw):
    """``fn(*args, **kw)``, given at most ``timeout`` seconds (None: no limit);
    past it, :class:`ImplementationTimeout` naming ``what``."""
    global _armed
    interruption_point()
    if timeout is None or _armed or not _can_time():
        return fn(*args, **kw)  # unbounded, or already inside a bounded call
    old_handler = signal.signal(signal.SIGALRM, _expire)
    started = time.monotonic()
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, timeout, _REFIRE)
    try:
        try:
            _armed = True
            return fn(*args, **kw)
        finally:
            _armed = False  # first: from here on an expiry is ignored
    except _Expired:
        raise ImplementationTimeout(f"{what} did not return within {timeout:g}s "
                                    f"(a hang or a loop in the implementation)") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_delay:  # someone else's timer (pytest-timeout, say): give it back
            left = old_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), old_interval)
