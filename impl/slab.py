"""Per-memcg slab caches and their destruction (mm/slab_common.c, mm/slab.c,
mm/memcontrol.c, 3.8-3.10).

``KmemCache`` with ``memcg_params`` (a root's ``memcg_caches[]``; a child's
memcg, root_cache, dead, nr_pages and destroy work) and its slabs, and
:class:`SlabAllocator`, the slab side of the one machine
(:class:`kmemcg.impl.kernel.Kernel` owns one): the root caches, the workqueue
that creates and destroys per-memcg caches, the allocation and free paths, the
creation and destruction work functions, ``mem_cgroup_destroy_all_caches``,
``kmem_cache_destroy_memcg_children`` and ``kmem_cache_shrink``, and slabinfo.
It keeps no counters of its own: a new slab is charged to its memcg through the
memory controller's ``memcg_charge_kmem`` (kmem, then res, hierarchically), the
same counters the page path charges. Each path is a generator yielding the
model action it completed (model/actions/).

Freed objects stay in Python's memory, flagged: touching one is recorded the
way KASAN would report it (``oops``), so a race shows as data, not a crash.
Historical kernels are this same code with fixes left out (see ``FIXES``).
"""

from __future__ import annotations

from errno import EINVAL, ENOMEM

from kmemcg.impl.lockdep import Lockdep
from kmemcg.impl.memcontrol import CONTROLLER_FIXES, PAGE_SIZE, MemCgroup, MemoryController
from kmemcg.impl.sched import Blocked, Mutex, Step
from kmemcg.impl.workqueue import Workqueue, WorkStruct

#: The fixes this code knows; a kernel is built with the ones it has (the
#: roster of which historical kernel lacks which is the model's,
#: model/profiles.py). Each is tested by name where the code differs.
FIXES = CONTROLLER_FIXES | frozenset({
    "destroy_skips_pending",
    "destroy_returns_when_requeued", "last_page_schedules_destroy",
    "destroy_waits_for_shrinker", "offline_excludes_root_destroy", "create_checks_online",
    "root_dying_flush", "root_destroy_cancels_work", "slot_before_list",
})


#: sizeof(void *) on x86_64: kmem_cache_sanity_check's smallest object (3.8-3.10)
SIZEOF_VOID_P = 8
#: MAX_ORDER (x86_64): a slab is of order 0..MAX_ORDER - 1
MAX_ORDER = 11
#: KMALLOC_MAX_SIZE, SLUB's 1 << KMALLOC_SHIFT_MAX = MAX_ORDER + PAGE_SHIFT (3.9-3.10,
#: 8 MiB); 3.8's slab.h had 1 << (MAX_ORDER + PAGE_SHIFT - 1), 4 MiB
KMALLOC_MAX_SIZE = PAGE_SIZE << MAX_ORDER


class MemcgCacheParams:
    """struct memcg_cache_params of a child cache."""

    def __init__(self, memcg: MemCgroup, root_cache: KmemCache, destroy: WorkStruct):
        self.memcg = memcg
        self.root_cache = root_cache
        self.dead = False
        self.nr_pages = 0  # atomic_t nr_pages
        self.destroy = destroy


class Slab:
    """struct slab: a 2**order page block and the objects in use on it (their
    handles; ``inuse`` counts them); its head page's ``slab_cache`` names the
    cache it belongs to, and ``ident`` is what a step names it by (any integer
    unique among the slabs in memory: the head page's frame, in the kernel)."""

    def __init__(self, cache: KmemCache, ident: int):
        self.objects: set[int] = set()
        self.slab_cache = cache
        self.ident = ident

    @property
    def inuse(self) -> int:
        return len(self.objects)


class KmemCache:
    """struct kmem_cache: a root cache, or a memcg's copy of one."""

    def __init__(self, name: str, root: KmemCache | None = None, order: int = 0,
                 num: int = 1):
        self.name = name
        self.gfporder = order  # cachep->gfporder: pages per slab, log2
        self.num = num  # cachep->num: objects per slab
        self.slabs: list[Slab] = []
        self.freed = False
        #: a root's memcg_params->memcg_caches[], by kmemcg_id (a dict here: the
        #: array's growth in memcg_update_all_caches is not modelled)
        self.memcg_caches: dict[int, KmemCache] | None = None
        self.memcg_params: MemcgCacheParams | None = None
        self.object_size = 0  # s->object_size
        self.root = root

    @property
    def objects(self) -> int:
        return sum(slab.inuse for slab in self.slabs)


