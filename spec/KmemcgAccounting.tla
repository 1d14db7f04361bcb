-------------------------- MODULE KmemcgAccounting --------------------------
(***************************************************************************)
(* Accounting in the memcg kernel-memory controller of Linux 3.8-3.10:     *)
(* the charge path, user pages, the cgroup tree, limits and the activation *)
(* of kmem accounting, and tasks with their thread stacks.                 *)
(*                                                                         *)
(* Each memcg has two res_counters: res, shared by user (LRU) pages and    *)
(* kernel pages, and kmem, for kernel pages only.  A kernel page           *)
(* allocation charges kmem first and res second (memcg_charge_kmem), gets  *)
(* the page from the allocator, and then commits the charge to the page    *)
(* (memcg_kmem_commit_charge).  A task can be preempted between any two of *)
(* these steps, so the charge path is a program counter per task           *)
(* (task_pc), and other tasks and the administrator see the half-charged   *)
(* states.  Accounting starts for a memcg only when a kmem limit is first  *)
(* written to it, and that activation is itself a sequence of steps with   *)
(* its own program counter (admin_pc): allocate a kmemcg id, patch the     *)
(* static key the allocator tests, then set the ACTIVE bit.                *)
(*                                                                         *)
(* Each action's comment names the kernel function it models, as the       *)
(* model's kernel= strings do (model/actions.py, model/destruction/).      *)
(***************************************************************************)
EXTENDS KmemcgState

(***************************************************************************)
(* The kmem charge path: memcg_kmem_newpage_charge -> memcg_charge_kmem    *)
(* (kmem first, then res) -> page allocation -> memcg_kmem_commit_charge.  *)
(* Each arrow is a preemption point, so each step is an action.  Task t's  *)
(* pc, the memcg it charges and the order of its allocation move together: *)
(* every step of the path takes the order, as the kernel's functions do    *)
(* (memcg_kmem_newpage_charge(gfp, &memcg, order), 3.8).  An order-o       *)
(* allocation is 2^o pages, PAGE_SIZE * 2^o bytes; SLUB's kmalloc_large    *)
(* (kmalloc_order) is one of order 2 and up.                               *)
(***************************************************************************)

GoTo(t, pc, memcg, order) ==
    /\ task_pc' = [task_pc EXCEPT ![t] = pc]
    /\ task_charge' = [task_charge EXCEPT ![t] = memcg]
    /\ task_order' = [task_order EXCEPT ![t] = order]

\* PAGE_SIZE << order: the bytes of task t's allocation in flight.
InFlightBytes(t) == PAGE_SIZE * 2 ^ task_order[t]

(***************************************************************************)
(* memcg_charge_kmem: res_counter_charge(&memcg->kmem), no reclaim (3.8).  *)
(* The charge path runs only once the static key is patched and only for a *)
(* kmem-active memcg; otherwise memcg_kmem_newpage_charge lets the         *)
(* allocation through uncharged (the model's charge.bypass, a stutter      *)
(* step, which Next leaves out).  Over the kmem limit the allocation fails *)
(* with -ENOMEM at once.  A task that does not exist (task_memcg = NONE)   *)
(* allocates nothing.                                                      *)
(***************************************************************************)
ChargeKmem(t, m, o) ==
    /\ task_pc[t] = IDLE
    /\ OwnerMemcg(t) = m   \* try_get_mem_cgroup_from_mm(current->mm)
    /\ NewpageChargeAccounts(m)
    /\ LET r == KmemCharge(kmem, Walk(m), PAGE_SIZE * 2 ^ o)
       IN  /\ kmem' = r.counters
           /\ IF r.ok THEN GoTo(t, KMEM_CHARGED, m, o) ELSE GoTo(t, IDLE, NONE, 0)
    /\ UNCHANGED << memcgVars, res, deadVars, stockVars, pageVars, task_memcg, task_stack,
                    mmVars, adminVars, slabCacheVars >>

(***************************************************************************)
(* memcg_charge_kmem: __mem_cgroup_try_charge, then kmem uncharged on      *)
(* -ENOMEM (3.8).  The res charge reclaims page cache at U, never kernel   *)
(* memory, and has no OOM killer; with PercpuStock it goes through the     *)
(* cpu's stock instead, without reclaim (ResCharge).  On failure the kmem  *)
(* charge is rolled back, unless the kmem_rollback fix is left out.        *)
(***************************************************************************)
ChargeRes(t, m) ==
    /\ task_pc[t] = KMEM_CHARGED
    /\ task_charge[t] = m
    /\ LET r == ResCharge(m, 2 ^ task_order[t], CpuOf(t))
       IN  /\ SetUserMem(r.u)
           /\ stock_memcg' = r.sm
           /\ stock_pages' = r.sp
           /\ kmem' = IF r.ok \/ "kmem_rollback" \notin Fixes
                      THEN kmem
                      ELSE Uncharge(kmem, Walk(m), InFlightBytes(t))
           /\ IF r.ok THEN GoTo(t, RES_CHARGED, m, task_order[t]) ELSE GoTo(t, IDLE, NONE, 0)
    /\ UNCHANGED << memcgVars, deadVars, kmem_pages, mm_anon, task_memcg, task_stack, mmVars,
                    adminVars,
                    slabCacheVars >>

(***************************************************************************)
(* memcg_kmem_commit_charge(page, memcg, order): pc->mem_cgroup = memcg,   *)
(* SetPageCgroupUsed (3.8).  Its 2^order pages now belong to m until they  *)
(* are freed.  Only at a patched site: the key's count is on.              *)
(***************************************************************************)
ChargeCommit(t, m) ==
    /\ task_pc[t] = RES_CHARGED
    /\ task_charge[t] = m
    /\ static_key > 0
    /\ kmem_pages' = [kmem_pages EXCEPT ![m] = @ + 2 ^ task_order[t]]
    /\ GoTo(t, IDLE, NONE, 0)
    /\ UNCHANGED << memcgVars, counterVars, user_pages, mm_anon, page_cache, task_memcg,
                    task_stack, mmVars,
                    adminVars, slabCacheVars >>

(***************************************************************************)
(* memcg_kmem_commit_charge with page == NULL: memcg_uncharge_kmem (3.8).  *)
(* The page allocator may fail for reasons the model does not track (low   *)
(* memory, order, fault injection), so after both charges either           *)
(* ChargeCommit or ChargeAbort may follow.                                 *)
(***************************************************************************)
ChargeAbort(t, m) ==
    /\ task_pc[t] = RES_CHARGED
    /\ task_charge[t] = m
    /\ static_key > 0
    /\ MemcgUnchargeKmem(m, InFlightBytes(t))
    /\ GoTo(t, IDLE, NONE, 0)
    /\ UNCHANGED << memcgVars, pageVars, task_memcg, task_stack, mmVars, adminVars,
                    slabCacheVars >>

(***************************************************************************)
(* memcg_kmem_commit_charge at a site static_key_slow_inc has not patched  *)
(* yet (W11): memcg_kmem_enabled() is false, so the charge is neither      *)
(* committed nor given back, whether the page came or not.                 *)
(***************************************************************************)
ChargeCommitUnpatched(t, m) ==
    /\ task_pc[t] = RES_CHARGED
    /\ task_charge[t] = m
    /\ static_key = 0
    /\ GoTo(t, IDLE, NONE, 0)
    /\ UNCHANGED << memcgVars, counterVars, pageVars, task_memcg, task_stack, mmVars,
                    adminVars, slabCacheVars >>

(***************************************************************************)
(* __memcg_kmem_uncharge_pages(page, order): uncharge pc->mem_cgroup,      *)
(* clear Used (3.8).  The 2^order pages are uncharged from the memcg they  *)
(* were committed to, whichever memcg the freeing task is in, and even     *)
(* after that memcg is removed.  kmem_pages counts pages, not allocations, *)
(* so any 2^order of them may go: more than the kernel's compound pages    *)
(* allow, and no less.                                                     *)
(***************************************************************************)
FreeUncharge(m, o) ==
    /\ kmem_pages[m] >= 2 ^ o
    /\ MemcgUnchargeKmem(m, PAGE_SIZE * 2 ^ o)
    /\ kmem_pages' = [kmem_pages EXCEPT ![m] = @ - 2 ^ o]
    /\ UNCHANGED << memcgVars, user_pages, mm_anon, page_cache, taskVars, adminVars,
                    slabCacheVars >>

-----------------------------------------------------------------------------
(***************************************************************************)
(* User pages share the res counter with kernel pages.                     *)
(***************************************************************************)

(***************************************************************************)
(* mem_cgroup_charge_common with __GFP_NORETRY: no reclaim, no OOM (3.8).  *)
(* __mem_cgroup_try_charge never charges the root memcg's counter.         *)
(***************************************************************************)
UserCharge(t, m) ==
    /\ task_pc[t] = IDLE
    /\ UserChargeMemcg(t, m)   \* try_get_mem_cgroup_from_mm(mm), or the bypass
    /\ IF m = ROOT
       THEN /\ user_pages' = [user_pages EXCEPT ![m] = @ + 1]
            /\ UNCHANGED << res, stockVars >>
       ELSE LET r == StockCharge(m, 1, CpuOf(t))   \* no reclaim
            IN  /\ res' = r.res
                /\ stock_memcg' = r.sm
                /\ stock_pages' = r.sp
                /\ user_pages' = IF r.ok
                                 THEN [user_pages EXCEPT ![m] = @ + 1]
                                 ELSE user_pages   \* -ENOMEM
    /\ UNCHANGED << memcgVars, kmem, deadVars, kmem_pages, mm_anon, page_cache, taskVars,
                    adminVars, slabCacheVars >>

\* __mem_cgroup_uncharge_common: res_counter_uncharge unless root (3.8).
UserUncharge(m) ==
    /\ PinnedPages(m) > 0   \* a pinned page: anonymous pages go with their mm
    /\ user_pages' = [user_pages EXCEPT ![m] = @ - 1]
    /\ res' = IF m = ROOT THEN res ELSE Uncharge(res, Walk(m), PAGE_SIZE)
    /\ UNCHANGED << memcgVars, kmem, deadVars, stockVars, kmem_pages, mm_anon, page_cache,
                    taskVars, adminVars, slabCacheVars >>

(***************************************************************************)
(* Anonymous pages and page cache (model/actions/user_memory.py), charged  *)
(* to the memcg of the task's mm owner with reclaim at U (TryCharge);      *)
(* the root's counter is never charged.  An anonymous page belongs to the  *)
(* task's mm until its last mmput; a page cache page to the group, until   *)
(* reclaim frees it.  -ENOMEM when the charge fails.                       *)
(***************************************************************************)
UserMemCharge(t, m, isCache) ==   \* a page cache page, else an anonymous one
    LET r == IF m = ROOT THEN [u |-> UserMem, ok |-> TRUE] ELSE TryCharge(m, PAGE_SIZE)
    IN  /\ res' = r.u.res
        /\ user_pages' = IF r.ok THEN [r.u.user_pages EXCEPT ![m] = @ + 1] ELSE r.u.user_pages
        /\ page_cache' = IF r.ok /\ isCache THEN [r.u.page_cache EXCEPT ![m] = @ + 1]
                         ELSE r.u.page_cache
        /\ mm_anon' = IF r.ok /\ ~isCache THEN [mm_anon EXCEPT ![task_mm[t]][m] = @ + 1]
                      ELSE mm_anon

\* do_anonymous_page -> mem_cgroup_newpage_charge (3.8).
AnonCharge(t, m) ==
    /\ task_pc[t] = IDLE
    /\ UserChargeMemcg(t, m)
    /\ UserMemCharge(t, m, FALSE)
    /\ UNCHANGED << memcgVars, kmem, deadVars, stockVars, kmem_pages, taskVars, adminVars,
                    slabCacheVars >>

\* add_to_page_cache_locked -> mem_cgroup_cache_charge (3.8).
PagecacheCharge(t, m) ==
    /\ task_pc[t] = IDLE
    /\ UserChargeMemcg(t, m)
    /\ UserMemCharge(t, m, TRUE)
    /\ UNCHANGED << memcgVars, kmem, deadVars, stockVars, kmem_pages, taskVars, adminVars,
                    slabCacheVars >>

(***************************************************************************)
(* drain_local_stock (3.8): the cpu's stock work, which drain_all_stock    *)
(* queues from a reclaim, or the CPU_DEAD notifier's drain_stock: the      *)
(* stock's pages are uncharged from its memcg's res, and it caches none.   *)
(***************************************************************************)
StockDrain(cpu) ==
    /\ stock_memcg[cpu] # NONE
    /\ res' = DrainedRes(res, cpu, stock_memcg, stock_pages)
    /\ stock_memcg' = [stock_memcg EXCEPT ![cpu] = NONE]
    /\ stock_pages' = [stock_pages EXCEPT ![cpu] = 0]
    /\ UNCHANGED << memcgVars, kmem, deadVars, pageVars, taskVars, adminVars, slabCacheVars >>

-----------------------------------------------------------------------------
(***************************************************************************)
(* The cgroup tree.  The administrator is one sequential actor: mkdir,     *)
(* rmdir, attach and the file writes below take a step only while no       *)
(* activation is half done (AdminIdle), since memcg_update_kmem_limit      *)
(* holds its mutexes across the whole activation.  With SecondAdmin a      *)
(* second administrator runs mkdir and attach beside the first: attach     *)
(* takes no memcg mutex, and mkdir waits on memcg_create_mutex only where   *)
(* the activation holds it.  Tasks charge and free at any time.            *)
(***************************************************************************)

\* The caches of memcg m blank again, for a new memcg at a freed one's path.
Blank(f, m, v) == [c \in Caches |-> IF MemcgOf(c) = m THEN v ELSE f[c]]
FreshCaches(m) ==
    /\ cache' = Blank(cache, m, NOCACHE)
    /\ dead' = Blank(dead, m, FALSE)
    /\ slabs' = Blank(slabs, m, NoSlabs)
    /\ work' = Blank(work, m, IDLE)
    /\ requeued' = Blank(requeued, m, FALSE)
    /\ create_pending' = Blank(create_pending, m, FALSE)
    /\ half_created' = Blank(half_created, m, FALSE)
    /\ slot' = Blank(slot, m, FALSE)
    /\ listed' = Blank(listed, m, FALSE)
    /\ UNCHANGED root_alive

(***************************************************************************)
(* mem_cgroup_css_alloc + css_online + memcg_propagate_kmem (3.8).  A new  *)
(* memcg takes its parent's use_hierarchy, and charges the parent's        *)
(* counters if the parent has use_hierarchy.  Under an active parent with  *)
(* use_hierarchy it is born active, with its own kmemcg_id and one more    *)
(* static key reference, but with an unlimited kmem limit of its own.      *)
(***************************************************************************)
Mkdir(m) ==
    LET p == ParentOf(m)
        inherit == use_hierarchy[p] /\ kmem_active[p]
        fresh == lifecycle[m] = MEMCG_FREED
    IN  /\ \/ AdminIdle
           \/ /\ SecondAdmin
              /\ "activation_excludes_mkdir" \notin Fixes  \* 3.8: after cgroup_unlock
              /\ admin_pc \in {KEY_INC, SET_ACTIVE}
        /\ lifecycle[m] \in {ABSENT, MEMCG_FREED}
        /\ lifecycle[p] = ONLINE
        /\ lifecycle' = [lifecycle EXCEPT ![m] = ONLINE]
        /\ use_hierarchy' = [use_hierarchy EXCEPT ![m] = use_hierarchy[p]]
        /\ hier' = [hier EXCEPT ![m] = use_hierarchy[p]]
        /\ res' = [res EXCEPT ![m] = Fresh]
        /\ kmem' = [kmem EXCEPT ![m] = Fresh]
        /\ kmem_active' = [kmem_active EXCEPT ![m] = inherit]
        /\ kmemcg_id' = [kmemcg_id EXCEPT ![m] = IF inherit THEN LowestFreeId ELSE NONE]
        /\ static_key' = static_key + (IF inherit THEN 1 ELSE 0)
        \* a new struct mem_cgroup: no DEAD bit, css_free not begun, no death put
        /\ kmem_dead' = [kmem_dead EXCEPT ![m] = FALSE]
        /\ destroy_pc' = [destroy_pc EXCEPT ![m] = CSS_LIVE]
        /\ death_puts' = [death_puts EXCEPT ![m] = 0]
        \* mem_cgroup_css_alloc: move_charge_at_immigrate 0, not inherited
        /\ move_charge' = [move_charge EXCEPT ![m] = 0]
        \* at a freed memcg's path none of its caches exist any more
        /\ IF fresh /\ R > 0 THEN FreshCaches(m) ELSE UNCHANGED cacheVars
        /\ UNCHANGED << admin_pc, admin_memcg, pageVars, taskVars, walkVars, error, stockVars >>

(***************************************************************************)
(* cgroup_rmdir -> mem_cgroup_css_offline (3.8-3.10).  A memcg with a task *)
(* in it or an online child cgroup is busy (-EBUSY, nothing changes); a    *)
(* task that has exited has left, though its stack may still be charged.   *)
(* Otherwise the memcg goes offline:                                       *)
(*  - mem_cgroup_reparent_charges: its user pages move to its parent, or   *)
(*    to the root if it does not charge its parent, and only its own res   *)
(*    level gives them up (the levels above were charged for them          *)
(*    already).  Its kmem stays charged to it until freed.                 *)
(*  - mem_cgroup_destroy_all_caches (3.10) starts walking its cache list   *)
(*    (OfflineMarkDead, OfflineDone in KmemcgCaches), when there are root  *)
(*    caches to have children.                                             *)
(* One offline walks at a time, and, with offline_excludes_root_destroy    *)
(* (3.16's memcg_slab_mutex), not while a root cache is being destroyed.   *)
(***************************************************************************)
\* A row of per-memcg pages with memcg m's moved to heir.
MovedTo(row, m, heir) ==
    [d \in MemcgIds |-> IF d = m THEN 0 ELSE IF d = heir THEN row[d] + row[m] ELSE row[d]]

\* mem_cgroup_reparent_charges keeps each page's kind: m's anonymous pages
\* and page cache (pc, the page cache row it starts from) go to heir.
ReparentKinds(m, heir, pc) ==
    /\ mm_anon' = [k \in TaskIds |-> MovedTo(mm_anon[k], m, heir)]
    /\ page_cache' = MovedTo(pc, m, heir)

Rmdir(m) ==
    /\ AdminIdle
    /\ lifecycle[m] = ONLINE
    /\ offline_memcg = NONE
    /\ "offline_excludes_root_destroy" \in Fixes => rdestroy_root = NONE
    /\ IF TasksIn(m) # {} \/ OnlineChildren(m) # {}
       THEN UNCHANGED vars   \* -EBUSY
       ELSE LET heir == IF hier[m] THEN ParentOf(m) ELSE ROOT
                moved == user_pages[m]
                drained == DrainAllStock(m)   \* drain_all_stock_sync, first
            IN  /\ lifecycle' = [lifecycle EXCEPT ![m] = OFFLINE]
                /\ user_pages' = [user_pages EXCEPT ![heir] = @ + moved, ![m] = 0]
                /\ res' = [drained.res EXCEPT ![m].usage = @ - moved * PAGE_SIZE]
                /\ stock_memcg' = drained.sm
                /\ stock_pages' = drained.sp
                /\ ReparentKinds(m, heir, page_cache)
                /\ offline_memcg' = IF R > 0 THEN m ELSE NONE
                /\ UNCHANGED << move_charge, use_hierarchy, hier, kmem_active, kmemcg_id, kmem,
                                deadVars, destroy_pc,
                                kmem_pages, taskVars, adminVars, cacheVars,
                                offline_done, rdestroy_root, rdestroy_next,
                                rdestroy_step, shrinking, error >>

(***************************************************************************)
(* mem_cgroup_force_empty_write -> mem_cgroup_force_empty (3.8-3.10): a    *)
(* write to memory.force_empty, whose text is ignored (a trigger); the     *)
(* root's -EINVAL takes no step (the face's, model/cgroupfs.py).  Busy as  *)
(* for Rmdir (-EBUSY, nothing changes).  Otherwise the reclaim loop frees  *)
(* the memcg's page cache and nothing else (no swap for anonymous pages,   *)
(* pinned pages are mlocked, reclaim never frees kmem), and                *)
(* mem_cgroup_reparent_charges moves the rest of the user pages as Rmdir   *)
(* does.  The memcg stays online, its kmem still charged.                  *)
(***************************************************************************)
ForceEmpty(m) ==
    /\ AdminIdle
    /\ lifecycle[m] = ONLINE
    /\ IF TasksIn(m) # {} \/ OnlineChildren(m) # {}
       THEN UNCHANGED vars   \* -EBUSY
       ELSE LET e == IF ReclaimInScope THEN Reclaim(UserMem, m) ELSE UserMem
                heir == IF hier[m] THEN ParentOf(m) ELSE ROOT
                moved == e.user_pages[m]
                \* the reclaim loop, then mem_cgroup_reparent_charges, which
                \* first drains the stocks (drain_all_stock_sync)
                drained == DrainAllFrom(m, 0, e.res, stock_memcg, stock_pages)
            IN  /\ user_pages' = [e.user_pages EXCEPT ![heir] = @ + moved, ![m] = 0]
                /\ res' = [drained.res EXCEPT ![m].usage = @ - moved * PAGE_SIZE]
                /\ stock_memcg' = drained.sm
                /\ stock_pages' = drained.sp
                /\ ReparentKinds(m, heir, e.page_cache)
                /\ UNCHANGED << memcgVars, kmem, deadVars, kmem_pages, taskVars, adminVars,
                                slabCacheVars >>

(***************************************************************************)
(* memory.move_charge_at_immigrate (model/actions/move_charge.py).  A      *)
(* write of 0-3 sets it, 4 and up is -EINVAL (mem_cgroup_move_charge_write,*)
(* 3.8); the root has the file too.  An attach into a memcg with bit 0     *)
(* (MOVE_CHARGE_TYPE_ANON) of a task that owns its mm precharges the       *)
(* destination with the mm's anonymous pages charged to the task's old     *)
(* memcg (mem_cgroup_can_attach -> mem_cgroup_precharge_mc): more than one *)
(* page at once, with no reclaim, and else, or when that fails, a page at  *)
(* a time with reclaim at U (mem_cgroup_do_precharge).  A failure cancels  *)
(* what was precharged and the attach fails with -ENOMEM, the task left    *)
(* where it was.  Otherwise the pages move (mem_cgroup_move_account) and   *)
(* the old memcg gives their charge up (__mem_cgroup_cancel_charge).  Bit  *)
(* 1 moves file pages mapped by the task; the page cache here is read,     *)
(* mapped by no task, so it moves nothing.  Kernel pages are in no page    *)
(* table the walk reads: they never move.                                  *)
(***************************************************************************)
ImmigrateInScope == "move_charge.write" \in Actions

\* move_anon(): bit 0 of m's move_charge_at_immigrate.
MovesAnon(m) == move_charge[m] \in {1, 3}

\* mm->owner == p (every live task owns its mm where there are no threads).
OwnsMm(t) == ~ThreadsInScope \/ (task_mm[t] # NONE /\ mm_owner[task_mm[t]] = t)

\* mem_cgroup_do_precharge's one_by_one loop: n more pages, one at a time.
RECURSIVE OneByOne(_, _, _, _)
OneByOne(u, m, n, charged) ==
    IF n = 0 THEN [u |-> u, ok |-> TRUE, charged |-> charged]
    ELSE LET r == TryChargeFrom(u, m, PAGE_SIZE, Len(Walk(m)))
         IN  IF r.ok THEN OneByOne(r.u, m, n - 1, charged + 1)
             ELSE [u |-> r.u, ok |-> FALSE, charged |-> charged]

\* mem_cgroup_do_precharge(n) to memcg m, then on failure mem_cgroup_clear_mc's
\* cancel of what one_by_one charged: the user memory after, and whether it
\* succeeded.  The root takes the pages uncharged.
Precharge(m, n) ==
    IF m = ROOT THEN [u |-> UserMem, ok |-> TRUE]
    ELSE LET bulk == Charge(res, Walk(m), PAGE_SIZE * n)
             start == IF n > 1 THEN [UserMem EXCEPT !.res = bulk.counters] ELSE UserMem
             o == OneByOne(start, m, n, 0)
         IN  IF n > 1 /\ bulk.ok THEN [u |-> start, ok |-> TRUE]
             ELSE IF o.ok THEN [u |-> o.u, ok |-> TRUE]
             ELSE [u |-> [o.u EXCEPT !.res = Uncharge(o.u.res, Walk(m), PAGE_SIZE * o.charged)],
                   ok |-> FALSE]

\* mem_cgroup_move_charge_write (3.8): no lock, as can_attach reads it once.
MoveChargeWrite(m, v) ==
    /\ AdminIdle
    /\ lifecycle[m] = ONLINE
    /\ move_charge' = IF v < 4 THEN [move_charge EXCEPT ![m] = v] ELSE move_charge
    /\ UNCHANGED << lifecycle, use_hierarchy, hier, kmem_active, kmemcg_id, destroy_pc,
                    counterVars, pageVars, taskVars, adminVars, slabCacheVars >>

(***************************************************************************)
(* cgroup_attach_task -> mem_cgroup_can_attach, then the move and          *)
(* mem_cgroup_move_task (3.8).  A task may move with a charge in flight;   *)
(* the charge stays with the memcg it was started for, and its stack stays *)
(* charged to the memcg it was forked in: kmem charges never move.         *)
(***************************************************************************)
Attach(t, m) ==
    /\ AdminIdle \/ SecondAdmin
    /\ lifecycle[m] = ONLINE
    /\ task_memcg[t] # NONE
    /\ task_memcg[t] # m
    /\ LET from == task_memcg[t]
           k == task_mm[t]
           moving == ImmigrateInScope /\ MovesAnon(m) /\ OwnsMm(t)
           n == IF moving THEN mm_anon[k][from] ELSE 0
           p == Precharge(m, n)
       IN  IF ~moving
           THEN /\ task_memcg' = [task_memcg EXCEPT ![t] = m]
                /\ UNCHANGED << memcgVars, counterVars, pageVars, task_pc, task_charge,
                                task_order, task_stack, mmVars, adminVars, slabCacheVars >>
           ELSE IF ~p.ok
           THEN /\ SetUserMem(p.u)   \* -ENOMEM
                /\ UNCHANGED << memcgVars, kmem, deadVars, stockVars, kmem_pages, mm_anon,
                                taskVars, adminVars, slabCacheVars >>
           ELSE /\ task_memcg' = [task_memcg EXCEPT ![t] = m]
                /\ res' = IF from = ROOT THEN p.u.res
                          ELSE Uncharge(p.u.res, Walk(from), PAGE_SIZE * n)
                /\ user_pages' = [p.u.user_pages EXCEPT ![m] = @ + n, ![from] = @ - n]
                /\ page_cache' = p.u.page_cache
                /\ mm_anon' = [mm_anon EXCEPT ![k][m] = @ + n, ![k][from] = @ - n]
                /\ UNCHANGED << memcgVars, kmem, deadVars, stockVars, kmem_pages, task_pc,
                                task_charge, task_order, task_stack, mmVars, adminVars,
                                slabCacheVars >>

(***************************************************************************)
(* mem_cgroup_hierarchy_write (3.8): echo v > memory.use_hierarchy.        *)
(* Writing the current value succeeds and changes nothing.  Otherwise a    *)
(* memcg under a use_hierarchy parent gets -EINVAL, as does a value other  *)
(* than 0 or 1, and a memcg with child cgroups gets -EBUSY.  Existing      *)
(* children keep their hier bit: it was fixed when they were created.      *)
(***************************************************************************)
UseHierarchyWrite(m, v) ==
    LET p == ParentOf(m)
        succeeds ==
            \/ use_hierarchy[m] = (v = 1)
            \/ /\ ~(p # NONE /\ use_hierarchy[p])
               /\ v \in {0, 1}
               /\ OnlineChildren(m) = {}
    IN  /\ AdminIdle
        /\ lifecycle[m] = ONLINE
        /\ use_hierarchy' = IF succeeds
                            THEN [use_hierarchy EXCEPT ![m] = (v = 1)]
                            ELSE use_hierarchy
        /\ UNCHANGED << move_charge, lifecycle, hier, kmem_active, kmemcg_id, destroy_pc,
                        counterVars, pageVars, taskVars, adminVars, slabCacheVars >>

-----------------------------------------------------------------------------
(***************************************************************************)
(* Limits, and the activation of kmem accounting.                          *)
(***************************************************************************)

(***************************************************************************)
(* mem_cgroup_write(RES_LIMIT) -> mem_cgroup_resize_limit (3.8-3.10).  The *)
(* root's limit cannot be set (-EINVAL).  A limit below the res usage      *)
(* reclaims the page cache of m's subtree first (mem_cgroup_reclaim with   *)
(* MEM_CGROUP_RECLAIM_SHRINK, retried while usage falls; one pass frees it *)
(* all in these scopes) and is then set if the usage fits, else refused    *)
(* (-EBUSY) with the page cache gone.  Kernel, anonymous and pinned pages  *)
(* are never reclaimed.                                                    *)
(***************************************************************************)
ResizeLimit(m, v) ==
    IF res[m].usage <= v \/ ~ReclaimInScope
    THEN [UserMem EXCEPT !.res = SetLimit(res, m, v)]
    ELSE LET e == Reclaim(UserMem, m) IN [e EXCEPT !.res = SetLimit(e.res, m, v)]

LimitWrite(m, v) ==
    /\ AdminIdle
    /\ lifecycle[m] = ONLINE
    /\ IF m = ROOT THEN UNCHANGED << res, user_pages, page_cache >>
       ELSE SetUserMem(ResizeLimit(m, v))
    /\ UNCHANGED << memcgVars, kmem, deadVars, stockVars, kmem_pages, mm_anon, taskVars,
                    adminVars, slabCacheVars >>

(***************************************************************************)
(* memcg_update_kmem_limit under memcg_create_mutex + set_limit_mutex      *)
(* (3.9/3.10).  On an active memcg, or when writing "-1" (Unlimited), it   *)
(* only sets the limit.  Otherwise it activates kmem accounting, which it  *)
(* refuses (-EBUSY) for a memcg that has tasks or hierarchical children:   *)
(* their usage would be meaningless.  Activation sets the limit and then   *)
(* takes the three steps below, one at a time.                             *)
(***************************************************************************)
KmemLimitWrite(m, v) ==
    /\ AdminIdle
    /\ lifecycle[m] = ONLINE
    /\ IF m = ROOT THEN
          UNCHANGED << kmem, admin_pc, admin_memcg >>              \* -EINVAL
       ELSE IF v = Unlimited \/ kmem_active[m] THEN
          /\ kmem' = SetLimit(kmem, m, v)                          \* no activation
          /\ UNCHANGED << admin_pc, admin_memcg >>
       ELSE IF \/ TasksIn(m) # {} \/ HasChildren(m)
               \/ /\ "activation_refuses_over_limit" \in Fixes
                  /\ kmem[m].usage > v THEN                       \* set_limit fails
          UNCHANGED << kmem, admin_pc, admin_memcg >>              \* -EBUSY
       ELSE
          /\ kmem' = SetLimit(kmem, m, v)                          \* activation
          /\ admin_pc' = CACHE_SIZES
          /\ admin_memcg' = m
    /\ UNCHANGED << memcgVars, res, deadVars, stockVars, pageVars, taskVars, static_key,
                    slabCacheVars >>

\* memcg_update_cache_sizes: ida_simple_get kmemcg_id, grow caches (3.8).
ActivateUpdateCacheSizes(m) ==
    /\ admin_pc = CACHE_SIZES
    /\ admin_memcg = m
    /\ kmemcg_id' = [kmemcg_id EXCEPT ![m] = LowestFreeId]
    /\ admin_pc' = IF "active_after_key" \in Fixes THEN KEY_INC ELSE SET_ACTIVE
    /\ UNCHANGED << move_charge, lifecycle, use_hierarchy, hier, kmem_active, destroy_pc,
                    counterVars, pageVars, taskVars, admin_memcg, static_key, slabCacheVars >>

\* static_key_slow_inc(&memcg_kmem_enabled_key) (3.9, SB); the last step
\* without active_after_key, where it patches the commit and uncharge sites.
ActivateStaticKeyInc(m) ==
    /\ admin_pc = KEY_INC
    /\ admin_memcg = m
    /\ static_key' = static_key + 1
    /\ IF "active_after_key" \in Fixes
       THEN /\ admin_pc' = SET_ACTIVE
            /\ UNCHANGED admin_memcg
       ELSE /\ admin_pc' = ADMIN_IDLE
            /\ admin_memcg' = NONE
    /\ UNCHANGED << memcgVars, counterVars, pageVars, taskVars, slabCacheVars >>

(***************************************************************************)
(* memcg_kmem_set_active after the static key is patched (3.8).  Setting   *)
(* the bit only now guarantees that no one starts charging before every    *)
(* call site of the static key is patched, so no commit or uncharge is     *)
(* skipped after a charge.  Without active_after_key it comes first and    *)
(* goes on into static_key_slow_inc, which patches the charge site first   *)
(* (KeyPatching).                                                          *)
(***************************************************************************)
ActivateSetActive(m) ==
    /\ admin_pc = SET_ACTIVE
    /\ admin_memcg = m
    /\ kmem_active' = [kmem_active EXCEPT ![m] = TRUE]
    /\ IF "active_after_key" \in Fixes
       THEN /\ admin_pc' = ADMIN_IDLE
            /\ admin_memcg' = NONE
       ELSE /\ admin_pc' = KEY_INC
            /\ UNCHANGED admin_memcg
    /\ UNCHANGED << move_charge, lifecycle, use_hierarchy, hier, kmemcg_id, destroy_pc, counterVars,
                    pageVars, taskVars, static_key, slabCacheVars >>

\* mem_cgroup_reset(RES_MAX_USAGE): res_counter_reset_max (3.8).
MaxUsageReset(m, c) ==
    /\ AdminIdle
    /\ lifecycle[m] = ONLINE
    /\ IF c = RES_COUNTER
       THEN /\ res' = [res EXCEPT ![m].max_usage = res[m].usage]
            /\ UNCHANGED kmem
       ELSE /\ kmem' = [kmem EXCEPT ![m].max_usage = kmem[m].usage]
            /\ UNCHANGED res
    /\ UNCHANGED << memcgVars, deadVars, stockVars, pageVars, taskVars, adminVars, slabCacheVars >>

\* mem_cgroup_reset(RES_FAILCNT): res_counter_reset_failcnt (3.8).
FailcntReset(m, c) ==
    /\ AdminIdle
    /\ lifecycle[m] = ONLINE
    /\ IF c = RES_COUNTER
       THEN /\ res' = [res EXCEPT ![m].failcnt = 0]
            /\ UNCHANGED kmem
       ELSE /\ kmem' = [kmem EXCEPT ![m].failcnt = 0]
            /\ UNCHANGED res
    /\ UNCHANGED << memcgVars, deadVars, stockVars, pageVars, taskVars, adminVars, slabCacheVars >>

-----------------------------------------------------------------------------
(***************************************************************************)
(* Tasks, their mm and their thread stacks.  A task is spawned into a      *)
(* memcg or forked by another task, exits, and is reaped; its stack is     *)
(* kernel memory charged to the memcg of the forking task's mm owner       *)
(* (try_get_mem_cgroup_from_mm(current->mm)), from the first to the last,  *)
(* wherever the task moves.  mm k is the one task k created; a thread      *)
(* shares its parent's.  (Fork's own slab allocations, the task_struct,    *)
(* are left out.)                                                          *)
(***************************************************************************)

\* No task t (not forked, or exited and put), and for a new process no mm t.
SlotFree(t, process) ==
    /\ task_memcg[t] = NONE
    /\ task_stack[t] = NONE
    /\ process => mm_owner[t] = NONE

(***************************************************************************)
(* dup_task_struct's alloc_thread_info_node, charged to memcg m            *)
(* (THREADINFO_GFP_ACCOUNTED) when m is kmem-accountable, kmem then res;   *)
(* over a limit the fork fails with -ENOMEM, counting the failure, and no  *)
(* task is born.  A stack not charged is charged to no memcg (task_stack   *)
(* = NONE).  The new* are what the task and mm variables become.          *)
(***************************************************************************)
StackCharge(t, m, newMemcg, newMm, newOwner) ==
    IF m # NONE /\ m # ROOT /\ Accountable(m)
    THEN LET ch == MemcgChargeKmem(m, StackBytes)
         IN  /\ kmem' = ch.kmem
             /\ SetUserMem(ch.u)   \* the charge may reclaim page cache first
             /\ IF ch.ok
                THEN /\ task_memcg' = newMemcg
                     /\ task_stack' = [task_stack EXCEPT ![t] = m]
                     /\ task_mm' = newMm
                     /\ mm_owner' = newOwner
                ELSE UNCHANGED << task_memcg, task_stack, mmVars >>
    ELSE /\ task_memcg' = newMemcg
         /\ task_mm' = newMm
         /\ mm_owner' = newOwner
         /\ UNCHANGED << counterVars, user_pages, page_cache, task_stack >>

(***************************************************************************)
(* copy_process -> dup_task_struct -> alloc_thread_info_node (3.8), by a   *)
(* single-threaded process of online memcg m that owns its mm, then exec:  *)
(* a new process in m with an mm of its own, its stack charged to m.       *)
(***************************************************************************)
Spawn(t, m) ==
    /\ SlotFree(t, TRUE)
    /\ lifecycle[m] = ONLINE
    \* the parent is a task of m, and activation runs only on a memcg with none
    /\ ~(~AdminIdle /\ admin_memcg = m)
    /\ StackCharge(t, m, [task_memcg EXCEPT ![t] = m], [task_mm EXCEPT ![t] = t],
                   [mm_owner EXCEPT ![t] = t])
    /\ UNCHANGED << memcgVars, deadVars, stockVars, kmem_pages, mm_anon, task_pc, task_charge,
                    task_order, adminVars, slabCacheVars >>

(***************************************************************************)
(* copy_process in live task p, not inside a charge of its own: the stack  *)
(* is charged to p's mm owner's memcg, which for a thread moved away from  *)
(* its owner is not p's own.  The child joins p's cgroup (cgroup_fork),    *)
(* sharing p's mm (a thread, th = 1: CLONE_VM | CLONE_THREAD) or with one  *)
(* of its own that it owns (a process, th = 0: dup_mm, whose COW pages     *)
(* stay charged where they are).                                           *)
(***************************************************************************)
Fork(t, p, th) ==
    /\ SlotFree(t, th = 0)
    /\ task_memcg[p] # NONE
    /\ task_pc[p] = IDLE
    /\ StackCharge(t, OwnerMemcg(p), [task_memcg EXCEPT ![t] = task_memcg[p]],
                   [task_mm EXCEPT ![t] = IF th = 1 THEN task_mm[p] ELSE t],
                   IF th = 1 THEN mm_owner ELSE [mm_owner EXCEPT ![t] = t])
    /\ UNCHANGED << memcgVars, deadVars, stockVars, kmem_pages, mm_anon, task_pc, task_charge,
                    task_order, adminVars, slabCacheVars >>

(***************************************************************************)
(* exit_mm -> mm_update_next_owner (3.8): an mm t owns passes to another   *)
(* live user; the kernel searches children, siblings, then every thread,   *)
(* and the model takes the first user in task order (pid order).  With no  *)
(* user left, mmput frees the mm.                                          *)
(***************************************************************************)
Others(t, k) == { u \in TaskIds : u # t /\ task_mm[u] = k }
RECURSIVE UserFrom(_, _, _)
UserFrom(t, k, u) ==
    IF u >= Len(Tasks) THEN NONE
    ELSE IF u # t /\ task_mm[u] = k THEN u ELSE UserFrom(t, k, u + 1)
NextOwner(t, k) == UserFrom(t, k, 0)
ExitMm(t) ==
    [k \in TaskIds |->
        IF task_mm[t] = k /\ (mm_owner[k] = t \/ Others(t, k) = {})
        THEN NextOwner(t, k) ELSE mm_owner[k]]

(***************************************************************************)
(* mmput by the last user of task t's mm (3.8): exit_mmap frees its        *)
(* anonymous pages, each uncharged from the memcg it was charged to (the   *)
(* root's counter is never touched).                                       *)
(***************************************************************************)
RECURSIVE UnchargeRow(_, _, _)
UnchargeRow(c, row, d) ==
    IF d >= N THEN c
    ELSE UnchargeRow(IF d = ROOT THEN c ELSE Uncharge(c, Walk(d), PAGE_SIZE * row[d]),
                     row, d + 1)

Mmput(t) ==
    LET k == task_mm[t]
    IN  IF AnonInScope /\ Others(t, k) = {}
        THEN /\ res' = UnchargeRow(res, mm_anon[k], 0)
             /\ user_pages' = [d \in MemcgIds |-> user_pages[d] - mm_anon[k][d]]
             /\ mm_anon' = [mm_anon EXCEPT ![k] = [d \in MemcgIds |-> 0]]
        ELSE UNCHANGED << res, user_pages, mm_anon >>

(***************************************************************************)
(* do_exit: exit_mm (mm_update_next_owner, mmput), then cgroup_exit: the   *)
(* task leaves its cgroup; its stack stays charged (3.8).  The task runs   *)
(* do_exit itself, so it is not in the middle of one of its own page       *)
(* charges.                                                                *)
(***************************************************************************)
Exit(t) ==
    /\ task_memcg[t] # NONE
    /\ task_pc[t] = IDLE
    /\ task_memcg' = [task_memcg EXCEPT ![t] = NONE]
    /\ task_mm' = [task_mm EXCEPT ![t] = NONE]
    /\ mm_owner' = IF ThreadsInScope THEN ExitMm(t) ELSE [mm_owner EXCEPT ![t] = NONE]
    /\ Mmput(t)
    /\ UNCHANGED << memcgVars, kmem, deadVars, stockVars, kmem_pages, page_cache, task_pc,
                    task_charge, task_order, task_stack, adminVars, slabCacheVars >>

(***************************************************************************)
(* __put_task_struct -> free_task -> free_thread_info (3.8): the last      *)
(* reference goes and free_memcg_kmem_pages uncharges the stack from the   *)
(* memcg it was charged to, online or not.                                 *)
(***************************************************************************)
PutTaskStruct(t) ==
    /\ task_memcg[t] = NONE
    /\ task_stack[t] # NONE
    /\ MemcgUnchargeKmem(task_stack[t], StackBytes)
    /\ task_stack' = [task_stack EXCEPT ![t] = NONE]
    /\ UNCHANGED << memcgVars, pageVars, task_memcg, task_pc, task_charge, task_order,
                    mmVars, adminVars, slabCacheVars >>
=============================================================================
