"""Per-memcg slab caches and their destruction (mm/slab_common.c, mm/memcontrol.c, 3.10).

Kernel-shaped: ``KmemCache`` with ``memcg_params`` (root: ``memcg_caches[]``;
child: memcg, root_cache, dead, nr_pages, destroy work) and its slabs, the
creation and destruction work functions, ``mem_cgroup_destroy_all_caches``,
``kmem_cache_destroy_memcg_children`` and ``kmem_cache_shrink``; a new slab and
a thread stack are charged to the memcg's kmem ``res_counter``. Each path is a
generator yielding the model action it completed (model/actions/).

Freed objects stay in Python's memory, flagged: touching one is recorded the
way KASAN would report it (``oops``), so a race shows as data, not a crash.
Historical kernels are this same code with fixes left out (see ``FIXES``).
"""

from __future__ import annotations

from errno import EBUSY, ENOMEM

from kmemcg.impl.lockdep import Lockdep
from kmemcg.impl.memcontrol import PAGE_SIZE
from kmemcg.impl.res_counter import RESOURCE_MAX, ResCounter
from kmemcg.impl.sched import Blocked, Mutex, Step
from kmemcg.impl.workqueue import Workqueue, WorkStruct

#: The fixes this code knows; a kernel is built with the ones it has (the
#: roster of which historical kernel lacks which is the model's,
#: model/profiles.py). Each is tested by name where the code differs.
FIXES = frozenset({
    "kmem_limit_check", "kmem_rollback", "destroy_skips_pending",
    "destroy_returns_when_requeued", "last_page_schedules_destroy",
    "destroy_waits_for_shrinker", "offline_excludes_root_destroy", "create_checks_online",
    "root_dying_flush", "root_destroy_cancels_work", "slot_before_list",
})
#: x86_64, 3.8: a thread stack (thread_info) is an order-1 allocation.
THREAD_SIZE_ORDER = 1


class MemcgCacheParams:
    """struct memcg_cache_params of a child cache."""

    def __init__(self, memcg, root_cache, destroy: WorkStruct):
        self.memcg = memcg
        self.root_cache = root_cache
        self.dead = False
        self.nr_pages = 0  # atomic_t nr_pages
        self.destroy = destroy


class Slab:
    """struct slab: a 2**order page block and how many of its objects are in use;
    its head page's ``slab_cache`` names the cache it belongs to."""

    def __init__(self, cache: KmemCache):
        self.inuse = 0
        self.slab_cache = cache


class KmemCache:
    def __init__(self, name: str, root: KmemCache | None = None, order: int = 0,
                 num: int = 1):
        self.name = name
        self.gfporder = order  # cachep->gfporder: pages per slab, log2
        self.num = num  # cachep->num: objects per slab
        self.slabs: list[Slab] = []
        self.freed = False
        # a root's memcg_caches[], indexed by kmemcg_id; a child's params
        self.memcg_caches: list[KmemCache | None] | None = None
        self.memcg_params: MemcgCacheParams | None = None
        self.root = root

    @property
    def objects(self) -> int:
        return sum(slab.inuse for slab in self.slabs)


class Memcg:
    """The part of struct mem_cgroup the cache lifecycle uses."""

    def __init__(self, name: str, kmemcg_id: int, kmem_limit: int):
        self.name = name
        self.kmemcg_id = kmemcg_id
        self.online = True
        self.memcg_slab_caches: list[MemcgCacheParams] = []
        self.kmem = ResCounter()
        self.kmem.limit = kmem_limit
        self.res = ResCounter()

    def memcg_charge_kmem(self, nbytes: int) -> int:
        """memcg_charge_kmem (3.8): kmem first, then res; kmem given back when res
        fails. Returns 0 or -ENOMEM."""
        ret, _ = self.kmem.charge(nbytes)
        if ret:
            return ret
        ret, _ = self.res.charge(nbytes)
        if ret:
            self.kmem.uncharge(nbytes)
        return ret

    def memcg_uncharge_kmem(self, nbytes: int) -> None:
        """memcg_uncharge_kmem (3.8-3.10 order): res first, kmem last."""
        self.res.uncharge(nbytes)
        self.kmem.uncharge(nbytes)


