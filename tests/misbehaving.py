"""Implementations that misbehave, for the command line's bad-input tests.

Each is named ``MOD:FACTORY`` style (``misbehaving:hangs_in_rmdir``); the tests
directory is on ``sys.path`` under pytest, and subprocess tests put it on
``PYTHONPATH``.
"""

import sys
import time

from kmemcg.impl import cgroupfs as fs
from kmemcg.impl.kernel import Kernel
from kmemcg.impl.memcontrol import MemoryController
from kmemcg.impl.res_counter import RESOURCE_MAX
from kmemcg.impl.sched import Step


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


# One-operation bugs: each needs a single wrong operation after boot (or after
# the few that make a group's kmem usage non-zero), so a shrunk reproducer must
# be a few operations long.


def _minus_one_with_anything(buf):
    if buf[:2] == b"-1":
        return 0, RESOURCE_MAX  # bug: "-1x" and "-1k" are -1 (the kernel: -EINVAL)
    return fs.res_counter_memparse_write_strategy(buf)


class AcceptsMinusOneX(Kernel):
    """res_counter_memparse_write_strategy that takes "-1" followed by anything."""

    write_strategy = staticmethod(_minus_one_with_anything)


class _KmemLimitBelowUsageMC(MemoryController):
    def memcg_update_kmem_limit(self, memcg, val, tasks, owner):
        if memcg.kmem_account_flags and memcg.kmem.usage > val:
            # bug: 0 and the limit unchanged, where res_counter_set_limit says -EBUSY
            yield Step("kmem_limit.write", {"memcg": memcg.path, "bytes": val}, 0)
            return 0
        return (yield from super().memcg_update_kmem_limit(memcg, val, tasks, owner))


class KmemLimitBelowUsageSucceeds(Kernel):
    """Lowering K below the kmem usage returns 0 instead of -EBUSY."""

    controller_class = _KmemLimitBelowUsageMC


class MkdirExistingSucceeds(Kernel):
    """mkdir of a group that exists returns 0, where cgroup_mkdir gives -EEXIST."""

    def mkdir(self, path):
        if self._online(self._norm(path)) is not None:
            return 0  # bug
        return (yield from Kernel.mkdir.fn(self, path))


def renamed_work(cfg):
    """A conforming kernel whose workqueue names its items otherwise (the name
    is the implementation's: the protocol's ``queued()`` reports it), so the
    reference's schedules that let a kworker pick up an item do not fit it."""
    k = Kernel.for_config(cfg)
    queue_work = k.wq.queue_work

    def renamed(work):
        if not work.name.startswith("renamed "):
            work.name = f"renamed {work.name}"
        return queue_work(work)

    k.wq.queue_work = renamed
    return k
