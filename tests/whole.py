"""Implementations of the minimal path (docs/protocol.md): whole operations and a
snapshot, nothing about steps. The reference kernel, each operation run to
completion inside ``call``, and a mutant of the zoo seen the same way. The tests
drive them as ``whole:WholeKernel`` and ``whole:ForceEmptyMovesKmem``."""

from kmemcg.conformance.adapters import PythonAdapter
from kmemcg.conformance.mutants import (
    _ForceEmptyMovesKmem,
    _KmemMaxUsageReadsUsage,
    _ReleaseKeepsCharge,
)
from kmemcg.conformance.protocol import Blocked, Done
from kmemcg.impl.kernel import Kernel


class WholeKernel:
    """The reference, seen only through ``call``, ``read`` and ``snapshot``."""

    kernel = Kernel

    def __init__(self, cfg):
        self.k = self.kernel.for_config(cfg)
        self._drive = PythonAdapter(self.k, name="whole")

    def call(self, op, args):
        if op == "work":  # the minimal path names an item "create CACHE" or "destroy CACHE"
            args = {"item": next((w for w in self._drive.queued()
                                  if w == args["item"] or w.startswith(args["item"] + " ")),
                                 args["item"])}
        thread = self._drive.start(op, args)
        slab = None
        while not isinstance(reply := self._drive.step(thread), Done):
            if isinstance(reply, Blocked) and self._drive.queued():
                # it waits for a kworker (flush_workqueue): run what is queued now
                self.call("work", {"item": self._drive.queued()[0]})
            slab = reply.args.get("slab", slab) if hasattr(reply, "args") else slab
        if op == "kmem_cache_alloc" and slab is not None and reply.result >= 0:
            return {"object": reply.result, "slab": slab}
        return reply.result

    def slabinfo(self):
        return self.k.proc_slabinfo()

    def read(self, path, file):
        text = self.k.read(path, file)
        return text.rstrip("\n") if isinstance(text, str) else text  # the suite adds it

    def snapshot(self):
        snap = self.k.snapshot()
        # the bookkeeping a sequential implementation may leave out
        for k in ("admin", "static_key", "mms"):
            snap.pop(k, None)
        for task in snap["tasks"].values():
            for k in ("pc", "charging", "order", "mm"):
                task.pop(k, None)
        for cache in snap.get("caches", {}).values():
            for k in ("requeued", "half_created", "slot", "listed"):
                cache.pop(k, None)
        return snap


class Checkpointed(WholeKernel):
    """The reference seen whole, with the ``checkpoint`` capability: ``restore``
    boots a fresh kernel and runs again the operations made before ``save``."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.cfg, self.log, self.saved = cfg, [], None

    def call(self, op, args):
        self.log.append((op, args))
        return super().call(op, args)

    def save(self):
        self.saved = list(self.log)

    def restore(self):
        if self.saved is None:
            raise RuntimeError("nothing saved")
        saved = self.saved
        self.__init__(self.cfg)
        for op, args in saved:
            self.call(op, args)
        self.saved = saved


class ForgetfulRestore(Checkpointed):
    """A ``restore`` that loses the last operation made before ``save``."""

    def restore(self):
        if self.saved:
            self.saved = self.saved[:-1]
        super().restore()


class ForceEmptyMovesKmem(WholeKernel):
    """force_empty reparents kernel pages too (a mutant of the zoo, seen whole)."""

    kernel = _ForceEmptyMovesKmem


class KmemMaxUsageReadsUsage(WholeKernel):
    """memory.kmem.max_usage_in_bytes reads the usage: a read-only bug, seen whole."""

    kernel = _KmemMaxUsageReadsUsage


#: alloc_kmem's arguments as docs/protocol.md lists them
ALLOC_KMEM_ARGS = {"task", "gfp", "in_interrupt", "fail", "order"}


class DocumentedArgsOnly(WholeKernel):
    """Refuses an ``alloc_kmem`` with an argument docs/protocol.md does not list,
    as an implementation written from the documentation alone may."""

    def call(self, op, args):
        if op == "alloc_kmem" and set(args) - ALLOC_KMEM_ARGS:
            raise TypeError(f"alloc_kmem: undocumented {sorted(set(args) - ALLOC_KMEM_ARGS)}")
        return super().call(op, args)


class ReleaseKeepsCharge(WholeKernel):
    """An emptied slab is released with its page still charged (a mutant of the zoo)."""

    kernel = _ReleaseKeepsCharge
