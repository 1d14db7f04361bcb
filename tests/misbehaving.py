"""Implementations that misbehave, for the command line's bad-input tests.

Each is named ``MOD:FACTORY`` style (``misbehaving:hangs_in_rmdir``); the tests
directory is on ``sys.path`` under pytest, and subprocess tests put it on
``PYTHONPATH``.
"""

import sys
import time

from kmemcg.impl.kernel import Kernel


def returns_none(cfg):
    return None


class _Half:
    def mkdir(self, path):
        yield from ()

    def snapshot(self):
        return {}


def lacks_faces(cfg):
    return _Half()


def factory_raises(cfg):
    raise RuntimeError("no kernel today")


class HangsInAttach(Kernel):
    """attach spins forever in pure Python: only a timer can stop it."""

    def attach(self, task, path):
        while True:
            pass
        yield  # a generator, as the face wants


class SleepsInSnapshot(Kernel):
    """Every snapshot sleeps: the very first call of a run hangs."""

    def snapshot(self):
        time.sleep(60)


class SwallowsTimeouts(Kernel):
    """An endless loop that catches whatever an ``except Exception`` catches."""

    def attach(self, task, path):
        while True:
            try:
                time.sleep(60)
            except Exception:
                pass
        yield


class ExitsInMkdir(Kernel):
    def mkdir(self, path):
        sys.exit(3)
        yield


class GarbageSnapshot(Kernel):
    def snapshot(self):
        return ["not", "a", "snapshot"]


class ShrinkHangs(Kernel):
    """The kernel, with a shrink that never returns."""

    def kmem_cache_shrink(self, root, path):
        while True:
            pass
        yield


def slab_returns_none(cfg):
    return None


class WrongRead(Kernel):
    """Every read says 7: only the read check can tell."""

    def read(self, path, file):
        return "7\n"


class CtrlC:
    """Ctrl-C from inside the implementation after ``calls`` snapshots (counted
    across instances): a deterministic stand-in for a user's interrupt."""

    calls = 0
    after = 40


def _tick():
    CtrlC.calls += 1
    if CtrlC.calls == CtrlC.after:
        raise KeyboardInterrupt


class CtrlCAfterAWhile(Kernel):
    def snapshot(self):
        _tick()
        return super().snapshot()


class WrongReadThenCtrlC(WrongRead):
    """A read bug found at once, then Ctrl-C while Hypothesis shrinks it."""

    def snapshot(self):
        _tick()
        return super().snapshot()
