"""The destruction slice's actions: one guard and one effect per kernel step.

Tasks allocate and free (charging and uncharging slabs), fork and exit; the
creation and destroy work items run; memcg offline, root-cache destruction and
an outside shrinker walk the caches. Kernel of record: 3.10 ``mm/memcontrol.c``
and ``mm/slab_common.c`` (domain sections 4-6, 13).
"""

from __future__ import annotations

from kmemcg.model import res_counter as rc
from kmemcg.model.config import NONE, PAGE_SIZE
from kmemcg.model.destruction.state import (
    ALIVE,
    DESTRUCTION,
    DOUBLE_DESTROY,
    FREED,
    IDLE,
    NULL_DEREF,
    OK,
    PENDING,
    RD_CANCEL,
    RD_DESTROY,
    RD_MARK,
    RD_WAIT,
    RUN_CHECK,
    RUN_DESTROY,
    RUN_SHRINK,
    THREAD_SIZE_ORDER,
    USE_AFTER_FREE,
    DState,
    cache_domain,
    cache_id,
    fill_domain,
    fork_domain,
    memcg_domain,
    memcg_of,
    memcg_root_domain,
    no_slabs,
    nr_pages,
    objects,
    partial_domain,
    root_domain,
    root_of,
    slab_pages,
    task_domain,
    walking,
)
from kmemcg.model.dual import And, Eq, If, Implies, Not, Or, Sum
from kmemcg.model.state import replace_at

action = DESTRUCTION.action


# ---------------------------------------------------------------- helpers


def _set(s: DState, c: int, **fields) -> DState:
    return s._replace(**{k: replace_at(getattr(s, k), c, v) for k, v in fields.items()})


def _fail(s: DState, when, code) -> DState:
    """Record the first error: an action that touches freed memory, say."""
    return s._replace(error=If(And(when, Eq(s.error, OK)), code, s.error))


def _running(w):
    """The work item is executing, at any of its steps (not pending)."""
    return Or(Eq(w, RUN_CHECK), Eq(w, RUN_SHRINK), Eq(w, RUN_DESTROY))


def _queue_destroy(s: DState, c: int, *, reinit: bool = False) -> DState:
    """schedule_work(&cachep->memcg_params->destroy): a no-op while pending; a
    running item is queued again. ``reinit`` is v5's INIT_WORK on a pending
    item, after which it runs twice."""
    w = s.work[c]
    again = Or(_running(w), Eq(w, PENDING)) if reinit else _running(w)
    s = _fail(s, Eq(s.cache[c], FREED), USE_AFTER_FREE)
    s = _set(s, c, requeued=Or(s.requeued[c], again))
    return _set(s, c, work=If(Eq(w, IDLE), PENDING, w))


def _destroy_cache(cfg, s: DState, c: int) -> DState:
    """mem_cgroup_destroy_cache: the last page is gone; destroy a dead cache
    later, unless its destruction is already queued (the v6 fix)."""
    if cfg.profile == "v5_double_destroy":
        return If(s.dead[c], _queue_destroy(s, c, reinit=True), s)
    if cfg.profile == "no_destroy_on_last_page":
        return s
    pending = Eq(s.work[c], PENDING)
    return If(And(s.dead[c], Not(pending)), _queue_destroy(s, c), s)


def _release(cfg, s: DState, c: int, hist: tuple) -> DState:
    """Give the slabs missing from ``hist`` back to the page allocator: each is
    uncharged from the cache's memcg (__memcg_kmem_uncharge_pages), and the
    release hook (memcg_release_pages) calls mem_cgroup_destroy_cache when the
    cache's last page goes."""
    gone = Sum(s.slabs[c]) - Sum(hist)
    m = memcg_of(cfg, c)
    s2 = _set(s, c, slabs=hist)._replace(
        kmem=rc.uncharge(s.kmem, [(m, True)], gone * slab_pages(cfg) * PAGE_SIZE))
    emptied = And(gone > 0, Eq(Sum(hist), 0))
    return If(emptied, _destroy_cache(cfg, s2, c), s2)


