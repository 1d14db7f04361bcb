"""struct mem_cgroup and the kmem controller paths (mm/memcontrol.c, 3.8-3.10).

Every path that the model splits into several actions is a generator
(:mod:`kmemcg.impl.sched`): it yields a :class:`~kmemcg.impl.sched.Step` naming the model
action it has just completed, at the point where the kernel could be
preempted.
"""

from __future__ import annotations

from errno import EBUSY, EINVAL, ENOMEM

from kmemcg.impl.res_counter import RESOURCE_MAX, ResCounter
from kmemcg.impl.sched import Mutex, Step

PAGE_SIZE = 4096
#: mem_cgroup_force_empty's rounds of reclaim without progress before it gives up;
#: mem_cgroup_resize_limit's, times the memcgs of its tree (3.8).
MEM_CGROUP_RECLAIM_RETRIES = 5
#: mem_cgroup_reclaim's passes of try_to_free_mem_cgroup_pages at most (3.8).
MEM_CGROUP_MAX_RECLAIM_LOOPS = 100
#: memcg->kmem_account_flags bits.
KMEM_ACCOUNTED_ACTIVE = 1 << 0
KMEM_ACCOUNTED_ACTIVATED = 1 << 1
KMEM_ACCOUNTED_DEAD = 1 << 2
#: ida_simple_get(&kmem_limited_groups, 0, MEMCG_CACHES_MAX_SIZE).
MEMCG_CACHES_MAX_SIZE = 65535
#: CHARGE_BATCH (3.8): the pages __mem_cgroup_try_charge charges res at once when
#: the per-cpu stock is on, the excess left in the cpu's memcg_stock.
CHARGE_BATCH = 32
#: The fixes the controller's code knows (the slab side's are impl/slab.py's);
#: a historical kernel is built without some (the roster is model/profiles.py).
CONTROLLER_FIXES = frozenset({
    "kmem_limit_check", "kmem_rollback", "active_after_key", "activation_excludes_mkdir",
    "activation_refuses_over_limit", "uncharge_tests_dead_ancestors",
})
#: enum move_type (3.8): the bits of move_charge_at_immigrate.
MOVE_CHARGE_TYPE_ANON, MOVE_CHARGE_TYPE_FILE, NR_MOVE_TYPE = 0, 1, 2
#: The call sites of memcg_kmem_enabled_key, in the order jump_label_update
#: patches them (the order that exposes W11: the charge site first).
CHARGE_SITE, COMMIT_SITE = "memcg_kmem_newpage_charge", "memcg_kmem_commit_charge"


class MemCgroup:
    """struct mem_cgroup: its res and kmem counters, kmem flags and kmemcg_id,
    its place in the cgroup tree, and its list of per-memcg slab caches."""

    def __init__(self, name: str, parent: MemCgroup | None, css_id: int = 0):
        self.name = name  # the cgroup directory's d_name
        self.css_id = css_id  # css index: creation order, 0 for the root
        self.parent = parent  # the cgroup parent, whatever use_hierarchy says
        #: the cgroupfs path (cgroup_path), fixed at creation
        self.path = "/" if parent is None else parent.path.rstrip("/") + "/" + name
        self.children: list[MemCgroup] = []  # cgroup->children: online children only
        self.online = False
        self.use_hierarchy = False
        self.res = ResCounter()
        self.kmem = ResCounter()
        #: memcg->memsw's limit: RESOURCE_MAX for good, with no swap accounting
        #: (no memory.memsw.* file writes it); mem_cgroup_resize_limit checks it
        self.memsw_limit = RESOURCE_MAX
        self.kmem_account_flags = 0
        self.kmemcg_id = -1
        #: memcg->memcg_slab_caches: the memcg_params of its caches, newest first
        self.memcg_slab_caches: list = []
        #: memcg->refcnt (3.8-3.10): the base reference, dropped by css_free
        self.refcnt = 1
        #: __mem_cgroup_free has run: the struct is gone (kept for the snapshot)
        self.freed = False
        #: ghost: how far mem_cgroup_css_free -> kmem_cgroup_destroy has got
        #: ("none", "read_usage", "test_and_clear", "done"), and how many times
        #: the death reference was put
        self.destroy_stage = "none"
        self.death_puts = 0
        #: memcg->move_charge_at_immigrate: 0 at mem_cgroup_css_alloc, not inherited
        self.move_charge_at_immigrate = 0

    def __repr__(self) -> str:
        return f"<mem_cgroup {self.path}>"


class MmStruct:
    """struct mm_struct, as far as memcg cares: ``owner`` (mm->owner, whose
    memcg the mm's charges go to, CONFIG_MM_OWNER) and ``mm_users``. Named
    after the task that created it."""

    def __init__(self, name: str, owner: TaskStruct):
        self.name = name
        self.owner = owner
        self.mm_users = 1


class TaskStruct:
    """struct task_struct, as far as memcg cares: its cgroup (None once it has
    exited), its mm (None once exited: exit_mm), the memcg its thread stack
    is charged to (pc->mem_cgroup of the thread_info pages; None when
    uncharged), its flags. ``has_mm`` is the context a test may take away
    (current->mm NULL for the charge's bypass test)."""

    PF_KTHREAD = 0x00200000

    def __init__(self, name: str, memcg: MemCgroup | None, stack_memcg: MemCgroup | None = None,
                 mm: MmStruct | None = None):
        self.name = name
        self.memcg = memcg
        self.stack_memcg = stack_memcg
        #: task->mm: a process of its own (mm_init_owner) unless one is given
        self.mm = mm if mm is not None else MmStruct(name, self)
        self.flags = 0
        self.has_mm = True
        self.fatal_signal_pending = False
        #: task_cpu(p): the cpu it runs on, whose memcg_stock its charges meet
        self.cpu = 0
        #: ghost: where an in-flight page charge stands, (action, memcg, order) or None
        self.charge_stage: tuple | None = None

    def mm_owner_memcg(self) -> MemCgroup | None:
        """mem_cgroup_from_task(rcu_dereference(mm->owner)): the memcg
        try_get_mem_cgroup_from_mm charges for this task (3.8)."""
        return self.mm.owner.memcg if self.mm is not None else None



