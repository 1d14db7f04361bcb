"""A zoo of wrong implementations: each is the reference kernel with one bug.

The suite is only as good as what it rejects. Every mutant here is a plausible
kernel mistake, named for what it breaks; ``kmemcg mutants`` runs the suite
against each and expects every one to be killed. Each is a variant of the one
:class:`~kmemcg.impl.kernel.Kernel`: a subclass, or the kernel built of a
subclass of its memory controller or slab allocator, booted as a
configuration describes (``for_config``). :data:`MUTANTS` is the one zoo, the
charge-path mutants beside the slab and task ones, each naming where the suite
hunts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from errno import ENOMEM

from kmemcg.impl import cgroupfs
from kmemcg.impl.kernel import Kernel
from kmemcg.impl.memcontrol import (
    KMEM_ACCOUNTED_DEAD,
    PAGE_SIZE,
    MemoryController,
    TaskStruct,
)
from kmemcg.impl.res_counter import ResCounter
from kmemcg.impl.sched import Step
from kmemcg.impl.slab import KMALLOC_MAX_SIZE, SIZEOF_VOID_P, SlabAllocator


class _NoKmemRollbackMC(MemoryController):
    @staticmethod
    def memcg_charge_kmem_rollback(memcg, size=PAGE_SIZE):
        pass  # bug: a res failure leaves the kmem charge in place


class _ResChargesCurrentMemcgMC(MemoryController):
    def memcg_kmem_newpage_charge(self, task, gfp, in_interrupt, order=0):
        first = task.mm_owner_memcg()  # what the kmem step charges
        path = super().memcg_kmem_newpage_charge(task, gfp, in_interrupt, order)
        step = next(path)
        yield step
        if step.action != "charge.kmem" or step.ret:
            return (yield from path)
        path.close()
        charged = task.mm_owner_memcg()  # bug: the memcg is read again after a preemption point
        ret, _ = charged.res.charge(PAGE_SIZE << order)
        if ret:
            self.memcg_charge_kmem_rollback(first, PAGE_SIZE << order)
        yield Step("charge.res", {"task": task.name, "memcg": first.path}, ret)
        return (False, None) if ret else (True, first)


class _FailcntEveryLevel(ResCounter):
    __slots__ = ()

    def charge(self, val):
        ret, fail_at = super().charge(val)
        if ret:  # bug: every level of the walk counts the failure
            c = self
            while c is not None:
                if c is not fail_at:
                    c.failcnt += 1
                c = c.parent
        return ret, fail_at


class _FailcntEveryLevelMC(MemoryController):
    def __init__(self):
        super().__init__()
        self.root_mem_cgroup.res.__class__ = _FailcntEveryLevel
        self.root_mem_cgroup.kmem.__class__ = _FailcntEveryLevel

    def mem_cgroup_css_online(self, parent, name):
        memcg = super().mem_cgroup_css_online(parent, name)
        memcg.res.__class__ = _FailcntEveryLevel
        memcg.kmem.__class__ = _FailcntEveryLevel
        return memcg


class _UnchargeCurrentMemcgMC(MemoryController):
    def memcg_kmem_uncharge_pages(self, page, order, current):
        if page.pc.used:  # bug: uncharges the freeing task's memcg, not pc->mem_cgroup
            page.pc.mem_cgroup = current.memcg if current else self.root_mem_cgroup
        return super().memcg_kmem_uncharge_pages(page, order, current)


class _UnchargeOnePageMC(MemoryController):
    def memcg_kmem_uncharge_pages(self, page, order, current):
        # bug: __memcg_kmem_uncharge_pages gives back PAGE_SIZE, not PAGE_SIZE << order
        return super().memcg_kmem_uncharge_pages(page, 0, current)


class _ActivateWithTasksMC(MemoryController):
    def memcg_update_kmem_limit(self, memcg, val, tasks, owner):
        # bug: activation ignores the tasks already in the group
        return super().memcg_update_kmem_limit(memcg, val, (), owner)


class _ActiveBeforeStaticKeyMC(MemoryController):
    def memcg_update_kmem_limit(self, memcg, val, tasks, owner):
        steps = super().memcg_update_kmem_limit(memcg, val, tasks, owner)
        for step in steps:  # bug: ACTIVE published before the static key is patched
            if step.action == "activate.static_key_inc":
                memcg.kmem_account_flags |= 1
                self.memcg_kmem_enabled_key -= 1
                yield Step("activate.set_active", {"memcg": memcg.path})
                self.memcg_kmem_enabled_key += 1
                yield step
                return 0
            yield step
        return 0


class NoKmemRollback(Kernel):
    controller_class = _NoKmemRollbackMC


class FailcntEveryLevel(Kernel):
    controller_class = _FailcntEveryLevelMC


class UnchargeCurrentMemcg(Kernel):
    controller_class = _UnchargeCurrentMemcgMC


class UnchargeOnePage(Kernel):
    controller_class = _UnchargeOnePageMC


class ActivateWithTasks(Kernel):
    controller_class = _ActivateWithTasksMC


class ActiveBeforeStaticKey(Kernel):
    controller_class = _ActiveBeforeStaticKeyMC


class ResChargesCurrentMemcg(Kernel):
    controller_class = _ResChargesCurrentMemcgMC


def _rounding_down(buf):
    ret, val = cgroupfs.res_counter_memparse_write_strategy(buf)
    if ret == 0 and val != cgroupfs.RESOURCE_MAX:
        raw, _ = cgroupfs.memparse(buf)
        val = raw & ~(PAGE_SIZE - 1)  # bug: PAGE_ALIGN rounds down
    return ret, val


class _LimitRoundsDown(Kernel):
    write_strategy = staticmethod(_rounding_down)


class EnomemAsEbusy(Kernel):
    def alloc_kmem_page(self, *a, **kw):
        ret = yield from Kernel.alloc_kmem_page.fn(self, *a, **kw)
        return -16 if ret == -ENOMEM else ret  # bug: the wrong errno


class _ForceEmptyMovesKmem(Kernel):
    def write(self, path, file, text):
        memcg = self._online(path)
        if file != "memory.force_empty" or memcg is None or memcg is self.mc.root_mem_cgroup:
            return (yield from Kernel.write.fn(self, path, file, text))
        # bug: every page charged to the group is reparented, kernel pages as if
        # they were on an LRU, not just the user pages
        return (yield from self.mc.mem_cgroup_force_empty_write(
            memcg, self.tasks.values(), list(self.pages.values())))


# ---------------------------------------------------------------- the coverage gaps
# Bugs a random run of the sequential machine met only on some seeds (issue 10):
# each needs a state and an input that rarely come together. The model's
# scenarios (conformance/coverage.py) reach each on every seed.


class _KmemLimitIgnoresUsageMC(MemoryController):
    def memcg_update_kmem_limit(self, memcg, val, tasks, owner):
        path = super().memcg_update_kmem_limit(memcg, val, tasks, owner)
        lowered = False
        while True:
            try:
                y = next(path)
            except StopIteration as stop:
                return 0 if lowered else stop.value
            if type(y) is Step and y.action == "kmem_limit.write" and y.ret \
                    and memcg.kmem_account_flags and memcg.kmem.usage > val:
                memcg.kmem.limit = val  # bug: res_counter_set_limit without its usage test
                lowered = True
                y = Step(y.action, y.args, 0)
            yield y


class KmemLimitIgnoresUsage(Kernel):
    controller_class = _KmemLimitIgnoresUsageMC


def _minus_one_prefix(buf):
    if buf[:2] == b"-1":  # bug: strtoull's end is not checked after "-1"
        return 0, cgroupfs.RESOURCE_MAX
    return cgroupfs.res_counter_memparse_write_strategy(buf)


class _ParseAcceptsMinusOneJunk(Kernel):
    write_strategy = staticmethod(_minus_one_prefix)


class _ResetCounterBug(Kernel):
    """A reset file's write, done wrong: ``reset(counter, text)`` says how."""

    field = ""

    def write(self, path, file, text):
        memcg = self._online(path)
        counter, name = (None, None) if memcg is None else self._counter_file(memcg, file)
        if name != self.field:
            return (yield from Kernel.write.fn(self, path, file, text))
        self.reset(counter, text)
        which = "res" if counter is memcg.res else "kmem"
        yield Step(f"{name}.reset", {"memcg": memcg.path, "counter": which})
        return 0