class SlabAllocator:
    """The slab allocator's memcg side: root caches, per-memcg caches, the
    workqueue, the walks in flight (ghost state for alpha) and the oops log."""

    #: print_slabinfo_header's column line, naming the columns a line here has:
    #: the kernel's <objsize>, tunables and <sharedavail> are left out (no
    #: object size is configured), and so is its padding
    COLUMNS = ("# name <active_objs> <num_objs> <objperslab> <pagesperslab> "
               ": slabdata <active_slabs> <num_slabs>")

    #: the contexts memcg_kmem_get_cache never charges (3.8 memcontrol.h), in
    #: the model's order (model/state.py CONTEXTS)
    CONTEXTS = ("kthread", "interrupt", "nofail", "fatal_signal", "unaccounted")

    def __init__(self, mc: MemoryController, fixes: frozenset[str] = FIXES,
                 lockdep: Lockdep | None = None, root_objects: bool = False):
        unknown = set(fixes) - FIXES
        if unknown:
            raise ValueError(f"unknown fixes {sorted(unknown)}")
        self.mc = mc
        self.fixes = frozenset(fixes)
        self.lockdep = lockdep or Lockdep()
        self.slab_caches: list[KmemCache] = []
        self.roots_by_name: dict[str, int] = {}
        self.root_dying: set[int] = set()
        self.wq = Workqueue()
        self.create_works: dict[tuple[int, MemCgroup], WorkStruct] = {}
        #: ghost: the latest incarnation of each (root, memcg) cache
        self.caches: dict[tuple[int, MemCgroup], KmemCache] = {}
        self.oops: str | None = None
        # ghost state for alpha: what the walking threads have reached
        self.offline_at: tuple[MemCgroup, set[int]] | None = None  # (memcg, roots visited)
        self.rdestroy_at: tuple[int, int, int] | None = None  # (root, next kmemcg_id, step)
        self.shrinking: tuple[int, MemCgroup] | None = None
        self.half_created: set[tuple[int, MemCgroup]] = set()
        self.create_seq = 0
        self.memcg_cache_mutex = Mutex("memcg_cache_mutex")
        #: every object allocated and not freed: its handle -> the slab it sits
        #: on (virt_to_head_page(x)), or None for one the root served and this
        #: allocator forgot (no ``root_objects``)
        self.objects: dict[int, Slab | None] = {}
        self._next_object = 0
        self._next_slab = 0
        #: keep the objects a root cache serves itself on its own slabs (the
        #: kernel does); False forgets them as they are served, as the model's
        #: scopes without root_objects do
        self.root_objects = root_objects

    def has_fix(self, fix: str) -> bool:
        return fix in self.fixes

    def kmem_cache_create(self, name: str | None, size: int, order: int,
                          num: int) -> KmemCache | int:
        """kmem_cache_create -> kmem_cache_create_memcg(NULL, name, size, ...)
        (mm/slab_common.c, 3.8-3.10), all of it under slab_mutex: the sanity
        checks, a new cache whose ``2**order``-page slabs hold ``num`` objects
        of ``size`` bytes (__kmem_cache_create), memcg_register_cache, and the
        list_add to slab_caches. The cache, or -EINVAL: kmem_cache_create
        itself returns NULL, having printed why (the sanity check leaves
        ``err`` at 0 in 3.8-3.10, so only its own pr_err says so)."""
        err = self.kmem_cache_sanity_check(name, size)
        if err:
            return err
        # __kmem_cache_create: SLUB's calculate_sizes finds no order that
        # holds the objects (kmem_cache_open's -EINVAL)
        if not 0 <= order < MAX_ORDER or num < 1 or num * size > PAGE_SIZE << order:
            return -EINVAL
        root = KmemCache(name, order=order, num=num)
        root.object_size = size
        self.memcg_register_cache(root)
        self.roots_by_name[name] = len(self.slab_caches)
        self.slab_caches.append(root)  # list_add(&s->list, &slab_caches)
        return root

    def kmem_cache_sanity_check(self, name: str | None, size: int) -> int:
        """kmem_cache_sanity_check(NULL, name, size) (3.8-3.10, CONFIG_DEBUG_VM):
        -EINVAL for a NULL name, a size below sizeof(void *) or above
        KMALLOC_MAX_SIZE, or a root cache of that name on slab_caches (one
        whose unload has not finished is still there). in_interrupt() is
        never true here: no operation creates a cache from an interrupt."""
        if name is None or not SIZEOF_VOID_P <= size <= KMALLOC_MAX_SIZE:
            return -EINVAL
        if self._live_root(name) is not None:
            return -EINVAL  # "Cache name already exists."
        return 0

    def memcg_register_cache(self, root: KmemCache) -> None:
        """memcg_register_cache(NULL, s, NULL) (3.8-3.10): a root's
        memcg_params, with memcg_caches[] (a dict here, so room for every
        kmemcg_id: the array's size, memcg_limited_groups_array_size at this
        moment, and its growth in memcg_update_all_caches, which the same
        slab_mutex serialises with this, are not kept)."""
        root.memcg_caches = {}

    def _live_root(self, name: str) -> int | None:
        """The root cache of that name still on slab_caches (not yet freed)."""
        r = self.roots_by_name.get(name)
        return r if r is not None and not self.slab_caches[r].freed else None

    def root_index(self, name: str) -> int | None:
        """The root cache of that name, its latest incarnation (slab_caches is
        walked under slab_mutex)."""
        return self.roots_by_name.get(name)

    # ------------------------------------------------------------ helpers

    def cache_name(self, r: int, memcg: MemCgroup) -> str:
        """kmem_cache_dup's name: root(css id:cgroup name) (3.8)."""
        return f"{self.slab_caches[r].name}({memcg.css_id}:{memcg.name})"

    def _report(self, what: str) -> None:
        if self.oops is None:
            self.oops = what

    def _touch(self, cachep: KmemCache) -> None:
        if cachep.freed:
            self._report("use after free")

    def _index(self, cachep: KmemCache) -> tuple[int, MemCgroup]:
        p = cachep.memcg_params
        return self.slab_caches.index(p.root_cache), p.memcg

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
        cache's memcg first (__memcg_kmem_newpage_charge -> memcg_charge_kmem);
        on -ENOMEM there is no slab. Otherwise memcg_bind_pages counts them."""
        p = cachep.memcg_params
        if self.mc.memcg_charge_kmem(p.memcg, PAGE_SIZE << cachep.gfporder):
            return None
        p.nr_pages += 1 << cachep.gfporder
        return self.new_slab(cachep)

    def new_slab(self, cachep: KmemCache) -> Slab:
        """A slab of fresh pages on the cache's list (cache_grow's list_add)."""
        slab = Slab(cachep, self._next_slab)
        self._next_slab += 1
        cachep.slabs.append(slab)
        return slab

    def place(self, slab: Slab | None) -> int:
        """Hand out an object of ``slab`` (None: one the root served and nobody
        keeps): its handle, an integer not in use."""
        handle = self._next_object
        self._next_object += 1
        self.objects[handle] = slab
        if slab is not None:
            slab.objects.add(handle)
        return handle

    def kmem_freepages(self, cachep: KmemCache, slab: Slab) -> None:
        """kmem_freepages: the release hook (memcg_release_pages), then the pages go
        back, uncharged from the memcg they were charged to (free_memcg_kmem_pages).
        A root cache's pages were never charged (no __GFP_KMEMCG) and it has no
        hook (is_root_cache): they just go."""
        cachep.slabs.remove(slab)
        if cachep.memcg_params is None:
            return
        self.memcg_release_pages(cachep, 1 << cachep.gfporder)
        self.mc.memcg_uncharge_kmem(cachep.memcg_params.memcg, PAGE_SIZE << cachep.gfporder)

    def kmem_cache_shrink_pages(self, cachep: KmemCache) -> None:
        """__kmem_cache_shrink: release every empty slab."""
        for slab in [sl for sl in cachep.slabs if sl.inuse == 0]:
            self.kmem_freepages(cachep, slab)

    def root_serve(self, root: KmemCache) -> tuple[int, dict]:
        """The root cache serves an object itself: kept on its own slabs with
        ``root_objects`` (a partial slab, the fullest, as the model takes it;
        else an empty one; else a new slab, its pages not charged), else
        forgotten. Its handle, and what its step says of it (the object, and
        the slab when it is kept)."""
        if not self.root_objects:
            handle = self.place(None)
            return handle, {"object": handle}
        partial = [sl for sl in root.slabs if 0 < sl.inuse < root.num]
        slab = max(partial, key=lambda sl: sl.inuse, default=None) or next(
            (sl for sl in root.slabs if sl.inuse == 0), None)
        if slab is None:
            slab = self.new_slab(root)
        handle = self.place(slab)
        return handle, {"object": handle, "slab": slab.ident}

    # ------------------------------------------------------------ task paths

    def kmem_cache_alloc_root(self, r: int, context: str):
        """kmem_cache_alloc(root) in a context memcg_kmem_get_cache never charges
        (CONTEXTS): the root cache serves it and nothing is queued; a step only
        where the root's objects are kept. Returns the object's handle."""
        root = self.slab_caches[r]
        self._touch(root)
        handle, placed = self.root_serve(root)
        if self.root_objects:
            yield Step("alloc.root", {"root": root.name, "context": context, **placed})
        return handle

    def kmem_cache_alloc(self, r: int, memcg: MemCgroup, fill: int | None = None):
        """kmem_cache_alloc from root ``r`` by a task of ``memcg``
        (__memcg_kmem_get_cache, then cache_alloc_refill): a partial slab first
        (the first on the list; the first holding ``fill`` objects when the
        caller hints one, as the interleaver does to reach every choice the
        model allows), else an empty one, else a new slab. Returns the object's
        handle, or -ENOMEM; the step names the object and its slab. An object
        the root cache serves is not kept on the root's slabs without
        ``root_objects``: the abstract state has no place for it."""
        root = self.slab_caches[r]
        if not self.mc.memcg_kmem_accounted(memcg):
            # memcg_kmem_get_cache: the key off, or __memcg_kmem_get_cache's
            # !memcg_can_account_kmem: the root serves it, nothing accounted
            return (yield from self.kmem_cache_alloc_root(r, "unaccounted"))
        cachep = root.memcg_caches.get(memcg.kmemcg_id)
        name = {"cache": self.cache_name(r, memcg)}
        if cachep is None:  # __memcg_kmem_get_cache: enqueue, serve from the root
            self.memcg_create_cache_enqueue(r, memcg)
            handle, placed = self.root_serve(root)
            yield Step("alloc", {**name, "root": root.name, **placed})
            return handle
        self._touch(cachep)
        partial = [sl for sl in cachep.slabs if 0 < sl.inuse < cachep.num]
        hinted = [sl for sl in partial if sl.inuse == fill]
        if partial:
            slab = (hinted or partial)[0]
            took = slab.inuse
            handle = self.place(slab)
            yield Step("alloc.partial", {**name, "fill": took, "object": handle,
                                         "slab": slab.ident})
            return handle
        slab = next((sl for sl in cachep.slabs if sl.inuse == 0), None)
        if slab is None:
            slab = self.kmem_getpages(cachep)
        if slab is None:
            yield Step("alloc", name, -ENOMEM)
            return -ENOMEM
        handle = self.place(slab)
        yield Step("alloc", {**name, "object": handle, "slab": slab.ident})
        return handle

    def object_slab(self, handle: int) -> Slab | None:
        """The slab an object sits on (virt_to_head_page), None for one the root
        served and nobody keeps; KeyError for a handle not in use."""
        return self.objects[handle]

    def kmem_cache_free(self, handle: int, release: bool | None = None):
        """kmem_cache_free(s, x) of object ``handle``: the cache comes from the
        object's page (cache_from_obj: virt_to_head_page(x)->slab_cache), so its
        slab, the one it was allocated on, and the memcg a released slab is
        uncharged from, are the ones recorded at the charge (the cache's
        memcg_params->memcg), whoever frees it. A slab the free empties is
        released (kmem_freepages) or kept by the allocator's policy: the
        caller's ``release`` when it gives one (the interleaver, reaching both
        choices the model allows), else released at once (SLAB frees an empty
        slab once its node holds more than free_limit free objects, SLUB once
        it holds more than min_partial partial slabs: the limit here is 0).
        An object the root served and nobody keeps goes with no step."""
        slab = self.objects.pop(handle)
        if slab is None:
            return
        cachep = slab.slab_cache
        self._touch(cachep)
        took = slab.inuse
        slab.objects.discard(handle)
        name = {"cache": cachep.name}  # a root's own object names the root
        if took == 1 and (release is None or release):
            self.kmem_freepages(cachep, slab)
            yield Step("free.release_pages", name)
        else:
            yield Step("free.object", {**name, "fill": took})

    # ------------------------------------------------------------ creation

    def memcg_create_cache_enqueue(self, r: int, memcg: MemCgroup) -> None:
        """memcg_create_cache_enqueue: one creation work per (root, memcg) here;
        the kernel may queue several, and its worker re-checks the slot anyway."""
        if (r, memcg) not in self.create_works:
            self.create_seq += 1  # each enqueue kmallocs a new work item
            work = WorkStruct(lambda w, r=r, m=memcg: self.memcg_create_kmem_cache(w, r, m),
                              f"create {self.cache_name(r, memcg)} #{self.create_seq}")
            self.create_works[(r, memcg)] = work
            self.wq.queue_work(work)

    def memcg_create_kmem_cache(self, work: WorkStruct, r: int, memcg: MemCgroup):
        """memcg_create_kmem_cache under memcg_cache_mutex (3.10), held from the
        slot check to the slot store (so across a preemption in list_before_slot)."""
        mutex = self.memcg_cache_mutex
        yield from mutex.lock(work)
        del self.create_works[(r, memcg)]
        root = self.slab_caches[r]
        name = {"cache": self.cache_name(r, memcg)}
        self._touch(root)  # cw->cachep: the root the work was queued for
        # 4.18's memcg_params.dying; before it, a root going away did not stop this
        dying = r in self.root_dying and self.has_fix("root_dying_flush")
        usable = root.memcg_caches.get(memcg.kmemcg_id) is None and not dying and not root.freed
        if self.has_fix("create_checks_online"):
            usable = usable and memcg.online  # the fix: no cache for an offline memcg
        if not usable:
            mutex.unlock(work)
            yield Step("create_work.publish", name)
            return
        with self.lockdep.locked(work, "memcg_cache_mutex", "slab_mutex",
                                 "memcg->slab_caches_mutex"):
            cachep = self.kmem_cache_dup(root, memcg, r)
        if not self.has_fix("slot_before_list"):
            self.half_created.add((r, memcg))
            yield Step("create_work.publish", name)
            self.half_created.discard((r, memcg))
            root.memcg_caches[memcg.kmemcg_id] = cachep
            mutex.unlock(work)
            yield Step("create_work.set_slot", name)
            return
        root.memcg_caches[memcg.kmemcg_id] = cachep
        mutex.unlock(work)
        yield Step("create_work.publish", name)

    def kmem_cache_dup(self, root: KmemCache, memcg: MemCgroup, r: int) -> KmemCache:
        """kmem_cache_dup -> kmem_cache_create_memcg -> memcg_cache_list_add."""
        cachep = KmemCache(self.cache_name(r, memcg), root, root.gfporder, root.num)
        destroy = WorkStruct(lambda w, c=cachep: self.kmem_cache_destroy_work_func(w, c),
                             f"destroy {cachep.name}")
        cachep.memcg_params = MemcgCacheParams(memcg, root, destroy)
        self.mc.mem_cgroup_get(memcg)  # memcg_register_cache: the cache holds its memcg
        self.caches[(r, memcg)] = cachep
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
            self.kmem_cache_destroy_memcg(cachep)
        self._end_work(work)
        yield Step("destroy_work.destroy", name)

    def _end_work(self, work: WorkStruct) -> None:
        work.stage = None
        self.wq.done(work)

    def kmem_cache_destroy_memcg(self, cachep: KmemCache) -> None:
        """kmem_cache_destroy of a memcg cache: __kmem_cache_shutdown releases the
        empty slabs, and fails while objects remain; then memcg_release_cache."""
        if cachep.freed:
            self._report("double destroy")
            return
        p = cachep.memcg_params
        r, memcg = self._index(cachep)
        with self.lockdep.locked(cachep, "slab_mutex", "memcg->slab_caches_mutex"):
            self.kmem_cache_shrink_pages(cachep)  # __kmem_cache_shutdown
            if cachep.objects:
                return  # "Slab cache still has objects"
            cachep.freed = True  # then memcg_release_cache:
            self.slab_caches[r].memcg_caches.pop(memcg.kmemcg_id, None)
            p.memcg.memcg_slab_caches.remove(p)
            self.mc.mem_cgroup_put(p.memcg)

    def mem_cgroup_destroy_all_caches(self, memcg: MemCgroup):
        """mem_cgroup_css_offline -> mem_cgroup_destroy_all_caches (3.10): one
        preemption point per entry of the memcg's cache list, in list order
        (newest first), marking each dead and queueing its destroy work."""
        visited: set[int] = set()
        self.offline_at = (memcg, visited)
        while True:
            with self.lockdep.locked(memcg, "memcg->slab_caches_mutex"):
                params = next((p for p in memcg.memcg_slab_caches
                               if self.slab_caches.index(p.root_cache) not in visited), None)
            if params is None:
                break
            root = params.root_cache
            cachep = root.memcg_caches.get(memcg.kmemcg_id)  # memcg_params_to_cache
            if cachep is None:
                self._report("NULL dereference")
            else:
                params.dead = True
                self._touch(cachep)
                self.wq.queue_work(params.destroy)
            visited.add(self.slab_caches.index(root))
            yield Step("offline.mark_dead", {"memcg": memcg.path, "root": root.name})
        self.offline_at = None
        yield Step("offline.done", {"memcg": memcg.path})

    def kmem_cache_destroy_memcg_children(self, r: int, nr_ids: int):
        """kmem_cache_destroy(root) -> kmem_cache_destroy_memcg_children (3.8):
        every kmemcg_id below ``nr_ids`` in turn (memcg_limited_groups_array_size)."""
        root = self.slab_caches[r]
        self.root_dying.add(r)
        self.rdestroy_at = (r, 0, 0)
        if self.root_objects:  # its own slabs, all empty by now (see the model's
            root.slabs.clear()  # root_destroy.start: released at the walk's start)
        yield Step("root_destroy.start", {"root": root.name})
        for i in range(nr_ids):
            while self.has_fix("root_dying_flush") and self._creating(r):
                yield Blocked("flush_memcg_workqueue")  # 4.18
            c = root.memcg_caches.get(i)
            if c is not None:
                c.memcg_params.dead = False
            self.rdestroy_at = (r, i, 1)
            yield Step("root_destroy.clear_dead", {"root": root.name})
            c = self._latest(r, i)
            work = c.memcg_params.destroy if c is not None else None
            waits = False
            if work is not None and self.has_fix("root_destroy_cancels_work"):
                self.wq.try_to_grab_pending(work)  # cancel_work_sync
                waits = work.running
            self.rdestroy_at = (r, i, 3 if waits else 2)
            yield Step("root_destroy.cancel_work", {"root": root.name})
            if waits:
                yield from self.wq.flush_work(work)
                self.rdestroy_at = (r, i, 2)
                yield Step("root_destroy.flush_work", {"root": root.name})
            c = root.memcg_caches.get(i)
            while c is not None and self.shrinking == (r, c.memcg_params.memcg):
                yield Blocked("slab_mutex")
            if c is not None:
                with self.lockdep.locked(root, "set_limit_mutex"):
                    self.lockdep.held[c] = list(self.lockdep.held[root])
                    self.kmem_cache_destroy_memcg(c)
                    self.lockdep.held.pop(c, None)
            last = i + 1 >= nr_ids
            self.rdestroy_at = None if last else (r, i + 1, 0)
            if last:
                self.root_dying.discard(r)
                root.freed = True
            yield Step("root_destroy.destroy_child", {"root": root.name})

    def _latest(self, r: int, kmemcg_id: int) -> KmemCache | None:
        """The last cache created for (root, the memcg with this id): cancel_work_sync
        reaches its destroy work even once its slot is cleared."""
        return next((c for (rr, m), c in self.caches.items()
                     if rr == r and m.kmemcg_id == kmemcg_id), None)

    def _creating(self, r: int) -> bool:
        """A creation work for root ``r`` is queued or has not finished."""
        return any(rr == r for rr, _ in [*self.create_works, *self.half_created])

    def kmem_cache_shrink(self, r: int, memcg: MemCgroup):
        """kmem_cache_shrink(c) from outside the worker; it still uses c on the way out."""
        cachep = self.slab_caches[r].memcg_caches[memcg.kmemcg_id]
        self.shrinking = (r, memcg)
        self.kmem_cache_shrink_pages(cachep)
        yield Step("shrink.release", {"cache": cachep.name})
        self._touch(cachep)
        self.shrinking = None
        yield Step("shrink.done", {"cache": cachep.name})

    # ------------------------------------------------------------ slabinfo

    @staticmethod
    def print_slabinfo_header() -> list[str]:
        """print_slabinfo_header (mm/slab_common.c, 3.8-3.10), built without
        CONFIG_DEBUG_SLAB: the version line, then the columns the lines show."""
        return ["slabinfo - version: 2.1", SlabAllocator.COLUMNS]

    @staticmethod
    def get_slabinfo(cachep: KmemCache) -> tuple[int, int, int]:
        """get_slabinfo (mm/slab.c, 3.8): (active_objs, num_slabs, active_slabs),
        an active slab being one with an object in use."""
        return (sum(sl.inuse for sl in cachep.slabs), len(cachep.slabs),
                sum(1 for sl in cachep.slabs if sl.inuse))

    def cache_show(self, cachep: KmemCache) -> str:
        """cache_show (mm/slab_common.c, 3.8-3.10): the cache's own counts, plus,
        for a root cache, every cache in its memcg_caches[] (memcg_accumulate_slabinfo);
        a memcg cache shows under its root's name (cache_name)."""
        root = cachep.root or cachep
        counts = [self.get_slabinfo(cachep)]
        if cachep.root is None:  # is_root_cache
            counts += [self.get_slabinfo(c) for c in cachep.memcg_caches.values()]
        active, slabs, used = (sum(col) for col in zip(*counts, strict=True))
        return (f"{root.name} {active} {slabs * root.num} {root.num} {1 << root.gfporder} "
                f": slabdata {used} {slabs}")

    def proc_slabinfo(self) -> str:
        """/proc/slabinfo (s_start, s_show; 3.8-3.10): the header, then each root
        cache. A root's own slabs are counted, but nothing here puts objects on
        them: an allocation the root serves is not kept (see kmem_cache_alloc)."""
        lines = self.print_slabinfo_header()
        lines += [self.cache_show(root) for root in self.slab_caches if not root.freed]
        return "\n".join(lines) + "\n"

    def mem_cgroup_slabinfo_read(self, memcg: MemCgroup) -> str | int:
        """memory.kmem.slabinfo (mem_cgroup_slabinfo_read, 3.8-3.10): the header,
        then the group's own caches; the walk turns each list entry into its cache
        through the root's slot (memcg_params_to_cache)."""
        lines = self.print_slabinfo_header()
        for params in memcg.memcg_slab_caches:
            cachep = params.root_cache.memcg_caches.get(memcg.kmemcg_id)
            if cachep is None:
                self._report("NULL dereference")
                return -14  # the oops; -EFAULT stands in for the reader
            lines.append(self.cache_show(cachep))
        return "\n".join(lines) + "\n"