def _shrink(cfg, s: DState, c: int) -> DState:
    """__kmem_cache_shrink: release every empty slab."""
    return _release(cfg, s, c, (0, *s.slabs[c][1:]))


def _kmem_cache_destroy(cfg, s: DState, c: int) -> DState:
    """kmem_cache_destroy(c): __kmem_cache_shutdown releases the empty slabs
    (uncharging them), then the cache is freed with its slot and list entry; a
    cache with objects survives, its empty slabs gone all the same ("Slab cache
    still has objects")."""
    s = _fail(s, Eq(s.cache[c], FREED), DOUBLE_DESTROY)
    shut = _shrink(cfg, s, c)
    freed = _set(shut, c, cache=FREED, slot=False, listed=False)
    return If(Eq(s.cache[c], ALIVE), If(Eq(objects(s, c), 0), freed, shut), s)


# ---------------------------------------------------------------- allocation and free


def _alloc_guard(cfg, s, c):
    r = root_of(cfg, c)
    return And(s.online[memcg_of(cfg, c)], s.root_alive[r], Not(Eq(s.rdestroy_root, r)))


def _moved(hist: tuple, frm: int, to: int) -> tuple:
    """One slab moves from fill ``frm`` to fill ``to``."""
    out = replace_at(hist, frm, hist[frm] - 1)
    return replace_at(out, to, out[to] + 1)


def _partial(cfg, s, c):
    """The cache has a slab that is neither empty nor full."""
    return Or(*(s.slabs[c][k] > 0 for k in range(1, cfg.objs_per_slab)))


def _alloc_new_guard(cfg, s, c):
    return And(_alloc_guard(cfg, s, c), Or(Not(s.slot[c]), Not(_partial(cfg, s, c))))


def _alloc(cfg, s, c):
    """kmem_cache_alloc by a task of the memcg, with no partial slab to fill:
    its cache if published, else queue the creation and serve this object from
    the root cache, uncharged. The object goes to an empty slab, else a new
    slab, whose pages are charged first (memcg_charge_kmem; -ENOMEM over the
    kmem limit, and the allocation fails)."""
    m = memcg_of(cfg, c)
    hist = s.slabs[c]
    kmem, ok = rc.charge(s.kmem, [(m, True)], slab_pages(cfg) * PAGE_SIZE)
    grown = If(ok, _set(s, c, slabs=replace_at(hist, 1, hist[1] + 1)), s)._replace(kmem=kmem)
    used = If(hist[0] > 0, _set(s, c, slabs=_moved(hist, 0, 1)), grown)
    fails = And(Eq(hist[0], 0), Not(ok))
    used = _fail(used, Eq(s.cache[c], FREED), USE_AFTER_FREE)
    queued = _set(s, c, create_pending=True)
    return If(s.slot[c], used, queued), If(And(s.slot[c], fails), -rc.ENOMEM, 0)


action("alloc", ("cache",), cache_domain,
       "__memcg_kmem_get_cache / memcg_create_cache_enqueue, memcg_charge_kmem (3.8)")(
    (_alloc_new_guard, _alloc))


def _alloc_partial_guard(cfg, s, c, k):
    return And(_alloc_guard(cfg, s, c), s.slot[c], s.slabs[c][k] > 0)


def _alloc_partial(cfg, s, c, k):
    """The allocator fills a partial slab first; which one is its list order
    (SLAB's slabs_partial, SLUB's cpu and partial slabs), so any fill may be
    chosen: the model takes them all."""
    used = _set(s, c, slabs=_moved(s.slabs[c], k, k + 1))
    return _fail(used, Eq(s.cache[c], FREED), USE_AFTER_FREE), 0


action("alloc.partial", ("cache", "fill"), partial_domain,
       "kmem_cache_alloc -> cache_alloc_refill: an object from a partial slab (3.8)")(
    (_alloc_partial_guard, _alloc_partial))


def _free_guard(cfg, s, c, k):
    return s.slabs[c][k] > 0


def _free_keep(cfg, s, c, k):
    return _set(s, c, slabs=_moved(s.slabs[c], k, k - 1)), 0


action("free.object", ("cache", "fill"), fill_domain,
       "kmem_cache_free: the slab keeps its pages, even once empty (3.8)")(
    (_free_guard, _free_keep))