class _FailcntResetOnlyOnZero(_ResetCounterBug):
    field = "failcnt"

    @staticmethod
    def reset(counter, text):
        if text.strip() == "0":  # bug: a trigger file whose text is parsed
            counter.reset_failcnt()


class _MaxUsageResetToZero(_ResetCounterBug):
    field = "max_usage"

    @staticmethod
    def reset(counter, text):
        counter.max_usage = 0  # bug: res_counter_reset_max sets max_usage = usage


class _KmemMaxUsageReadsUsage(Kernel):
    """memory.kmem.max_usage_in_bytes read wrong (mem_cgroup_read's RES_MAX_USAGE
    of _KMEM, 3.8): a read-only bug, no step differs."""

    def read(self, path, file):
        if file == "memory.kmem.max_usage_in_bytes":
            file = "memory.kmem.usage_in_bytes"  # bug: the usage, not its high-water mark
        return super().read(path, file)


class _PropagatingCounter(ResCounter):
    """A flat group's counter that charges its parent's too."""

    __slots__ = ("up",)

    def charge(self, val):
        ret, fail_at = super().charge(val)
        if not ret:
            self.up.charge(val)  # bug: the parent's counter, without use_hierarchy
        return ret, fail_at

    def uncharge_until(self, top, val):
        self.up.uncharge(val)
        return super().uncharge_until(top, val)


