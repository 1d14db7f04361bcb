---------------------------- MODULE KmemcgState ----------------------------
(***************************************************************************)
(* The state of the whole controller: the scope constants, one variable    *)
(* per state field, the names of their values, and the facts about a state *)
(* that the kernel code tests.  KmemcgAccounting and KmemcgCaches define   *)
(* the actions on it, Kmemcg the behaviour and the properties.             *)
(*                                                                         *)
(* Memcgs, tasks and root caches are numbered from 0; memcg 0 is the root  *)
(* memcg.  The child cache of root cache r for memcg m is c = r * N + m,   *)
(* and only non-root memcgs have one.  Counters are in bytes, as in the    *)
(* kernel; page counts are in pages.                                       *)
(***************************************************************************)
EXTENDS Integers, Sequences, FiniteSets, KmemcgCounters

CONSTANTS
    Memcgs,         \* the memcgs' names, root first: memcg i is Memcgs[i + 1]
    Parents,        \* Parents[i + 1] is the parent of memcg i; NONE for the root
    Tasks,          \* the tasks' names: task t is Tasks[t + 1]
    Roots,          \* the root slab caches' names: root r is Roots[r + 1]
    BootRoots,      \* TRUE: every root cache is created at boot; FALSE: every
                    \* root slot starts empty and KmemCacheCreate fills it
    BootTasks,      \* TRUE: every task exists at boot, in the root memcg;
                    \* FALSE: every task slot starts empty and Fork fills it
    BootMemcgs,     \* TRUE: every memcg is online at boot and every non-root
                    \* one kmem-active with kmem limit KmemLimit;
                    \* FALSE: only the root memcg exists at boot
    KmemLimits,     \* values, in bytes, written to memory.kmem.limit_in_bytes
    ResLimits,      \* values, in bytes, written to memory.limit_in_bytes
    KmemLimit,      \* the kmem limit of a memcg online at boot (BootMemcgs)
    MaxPages,       \* state constraint: kmem and user pages, summed, at most this
    MaxCachePages,  \* state constraint: each cache's slab pages at most this
    MaxFailcnt,     \* state constraint: every failcnt at most this
    SlabOrder,      \* a slab is 2^SlabOrder pages ...
    ObjsPerSlab,    \* ... holding ObjsPerSlab objects
    ThreadSizeOrder, \* a thread stack is 2^ThreadSizeOrder pages (THREAD_SIZE_ORDER:
                    \* 1 on x86_64 in 3.8-3.10)
    Orders,         \* the orders of the charge path's page allocations
    Unlimited,      \* RESOURCE_MAX, the limit of an unlimited counter (see below)
    Actions,        \* the names of the model actions Next may take
    Fixes,          \* the fixes in force (see FixNames)
    SecondAdmin,    \* TRUE: a second administrator runs mkdir and attach while
                    \* the first is inside a kmem limit write
    RootObjects,    \* TRUE: the objects a root cache serves itself are kept on
                    \* its own slabs (slabs[RootOwn(r)]); FALSE: forgotten
    FatalSignals,   \* TRUE: a task may charge a user page with a fatal signal
                    \* pending, which __mem_cgroup_try_charge bypasses to the root
    PercpuStock,    \* TRUE: res charges go through the per-cpu stock (memcg_stock)
    ChargeBatch,    \* CHARGE_BATCH, in pages (the kernel's 32)
    NrCpus          \* the cpus, each with a stock; task t runs on cpu t % NrCpus

(***************************************************************************)
(* Unlimited stands for the kernel's RESOURCE_MAX (LLONG_MAX bytes), which *)
(* TLC's 32-bit integers cannot hold.  A limit is only ever compared with  *)
(* a usage, so any value above every reachable usage behaves the same; the *)
(* configurations use 2^31 - 1.  The model keeps the real value, and a     *)
(* limit is unlimited in one exactly when it is unlimited in the other.    *)
(***************************************************************************)

VARIABLES
    \* per memcg
    lifecycle,       \* ABSENT, ONLINE, OFFLINE (removed by rmdir) or MEMCG_FREED
    use_hierarchy,   \* memory.use_hierarchy
    hier,            \* its counters charge its parent's (res.parent != NULL)
    kmem_active,     \* KMEM_ACCOUNTED_ACTIVE (memcg_kmem_is_active)
    kmemcg_id,       \* memcg->kmemcg_id, NONE until it has one
    res,             \* memcg->res, a counter record
    kmem,            \* memcg->kmem, a counter record
    kmem_pages,      \* committed kmem pages of the charge path (PageCgroupUsed)
    user_pages,      \* user (LRU) pages charged to it
    \* per task
    task_memcg,      \* the memcg (cgroup) of the task; NONE: no such task
    task_pc,         \* how far its kmem page charge has got: IDLE, KMEM_CHARGED, RES_CHARGED
    task_charge,     \* the memcg its charge in flight is for, or NONE
    task_order,      \* the order of that charge (2^order pages), 0 when idle
    task_stack,      \* the memcg its thread stack is charged to, or NONE
    \* the administrator's activation path (memcg_update_kmem_limit)
    admin_pc,        \* its next step
    admin_memcg,     \* the memcg being activated, or NONE
    static_key,      \* the count of memcg_kmem_enabled_key
    \* per root cache
    root_alive,      \* not yet destroyed (its module is loaded)
    \* per (root cache, memcg) child cache
    cache,           \* NOCACHE, ALIVE or FREED
    dead,            \* memcg_params->dead
    slabs,           \* its slabs by fill: slabs[c][k] of them hold k objects
                     \* (with RootObjects, also a root's own: slabs[RootOwn(r)])
    work,            \* the destroy work_struct: IDLE, PENDING or running (RUN_*)
    requeued,        \* queued again while it was running
    create_pending,  \* a creation work item is queued for it
    half_created,    \* list_before_slot only: listed, slot not yet set
    slot,            \* root->memcg_params->memcg_caches[id] points here
    listed,          \* on its memcg's memcg_slab_caches list
    \* the walking threads
    offline_memcg,   \* the memcg whose cache list offline walks, NONE when none
    offline_done,    \* per root: that walk has visited its cache
    rdestroy_root,   \* the root cache being destroyed, NONE when none is
    rdestroy_next,   \* the memcg whose child cache root destruction is at
    rdestroy_step,   \* its step for that child: RD_MARK, RD_CANCEL, RD_WAIT, RD_DESTROY
    shrinking,       \* the cache an outside shrinker is inside, NONE when idle
    error,           \* the first error any step made (OK when none)
    \* per memcg, its death (KmemcgDeath)
    kmem_dead,       \* KMEM_ACCOUNTED_DEAD (memcg_kmem_mark_dead)
    destroy_pc,      \* how far mem_cgroup_css_free -> kmem_cgroup_destroy has got
    death_puts,      \* ghost: how many times the death reference was put
    \* per task, its mm (mm k is the one task k created; NONE once exited),
    \* and per mm, mm->owner: the task its charges follow (NONE: no mm k)
    task_mm,
    mm_owner,
    \* per mm, per memcg: its anonymous pages charged there; per memcg: its
    \* page cache pages (both a part of user_pages)
    mm_anon,
    page_cache,
    \* per cpu, its memcg_stock: the memcg cached (NONE: none) and the res
    \* pages precharged to it, not yet used (no cpus without PercpuStock)
    stock_memcg,
    stock_pages,
    \* per memcg, memcg->move_charge_at_immigrate (0-3: bit 0 moves an attached
    \* task's anonymous pages, bit 1 file pages, which none maps here)
    move_charge

vars == << lifecycle, use_hierarchy, hier, kmem_active, kmemcg_id, res, kmem,
           kmem_pages, user_pages, task_memcg, task_pc, task_charge, task_order,
           task_stack, admin_pc, admin_memcg, static_key, root_alive, cache, dead, slabs,
           work, requeued, create_pending, half_created, slot, listed,
           offline_memcg, offline_done, rdestroy_root, rdestroy_next,
           rdestroy_step, shrinking, error, kmem_dead, destroy_pc, death_puts,
           task_mm, mm_owner, mm_anon, page_cache, stock_memcg, stock_pages,
           move_charge >>

\* Groups of variables, so that each action's UNCHANGED stays short.
memcgVars   == << lifecycle, use_hierarchy, hier, kmem_active, kmemcg_id, destroy_pc,
                  move_charge >>
\* The DEAD bit and the death puts change only with a kmem uncharge (or
\* css_free), so they go with the counters.
\* The per-cpu stock changes only with a res charge (or a drain of it).
stockVars   == << stock_memcg, stock_pages >>
counterVars == << res, kmem, kmem_dead, death_puts, stock_memcg, stock_pages >>
deadVars    == << kmem_dead, death_puts >>
pageVars    == << kmem_pages, user_pages, mm_anon, page_cache >>
taskVars    == << task_memcg, task_pc, task_charge, task_order, task_stack, task_mm,
                  mm_owner >>
\* A task's mm and the mms' owners (in taskVars), for the actions that list
\* task variables one by one.
mmVars      == << task_mm, mm_owner >>
adminVars   == << admin_pc, admin_memcg, static_key >>
cacheVars   == << root_alive, cache, dead, slabs, work, requeued,
                  create_pending, half_created, slot, listed >>
walkVars    == << offline_memcg, offline_done, rdestroy_root, rdestroy_next,
                  rdestroy_step, shrinking >>
\* What the cache actions leave alone, and what the accounting actions do.
accountingVars == << memcgVars, pageVars, taskVars, adminVars >>
slabCacheVars  == << cacheVars, walkVars, error >>

-----------------------------------------------------------------------------
(***************************************************************************)
(* Names for numbers.  The values are the model's (model/state.py,         *)
(* model/destruction/state.py, model/config.py), so that states read the   *)
(* same in both.                                                           *)
(***************************************************************************)

ROOT == 0
NONE == -1
PAGE_SIZE == 4096

\* A memcg's cgroup directory: not yet created, online, removed by rmdir.
ABSENT == 0
ONLINE == 1
OFFLINE == 2
MEMCG_FREED == 3  \* __mem_cgroup_free has run; the path may be mkdir'ed again

\* mem_cgroup_css_free -> kmem_cgroup_destroy, the step it takes next.
CSS_LIVE == 0        \* not begun
CSS_READ_USAGE == 1  \* memcg_kmem_mark_dead done, next: the kmem usage read
CSS_TEST_DEAD == 2   \* usage read as 0, next: test_and_clear DEAD and the puts
CSS_DONE == 3        \* the base reference put

\* Where a task's kmem page allocation stands between
\* memcg_kmem_newpage_charge and memcg_kmem_commit_charge (task_pc), and
\* where a cache's destroy work_struct stands (work).  Both start at IDLE.
IDLE == 0          \* no allocation in flight; no work queued or running
KMEM_CHARGED == 1  \* memcg->kmem charged, memcg->res not yet
RES_CHARGED == 2   \* both charged: the page is being allocated
PENDING == 1       \* queued
RUN_CHECK == 2     \* running, next: DestroyWorkCheck
RUN_SHRINK == 3    \* running, next: DestroyWorkShrink
RUN_DESTROY == 4   \* running, next: DestroyWorkDestroy

\* The step the administrator's activation (memcg_update_kmem_limit)
\* takes next.
ADMIN_IDLE == 0   \* no activation under way
CACHE_SIZES == 1  \* next: ActivateUpdateCacheSizes
KEY_INC == 2      \* next: ActivateStaticKeyInc
SET_ACTIVE == 3   \* next: ActivateSetActive

\* The counter a reset names: memory.* files are res, memory.kmem.* kmem.
RES_COUNTER == 0
KMEM_COUNTER == 1

\* The kmem_cache of a (root, memcg) pair.
NOCACHE == 0  \* never created (or creation has not run yet)
ALIVE == 1
FREED == 2    \* kmem_cache_destroy freed it

\* The contexts memcg_kmem_get_cache never charges (3.8 memcontrol.h): the
\* root cache serves them, and nothing is queued.
KTHREAD == 0       \* !current->mm, PF_KTHREAD
INTERRUPT == 1     \* in_interrupt()
NOFAIL == 2        \* __GFP_NOFAIL
FATAL_SIGNAL == 3  \* fatal_signal_pending(current)
UNACCOUNTED == 4   \* the key off, or the task's memcg cannot account kmem

\* What went wrong; only the first error is recorded (see Fail).
OK == 0
USE_AFTER_FREE == 1
DOUBLE_DESTROY == 2
NULL_DEREF == 3

\* Root destruction's step for its current child.
RD_MARK == 0
RD_CANCEL == 1
RD_DESTROY == 2
RD_WAIT == 3  \* cancel_work_sync grabbed the pending bit, waits for a running item

ActionNames ==
    { "charge.kmem", "charge.res", "charge.commit", "charge.abort",
      "charge.commit_unpatched", "free.uncharge", "user.charge", "user.uncharge",
      "mkdir", "rmdir", "force_empty", "attach", "use_hierarchy.write",
      "limit.write", "kmem_limit.write",
      "activate.update_cache_sizes", "activate.static_key_inc",
      "activate.set_active", "max_usage.reset", "failcnt.reset",
      "anon.charge", "pagecache.charge",
      "alloc", "alloc.partial", "alloc.root", "free.object", "free.release_pages",
      "spawn", "fork", "exit", "put_task_struct",
      "create_work.publish", "create_work.set_slot",
      "offline.mark_dead", "offline.done",
      "destroy_work.start", "destroy_work.check", "destroy_work.shrink",
      "destroy_work.destroy", "shrink.release", "shrink.done",
      "root_destroy.start", "root_destroy.clear_dead",
      "root_destroy.cancel_work", "root_destroy.flush_work",
      "root_destroy.destroy_child", "kmem_cache_create",
      "css_free.mark_dead", "css_free.read_usage", "css_free.put", "mem_cgroup_free",
      "stock.drain", "move_charge.write" }

(***************************************************************************)
(* The fixes.  Each is in force in the 3.8-3.10 controller as this model   *)
(* takes it (a fix upstream made later, or that the code had from the      *)
(* start); a configuration leaves one out to reproduce the bug it closes.  *)
(*   kmem_limit_check        a kmem charge checks the kmem limit           *)
(*   kmem_rollback           a failed res charge rolls the kmem one back   *)
(*   destroy_skips_pending   the last page does not queue destroy work     *)
(*                           that is already pending (v6; v5 re-inits it)  *)
(*   destroy_returns_when_requeued  the destroy worker returns, rather     *)
(*                           than free its cache, when it was queued again *)
(*                           while running [I]                             *)
(*   last_page_schedules_destroy    the last page of a dead cache queues   *)
(*                           its destruction (gone in 3.16)                *)
(*   destroy_waits_for_shrinker     kmem_cache_destroy waits out an        *)
(*                           outside shrinker (slab_mutex; R10, 3.16)      *)
(*   offline_excludes_root_destroy  offline and root-cache destruction     *)
(*                           exclude each other (memcg_slab_mutex; R4)     *)
(*   create_checks_online    creation does nothing for an offline memcg    *)
(*   active_after_key        ACTIVE is set only after static_key_slow_inc  *)
(*                           (3.8; without it, W11)                        *)
(*   activation_excludes_mkdir      memcg_create_mutex holds mkdir off the *)
(*                           whole activation (3.9; without it, 3.8's      *)
(*                           unlocked tail, W10)                           *)
(*   activation_refuses_over_limit  a first kmem limit write below the     *)
(*                           usage is -EBUSY, not VM_BUG_ON (found here)   *)
(*                           (R13)                                         *)
(*   root_dying_flush        root destruction marks the root dying and     *)
(*                           flushes its creation works (4.18)             *)
(*   root_destroy_cancels_work      root destruction cancels a child's     *)
(*                           destroy work (v6)                             *)
(*   uncharge_tests_dead_ancestors  memcg_uncharge_kmem tests DEAD on each *)
(*                           ancestor it brought to 0, not only its own    *)
(*                           memcg (W2; found here [I])                    *)
(*   slot_before_list        creation publishes the slot with the list     *)
(*                           entry (R5, 3.14)                              *)
(***************************************************************************)
FixNames ==
    { "kmem_limit_check", "kmem_rollback", "destroy_skips_pending",
      "destroy_returns_when_requeued", "last_page_schedules_destroy",
      "destroy_waits_for_shrinker", "offline_excludes_root_destroy",
      "create_checks_online", "root_dying_flush",
      "root_destroy_cancels_work", "uncharge_tests_dead_ancestors",
      "slot_before_list", "active_after_key",
      "activation_excludes_mkdir", "activation_refuses_over_limit" }

N == Len(Memcgs)
R == Len(Roots)
MemcgIds == 0 .. N - 1
NonRoot == 1 .. N - 1
TaskIds == 0 .. Len(Tasks) - 1
RootIds == 0 .. R - 1
CounterIds == { RES_COUNTER, KMEM_COUNTER }

RootOf(c) == c \div N
MemcgOf(c) == c % N
CacheOf(r, m) == r * N + m

\* The child caches: one per root cache and non-root memcg.
Caches == { CacheOf(r, m) : r \in RootIds, m \in NonRoot }
\* A root cache's own slabs are at the root memcg's number, which owns no
\* child cache; with RootObjects they are kept, and objects freed from them.
RootOwn(r) == CacheOf(r, ROOT)
SlabCaches == Caches \cup (IF RootObjects THEN { RootOwn(r) : r \in RootIds } ELSE {})
ContextIds == { KTHREAD, INTERRUPT, NOFAIL, FATAL_SIGNAL, UNACCOUNTED }

\* How many objects a slab may hold, how many one an object can be freed
\* from holds, and how many a partial slab (neither empty nor full) holds.
Fills == 0 .. ObjsPerSlab
UsedFills == 1 .. ObjsPerSlab
PartialFills == 1 .. ObjsPerSlab - 1

ParentOf(m) == Parents[m + 1]
Children(m) == { c \in NonRoot : ParentOf(c) = m }

ASSUME ConstantsOK ==
    /\ N >= 1
    /\ Len(Parents) = N
    /\ ParentOf(ROOT) = NONE
    /\ \A m \in NonRoot : ParentOf(m) \in 0 .. m - 1   \* a tree, parents first
    /\ BootRoots \in BOOLEAN
    /\ BootTasks \in BOOLEAN
    /\ BootMemcgs \in BOOLEAN
    /\ SecondAdmin \in BOOLEAN
    /\ RootObjects \in BOOLEAN
    /\ FatalSignals \in BOOLEAN
    /\ MaxPages \in Nat
    /\ MaxCachePages \in Nat
    /\ MaxFailcnt \in Nat
    /\ SlabOrder \in 0 .. 10         \* MAX_ORDER
    /\ ObjsPerSlab \in Nat /\ ObjsPerSlab >= 1
    /\ ThreadSizeOrder \in 0 .. 3
    /\ Orders \subseteq 0 .. 10 /\ Orders # {}   \* MAX_ORDER
    /\ Unlimited \in Nat
    /\ \A v \in KmemLimits \cup ResLimits \cup {KmemLimit} : v \in Nat /\ v <= Unlimited
    /\ Actions \subseteq ActionNames
    /\ Fixes \subseteq FixNames
    /\ PercpuStock \in BOOLEAN
    /\ ChargeBatch \in Nat /\ ChargeBatch >= 1
    /\ NrCpus \in Nat /\ NrCpus >= 1

-----------------------------------------------------------------------------
(***************************************************************************)
(* Sums, slab geometry, and the counters' walks.                           *)
(***************************************************************************)

\* The sum of f[k] for k in lo .. hi.
RECURSIVE SumFrom(_, _, _)
SumFrom(f, lo, hi) == IF lo > hi THEN 0 ELSE f[lo] + SumFrom(f, lo + 1, hi)

\* A cache's slabs, h = slabs[c], as the slab allocator counts them: h[k]
\* slabs hold k objects each.  memcg_params->nr_pages is every page of them
\* (memcg_bind_pages), empty slabs included.
SlabPages == 2^SlabOrder
SlabBytes == SlabPages * PAGE_SIZE
NoSlabs == [k \in Fills |-> 0]
NumSlabs(h) == SumFrom(h, 0, ObjsPerSlab)
NrPages(h) == SlabPages * NumSlabs(h)
RECURSIVE ObjectsFrom(_, _)
ObjectsFrom(h, k) == IF k > ObjsPerSlab THEN 0 ELSE k * h[k] + ObjectsFrom(h, k + 1)
Objects(h) == ObjectsFrom(h, 1)
HasPartial(h) == \E k \in PartialFills : h[k] > 0

\* A thread stack is 2^ThreadSizeOrder pages (THREADINFO_GFP_ACCOUNTED).
StackPages == 2^ThreadSizeOrder
StackBytes == StackPages * PAGE_SIZE

Fresh == NewCounter(Unlimited)

\* Ranges the invariants check against, named so that TLC computes them once.
MemcgOrNone   == {NONE} \cup MemcgIds
NonRootOrNone == {NONE} \cup NonRoot
RootOrNone    == {NONE} \cup RootIds
CacheOrNone   == {NONE} \cup Caches
\* The kmem limits a memcg can have: its boot limit, or one an admin wrote.
KmemLimitValues == KmemLimits \cup {KmemLimit, Unlimited}

(***************************************************************************)
(* A memcg's counter has a parent pointer exactly when the memcg was       *)
(* created under a parent with use_hierarchy set (hier), and charges and   *)
(* uncharges walk the parent pointers to the top.  Walk(m) is the levels a *)
(* charge to memcg m walks, nearest first.                                 *)
(***************************************************************************)
RECURSIVE Walk(_)
Walk(m) ==
    IF ParentOf(m) # NONE /\ hier[m]
    THEN << m >> \o Walk(ParentOf(m))
    ELSE << m >>

\* Whether d's charges reach m's counters: d is m, or charges its parent
\* and the parent's charges reach m.
RECURSIVE Reaches(_, _)
Reaches(d, m) == d = m \/ (ParentOf(d) # NONE /\ hier[d] /\ Reaches(ParentOf(d), m))

-----------------------------------------------------------------------------
(***************************************************************************)
(* Facts about a state that the kernel code tests.                         *)
(***************************************************************************)

TasksIn(m) == { t \in TaskIds : task_memcg[t] = m }      \* cgroup_task_count

OnlineChildren(m) == { c \in Children(m) : lifecycle[c] = ONLINE }

\* memcg_has_children: the memcg has use_hierarchy and a child cgroup.
HasChildren(m) == use_hierarchy[m] /\ OnlineChildren(m) # {}

\* memcg_can_account_kmem: a kmem-active memcg other than the root.
CanAccountKmem(m) == m # ROOT /\ kmem_active[m]

\* memcg_kmem_enabled() && memcg_can_account_kmem: an allocation of a task
\* of memcg m is charged to m (a slab page, a thread stack).
Accountable(m) == static_key > 0 /\ CanAccountKmem(m)

\* Two tasks can share an mm: fork is in scope, with two tasks.  Elsewhere
\* every live task owns its mm (Spawn), and the owner's memcg is its own.
ThreadsInScope == Len(Tasks) > 1 /\ "fork" \in Actions

\* mem_cgroup_from_task(task->mm->owner): the memcg that
\* try_get_mem_cgroup_from_mm charges for task t (3.8).
OwnerMemcg(t) ==
    IF ~ThreadsInScope THEN task_memcg[t]
    ELSE IF task_mm[t] = NONE THEN NONE
    ELSE task_memcg[mm_owner[task_mm[t]]]

\* The memcg a user page of task t may be committed to (3.8): its mm owner's,
\* or, with FatalSignals, the root: a task with TIF_MEMDIE or a fatal signal
\* pending takes __mem_cgroup_try_charge's early bypass to root_mem_cgroup.
UserChargeMemcg(t, m) ==
    \/ OwnerMemcg(t) = m
    \/ FatalSignals /\ m = ROOT /\ OwnerMemcg(t) # NONE   \* a live task with an mm

(***************************************************************************)
(* User memory and reclaim at U (model/actions/reclaim.py).  A res charge  *)
(* that fails at a level (res_counter_charge's limit_fail_at, the failing  *)
(* ancestor mem_over_limit) reclaims that level's subtree                  *)
(* (try_to_free_mem_cgroup_pages over mem_cgroup_iter) and tries again     *)
(* when that freed something; with nothing freed it fails -ENOMEM (no OOM  *)
(* killer).  Only page cache is reclaimable: no swap for anonymous pages,  *)
(* and never kernel memory.  The scopes hold fewer pages than one pass's   *)
(* target (SWAP_CLUSTER_MAX), so a pass frees all of the subtree's page    *)
(* cache.  A res charge and its reclaim change res, user_pages and         *)
(* page_cache, kept together as a record.                                  *)
(***************************************************************************)

\* Page cache can exist in the scope, and so can anonymous pages.
ReclaimInScope == "pagecache.charge" \in Actions
AnonInScope == "anon.charge" \in Actions

UserMem == [res |-> res, user_pages |-> user_pages, page_cache |-> page_cache]
SetUserMem(u) ==
    /\ res' = u.res
    /\ user_pages' = u.user_pages
    /\ page_cache' = u.page_cache

\* The pinned user pages of m: neither an mm's anonymous pages nor page cache.
PinnedPages(m) ==
    user_pages[m] - SumFrom([k \in TaskIds |-> mm_anon[k][m]], 0, Len(Tasks) - 1)
                  - page_cache[m]

\* res_counter_charge's limit_fail_at: the first level of w over its limit.
RECURSIVE FailAt(_, _, _)
FailAt(c, w, n) ==
    IF w = << >> THEN NONE
    ELSE IF c[Head(w)].usage + n > c[Head(w)].limit THEN Head(w)
    ELSE FailAt(c, Tail(w), n)

\* The page cache of memcg d that reclaim at memcg over frees.
Freed(u, over, d) == IF over # NONE /\ Reaches(d, over) THEN u.page_cache[d] ELSE 0

\* Each freed page uncharged from its memcg's walk, memcg d up (the root's
\* counter is never charged).
RECURSIVE UnchargeFreed(_, _, _, _)
UnchargeFreed(c, u, over, d) ==
    IF d >= N THEN c
    ELSE UnchargeFreed(IF d = ROOT \/ Freed(u, over, d) = 0 THEN c
                       ELSE Uncharge(c, Walk(d), PAGE_SIZE * Freed(u, over, d)),
                       u, over, d + 1)

\* try_to_free_mem_cgroup_pages(over): over's subtree's page cache freed.
Reclaim(u, over) ==
    [res        |-> UnchargeFreed(u.res, u, over, 0),
     user_pages |-> [d \in MemcgIds |-> u.user_pages[d] - Freed(u, over, d)],
     page_cache |-> [d \in MemcgIds |-> u.page_cache[d] - Freed(u, over, d)]]

RECURSIVE TryChargeFrom(_, _, _, _)
TryChargeFrom(u, m, n, tries) ==
    LET r == Charge(u.res, Walk(m), n)
        tried == [u EXCEPT !.res = r.counters]
        over == FailAt(u.res, Walk(m), n)
    IN  IF \/ r.ok \/ tries = 0 \/ ~ReclaimInScope
           \/ \A d \in MemcgIds : Freed(tried, over, d) = 0
        THEN [u |-> tried, ok |-> r.ok]
        ELSE TryChargeFrom(Reclaim(tried, over), m, n, tries - 1)

\* __mem_cgroup_try_charge of n bytes to memcg m (3.8): one try per level of
\* its walk, and the last (a failure higher up reclaims a bigger subtree).
TryCharge(m, n) == TryChargeFrom(UserMem, m, n, Len(Walk(m)))

\* The activation is inside static_key_slow_inc with ACTIVE already set
\* (without active_after_key): jump_label_update has patched the charge site
\* and not yet the commit and uncharge sites, and the count is still 0.
KeyPatching ==
    /\ "active_after_key" \notin Fixes
    /\ admin_pc = KEY_INC
    /\ static_key = 0

\* memcg_kmem_newpage_charge's branch is patched in and m accounts kmem.
NewpageChargeAccounts(m) == (static_key > 0 \/ KeyPatching) /\ CanAccountKmem(m)

\* The static key count minus the active memcgs during an activation.
ActivationKeyOffset ==
    IF "active_after_key" \in Fixes
    THEN IF admin_pc = SET_ACTIVE THEN 1 ELSE 0
    ELSE IF admin_pc = KEY_INC THEN -1 ELSE 0

\* ida_simple_get(&kmem_limited_groups, 0, ...): the lowest unused kmemcg_id
\* (N when every id below N is taken).
RECURSIVE FreeIdFrom(_)
FreeIdFrom(k) ==
    IF k >= N \/ \A i \in MemcgIds : kmemcg_id[i] # k THEN k ELSE FreeIdFrom(k + 1)
LowestFreeId == FreeIdFrom(0)

AdminIdle == admin_pc = ADMIN_IDLE

\* How many tasks have a charge in flight for memcg m at one of the pcs.
InFlightTo(m, pcs) ==
    Cardinality({ t \in TaskIds : task_pc[t] \in pcs /\ task_charge[t] = m })

\* The pages of those charges: 2^order each (alloc_pages, 3.8).
InFlightPagesTo(m, pcs) ==
    SumFrom([t \in TaskIds |-> IF task_pc[t] \in pcs /\ task_charge[t] = m
                               THEN 2 ^ task_order[t] ELSE 0], 0, Len(Tasks) - 1)

\* The slab pages of memcg m's caches of roots r .. R - 1, and m's stack
\* pages: the stacks charged to m, whether the task is still in m, moved,
\* or exited.
RECURSIVE CachePagesFrom(_, _)
CachePagesFrom(m, r) ==
    IF r >= R THEN 0 ELSE NrPages(slabs[CacheOf(r, m)]) + CachePagesFrom(m, r + 1)
CachePagesOf(m) == IF m = ROOT THEN 0 ELSE CachePagesFrom(m, 0)
StackPagesOf(m) == StackPages * Cardinality({ t \in TaskIds : task_stack[t] = m })

\* The first error: code, if cond holds and no step has erred before.
Fail(cond, code) == IF cond /\ error = OK THEN code ELSE error

(***************************************************************************)
(* memcg_charge_kmem(memcg, n) as the slab allocator and fork call it, in  *)
(* one step: kmem through m's walk first (no reclaim), then res with its   *)
(* reclaim (TryCharge); a failed res charge                                *)
(* uncharges the kmem one again (kmem_rollback).  The result is the new    *)
(* counters and whether both charges stuck.  The charge path below takes   *)
(* the same two charges in two steps (ChargeKmem, ChargeRes).              *)
(***************************************************************************)
KmemCharge(c, w, n) ==
    IF "kmem_limit_check" \in Fixes
    THEN Charge(c, w, n)
    ELSE [counters |-> ChargeIgnoringLimit(c, w, n), ok |-> TRUE]

MemcgChargeKmem(m, n) ==
    LET w == Walk(m)
        k == KmemCharge(kmem, w, n)
        r == TryCharge(m, n)
    IN  [ok   |-> k.ok /\ r.ok,
         kmem |-> IF k.ok /\ ~r.ok /\ "kmem_rollback" \in Fixes
                  THEN Uncharge(k.counters, w, n)
                  ELSE k.counters,
         u    |-> IF k.ok THEN r.u ELSE UserMem]

\* memcg_uncharge_kmem (3.8-3.10 order): res first, kmem last, through the
\* walk of the memcg the pages were charged to.  A level whose kmem usage is
\* then 0 and whose DEAD bit is set has it cleared and its death reference
\* put (memcg_kmem_test_and_clear_dead -> mem_cgroup_put).  The levels tested
\* are m's own (res_counter_uncharge returns m's usage), or with
\* uncharge_tests_dead_ancestors every level of the walk (W2).
DeadTested(m) ==
    IF "uncharge_tests_dead_ancestors" \in Fixes THEN Walk(m) ELSE << m >>

MemcgUnchargeKmem(m, n) ==
    LET w == Walk(m)
        k == Uncharge(kmem, w, n)
        t == DeadTested(m)
        puts == { d \in MemcgIds : (\E i \in 1 .. Len(t) : t[i] = d)
                                   /\ k[d].usage = 0 /\ kmem_dead[d] }
    IN  /\ res' = Uncharge(res, w, n)
        /\ kmem' = k
        /\ UNCHANGED stockVars   \* uncharges never go through the stock
        /\ kmem_dead' = [d \in MemcgIds |-> IF d \in puts THEN FALSE ELSE kmem_dead[d]]
        /\ death_puts' = [d \in MemcgIds |-> IF d \in puts THEN death_puts[d] + 1
                                                         ELSE death_puts[d]]
-----------------------------------------------------------------------------
(***************************************************************************)
(* The per-cpu charge stock (mm/memcontrol.c, 3.8; domain section 9).      *)
(* __mem_cgroup_try_charge takes nr_pages from the cpu's stock when it     *)
(* caches the memcg and holds enough (consume_stock, up to CHARGE_BATCH    *)
(* pages); else it charges res max(CHARGE_BATCH, nr_pages) pages, retries  *)
(* the exact nr_pages when that batch fails (CHARGE_RETRY: the batch's     *)
(* failcnt stays counted), and puts what a batch charged over nr_pages in  *)
(* the stock (refill_stock, which first drains a stock caching another     *)
(* memcg).  kmem never goes through it.  Without PercpuStock there are no  *)
(* cpus, and a res charge is one Charge of the pages, exact.  The model's  *)
(* functions are model/actions/stock.py.                                   *)
(***************************************************************************)
CpuIds == IF PercpuStock THEN 0 .. NrCpus - 1 ELSE {}
CpuOf(t) == t % NrCpus

\* drain_stock: the stock's pages are uncharged from its memcg's res walk.
DrainedRes(c, cpu, sm, sp) ==
    IF sm[cpu] # NONE /\ sp[cpu] > 0 THEN Uncharge(c, Walk(sm[cpu]), PAGE_SIZE * sp[cpu])
                                      ELSE c

\* __mem_cgroup_try_charge's res side for n pages on cpu, with no reclaim:
\* the new res, stock and whether the charge succeeded.  Without PercpuStock,
\* one Charge of the pages (user.charge's __GFP_NORETRY).
StockCharge(m, n, cpu) ==
    IF ~PercpuStock
    THEN LET r == Charge(res, Walk(m), PAGE_SIZE * n)
         IN  [res |-> r.counters, sm |-> stock_memcg, sp |-> stock_pages, ok |-> r.ok]
    ELSE IF n <= ChargeBatch /\ stock_memcg[cpu] = m /\ stock_pages[cpu] >= n
    THEN [res |-> res, sm |-> stock_memcg,
          sp |-> [stock_pages EXCEPT ![cpu] = @ - n], ok |-> TRUE]
    ELSE LET batch == Max(ChargeBatch, n)
             b == Charge(res, Walk(m), PAGE_SIZE * batch)
             e == Charge(b.counters, Walk(m), PAGE_SIZE * n)
             same == stock_memcg[cpu] = m
         IN  IF b.ok /\ batch > n
             THEN [res |-> IF same THEN b.counters
                                   ELSE DrainedRes(b.counters, cpu, stock_memcg, stock_pages),
                   sm |-> [stock_memcg EXCEPT ![cpu] = m],
                   sp |-> [stock_pages EXCEPT ![cpu] = (IF same THEN @ ELSE 0) + batch - n],
                   ok |-> TRUE]
             ELSE IF b.ok
             THEN [res |-> b.counters, sm |-> stock_memcg, sp |-> stock_pages, ok |-> TRUE]
             ELSE IF batch > n
             THEN [res |-> e.counters, sm |-> stock_memcg, sp |-> stock_pages, ok |-> e.ok]
             ELSE [res |-> b.counters, sm |-> stock_memcg, sp |-> stock_pages, ok |-> FALSE]

\* The pages the stocks hold for memcg d itself.
StockHeld(d) ==
    IF PercpuStock
    THEN SumFrom([cpu \in CpuIds |-> IF stock_memcg[cpu] = d THEN stock_pages[cpu] ELSE 0],
                 0, NrCpus - 1)
    ELSE 0

\* drain_all_stock_sync(m): every cpu whose stock caches m or a memcg whose
\* counters charge m's (mem_cgroup_same_or_subtree) is drained, in cpu order.
RECURSIVE DrainAllFrom(_, _, _, _, _)
DrainAllFrom(m, cpu, c, sm, sp) ==
    IF cpu \notin CpuIds THEN [res |-> c, sm |-> sm, sp |-> sp]
    ELSE IF sm[cpu] # NONE /\ \E i \in 1 .. Len(Walk(sm[cpu])) : Walk(sm[cpu])[i] = m
    THEN DrainAllFrom(m, cpu + 1, DrainedRes(c, cpu, sm, sp), [sm EXCEPT ![cpu] = NONE],
                      [sp EXCEPT ![cpu] = 0])
    ELSE DrainAllFrom(m, cpu + 1, c, sm, sp)
DrainAllStock(m) == DrainAllFrom(m, 0, res, stock_memcg, stock_pages)

\* __mem_cgroup_try_charge of n pages on cpu as the kernel page charge path
\* takes it: through the stock with PercpuStock, with no reclaim (no scope
\* with the stock has page cache: the model's Config.validate refuses one),
\* else exact, reclaiming page cache at U (TryCharge).  The new user memory
\* (res, user_pages, page_cache), stock, and whether the charge succeeded.
ResCharge(m, n, cpu) ==
    IF PercpuStock
    THEN LET s == StockCharge(m, n, cpu)
         IN  [u |-> [UserMem EXCEPT !.res = s.res], sm |-> s.sm, sp |-> s.sp, ok |-> s.ok]
    ELSE LET e == TryCharge(m, PAGE_SIZE * n)
         IN  [u |-> e.u, sm |-> stock_memcg, sp |-> stock_pages, ok |-> e.ok]
=============================================================================