class PageCgroup:
    """struct page_cgroup: the memcg a page is charged to, and the Used bit."""

    __slots__ = ("mem_cgroup", "used")

    def __init__(self):
        self.mem_cgroup: MemCgroup | None = None
        self.used = False


class Page:
    """The head page of an allocation of ``1 << order`` pages (compound_order;
    kmalloc_order asks for __GFP_COMP), with its page_cgroup. A user page is
    ``"anon"`` (mapped by ``mm``, freed by its last mmput), ``"cache"`` (page
    cache: reclaimable) or ``"pinned"`` (alloc_user_page's: mlocked, freed one
    by one)."""

    __slots__ = ("kind", "kmem", "mm", "order", "pc", "pfn")

    def __init__(self, pfn: int, kmem: bool, order: int = 0, kind: str = "pinned",
                 mm: MmStruct | None = None):
        self.pfn = pfn
        self.pc = PageCgroup()
        self.kmem = kmem
        self.order = order
        self.kind = "kmem" if kmem else kind
        self.mm = mm


# gfp flags the kmem charge looks at (__GFP_NOFAIL, __GFP_KMEMCG; Python mangles "__").
GFP_NOFAIL = 0x800
GFP_KMEMCG = 0x100000
GFP_KERNEL = 0xD0


class MemcgStockPcp:
    """struct memcg_stock_pcp (3.8): one cpu's stock, the memcg it caches and
    the res pages precharged to it and not yet used."""

    def __init__(self):
        self.cached: MemCgroup | None = None
        self.nr_pages = 0