class _PropagatesWithoutHierarchyMC(MemoryController):
    def mem_cgroup_css_online(self, parent, name):
        memcg = super().mem_cgroup_css_online(parent, name)
        for which in ("res", "kmem"):
            if getattr(memcg, which).parent is None:
                counter = _PropagatingCounter()
                counter.up = getattr(parent, which)
                setattr(memcg, which, counter)
        return memcg


class PropagatesWithoutHierarchy(Kernel):
    controller_class = _PropagatesWithoutHierarchyMC


# ---------------------------------------------------------------- slab and task paths
# Each is the reference kernel with one charge-path bug in its slab or task
# paths; the exhaustive interleaving of the destruction-kmem preset must reject
# every one. (The historical races are profiles of the reference, not mutants.)


class _ReleaseKeepsChargeSlab(SlabAllocator):
    def kmem_freepages(self, cachep, slab):
        cachep.slabs.remove(slab)  # bug: the pages go back, the kmem charge stays
        self.memcg_release_pages(cachep, 1 << cachep.gfporder)


class _NrPagesCountsSlabsSlab(SlabAllocator):
    def kmem_getpages(self, cachep):
        slab = super().kmem_getpages(cachep)
        if slab is not None:  # bug: memcg_bind_pages adds 1, not 1 << order
            cachep.memcg_params.nr_pages -= (1 << cachep.gfporder) - 1
        return slab

    def kmem_freepages(self, cachep, slab):
        cachep.slabs.remove(slab)
        self.mc.memcg_uncharge_kmem(cachep.memcg_params.memcg, PAGE_SIZE << cachep.gfporder)
        self.memcg_release_pages(cachep, 1)


class _ReleaseKeepsCharge(Kernel):
    slab_class = _ReleaseKeepsChargeSlab


class _NrPagesCountsSlabs(Kernel):
    slab_class = _NrPagesCountsSlabsSlab


class _KfreeUnchargesCurrentMemcgSlab(SlabAllocator):
    #: the memcg of the task the free runs in (current), while a free runs
    current = None

    def kmem_freepages(self, cachep, slab):
        if self.current is None or cachep.memcg_params is None:
            return super().kmem_freepages(cachep, slab)
        cachep.slabs.remove(slab)
        self.memcg_release_pages(cachep, 1 << cachep.gfporder)
        # bug: uncharged from the freeing task's group, not the cache's memcg
        # recorded at the charge (memcg_params->memcg)
        self.mc.memcg_uncharge_kmem(self.current, PAGE_SIZE << cachep.gfporder)


class _KfreeUnchargesCurrentMemcg(Kernel):
    slab_class = _KfreeUnchargesCurrentMemcgSlab

    def kmem_cache_free(self, obj=None, task=None, **hints):
        t = self._live_task(task) if task is not None else None
        # current: the task, or a kernel thread of the root memcg (an RCU callback)
        self.slab.current = t.memcg if t is not None else self.mc.root_mem_cgroup
        try:
            return (yield from Kernel.kmem_cache_free.fn(self, obj, task, **hints))
        finally:
            self.slab.current = None


