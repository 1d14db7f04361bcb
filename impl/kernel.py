"""One simulated machine: the memory controller, its tasks, pages and slab caches.

The *cgroupfs face* (mkdir, rmdir, write, read) and the *kernel face* (attach,
page allocation and free, task flags, fork/exit/put_task_struct, slab
allocation and free, kmem_cache_shrink, kmem_cache_destroy of a root cache, the
workqueue) run against one set of counters: a slab page or a thread stack is
charged through ``memcg_charge_kmem`` to the same ``res_counter``s the page
charge path uses.

**Calls and steps.** Every mutating face method is a kernel *path*: a plain call
runs it to completion and returns what the kernel returns (``0``, a page
handle, ``-errno``), so a library user just writes ``k.mkdir("/a")``. The same
paths step by step, for a scheduler, are under ``k.steps``:
``k.steps.mkdir("/a")`` returns the generator, which yields one
:class:`~kmemcg.impl.sched.Step` per model action completed (or
:class:`~kmemcg.impl.sched.Blocked` while it waits for a lock) and returns the
result. A subclass that overrides a path with a generator method gets both
forms too; inside such an override the parent's generator is
``Kernel.<name>.fn(self, ...)``. Deferred work: ``k.wq`` is the workqueue (a scheduler hands its
items to kworkers); ``k.flush_scheduled_work()`` runs it all.

:meth:`Kernel.snapshot` is the abstraction function alpha, keyed by cgroupfs
path and task name (the adapter protocol's format). It reads kernel state plus
ghost fields that a verifier would add to the C code: the memcg an activation
is working on, where each task's page charge stands, and how far the walks
(offline, root-cache destruction, an outside shrink) have got.
"""

from __future__ import annotations

import inspect
from errno import EBUSY, EEXIST, EINVAL, ENOENT, ENOMEM, ESRCH
from typing import ClassVar

from kmemcg.impl import cgroupfs as fs
from kmemcg.impl.lockdep import Lockdep
from kmemcg.impl.memcontrol import (
    CHARGE_BATCH,
    CONTROLLER_FIXES,
    GFP_KERNEL,
    GFP_KMEMCG,
    KMEM_ACCOUNTED_DEAD,
    PAGE_SIZE,
    MemCgroup,
    MemoryController,
    Page,
    TaskStruct,
)
from kmemcg.impl.res_counter import RESOURCE_MAX
from kmemcg.impl.sched import Step, run
from kmemcg.impl.slab import FIXES, SlabAllocator

GFP_KERNEL_ACCOUNT = GFP_KERNEL | GFP_KMEMCG
#: x86_64, 3.8-3.10: a thread stack (thread_info) is an order-1 allocation.
THREAD_SIZE_ORDER = 1
#: the buddy allocator's MAX_ORDER (x86_64, 3.8): orders 0..10.
MAX_ORDER = 11
_COUNTER_FILES = {
    "limit_in_bytes": "limit",
    "usage_in_bytes": "usage",
    "max_usage_in_bytes": "max_usage",
    "failcnt": "failcnt",
}
_WORK_STAGE = {None: "check", "check": "check", "shrink": "shrink", "destroy": "destroy"}


def boot_object_size(order: int, num: int) -> int:
    """The object size of a root cache created at boot: the largest that
    ``num`` objects to a ``2**order``-page slab leaves (no configuration names
    one; only /proc/slabinfo's geometry, which does not show it, depends on it)."""
    return (PAGE_SIZE << order) // num


class kpath:
    """A kernel path method: called plainly it runs to completion and returns
    the path's result; ``kernel.steps.<name>(...)`` returns the generator."""

    def __init__(self, fn):
        self.fn = fn
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        fn = self.fn

        def call(*args, **kw):
            return finish(fn(obj, *args, **kw))

        call.__doc__ = fn.__doc__
        return call


def finish(path):
    """Run a path alone to its end and return its result (a value that is not
    a generator is already the result)."""
    if not inspect.isgenerator(path):
        return path
    return run(path)[0]


class Steps:
    """``kernel.steps``: each path of the kernel as a generator function."""

    #: (kernel class, name) -> the path's generator function, resolved once
    _resolved: ClassVar[dict] = {}

    def __init__(self, kernel):
        self._kernel = kernel

    def __getattr__(self, name: str):
        cls = type(self._kernel)
        fn = Steps._resolved.get((cls, name))
        if fn is None:
            attr = inspect.getattr_static(cls, name, None)
            if isinstance(attr, kpath):
                fn = attr.fn
            elif inspect.isfunction(attr):
                fn = attr
            else:
                raise AttributeError(f"{cls.__name__} has no path {name!r}")
            Steps._resolved[(cls, name)] = fn
        bound = fn.__get__(self._kernel)
        setattr(self, name, bound)  # bound once per kernel
        return bound


#: the files written through cgroup_write_X64 (a u64): (the mem_cgroup
#: handler, the step it is)
U64_FILES = {
    "memory.use_hierarchy": ("mem_cgroup_hierarchy_write", "use_hierarchy.write"),
    "memory.move_charge_at_immigrate": ("mem_cgroup_move_charge_write", "move_charge.write"),
}


