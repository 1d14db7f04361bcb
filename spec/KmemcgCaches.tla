---------------------------- MODULE KmemcgCaches ----------------------------
(***************************************************************************)
(* Per-memcg slab caches and their end (Linux 3.8-3.15, mm/memcontrol.c    *)
(* and mm/slab_common.c).                                                  *)
(*                                                                         *)
(* Each root slab cache (dentry, inode, ...) gets one child cache per      *)
(* kmem-accounting memcg, created lazily by a work item the first time a   *)
(* task of the memcg allocates from the root.  A child cache ends in one   *)
(* of two ways.  When its memcg goes offline (Rmdir),                      *)
(* mem_cgroup_destroy_all_caches marks it dead and queues its destroy      *)
(* work; the work item shrinks the cache and destroys it once it holds no  *)
(* slab page, and the release hook of the last page (memcg_release_pages)  *)
(* queues the work again.  When the root cache itself is destroyed         *)
(* (module unload), kmem_cache_destroy_memcg_children clears dead, cancels *)
(* the work and destroys every child.  Memcg offline, root destruction,    *)
(* the workers and an outside kmem_cache_shrink all run concurrently; each *)
(* is a process whose program counter is part of the state (work[c] for   *)
(* the destroy work_struct, offline_memcg and offline_done for the offline *)
(* walk, rdestroy_root, rdestroy_next and rdestroy_step for root           *)
(* destruction, shrinking for the shrinker), and each step below is a      *)
(* point where another thread may run.                                     *)
(*                                                                         *)
(* A cache's slabs are counted by how many objects they hold; a slab is    *)
(* 2^SlabOrder pages of ObjsPerSlab objects.  A new slab charges its pages *)
(* to the memcg's kmem and res counters (memcg_charge_kmem) and a released *)
(* one uncharges them, so the counters can be checked against what the    *)
(* caches hold (I4 in Kmemcg), and a full counter makes allocation fail,   *)
(* which is how charging meets the cache lifecycle.                        *)
(***************************************************************************)
EXTENDS KmemcgState

Running(w) == w \in {RUN_CHECK, RUN_SHRINK, RUN_DESTROY}

(***************************************************************************)
(* schedule_work(&cachep->memcg_params->destroy) on cache c: queueing      *)
(* pending work changes nothing, and a running item is queued again        *)
(* (requeued).  With reinit, v5's INIT_WORK on a pending item: the item    *)
(* then runs twice, as if queued again.  The work_struct lives in the      *)
(* cache, so queueing a freed cache's work is a use after free.            *)
(***************************************************************************)
QueuedWork(c) == IF work[c] = IDLE THEN PENDING ELSE work[c]
QueuedAgain(c, reinit) ==
    requeued[c] \/ Running(work[c]) \/ (reinit /\ work[c] = PENDING)

(***************************************************************************)
(* mem_cgroup_destroy_cache, called when cache c's last page is gone:      *)
(* queue the destruction of a dead cache, unless it is already pending     *)
(* (destroy_skips_pending, the v6 fix; v5 re-inits the pending item).      *)
(* Without last_page_schedules_destroy (3.16) the last page going away     *)
(* queues nothing.                                                         *)
(***************************************************************************)
LastPageQueues(c) ==
    /\ "last_page_schedules_destroy" \in Fixes
    /\ dead[c]
    /\ "destroy_skips_pending" \in Fixes => work[c] # PENDING
LastPageReinit == "destroy_skips_pending" \notin Fixes

(***************************************************************************)
(* Giving cache c's slabs back to the page allocator down to the           *)
(* histogram h: each slab released is uncharged from the cache's memcg     *)
(* (__memcg_kmem_uncharge_pages), and when the cache's last page goes the  *)
(* release hook (memcg_release_pages) calls mem_cgroup_destroy_cache       *)
(* (Queues).  ReleaseSlabs sets the slabs and the counters; the caller     *)
(* says what becomes of the work item.                                     *)
(***************************************************************************)
Gone(c, h) == NumSlabs(slabs[c]) - NumSlabs(h)
Queues(c, h) == Gone(c, h) > 0 /\ NumSlabs(h) = 0 /\ LastPageQueues(c)

\* A root cache's own slabs (RootOwn) were never charged (no __GFP_KMEMCG),
\* and their dead bit is never set, so the hook queues nothing for them.
ReleaseSlabs(c, h) ==
    /\ slabs' = [slabs EXCEPT ![c] = h]
    /\ IF MemcgOf(c) = ROOT THEN UNCHANGED counterVars
       ELSE MemcgUnchargeKmem(MemcgOf(c), Gone(c, h) * SlabBytes)

\* The release hook's effect on c's work item, and the error it may make;
\* a root cache's own slabs have no hook (is_root_cache).
ReleaseHook(c, h) ==
    IF MemcgOf(c) = ROOT THEN UNCHANGED << work, requeued, error >>
    ELSE
    /\ work' = [work EXCEPT ![c] = IF Queues(c, h) THEN QueuedWork(c) ELSE @]
    /\ requeued' = [requeued EXCEPT ![c] = IF Queues(c, h) THEN QueuedAgain(c, LastPageReinit)
                                                            ELSE @]
    /\ error' = IF Queues(c, h) THEN Fail(cache[c] = FREED, USE_AFTER_FREE) ELSE error

\* __kmem_cache_shrink: every empty slab goes.
Shrunk(c) == [slabs[c] EXCEPT ![0] = 0]

\* The work function returns; an item queued again meanwhile is pending.
Finished(rq) == IF rq THEN PENDING ELSE IDLE

(***************************************************************************)
(* kmem_cache_destroy(c): __kmem_cache_shutdown releases the empty slabs   *)
(* (uncharging them), then the cache is freed with its slot and list       *)
(* entry (memcg_release_cache).  A cache with objects survives ("Slab      *)
(* cache still has objects"), its empty slabs released all the same.       *)
(* Destroying a freed cache is an error.  With finish, the destroy worker  *)
(* returns afterwards, and its item is pending again if it was queued      *)
(* again meanwhile.                                                        *)
(***************************************************************************)
KmemCacheDestroy(c, finish) ==
    LET alive == cache[c] = ALIVE
        h == IF alive THEN Shrunk(c) ELSE slabs[c]
        freed == alive /\ Objects(slabs[c]) = 0
        q == Queues(c, h)
        rq == IF q THEN QueuedAgain(c, LastPageReinit) ELSE requeued[c]
    IN  /\ ReleaseSlabs(c, h)
        /\ cache' = IF freed THEN [cache EXCEPT ![c] = FREED] ELSE cache
        /\ slot' = IF freed THEN [slot EXCEPT ![c] = FALSE] ELSE slot
        /\ listed' = IF freed THEN [listed EXCEPT ![c] = FALSE] ELSE listed
        \* a queue here finds the cache alive: no use after free
        /\ error' = Fail(cache[c] = FREED, DOUBLE_DESTROY)
        /\ work' = [work EXCEPT ![c] = IF finish THEN Finished(rq)
                                       ELSE IF q THEN QueuedWork(c) ELSE @]
        /\ requeued' = [requeued EXCEPT ![c] = IF finish THEN FALSE ELSE rq]

-----------------------------------------------------------------------------
(***************************************************************************)
(* Tasks allocate and free objects.  An allocation is by some task of the  *)
(* memcg, one not modelled as a task (the tasks of Tasks are the ones      *)
(* whose stacks are charged).                                              *)
(***************************************************************************)

\* A task of online memcg m may allocate from root r while r is loaded
\* and not being destroyed; its allocations go to m's cache only while m
\* is kmem-accountable (__memcg_kmem_get_cache).
AllocFrom(c) ==
    /\ lifecycle[MemcgOf(c)] = ONLINE
    /\ root_alive[RootOf(c)]
    /\ rdestroy_root # RootOf(c)
    /\ Accountable(MemcgOf(c))

(***************************************************************************)
(* The root cache serves an object itself, on its own slabs h: a partial   *)
(* slab (the fullest: which one the allocator's list yields is not kept),  *)
(* else an empty one, else a new slab, whose pages are not charged.        *)
(***************************************************************************)
RECURSIVE FullestPartial(_, _)
FullestPartial(h, k) == IF k < 1 THEN 0 ELSE IF h[k] > 0 THEN k ELSE FullestPartial(h, k - 1)
RootServed(h) ==
    LET k == FullestPartial(h, ObjsPerSlab - 1)
    IN  IF k > 0 THEN [h EXCEPT ![k] = @ - 1, ![k + 1] = @ + 1]
        ELSE IF h[0] > 0 THEN [h EXCEPT ![0] = @ - 1, ![1] = @ + 1]
        ELSE [h EXCEPT ![1] = @ + 1]

(***************************************************************************)
(* __memcg_kmem_get_cache / memcg_create_cache_enqueue, memcg_charge_kmem  *)
(* (3.8).  If the root's slot for the memcg is not yet published, the task *)
(* queues the cache's creation and the object comes from the root cache,   *)
(* uncharged (kept on the root's own slabs with RootObjects, else not      *)
(* tracked).  Otherwise, when the cache                                    *)
(* has no partial slab (AllocPartial takes those), the object goes to an   *)
(* empty slab, else to a new slab, whose pages are charged first, kmem     *)
(* then res: over a limit the charge fails (failcnt + 1) and so does the   *)
(* allocation (-ENOMEM, a return value the state does not keep).           *)
(***************************************************************************)
Alloc(c) ==
    LET h == slabs[c]
        ch == MemcgChargeKmem(MemcgOf(c), SlabBytes)
    IN  /\ AllocFrom(c)
        /\ ~(slot[c] /\ HasPartial(h))
        /\ IF ~slot[c] THEN
              /\ create_pending' = [create_pending EXCEPT ![c] = TRUE]
              /\ slabs' = IF RootObjects
                          THEN [slabs EXCEPT ![RootOwn(RootOf(c))] = RootServed(@)]
                          ELSE slabs
              /\ UNCHANGED << counterVars, user_pages, page_cache, error >>
           ELSE IF h[0] > 0 THEN
              /\ slabs' = [slabs EXCEPT ![c][0] = @ - 1, ![c][1] = @ + 1]
              /\ error' = Fail(cache[c] = FREED, USE_AFTER_FREE)
              /\ UNCHANGED << counterVars, user_pages, page_cache, create_pending >>
           ELSE
              /\ kmem' = ch.kmem
              /\ SetUserMem(ch.u)   \* the res charge may reclaim page cache first
              /\ slabs' = IF ch.ok THEN [slabs EXCEPT ![c][1] = @ + 1] ELSE slabs
              /\ error' = Fail(cache[c] = FREED, USE_AFTER_FREE)
              /\ UNCHANGED create_pending
        /\ UNCHANGED << memcgVars, kmem_pages, mm_anon, taskVars, adminVars, deadVars,
                        stockVars, root_alive, cache, dead, work, requeued,
                        half_created, slot, listed, walkVars >>

(***************************************************************************)
(* kmem_cache_alloc -> cache_alloc_refill: an object from a partial slab   *)
(* (3.8).  The allocator fills a partial slab before an empty or a new     *)
(* one; which partial slab is its list order (SLAB's slabs_partial, SLUB's *)
(* cpu and partial slabs), so a slab of any fill k may be the one.         *)
(***************************************************************************)
AllocPartial(c, k) ==
    /\ AllocFrom(c)
    /\ slot[c]
    /\ slabs[c][k] > 0
    /\ slabs' = [slabs EXCEPT ![c][k] = @ - 1, ![c][k + 1] = @ + 1]
    /\ error' = Fail(cache[c] = FREED, USE_AFTER_FREE)
    /\ UNCHANGED << accountingVars, counterVars, root_alive, cache, dead, work,
                    requeued, create_pending, half_created, slot, listed, walkVars >>

(***************************************************************************)
(* memcg_kmem_get_cache keeps the root cache for an allocation in context  *)
(* x, one the kernel never charges (a kernel thread, in_interrupt(),       *)
(* __GFP_NOFAIL, a fatal signal pending; 3.8 memcontrol.h), whatever the   *)
(* task's memcg: the root serves it and nothing is queued.  Only a scope   *)
(* that keeps the root's objects (RootObjects) has the step.               *)
(***************************************************************************)
AllocRoot(r, x) ==
    /\ RootObjects
    /\ root_alive[r]
    /\ rdestroy_root # r
    /\ slabs' = [slabs EXCEPT ![RootOwn(r)] = RootServed(@)]
    /\ UNCHANGED << accountingVars, counterVars, root_alive, cache, dead, work,
                    requeued, create_pending, half_created, slot, listed, walkVars,
                    error >>

\* kmem_cache_free: the object leaves a slab holding k objects, which keeps
\* its pages, even once empty (3.8); c may be a root's own (RootOwn).
FreeObject(c, k) ==
    /\ slabs[c][k] > 0
    /\ slabs' = [slabs EXCEPT ![c][k] = @ - 1, ![c][k - 1] = @ + 1]
    /\ UNCHANGED << accountingVars, counterVars, root_alive, cache, dead, work,
                    requeued, create_pending, half_created, slot, listed, walkVars,
                    error >>

(***************************************************************************)
(* kmem_cache_free of a slab's last object, after which the allocator      *)
(* frees the slab: kmem_freepages -> memcg_release_pages (3.8).  Only      *)
(* that slab goes; at zero pages the release hook may queue the destroy    *)
(* work of a dead cache.                                                   *)
(***************************************************************************)
FreeReleasePages(c) ==
    LET h == [slabs[c] EXCEPT ![1] = @ - 1]
    IN  /\ slabs[c][1] > 0
        /\ ReleaseSlabs(c, h)
        /\ ReleaseHook(c, h)
        /\ UNCHANGED << accountingVars, root_alive, cache, dead, create_pending,
                        half_created, slot, listed, walkVars >>

-----------------------------------------------------------------------------
(***************************************************************************)
(* The creation work item.                                                 *)
(***************************************************************************)

(***************************************************************************)
(* memcg_create_kmem_cache: kmem_cache_dup, list_add, memcg_caches[idx] =  *)
(* new (3.8).  Under memcg_cache_mutex the worker re-checks the slot, then *)
(* creates the cache, links it into the memcg's list and publishes it in   *)
(* the root's slot, all in one step.  It creates nothing for a root that   *)
(* is gone, nothing for one being destroyed (root_dying_flush: 4.18 marks  *)
(* it dying first), and nothing for a memcg already offline                *)
(* (create_checks_online).  The work holds its root cache (cw->cachep), so *)
(* running after the root is freed reads freed memory.  Without            *)
(* slot_before_list the slot store is a step of its own                    *)
(* (CreateWorkSetSlot).                                                    *)
(***************************************************************************)
CreateWorkPublish(c) ==
    LET r == RootOf(c)
        twoSteps == "slot_before_list" \notin Fixes
        fresh == /\ ~slot[c]
                 /\ cache[c] # ALIVE
                 /\ root_alive[r]
                 /\ "root_dying_flush" \in Fixes => rdestroy_root # r
                 /\ "create_checks_online" \in Fixes => lifecycle[MemcgOf(c)] = ONLINE
    IN  /\ create_pending[c]
        /\ ~half_created[c]
        /\ create_pending' = [create_pending EXCEPT ![c] = FALSE]
        /\ IF fresh
           THEN /\ cache' = [cache EXCEPT ![c] = ALIVE]
                /\ dead' = [dead EXCEPT ![c] = FALSE]
                /\ slabs' = [slabs EXCEPT ![c] = NoSlabs]
                /\ work' = [work EXCEPT ![c] = IDLE]
                /\ requeued' = [requeued EXCEPT ![c] = FALSE]
                /\ listed' = [listed EXCEPT ![c] = TRUE]
                /\ slot' = [slot EXCEPT ![c] = ~twoSteps]
                /\ half_created' = [half_created EXCEPT ![c] = twoSteps]
                /\ UNCHANGED error
           ELSE /\ error' = Fail(~root_alive[r], USE_AFTER_FREE)
                /\ UNCHANGED << cache, dead, slabs, work, requeued, listed, slot,
                                half_created >>
        /\ UNCHANGED << accountingVars, counterVars, root_alive, walkVars >>

\* Without slot_before_list: the slot store after memcg_cache_list_add
\* (3.8-3.13).
CreateWorkSetSlot(c) ==
    /\ half_created[c]
    /\ half_created' = [half_created EXCEPT ![c] = FALSE]
    /\ slot' = [slot EXCEPT ![c] = TRUE]
    /\ UNCHANGED << accountingVars, counterVars, root_alive, cache, dead, slabs,
                    work, requeued, create_pending, listed, walkVars, error >>

-----------------------------------------------------------------------------
(***************************************************************************)
(* Memcg offline: after Rmdir, mem_cgroup_destroy_all_caches walks the     *)
(* memcg's cache list, one entry at a time.                                *)
(***************************************************************************)

(***************************************************************************)
(* mem_cgroup_destroy_all_caches: dead = true, schedule_work (3.10).  The  *)
(* walk follows the memcg's cache list from its head, and list_add inserts *)
(* at the head, so it meets the newest cache first: reverse creation       *)
(* order, which the state does not keep.  So the walk may visit any listed *)
(* cache it has not visited yet.  That cache is marked dead and its        *)
(* destroy work queued.  The entry is turned into a cache through the      *)
(* root's slot (memcg_params_to_cache); a listed cache whose slot is not   *)
(* yet published is a NULL dereference.  (3.10 holds slab_caches_mutex for *)
(* the whole walk; letting list changes interleave with it only adds       *)
(* behaviours.)                                                            *)
(***************************************************************************)
OfflineMarkDead(m, r) ==
    LET c == CacheOf(r, m)
    IN  /\ offline_memcg = m
        /\ ~offline_done[r]
        /\ listed[c]
        /\ offline_done' = [offline_done EXCEPT ![r] = TRUE]
        /\ IF slot[c]
           THEN /\ dead' = [dead EXCEPT ![c] = TRUE]
                /\ work' = [work EXCEPT ![c] = QueuedWork(c)]
                /\ requeued' = [requeued EXCEPT ![c] = QueuedAgain(c, FALSE)]
                /\ error' = Fail(cache[c] = FREED, USE_AFTER_FREE)
           ELSE /\ error' = Fail(TRUE, NULL_DEREF)
                /\ UNCHANGED << dead, work, requeued >>
        /\ UNCHANGED << accountingVars, counterVars, root_alive, cache, slabs,
                        create_pending, half_created, slot, listed, offline_memcg,
                        rdestroy_root, rdestroy_next, rdestroy_step, shrinking >>

\* The walk has visited every listed cache; mem_cgroup_css_offline returns.
OfflineDone(m) ==
    /\ offline_memcg = m
    /\ \A r \in RootIds : listed[CacheOf(r, m)] => offline_done[r]
    /\ offline_memcg' = NONE
    /\ offline_done' = [r \in RootIds |-> FALSE]
    /\ UNCHANGED << accountingVars, counterVars, cacheVars, rdestroy_root,
                    rdestroy_next, rdestroy_step, shrinking, error >>

-----------------------------------------------------------------------------
(***************************************************************************)
(* The destroy work item, kmem_cache_destroy_work_func, in three steps;    *)
(* work[c] is its program counter.                                         *)
(***************************************************************************)

\* process_one_work: kmem_cache_destroy_work_func begins (3.10).
DestroyWorkStart(c) ==
    /\ work[c] = PENDING
    /\ work' = [work EXCEPT ![c] = RUN_CHECK]
    /\ error' = Fail(cache[c] = FREED, USE_AFTER_FREE)
    /\ UNCHANGED << accountingVars, counterVars, root_alive, cache, dead, slabs,
                    requeued, create_pending, half_created, slot, listed, walkVars >>

\* kmem_cache_destroy_work_func: nr_pages != 0 ? shrink : destroy (3.10).
DestroyWorkCheck(c) ==
    /\ work[c] = RUN_CHECK
    /\ work' = [work EXCEPT ![c] = IF NrPages(slabs[c]) = 0 THEN RUN_DESTROY ELSE RUN_SHRINK]
    /\ error' = Fail(cache[c] = FREED, USE_AFTER_FREE)
    /\ UNCHANGED << accountingVars, counterVars, root_alive, cache, dead, slabs,
                    requeued, create_pending, half_created, slot, listed, walkVars >>

(***************************************************************************)
(* kmem_cache_destroy_work_func: kmem_cache_shrink, no retry after FIX7    *)
(* (3.10).  If the shrink released the last page, the release hook has     *)
(* queued this running item again and the worker returns; otherwise it     *)
(* gives up.                                                               *)
(***************************************************************************)
DestroyWorkShrink(c) ==
    LET h == Shrunk(c)
        q == Queues(c, h)
    IN  /\ work[c] = RUN_SHRINK
        /\ ReleaseSlabs(c, h)
        /\ work' = [work EXCEPT ![c] = Finished(IF q THEN QueuedAgain(c, LastPageReinit)
                                                    ELSE requeued[c])]
        /\ requeued' = [requeued EXCEPT ![c] = FALSE]
        /\ error' = IF q THEN Fail(cache[c] = FREED, USE_AFTER_FREE) ELSE error
        /\ UNCHANGED << accountingVars, root_alive, cache, dead, create_pending,
                        half_created, slot, listed, walkVars >>

(***************************************************************************)
(* kmem_cache_destroy_work_func: kmem_cache_destroy(cachep) (3.10).        *)
(* kmem_cache_destroy waits out an outside shrinker (slab_mutex,           *)
(* destroy_waits_for_shrinker).  The work_struct lives in the cache: if    *)
(* the last page went away while this run was in progress, the release     *)
(* hook queued the item again, and freeing the cache now leaves that       *)
(* queued item in freed memory (3.10 as merged).  With                     *)
(* destroy_returns_when_requeued the worker returns instead, and the       *)
(* queued run destroys.                                                    *)
(***************************************************************************)
DestroyWorkDestroy(c) ==
    /\ work[c] = RUN_DESTROY
    /\ "destroy_waits_for_shrinker" \in Fixes => shrinking # c
    /\ IF "destroy_returns_when_requeued" \in Fixes /\ requeued[c]
       THEN /\ work' = [work EXCEPT ![c] = PENDING]
            /\ requeued' = [requeued EXCEPT ![c] = FALSE]
            /\ UNCHANGED << counterVars, cache, slabs, slot, listed, error >>
       ELSE KmemCacheDestroy(c, TRUE)
    /\ UNCHANGED << accountingVars, root_alive, dead, create_pending, half_created,
                    walkVars >>

-----------------------------------------------------------------------------
(***************************************************************************)
(* An outside shrinker: vmscan, or a write to /sys/kernel/slab.            *)
(***************************************************************************)

(***************************************************************************)
(* kmem_cache_shrink from outside the worker (vmscan, /sys/kernel/slab).   *)
(* Only a shrink with an empty slab to release is a step: one with nothing *)
(* to do changes nothing (and, repeated forever, would starve the worker   *)
(* out of slab_mutex, which is no kernel behaviour).                       *)
(***************************************************************************)
ShrinkRelease(c) ==
    /\ shrinking = NONE
    /\ cache[c] = ALIVE
    /\ slot[c]
    /\ slabs[c][0] > 0
    /\ ReleaseSlabs(c, Shrunk(c))
    /\ ReleaseHook(c, Shrunk(c))
    /\ shrinking' = c
    /\ UNCHANGED << accountingVars, root_alive, cache, dead, create_pending,
                    half_created, slot, listed, offline_memcg, offline_done,
                    rdestroy_root, rdestroy_next, rdestroy_step >>

\* kmem_cache_shrink returns, still touching the cache on the way out.
ShrinkDone(c) ==
    /\ shrinking = c
    /\ shrinking' = NONE
    /\ error' = Fail(cache[c] = FREED, USE_AFTER_FREE)
    /\ UNCHANGED << accountingVars, counterVars, cacheVars, offline_memcg,
                    offline_done, rdestroy_root, rdestroy_next, rdestroy_step >>

-----------------------------------------------------------------------------
(***************************************************************************)
(* Root cache destruction: kmem_cache_destroy(root) first destroys the     *)
(* root's children, kmem_cache_destroy_memcg_children, one memcg at a time *)
(* from memcg 1 (rdestroy_next), in three or four steps each               *)
(* (rdestroy_step).                                                        *)
(***************************************************************************)

(***************************************************************************)
(* kmem_cache_destroy(root) -> kmem_cache_destroy_memcg_children (3.8).    *)
(* Module unload starts with every object of the root's children freed,    *)
(* and (offline_excludes_root_destroy) not while a memcg is going offline. *)
(***************************************************************************)
RootDestroyStart(r) ==
    /\ root_alive[r]
    /\ rdestroy_root = NONE
    /\ \A m \in NonRoot : Objects(slabs[CacheOf(r, m)]) = 0
    /\ RootObjects => Objects(slabs[RootOwn(r)]) = 0
    /\ "offline_excludes_root_destroy" \in Fixes => offline_memcg = NONE
    /\ rdestroy_root' = r
    /\ rdestroy_next' = 1
    /\ rdestroy_step' = RD_MARK
    \* the root's own empty slabs go (__kmem_cache_shutdown; see the model)
    /\ slabs' = IF RootObjects THEN [slabs EXCEPT ![RootOwn(r)] = NoSlabs] ELSE slabs
    /\ UNCHANGED << accountingVars, counterVars, root_alive, cache, dead, work, requeued,
                    create_pending, half_created, slot, listed, offline_memcg,
                    offline_done, shrinking, error >>

\* Root destruction of r is at step of its current child,
\* CacheOf(r, rdestroy_next).
RootDestroyAt(r, step) ==
    /\ rdestroy_root = r
    /\ rdestroy_next \in NonRoot
    /\ rdestroy_step = step

(***************************************************************************)
(* kmem_cache_destroy_memcg_children: c->dead = false (3.8), so that the   *)
(* shrink inside kmem_cache_destroy cannot re-arm the worker.  The child   *)
(* is found through the root's slot.  Before touching the first child,     *)
(* 4.18 waits for the creation works queued for this root                  *)
(* (flush_memcg_workqueue, root_dying_flush): none can be queued any more, *)
(* since the root is dying, and each that ran found it so.                 *)
(***************************************************************************)
RootDestroyClearDead(r) ==
    LET c == CacheOf(r, rdestroy_next)
    IN  /\ RootDestroyAt(r, RD_MARK)
        /\ "root_dying_flush" \in Fixes =>
              \A m \in NonRoot : ~create_pending[CacheOf(r, m)] /\ ~half_created[CacheOf(r, m)]
        /\ dead' = IF slot[c] THEN [dead EXCEPT ![c] = FALSE] ELSE dead
        /\ rdestroy_step' = RD_CANCEL
        /\ UNCHANGED << accountingVars, counterVars, root_alive, cache, slabs, work,
                        requeued, create_pending, half_created, slot, listed,
                        offline_memcg, offline_done, rdestroy_root, rdestroy_next,
                        shrinking, error >>

(***************************************************************************)
(* kmem_cache_destroy_memcg_children: cancel_work_sync(&c->destroy) (3.8), *)
(* in its two halves.  try_to_grab_pending first takes a queued item off   *)
(* the queue; then flush_work waits for a running one to return (RD_WAIT). *)
(* Without root_destroy_cancels_work it does neither.                      *)
(***************************************************************************)
RootDestroyCancelWork(r) ==
    LET c == CacheOf(r, rdestroy_next)
        cancels == "root_destroy_cancels_work" \in Fixes
    IN  /\ RootDestroyAt(r, RD_CANCEL)
        /\ IF cancels
           THEN /\ work' = [work EXCEPT ![c] = IF @ = PENDING THEN IDLE ELSE @]
                /\ requeued' = [requeued EXCEPT ![c] = FALSE]
           ELSE UNCHANGED << work, requeued >>
        /\ rdestroy_step' = IF cancels /\ Running(work[c]) THEN RD_WAIT ELSE RD_DESTROY
        /\ UNCHANGED << accountingVars, counterVars, root_alive, cache, dead, slabs,
                        create_pending, half_created, slot, listed, offline_memcg,
                        offline_done, rdestroy_root, rdestroy_next, shrinking, error >>

RootDestroyFlushWork(r) ==
    /\ RootDestroyAt(r, RD_WAIT)
    /\ work[CacheOf(r, rdestroy_next)] \in {IDLE, PENDING}
    /\ rdestroy_step' = RD_DESTROY
    /\ UNCHANGED << accountingVars, counterVars, cacheVars, offline_memcg,
                    offline_done, rdestroy_root, rdestroy_next, shrinking, error >>

(***************************************************************************)
(* kmem_cache_destroy_memcg_children: kmem_cache_destroy(c) (3.8), which   *)
(* takes slab_mutex and so waits out an outside shrinker of c.  After the  *)
(* last memcg's child the root itself is gone.                             *)
(***************************************************************************)
RootDestroyDestroyChild(r) ==
    LET c == CacheOf(r, rdestroy_next)
        last == rdestroy_next + 1 >= N
    IN  /\ RootDestroyAt(r, RD_DESTROY)
        /\ shrinking # c
        /\ IF slot[c]
           THEN KmemCacheDestroy(c, FALSE)
           ELSE UNCHANGED << counterVars, cache, slabs, work, requeued, slot, listed,
                             error >>
        /\ root_alive' = IF last THEN [root_alive EXCEPT ![r] = FALSE] ELSE root_alive
        /\ rdestroy_root' = IF last THEN NONE ELSE r
        /\ rdestroy_next' = IF last THEN 0 ELSE rdestroy_next + 1
        /\ rdestroy_step' = RD_MARK
        /\ UNCHANGED << accountingVars, dead, create_pending, half_created,
                        offline_memcg, offline_done, shrinking >>

(***************************************************************************)
(* kmem_cache_create -> kmem_cache_create_memcg(NULL, ...) (3.8-3.10): a    *)
(* module load creates root cache r in its empty slot, or again once its    *)
(* unload has finished and nothing of the old cache is in flight.  One      *)
(* step: its whole body runs under slab_mutex, as does the activation's     *)
(* memcg_update_all_caches (model/actions/root_create.py).  The fresh       *)
(* cache has no memcg copy and no slab.                                     *)
(***************************************************************************)
KmemCacheCreate(r) ==
    /\ ~root_alive[r]
    /\ rdestroy_root # r
    /\ \A m \in NonRoot :
          LET c == CacheOf(r, m) IN
          /\ cache[c] # ALIVE
          /\ work[c] = IDLE
          /\ ~requeued[c]
          /\ ~create_pending[c]
          /\ ~half_created[c]
          /\ shrinking # c
    /\ root_alive' = [root_alive EXCEPT ![r] = TRUE]
    /\ cache' = [c \in Caches |-> IF RootOf(c) = r THEN NOCACHE ELSE cache[c]]
    /\ dead' = [c \in Caches |-> IF RootOf(c) = r THEN FALSE ELSE dead[c]]
    /\ slabs' = [c \in SlabCaches |-> IF RootOf(c) = r THEN NoSlabs ELSE slabs[c]]
    /\ slot' = [c \in Caches |-> IF RootOf(c) = r THEN FALSE ELSE slot[c]]
    /\ listed' = [c \in Caches |-> IF RootOf(c) = r THEN FALSE ELSE listed[c]]
    /\ UNCHANGED << accountingVars, counterVars, work, requeued, create_pending,
                    half_created, offline_memcg, offline_done, rdestroy_root,
                    rdestroy_next, rdestroy_step, shrinking, error >>
=============================================================================