def _last_object(cfg, s, c):
    return s.slabs[c][1] > 0


def _free_release(cfg, s, c):
    hist = s.slabs[c]
    return _release(cfg, s, c, replace_at(hist, 1, hist[1] - 1)), 0


action("free.release_pages", ("cache",), cache_domain,
       "kmem_cache_free of a slab's last object; the allocator frees the slab: "
       "kmem_freepages -> memcg_release_pages (3.8)")((_last_object, _free_release))


# ---------------------------------------------------------------- thread stacks


STACK_BYTES = PAGE_SIZE << THREAD_SIZE_ORDER


def _fork_guard(cfg, s, t, m):
    return And(Eq(s.task_memcg[t], NONE), s.online[m])


def _fork(cfg, s, t, m):
    """copy_process in a task of memcg m: alloc_thread_info_node charges the
    stack (THREADINFO_GFP_ACCOUNTED); over the kmem limit fork fails -ENOMEM."""
    kmem, ok = rc.charge(s.kmem, [(m, True)], STACK_BYTES)
    forked = s._replace(task_memcg=replace_at(s.task_memcg, t, m))
    return If(ok, forked, s)._replace(kmem=kmem), If(ok, 0, -rc.ENOMEM)


action("fork", ("task", "memcg"), fork_domain,
       "copy_process -> dup_task_struct -> alloc_thread_info_node (3.8)")((_fork_guard, _fork))


def _exit_guard(cfg, s, t):
    return And(Not(Eq(s.task_memcg[t], NONE)), Not(s.task_exited[t]))


def _exit(cfg, s, t):
    return s._replace(task_exited=replace_at(s.task_exited, t, True)), 0


action("exit", ("task",), task_domain,
       "do_exit: the task leaves its cgroup; its stack stays charged (3.8)")(
    (_exit_guard, _exit))


def _put_guard(cfg, s, t):
    return s.task_exited[t]


def _put_task_struct(cfg, s, t):
    """free_thread_info -> free_memcg_kmem_pages: the stack is uncharged from the
    memcg it was charged to, online or not."""
    kmem = s.kmem
    for m in range(1, cfg.n_memcgs):
        kmem = If(Eq(s.task_memcg[t], m), rc.uncharge(s.kmem, [(m, True)], STACK_BYTES), kmem)
    return s._replace(kmem=kmem, task_memcg=replace_at(s.task_memcg, t, NONE),
                      task_exited=replace_at(s.task_exited, t, False)), 0


action("put_task_struct", ("task",), task_domain,
       "__put_task_struct -> free_task -> free_thread_info (3.8)")((_put_guard, _put_task_struct))


# ---------------------------------------------------------------- creation work


def _create_guard(cfg, s, c):
    return And(s.create_pending[c], Not(s.half_created[c]))


def _create(cfg, s, c):
    """memcg_create_kmem_cache: re-check the slot under memcg_cache_mutex, then
    create, link and publish. The fixed kernel does not create for a memcg
    that is already offline."""
    m = memcg_of(cfg, c)
    done = _set(s, c, create_pending=False)
    two_steps = cfg.profile == "list_before_slot"
    made = _set(done, c, cache=ALIVE, dead=False, slabs=no_slabs(cfg), work=IDLE,
                requeued=False, listed=True, slot=not two_steps, half_created=two_steps)
    allowed = s.online[m] if cfg.profile != "create_after_offline" else True
    r = root_of(cfg, c)
    # 4.18 marks a root dying before destroying it; before, nothing stopped this
    dying = Eq(s.rdestroy_root, r) if cfg.profile != "create_vs_root_destroy" else False
    fresh = And(Not(s.slot[c]), Not(Eq(s.cache[c], ALIVE)), s.root_alive[r], Not(dying),
                allowed)
    done = _fail(done, Not(s.root_alive[r]), USE_AFTER_FREE)  # reads root->memcg_params
    return If(fresh, made, done), 0


action("create_work.publish", ("cache",), cache_domain,
       "memcg_create_kmem_cache: kmem_cache_dup, list_add, memcg_caches[idx] = new (3.8)")(
    (_create_guard, _create))


