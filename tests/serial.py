"""A serial implementation: the reference kernel with every path under one big
lock, so no two operations interleave (an implementation coarser-grained than
the model, not a wrong one). The tests drive it as ``serial:SerialKernel``."""

from kmemcg.impl.kernel import Kernel
from kmemcg.impl.sched import Mutex


def _serialised(name):
    def path(self, *args, **kw):
        lock = self.__dict__.setdefault("big_lock", Mutex("big_kernel_lock"))
        owner = object()
        yield from lock.lock(owner)
        try:
            return (yield from getattr(Kernel, name).fn(self, *args, **kw))
        finally:
            lock.unlock(owner)

    path.__name__ = name
    path.__doc__ = f"{name}, under the big lock"
    return path


SerialKernel = type("SerialKernel", (Kernel,), {
    "__doc__": "The reference kernel, every path under one big lock.",
    **{name: _serialised(name) for name in Kernel.PATHS},
})
