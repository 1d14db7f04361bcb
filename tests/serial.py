"""A serial implementation: the reference kernel with every path, and every work
item a kworker runs, under one big lock, so no two operations interleave (an
implementation coarser-grained than the model, not a wrong one). The tests drive
it as ``serial:SerialKernel``; ``serial:SerialPaths`` keeps the work items out of
the lock (they then interleave with the paths: still coarser than the model)."""

from kmemcg.impl.kernel import Kernel
from kmemcg.impl.sched import Mutex


def _under_big_lock(kernel, fn, *args, **kw):
    lock = kernel.__dict__.setdefault("big_lock", Mutex("big_kernel_lock"))
    owner = object()
    yield from lock.lock(owner)
    try:
        return (yield from fn(*args, **kw))
    finally:
        lock.unlock(owner)


def _serialised(name):
    def path(self, *args, **kw):
        return (yield from _under_big_lock(self, getattr(Kernel, name).fn, self, *args, **kw))

    path.__name__ = name
    path.__doc__ = f"{name}, under the big lock"
    return path


SerialPaths = type("SerialPaths", (Kernel,), {
    "__doc__": "The reference kernel, every path under one big lock (work items outside it).",
    **{name: _serialised(name) for name in Kernel.PATHS},
})


class SerialKernel(SerialPaths):
    """The reference kernel, every path and every work item under one big lock: a
    kworker takes the lock before it takes the item off the queue, so an item
    waiting for the lock is still pending."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        wq = self.wq
        queue_work, take = wq.queue_work, wq.take

        def locked(func, work):
            yield from self.__dict__.setdefault("big_lock", Mutex("big_kernel_lock")).lock(work)
            try:
                take(work)
                return (yield from func(work))
            finally:
                self.big_lock.unlock(work)

        def queue_serial(work):
            if not getattr(work, "serial", False):  # wrap each work_struct once
                work.func = lambda w, f=work.func: locked(f, w)
                work.serial = True
            return queue_work(work)

        wq.queue_work = queue_serial
        wq.take = lambda work: None  # the item is taken once the lock is held