class _StackNeverUncharged(Kernel):
    def put_task_struct(self, task):
        self.tasks.pop(task)  # bug: free_thread_info without __memcg_kmem_uncharge_pages
        yield Step("put_task_struct", {"task": task})
        return 0


class _ForkIgnoresKmemLimit(Kernel):
    def spawn(self, task, path):
        memcg = self._online(path)
        for counter in (memcg.kmem, memcg.res):  # bug: no limit check (__GFP_NOFAIL)
            counter.usage += self.thread_size
            counter.max_usage = max(counter.max_usage, counter.usage)
        self.tasks[task] = TaskStruct(task, memcg, memcg)
        yield Step("spawn", {"task": task, "memcg": memcg.path})
        return 0


class _DuplicateRootCacheNameSlab(SlabAllocator):
    def kmem_cache_sanity_check(self, name, size):
        err = super().kmem_cache_sanity_check(name, size)
        if err and name is not None and SIZEOF_VOID_P <= size <= KMALLOC_MAX_SIZE:
            return 0  # bug: slab_caches is not searched for a cache of that name
        return err


class DuplicateRootCacheName(Kernel):
    slab_class = _DuplicateRootCacheNameSlab


class _CreatedRootWithoutSlotsSlab(SlabAllocator):
    def memcg_register_cache(self, root):
        super().memcg_register_cache(root)
        # bug: the array is sized for no group, not memcg_limited_groups_array_size:
        # the groups already kmem-limited have no slot in it
        root.no_slot_for = set(self.mc.kmem_limited_groups)

    def kmem_cache_alloc(self, r, memcg, fill=None):
        root = self.slab_caches[r]
        if memcg.kmemcg_id in getattr(root, "no_slot_for", ()) \
                and self.mc.memcg_kmem_accounted(memcg):
            # idx past the array: the root serves it, nothing is queued or charged
            return (yield from self.kmem_cache_alloc_root(r, "unaccounted"))
        return (yield from super().kmem_cache_alloc(r, memcg, fill))


class CreatedRootWithoutSlots(Kernel):
    slab_class = _CreatedRootWithoutSlotsSlab


class _InterruptCharged(Kernel):
    def kmem_cache_alloc(self, root, path=None, fill=None, context=None, task=None):
        if context == "interrupt":
            context = None  # bug: in_interrupt() is not tested: the group's copy, charged
        return (yield from Kernel.kmem_cache_alloc.fn(self, root, path, fill, context, task))


class _StackChargedToForkingThread(Kernel):
    @staticmethod
    def _stack_memcg(parent):
        # bug: the stack is charged to the forking thread's own group, not to
        # its mm owner's (current's cgroup instead of current->mm->owner's)
        return parent.memcg


class _NoReclaimBeforeEnomemMC(MemoryController):
    def mem_cgroup_try_charge(self, memcg, size):
        ret, _ = memcg.res.charge(size)  # bug: -ENOMEM at U with page cache to reclaim
        return ret


class _NoReclaimBeforeEnomem(Kernel):
    controller_class = _NoReclaimBeforeEnomemMC


class _ResizeLimitWithoutReclaimMC(MemoryController):
    def mem_cgroup_resize_limit(self, memcg, val):
        return memcg.res.set_limit(val)  # bug: -EBUSY at once, the page cache left


class _ResizeLimitWithoutReclaim(Kernel):
    controller_class = _ResizeLimitWithoutReclaimMC


class _ReparentsToRootMC(MemoryController):
    def mem_cgroup_reparent_charges(self, memcg, user_pages):
        self.drain_all_stock_sync(memcg)
        for page in user_pages:
            if page.pc.used and page.pc.mem_cgroup is memcg:
                # bug: mem_cgroup_move_parent's target is always the root, and the
                # whole hierarchical chain gives the pages up
                page.pc.mem_cgroup = self.root_mem_cgroup
                memcg.res.uncharge(PAGE_SIZE)


class _ReparentsToRoot(Kernel):
    controller_class = _ReparentsToRootMC


class _ReclaimsChargingMemcgOnlyMC(MemoryController):
    def mem_cgroup_try_charge(self, memcg, size):
        while True:
            ret, _ = memcg.res.charge(size)
            if not ret:
                return 0
            # bug: reclaims the charging memcg's tree, not the failing ancestor's
            if not self.try_to_free_mem_cgroup_pages(memcg):
                return ret


class _ReclaimsChargingMemcgOnly(Kernel):
    controller_class = _ReclaimsChargingMemcgOnlyMC