def _half_guard(cfg, s, c):
    return s.half_created[c]


def _publish_slot(cfg, s, c):
    return _set(s, c, half_created=False, slot=True), 0


action("create_work.set_slot", ("cache",), cache_domain,
       "list_before_slot: the slot store after memcg_cache_list_add (3.8-3.13)")(
    (_half_guard, _publish_slot))


# ---------------------------------------------------------------- memcg offline


def _offline_start_guard(cfg, s, m):
    sync = Eq(s.rdestroy_root, NONE) if cfg.profile != "offline_vs_root_destroy" else True
    # cgroup_rmdir: -EBUSY while a task is attached (an exited one has left)
    no_tasks = And(*(Not(And(Eq(s.task_memcg[t], m), Not(s.task_exited[t])))
                     for t in range(cfg.n_tasks)))
    return And(s.online[m], Eq(s.offline_memcg, NONE), sync, no_tasks)


def _offline_start(cfg, s, m):
    return s._replace(online=replace_at(s.online, m, False), offline_memcg=m), 0


action("offline.start", ("memcg",), memcg_domain,
       "mem_cgroup_css_offline -> mem_cgroup_destroy_all_caches (3.10)")(
    (_offline_start_guard, _offline_start))


def _offline_mark_guard(cfg, s, m, r):
    return And(walking(s, m), Not(s.offline_done[r]), s.listed[cache_id(cfg, r, m)])


def _offline_mark(cfg, s, m, r):
    """One list entry: c->dead = true; schedule_work(destroy). The list entry
    is turned into a cache through the root's slot (memcg_params_to_cache)."""
    c = cache_id(cfg, r, m)
    marked = _queue_destroy(_set(s, c, dead=True), c)
    step = If(s.slot[c], marked, _fail(s, True, NULL_DEREF))
    return step._replace(offline_done=replace_at(s.offline_done, r, True)), 0


action("offline.mark_dead", ("memcg", "root"), memcg_root_domain,
       "mem_cgroup_destroy_all_caches: dead = true, schedule_work (3.10)")(
    (_offline_mark_guard, _offline_mark))


def _offline_done_guard(cfg, s, m):
    return And(walking(s, m), *(Implies(s.listed[cache_id(cfg, r, m)], s.offline_done[r])
                                for (r,) in root_domain(cfg)))


def _offline_done(cfg, s, m):
    return s._replace(offline_memcg=NONE, offline_done=(False,) * len(cfg.roots)), 0


action("offline.done", ("memcg",), memcg_domain,
       "mem_cgroup_destroy_all_caches unlocks slab_caches_mutex; css_offline returns")(
    (_offline_done_guard, _offline_done))


# ---------------------------------------------------------------- the destroy worker


def _work_guard(state):
    return lambda cfg, s, c: Eq(s.work[c], state)


def _start(cfg, s, c):
    s = _fail(s, Eq(s.cache[c], FREED), USE_AFTER_FREE)
    return _set(s, c, work=RUN_CHECK), 0


action("destroy_work.start", ("cache",), cache_domain,
       "process_one_work: kmem_cache_destroy_work_func begins (3.10)")(
    (_work_guard(PENDING), _start))


def _finish(s: DState, c: int) -> DState:
    """The work function returns; a re-queued item becomes pending again."""
    return _set(s, c, work=If(s.requeued[c], PENDING, IDLE), requeued=False)


def _check(cfg, s, c):
    s = _fail(s, Eq(s.cache[c], FREED), USE_AFTER_FREE)
    return _set(s, c, work=If(Eq(nr_pages(cfg, s, c), 0), RUN_DESTROY, RUN_SHRINK)), 0


action("destroy_work.check", ("cache",), cache_domain,
       "kmem_cache_destroy_work_func: nr_pages != 0 ? shrink : destroy (3.10)")(
    (_work_guard(RUN_CHECK), _check))


def _shrink_in_worker(cfg, s, c):
    """Shrink; at zero pages the release hook has re-queued us, so return."""
    return _finish(_shrink(cfg, s, c), c), 0