class Task:
    """The part of task_struct this slice uses: its cgroup and its stack's charge."""

    def __init__(self, memcg: Memcg):
        self.memcg = memcg
        self.stack_memcg = memcg  # pc->mem_cgroup of the thread_info pages
        self.exited = False


class SlabKernel:
    """Root caches, memcgs with per-memcg caches, the workqueue, and the oops log."""

    def __init__(self, memcgs: tuple[str, ...], roots: tuple[str, ...],
                 fixes: frozenset[str] = FIXES, lockdep: Lockdep | None = None, *,
                 slab_order: int = 0, objs_per_slab: int = 1,
                 kmem_limit: int = RESOURCE_MAX, tasks: tuple[str, ...] = ()):
        unknown = set(fixes) - FIXES
        if unknown:
            raise ValueError(f"unknown fixes {sorted(unknown)}")
        self.fixes = frozenset(fixes)
        self.lockdep = lockdep or Lockdep()
        # [0] is the root memcg, which is never charged and takes no limit
        self.memcgs = [Memcg(n, i, kmem_limit if i else RESOURCE_MAX)
                       for i, n in enumerate(memcgs)]
        self.task_names = tasks
        self.tasks: dict[int, Task] = {}
        self.slab_caches: list[KmemCache] = []
        for n in roots:
            self.kmem_cache_create(n, slab_order, objs_per_slab)
        self.root_dying: set[int] = set()
        self.wq = Workqueue()
        self.create_works: dict[tuple[int, int], WorkStruct] = {}
        self.caches: dict[tuple[int, int], KmemCache] = {}  # the latest incarnation per pair
        self.oops: str | None = None
        # ghost state for alpha: what the walking threads have reached
        self.offline_at: tuple[int, set[int]] | None = None  # (memcg, roots visited)
        self.rdestroy_at: tuple[int, int, int] | None = None  # (root, next memcg, step)
        self.shrinking: tuple[int, int] | None = None
        self.half_created: set[tuple[int, int]] = set()
        self.create_seq = 0
        self.memcg_cache_mutex = Mutex("memcg_cache_mutex")

    @classmethod
    def for_config(cls, cfg, lockdep: Lockdep | None = None) -> SlabKernel:
        """The kernel a model configuration describes (model/config.py), with
        the fixes its profile keeps."""
        return cls(cfg.memcgs, cfg.roots, cfg.fixes, lockdep, slab_order=cfg.slab_order,
                   objs_per_slab=cfg.objs_per_slab, kmem_limit=cfg.kmem_limit, tasks=cfg.tasks)

    def has_fix(self, fix: str) -> bool:
        return fix in self.fixes

    def kmem_cache_create(self, name: str, order: int, num: int) -> KmemCache:
        """kmem_cache_create of a root cache, with memcg_register_cache giving it a
        memcg_caches[] slot per memcg (boot time here: no array relocation)."""
        root = KmemCache(name, order=order, num=num)
        root.memcg_caches = [None] * len(self.memcgs)
        self.slab_caches.append(root)
        return root

    # ------------------------------------------------------------ helpers

    def cache_name(self, r: int, m: int) -> str:
        return f"{self.slab_caches[r].name}({m}:{self.memcgs[m].name})"

    def _report(self, what: str) -> None:
        if self.oops is None:
            self.oops = what

    def _touch(self, cachep: KmemCache) -> None:
        if cachep.freed:
            self._report("use after free")

    def _index(self, cachep: KmemCache) -> tuple[int, int]:
        p = cachep.memcg_params
        return self.slab_caches.index(p.root_cache), p.memcg.kmemcg_id

    # ------------------------------------------------------------ release hooks

    def mem_cgroup_destroy_cache(self, cachep: KmemCache) -> None:
        """mem_cgroup_destroy_cache: the last page went away (3.10)."""
        p = cachep.memcg_params
        if not self.has_fix("last_page_schedules_destroy") or not p.dead:
            return
        if not self.has_fix("destroy_skips_pending"):
            self._touch(cachep)
            self.wq.init_work_pending(p.destroy)
            self.wq.queue_work(p.destroy)
            return
        if p.destroy.pending:  # the v6 fix: never run twice
            return
        self._touch(cachep)
        self.wq.queue_work(p.destroy)

    def memcg_release_pages(self, cachep: KmemCache, pages: int) -> None:
        """memcg_release_pages: atomic_sub_and_test, destruction at zero."""
        p = cachep.memcg_params
        p.nr_pages -= pages
        if p.nr_pages == 0:
            self.mem_cgroup_destroy_cache(cachep)

    def kmem_getpages(self, cachep: KmemCache) -> Slab | None:
        """kmem_getpages: the page allocator charges the new slab's pages to the
        allocating task's memcg first (__memcg_kmem_newpage_charge); on -ENOMEM
        there is no slab. Otherwise memcg_bind_pages counts them in nr_pages."""
        p = cachep.memcg_params
        if p.memcg.memcg_charge_kmem(PAGE_SIZE << cachep.gfporder):
            return None
        p.nr_pages += 1 << cachep.gfporder
        slab = Slab(cachep)
        cachep.slabs.append(slab)
        return slab

    def kmem_freepages(self, cachep: KmemCache, slab: Slab) -> None:
        """kmem_freepages: the release hook (memcg_release_pages), then the pages go
        back, uncharged from the memcg they were charged to (free_memcg_kmem_pages)."""
        cachep.slabs.remove(slab)
        self.memcg_release_pages(cachep, 1 << cachep.gfporder)
        cachep.memcg_params.memcg.memcg_uncharge_kmem(PAGE_SIZE << cachep.gfporder)

    def kmem_cache_shrink_pages(self, cachep: KmemCache) -> None:
        """__kmem_cache_shrink: release every empty slab."""
        for slab in [sl for sl in cachep.slabs if sl.inuse == 0]:
            self.kmem_freepages(cachep, slab)

    # ------------------------------------------------------------ task paths

    def kmem_cache_alloc(self, r: int, m: int, fill: int | None = None):
        """kmem_cache_alloc from root ``r`` by a task of memcg ``m`` (cache_alloc_refill):
        a partial slab first (the first holding ``fill`` objects, if given, else
        the first on the list), else an empty one, else a new slab."""
        root = self.slab_caches[r]
        cachep = root.memcg_caches[m]
        name = {"cache": self.cache_name(r, m)}
        if cachep is None:  # __memcg_kmem_get_cache: enqueue, serve from the root
            self.memcg_create_cache_enqueue(r, m)
            yield Step("alloc", name)
            return
        self._touch(cachep)
        partial = [sl for sl in cachep.slabs if 0 < sl.inuse < cachep.num
                   and fill in (None, sl.inuse)]
        if partial:
            slab = partial[0]
            slab.inuse += 1
            yield Step("alloc.partial", {**name, "fill": slab.inuse - 1})
            return
        slab = next((sl for sl in cachep.slabs if sl.inuse == 0), None)
        if slab is None:
            slab = self.kmem_getpages(cachep)
        if slab is not None:
            slab.inuse += 1
        yield Step("alloc", name, 0 if slab is not None else -ENOMEM)

    def kmem_cache_free(self, r: int, m: int, fill: int, release: bool):
        """kmem_cache_free(root, x) by a task of memcg ``m`` of an object on a slab
        holding ``fill`` objects; ``release``: that slab empties and the allocator
        gives it back. The cache comes from the object's page (cache_from_obj)."""
        slab = next(sl for sl in self.caches[(r, m)].slabs if sl.inuse == fill)  # the object x
        cachep = slab.slab_cache  # virt_to_head_page(x)->slab_cache
        self._touch(cachep)
        slab.inuse -= 1
        name = {"cache": self.cache_name(r, m)}
        if release:
            self.kmem_freepages(cachep, slab)
            yield Step("free.release_pages", name)
        else:
            yield Step("free.object", {**name, "fill": fill})

    def fork(self, t: int, m: int):
        """copy_process in memcg ``m``: dup_task_struct -> alloc_thread_info_node
        with THREADINFO_GFP_ACCOUNTED; -ENOMEM when the stack cannot be charged."""
        memcg = self.memcgs[m]
        ret = memcg.memcg_charge_kmem(PAGE_SIZE << THREAD_SIZE_ORDER)
        if not ret:
            self.tasks[t] = Task(memcg)
        yield Step("fork", {"task": self.task_names[t], "memcg": memcg.name}, ret)

    def do_exit(self, t: int):
        """do_exit: the task leaves its cgroup; its task_struct (and stack) lives on."""
        self.tasks[t].exited = True
        yield Step("exit", {"task": self.task_names[t]})

    def put_task_struct(self, t: int):
        """__put_task_struct -> free_thread_info -> free_memcg_kmem_pages."""
        task = self.tasks.pop(t)
        task.stack_memcg.memcg_uncharge_kmem(PAGE_SIZE << THREAD_SIZE_ORDER)
        yield Step("put_task_struct", {"task": self.task_names[t]})

    # ------------------------------------------------------------ creation

    def memcg_create_cache_enqueue(self, r: int, m: int) -> None:
        """memcg_create_cache_enqueue: one creation work per (root, memcg) here;
        the kernel may queue several, and its worker re-checks the slot anyway."""
        if (r, m) not in self.create_works:
            self.create_seq += 1  # each enqueue kmallocs a new work item
            work = WorkStruct(lambda w, r=r, m=m: self.memcg_create_kmem_cache(w, r, m),
                              f"create {self.cache_name(r, m)} #{self.create_seq}")
            self.create_works[(r, m)] = work
            self.wq.queue_work(work)

    def memcg_create_kmem_cache(self, work: WorkStruct, r: int, m: int):
        """memcg_create_kmem_cache under memcg_cache_mutex (3.10), held from the
        slot check to the slot store (so across a preemption in list_before_slot)."""
        mutex = self.memcg_cache_mutex
        yield from mutex.lock(work)
        del self.create_works[(r, m)]
        root, memcg = self.slab_caches[r], self.memcgs[m]
        name = {"cache": self.cache_name(r, m)}
        self._touch(root)  # cw->cachep: the root the work was queued for
        # 4.18's memcg_params.dying; before it, a root going away did not stop this
        dying = r in self.root_dying and self.has_fix("root_dying_flush")
        usable = root.memcg_caches[m] is None and not dying and not root.freed
        if self.has_fix("create_checks_online"):
            usable = usable and memcg.online  # the fix: no cache for an offline memcg
        if not usable:
            mutex.unlock(work)
            yield Step("create_work.publish", name)
            return
        with self.lockdep.locked(work, "memcg_cache_mutex", "slab_mutex",
                                 "memcg->slab_caches_mutex"):
            cachep = self._kmem_cache_dup(root, memcg, r, m)
        if not self.has_fix("slot_before_list"):
            self.half_created.add((r, m))
            yield Step("create_work.publish", name)
            self.half_created.discard((r, m))
            root.memcg_caches[m] = cachep
            mutex.unlock(work)
            yield Step("create_work.set_slot", name)
            return
        root.memcg_caches[m] = cachep
        mutex.unlock(work)
        yield Step("create_work.publish", name)

    def _kmem_cache_dup(self, root: KmemCache, memcg: Memcg, r: int, m: int) -> KmemCache:
        """kmem_cache_dup -> kmem_cache_create_memcg -> memcg_cache_list_add."""
        cachep = KmemCache(self.cache_name(r, m), root, root.gfporder, root.num)
        destroy = WorkStruct(lambda w, c=cachep: self.kmem_cache_destroy_work_func(w, c),
                             f"destroy {cachep.name}")
        cachep.memcg_params = MemcgCacheParams(memcg, root, destroy)
        self.caches[(r, m)] = cachep
        memcg.memcg_slab_caches.insert(0, cachep.memcg_params)  # memcg_cache_list_add: list_add
        return cachep

    # ------------------------------------------------------------ destruction

    def kmem_cache_destroy_work_func(self, work: WorkStruct, cachep: KmemCache):
        """kmem_cache_destroy_work_func (3.10), with the default profile's return
        when the work was queued again while it ran."""
        name = {"cache": cachep.name}
        self._touch(cachep)
        work.stage = "check"
        yield Step("destroy_work.start", name)
        self._touch(cachep)
        p = cachep.memcg_params
        work.stage = "destroy" if p.nr_pages == 0 else "shrink"
        yield Step("destroy_work.check", name)
        if work.stage == "shrink":
            self.kmem_cache_shrink_pages(cachep)  # at zero, the hook re-queued us
            self._end_work(work)
            yield Step("destroy_work.shrink", name)
            return
        while self.shrinking == self._index(cachep) and self.has_fix("destroy_waits_for_shrinker"):
            yield Blocked("slab_mutex")
        requeued = work.pending
        if not requeued or not self.has_fix("destroy_returns_when_requeued"):
            self.kmem_cache_destroy(cachep)
        self._end_work(work)
        yield Step("destroy_work.destroy", name)

    def _end_work(self, work: WorkStruct) -> None:
        work.stage = None
        self.wq.done(work)

    def kmem_cache_destroy(self, cachep: KmemCache) -> None:
        """kmem_cache_destroy of a memcg cache: __kmem_cache_shutdown releases the
        empty slabs, and fails while objects remain."""
        if cachep.freed:
            self._report("double destroy")
            return
        p = cachep.memcg_params
        r, m = self._index(cachep)
        with self.lockdep.locked(cachep, "slab_mutex", "memcg->slab_caches_mutex"):
            self.kmem_cache_shrink_pages(cachep)  # __kmem_cache_shutdown
            if cachep.objects:
                return  # "Slab cache still has objects"
            cachep.freed = True  # then memcg_release_cache:
            self.slab_caches[r].memcg_caches[m] = None
            p.memcg.memcg_slab_caches.remove(p)

    def mem_cgroup_css_offline(self, m: int):
        """cgroup_rmdir -> mem_cgroup_css_offline -> mem_cgroup_destroy_all_caches:
        one preemption point per entry of the memcg's cache list, in list order
        (newest first). -EBUSY while tasks are attached."""
        memcg = self.memcgs[m]
        if any(t.memcg is memcg and not t.exited for t in self.tasks.values()):
            return -EBUSY
        memcg.online = False
        visited: set[int] = set()
        self.offline_at = (m, visited)
        yield Step("rmdir", {"memcg": memcg.name})
        while True:
            with self.lockdep.locked(memcg, "memcg->slab_caches_mutex"):
                params = next((p for p in memcg.memcg_slab_caches
                               if self.slab_caches.index(p.root_cache) not in visited), None)
            if params is None:
                break
            root = params.root_cache
            cachep = root.memcg_caches[m]  # memcg_params_to_cache
            if cachep is None:
                self._report("NULL dereference")
            else:
                params.dead = True
                self._touch(cachep)
                self.wq.queue_work(params.destroy)
            visited.add(self.slab_caches.index(root))
            yield Step("offline.mark_dead", {"memcg": memcg.name, "root": root.name})
        self.offline_at = None
        yield Step("offline.done", {"memcg": memcg.name})

    def kmem_cache_destroy_root(self, r: int):
        """kmem_cache_destroy(root) -> kmem_cache_destroy_memcg_children (3.8)."""
        root = self.slab_caches[r]
        self.root_dying.add(r)
        self.rdestroy_at = (r, 1, 0)
        yield Step("root_destroy.start", {"root": root.name})
        for m in range(1, len(self.memcgs)):
            while self.has_fix("root_dying_flush") and self._creating(r):
                yield Blocked("flush_memcg_workqueue")  # 4.18
            c = root.memcg_caches[m]
            if c is not None:
                c.memcg_params.dead = False
            self.rdestroy_at = (r, m, 1)
            yield Step("root_destroy.clear_dead", {"root": root.name})
            c = self.caches.get((r, m))
            work = c.memcg_params.destroy if c is not None else None
            waits = False
            if work is not None and self.has_fix("root_destroy_cancels_work"):
                self.wq.try_to_grab_pending(work)  # cancel_work_sync
                waits = work.running
            self.rdestroy_at = (r, m, 3 if waits else 2)
            yield Step("root_destroy.cancel_work", {"root": root.name})
            if waits:
                yield from self.wq.flush_work(work)
                self.rdestroy_at = (r, m, 2)
                yield Step("root_destroy.flush_work", {"root": root.name})
            c = root.memcg_caches[m]
            while c is not None and self.shrinking == (r, m):
                yield Blocked("slab_mutex")
            if c is not None:
                with self.lockdep.locked(root, "set_limit_mutex"):
                    self.lockdep.held[c] = list(self.lockdep.held[root])
                    self.kmem_cache_destroy(c)
                    self.lockdep.held.pop(c, None)
            last = m + 1 >= len(self.memcgs)
            self.rdestroy_at = None if last else (r, m + 1, 0)
            if last:
                self.root_dying.discard(r)
                root.freed = True
            yield Step("root_destroy.destroy_child", {"root": root.name})

    def _creating(self, r: int) -> bool:
        """A creation work for root ``r`` is queued or has not finished."""
        return any(rr == r for rr, _ in [*self.create_works, *self.half_created])

    def kmem_cache_shrink(self, r: int, m: int):
        """kmem_cache_shrink(c) from outside the worker; it still uses c on the way out."""
        cachep = self.slab_caches[r].memcg_caches[m]
        self.shrinking = (r, m)
        self.kmem_cache_shrink_pages(cachep)
        yield Step("shrink.release", {"cache": cachep.name})
        self._touch(cachep)
        self.shrinking = None
        yield Step("shrink.done", {"cache": cachep.name})

    # ------------------------------------------------------------ slabinfo

    HEADER = ("# name <active_objs> <num_objs> <objperslab> <pagesperslab> "
              ": slabdata <active_slabs> <num_slabs>")

    @staticmethod
    def _slabinfo_line(name: str, root: KmemCache, caches: list[KmemCache]) -> str:
        """s_show's columns, summed over ``caches`` (memcg_slabinfo adds a root's
        children into its line)."""
        slabs = [sl for c in caches for sl in c.slabs]
        active = sum(sl.inuse for sl in slabs)
        used = sum(1 for sl in slabs if sl.inuse)
        return (f"{name} {active} {len(slabs) * root.num} {root.num} {1 << root.gfporder} "
                f": slabdata {used} {len(slabs)}")

    def proc_slabinfo(self) -> str:
        """/proc/slabinfo (P26): root caches only, each with its children's counts
        added (memcg_slabinfo); objects served by the root itself are not tracked."""
        lines = [self.HEADER]
        for root in self.slab_caches:
            if not root.freed:
                children = [c for c in root.memcg_caches if c is not None]
                lines.append(self._slabinfo_line(root.name, root, children))
        return "\n".join(lines) + "\n"

    def memcg_slabinfo(self, m: int) -> str | int:
        """memory.kmem.slabinfo (P26): the group's own caches by root name; the walk
        turns each list entry into its cache through the root's slot."""
        memcg = self.memcgs[m]
        if not memcg.online:
            return -2  # -ENOENT: the directory is gone
        lines = [self.HEADER]
        for params in memcg.memcg_slab_caches:
            root = params.root_cache
            cachep = root.memcg_caches[m]  # memcg_params_to_cache
            if cachep is None:
                self._report("NULL dereference")
                return -14  # the oops; -EFAULT stands in for the reader
            lines.append(self._slabinfo_line(root.name, root, [cachep]))
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------ alpha

    def hidden(self) -> tuple:
        """What alpha forgets but the next steps depend on: each memcg's cache
        list order (list_add at the head: newest first), which offline walks in."""
        walking = self.offline_at[0] if self.offline_at else None
        # once a memcg's walk is over its list order matters no more (offline is once)
        return tuple(tuple(self.slab_caches.index(p.root_cache) for p in m.memcg_slab_caches)
                     if m.online or i == walking else ()
                     for i, m in enumerate(self.memcgs))

    def _task_snapshot(self, t: int) -> dict:
        task = self.tasks.get(t)
        return {"memcg": task.memcg.name if task and not task.exited else None,
                "pc": "idle", "charging": None,
                "stack": task.stack_memcg.name if task else None}

    def snapshot(self) -> dict:
        """The abstract state in the JSON shape of model/state.py. The memcgs were
        kmem-limited at boot (so kmem-active, each with its kmemcg_id), no task
        is between a page charge's steps, and nothing activates."""
        caches = {}
        for r, root in enumerate(self.slab_caches):
            for m in range(1, len(self.memcgs)):
                c = self.caches.get((r, m))
                queued = self.wq.queue.count(c.memcg_params.destroy) if c else 0
                work = c.memcg_params.destroy if c else None
                if c is None or (c.freed and not queued):
                    state = "idle"
                elif work.running:
                    state = "run:" + (work.stage or "check")
                else:
                    state = "pending" if queued else "idle"
                alive = c is not None and not c.freed
                fills = [0] * (root.num + 1)
                for sl in c.slabs if c is not None else ():
                    fills[sl.inuse] += 1
                caches[self.cache_name(r, m)] = {
                    "cache": "none" if c is None else "freed" if c.freed else "alive",
                    "dead": bool(c is not None and c.memcg_params.dead),
                    "slabs": fills,
                    "nr_pages": c.memcg_params.nr_pages if c is not None else 0,
                    "objects": c.objects if c is not None else 0,
                    "work": state,
                    "requeued": bool(c and ((work.running and queued) or queued >= 2)),
                    "create_pending": (r, m) in self.create_works,
                    "half_created": (r, m) in self.half_created,
                    "slot": root.memcg_caches[m] is not None,
                    "listed": bool(alive and c.memcg_params in self.memcgs[m].memcg_slab_caches),
                }
        om = self.offline_at
        rd = self.rdestroy_at
        return {
            "memcgs": {m.name: {
                "lifecycle": "online" if m.online else "offline", "use_hierarchy": False,
                "hier": False, "kmem_active": i > 0, "kmemcg_id": m.kmemcg_id - 1,
                "res": m.res.snapshot(), "kmem": m.kmem.snapshot(), "kmem_pages": 0,
                "user_pages": 0} for i, m in enumerate(self.memcgs)},
            "admin": {"pc": "idle", "memcg": None},
            "static_key": len(self.memcgs) - 1,
            "roots": {r.name: {"alive": not r.freed} for r in self.slab_caches},
            "caches": caches,
            "tasks": {name: self._task_snapshot(t) for t, name in enumerate(self.task_names)},
            "offline": {"memcg": self.memcgs[om[0]].name if om else None,
                        "visited": [self.slab_caches[r].name for r in sorted(om[1])] if om else []},
            "root_destroy": {"root": self.slab_caches[rd[0]].name if rd else None,
                             "next_memcg": rd[1] if rd else 0,
                             "step": ("mark", "cancel", "destroy", "wait")[rd[2]] if rd else "mark"},
            "shrinking": self.cache_name(*self.shrinking) if self.shrinking else None,
            "error": self.oops or "none",
        }

