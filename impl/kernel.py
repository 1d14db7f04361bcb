"""One simulated machine: the memory controller, its tasks and pages, two faces.

The *cgroupfs face* (mkdir, rmdir, write, read) and the *kernel face* (attach,
page allocation and free, task flags) are paths (:mod:`kmemcg.impl.sched`): generators
that yield one Step per model action and return ``0``, a page handle, or
``-errno``. :meth:`Kernel.snapshot` is the abstraction function alpha; it reads
kernel state plus two ghost fields that a verifier would add to the C code:
the memcg an activation is working on, and where each task's page charge
stands.
"""

from __future__ import annotations

from errno import EBUSY, EEXIST, ENOENT, ENOMEM, ESRCH

from kmemcg.impl import cgroupfs as fs
from kmemcg.impl.memcontrol import (
    GFP_KERNEL,
    GFP_KMEMCG,
    KMEM_ACCOUNTED_ACTIVATED,
    PAGE_SIZE,
    MemCgroup,
    MemoryController,
    Page,
    Task,
)
from kmemcg.impl.sched import Step

GFP_KERNEL_ACCOUNT = GFP_KERNEL | GFP_KMEMCG
_COUNTER_FILES = {
    "limit_in_bytes": "limit",
    "usage_in_bytes": "usage",
    "max_usage_in_bytes": "max_usage",
    "failcnt": "failcnt",
}