action("destroy_work.shrink", ("cache",), cache_domain,
       "kmem_cache_destroy_work_func: kmem_cache_shrink, no retry after FIX7 (3.10)")(
    (_work_guard(RUN_SHRINK), _shrink_in_worker))


def _destroy_guard(cfg, s, c):
    ready = Eq(s.work[c], RUN_DESTROY)
    if cfg.profile == "shrink_frees_last_page":
        return ready
    return And(ready, Not(Eq(s.shrinking, c)))  # kmem_cache_destroy waits out the shrinker


def _destroy(cfg, s, c):
    """The work_struct lives in the cache. If the last page went away while
    this run was in progress, the release hook queued the work again; freeing
    the cache now leaves that queued item in freed memory (3.10 as merged).
    The default profile returns instead, and the queued run destroys."""
    if cfg.profile in ("destroy_while_requeued", "v5_double_destroy"):  # both predate the fix
        return _finish(_kmem_cache_destroy(cfg, s, c), c), 0
    return If(s.requeued[c], _finish(s, c), _finish(_kmem_cache_destroy(cfg, s, c), c)), 0


action("destroy_work.destroy", ("cache",), cache_domain,
       "kmem_cache_destroy_work_func: kmem_cache_destroy(cachep) (3.10)")(
    (_destroy_guard, _destroy))


# ---------------------------------------------------------------- an outside shrinker


def _shrink_guard(cfg, s, c):
    """Only a shrink with an empty slab to release is a step; one with nothing
    to do changes nothing (and, repeated forever, would starve the worker out
    of slab_mutex, which is no kernel behaviour worth a counterexample)."""
    return And(Eq(s.shrinking, NONE), Eq(s.cache[c], ALIVE), s.slot[c], s.slabs[c][0] > 0)


def _shrink_release(cfg, s, c):
    return _shrink(cfg, s, c)._replace(shrinking=c), 0


action("shrink.release", ("cache",), cache_domain,
       "kmem_cache_shrink from outside the worker (vmscan, /sys/kernel/slab)")(
    (_shrink_guard, _shrink_release))


def _shrink_done_guard(cfg, s, c):
    return Eq(s.shrinking, c)


def _shrink_done(cfg, s, c):
    s = _fail(s, Eq(s.cache[c], FREED), USE_AFTER_FREE)
    return s._replace(shrinking=NONE), 0


action("shrink.done", ("cache",), cache_domain,
       "kmem_cache_shrink returns, still touching the cache on the way out")(
    (_shrink_done_guard, _shrink_done))


# ---------------------------------------------------------------- root cache destruction


def _rd_start_guard(cfg, s, r):
    objects_gone = And(*(Eq(objects(s, cache_id(cfg, r, m)), 0) for m in range(1, cfg.n_memcgs)))
    sync = Eq(s.offline_memcg, NONE) if cfg.profile != "offline_vs_root_destroy" else True
    return And(s.root_alive[r], Eq(s.rdestroy_root, NONE), objects_gone, sync)


def _rd_start(cfg, s, r):
    return s._replace(rdestroy_root=r, rdestroy_next=1, rdestroy_step=RD_MARK), 0


action("root_destroy.start", ("root",), root_domain,
       "kmem_cache_destroy(root) -> kmem_cache_destroy_memcg_children (3.8)")(
    (_rd_start_guard, _rd_start))


def _rd_at(step):
    def guard(cfg, s, r):
        return And(Eq(s.rdestroy_root, r), s.rdestroy_next < cfg.n_memcgs,
                   Eq(s.rdestroy_step, step))

    return guard


def _rd_child(cfg, s, r, fn):
    out = s
    for m in range(1, cfg.n_memcgs):
        out = If(Eq(s.rdestroy_next, m), fn(s, cache_id(cfg, r, m)), out)
    return out


def _rd_mark(cfg, s, r):
    """c->dead = false, so the shrink inside destroy cannot re-arm the worker."""
    def mark(s, c):
        return If(s.slot[c], _set(s, c, dead=False), s)

    return _rd_child(cfg, s, r, mark)._replace(rdestroy_step=RD_CANCEL), 0