class Kernel:
    """The reference implementation: one machine, both faces, one set of counters."""

    #: the limit files' write_strategy_fn (res_counter_write's argument)
    write_strategy = staticmethod(fs.res_counter_memparse_write_strategy)
    #: the memory controller and slab allocator this kernel is built of (a
    #: variant kernel may swap one for a subclass)
    controller_class = MemoryController
    slab_class = SlabAllocator
    #: the names of the kernel's paths (a subclass's override of one is a path too)
    PATHS = frozenset({
        "mkdir", "rmdir", "write", "attach", "alloc_kmem_page", "free_kmem_page",
        "alloc_user_page", "free_user_page", "fault_anon", "read_file", "spawn", "fork", "exit",
        "put_task_struct",
        "kmem_cache_alloc", "kmem_cache_free", "kmem_cache_shrink", "kmem_cache_destroy",
        "kmem_cache_create", "css_free", "mem_cgroup_free", "drain_stock",
    })

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        for name in cls.PATHS & set(vars(cls)):
            attr = vars(cls)[name]
            if inspect.isfunction(attr):
                setattr(cls, name, kpath(attr))

    def __init__(self, tasks=("t1", "t2"), *, memcgs=None, parents=None, roots=(),
                 boot_roots: bool = True, slab_order: int = 0, objs_per_slab: int = 1,
                 thread_size_order: int = THREAD_SIZE_ORDER, boot_memcgs: bool = False,
                 boot_tasks: bool = True, kmem_limit: int = RESOURCE_MAX,
                 fixes: frozenset[str] = FIXES, lockdep: Lockdep | None = None,
                 root_objects: bool = False, nr_cpus: int = 0,
                 charge_batch: int = CHARGE_BATCH):
        """Boot: the root memcg, the root caches ``roots`` (kmem_cache_create of
        ``2**slab_order``-page slabs of ``objs_per_slab`` objects; with
        ``boot_roots`` off none, and kmem_cache_create makes them later), the tasks
        (in the root memcg with ``boot_tasks``; else their pids are free until
        ``fork``), and with ``boot_memcgs`` every memcg of ``memcgs`` (names;
        ``parents`` their parents' indices) created and kmem-limited at
        ``kmem_limit``, in order. With ``root_objects`` the objects a root cache
        serves itself are kept on its own slabs, as the kernel keeps them (and
        /proc/slabinfo counts them); without, they are forgotten as served. With
        ``nr_cpus`` the res charges go through that many cpus' memcg_stock,
        ``charge_batch`` pages at a time (task ``tasks[k]`` runs on cpu ``k %
        nr_cpus``); without, res is exact."""
        self.mc = self.controller_class()
        if nr_cpus:
            self.mc.enable_percpu_stock(nr_cpus, charge_batch)
        self.slab = self.slab_class(self.mc, fixes, lockdep, root_objects)
        self.fixes = self.slab.fixes
        self.mc.fixes = self.fixes & CONTROLLER_FIXES
        self.lockdep = self.slab.lockdep
        self.wq = self.slab.wq
        self.steps = Steps(self)
        self.task_names = tuple(tasks)
        #: THREAD_SIZE: the bytes alloc_thread_info_node charges for a stack
        self.thread_size = PAGE_SIZE << thread_size_order
        root = self.mc.root_mem_cgroup
        self.tasks: dict[str, TaskStruct] = (
            {name: self._task_on_cpu(TaskStruct(name, root)) for name in tasks}
            if boot_tasks else {})
        self.memcgs: dict[str, MemCgroup] = {"/": root}
        self.memcg_list: list[MemCgroup] = [root]  # every memcg, in css order
        self.pages: dict[int, Page] = {}
        self.mc.pages = self.pages  # the LRUs the controller's reclaim scans
        self._next_pfn = 0
        #: the scope has root caches, loaded at boot or later: the snapshot
        #: has their fields (the walks, the error) even while none is loaded
        self.root_scope = bool(roots)
        for name in roots if boot_roots else ():
            self.slab.kmem_cache_create(name, boot_object_size(slab_order, objs_per_slab),
                                        slab_order, objs_per_slab)
        if boot_memcgs:
            paths = ["/"]
            for m, name in enumerate(memcgs[1:], 1):
                paths.append(paths[parents[m]].rstrip("/") + "/" + name)
                memcg = self._css_online(paths[m])
                self.mc.memcg_activate_kmem(memcg, kmem_limit)

    @classmethod
    def for_config(cls, cfg, lockdep: Lockdep | None = None) -> Kernel:
        """The machine a model configuration describes (model/config.py) at boot,
        built with the fixes its profile keeps."""
        return cls(cfg.tasks, memcgs=cfg.memcgs, parents=cfg.parents, roots=cfg.roots,
                   boot_roots=cfg.boot_roots, slab_order=cfg.slab_order, objs_per_slab=cfg.objs_per_slab,
                   thread_size_order=cfg.thread_size_order,
                   boot_memcgs=cfg.boot_memcgs, boot_tasks=cfg.boot_tasks,
                   kmem_limit=cfg.kmem_limit, fixes=cfg.fixes, lockdep=lockdep,
                   root_objects=cfg.root_objects,
                   nr_cpus=cfg.nr_cpus if cfg.percpu_stock else 0,
                   charge_batch=cfg.charge_batch)

    def has_fix(self, fix: str) -> bool:
        return fix in self.fixes

    def _task_on_cpu(self, task: TaskStruct) -> TaskStruct:
        """Place a new task on its cpu: task ``tasks[k]`` runs on cpu ``k % nr_cpus``
        (the scheduler never migrates it)."""
        if self.mc.memcg_stock and task.name in self.task_names:
            task.cpu = self.task_names.index(task.name) % len(self.mc.memcg_stock)
        return task

    # ------------------------------------------------------------ lookups

    @staticmethod
    def _norm(path: str) -> str:
        parts = [p for p in path.split("/") if p]
        return "/" + "/".join(parts)

    def _lookup(self, path: str) -> MemCgroup | None:
        """The memcg at ``path`` (the latest incarnation), online or not."""
        memcg = self.memcgs.get(path)
        return memcg if memcg is not None else self.memcgs.get(self._norm(path))

    def _online(self, path: str) -> MemCgroup | None:
        memcg = self._lookup(path)
        return memcg if memcg is not None and memcg.online else None

    def _live_task(self, name: str) -> TaskStruct | None:
        """find_task_by_vpid, for a task that has not exited."""
        t = self.tasks.get(name)
        return t if t is not None and t.memcg is not None else None

    def _root(self, name: str) -> int | None:
        r = self.slab.root_index(name)
        return r if r is not None and not self.slab.slab_caches[r].freed else None

    def _css_online(self, path: str) -> MemCgroup:
        parent_path, _, name = path.rpartition("/")
        parent = self.memcgs[parent_path or "/"]
        memcg = self.mc.mem_cgroup_css_online(parent, name)
        self.memcgs[path] = memcg
        self.memcg_list.append(memcg)
        return memcg

    # ------------------------------------------------------------ cgroupfs face

    @kpath
    def mkdir(self, path: str):
        """cgroup_mkdir -> mem_cgroup_css_alloc + css_online (3.8)."""
        path = self._norm(path)
        parent = self._online(path.rpartition("/")[0] or "/")
        if path == "/" or self._online(path) is not None:
            return -EEXIST
        if parent is None:
            return -ENOENT
        owner = object()
        yield from self.mc.memcg_create_mutex.lock(owner)
        memcg = self._css_online(path)
        self.mc.memcg_create_mutex.unlock(owner)
        yield Step("mkdir", {"memcg": memcg.path})
        return 0

    @kpath
    def rmdir(self, path: str):
        """cgroup_rmdir -> mem_cgroup_css_offline (3.10): reparent the charges, then
        mem_cgroup_destroy_all_caches walks the memcg's caches."""
        memcg = self._online(path)
        if memcg is None:
            return -ENOENT
        if memcg is self.mc.root_mem_cgroup:
            return -EBUSY
        if memcg.children or self.mc.cgroup_task_count(memcg, self.tasks.values()):
            yield Step("rmdir", {"memcg": memcg.path}, -EBUSY)
            return -EBUSY
        self.mc.mem_cgroup_css_offline(memcg, self._user_pages())
        if not self.slab.slab_caches and not self.root_scope:  # no walk in the scope
            yield Step("rmdir", {"memcg": memcg.path})
            return 0
        self.slab.offline_at = (memcg, set())  # the walk starts with the step
        yield Step("rmdir", {"memcg": memcg.path})
        yield from self.slab.mem_cgroup_destroy_all_caches(memcg)
        return 0

    @kpath
    def write(self, path: str, file: str, text: str):
        """cgroup_file_write -> the memory.* file's write handler (3.8-3.10)."""
        memcg = self._online(path)
        if memcg is None:
            return -ENOENT
        data = text.encode("utf-8", "surrogateescape")
        if file in U64_FILES:  # cgroup_write_X64, then the file's write_u64
            ret, val = fs.cgroup_write_u64(data)
            if ret:
                return ret
            handler, action = U64_FILES[file]
            ret = getattr(self.mc, handler)(memcg, val)
            yield Step(action, {"memcg": memcg.path, "value": val}, ret)
            return ret
        if file == "memory.kmem.slabinfo":
            return -22  # -EINVAL: read-only, no write handler
        if file == "memory.force_empty":  # a trigger: cgroup_file_write ignores the text
            return (yield from self.mc.mem_cgroup_force_empty_write(
                memcg, self.tasks.values(), self._user_pages()))
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
        ret, buf = fs.cgroup_write_string(data)  # its -E2BIG comes before the handler's
        if ret:
            return ret
        if memcg is self.mc.root_mem_cgroup:
            return -22  # mem_cgroup_write: "Can't set limit on root"
        ret, val = self.write_strategy(buf)
        if ret:
            return ret
        if counter is memcg.res:
            ret = self.mc.mem_cgroup_resize_limit(memcg, val)
            yield Step("limit.write", {"memcg": memcg.path, "bytes": val}, ret)
            return ret
        return (yield from self.mc.memcg_update_kmem_limit(
            memcg, val, self.tasks.values(), owner=object()))

    def read(self, path: str, file: str) -> str | int:
        """cgroup_file_read -> the memory.* file's read handler (3.8-3.10)."""
        memcg = self._online(path)
        if memcg is None:
            return -ENOENT
        if file == "memory.use_hierarchy":
            return f"{int(memcg.use_hierarchy)}\n"
        if file == "memory.move_charge_at_immigrate":  # mem_cgroup_move_charge_read
            return f"{memcg.move_charge_at_immigrate}\n"
        if file == "memory.force_empty":
            return -22  # -EINVAL: a trigger has no read handler (cgroup_file_read)
        if file == "memory.kmem.slabinfo":  # mem_cgroup_slabinfo_read (P26)
            if not self.mc.memcg_can_account_kmem(memcg):
                return -5  # -EIO
            return self.slab.mem_cgroup_slabinfo_read(memcg)
        counter, name = self._counter_file(memcg, file)
        if counter is None:
            return -ENOENT
        if counter is memcg.res and name == "usage":  # mem_cgroup_read: RES_USAGE of _MEM
            return f"{self.mc.mem_cgroup_usage(memcg, self.pages.values())}\n"
        return f"{getattr(counter, name)}\n"

    def memcg_state(self, path: str) -> str | int:
        """Where the memcg last created at ``path`` stands: "online", "offline"
        (rmdir'ed, its struct mem_cgroup lingering while references remain) or
        "freed" (__mem_cgroup_free has run); -ENOENT for a path never created.
        Not a cgroupfs file: the kernel face of what /proc/cgroups' counts and
        a crash dump would show."""
        memcg = self._lookup(path)
        if memcg is None:
            return -ENOENT
        return "freed" if memcg.freed else "online" if memcg.online else "offline"

    def proc_slabinfo(self) -> str:
        """/proc/slabinfo (s_start, s_show; 3.8-3.10, P26)."""
        return self.slab.proc_slabinfo()

    def _counter_file(self, memcg: MemCgroup, file: str):
        if file.startswith("memory.kmem."):
            counter, rest = memcg.kmem, file[len("memory.kmem."):]
        elif file.startswith("memory."):
            counter, rest = memcg.res, file[len("memory."):]
        else:
            return None, None
        name = _COUNTER_FILES.get(rest)
        return (counter, name) if name else (None, None)

    # ------------------------------------------------------------ kernel face: tasks

    @kpath
    def attach(self, task: str, path: str):
        """cgroup_attach_task, under cgroup_mutex, which 3.9/3.10's
        memcg_update_kmem_limit does not take: a move may land mid-activation.
        mem_cgroup_can_attach may refuse it (-ENOMEM: the precharge of
        move_charge_at_immigrate failed); mem_cgroup_move_task then moves the
        charges it precharged for, never kernel ones."""
        t = self._live_task(task)
        if t is None:
            return -ESRCH
        memcg = self._online(path)
        if memcg is None:
            return -ENOENT
        if t.memcg is memcg:
            return 0  # cgroup_attach_task: nothing to do
        ret, pages = self.mc.mem_cgroup_can_attach(t, memcg)
        if ret:
            yield Step("attach", {"task": task, "memcg": memcg.path}, ret)
            return ret
        frm, t.memcg = t.memcg, memcg
        self.mc.mem_cgroup_move_task(frm, memcg, pages)
        yield Step("attach", {"task": task, "memcg": memcg.path})
        return 0

    def set_task_flags(self, task: str, *, kthread=None, fatal_signal=None, has_mm=None) -> int:
        """The context memcg_kmem_newpage_charge tests: PF_KTHREAD, a fatal signal, an mm
        (the fatal signal also sends a user page to the root: __mem_cgroup_try_charge)."""
        t = self._live_task(task)
        if t is None:
            return -ESRCH
        if kthread is not None:
            t.flags = (t.flags | TaskStruct.PF_KTHREAD) if kthread else (
                t.flags & ~TaskStruct.PF_KTHREAD)
        if fatal_signal is not None:
            t.fatal_signal_pending = bool(fatal_signal)
        if has_mm is not None:
            t.has_mm = bool(has_mm)
        return 0

    @kpath
    def spawn(self, task: str, path: str):
        """copy_process by a single-threaded process of the memcg at ``path``
        that owns its mm, then exec: a new process there with an mm of its own.
        dup_task_struct -> alloc_thread_info_node with THREADINFO_GFP_ACCOUNTED
        charges the stack (memcg_charge_kmem) when the memcg accounts kmem;
        -ENOMEM when it cannot be charged (3.8)."""
        memcg = self._online(path)
        if memcg is None:
            return -ENOENT
        if self._pid_taken(task) or self._mm_in_use(task):
            return -EEXIST  # the pid is taken
        ret, stack = self._alloc_thread_info(memcg)
        if ret:
            yield Step("spawn", {"task": task, "memcg": memcg.path}, ret)
            return ret
        self.tasks[task] = self._task_on_cpu(TaskStruct(task, memcg, stack))
        yield Step("spawn", {"task": task, "memcg": memcg.path})
        return 0

    def _pid_taken(self, name: str) -> bool:
        """A live task of that name, or a zombie whose stack is still charged (a
        zombie with none holds nothing memcg sees: its last put is no step)."""
        t = self.tasks.get(name)
        return t is not None and (t.memcg is not None or t.stack_memcg is not None)

    def _mm_in_use(self, name: str) -> bool:
        """An mm named ``name`` (created by a task of that name) still has users."""
        return any(t.mm is not None and t.mm.name == name for t in self.tasks.values())

    def _alloc_thread_info(self, memcg: MemCgroup | None):
        """alloc_thread_info_node(THREADINFO_GFP_ACCOUNTED), in a task whose mm
        owner is in ``memcg``: (0 or -ENOMEM, the memcg charged or None)."""
        if memcg is None or not self.mc.memcg_kmem_accounted(memcg):
            return 0, None
        ret = self.mc.memcg_charge_kmem(memcg, self.thread_size)
        return ret, None if ret else memcg

    @staticmethod
    def _stack_memcg(parent: TaskStruct) -> MemCgroup | None:
        """The memcg alloc_thread_info_node charges in copy_process by ``parent``:
        memcg_kmem_newpage_charge -> try_get_mem_cgroup_from_mm(current->mm),
        the parent's mm owner's (3.8)."""
        return parent.mm_owner_memcg()

    @kpath
    def fork(self, task: str, parent: str, thread: bool = False):
        """copy_process in task ``parent`` (3.8): dup_task_struct charges the
        stack to the memcg of the parent's mm owner (memcg_kmem_newpage_charge
        -> try_get_mem_cgroup_from_mm(current->mm)), not the parent's own
        group; the child joins the parent's cgroup (cgroup_fork), sharing its
        mm with ``thread`` (CLONE_VM | CLONE_THREAD), else with an mm of its
        own (dup_mm: the COW pages stay charged where they are). -ENOMEM when
        the stack cannot be charged, and nothing else changes."""
        p = self._live_task(parent)
        if p is None:
            return -ESRCH
        if not isinstance(thread, bool):
            return -EINVAL
        if self._pid_taken(task) or (not thread and self._mm_in_use(task)):
            return -EEXIST  # the pid is taken
        args = {"task": task, "parent": parent, "thread": int(thread)}
        ret, stack = self._alloc_thread_info(self._stack_memcg(p))
        if ret:
            yield Step("fork", args, ret)
            return ret
        if thread:
            mm = p.mm
            mm.mm_users += 1
            child = TaskStruct(task, p.memcg, stack, mm)
        else:
            child = TaskStruct(task, p.memcg, stack)
        self.tasks[task] = self._task_on_cpu(child)
        yield Step("fork", args)
        return 0

    @kpath
    def exit(self, task: str):
        """do_exit -> exit_mm, then cgroup_exit: the task leaves its cgroup; its
        task_struct (and stack) lives on until the last put_task_struct (3.8)."""
        t = self._live_task(task)
        if t is None:
            return -ESRCH
        self.exit_mm(t)
        t.memcg = None
        yield Step("exit", {"task": task})
        return 0

    def exit_mm(self, t: TaskStruct) -> None:
        """exit_mm: mm_update_next_owner when the task owns its mm, then mmput
        (3.8). The next owner is a live user of the mm: the kernel searches the
        owner's children, its siblings, then every thread (for_each_process),
        and here the first in pid order (the configuration's task order)."""
        mm, t.mm = t.mm, None
        mm.mm_users -= 1
        if mm.owner is t:
            users = [u for u in (self.tasks.get(n) for n in self.task_names)
                     if u is not None and u.mm is mm]
            mm.owner = users[0] if users else None
        if mm.mm_users == 0:
            self.mmput(mm)

    def mmput(self, mm) -> None:
        """mmput's last reference (3.8): exit_mmap unmaps and frees the mm's
        anonymous pages, each uncharged from the memcg it was charged to
        (mem_cgroup_uncharge_page), then __mmdrop."""
        for pfn, page in list(self.pages.items()):
            if page.kind == "anon" and page.mm is mm:
                del self.pages[pfn]
                if page.pc.used:
                    self.mc.mem_cgroup_uncharge_page(page)
        mm.owner = None

    @kpath
    def put_task_struct(self, task: str):
        """__put_task_struct -> free_thread_info -> free_memcg_kmem_pages: the stack
        is uncharged from the memcg recorded at fork (3.8)."""
        t = self.tasks.get(task)
        if t is None or t.memcg is not None:
            return -ESRCH  # no zombie of that name
        del self.tasks[task]
        if t.stack_memcg is not None:
            self.mc.memcg_uncharge_kmem(t.stack_memcg, self.thread_size)
        yield Step("put_task_struct", {"task": task})
        return 0

    # ------------------------------------------------------------ kernel face: pages

    @kpath
    def alloc_kmem_page(self, task: str, gfp: int = GFP_KERNEL_ACCOUNT,
                        in_interrupt: bool = False, fail: bool = False, order: int = 0):
        """__alloc_pages_nodemask(gfp, order) with the kmem hooks (3.8): 2**order
        pages, one compound page (kmalloc_large -> kmalloc_order is this with
        __GFP_COMP | __GFP_KMEMCG); ``fail`` makes the allocator fail. An order
        past MAX_ORDER is refused with -EINVAL before anything is charged (the
        kernel would WARN and fail it)."""
        if not isinstance(order, int) or isinstance(order, bool) or not 0 <= order < MAX_ORDER:
            return -EINVAL
        t = self._live_task(task)
        if t is None:
            return -ESRCH
        t.charge_stage = None
        ok, memcg = yield from self._newpage_charge(t, gfp, in_interrupt, order)
        if not ok:
            return -ENOMEM
        page = None if fail else self._new_page(kmem=True, order=order)
        if memcg is not None:
            t.charge_stage = None
            yield from self.mc.memcg_kmem_commit_charge(page, memcg, order, t)
        return -ENOMEM if page is None else page.pfn

    def _newpage_charge(self, t: TaskStruct, gfp: int, in_interrupt: bool, order: int):
        """memcg_kmem_newpage_charge, recording the ghost stage after each step."""
        path = self.mc.memcg_kmem_newpage_charge(t, gfp, in_interrupt, order)
        try:
            while True:
                step = next(path)
                if step.action in ("charge.kmem", "charge.res") and step.ret == 0:
                    t.charge_stage = (step.action, t.mm_owner_memcg() if step.action == "charge.kmem"
                                      else t.charge_stage[1], order)
                else:
                    t.charge_stage = None
                yield step
        except StopIteration as stop:
            return stop.value

    @kpath
    def free_kmem_page(self, task: str | None, pfn: int):
        """__free_memcg_kmem_pages(page, compound_order(page)) ->
        memcg_kmem_uncharge_pages(page, order), as SLUB's kfree of a large
        kmalloc does (3.8), by ``task`` (left out: the kernel, an RCU callback
        freeing what outlived its allocator); -ESRCH for a task it does not know."""
        page = self.pages.get(pfn)
        if task is not None and task not in self.tasks:
            return -ESRCH
        if page is None or not page.kmem:
            return -ENOENT
        del self.pages[pfn]
        yield self.mc.memcg_kmem_uncharge_pages(page, page.order, self.tasks.get(task))
        return 0

    @kpath
    def alloc_user_page(self, task: str):
        """A user page: mem_cgroup_newpage_charge (3.8)."""
        t = self._live_task(task)
        if t is None:
            return -ESRCH
        page = self._new_page(kmem=False)
        step = self.mc.mem_cgroup_newpage_charge(page, t)
        if step.ret:
            del self.pages[page.pfn]
        yield step
        return step.ret or page.pfn

    @kpath
    def fault_anon(self, task: str):
        """A write fault on an anonymous mapping of the task's mm: do_anonymous_page
        -> mem_cgroup_newpage_charge, to the mm owner's memcg (the root with a
        fatal signal pending), with reclaim at U (3.8). 0, or -ENOMEM; the page
        goes with the mm."""
        return (yield from self._user_fault(task, "anon", "anon.charge"))

    @kpath
    def read_file(self, task: str):
        """A read that brings a file page into the page cache:
        add_to_page_cache_locked -> mem_cgroup_cache_charge, to the task's mm
        owner's memcg (the root with a fatal signal pending), with reclaim at U
        (3.8). 0, or -ENOMEM; the page stays with the group until reclaim frees
        it."""
        return (yield from self._user_fault(task, "cache", "pagecache.charge"))

    def _user_fault(self, task: str, kind: str, action: str):
        t = self._live_task(task)
        if t is None:
            return -ESRCH
        page = self._new_page(kmem=False, kind=kind, mm=t.mm if kind == "anon" else None)
        step = self.mc.mem_cgroup_charge_common(page, t, action)
        if step.ret:
            del self.pages[page.pfn]
        yield step
        return step.ret

    @kpath
    def drain_stock(self, cpu: int):
        """The cpu's stock drained: drain_local_stock, the work drain_all_stock
        queues from a reclaim, or the CPU_DEAD notifier (3.8). -EINVAL for a cpu
        the machine does not have."""
        if not isinstance(cpu, int) or isinstance(cpu, bool) \
                or not 0 <= cpu < len(self.mc.memcg_stock):
            return -EINVAL
        return (yield from self.mc.drain_local_stock(cpu))

    @kpath
    def free_user_page(self, pfn: int):
        """A pinned user page freed: mem_cgroup_uncharge_page (3.8). An anonymous
        page goes with its mm, page cache by reclaim: -ENOENT for those."""
        page = self.pages.get(pfn)
        if page is None or page.kind != "pinned":
            return -ENOENT
        del self.pages[pfn]
        yield self.mc.mem_cgroup_uncharge_page(page)
        return 0

    def _user_pages(self) -> list[Page]:
        """The user pages in memory: what mem_cgroup_reparent_charges finds on LRUs."""
        return [p for p in self.pages.values() if not p.kmem]

    def _new_page(self, kmem: bool, order: int = 0, kind: str = "pinned", mm=None) -> Page:
        page = Page(self._next_pfn, kmem, order, kind, mm)
        self._next_pfn += 1 << order
        self.pages[page.pfn] = page
        return page

    # ------------------------------------------------------------ kernel face: slab

    @kpath
    def kmem_cache_alloc(self, root: str, path: str | None = None, fill: int | None = None,
                         context: str | None = None, task: str | None = None):
        """kmem_cache_alloc(root) on behalf of ``task`` (its memcg's copy), or by
        some task of the memcg at ``path`` (3.8-3.10): the object's handle (an
        integer >= 0 not in use), or -errno. The allocator chooses the slab
        (its step reports the fill it took); ``fill`` is a hint, the partial
        slab to take an object from, which this allocator honours when it
        can. ``context`` is one the kernel never charges
        (SlabAllocator.CONTEXTS: "interrupt", "nofail", "kthread",
        "fatal_signal"), as is a task marked a kernel thread, without an mm or
        with a fatal signal (set_task_flags): memcg_kmem_get_cache keeps the
        root cache, and nothing is queued. -EINVAL for an unknown context or a
        path that is not the task's memcg; -ENOMEM when a new slab cannot be
        charged."""
        if context is not None and context not in self.slab.CONTEXTS[:4]:
            return -EINVAL
        t = self._live_task(task) if task is not None else None
        if task is not None and t is None:
            return -ESRCH
        if t is not None and path is not None and self._online(path) is not t.memcg:
            return -EINVAL
        r = self._root(root)
        memcg = t.memcg if t is not None else self._online(path or "/")
        if r is None or memcg is None:
            return -ENOENT
        context = context or (t is not None and self._task_context(t)) or None
        if context is not None:  # memcg_kmem_get_cache's own order of tests
            return (yield from self.slab.kmem_cache_alloc_root(r, context))
        return (yield from self.slab.kmem_cache_alloc(r, memcg, fill))

    @staticmethod
    def _task_context(t: TaskStruct) -> str | None:
        """The context memcg_kmem_get_cache reads off current: !current->mm or
        PF_KTHREAD, then fatal_signal_pending (3.8 memcontrol.h)."""
        if not t.has_mm or t.flags & TaskStruct.PF_KTHREAD:
            return "kthread"
        return "fatal_signal" if t.fatal_signal_pending else None

    @kpath
    def kmem_cache_free(self, obj: int | None = None, task: str | None = None, *,
                        release: bool | None = None, root: str | None = None,
                        path: str | None = None, fill: int | None = None):
        """kmem_cache_free of the object ``obj`` (a handle kmem_cache_alloc
        returned), by ``task`` (left out: the kernel, say an RCU callback): its
        slab is the one it was allocated on, and a slab it empties is uncharged
        from the memcg whose cache holds it (recorded at the charge), whatever
        the freeing task's group is now. ``release`` is a hint: give back (or
        keep) a slab the free empties. -ENOENT for a handle not in use, -ESRCH
        for a task that does not exist. The face before handles, an object of
        the memcg's copy of ``root`` (the root's own, for the root memcg's
        path) on a slab holding ``fill`` objects, still works (``release``
        then defaults to keeping the slab)."""
        if task is not None and self._live_task(task) is None:
            return -ESRCH
        if obj is None:
            obj = self._object_by_fill(root, path, fill)
            release = bool(release)
        if obj is None or obj not in self.slab.objects:
            return -ENOENT
        yield from self.slab.kmem_cache_free(obj, release)
        return 0

    def _object_by_fill(self, root: str | None, path: str | None,
                        fill: int | None) -> int | None:
        """The face before handles: an object of the memcg's copy of ``root``
        (the root cache's own, for the root memcg's path) on a slab of ``fill``
        objects, the lowest handle there; None when there is none."""
        r, memcg = self.slab.root_index(root), self._lookup(path or "/")
        if r is None or memcg is None:
            return None
        own = memcg is self.mc.root_mem_cgroup
        cachep = self.slab.slab_caches[r] if own else self.slab.caches.get((r, memcg))
        slab = next((sl for sl in cachep.slabs if sl.inuse == fill), None) \
            if cachep is not None else None
        return min(slab.objects) if slab is not None else None

    @kpath
    def kmem_cache_shrink(self, root: str, path: str):
        """kmem_cache_shrink of the memcg's copy of ``root`` from outside the worker."""
        r, memcg = self.slab.root_index(root), self._lookup(path)
        if r is None or memcg is None or \
                self.slab.slab_caches[r].memcg_caches.get(memcg.kmemcg_id) is None:
            return -ENOENT
        yield from self.slab.kmem_cache_shrink(r, memcg)
        return 0

    @kpath
    def kmem_cache_create(self, name: str | None, size: int, objs_per_slab: int, order: int):
        """kmem_cache_create(name, size, ...) of a module being loaded (3.8-3.10):
        a root cache whose ``2**order``-page slabs hold ``objs_per_slab``
        objects of ``size`` bytes, in one step (its body runs under
        slab_mutex). The cache (its name, as every other path names a root),
        or -EINVAL: kmem_cache_sanity_check's NULL name, size below
        sizeof(void *) or above KMALLOC_MAX_SIZE, a root cache of that name
        still on slab_caches (one being unloaded included), or a geometry no
        slab holds."""
        if (name is not None and not isinstance(name, str)) or not all(
                isinstance(v, int) and not isinstance(v, bool)
                for v in (size, objs_per_slab, order)):
            return -EINVAL
        cachep = self.slab.kmem_cache_create(name, size, order, objs_per_slab)
        if isinstance(cachep, int):
            return cachep
        yield Step("kmem_cache_create", {"root": name})
        return name

    @kpath
    def kmem_cache_destroy(self, root: str):
        """kmem_cache_destroy(root) -> kmem_cache_destroy_memcg_children (3.8)."""
        r = self._root(root)
        if r is None:
            return -ENOENT
        # every slot of memcg_caches[], not the ids in use: a freed memcg's slot
        # is walked too (once /A was freed, counting ids in use left the root
        # loaded forever)
        yield from self.slab.kmem_cache_destroy_memcg_children(
            r, self.mc.memcg_limited_groups_array_size)
        return 0

    # ------------------------------------------------------------ kernel face: memcg death

    @kpath
    def css_free(self, path: str):
        """cgroup_free_fn -> mem_cgroup_css_free for the removed memcg at ``path``
        (3.8-3.10), once the cgroup core holds no css reference: -ENOENT for none
        removed, -EBUSY while its offline walk, a creation work, a charge
        between its two counters or a child's css_free is still to come."""
        memcg = self._lookup(path)
        if memcg is None or memcg.online or memcg.destroy_stage != "none":
            return -ENOENT
        if self._css_pinned(memcg):
            return -EBUSY
        return (yield from self.mc.mem_cgroup_css_free(memcg))

    def _css_pinned(self, memcg: MemCgroup) -> bool:
        """A css reference or a child's dentry still holds the cgroup."""
        om = self.slab.offline_at
        creating = any(m is memcg for _, m in self.slab.create_works)
        charging = any(t.charge_stage and t.charge_stage[0] == "charge.kmem"
                       and t.charge_stage[1] is memcg for t in self.tasks.values())
        children = any(c.parent is memcg and c.destroy_stage != "done" and not c.freed
                       for c in self.memcg_list)
        return (om is not None and om[0] is memcg) or creating or charging or children

    @kpath
    def mem_cgroup_free(self, path: str):
        """The RCU callback and free_work of the memcg at ``path`` whose refcnt
        reached 0 (__mem_cgroup_free, 3.8-3.10); -ENOENT when none is pending."""
        memcg = self._lookup(path)
        if memcg is None or memcg not in self.mc.rcu_freeing:
            return -ENOENT
        return (yield from self.mc.free_work(memcg))

    def flush_scheduled_work(self) -> None:
        """flush_scheduled_work: let the kworkers run everything queued."""
        while self.wq.queue:
            work = self.wq.queue[0]
            self.wq.take(work)
            run(work.func(work))

    # ------------------------------------------------------------ alpha

    def hidden(self) -> tuple:
        """What alpha forgets but the next steps depend on: each memcg's cache
        list order (list_add at the head: newest first), which offline walks in."""
        om = self.slab.offline_at
        walking = om[0] if om else None
        index = self.slab.slab_caches.index
        # once a memcg's walk is over its list order matters no more (offline is once)
        return tuple(tuple(index(p.root_cache) for p in m.memcg_slab_caches)
                     if m.online or m is walking else ()
                     for m in self._incarnations())

    def _incarnations(self) -> list[MemCgroup]:
        """Every memcg in css order, the latest at each path only (an older one
        at a re-created path is freed: alpha sees one memcg per path)."""
        return [m for m in self.memcg_list if self.memcgs.get(m.path) is m]

    def snapshot(self) -> dict:
        """The abstract state in the shape of model/state.py's ``to_json``, keyed by
        memcg path (memcgs, tasks' memcgs and stacks, the walks) and task name."""
        mc, slab = self.mc, self.slab
        kmem_pages: dict[MemCgroup, int] = {}
        user_pages: dict[MemCgroup, int] = {}
        page_cache: dict[MemCgroup, int] = {}
        anon: dict[tuple, int] = {}  # (mm name, memcg) -> anonymous pages
        for p in self.pages.values():
            if p.pc.used:
                d = kmem_pages if p.kmem else user_pages
                d[p.pc.mem_cgroup] = d.get(p.pc.mem_cgroup, 0) + (1 << p.order)
                if p.kind == "cache":
                    page_cache[p.pc.mem_cgroup] = page_cache.get(p.pc.mem_cgroup, 0) + 1
                elif p.kind == "anon":
                    key = (p.mm.name, p.pc.mem_cgroup)
                    anon[key] = anon.get(key, 0) + 1
        memcgs = {}
        for path, m in self.memcgs.items():
            memcgs[path] = {
                "lifecycle": "freed" if m.freed else "online" if m.online else "offline",
                "use_hierarchy": m.use_hierarchy,
                "hier": m.res.parent is not None,
                "kmem_active": mc.memcg_kmem_is_active(m),
                "kmemcg_id": m.kmemcg_id,
                "res": m.res.snapshot(),
                "kmem": m.kmem.snapshot(),
                "kmem_pages": kmem_pages.get(m, 0),
                "user_pages": user_pages.get(m, 0),
                "kmem_dead": bool(m.kmem_account_flags & KMEM_ACCOUNTED_DEAD),
                "destroy": m.destroy_stage,
                "death_puts": m.death_puts,
                "page_cache": page_cache.get(m, 0),
                "move_charge_at_immigrate": m.move_charge_at_immigrate,
            }
        tasks = {}
        for name in self.task_names:
            t = self.tasks.get(name)
            stage = t.charge_stage if t is not None else None
            tasks[name] = {
                "memcg": t.memcg.path if t is not None and t.memcg is not None else None,
                "pc": {None: "idle", "charge.kmem": "kmem_charged",
                       "charge.res": "res_charged"}[stage[0] if stage else None],
                "charging": stage[1].path if stage else None,
                "order": stage[2] if stage else 0,
                "stack": t.stack_memcg.path if t is not None and t.stack_memcg else None,
                "mm": t.mm.name if t is not None and t.mm is not None else None,
            }
        owners = {t.mm.name: t.mm.owner.name for t in self.tasks.values()
                  if t.mm is not None and t.mm.owner is not None}
        mms = {name: {"owner": owners.get(name),
                      "anon": {m.path: n for (mm, m), n in anon.items() if mm == name}}
               for name in self.task_names}
        out = {"memcgs": memcgs, "tasks": tasks, "mms": mms, "admin": self._admin_snapshot(),
               "static_key": mc.memcg_kmem_enabled_key}
        if slab.slab_caches or self.root_scope:
            out.update(self._cache_snapshot())
        if mc.memcg_stock:  # memcg_stock per cpu
            out["stock"] = [{"memcg": s.cached.path if s.cached else None,
                             "nr_pages": s.nr_pages} for s in mc.memcg_stock]
        return out

    def _admin_snapshot(self) -> dict:
        """The activation's next step: a ghost memcg_update_kmem_limit keeps (the
        kernel's flags cannot tell it where the order of its steps is a profile's)."""
        if self.mc.activation is None:
            return {"pc": "idle", "memcg": None}
        memcg, pc = self.mc.activation
        return {"pc": pc, "memcg": memcg.path}

    @staticmethod
    def _fills(cachep) -> list[int]:
        """A cache's slabs by fill, the state's ``slabs`` of it."""
        fills = [0] * (cachep.num + 1)
        for sl in cachep.slabs:
            fills[sl.inuse] += 1
        return fills

    def _cache_snapshot(self) -> dict:
        slab = self.slab
        caches = {}
        for r, root in enumerate(slab.slab_caches):
            for memcg in self._incarnations()[1:]:
                c = slab.caches.get((r, memcg))
                work = c.memcg_params.destroy if c is not None else None
                queued = slab.wq.queue.count(work) if c is not None else 0
                if c is None:
                    state = "idle"
                elif work.running:  # freed under a running worker too (a known bug)
                    state = "run:" + _WORK_STAGE[work.stage]
                else:
                    state = "pending" if queued else "idle"
                alive = c is not None and not c.freed
                fills = self._fills(c) if c is not None else [0] * (root.num + 1)
                caches[slab.cache_name(r, memcg)] = {
                    "cache": "none" if c is None else "freed" if c.freed else "alive",
                    "dead": bool(c is not None and c.memcg_params.dead),
                    "slabs": fills,
                    "nr_pages": c.memcg_params.nr_pages if c is not None else 0,
                    "objects": c.objects if c is not None else 0,
                    "work": state,
                    "requeued": bool(c and ((work.running and queued) or queued >= 2)),
                    "create_pending": (r, memcg) in slab.create_works,
                    "half_created": (r, memcg) in slab.half_created,
                    "slot": root.memcg_caches.get(memcg.kmemcg_id) is not None,
                    "listed": bool(alive and c.memcg_params in memcg.memcg_slab_caches),
                }
        om, rd = slab.offline_at, slab.rdestroy_at
        by_id = {m.kmemcg_id: m for m in self.memcg_list if m.kmemcg_id >= 0}
        return {
            "roots": {r.name: {"alive": not r.freed, **(
                {"slabs": self._fills(r)} if slab.root_objects else {})}
                for r in slab.slab_caches},
            "caches": caches,
            "offline": {"memcg": om[0].path if om else None,
                        "visited": [slab.slab_caches[r].name for r in sorted(om[1])]
                        if om else []},
            "root_destroy": {
                "root": slab.slab_caches[rd[0]].name if rd else None,
                # the model walks memcgs in id order: the memcg holding the next id
                "next_memcg": (by_id[rd[1]].css_id if rd[1] in by_id else rd[1] + 1)
                if rd else 0,
                "step": ("mark", "cancel", "destroy", "wait")[rd[2]] if rd else "mark"},
            "shrinking": slab.cache_name(*slab.shrinking) if slab.shrinking else None,
            "error": slab.oops or "none",
        }