class MemoryController:
    """The memory controller of one machine: the root memcg and global state."""

    def __init__(self):
        self.root_mem_cgroup = MemCgroup("", None)
        self.root_mem_cgroup.online = True
        self.nr_memcgs = 1  # css ids handed out
        self.memcg_kmem_enabled_key = 0  # struct static_key's count
        #: static_key_slow_inc is inside jump_label_update: the sites patched so far
        self.patched_sites: frozenset[str] = frozenset()
        self.fixes: frozenset[str] = CONTROLLER_FIXES
        #: ghost: the memcg memcg_update_kmem_limit activates and the step it takes next
        self.activation: tuple[MemCgroup, str] | None = None
        self.kmem_limited_groups: set[int] = set()  # the ida
        #: memcg_limited_groups_array_size (3.8): the root caches' memcg_caches[]
        #: length, which only grows (memcg_update_cache_sizes), never as ids free
        self.memcg_limited_groups_array_size = 0
        self.memcg_create_mutex = Mutex("memcg_create_mutex")
        self.set_limit_mutex = Mutex("set_limit_mutex")
        #: memcgs whose refcnt reached 0: their call_rcu(free_rcu) is pending
        self.rcu_freeing: list[MemCgroup] = []
        #: the machine's pages by pfn (the kernel's, shared): the LRUs reclaim scans
        self.pages: dict[int, Page] = {}
        #: the per-cpu memcg_stock, one per cpu; none: res is charged page for page
        self.memcg_stock: list[MemcgStockPcp] = []
        self.charge_batch = CHARGE_BATCH

    def enable_percpu_stock(self, nr_cpus: int, charge_batch: int = CHARGE_BATCH) -> None:
        """Boot with ``nr_cpus`` cpus, each with an empty memcg_stock."""
        self.memcg_stock = [MemcgStockPcp() for _ in range(nr_cpus)]
        self.charge_batch = charge_batch

    # ------------------------------------------------------------ helpers

    def has_fix(self, fix: str) -> bool:
        return fix in self.fixes

    def memcg_kmem_enabled(self, site: str) -> bool:
        """memcg_kmem_enabled() at ``site``: static_key_false's branch, patched in
        once the key is on, or while static_key_slow_inc has reached the site."""
        return self.memcg_kmem_enabled_key > 0 or site in self.patched_sites

    @staticmethod
    def memcg_kmem_is_active(memcg: MemCgroup) -> bool:
        return bool(memcg.kmem_account_flags & KMEM_ACCOUNTED_ACTIVE)

    def mem_cgroup_is_root(self, memcg: MemCgroup) -> bool:
        return memcg is self.root_mem_cgroup

    def memcg_can_account_kmem(self, memcg: MemCgroup) -> bool:
        """memcg_can_account_kmem (3.8)."""
        return not self.mem_cgroup_is_root(memcg) and self.memcg_kmem_is_active(memcg)

    @staticmethod
    def parent_mem_cgroup(memcg: MemCgroup) -> MemCgroup | None:
        """parent_mem_cgroup: derived from res.parent, so NULL without hierarchy."""
        return memcg.parent if memcg.res.parent is not None else None

    @staticmethod
    def memcg_has_children(memcg: MemCgroup) -> bool:
        """memcg_has_children: use_hierarchy and a child cgroup (3.8)."""
        return memcg.use_hierarchy and bool(memcg.children)

    def cgroup_task_count(self, memcg: MemCgroup, tasks) -> int:
        """cgroup_task_count: the tasks in the cgroup (an exited task is in none)."""
        return sum(1 for t in tasks if t.memcg is memcg)

    def for_each_mem_cgroup_tree(self, root: MemCgroup):
        """for_each_mem_cgroup_tree -> mem_cgroup_iter (3.8-3.10): ``root`` alone if
        it has no use_hierarchy and is not root_mem_cgroup; otherwise ``root`` and
        its descendants, pre-order, so the root's walk covers the whole tree
        whatever its use_hierarchy. A removed group is unlinked from
        cgroup->children (and its css_tryget would fail)."""
        yield root
        if not root.use_hierarchy and not self.mem_cgroup_is_root(root):
            return
        stack = list(reversed(root.children))
        while stack:
            memcg = stack.pop()
            yield memcg
            stack.extend(reversed(memcg.children))

    def mem_cgroup_usage(self, memcg: MemCgroup, pages) -> int:
        """mem_cgroup_usage(memcg, swap=false) (3.8-3.10): a group's res usage; the
        root's is MEM_CGROUP_STAT_CACHE + MEM_CGROUP_STAT_RSS summed over its tree
        walk (mem_cgroup_recursive_stat), in bytes."""
        if not self.mem_cgroup_is_root(memcg):
            return memcg.res.usage
        tree = set(self.for_each_mem_cgroup_tree(memcg))
        # the statistics count the user pages committed to each group (and move
        # with a reparented page); memcg_kmem_commit_charge never counts a kmem page
        return PAGE_SIZE * sum(1 for p in pages
                               if not p.kmem and p.pc.used and p.pc.mem_cgroup in tree)

    def _ida_simple_get(self) -> int:
        for i in range(MEMCG_CACHES_MAX_SIZE):
            if i not in self.kmem_limited_groups:
                self.kmem_limited_groups.add(i)
                self.memcg_limited_groups_array_size = max(
                    self.memcg_limited_groups_array_size, i + 1)
                return i
        return -28  # -ENOSPC

    # ------------------------------------------------------------ creation and removal

    def mem_cgroup_css_online(self, parent: MemCgroup, name: str) -> MemCgroup:
        """mem_cgroup_css_alloc + mem_cgroup_css_online + memcg_propagate_kmem (3.8)."""
        memcg = MemCgroup(name, parent, self.nr_memcgs)
        self.nr_memcgs += 1
        memcg.use_hierarchy = parent.use_hierarchy
        if parent.use_hierarchy:
            memcg.res = ResCounter(parent.res)
            memcg.kmem = ResCounter(parent.kmem)
            self.mem_cgroup_get(parent)  # "The parent's refcnt is kept by the child"
        self.memcg_propagate_kmem(memcg)
        memcg.online = True
        parent.children.append(memcg)
        return memcg

    def memcg_propagate_kmem(self, memcg: MemCgroup) -> None:
        """memcg_propagate_kmem: inherit the parent's kmem flags under hierarchy (3.8)."""
        parent = self.parent_mem_cgroup(memcg)
        if parent is None:
            return
        memcg.kmem_account_flags = parent.kmem_account_flags
        if not self.memcg_kmem_is_active(memcg):
            return
        memcg.kmemcg_id = self._ida_simple_get()
        self.mem_cgroup_get(memcg)  # the activation's reference, as the parent's
        self.static_key_slow_inc()

    def static_key_slow_inc(self) -> None:
        self.memcg_kmem_enabled_key += 1

    def mem_cgroup_reparent_charges(self, memcg: MemCgroup, user_pages) -> None:
        """mem_cgroup_reparent_charges (3.8-3.10), for rmdir and force_empty.

        LRU pages move to the parent (the root without hierarchy:
        mem_cgroup_move_parent) and only this memcg's own res level is
        uncharged (__mem_cgroup_cancel_local_charge); kmem charges stay where
        they are, so the loop ends with res.usage - kmem.usage at 0 (P11).
        """
        self.drain_all_stock_sync(memcg)
        parent = self.parent_mem_cgroup(memcg) or self.root_mem_cgroup
        for page in user_pages:
            if page.pc.used and page.pc.mem_cgroup is memcg:
                page.pc.mem_cgroup = parent
                memcg.res.uncharge_until(memcg.res.parent, PAGE_SIZE)

    # ------------------------------------------------------------ the per-cpu stock

    def consume_stock(self, memcg: MemCgroup, nr_pages: int, cpu: int) -> bool:
        """consume_stock (3.8, V3-01): take ``nr_pages`` (at most CHARGE_BATCH)
        from the cpu's stock if it caches ``memcg`` and holds enough."""
        stock = self.memcg_stock[cpu]
        if nr_pages > self.charge_batch or stock.cached is not memcg \
                or stock.nr_pages < nr_pages:
            return False
        stock.nr_pages -= nr_pages
        return True

    @staticmethod
    def drain_stock(stock: MemcgStockPcp) -> None:
        """drain_stock (3.8): give the stock's pages back to its memcg's res."""
        if stock.cached is not None and stock.nr_pages:
            stock.cached.res.uncharge(PAGE_SIZE * stock.nr_pages)
        stock.nr_pages = 0
        stock.cached = None

    def refill_stock(self, memcg: MemCgroup, nr_pages: int, cpu: int) -> None:
        """refill_stock (3.8): a stock caching another memcg is drained first."""
        stock = self.memcg_stock[cpu]
        if stock.cached is not memcg:
            self.drain_stock(stock)
            stock.cached = memcg
        stock.nr_pages += nr_pages

    def drain_local_stock(self, cpu: int):
        """drain_local_stock (3.8): the cpu's stock work (queued by
        drain_all_stock, or the CPU_DEAD notifier's drain_stock). A path: one
        step when the stock caches a memcg, none otherwise."""
        stock = self.memcg_stock[cpu]
        if stock.cached is None:
            return 0
        self.drain_stock(stock)
        yield Step("stock.drain", {"cpu": cpu})
        return 0

    def mem_cgroup_same_or_subtree(self, root_memcg: MemCgroup, memcg: MemCgroup) -> bool:
        """Whether ``memcg`` is ``root_memcg`` or charges its counters (3.8)."""
        while memcg is not None:
            if memcg is root_memcg:
                return True
            memcg = self.parent_mem_cgroup(memcg)
        return False

    def drain_all_stock_sync(self, root_memcg: MemCgroup) -> None:
        """drain_all_stock_sync (3.8): every cpu's stock caching ``root_memcg``
        or a memcg under it is drained, and the caller waits for them."""
        for stock in self.memcg_stock:
            if stock.cached is not None and \
                    self.mem_cgroup_same_or_subtree(root_memcg, stock.cached):
                self.drain_stock(stock)

    def try_charge_res(self, memcg: MemCgroup, nr_pages: int, cpu: int,
                       may_reclaim: bool = True) -> int:
        """__mem_cgroup_try_charge's res side (3.8), as the model's charges run it:
        0 or -ENOMEM. Without the stock, the exact charge, reclaiming page cache
        at U (mem_cgroup_try_charge) unless ``may_reclaim`` is off. With the
        stock: consume_stock, else a batch of max(CHARGE_BATCH, nr_pages) pages,
        retried at nr_pages when it fails (mem_cgroup_do_charge's CHARGE_RETRY,
        the batch's failcnt kept), the excess put in the cpu's stock; no reclaim,
        as no scope with the stock has page cache (the model's Config.validate)."""
        if not self.memcg_stock:
            if may_reclaim:
                return self.mem_cgroup_try_charge(memcg, PAGE_SIZE * nr_pages)
            ret, _ = memcg.res.charge(PAGE_SIZE * nr_pages)
            return ret
        if self.consume_stock(memcg, nr_pages, cpu):
            return 0
        batch = max(self.charge_batch, nr_pages)
        ret, _ = memcg.res.charge(PAGE_SIZE * batch)
        if ret and batch > nr_pages:
            batch = nr_pages
            ret, _ = memcg.res.charge(PAGE_SIZE * batch)
        if ret:
            return ret
        if batch > nr_pages:
            self.refill_stock(memcg, batch - nr_pages, cpu)
        return 0

    def mem_cgroup_css_offline(self, memcg: MemCgroup, user_pages) -> None:
        """cgroup_rmdir: the cgroup leaves its parent's list (cgroup_destroy_locked)
        and mem_cgroup_css_offline reparents its charges (3.10)."""
        memcg.online = False
        memcg.parent.children.remove(memcg)
        self.mem_cgroup_reparent_charges(memcg, user_pages)

    def try_to_free_mem_cgroup_pages(self, memcg: MemCgroup) -> int:
        """try_to_free_mem_cgroup_pages(memcg) (3.8 mm/vmscan.c): reclaim from the
        LRUs of ``memcg``'s tree (mem_cgroup_iter): the pages freed. Only page
        cache goes: anonymous pages have no swap to go to, the pinned ones are
        mlocked, and kernel memory is on no LRU. The scopes hold fewer pages
        than SWAP_CLUSTER_MAX, one pass's target, so a pass frees them all."""
        tree = set(self.for_each_mem_cgroup_tree(memcg))
        freed = 0
        for pfn, page in list(self.pages.items()):
            if page.kind == "cache" and page.pc.used and page.pc.mem_cgroup in tree:
                del self.pages[pfn]  # __remove_mapping -> mem_cgroup_uncharge_cache_page
                self.mem_cgroup_uncharge_page(page)
                freed += 1
        return freed

    def mem_cgroup_from_res_counter(self, memcg: MemCgroup, counter) -> MemCgroup:
        """mem_cgroup_from_res_counter(fail_res, res): the level of ``memcg``'s walk
        whose res counter failed (mem_over_limit)."""
        m = memcg
        while m.res is not counter:
            m = self.parent_mem_cgroup(m)
        return m

    def mem_cgroup_try_charge(self, memcg: MemCgroup, size: int) -> int:
        """__mem_cgroup_try_charge -> mem_cgroup_do_charge (3.8) on the res
        counters, without the per-cpu batch: a failure reclaims the failing
        ancestor's tree (mem_cgroup_reclaim) and retries when that freed
        something (CHARGE_RETRY); with nothing freed it is -ENOMEM, since no
        OOM killer runs here. Each failed try counts in failcnt."""
        while True:
            ret, fail_at = memcg.res.charge(size)
            if not ret:
                return 0
            over = self.mem_cgroup_from_res_counter(memcg, fail_at)
            if not self.try_to_free_mem_cgroup_pages(over):
                return ret

    def mem_cgroup_force_empty(self, memcg: MemCgroup, tasks, user_pages) -> int:
        """mem_cgroup_force_empty (3.8-3.10): -EBUSY with a task in the cgroup or a
        child cgroup; else reclaim until nothing more comes back, then move the
        rest to the parent. 0, with the kernel pages left charged."""
        if self.cgroup_task_count(memcg, tasks) or memcg.children:
            return -EBUSY
        nr_retries = MEM_CGROUP_RECLAIM_RETRIES
        while nr_retries and memcg.res.usage > 0:
            if not self.try_to_free_mem_cgroup_pages(memcg):
                nr_retries -= 1  # the kernel waits for writeback here (congestion_wait)
        self.mem_cgroup_reparent_charges(memcg, user_pages)
        return 0

    def mem_cgroup_force_empty_write(self, memcg: MemCgroup, tasks, user_pages):
        """mem_cgroup_force_empty_write, memory.force_empty's trigger (3.8): a path
        whose one step is the whole write; the root is refused before it."""
        if self.mem_cgroup_is_root(memcg):
            return -EINVAL
        ret = self.mem_cgroup_force_empty(memcg, tasks, user_pages)
        yield Step("force_empty", {"memcg": memcg.path}, ret)
        return ret

    # ------------------------------------------------------------ cgroupfs writes

    def mem_cgroup_hierarchy_write(self, memcg: MemCgroup, val: int) -> int:
        """mem_cgroup_hierarchy_write (3.8)."""
        parent = memcg.parent
        if int(memcg.use_hierarchy) == val:
            return 0
        if (parent is None or not parent.use_hierarchy) and val in (0, 1):
            if memcg.children:
                return -EBUSY
            memcg.use_hierarchy = val == 1
            return 0
        return -EINVAL

    @staticmethod
    def mem_cgroup_move_charge_write(memcg: MemCgroup, val: int) -> int:
        """mem_cgroup_move_charge_write (3.8): no lock, since can_attach reads the
        value once; the root has the file too."""
        if val >= 1 << NR_MOVE_TYPE:
            return -EINVAL
        memcg.move_charge_at_immigrate = val
        return 0

    def mem_cgroup_count_children(self, memcg: MemCgroup) -> int:
        """mem_cgroup_count_children (3.8): the memcgs of ``memcg``'s tree walk,
        itself included."""
        return sum(1 for _ in self.for_each_mem_cgroup_tree(memcg))

    def mem_cgroup_margin(self, memcg: MemCgroup) -> int:
        """mem_cgroup_margin (3.8, without swap accounting): what res can still
        take before its limit, in pages."""
        return max(memcg.res.limit - memcg.res.usage, 0) // PAGE_SIZE

    def mem_cgroup_reclaim(self, memcg: MemCgroup, shrink: bool = False) -> int:
        """mem_cgroup_reclaim(memcg, gfp, flags) (3.8-3.10): passes of
        try_to_free_mem_cgroup_pages over ``memcg``'s tree until one frees
        something (MEM_CGROUP_RECLAIM_SHRINK: a limit shrinker returns after
        minimal progress), the group has a margin, or two passes freed nothing;
        the pages freed. A pass after the first begins with
        drain_all_stock_async, which only queues per-cpu work that runs after
        the caller's step: left out here."""
        total = 0
        for loop in range(MEM_CGROUP_MAX_RECLAIM_LOOPS):
            total += self.try_to_free_mem_cgroup_pages(memcg)
            if total and shrink:
                break
            if self.mem_cgroup_margin(memcg):
                break
            if loop and not total:
                break
        return total

    def mem_cgroup_resize_limit(self, memcg: MemCgroup, val: int) -> int:
        """mem_cgroup_resize_limit (3.8-3.10 mm/memcontrol.c): res_counter_set_limit
        (under set_limit_mutex, which the one administrator makes moot); on
        -EBUSY, mem_cgroup_reclaim(MEM_CGROUP_RECLAIM_SHRINK) of the tree and
        again, retry_count = MEM_CGROUP_RECLAIM_RETRIES x
        mem_cgroup_count_children counting down each pass that left res usage
        no lower than the lowest seen; at 0, set_limit's -EBUSY, the page cache
        reclaimed meanwhile not given back. Left out: signal_pending's -EINTR
        (the administrator gets no signal), memsw's other uses (no swap
        accounting: its limit stays RESOURCE_MAX, so its check refuses only
        2^63) and memcg_oom_recover on an enlarged limit (no OOM
        killer)."""
        if memcg.memsw_limit < val:  # memswlimit < val: -EINVAL (before the loop's first try)
            return -EINVAL
        retry_count = MEM_CGROUP_RECLAIM_RETRIES * self.mem_cgroup_count_children(memcg)
        oldusage = memcg.res.usage
        ret = 0
        while retry_count:
            ret = memcg.res.set_limit(val)
            if not ret:
                break
            self.mem_cgroup_reclaim(memcg, shrink=True)
            curusage = memcg.res.usage
            if curusage >= oldusage:  # usage is not reduced: one try fewer
                retry_count -= 1
            else:
                oldusage = curusage
        return ret

    def memcg_update_kmem_limit(self, memcg: MemCgroup, val: int, tasks, owner):
        """memcg_update_kmem_limit (3.9/3.10): a preemptible path.

        Under memcg_create_mutex and set_limit_mutex, a first write of a value
        other than RESOURCE_MAX activates kmem accounting: limit, kmemcg_id,
        static key, and only then the ACTIVE bit, so no charge can happen at a
        call site whose commit or uncharge branch is not yet patched in.
        Without ``active_after_key`` ACTIVE comes first (W11); without
        ``activation_excludes_mkdir`` the mutexes go after
        memcg_update_cache_sizes, as 3.8's cgroup_unlock did before its
        deferred static_key_slow_inc (W10); without
        ``activation_refuses_over_limit`` a failed res_counter_set_limit is
        3.8-3.10's VM_BUG_ON(ret), which without DEBUG_VM goes on.
        """
        yield from self.memcg_create_mutex.lock(owner)
        yield from self.set_limit_mutex.lock(owner)
        locked = True
        try:
            if memcg.kmem_account_flags == 0 and val != RESOURCE_MAX:
                if self.cgroup_task_count(memcg, tasks) or self.memcg_has_children(memcg):
                    ret = -EBUSY
                    yield Step("kmem_limit.write", {"memcg": memcg.path, "bytes": val}, ret)
                    return ret
                ret = memcg.kmem.set_limit(val)
                if ret and self.has_fix("activation_refuses_over_limit"):
                    yield Step("kmem_limit.write", {"memcg": memcg.path, "bytes": val}, ret)
                    return ret
                self.activation = (memcg, "update_cache_sizes")
                yield Step("kmem_limit.write", {"memcg": memcg.path, "bytes": val}, 0)
                ret = self.memcg_update_cache_sizes(memcg)
                if ret:
                    memcg.kmem.limit = RESOURCE_MAX
                    return ret
                if not self.has_fix("activation_excludes_mkdir"):
                    self._unlock(owner)  # 3.8: cgroup_unlock(), then the deferred inc
                    locked = False
                key_first = self.has_fix("active_after_key")
                self.activation = (memcg, "static_key_inc" if key_first else "set_active")
                yield Step("activate.update_cache_sizes", {"memcg": memcg.path})
                if key_first:
                    self.static_key_slow_inc()
                    self.activation = (memcg, "set_active")
                    yield Step("activate.static_key_inc", {"memcg": memcg.path})
                    self.memcg_kmem_set_active(memcg)
                    self.activation = None
                    yield Step("activate.set_active", {"memcg": memcg.path})
                    return 0
                self.memcg_kmem_set_active(memcg)
                if self.memcg_kmem_enabled_key == 0:  # jump_label_update: the charge site
                    self.patched_sites = frozenset({CHARGE_SITE})
                self.activation = (memcg, "static_key_inc")
                yield Step("activate.set_active", {"memcg": memcg.path})
                self.static_key_slow_inc()
                self.patched_sites = frozenset()
                self.activation = None
                yield Step("activate.static_key_inc", {"memcg": memcg.path})
                return 0
            ret = memcg.kmem.set_limit(val)
            yield Step("kmem_limit.write", {"memcg": memcg.path, "bytes": val}, ret)
            return ret
        finally:
            self.activation = None
            if locked:
                self._unlock(owner)

    def _unlock(self, owner) -> None:
        self.set_limit_mutex.unlock(owner)
        self.memcg_create_mutex.unlock(owner)

    def memcg_activate_kmem(self, memcg: MemCgroup, limit: int) -> int:
        """memcg_activate_kmem (3.12 name; 3.9/3.10 inline in memcg_update_kmem_limit):
        the activation in one go, for a machine booting with limited groups."""
        ret = self.memcg_update_cache_sizes(memcg)
        if ret:
            return ret
        memcg.kmem.limit = limit
        self.static_key_slow_inc()
        self.memcg_kmem_set_active(memcg)
        return 0

    def memcg_kmem_set_active(self, memcg: MemCgroup) -> None:
        """memcg_kmem_set_active, with the activation's mem_cgroup_get (3.8-3.10:
        kmem charges can outlive the cgroup). 3.8 takes the reference before
        cgroup_unlock, a step ahead of the bit; it is taken with the bit here,
        as the model derives the activation's reference from ACTIVE, and no
        put can come between (the group is online, its admin busy)."""
        memcg.kmem_account_flags |= KMEM_ACCOUNTED_ACTIVE
        self.mem_cgroup_get(memcg)

    def memcg_update_cache_sizes(self, memcg: MemCgroup) -> int:
        """memcg_update_cache_sizes: allocate the kmemcg_id (3.8)."""
        num = self._ida_simple_get()
        if num < 0:
            return num
        memcg.kmemcg_id = num
        memcg.kmem_account_flags |= KMEM_ACCOUNTED_ACTIVATED
        return 0

    # ------------------------------------------------------------ the charge path

    def memcg_kmem_newpage_charge(self, task: TaskStruct, gfp: int, in_interrupt: bool,
                                  order: int = 0):
        """memcg_kmem_newpage_charge(gfp, &memcg, order) -> memcg_charge_kmem(memcg,
        gfp, PAGE_SIZE << order) (3.8): (ok, memcg or None).

        Yields charge.bypass when nothing is charged, else charge.kmem and, if
        that succeeded, charge.res. The memcg is the task's mm owner's
        (try_get_mem_cgroup_from_mm(current->mm)).
        """
        memcg = task.mm_owner_memcg()
        flags = self._bypass_flags(task, gfp, in_interrupt)
        enabled = self.memcg_kmem_enabled(CHARGE_SITE)
        if flags or not enabled or not self.memcg_can_account_kmem(memcg):
            yield Step("charge.bypass", {"task": task.name, "memcg": memcg.path, "flags": flags})
            return True, None
        size = PAGE_SIZE << order
        ret, _ = memcg.kmem.charge(size)
        yield Step("charge.kmem", {"task": task.name, "memcg": memcg.path, "order": order}, ret)
        if ret:
            return False, None
        ret = self.try_charge_res(memcg, 1 << order, task.cpu)  # may reclaim page cache at U
        if ret:
            self.memcg_charge_kmem_rollback(memcg, size)
        yield Step("charge.res", {"task": task.name, "memcg": memcg.path}, ret)
        if ret:
            return False, None
        return True, memcg

    @staticmethod
    def memcg_charge_kmem_rollback(memcg: MemCgroup, size: int = PAGE_SIZE) -> None:
        """memcg_charge_kmem: res said -ENOMEM, so the kmem charge is undone (3.8)."""
        memcg.kmem.uncharge(size)

    def memcg_charge_kmem(self, memcg: MemCgroup, size: int) -> int:
        """memcg_charge_kmem (3.8) in one go, for the callers the model takes as
        one step (a new slab, a thread stack): kmem, then res, hierarchically;
        the kmem charge given back when res fails. 0 or -ENOMEM. Its charging
        task is not named, so no cpu: res is charged exactly, not through the
        per-cpu stock (the model's stock scopes leave these paths out)."""
        ret, _ = memcg.kmem.charge(size)
        if ret:
            return ret  # no reclaim: kmem is never reclaimed
        ret = self.mem_cgroup_try_charge(memcg, size)  # may reclaim page cache at U
        if ret:
            self.memcg_charge_kmem_rollback(memcg, size)
        return ret

    def memcg_kmem_accounted(self, memcg: MemCgroup) -> bool:
        """__memcg_kmem_newpage_charge's memcg test: the static key is on and the
        memcg can account kmem (a task's context passes: it has an mm, no signal)."""
        return (self.memcg_kmem_enabled_key > 0 and memcg is not self.root_mem_cgroup
                and bool(memcg.kmem_account_flags & KMEM_ACCOUNTED_ACTIVE))

    @staticmethod
    def _bypass_flags(task: TaskStruct, gfp: int, in_interrupt: bool) -> int:
        """The context tests of memcg_kmem_newpage_charge (3.8 memcontrol.h), as bits."""
        reasons = (
            not gfp & GFP_KMEMCG,
            bool(gfp & GFP_NOFAIL),
            in_interrupt,
            not task.has_mm,
            bool(task.flags & TaskStruct.PF_KTHREAD),
            task.fatal_signal_pending,
        )
        return sum(1 << i for i, r in enumerate(reasons) if r)

    def memcg_kmem_commit_charge(self, page: Page | None, memcg: MemCgroup, order: int,
                                 task: TaskStruct):
        """memcg_kmem_commit_charge(page, memcg, order) (3.8): record the memcg on
        the page, or give back PAGE_SIZE << order; nothing at a site whose
        branch is not patched in yet (W11: the charge then leaks)."""
        if not self.memcg_kmem_enabled(COMMIT_SITE):
            yield Step("charge.commit_unpatched", {"task": task.name, "memcg": memcg.path})
            return
        if page is None:
            self.memcg_uncharge_kmem(memcg, PAGE_SIZE << order)
            yield Step("charge.abort", {"task": task.name, "memcg": memcg.path}, -ENOMEM)
            return
        page.pc.mem_cgroup = memcg
        page.pc.used = True
        yield Step("charge.commit", {"task": task.name, "memcg": memcg.path})

    def memcg_uncharge_kmem(self, memcg: MemCgroup, size: int = PAGE_SIZE) -> None:
        """memcg_uncharge_kmem (3.8-3.10 order): res, then kmem last; "not down
        to 0" returns, else memcg_kmem_test_and_clear_dead -> mem_cgroup_put.
        res_counter_uncharge returns the own counter only; with the
        uncharge_tests_dead_ancestors fix (found here, W2) each hierarchical
        ancestor the uncharge brought to 0 is tested too."""
        memcg.res.uncharge(size)
        if memcg.kmem.uncharge(size) == 0:
            self.memcg_kmem_put_dead(memcg)
        if not self.has_fix("uncharge_tests_dead_ancestors"):
            return
        parent = self.parent_mem_cgroup(memcg)
        while parent is not None:
            if parent.kmem.usage == 0:
                self.memcg_kmem_put_dead(parent)
            parent = self.parent_mem_cgroup(parent)

    def memcg_kmem_put_dead(self, memcg: MemCgroup) -> None:
        """if (memcg_kmem_test_and_clear_dead(memcg)) mem_cgroup_put(memcg)."""
        if self.memcg_kmem_test_and_clear_dead(memcg):
            memcg.death_puts += 1
            self.mem_cgroup_put(memcg)

    @staticmethod
    def memcg_kmem_test_and_clear_dead(memcg: MemCgroup) -> bool:
        """test_and_clear_bit(KMEM_ACCOUNTED_DEAD, &memcg->kmem_account_flags)."""
        dead = bool(memcg.kmem_account_flags & KMEM_ACCOUNTED_DEAD)
        memcg.kmem_account_flags &= ~KMEM_ACCOUNTED_DEAD
        return dead

    # ------------------------------------------------------------ references and death

    @staticmethod
    def mem_cgroup_get(memcg: MemCgroup) -> None:
        """mem_cgroup_get: atomic_inc(&memcg->refcnt) (3.8-3.10)."""
        memcg.refcnt += 1

    def mem_cgroup_put(self, memcg: MemCgroup) -> None:
        """__mem_cgroup_put(memcg, 1): at 0, call_rcu(free_rcu). The parent's
        put, which the kernel makes here, is made by __mem_cgroup_free instead,
        once the child is gone (the model's child reference lasts until then)."""
        memcg.refcnt -= 1
        if memcg.refcnt == 0:
            self.rcu_freeing.append(memcg)

    @staticmethod
    def memcg_kmem_mark_dead(memcg: MemCgroup) -> None:
        """memcg_kmem_mark_dead: set DEAD if ACTIVE (3.8-3.10)."""
        if memcg.kmem_account_flags & KMEM_ACCOUNTED_ACTIVE:
            memcg.kmem_account_flags |= KMEM_ACCOUNTED_DEAD

    def mem_cgroup_css_free(self, memcg: MemCgroup):
        """mem_cgroup_css_free -> kmem_cgroup_destroy, then mem_cgroup_put of the
        base reference (3.8-3.10): a path, one preemption point per step, so the
        last uncharge may come before mark_dead, between it and the usage read,
        or after (W1)."""
        name = {"memcg": memcg.path}
        self.memcg_kmem_mark_dead(memcg)
        memcg.destroy_stage = "read_usage"
        yield Step("css_free.mark_dead", name)
        if memcg.kmem.usage != 0:
            memcg.destroy_stage = "done"
            self.mem_cgroup_put(memcg)
            yield Step("css_free.read_usage", name)
            return 0
        memcg.destroy_stage = "test_and_clear"
        yield Step("css_free.read_usage", name)
        self.memcg_kmem_put_dead(memcg)
        memcg.destroy_stage = "done"
        self.mem_cgroup_put(memcg)
        yield Step("css_free.put", name)
        return 0

    def free_work(self, memcg: MemCgroup):
        """free_rcu -> free_work -> __mem_cgroup_free (a path): disarm_kmem_keys
        (static_key_slow_dec, ida_simple_remove for an active memcg), the memory
        freed, then the parent's reference put."""
        self.rcu_freeing.remove(memcg)
        if self.memcg_kmem_is_active(memcg):
            self.memcg_kmem_enabled_key -= 1
            self.kmem_limited_groups.discard(memcg.kmemcg_id)
        memcg.kmemcg_id = -1
        memcg.kmem_account_flags = 0
        memcg.freed = True
        parent = self.parent_mem_cgroup(memcg)
        if parent is not None:
            self.mem_cgroup_put(parent)
        yield Step("mem_cgroup_free", {"memcg": memcg.path})
        return 0

    def memcg_kmem_uncharge_pages(self, page: Page, order: int,
                                  current: TaskStruct | None) -> Step:
        """__memcg_kmem_uncharge_pages(page, order): uncharge PAGE_SIZE << order
        from pc->mem_cgroup if Used (3.8), whoever is ``current`` (a task, or
        None: the kernel's own context)."""
        pc = page.pc
        if not pc.used:
            return Step("free.bypass", {})
        memcg = pc.mem_cgroup
        pc.used = False
        self.memcg_uncharge_kmem(memcg, PAGE_SIZE << order)
        return Step("free.uncharge", {"memcg": memcg.path, "order": order})

    # ------------------------------------------------------------ user pages

    def try_charge_memcg(self, task: TaskStruct) -> MemCgroup:
        """The memcg __mem_cgroup_try_charge commits a user page to (3.8): with
        TIF_MEMDIE or a fatal signal pending it bypasses at once (``*ptr =
        root_mem_cgroup``, -EINTR, which mem_cgroup_charge_common commits as
        success), before the stock and reclaim; else the mm owner's memcg."""
        if task.fatal_signal_pending:
            return self.root_mem_cgroup
        return task.mm_owner_memcg()

    def mem_cgroup_newpage_charge(self, page: Page, task: TaskStruct) -> Step:
        """mem_cgroup_charge_common with __GFP_NORETRY: no reclaim, no OOM (3.8),
        to the memcg of the task's mm owner (try_get_mem_cgroup_from_mm)."""
        memcg = self.try_charge_memcg(task)
        if not self.mem_cgroup_is_root(memcg):
            ret = self.try_charge_res(memcg, 1, task.cpu, may_reclaim=False)
            if ret:
                return Step("user.charge", {"task": task.name, "memcg": memcg.path}, ret)
        page.pc.mem_cgroup = memcg
        page.pc.used = True
        return Step("user.charge", {"task": task.name, "memcg": memcg.path})

    def mem_cgroup_charge_common(self, page: Page, task: TaskStruct, action: str) -> Step:
        """mem_cgroup_newpage_charge (an anonymous page) or mem_cgroup_cache_charge
        (page cache) with GFP_KERNEL (3.8): to the task's mm owner's memcg, with
        reclaim at U (mem_cgroup_try_charge); the root memcg is never charged."""
        memcg = self.try_charge_memcg(task)
        args = {"task": task.name, "memcg": memcg.path}
        if not self.mem_cgroup_is_root(memcg):
            ret = self.mem_cgroup_try_charge(memcg, PAGE_SIZE)
            if ret:
                return Step(action, args, ret)
        page.pc.mem_cgroup = memcg
        page.pc.used = True
        return Step(action, args)

    def mem_cgroup_uncharge_page(self, page: Page) -> Step:
        """__mem_cgroup_uncharge_common: the root memcg's counter is never touched."""
        memcg = page.pc.mem_cgroup
        page.pc.used = False
        if not self.mem_cgroup_is_root(memcg):
            memcg.res.uncharge(PAGE_SIZE)
        return Step("user.uncharge", {"memcg": memcg.path})

    # ------------------------------------------------------------ moving charges at attach

    def mem_cgroup_count_precharge(self, mm: MmStruct, frm: MemCgroup, flags: int) -> list:
        """mem_cgroup_count_precharge's walk of the mm's page tables
        (get_mctgt_type, 3.8): the pages to move. A present anonymous page with
        MOVE_CHARGE_TYPE_ANON when its page_cgroup is Used and charged to
        ``frm``. MOVE_CHARGE_TYPE_FILE looks at file ptes of vmas with vm_file
        (mc_handle_file_pte); the page cache here is read, mapped by no vma, so
        it finds none. Kernel pages are mapped by no user page table."""
        if not flags >> MOVE_CHARGE_TYPE_ANON & 1:
            return []
        return [p for p in self.pages.values() if p.kind == "anon" and p.mm is mm
                and p.pc.used and p.pc.mem_cgroup is frm]

    def mem_cgroup_do_precharge(self, to: MemCgroup, count: int) -> tuple[int, int]:
        """mem_cgroup_do_precharge (3.8): (0 or -ENOMEM, pages precharged). The
        root takes them uncharged; more than one page is tried at once with
        res_counter_charge (no reclaim), then one page at a time through
        __mem_cgroup_try_charge, which reclaims at U (no OOM: oom is false)."""
        if self.mem_cgroup_is_root(to):
            return 0, count
        if count > 1:
            ret, _ = to.res.charge(PAGE_SIZE * count)
            if not ret:
                return 0, count
        precharge = 0
        while count:
            count -= 1
            ret = self.mem_cgroup_try_charge(to, PAGE_SIZE)
            if ret:
                return ret, precharge  # mem_cgroup_clear_mc() will uncharge them
            precharge += 1
        return 0, precharge

    def mem_cgroup_cancel_charge(self, memcg: MemCgroup, nr_pages: int) -> None:
        """__mem_cgroup_cancel_charge (3.8): the root's counter is never charged."""
        if nr_pages and not self.mem_cgroup_is_root(memcg):
            memcg.res.uncharge(PAGE_SIZE * nr_pages)

    def mem_cgroup_can_attach(self, p: TaskStruct, memcg: MemCgroup) -> tuple[int, list]:
        """mem_cgroup_can_attach (3.8), with the value of move_charge_at_immigrate
        it commits to: (ret, the pages to move). Only when ``p`` owns its mm
        (mm->owner == p) are its charges moved; a precharge that fails is
        cancelled (mem_cgroup_clear_mc) and the attach fails."""
        flags = memcg.move_charge_at_immigrate
        mm = p.mm
        if not flags or mm is None or mm.owner is not p:
            return 0, []
        pages = self.mem_cgroup_count_precharge(mm, p.memcg, flags)
        ret, precharge = self.mem_cgroup_do_precharge(memcg, len(pages))
        if ret:
            self.mem_cgroup_cancel_charge(memcg, precharge)
            return ret, []
        return 0, pages

    def mem_cgroup_move_task(self, frm: MemCgroup, to: MemCgroup, pages: list) -> None:
        """mem_cgroup_move_task -> mem_cgroup_move_charge (3.8): each precharged
        page's page_cgroup is moved (mem_cgroup_move_account: pc->mem_cgroup =
        to), then mem_cgroup_clear_mc gives ``frm`` their charge up
        (__mem_cgroup_cancel_charge(mc.from, mc.moved_charge))."""
        for page in pages:
            page.pc.mem_cgroup = to
        self.mem_cgroup_cancel_charge(frm, len(pages))