class _FatalSignalChargesGroupMC(MemoryController):
    def try_charge_memcg(self, task):
        # bug: no early bypass for a dying task, its user page charged to the
        # mm owner's group (limits, reclaim) instead of going to the root
        return task.mm_owner_memcg()


class _FatalSignalChargesGroup(Kernel):
    controller_class = _FatalSignalChargesGroupMC


class _AfterKmemStepMC(MemoryController):
    """memcg_kmem_newpage_charge with one wrong deed right after its charge.kmem step:
    :meth:`after_kmem_step` (the charged memcg, the step's ret, the order)."""

    def memcg_kmem_newpage_charge(self, task, gfp, in_interrupt, order=0):
        memcg = task.mm_owner_memcg()
        path = super().memcg_kmem_newpage_charge(task, gfp, in_interrupt, order)
        step = next(path)
        if step.action == "charge.kmem":
            self.after_kmem_step(memcg, step.ret, order)
        try:
            while True:
                step = path.send((yield step))
        except StopIteration as e:
            return e.value

    def after_kmem_step(self, memcg, ret, order):
        raise NotImplementedError


class _KmemFailureReclaimsMC(_AfterKmemStepMC):
    def after_kmem_step(self, memcg, ret, order):
        if ret:
            self.try_to_free_mem_cgroup_pages(memcg)  # bug: a charge over K reclaims at U


class _KmemFailureReclaims(Kernel):
    controller_class = _KmemFailureReclaimsMC


class _DoublePutAtDeathMC(MemoryController):
    def memcg_uncharge_kmem(self, memcg, size=PAGE_SIZE):
        memcg.res.uncharge(size)
        # bug: DEAD tested, not cleared (no test_and_clear), so css_free puts again
        if memcg.kmem.uncharge(size) == 0 and memcg.kmem_account_flags & KMEM_ACCOUNTED_DEAD:
            memcg.death_puts += 1
            self.mem_cgroup_put(memcg)


class _DoublePutAtDeath(Kernel):
    controller_class = _DoublePutAtDeathMC


class _DrainKeepsChargeMC(MemoryController):
    @staticmethod
    def drain_stock(stock):
        stock.nr_pages = 0  # bug: the stock's precharged pages are never uncharged
        stock.cached = None


class _DrainKeepsCharge(Kernel):
    controller_class = _DrainKeepsChargeMC


class _KmemBatchedMC(_AfterKmemStepMC):
    def after_kmem_step(self, memcg, ret, order):
        if not ret and self.memcg_stock:
            # bug: the kmem counter is precharged a batch too, as res is
            memcg.kmem.charge(PAGE_SIZE * (self.charge_batch - (1 << order)))


class _KmemBatched(Kernel):
    controller_class = _KmemBatchedMC


class _ImmigrateWithoutPrechargeMC(MemoryController):
    def mem_cgroup_do_precharge(self, to, count):
        # bug: the pages are taken along without a precharge: their charge lands
        # on the destination whatever its limit (no -ENOMEM, no reclaim)
        if not self.mem_cgroup_is_root(to):
            c = to.res
            while c is not None:
                c.usage += PAGE_SIZE * count
                c.max_usage = max(c.max_usage, c.usage)
                c = c.parent
        return 0, count


class _ImmigrateWithoutPrecharge(Kernel):
    controller_class = _ImmigrateWithoutPrechargeMC


class _ImmigrateMovesStack(Kernel):
    def attach(self, task, path):
        t = self._live_task(task)
        frm = t.memcg if t is not None else None
        inner = Kernel.attach.fn(self, task, path)
        try:
            step = next(inner)
        except StopIteration as e:
            return e.value
        to = self._online(path)
        if (step.action == "attach" and not step.ret and to.move_charge_at_immigrate & 1
                and t.mm.owner is t and t.stack_memcg is frm and frm is not None):
            # bug: the thread stack's kernel charge is moved with the task (to the
            # root's never-charged counters, it is given up)
            self.mc.memcg_uncharge_kmem(frm, self.thread_size)
            if not self.mc.mem_cgroup_is_root(to):
                to.kmem.charge(self.thread_size)
                to.res.charge(self.thread_size)
            t.stack_memcg = None if self.mc.mem_cgroup_is_root(to) else to
        yield step
        try:
            while True:
                step = inner.send(None)
                yield step
        except StopIteration as e:
            return e.value


