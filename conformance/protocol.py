"""The adapter protocol: what an implementation offers the suite.

Version 2. One protocol covers everything the model covers, in-process
(:class:`Implementation`) and over JSON lines (one request, one reply per line;
``kmemcg serve`` is the worked server). An implementation is booted for a model
configuration, driven through *operations*, each running as a thread of
steps, and observed through its abstraction snapshot.

Every requirement, with what an implementation need not provide, is in
docs/protocol.md. Two paths: the minimal one (capability ``call``: whole
operations and a snapshot, for ``conform``) and the stepping one (capability
``steps``: the methods below, for race checking too).

``hello(protocol)``
    the client's version; the server answers ``{"protocol": 2, "capabilities":
    [...]}`` (``"steps"``, ``"call"``, ``"checkpoint"``; left out: ``["steps"]``), or refuses a
    client that speaks another version (a version 1 client sends none).
``call(op, args) -> result``
    the minimal path: run an operation to completion (conformance/sequential.py
    supplies its steps from the model).
``save()``, ``restore()``
    optional (capability ``checkpoint``, minimal path): remember the machine's
    state in one slot, and return to it; the interleaver restores a state for
    each try from it rather than replaying its operations from boot.
``reset(config)``
    boot the machine the configuration describes (``Config.to_json``: its
    memcgs, tasks and root caches, what is online at boot, the fixes kept).
``start(op, args) -> thread id``
    begin an operation on a new thread; nothing runs yet.
``step(thread)``
    run the thread to its next preemption point and report one of
    ``{"action": name, "args": {...}, "ret": int}`` (a model action completed),
    ``{"blocked": lock}`` (it waits; step again later) or
    ``{"done": true, "result": value}`` (the operation returned ``result``:
    ``0``, a page handle ``>= 0`` for a page allocation, or ``-errno``).
``queued() -> [name]``
    the work items queued and not running, which ``start("work", ...)`` hands
    to a kworker.
``read(path, file) -> str | int``
    a cgroupfs read: the text, or ``-errno``; reads change nothing.
``memcg_state(path) -> str | int``
    where the memcg last created at ``path`` stands: ``"online"``,
    ``"offline"`` (rmdir'ed, lingering while references remain: kernel
    memory still charged, live caches, an unfreed hierarchical child, or
    css_free still to run) or ``"freed"`` (__mem_cgroup_free has run; a new
    mkdir at the path makes a fresh memcg), ``-ENOENT`` for a path never
    created. Asked only on scopes where memcgs are freed; the snapshot's
    ``lifecycle`` must agree.
``slabinfo() -> str``
    ``/proc/slabinfo``'s cache lines.
``snapshot() -> dict``
    the abstract state (alpha), in the shape of
    :func:`kmemcg.model.state.to_json`, memcgs keyed by cgroupfs path.
``hidden() -> any``
    what alpha forgets but the next steps depend on (the reference: each memcg's
    cache-list order); ``null`` when nothing is.

Operations and their arguments (memcg paths are absolute: ``/``, ``/A``, ``/A/B``):

=====================  ====================================================
``mkdir``              ``path``
``rmdir``              ``path``
``write``              ``path``, ``file``, ``text``
``attach``             ``task``, ``path``
``alloc_kmem``         ``task``, ``gfp`` (flag names), ``in_interrupt``, ``fail``,
                       ``order`` (2**order pages; default 0, see below)
``free_kmem``          ``task`` (who frees it; left out: the kernel), ``page``
``alloc_user``         ``task``
``free_user``          ``page`` (a pinned page, ``alloc_user``'s)
``fault_anon``         ``task``: an anonymous page of the task's mm, charged to
                       its mm owner's group with reclaim at U (step
                       ``anon.charge``); freed with the mm's last user
``read_file``          ``task``: a page cache page, charged likewise (step
                       ``pagecache.charge``); it stays with the group until
                       reclaim frees it
``set_task``           ``task``, ``kthread``, ``fatal_signal``, ``has_mm``; a
                       fatal signal also sends the task's user pages
                       (``alloc_user``, ``fault_anon``, ``read_file``) to the
                       root: __mem_cgroup_try_charge's bypass (3.8), the step
                       naming ``/``
``spawn``              ``task``, ``path``: a new process in the memcg with an
                       mm of its own (its stack charged there)
``fork``               ``task``, ``parent``, ``thread``: copy_process in task
                       ``parent``; the child shares its mm with ``thread``
                       (default false), and its stack is charged to the memcg
                       of the parent's mm owner
``exit``               ``task``
``put_task_struct``    ``task``
``kmem_cache_alloc``   ``root``, ``path``, ``context`` (one the kernel never
                       charges: ``kthread``, ``interrupt``, ``nofail``,
                       ``fatal_signal``; see below), ``task`` (on whose behalf;
                       ``path`` must be its memcg), ``fill`` (a hint: the fill of
                       the partial slab to take); returns the object's handle
                       (an integer >= 0 not in use) or -errno. The
                       implementation chooses the slab, and its step names the
                       ``object``, the ``slab`` (an integer naming it) and, for
                       ``alloc.partial``, the ``fill`` it took
``kmem_cache_free``    ``object`` (a handle), ``task`` (who frees it; left out:
                       the kernel), ``release`` (a hint: release a slab the free
                       empties); its step is ``free.object`` with the slab's
                       ``fill``, or ``free.release_pages`` when the
                       implementation released the emptied slab. The face
                       before handles, ``root``, ``path`` and ``fill``, still
                       works
``kmem_cache_shrink``  ``root``, ``path``
``kmem_cache_destroy`` ``root``
``kmem_cache_create``  ``name`` (left out or null: a NULL name), ``size``
                       (bytes an object), ``objs_per_slab``, ``order``
                       (2**order pages a slab): a root cache loaded at run
                       time (one step, ``kmem_cache_create`` with ``root``);
                       returns the cache, by its name, or -EINVAL (no step)
                       for what kmem_cache_sanity_check refuses (a NULL name,
                       a size below 8 or above KMALLOC_MAX_SIZE, 8 MiB, a
                       root cache of that name still loaded or being
                       unloaded) or a geometry no slab holds (``objs_per_slab
                       * size`` above ``PAGE_SIZE << order``). The suite asks
                       only for the configuration's root names and slab
                       geometry
``work``               ``item`` (a name from ``queued``): a kworker runs it
``css_free``           ``path``: cgroup_free_fn's mem_cgroup_css_free of the
                       removed memcg, once due (its steps ``css_free.mark_dead``,
                       ``css_free.read_usage``, ``css_free.put``); ``-ENOENT``
                       when none is removed, ``-EBUSY`` while pinned
``mem_cgroup_free``    ``path``: the RCU callback of a memcg whose refcnt reached
                       0 (step ``mem_cgroup_free``); ``-ENOENT`` when none is due
``drain_stock``        ``cpu``: drain_local_stock on that cpu (step ``stock.drain``,
                       none when its stock caches no memcg); ``-EINVAL`` for a
                       cpu the scope has not (only scopes with ``percpu_stock``
                       have cpus)
=====================  ====================================================

A snapshot's memcg has ``page_cache`` (its page cache pages, a part of
``user_pages``), and each of ``mms`` has ``anon``: its anonymous pages by memcg
path (absent: none).

An allocation in a context memcg_kmem_get_cache never charges (3.8
memcontrol.h: ``__GFP_NOFAIL``, ``in_interrupt()``, ``!current->mm`` or
``PF_KTHREAD``, ``fatal_signal_pending``), by a task marked so with
``set_task``, or by a task of a memcg that cannot account kmem (the root memcg,
a group never limited) is served from the root cache and queues nothing: with
a configuration's ``root_objects`` its step is ``alloc.root`` with ``root`` and
``context`` (``unaccounted`` for the last case), the object is kept on the
root's own slabs, which a snapshot's root shows as ``slabs`` (fills, as a
cache's), and ``kmem_cache_free`` of the root memcg's path (``/``) frees one of
them (its step names the cache by the root's name); without ``root_objects``
the object is forgotten and there is no step.

A snapshot on a scope with ``percpu_stock`` has ``stock``: per cpu,
``{"memcg": path or null, "nr_pages": n}`` (memcg_stock's cached memcg and the
res pages precharged to it).

A snapshot's task has ``mm`` (the name of the task that created the mm it uses;
null once it exited), and ``mms`` maps each task name to the mm it created:
``{"owner": task or null}`` (mm->owner; null when that mm does not exist); a
snapshot without them is read as every live task owning an mm of its own.

A snapshot's memcg has ``kmem_dead`` (KMEM_ACCOUNTED_DEAD), ``destroy`` (how far
css_free has got: ``none``, ``read_usage``, ``test_and_clear``, ``done``) and
``death_puts`` (how many times the death reference was put, a ghost); a
snapshot without them is read with their boot values.

``alloc_kmem``'s ``order`` is the page allocator's, as
``__alloc_pages_nodemask(gfp, order)`` and memcg_kmem_newpage_charge(gfp,
&memcg, order) take it (3.8): ``2**order`` pages, charged as ``PAGE_SIZE <<
order`` bytes, committed and, at ``free_kmem``, uncharged together from the
memcg recorded at the charge. SLUB's kmalloc_large of ``size`` bytes (more than
KMALLOC_MAX_CACHE_SIZE, 8 KiB; SLUB_MAX_SIZE in 3.8) is ``order =
get_order(size)``: 8 KiB + 1 to 16 KiB is order 2. An order outside 0..10
(MAX_ORDER) returns ``-EINVAL`` and changes nothing; a configuration's
``orders`` are those the suite asks for. The steps ``charge.kmem`` and
``free.uncharge`` carry the order as ``order`` (a step without one is of order
0, as before orders existed), and a snapshot's task has the ``order`` of its
charge in flight (0 when idle or left out).

Step arguments name memcgs by path, tasks by name, caches as
``root(memcg)``, the counter of a reset as ``"res"`` or ``"kmem"``, written
limits in bytes, and a bypass's ``flags`` as an integer (0 only when nothing in
the context asks for a bypass).

In process, ``step`` returns the records :class:`Step`, :class:`Blocked` and
:class:`Done` (:func:`decode` turns a reply dict into one); over the pipe the
dicts above travel, and :func:`encode` makes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from kmemcg.impl.sched import Blocked, Step

VERSION = 2

OPERATIONS: dict[str, tuple[str, ...]] = {
    "mkdir": ("path",),
    "rmdir": ("path",),
    "write": ("path", "file", "text"),
    "attach": ("task", "path"),
    "alloc_kmem": ("task", "gfp", "in_interrupt", "fail", "order"),
    "free_kmem": ("task", "page"),
    "alloc_user": ("task",),
    "free_user": ("page",),
    "fault_anon": ("task",),
    "read_file": ("task",),
    "set_task": ("task", "kthread", "fatal_signal", "has_mm"),
    "spawn": ("task", "path"),
    "fork": ("task", "parent", "thread"),
    "exit": ("task",),
    "put_task_struct": ("task",),
    "kmem_cache_alloc": ("root", "path", "context", "task", "fill"),
    # by handle; the face before handles (root, path, fill) is still served
    "kmem_cache_free": ("object", "task", "release"),
    "kmem_cache_shrink": ("root", "path"),
    "kmem_cache_destroy": ("root",),
    "kmem_cache_create": ("name", "size", "objs_per_slab", "order"),
    "work": ("item",),
    "css_free": ("path",),
    "mem_cgroup_free": ("path",),
    "drain_stock": ("cpu",),
}

#: the arguments an operation may leave out (their defaults: see the adapters)
OPTIONAL_ARGS = frozenset({"gfp", "in_interrupt", "fail", "kthread", "fatal_signal", "has_mm",
                           "fill", "release", "order", "context", "task", "thread",
                           "object", "name"})

#: gfp flag names an allocation may carry.
GFP_FLAGS = ("GFP_KERNEL", "__GFP_KMEMCG", "__GFP_NOFAIL")


@dataclass(frozen=True)
class Done:
    """The operation returned ``result``; its thread is gone."""

    result: Any


Reply = Step | Blocked | Done


class ProtocolError(Exception):
    """The implementation broke the protocol: raised, hung, or answered nonsense."""


class ImplementationTimeout(ProtocolError):
    """A call into the implementation did not return in time: it hangs or loops."""


class SetupError(ProtocolError):
    """The implementation cannot be set up at all (a bad ``MOD:FACTORY``, a factory
    that raises or returns something without the faces, a command that cannot
    start, a server of another protocol version): the user's to fix, not a
    verdict about the implementation."""


def decode(reply) -> Reply:
    """A step reply (a record already, or the protocol's dict) -> its record;
    :class:`ProtocolError` for anything else."""
    if isinstance(reply, Step | Blocked | Done):
        return reply
    if not isinstance(reply, dict):
        raise ProtocolError(f"step answered {reply!r}, not a step, a block or a return")
    if reply.get("done"):
        return Done(reply.get("result"))
    if "blocked" in reply:
        return Blocked(str(reply["blocked"]))
    action, args, ret = reply.get("action"), reply.get("args", {}), reply.get("ret", 0)
    if not isinstance(action, str) or not isinstance(args, dict) \
            or not isinstance(ret, int) or isinstance(ret, bool):
        raise ProtocolError(f"step answered {reply!r}: a step needs an action name, an "
                            f"args object and an integer ret")
    return Step(action, args, ret)


def encode(record: Reply) -> dict:
    """A step record -> the protocol's dict."""
    if isinstance(record, Done):
        return {"done": True, "result": record.result}
    if isinstance(record, Blocked):
        return {"blocked": record.lock}
    return {"action": record.action, "args": dict(record.args), "ret": record.ret}


def frozen(value):
    """A JSON value made hashable (lists become tuples), so that two runs'
    ``hidden()`` compare and key a dict whether they came in process or by pipe."""
    if isinstance(value, list | tuple):
        return tuple(frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, frozen(v)) for k, v in value.items()))
    return value


@runtime_checkable
class Implementation(Protocol):
    """What the suite drives: an adapter around an implementation."""

    def start(self, op: str, args: dict) -> int: ...

    def step(self, thread: int) -> Reply: ...

    def queued(self) -> list[str]: ...

    def read(self, path: str, file: str) -> str | int: ...

    def slabinfo(self) -> str: ...

    def snapshot(self) -> dict: ...

    def hidden(self): ...

    def close(self) -> None: ...
