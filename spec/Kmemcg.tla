------------------------------- MODULE Kmemcg -------------------------------
(***************************************************************************)
(* The memcg kernel-memory controller of Linux 3.8-3.10 (Glauber Costa's   *)
(* "kmem controller for memcg", with its 3.9-3.10 follow-ups), as one      *)
(* model: accounting (res_counters, limits, activation, the charge path,   *)
(* tasks and their stacks; KmemcgAccounting) and the per-memcg slab caches *)
(* with the races of their destruction (KmemcgCaches), over one state      *)
(* (KmemcgState) and the res_counter operators (KmemcgCounters).           *)
(*                                                                         *)
(* A configuration is a scope of this one model: the constants say which   *)
(* memcgs, tasks and root caches there are, what exists at boot            *)
(* (BootTasks, BootMemcgs), which actions Next may take (Actions) and      *)
(* which fixes are in force (Fixes).  The model's Python mirror is         *)
(* model/; TLC must find exactly as many distinct states as                *)
(* model/explore.py on every configuration shipped beside this module      *)
(* (configs.json; the configurations are rendered by model/tla.py and      *)
(* checked by tests/test_spec.py).  An action "charge.kmem" of the model   *)
(* is ChargeKmem here, an invariant "I1.kmem_within_limit" is              *)
(* I1_KmemWithinLimit.                                                     *)
(***************************************************************************)
EXTENDS KmemcgAccounting, KmemcgCaches, KmemcgDeath

(***************************************************************************)
(* Boot.  Only the root memcg exists, or (BootMemcgs) every memcg is       *)
(* online and every non-root one kmem-active with kmem limit KmemLimit,    *)
(* kmemcg ids 0, 1, ... in memcg order, one static key reference each.     *)
(* Every task is in the root memcg, or (~BootTasks) no task is forked yet. *)
(* Every root cache is loaded (or, ~BootRoots, none is yet), and no child  *)
(* cache exists.                                                           *)
(***************************************************************************)
Booted(m) == BootMemcgs /\ m # ROOT

Init ==
    /\ lifecycle = [m \in MemcgIds |-> IF m = ROOT \/ BootMemcgs THEN ONLINE ELSE ABSENT]
    /\ use_hierarchy = [m \in MemcgIds |-> FALSE]
    /\ hier = [m \in MemcgIds |-> FALSE]
    /\ kmem_active = [m \in MemcgIds |-> Booted(m)]
    /\ kmemcg_id = [m \in MemcgIds |-> IF Booted(m) THEN m - 1 ELSE NONE]
    /\ res = [m \in MemcgIds |-> Fresh]
    /\ kmem = [m \in MemcgIds |-> IF Booted(m) THEN NewCounter(KmemLimit) ELSE Fresh]
    /\ kmem_pages = [m \in MemcgIds |-> 0]
    /\ user_pages = [m \in MemcgIds |-> 0]
    /\ task_memcg = [t \in TaskIds |-> IF BootTasks THEN ROOT ELSE NONE]
    /\ task_pc = [t \in TaskIds |-> IDLE]
    /\ task_charge = [t \in TaskIds |-> NONE]
    /\ task_order = [t \in TaskIds |-> 0]
    /\ task_stack = [t \in TaskIds |-> NONE]
    \* a task at boot is a process of its own: mm t is task t's, owned by it
    /\ task_mm = [t \in TaskIds |-> IF BootTasks THEN t ELSE NONE]
    /\ mm_owner = [k \in TaskIds |-> IF BootTasks THEN k ELSE NONE]
    /\ mm_anon = [k \in TaskIds |-> [m \in MemcgIds |-> 0]]
    /\ page_cache = [m \in MemcgIds |-> 0]
    /\ admin_pc = ADMIN_IDLE
    /\ admin_memcg = NONE
    /\ static_key = IF BootMemcgs THEN N - 1 ELSE 0
    /\ root_alive = [r \in RootIds |-> BootRoots]
    /\ cache = [c \in Caches |-> NOCACHE]
    /\ dead = [c \in Caches |-> FALSE]
    /\ slabs = [c \in SlabCaches |-> NoSlabs]
    /\ work = [c \in Caches |-> IDLE]
    /\ requeued = [c \in Caches |-> FALSE]
    /\ create_pending = [c \in Caches |-> FALSE]
    /\ half_created = [c \in Caches |-> FALSE]
    /\ slot = [c \in Caches |-> FALSE]
    /\ listed = [c \in Caches |-> FALSE]
    /\ offline_memcg = NONE
    /\ offline_done = [r \in RootIds |-> FALSE]
    /\ rdestroy_root = NONE
    /\ rdestroy_next = 0
    /\ rdestroy_step = RD_MARK
    /\ shrinking = NONE
    /\ error = OK
    /\ kmem_dead = [m \in MemcgIds |-> FALSE]
    /\ destroy_pc = [m \in MemcgIds |-> CSS_LIVE]
    /\ death_puts = [m \in MemcgIds |-> 0]
    /\ stock_memcg = [cpu \in CpuIds |-> NONE]
    /\ stock_pages = [cpu \in CpuIds |-> 0]
    /\ move_charge = [m \in MemcgIds |-> 0]

(***************************************************************************)
(* The next-state relation.  A configuration names the actions it takes in *)
(* Actions, as the model's Config.actions does; each action ranges over    *)
(* the same parameters as in the model.  The model's named stutter steps   *)
(* (charge.bypass, free.bypass) change nothing and are left out.           *)
(***************************************************************************)
Next ==
    \/ /\ "charge.kmem" \in Actions
       /\ \E t \in TaskIds, m \in MemcgIds, o \in Orders : ChargeKmem(t, m, o)
    \/ /\ "charge.res" \in Actions
       /\ \E t \in TaskIds, m \in MemcgIds : ChargeRes(t, m)
    \/ /\ "charge.commit" \in Actions
       /\ \E t \in TaskIds, m \in MemcgIds : ChargeCommit(t, m)
    \/ /\ "charge.abort" \in Actions
       /\ \E t \in TaskIds, m \in MemcgIds : ChargeAbort(t, m)
    \/ /\ "charge.commit_unpatched" \in Actions
       /\ \E t \in TaskIds, m \in MemcgIds : ChargeCommitUnpatched(t, m)
    \/ /\ "free.uncharge" \in Actions
       /\ \E m \in MemcgIds, o \in Orders : FreeUncharge(m, o)
    \/ /\ "user.charge" \in Actions
       /\ \E t \in TaskIds, m \in MemcgIds : UserCharge(t, m)
    \/ /\ "user.uncharge" \in Actions
       /\ \E m \in MemcgIds : UserUncharge(m)
    \/ /\ "mkdir" \in Actions
       /\ \E m \in NonRoot : Mkdir(m)
    \/ /\ "rmdir" \in Actions
       /\ \E m \in NonRoot : Rmdir(m)
    \/ /\ "force_empty" \in Actions
       /\ \E m \in NonRoot : ForceEmpty(m)
    \/ /\ "attach" \in Actions
       /\ \E t \in TaskIds, m \in MemcgIds : Attach(t, m)
    \/ /\ "use_hierarchy.write" \in Actions
       /\ \E m \in MemcgIds, v \in {0, 1} : UseHierarchyWrite(m, v)
    \/ /\ "limit.write" \in Actions
       /\ \E m \in MemcgIds, v \in ResLimits : LimitWrite(m, v)
    \/ /\ "kmem_limit.write" \in Actions
       /\ \E m \in MemcgIds, v \in KmemLimits : KmemLimitWrite(m, v)
    \/ /\ "activate.update_cache_sizes" \in Actions
       /\ \E m \in NonRoot : ActivateUpdateCacheSizes(m)
    \/ /\ "activate.static_key_inc" \in Actions
       /\ \E m \in NonRoot : ActivateStaticKeyInc(m)
    \/ /\ "activate.set_active" \in Actions
       /\ \E m \in NonRoot : ActivateSetActive(m)
    \/ /\ "max_usage.reset" \in Actions
       /\ \E m \in MemcgIds, c \in CounterIds : MaxUsageReset(m, c)
    \/ /\ "failcnt.reset" \in Actions
       /\ \E m \in MemcgIds, c \in CounterIds : FailcntReset(m, c)
    \/ /\ "anon.charge" \in Actions
       /\ \E t \in TaskIds, m \in MemcgIds : AnonCharge(t, m)
    \/ /\ "pagecache.charge" \in Actions
       /\ \E t \in TaskIds, m \in MemcgIds : PagecacheCharge(t, m)
    \/ /\ "alloc" \in Actions
       /\ \E c \in Caches : Alloc(c)
    \/ /\ "alloc.partial" \in Actions
       /\ \E c \in Caches, k \in PartialFills : AllocPartial(c, k)
    \/ /\ "alloc.root" \in Actions
       /\ \E r \in RootIds, x \in ContextIds : AllocRoot(r, x)
    \/ /\ "free.object" \in Actions
       /\ \E c \in SlabCaches, k \in UsedFills : FreeObject(c, k)
    \/ /\ "free.release_pages" \in Actions
       /\ \E c \in SlabCaches : FreeReleasePages(c)
    \/ /\ "spawn" \in Actions
       /\ \E t \in TaskIds, m \in NonRoot : Spawn(t, m)
    \/ /\ "fork" \in Actions
       /\ \E t \in TaskIds, p \in TaskIds, th \in {0, 1} : Fork(t, p, th)
    \/ /\ "exit" \in Actions
       /\ \E t \in TaskIds : Exit(t)
    \/ /\ "put_task_struct" \in Actions
       /\ \E t \in TaskIds : PutTaskStruct(t)
    \/ /\ "create_work.publish" \in Actions
       /\ \E c \in Caches : CreateWorkPublish(c)
    \/ /\ "create_work.set_slot" \in Actions
       /\ \E c \in Caches : CreateWorkSetSlot(c)
    \/ /\ "offline.mark_dead" \in Actions
       /\ \E m \in NonRoot, r \in RootIds : OfflineMarkDead(m, r)
    \/ /\ "offline.done" \in Actions
       /\ \E m \in NonRoot : OfflineDone(m)
    \/ /\ "destroy_work.start" \in Actions
       /\ \E c \in Caches : DestroyWorkStart(c)
    \/ /\ "destroy_work.check" \in Actions
       /\ \E c \in Caches : DestroyWorkCheck(c)
    \/ /\ "destroy_work.shrink" \in Actions
       /\ \E c \in Caches : DestroyWorkShrink(c)
    \/ /\ "destroy_work.destroy" \in Actions
       /\ \E c \in Caches : DestroyWorkDestroy(c)
    \/ /\ "shrink.release" \in Actions
       /\ \E c \in Caches : ShrinkRelease(c)
    \/ /\ "shrink.done" \in Actions
       /\ \E c \in Caches : ShrinkDone(c)
    \/ /\ "root_destroy.start" \in Actions
       /\ \E r \in RootIds : RootDestroyStart(r)
    \/ /\ "root_destroy.clear_dead" \in Actions
       /\ \E r \in RootIds : RootDestroyClearDead(r)
    \/ /\ "root_destroy.cancel_work" \in Actions
       /\ \E r \in RootIds : RootDestroyCancelWork(r)
    \/ /\ "root_destroy.flush_work" \in Actions
       /\ \E r \in RootIds : RootDestroyFlushWork(r)
    \/ /\ "root_destroy.destroy_child" \in Actions
       /\ \E r \in RootIds : RootDestroyDestroyChild(r)
    \/ /\ "kmem_cache_create" \in Actions
       /\ \E r \in RootIds : KmemCacheCreate(r)
    \/ /\ "css_free.mark_dead" \in Actions
       /\ \E m \in NonRoot : CssFreeMarkDead(m)
    \/ /\ "css_free.read_usage" \in Actions
       /\ \E m \in NonRoot : CssFreeReadUsage(m)
    \/ /\ "css_free.put" \in Actions
       /\ \E m \in NonRoot : CssFreePut(m)
    \/ /\ "mem_cgroup_free" \in Actions
       /\ \E m \in NonRoot : MemCgroupFree(m)
    \/ /\ "stock.drain" \in Actions
       /\ \E cpu \in CpuIds : StockDrain(cpu)
    \/ /\ "move_charge.write" \in Actions
       /\ \E m \in MemcgIds, v \in {0, 1, 2, 3, 4} : MoveChargeWrite(m, v)

Spec == Init /\ [][Next]_vars

(***************************************************************************)
(* The workers are weakly fair (FAIR_ACTIONS of                            *)
(* model/destruction/invariants.py): the workqueue runs what is queued,    *)
(* and a thread that has started a walk finishes it.  Each step of each    *)
(* parameter instance is fair on its own, as in the model.  The            *)
(* environment (tasks, the administrator, an outside shrink starting, root *)
(* cache destruction starting) need never act.                             *)
(***************************************************************************)
Fairness ==
    /\ \A c \in Caches :
          /\ WF_vars(DestroyWorkStart(c))
          /\ WF_vars(DestroyWorkCheck(c))
          /\ WF_vars(DestroyWorkShrink(c))
          /\ WF_vars(DestroyWorkDestroy(c))
          /\ WF_vars(CreateWorkPublish(c))
          /\ WF_vars(CreateWorkSetSlot(c))
          /\ WF_vars(ShrinkDone(c))
    /\ \A m \in NonRoot :
          /\ \A r \in RootIds : WF_vars(OfflineMarkDead(m, r))
          /\ WF_vars(OfflineDone(m))
          \* css_free and the RCU free run once due (model/invariants/death.py),
          \* in a scope that has them: fairness of an action Next never takes
          \* would rule out every behaviour where it stays enabled
          /\ "css_free.mark_dead" \in Actions => WF_vars(CssFreeMarkDead(m))
          /\ "css_free.read_usage" \in Actions => WF_vars(CssFreeReadUsage(m))
          /\ "css_free.put" \in Actions => WF_vars(CssFreePut(m))
          /\ "mem_cgroup_free" \in Actions => WF_vars(MemCgroupFree(m))
    /\ \A r \in RootIds :
          /\ WF_vars(RootDestroyClearDead(r))
          /\ WF_vars(RootDestroyCancelWork(r))
          /\ WF_vars(RootDestroyFlushWork(r))
          /\ WF_vars(RootDestroyDestroyChild(r))

FairSpec == Spec /\ Fairness

(***************************************************************************)
(* The exploration bounds of the model (in_constraint), used as TLC's      *)
(* CONSTRAINT: states outside it are checked but not explored.             *)
(***************************************************************************)
\* The kmem and user pages of memcgs m .. N - 1.
RECURSIVE PagesFrom(_)
PagesFrom(m) == IF m >= N THEN 0 ELSE kmem_pages[m] + user_pages[m] + PagesFrom(m + 1)

StateConstraint ==
    /\ PagesFrom(0) <= MaxPages
    /\ \A c \in SlabCaches : NrPages(slabs[c]) <= MaxCachePages
    /\ \A m \in MemcgIds : /\ res[m].failcnt <= MaxFailcnt
                           /\ kmem[m].failcnt <= MaxFailcnt

-----------------------------------------------------------------------------
(***************************************************************************)
(* The properties (model/invariants.py, then                               *)
(* model/destruction/invariants.py, in the same order).                    *)
(***************************************************************************)

\* Pages each memcg holds, as each counter should see them: committed
\* pages of the charge path, its caches' slab pages, the stacks charged to
\* it, and the charges in flight.
KmemHeld(d) ==
    kmem_pages[d] + CachePagesOf(d) + StackPagesOf(d)
        + InFlightPagesTo(d, {KMEM_CHARGED, RES_CHARGED})
ResHeld(d) ==
    kmem_pages[d] + user_pages[d] + CachePagesOf(d) + StackPagesOf(d)
        + InFlightPagesTo(d, {RES_CHARGED})
KmemOnlyHeld(d) == InFlightPagesTo(d, {KMEM_CHARGED})

\* The sum of Held(d) over the memcgs d whose charges reach m's counters:
\* m and its descendants, which are numbered after it.
RECURSIVE SubtreeSumFrom(_, _, _)
SubtreeSumFrom(m, Held(_), d) ==
    IF d >= N THEN 0
    ELSE (IF Reaches(d, m) THEN Held(d) ELSE 0) + SubtreeSumFrom(m, Held, d + 1)
SubtreeSum(m, Held(_)) == SubtreeSumFrom(m, Held, m)

\* I1: res_counter_charge fails over the limit.
I1_KmemWithinLimit == \A m \in MemcgIds : kmem[m].usage <= kmem[m].limit

\* I1: no -EINTR nofail path is modelled.
I1_ResWithinLimit == \A m \in MemcgIds : res[m].usage <= res[m].limit

\* max_usage is a high-water mark: never below usage.
I2_MaxUsageCoversUsage ==
    \A m \in MemcgIds : /\ res[m].max_usage >= res[m].usage
                        /\ kmem[m].max_usage >= kmem[m].usage

\* kmem.usage is what the hierarchical subtree holds in kernel pages: the
\* charge path's committed pages, slab pages, thread stacks, and the
\* charges in flight.  Uncharge always targets the memcg charged
\* (pc->mem_cgroup, the cache's memcg, the stack's memcg), and nothing
\* charged is ever moved.
I4_KmemAccounted ==
    \A m \in MemcgIds : kmem[m].usage = PAGE_SIZE * SubtreeSum(m, KmemHeld)

\* The same for res, of a non-root memcg, with user pages and the pages the
\* per-cpu stocks hold (none without PercpuStock): the root's usage comes
\* from statistics, not from its counter.
ResStocked(d) == ResHeld(d) + StockHeld(d)
I4_ResAccounted ==
    \A m \in NonRoot : res[m].usage = PAGE_SIZE * SubtreeSum(m, ResStocked)

\* memory.usage_in_bytes is the true total, or with the stock at most
\* CHARGE_BATCH pages x cpus above it (domain section 9).
I4_ResWithinStockBound ==
    \A m \in NonRoot :
        LET exact == PAGE_SIZE * SubtreeSum(m, ResHeld)
        IN  /\ exact <= res[m].usage
            /\ res[m].usage <= exact + PAGE_SIZE * ChargeBatch * Cardinality(CpuIds)

\* A stock holds 0 to CHARGE_BATCH - 1 pages, and pages only for the non-root
\* memcg it caches (refill_stock adds batch - nr_pages after consume_stock
\* failed).
I4_StockBelowBatch ==
    \A cpu \in CpuIds :
        /\ stock_pages[cpu] \in 0 .. ChargeBatch - 1
        /\ stock_pages[cpu] > 0 => stock_memcg[cpu] > 0
        /\ stock_memcg[cpu] = NONE \/ stock_memcg[cpu] > 0

\* Kernel memory is part of the memory: an active memcg's kmem usage is at
\* most its res usage, plus the charges between their kmem and res steps
\* (kmem is charged first, so the window is real).
I3_KmemWithinRes ==
    \A m \in NonRoot :
        kmem_active[m] =>
            kmem[m].usage <= res[m].usage + PAGE_SIZE * SubtreeSum(m, KmemOnlyHeld)

\* memcg_can_account_kmem: kmem is charged only to active non-root memcgs.
I5_KmemChargesActiveOnly ==
    \A m \in MemcgIds :
        (kmem_pages[m] > 0 \/ InFlightTo(m, {KMEM_CHARGED, RES_CHARGED}) > 0)
            => CanAccountKmem(m)

\* While any kmem page is charged, memcg_kmem_enabled_key is on: a commit or
\* uncharge is never skipped after a charge.  A charge in flight may also
\* meet the key being patched in, where ACTIVE comes first (what then leaks
\* is I4's).
I5_ChargedImpliesStaticKey ==
    /\ SumFrom(kmem_pages, 0, N - 1) > 0 => static_key > 0
    /\ Cardinality({ t \in TaskIds : task_pc[t] # IDLE }) > 0
           => (static_key > 0 \/ KeyPatching)

\* One static_key_slow_inc per active memcg, plus one between
\* ActivateStaticKeyInc and ActivateSetActive (less one between
\* ActivateSetActive and ActivateStaticKeyInc, without active_after_key).
I5_StaticKeyCountsActive ==
    static_key = Cardinality({ m \in MemcgIds : kmem_active[m] }) + ActivationKeyOffset

\* ida_simple_get: an active memcg has a kmemcg_id, and ids are unique.
I5_ActiveHasUniqueId ==
    /\ \A m \in MemcgIds : kmem_active[m] => kmemcg_id[m] >= 0
    /\ \A a, b \in MemcgIds :
          (a # b /\ kmemcg_id[a] >= 0) => kmemcg_id[a] # kmemcg_id[b]

\* memcg_update_kmem_limit: an activation in progress is for a memcg with
\* no tasks and no hierarchical children.
I6_ActivationOnEmptyGroup ==
    \A m \in NonRoot :
        (admin_pc # ADMIN_IDLE /\ admin_memcg = m)
            => ~((~SecondAdmin /\ TasksIn(m) # {}) \/ HasChildren(m))

\* memcg_update_kmem_limit's VM_BUG_ON(ret): an activation in progress has
\* the kmem limit it was written (its res_counter_set_limit did not fail).
I6_ActivationLimitSet ==
    \A m \in NonRoot :
        (admin_pc # ADMIN_IDLE /\ admin_memcg = m) => kmem[m].limit # Unlimited

\* memcg_propagate_kmem: an online child charging an active parent is
\* itself active.
I6_ChildrenInheritActive ==
    \A m \in NonRoot :
        (lifecycle[m] = ONLINE /\ hier[m] /\ kmem_active[ParentOf(m)])
            => kmem_active[m]

\* No charge leaks through task moves: every charged stack is charged to
\* the memcg recorded in task_stack, whatever task_memcg is now (moved or
\* exited): a created, kmem-active, non-root memcg whose kmem counter still
\* holds every stack recorded for it.
I6_NoChargeLeak ==
    \A t \in TaskIds :
        LET d == task_stack[t]
        IN  d # NONE =>
                /\ d \in NonRoot
                /\ lifecycle[d] # ABSENT
                /\ kmem_active[d]
                /\ kmem[d].usage >= PAGE_SIZE * StackPagesOf(d)

(***************************************************************************)
(* Structure: the facts the model's inductive proof needs beside the       *)
(* properties above.                                                       *)
(***************************************************************************)

\* The root memcg is online, unlimited, and never kmem-active.
\* A memcg's user pages hold its page cache and every mm's anonymous pages
\* charged to it (the rest are pinned); an mm that is gone holds none (and
\* none exist, or no page cache, where the scope has none).
I4_UserPagesOwned ==
    /\ \A m \in MemcgIds :
          /\ page_cache[m] >= 0
          /\ \A k \in TaskIds : mm_anon[k][m] >= 0
          /\ PinnedPages(m) >= 0
    /\ \A k \in TaskIds, m \in MemcgIds :
          (mm_owner[k] = NONE \/ ~AnonInScope) => mm_anon[k][m] = 0
    /\ ~ReclaimInScope => \A m \in MemcgIds : page_cache[m] = 0

T_Root ==
    /\ lifecycle[ROOT] = ONLINE
    /\ ~hier[ROOT]
    /\ ~kmem_active[ROOT]
    /\ kmemcg_id[ROOT] = NONE
    /\ res[ROOT].limit = Unlimited
    /\ kmem[ROOT].limit = Unlimited
    /\ kmem_pages[ROOT] = 0

\* A memcg not yet created holds nothing.
T_AbsentIsBlank ==
    \A m \in NonRoot :
        lifecycle[m] = ABSENT =>
            /\ ~use_hierarchy[m]
            /\ ~hier[m]
            /\ ~kmem_active[m]
            /\ kmemcg_id[m] = NONE
            /\ res[m] = Fresh
            /\ kmem[m] = Fresh
            /\ kmem_pages[m] = 0
            /\ user_pages[m] = 0
            /\ move_charge[m] = 0

\* A created memcg's parent exists; an online memcg's parent is online; an
\* online memcg that charges its parent has use_hierarchy, and so does its
\* parent (mem_cgroup_hierarchy_write refuses a memcg with children).
T_Tree ==
    \A m \in NonRoot :
        LET p == ParentOf(m)
        IN  /\ lifecycle[m] \in {ABSENT, ONLINE, OFFLINE, MEMCG_FREED}
            /\ lifecycle[m] # ABSENT => lifecycle[p] # ABSENT
            /\ lifecycle[m] = ONLINE => lifecycle[p] = ONLINE
            /\ (lifecycle[m] = ONLINE /\ hier[m])
                  => (use_hierarchy[p] /\ use_hierarchy[m])

\* Counts are non-negative; ids and indices are in range.
T_Ranges ==
    /\ \A m \in MemcgIds :
          /\ kmem_pages[m] >= 0
          /\ user_pages[m] >= 0
          /\ res[m].failcnt >= 0
          /\ kmem[m].failcnt >= 0
          /\ res[m].usage >= 0
          /\ kmem[m].usage >= 0
          /\ kmemcg_id[m] >= NONE
          /\ kmemcg_id[m] < N
          /\ kmemcg_id[m] >= 0 => (kmem_active[m] \/ admin_memcg = m)
          \* move_charge_at_immigrate below 1 << NR_MOVE_TYPE
          /\ move_charge[m] \in 0..3
    /\ \A t \in TaskIds :
          /\ task_memcg[t] \in MemcgOrNone
          /\ task_pc[t] \in {IDLE, KMEM_CHARGED, RES_CHARGED}
          /\ (task_pc[t] = IDLE) <=> (task_charge[t] = NONE)
          /\ task_charge[t] \in NonRootOrNone
          /\ task_order[t] \in Orders \cup {0}
          /\ task_pc[t] = IDLE => task_order[t] = 0
    /\ admin_pc \in {ADMIN_IDLE, CACHE_SIZES, KEY_INC, SET_ACTIVE}
    /\ (admin_pc = ADMIN_IDLE) <=> (admin_memcg = NONE)
    /\ admin_memcg \in NonRootOrNone
    /\ static_key >= 0

\* Tasks sit in online memcgs; the memcg being activated is online and not
\* yet active, and has its kmemcg_id once past ActivateUpdateCacheSizes; an
\* active memcg exists.
T_Links ==
    /\ \A t \in TaskIds : task_memcg[t] # NONE => lifecycle[task_memcg[t]] = ONLINE
    /\ \A m \in NonRoot :
          (admin_pc # ADMIN_IDLE /\ admin_memcg = m) =>
              /\ lifecycle[m] = ONLINE
              /\ kmem_active[m] = ("active_after_key" \notin Fixes /\ admin_pc = KEY_INC)
              /\ (kmemcg_id[m] >= 0) <=> (admin_pc # CACHE_SIZES)
    /\ \A m \in MemcgIds : kmem_active[m] => lifecycle[m] # ABSENT

\* A live task has an mm and an exited one none (its own where no thread can
\* be forked); an mm that exists is owned by a live task using it, and one
\* nobody uses does not exist.
T_Mm ==
    /\ \A t \in TaskIds : /\ task_mm[t] \in (IF ThreadsInScope THEN TaskIds ELSE {t}) \cup {NONE}
                         /\ (task_memcg[t] = NONE) <=> (task_mm[t] = NONE)
    /\ \A k \in TaskIds :
          /\ mm_owner[k] \in TaskIds \cup {NONE}
          /\ mm_owner[k] # NONE => task_mm[mm_owner[k]] = k
          /\ (mm_owner[k] = NONE) <=> (\A t \in TaskIds : task_mm[t] # k)

-----------------------------------------------------------------------------
\* D1: a freed cache held no objects and no pages (__kmem_cache_shutdown
\* fails with objects, and releases every empty slab).
D1_DestroyedOnlyWhenEmpty ==
    \A c \in Caches : cache[c] = FREED => slabs[c] = NoSlabs

\* D2: no cache is passed to kmem_cache_destroy twice (R1 in v5, W6).
D2_DestroyedAtMostOnce == error # DOUBLE_DESTROY

\* D3: no step touches a freed cache, and nothing refers to one: no slot,
\* no list entry, no queued or running work, no shrinker (R1, R3, R4, R10).
\* Nor does anything refer to a freed root: a creation work holds its root
\* cache (memcg_create_cache_enqueue's cw->cachep).
D3_NoUseAfterDestroy ==
    /\ error # USE_AFTER_FREE
    /\ \A c \in Caches :
          cache[c] = FREED =>
              /\ ~slot[c]
              /\ ~listed[c]
              /\ work[c] = IDLE
              /\ shrinking # c
    /\ \A c \in Caches :
          ~root_alive[RootOf(c)] => ~create_pending[c] /\ ~half_created[c]

\* D4: walking a memcg's cache list never meets an unpublished slot (R5).
D4_NoNullDeref == error # NULL_DEREF

\* D5: a cache is published in the root's slot iff it is on its memcg's
\* list iff it is alive (list insertion and slot store as one step); the
\* half-registered window without slot_before_list is D4's to catch.
D5_SlotAgreesWithList ==
    \A c \in Caches :
        /\ listed[c] = (cache[c] = ALIVE)
        /\ slot[c] = (cache[c] = ALIVE /\ ~half_created[c])

\* D6: every live cache that offline has walked past, or that a finished
\* offline left behind, is dead, unless its root is being destroyed (R13: a
\* cache created after offline is never destroyed).
D6_OfflineCachesDead ==
    \A c \in Caches :
        LET m == MemcgOf(c)
            r == RootOf(c)
            finished == lifecycle[m] # ONLINE /\ offline_memcg # m
            passed == offline_memcg = m /\ offline_done[r]
        IN  ((finished \/ passed) /\ cache[c] = ALIVE /\ rdestroy_root # r) => dead[c]

\* D7: a root cache's own slabs (the objects it serves itself) exist only
\* while it is loaded and not being destroyed, and only with RootObjects
\* (without, the spec has no such slabs at all).
D7_RootOwnSlabs ==
    RootObjects =>
        \A r \in RootIds :
            /\ (~root_alive[r] \/ rdestroy_root = r) => slabs[RootOwn(r)] = NoSlabs
            /\ \A k \in Fills : slabs[RootOwn(r)][k] >= 0

\* Fields in range; only a live cache holds slabs; a stack is charged to a
\* non-root memcg; a task that has not exited is in an online memcg (rmdir
\* fails with -EBUSY while the cgroup has tasks); each kmem counter is sane
\* and has its boot limit or one an administrator wrote.
T_DestructionRanges ==
    /\ \A c \in Caches :
          /\ cache[c] \in {NOCACHE, ALIVE, FREED}
          /\ work[c] \in {IDLE, PENDING, RUN_CHECK, RUN_SHRINK, RUN_DESTROY}
          /\ \A k \in Fills : slabs[c][k] >= 0
          /\ cache[c] # ALIVE => slabs[c] = NoSlabs
          /\ cache[c] = NOCACHE => work[c] = IDLE /\ ~requeued[c] /\ ~dead[c]
          /\ requeued[c] => work[c] # IDLE
          /\ half_created[c] => cache[c] = ALIVE /\ listed[c]
    /\ offline_memcg \in NonRootOrNone
    /\ offline_memcg = NONE => \A r \in RootIds : ~offline_done[r]
    /\ rdestroy_root \in RootOrNone
    /\ rdestroy_root = NONE => rdestroy_next = 0 /\ rdestroy_step = RD_MARK
    /\ rdestroy_root # NONE => rdestroy_next \in NonRoot
    /\ rdestroy_step \in {RD_MARK, RD_CANCEL, RD_DESTROY, RD_WAIT}
    /\ shrinking \in CacheOrNone
    /\ offline_memcg # NONE => lifecycle[offline_memcg] # ONLINE
    /\ lifecycle[ROOT] = ONLINE
    /\ error \in {OK, USE_AFTER_FREE, DOUBLE_DESTROY, NULL_DEREF}
    /\ \A t \in TaskIds :
          /\ task_stack[t] \in NonRootOrNone
          /\ task_memcg[t] # NONE => lifecycle[task_memcg[t]] = ONLINE
    /\ \A m \in MemcgIds :
          /\ kmem[m].usage >= 0
          /\ kmem[m].max_usage >= kmem[m].usage
          /\ kmem[m].failcnt >= 0
          /\ kmem[m].limit \in KmemLimitValues

\* What root destruction has passed is freed, its current child cancelled;
\* unloading starts with no objects and after the root's creation works;
\* only offline arms the worker; offline and unloading exclude each other
\* (the loops of mem_cgroup_destroy_all_caches and
\* kmem_cache_destroy_memcg_children).  Each fact holds with the fixes it
\* depends on.
T_DestructionProgress ==
    LET synced == "offline_excludes_root_destroy" \in Fixes
        strict == synced /\ "root_destroy_cancels_work" \in Fixes
    IN  /\ \A c \in Caches :
              LET r == RootOf(c)
                  m == MemcgOf(c)
                  byRoot == rdestroy_root = r
                  at == byRoot /\ rdestroy_next = m /\ cache[c] = ALIVE
              IN  \* no half-created cache but without slot_before_list
                  /\ ("slot_before_list" \in Fixes => ~half_created[c])
                  \* a child root destruction has passed is gone
                  /\ ((byRoot /\ rdestroy_next > m) => cache[c] # ALIVE)
                  \* the child it cancelled stays idle
                  /\ ((strict /\ at /\ rdestroy_step = RD_DESTROY)
                        => ~dead[c] /\ work[c] = IDLE)
                  \* while it waits for the running item, nothing is queued behind it
                  /\ ((strict /\ at /\ rdestroy_step = RD_WAIT)
                        => ~dead[c] /\ work[c] # PENDING /\ ~requeued[c])
                  \* a destroyed root has no live child
                  /\ (~root_alive[r] => cache[c] # ALIVE)
                  \* module unload starts with every object freed, and
                  \* nothing allocates after
                  /\ (byRoot => Objects(slabs[c]) = 0)
                  \* the child it cleared stays clear
                  /\ ((synced /\ at /\ rdestroy_step # RD_MARK) => ~dead[c])
                  \* flush_memcg_workqueue ran before the first child was touched
                  /\ (("root_dying_flush" \in Fixes /\ byRoot
                         /\ ~(rdestroy_next = 1 /\ rdestroy_step = RD_MARK))
                        => ~create_pending[c] /\ ~half_created[c])
                  \* only offline arms the worker, and nothing allocates from an
                  \* offline memcg's cache, so the pages the worker saw at its
                  \* check stay gone
                  /\ ((dead[c] \/ work[c] # IDLE) => lifecycle[m] # ONLINE)
                  /\ (work[c] = RUN_DESTROY => NumSlabs(slabs[c]) = 0)
        /\ (synced => ~(offline_memcg # NONE /\ rdestroy_root # NONE))

(***************************************************************************)
(* Memcg death (model/invariants/death.py).                                *)
(***************************************************************************)

\* Nothing is charged to or held by memcg m.
Empty(m) ==
    /\ res[m].usage = 0 /\ kmem[m].usage = 0
    /\ kmem_pages[m] = 0 /\ user_pages[m] = 0
    /\ \A t \in TaskIds : task_stack[t] # m /\ task_charge[t] # m
    /\ \A r \in RootIds : cache[CacheOf(r, m)] # ALIVE

\* A freed memcg has no usage, no charged page or stack, no live cache, no
\* charge in flight and no kmemcg_id.
M1_FreedIsEmpty ==
    \A m \in NonRoot :
        lifecycle[m] = MEMCG_FREED => (Empty(m) /\ kmemcg_id[m] = NONE /\ ~kmem_active[m])

\* The death reference is put at most once, only by a memcg activated, and
\* never while DEAD is still set.
M2_DeathPutOnce ==
    \A m \in NonRoot :
        /\ death_puts[m] \in {0, 1}
        /\ death_puts[m] = 1 => (kmem_active[m] \/ lifecycle[m] = MEMCG_FREED)
        /\ kmem_dead[m] => death_puts[m] = 0

\* DEAD only on an active memcg css_free has begun on; css_free only on a
\* removed memcg; a freed memcg's css_free is done.
T_Death ==
    /\ \A m \in NonRoot :
          /\ destroy_pc[m] \in {CSS_LIVE, CSS_READ_USAGE, CSS_TEST_DEAD, CSS_DONE}
          /\ kmem_dead[m] => (lifecycle[m] = OFFLINE /\ kmem_active[m]
                              /\ destroy_pc[m] # CSS_LIVE)
          /\ destroy_pc[m] # CSS_LIVE => lifecycle[m] \in {OFFLINE, MEMCG_FREED}
          /\ lifecycle[m] = MEMCG_FREED => destroy_pc[m] = CSS_DONE
    /\ ~kmem_dead[ROOT] /\ destroy_pc[ROOT] = CSS_LIVE /\ death_puts[ROOT] = 0

\* Before css_free nothing was put; once it began no css reference is taken
\* and an active memcg is DEAD or put; a put memcg has no charge in flight.
T_DeathRefs ==
    \A m \in NonRoot :
        LET begun == destroy_pc[m] # CSS_LIVE
        IN  /\ ~begun => death_puts[m] = 0
            /\ begun => /\ \A r \in RootIds : ~create_pending[CacheOf(r, m)]
                        /\ InFlightTo(m, {KMEM_CHARGED}) = 0
                        /\ \A c \in Children(m) :
                              destroy_pc[c] = CSS_DONE \/ lifecycle[c] \in {ABSENT, MEMCG_FREED}
            /\ (begun /\ kmem_active[m]) => (kmem_dead[m] \/ death_puts[m] = 1)
            /\ death_puts[m] >= 1 => InFlightTo(m, {KMEM_CHARGED, RES_CHARGED}) = 0

\* A memcg with kernel pages of its own, or a charge to it in flight, has not
\* had its death put; once put, or once css_free read its kmem usage as 0, the
\* usage is 0 and stays so: the activation reference goes only at usage 0.
M3_ChargedHoldsActivationRef ==
    \A m \in NonRoot :
        /\ (\/ kmem_pages[m] + CachePagesOf(m) + StackPagesOf(m) > 0
            \/ InFlightTo(m, {KMEM_CHARGED, RES_CHARGED}) > 0)
               => death_puts[m] = 0
        /\ (death_puts[m] >= 1 \/ destroy_pc[m] = CSS_TEST_DEAD) => kmem[m].usage = 0

\* A removed memcg holds no user page (rmdir reparented them, and no task is
\* left to charge it), and its offline walk is over once css_free began.
T_RemovedHoldsNoUserPages ==
    \A m \in NonRoot :
        /\ lifecycle[m] \in {OFFLINE, MEMCG_FREED} =>
              /\ user_pages[m] = 0 /\ page_cache[m] = 0
              /\ \A k \in TaskIds : mm_anon[k][m] = 0
        /\ destroy_pc[m] # CSS_LIVE => offline_memcg # m

(***************************************************************************)
(* Steps (checked by TLC as action properties).                            *)
(***************************************************************************)

\* No code path clears KMEM_ACCOUNTED_ACTIVE while the memcg lives
\* (__mem_cgroup_free frees it).
S_ActivationMonotone ==
    [][\A m \in MemcgIds : (kmem_active[m] /\ lifecycle'[m] # MEMCG_FREED)
                             => kmem_active'[m]]_vars

\* A memcg turns kmem-active only with no tasks and no hierarchical children.
S_ActivationWhenEmpty ==
    [][\A m \in MemcgIds :
         (~kmem_active[m] /\ kmem_active'[m])
             => ((SecondAdmin \/ TasksIn(m) = {}) /\ ~HasChildren(m))]_vars

\* A new thread's stack is charged to the memcg its mm's owner was in, not
\* to the forking thread's own (try_get_mem_cgroup_from_mm(current->mm)).
S_ThreadStackToOwner ==
    [][\A t \in TaskIds :
         (/\ task_memcg[t] = NONE /\ task_memcg'[t] # NONE /\ task_stack'[t] # NONE
          /\ task_mm'[t] # NONE /\ mm_owner[task_mm'[t]] # NONE)
             => task_stack'[t] = task_memcg[mm_owner[task_mm'[t]]]]_vars

\* An mm's anonymous pages are never reclaimed (no swap): their number falls
\* only when the mm goes with its last user.
AnonOf(a, k) == SumFrom(a[k], 0, N - 1)
S_AnonOnlyAtMmput ==
    [][\A k \in TaskIds : AnonOf(mm_anon', k) < AnonOf(mm_anon, k) => mm_owner'[k] = NONE]_vars

\* A task's move between memcgs moves no kernel charge, and anonymous pages
\* only where the destination's move_charge_at_immigrate has bit 0 and the
\* task owns its mm: its mm's pages, from the old memcg to the new
\* (mem_cgroup_can_attach, get_mctgt_type, mem_cgroup_move_account, 3.8).
S_ImmigrateMovesOwnerAnon ==
    [][\A t \in TaskIds :
         LET src == task_memcg[t]
             dst == task_memcg'[t]
         IN  (src # NONE /\ dst # NONE /\ src # dst) =>
               /\ \A m \in MemcgIds : /\ kmem'[m].usage = kmem[m].usage
                                     /\ kmem_pages'[m] = kmem_pages[m]
               /\ task_stack' = task_stack
               /\ ImmigrateInScope =>
                    \A k \in TaskIds, d \in MemcgIds :
                       mm_anon'[k][d] # mm_anon[k][d] =>
                          /\ MovesAnon(dst) /\ OwnsMm(t) /\ task_mm[t] = k
                          /\ d \in {src, dst}]_vars

(***************************************************************************)
(* Liveness, under FairSpec.                                               *)
(***************************************************************************)

\* A dead cache whose pages reach 0 is eventually destroyed (domain 6; P25,
\* mem_cgroup_destroy_cache).  The premise is a named state predicate: TLC
\* cannot evaluate a variable applied inside an operator argument written
\* in line under ~> .
DeadEmpty(c) == cache[c] = ALIVE /\ dead[c] /\ NrPages(slabs[c]) = 0

L1_DeadEmptyCacheDestroyed ==
    \A c \in Caches : DeadEmpty(c) ~> (cache[c] = FREED)

\* An offline memcg whose charges all go is eventually freed (domain 7;
\* issue 9), in a scope where memcgs are freed at all.
DrainedOffline(m) ==
    /\ "mem_cgroup_free" \in Actions
    /\ lifecycle[m] = OFFLINE
    /\ kmem[m].usage = 0
    /\ res[m].usage = 0
    /\ InFlightTo(m, {KMEM_CHARGED, RES_CHARGED}) = 0

L2_OfflineMemcgFreed ==
    \A m \in NonRoot : DrainedOffline(m) ~> (lifecycle[m] = MEMCG_FREED)

(***************************************************************************)
(* The variables' types.  The model's tuples need no such invariant; here  *)
(* it guards the spec itself: a mistyped EXCEPT would show up here rather  *)
(* than as a subtly different state count.                                 *)
(***************************************************************************)

Counter == [usage : Nat, max_usage : Nat, limit : Nat, failcnt : Nat]

TypeOK ==
    /\ lifecycle \in [MemcgIds -> {ABSENT, ONLINE, OFFLINE, MEMCG_FREED}]
    /\ use_hierarchy \in [MemcgIds -> BOOLEAN]
    /\ hier \in [MemcgIds -> BOOLEAN]
    /\ kmem_active \in [MemcgIds -> BOOLEAN]
    /\ kmemcg_id \in [MemcgIds -> {NONE} \cup Nat]
    /\ res \in [MemcgIds -> Counter]
    /\ kmem \in [MemcgIds -> Counter]
    /\ kmem_pages \in [MemcgIds -> Nat]
    /\ user_pages \in [MemcgIds -> Nat]
    /\ task_memcg \in [TaskIds -> MemcgOrNone]
    /\ task_pc \in [TaskIds -> {IDLE, KMEM_CHARGED, RES_CHARGED}]
    /\ task_charge \in [TaskIds -> MemcgOrNone]
    /\ task_order \in [TaskIds -> Nat]
    /\ task_stack \in [TaskIds -> MemcgOrNone]
    /\ task_mm \in [TaskIds -> TaskIds \cup {NONE}]
    /\ mm_owner \in [TaskIds -> TaskIds \cup {NONE}]
    /\ mm_anon \in [TaskIds -> [MemcgIds -> Nat]]
    /\ page_cache \in [MemcgIds -> Nat]
    /\ admin_pc \in {ADMIN_IDLE, CACHE_SIZES, KEY_INC, SET_ACTIVE}
    /\ admin_memcg \in MemcgOrNone
    /\ static_key \in Nat
    /\ root_alive \in [RootIds -> BOOLEAN]
    /\ cache \in [Caches -> {NOCACHE, ALIVE, FREED}]
    /\ dead \in [Caches -> BOOLEAN]
    /\ slabs \in [SlabCaches -> [Fills -> Nat]]
    /\ work \in [Caches -> {IDLE, PENDING, RUN_CHECK, RUN_SHRINK, RUN_DESTROY}]
    /\ requeued \in [Caches -> BOOLEAN]
    /\ create_pending \in [Caches -> BOOLEAN]
    /\ half_created \in [Caches -> BOOLEAN]
    /\ slot \in [Caches -> BOOLEAN]
    /\ listed \in [Caches -> BOOLEAN]
    /\ offline_memcg \in MemcgOrNone
    /\ offline_done \in [RootIds -> BOOLEAN]
    /\ rdestroy_root \in RootOrNone
    /\ rdestroy_next \in Nat
    /\ rdestroy_step \in {RD_MARK, RD_CANCEL, RD_DESTROY, RD_WAIT}
    /\ shrinking \in CacheOrNone
    /\ error \in {OK, USE_AFTER_FREE, DOUBLE_DESTROY, NULL_DEREF}
    /\ kmem_dead \in [MemcgIds -> BOOLEAN]
    /\ destroy_pc \in [MemcgIds -> {CSS_LIVE, CSS_READ_USAGE, CSS_TEST_DEAD, CSS_DONE}]
    /\ death_puts \in [MemcgIds -> Nat]
    /\ stock_memcg \in [CpuIds -> NonRootOrNone]
    /\ stock_pages \in [CpuIds -> Nat]
    /\ move_charge \in [MemcgIds -> 0..3]
=============================================================================