@dataclass(frozen=True)
class Mutant:
    """One wrong kernel: booted with ``kernel.for_config(cfg)``. ``machine`` is the
    preset the sequential machine hunts it on (None: steps of one operation
    cannot show it), ``interleave`` the preset whose exhaustive interleaving must
    kill it when the machine has not."""

    name: str
    kernel: type[Kernel]
    bug: str
    machine: str | None
    interleave: str
    #: the configuration field (a knob, or the tasks) without which the bug's
    #: site is out of reach: a configuration where it is off or empty cannot
    #: kill the mutant, so is not asked to
    needs: str | None = None


_CHARGE_PATH = ("conformance", "race")
_CACHES = (None, "destruction-kmem")

MUTANTS: dict[str, Mutant] = {m.name: m for m in (
    Mutant("no_kmem_rollback", NoKmemRollback, "a res failure leaves the kmem charge in place",
           *_CHARGE_PATH),
    Mutant("failcnt_every_level", FailcntEveryLevel,
           "a hierarchical failure bumps failcnt on every level", *_CHARGE_PATH),
    Mutant("limit_rounds_down", _LimitRoundsDown, "limits are rounded down to a page",
           *_CHARGE_PATH),
    Mutant("uncharge_current_memcg", UnchargeCurrentMemcg,
           "free uncharges the task's current memcg (a leak on task move)", *_CHARGE_PATH),
    # race allocates single pages only, where it is right: large has order 2
    Mutant("uncharge_one_page", UnchargeOnePage,
           "freeing an order-n allocation uncharges one page (a kmalloc_large leak)",
           "conformance", "large"),
    Mutant("activate_with_tasks", ActivateWithTasks,
           "activation does not refuse a group with tasks", *_CHARGE_PATH),
    Mutant("active_before_static_key", ActiveBeforeStaticKey,
           "ACTIVE is set before the static key is incremented", *_CHARGE_PATH),
    Mutant("enomem_as_ebusy", EnomemAsEbusy, "a failed kmem allocation reports -EBUSY",
           *_CHARGE_PATH),
    Mutant("force_empty_moves_kmem", _ForceEmptyMovesKmem,
           "force_empty reparents kernel pages too, not only the user pages", "conformance",
           "force-empty"),
    Mutant("kmem_limit_ignores_usage", KmemLimitIgnoresUsage,
           "lowering an active kmem limit below its usage returns 0, not -EBUSY",
           *_CHARGE_PATH),
    Mutant("parse_accepts_minus_one_junk", _ParseAcceptsMinusOneJunk,
           "a limit parse that accepts \"-1x\" as unlimited", *_CHARGE_PATH),
    Mutant("failcnt_reset_only_on_zero", _FailcntResetOnlyOnZero,
           "failcnt is reset only by writing \"0\", not by any text", *_CHARGE_PATH),
    Mutant("max_usage_reset_to_zero", _MaxUsageResetToZero,
           "resetting max_usage sets it to 0, not to the usage", *_CHARGE_PATH),
    Mutant("propagates_without_hierarchy", PropagatesWithoutHierarchy,
           "a group without use_hierarchy charges its parent's counters too", *_CHARGE_PATH),
    Mutant("kmem_max_usage_reads_usage", _KmemMaxUsageReadsUsage,
           "memory.kmem.max_usage_in_bytes reads the usage, not its high-water mark",
           *_CHARGE_PATH),
    # only an interleaving shows this one
    Mutant("res_charges_current_memcg", ResChargesCurrentMemcg,
           "the res step re-reads the task's memcg after preemption", None, "race"),
    Mutant("release_keeps_charge", _ReleaseKeepsCharge,
           "a released slab's pages stay charged to the memcg", *_CACHES),
    # the interleaver frees as the kernel (no task), whose group is never the
    # cache's; the README's moved task shows it with a task
    Mutant("kfree_uncharges_current_memcg", _KfreeUnchargesCurrentMemcg,
           "a freed object's emptied slab is uncharged from the freeing task's current "
           "memcg, not the memcg recorded at the charge", *_CACHES),
    Mutant("nr_pages_counts_slabs", _NrPagesCountsSlabs,
           "nr_pages counts slabs, not 1 << order pages each", *_CACHES),
    Mutant("stack_never_uncharged", _StackNeverUncharged,
           "put_task_struct frees the stack without uncharging it", *_CACHES, needs="tasks"),
    Mutant("fork_ignores_kmem_limit", _ForkIgnoresKmemLimit,
           "a thread stack is charged past the kmem limit", *_CACHES, needs="tasks"),
    Mutant("interrupt_charged", _InterruptCharged,
           "an allocation in interrupt context is charged to the group's copy, not "
           "served from the root cache", None, "root-objects", needs="root_objects"),
    # a thread moved away from its mm's owner forks: three tasks (the owner, the
    # thread, the child) are more than the conformance machine has
    Mutant("stack_charged_to_forking_thread", _StackChargedToForkingThread,
           "fork charges the stack to the forking thread's group, not its mm owner's",
           None, "tasks"),
    Mutant("no_reclaim_before_enomem", _NoReclaimBeforeEnomem,
           "a res charge at U fails -ENOMEM without reclaiming the page cache first",
           "conformance", "page-cache"),
    Mutant("resize_limit_without_reclaim", _ResizeLimitWithoutReclaim,
           "a memory.limit_in_bytes write below the usage is -EBUSY at once, without "
           "reclaiming the group's page cache first", "conformance", "page-cache"),
    Mutant("reparents_to_root", _ReparentsToRoot,
           "rmdir and force_empty move a hierarchical group's user pages to the root, "
           "not to its parent", "conformance", "page-cache"),
    Mutant("reclaims_charging_memcg_only", _ReclaimsChargingMemcgOnly,
           "a charge refused at an ancestor's U reclaims the charging group's page cache, "
           "not the ancestor's tree", "conformance", "page-cache"),
    Mutant("kmem_failure_reclaims", _KmemFailureReclaims,
           "a kmem charge over K reclaims the group's page cache before failing",
           "conformance", "page-cache"),
    # set_task's fatal signal is the sequential machine's alone: no interleaving
    # sets one, so race stands for "no interleaving shows it"
    Mutant("fatal_signal_charges_group", _FatalSignalChargesGroup,
           "a user page of a task with a fatal signal pending is charged to its mm "
           "owner's group, not bypassed to the root", "conformance", "race"),
    # W1's order (b): the last uncharge puts between mark_dead and the read, which
    # reads 0 and puts again; only css_free's steps, interleaved, show it
    # the per-cpu stock (a scope knob): only the stock scopes have cpus, and the
    # sequential machine's conformance preset has none
    Mutant("drain_keeps_charge", _DrainKeepsCharge,
           "a drained per-cpu stock forgets its precharged pages without uncharging res",
           None, "stock-race", needs="percpu_stock"),
    Mutant("kmem_batched", _KmemBatched,
           "the kmem counter is charged a CHARGE_BATCH at a time, as res is", None,
           "stock-race", needs="percpu_stock"),
    # memory.move_charge_at_immigrate is outside conformance's scope (model/scopes.py):
    # the sequential machine meets it on conformance-immigrate (tests/test_immigrate.py);
    # its tasks boot in the root with no stack charged, so only a spawned task has a
    # stack to move
    Mutant("immigrate_without_precharge", _ImmigrateWithoutPrecharge,
           "an attach with move_charge_at_immigrate moves the anonymous pages without "
           "precharging the destination: charged past its limit, never -ENOMEM",
           None, "immigrate-race"),
    Mutant("immigrate_moves_stack", _ImmigrateMovesStack,
           "an attach with move_charge_at_immigrate moves the task's thread stack charge "
           "(kernel memory) too", None, "immigrate-race", needs="tasks"),
    # a root cache created at run time: only root-create loads one, and the
    # sequential machine's scope has no root caches
    Mutant("duplicate_root_cache_name", DuplicateRootCacheName,
           "kmem_cache_create of a name already on slab_caches makes a second cache, not "
           "-EINVAL", None, "root-create", needs="loads_roots"),
    Mutant("created_root_without_slots", CreatedRootWithoutSlots,
           "a root cache created at run time gets memcg_caches[] for no group: a group "
           "kmem-limited before the load is served by the root, never charged", None,
           "root-create", needs="loads_roots"),
    Mutant("double_put_at_death", _DoublePutAtDeath,
           "the last uncharge puts the death reference without test_and_clear: DEAD "
           "stays set, so css_free puts it again", None, "death"),
)}