class Kernel:
    """The reference implementation behind the adapter protocol."""

    #: the limit files' write_strategy_fn (res_counter_write's argument)
    write_strategy = staticmethod(fs.res_counter_memparse_write_strategy)

    def __init__(self, tasks=("t1", "t2")):
        self.mc = MemoryController()
        self.tasks = {name: Task(name, self.mc.root_mem_cgroup) for name in tasks}
        self.memcgs: dict[str, MemCgroup] = {"/": self.mc.root_mem_cgroup}  # every incarnation
        self.pages: dict[int, Page] = {}
        self._next_pfn = 0
        self.activating: MemCgroup | None = None  # ghost: memcg_update_kmem_limit's memcg

    # ------------------------------------------------------------ lookups

    @staticmethod
    def _norm(path: str) -> str:
        parts = [p for p in path.split("/") if p]
        return "/" + "/".join(parts)

    def _online(self, path: str) -> MemCgroup | None:
        memcg = self.memcgs.get(self._norm(path))
        return memcg if memcg is not None and memcg.online else None

    # ------------------------------------------------------------ cgroupfs face

    def mkdir(self, path: str):
        path = self._norm(path)
        parent_path, _, name = path.rpartition("/")
        parent = self._online(parent_path or "/")
        if path == "/" or self._online(path) is not None:
            return -EEXIST
        if parent is None:
            return -ENOENT
        owner = object()
        yield from self.mc.memcg_create_mutex.lock(owner)
        memcg = self.mc.mem_cgroup_css_online(parent, name)
        self.mc.memcg_create_mutex.unlock(owner)
        self.memcgs[path] = memcg
        yield Step("mkdir", {"memcg": path})
        return 0

    def rmdir(self, path: str):
        memcg = self._online(path)
        if memcg is None:
            return -ENOENT
        if memcg is self.mc.root_mem_cgroup:
            return -EBUSY
        if memcg.children or self.mc.cgroup_task_count(memcg, self.tasks.values()):
            yield Step("rmdir", {"memcg": memcg.path}, -EBUSY)
            return -EBUSY
        users = [p for p in self.pages.values() if not p.kmem]
        self.mc.mem_cgroup_css_offline(memcg, users)
        yield Step("rmdir", {"memcg": memcg.path})
        return 0

    def write(self, path: str, file: str, text: str):
        memcg = self._online(path)
        if memcg is None:
            return -ENOENT
        data = text.encode("utf-8", "surrogateescape")
        if file == "memory.use_hierarchy":
            ret, val = fs.cgroup_write_u64(data)
            if ret:
                return ret
            ret = self.mc.mem_cgroup_hierarchy_write(memcg, val)
            yield Step("use_hierarchy.write", {"memcg": memcg.path, "value": val}, ret)
            return ret
        if file == "memory.kmem.slabinfo":
            return -22  # -EINVAL: read-only, no write handler
        counter, name = self._counter_file(memcg, file)
        if counter is None:
            return -ENOENT
        if name in ("max_usage", "failcnt"):  # mem_cgroup_reset, a trigger
            getattr(counter, "reset_max" if name == "max_usage" else "reset_failcnt")()
            which = "res" if counter is memcg.res else "kmem"
            yield Step(f"{name}.reset", {"memcg": memcg.path, "counter": which})
            return 0
        if name != "limit":
            return -22  # -EINVAL: no write handler for a read-only file
        if memcg is self.mc.root_mem_cgroup:
            return -22  # "Can't set limit on root"
        ret, buf = fs.cgroup_write_string(data)
        if ret:
            return ret
        ret, val = self.write_strategy(buf)
        if ret:
            return ret
        if counter is memcg.res:
            ret = self.mc.mem_cgroup_resize_limit(memcg, val)
            yield Step("limit.write", {"memcg": memcg.path, "bytes": val}, ret)
            return ret
        self.activating = memcg
        try:
            return (yield from self.mc.memcg_update_kmem_limit(
                memcg, val, self.tasks.values(), owner=object()))
        finally:
            self.activating = None

    def read(self, path: str, file: str) -> str | int:
        memcg = self._online(path)
        if memcg is None:
            return -ENOENT
        if file == "memory.use_hierarchy":
            return f"{int(memcg.use_hierarchy)}\n"
        if file == "memory.kmem.slabinfo":  # mem_cgroup_slabinfo_read (P26)
            if not self.mc.memcg_can_account_kmem(memcg):
                return -5  # -EIO
            return "# name <active_objs> <num_objs>\n"  # this machine has no slab caches
        counter, name = self._counter_file(memcg, file)
        if counter is None:
            return -ENOENT
        if counter is memcg.res and name == "usage" and memcg is self.mc.root_mem_cgroup:
            return f"{self._root_lru_pages() * PAGE_SIZE}\n"
        return f"{getattr(counter, name)}\n"

    def _counter_file(self, memcg: MemCgroup, file: str):
        if file.startswith("memory.kmem."):
            counter, rest = memcg.kmem, file[len("memory.kmem."):]
        elif file.startswith("memory."):
            counter, rest = memcg.res, file[len("memory."):]
        else:
            return None, None
        name = _COUNTER_FILES.get(rest)
        return (counter, name) if name else (None, None)

    def _root_lru_pages(self) -> int:
        """mem_cgroup_usage(root): LRU statistics over the hierarchy walk."""
        root = self.mc.root_mem_cgroup
        members = [root] + (self._hier_descendants(root) if root.use_hierarchy else [])
        return sum(1 for p in self.pages.values()
                   if not p.kmem and p.pc.used and p.pc.mem_cgroup in members)

    def _hier_descendants(self, memcg: MemCgroup) -> list[MemCgroup]:
        return [m for m in self.memcgs.values() if m is not memcg and self._charges(m, memcg)]

    @staticmethod
    def _charges(m: MemCgroup, top: MemCgroup) -> bool:
        c = m.res
        while c is not None:
            if c is top.res:
                return True
            c = c.parent
        return False

    # ------------------------------------------------------------ kernel face

    def attach(self, task: str, path: str):
        t = self.tasks.get(task)
        if t is None:
            return -ESRCH
        memcg = self._online(path)
        if memcg is None:
            return -ENOENT
        if t.memcg is memcg:
            return 0  # cgroup_attach_task: nothing to do
        owner = object()
        yield from self.mc.memcg_create_mutex.lock(owner)  # 3.8 took cgroup_lock()
        t.memcg = memcg
        self.mc.memcg_create_mutex.unlock(owner)
        yield Step("attach", {"task": task, "memcg": memcg.path})
        return 0

    def set_task_flags(self, task: str, *, kthread=None, fatal_signal=None, has_mm=None) -> int:
        t = self.tasks.get(task)
        if t is None:
            return -ESRCH
        if kthread is not None:
            t.flags = (t.flags | Task.PF_KTHREAD) if kthread else (t.flags & ~Task.PF_KTHREAD)
        if fatal_signal is not None:
            t.fatal_signal_pending = bool(fatal_signal)
        if has_mm is not None:
            t.has_mm = bool(has_mm)
        return 0

    def alloc_kmem_page(self, task: str, gfp: int = GFP_KERNEL_ACCOUNT,
                        in_interrupt: bool = False, fail: bool = False):
        """__alloc_pages_nodemask with the kmem hooks; ``fail`` makes the allocator fail."""
        t = self.tasks.get(task)
        if t is None:
            return -ESRCH
        t.charge_stage = None
        ok, memcg = yield from self._newpage_charge(t, gfp, in_interrupt)
        if not ok:
            return -ENOMEM
        page = None if fail else self._new_page(kmem=True)
        if memcg is not None:
            t.charge_stage = None
            yield from self.mc.memcg_kmem_commit_charge(page, memcg, t)
        return -ENOMEM if page is None else page.pfn

    def _newpage_charge(self, t: Task, gfp: int, in_interrupt: bool):
        """memcg_kmem_newpage_charge, recording the ghost stage after each step."""
        path = self.mc.memcg_kmem_newpage_charge(t, gfp, in_interrupt)
        try:
            while True:
                step = next(path)
                if step.action in ("charge.kmem", "charge.res") and step.ret == 0:
                    t.charge_stage = (step.action, t.memcg if step.action == "charge.kmem"
                                      else t.charge_stage[1])
                else:
                    t.charge_stage = None
                yield step
        except StopIteration as stop:
            return stop.value

    def free_kmem_page(self, task: str, pfn: int):
        t = self.tasks.get(task)
        page = self.pages.get(pfn)
        if t is None:
            return -ESRCH
        if page is None or not page.kmem:
            return -ENOENT
        del self.pages[pfn]
        yield self.mc.memcg_kmem_uncharge_pages(page, t)
        return 0

    def alloc_user_page(self, task: str):
        t = self.tasks.get(task)
        if t is None:
            return -ESRCH
        page = self._new_page(kmem=False)
        step = self.mc.mem_cgroup_newpage_charge(page, t)
        if step.ret:
            del self.pages[page.pfn]
        yield step
        return step.ret or page.pfn

    def free_user_page(self, pfn: int):
        page = self.pages.get(pfn)
        if page is None or page.kmem:
            return -ENOENT
        del self.pages[pfn]
        yield self.mc.mem_cgroup_uncharge_page(page)
        return 0

    def _new_page(self, kmem: bool) -> Page:
        page = Page(self._next_pfn, kmem)
        self._next_pfn += 1
        self.pages[page.pfn] = page
        return page

    # ------------------------------------------------------------ alpha

    def snapshot(self) -> dict:
        """The abstract state, keyed by memcg path and task name (protocol format)."""
        mc = self.mc
        memcgs = {}
        for path, m in self.memcgs.items():
            kmem_pages = sum(1 for p in self.pages.values()
                             if p.kmem and p.pc.used and p.pc.mem_cgroup is m)
            user_pages = sum(1 for p in self.pages.values()
                             if not p.kmem and p.pc.used and p.pc.mem_cgroup is m)
            memcgs[path] = {
                "lifecycle": "online" if m.online else "offline",
                "use_hierarchy": m.use_hierarchy,
                "hier": m.res.parent is not None,
                "kmem_active": mc.memcg_kmem_is_active(m),
                "kmemcg_id": m.kmemcg_id,
                "res": m.res.snapshot(),
                "kmem": m.kmem.snapshot(),
                "kmem_pages": kmem_pages,
                "user_pages": user_pages,
            }
        tasks = {}
        for name, t in self.tasks.items():
            stage = getattr(t, "charge_stage", None)
            tasks[name] = {
                "memcg": t.memcg.path,
                "pc": {None: "idle", "charge.kmem": "kmem_charged",
                       "charge.res": "res_charged"}[stage[0] if stage else None],
                "charging": stage[1].path if stage else None,
            }
        admin = {"pc": "idle", "memcg": None}
        m = self.activating
        if m is not None and mc.set_limit_mutex.owner is not None and not mc.memcg_kmem_is_active(m):
            active = sum(1 for x in self.memcgs.values() if mc.memcg_kmem_is_active(x))
            if not m.kmem_account_flags & KMEM_ACCOUNTED_ACTIVATED:
                pc = "update_cache_sizes" if m.kmem.limit != fs.RESOURCE_MAX else "idle"
            elif mc.memcg_kmem_enabled_key == active:
                pc = "static_key_inc"
            else:
                pc = "set_active"
            if pc != "idle":
                admin = {"pc": pc, "memcg": m.path}
        return {"memcgs": memcgs, "tasks": tasks, "admin": admin,
                "static_key": mc.memcg_kmem_enabled_key}