def _rd_mark_guard(cfg, s, r):
    """Before touching the children, wait for the creation works queued for this
    root (flush_memcg_workqueue, 4.18): none can be queued any more, and each
    finds the root dying."""
    if cfg.profile == "create_vs_root_destroy":
        return _rd_at(RD_MARK)(cfg, s, r)
    flushed = And(*(Not(Or(s.create_pending[c], s.half_created[c]))
                    for c in (cache_id(cfg, r, m) for m in range(1, cfg.n_memcgs))))
    return And(_rd_at(RD_MARK)(cfg, s, r), flushed)


action("root_destroy.clear_dead", ("root",), root_domain,
       "kmem_cache_destroy_memcg_children: c->dead = false (3.8), after "
       "flush_memcg_workqueue (4.18)")((_rd_mark_guard, _rd_mark))


def _rd_cancel(cfg, s, r):
    """cancel_work_sync, first half: try_to_grab_pending takes a queued item off
    the queue; a running one is then waited for (RD_WAIT)."""
    def cancel(s, c):
        if cfg.profile == "root_destroy_no_cancel":
            return s
        w = s.work[c]
        return _set(s, c, work=If(Eq(w, PENDING), IDLE, w), requeued=False)

    waits = Or(*(And(Eq(s.rdestroy_next, m), _running(s.work[cache_id(cfg, r, m)]))
                 for m in range(1, cfg.n_memcgs)))
    if cfg.profile == "root_destroy_no_cancel":
        waits = False
    return _rd_child(cfg, s, r, cancel)._replace(
        rdestroy_step=If(waits, RD_WAIT, RD_DESTROY)), 0


action("root_destroy.cancel_work", ("root",), root_domain,
       "kmem_cache_destroy_memcg_children: cancel_work_sync -> try_to_grab_pending (3.8)")(
    (_rd_at(RD_CANCEL), _rd_cancel))


def _rd_flush_guard(cfg, s, r):
    """flush_work: the running item has returned."""
    def returned(m):
        w = s.work[cache_id(cfg, r, m)]
        return Implies(Eq(s.rdestroy_next, m), Or(Eq(w, IDLE), Eq(w, PENDING)))

    return And(_rd_at(RD_WAIT)(cfg, s, r), *(returned(m) for m in range(1, cfg.n_memcgs)))


def _rd_flush(cfg, s, r):
    return s._replace(rdestroy_step=RD_DESTROY), 0


action("root_destroy.flush_work", ("root",), root_domain,
       "kmem_cache_destroy_memcg_children: cancel_work_sync -> flush_work (3.8)")(
    (_rd_flush_guard, _rd_flush))


def _rd_destroy(cfg, s, r):
    def destroy(s, c):
        return If(s.slot[c], _kmem_cache_destroy(cfg, s, c), s)

    s2 = _rd_child(cfg, s, r, destroy)
    last = s.rdestroy_next + 1 >= cfg.n_memcgs
    done = s2._replace(root_alive=replace_at(s2.root_alive, r, If(last, False, True)),
                       rdestroy_root=If(last, NONE, r), rdestroy_next=If(last, 0, s.rdestroy_next + 1),
                       rdestroy_step=RD_MARK)
    return done, 0


def _rd_destroy_guard(cfg, s, r):
    """kmem_cache_destroy(c) takes slab_mutex, which an outside shrinker holds."""
    def not_shrinking(m):
        return Implies(Eq(s.rdestroy_next, m), Not(Eq(s.shrinking, cache_id(cfg, r, m))))

    return And(_rd_at(RD_DESTROY)(cfg, s, r),
               *(not_shrinking(m) for m in range(1, cfg.n_memcgs)))


action("root_destroy.destroy_child", ("root",), root_domain,
       "kmem_cache_destroy_memcg_children: kmem_cache_destroy(c) (3.8)")(
    (_rd_destroy_guard, _rd_destroy))


#: who takes each step, for traces: the action's prefix names the thread
THREADS = {"alloc": "task", "free": "task", "fork": "task", "exit": "task",
           "put_task_struct": "rcu", "create_work": "kworker", "destroy_work": "kworker",
           "offline": "rmdir", "root_destroy": "rmmod", "shrink": "shrink"}
