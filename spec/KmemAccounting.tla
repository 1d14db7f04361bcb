--------------------------- MODULE KmemAccounting ---------------------------
(***************************************************************************)
(* Accounting in the memcg kernel-memory controller of Linux 3.8.          *)
(*                                                                         *)
(* Each memory cgroup (memcg) has two res_counters: res, shared by user    *)
(* (LRU) pages and kernel pages, and kmem, for kernel pages only.  A       *)
(* kernel page allocation charges kmem first and res second                *)
(* (memcg_charge_kmem), gets the page from the allocator, and then         *)
(* commits the charge to the page (memcg_kmem_commit_charge).  A task can  *)
(* be preempted between any two of these steps, so other tasks and the     *)
(* administrator see the half-charged states.  Accounting starts for a     *)
(* memcg only when a kmem limit is first written to it, and that           *)
(* activation is itself a sequence of steps: allocate a kmemcg id, patch   *)
(* the static key the allocator tests, then set the ACTIVE bit.            *)
(*                                                                         *)
(* This module mirrors the Python model in model/ step for step: one       *)
(* variable per field of model.state.State, one action per model action    *)
(* the explorer enumerates (named by CamelCasing the model's name, e.g.    *)
(* "charge.kmem" is ChargeKmem), and one definition per invariant (e.g.    *)
(* "I1.kmem_within_limit" is I1_KmemWithinLimit).  TLC must find exactly   *)
(* as many distinct states as model/explore.py on every configuration      *)
(* shipped in this directory; tests/test_spec.py checks that.  Each        *)
(* action's comment names the kernel function it models, as the model's    *)
(* kernel= strings do.                                                     *)
(*                                                                         *)
(* Memcgs and tasks are numbered from 0, as in the model; memcg 0 is the   *)
(* root.  Counters are in bytes, as in the kernel; every charge is one     *)
(* page.                                                                   *)
(***************************************************************************)
EXTENDS Integers, Sequences, FiniteSets

CONSTANTS
    Memcgs,      \* the memcgs' names, root first: memcg i is Memcgs[i + 1]
    Parent,      \* Parent[i + 1] is the parent of memcg i; NONE for the root
    Tasks,       \* the tasks' names: task t is Tasks[t + 1]
    MaxPages,    \* state constraint: pages held (kmem and user) at most this
    KmemLimits,  \* values, in bytes, written to memory.kmem.limit_in_bytes
    ResLimits,   \* values, in bytes, written to memory.limit_in_bytes
    MaxFailcnt,  \* state constraint: every failcnt at most this
    Actions,     \* the names of the model actions Next may take
    Unlimited,   \* RESOURCE_MAX, the limit of an unlimited counter (see below)
    Profile      \* "correct", or a named bug (see ChargeKmem and ChargeRes)

(***************************************************************************)
(* Unlimited stands for the kernel's RESOURCE_MAX (LLONG_MAX bytes), which *)
(* TLC's 32-bit integers cannot hold.  A limit is only ever compared with  *)
(* a usage, so any value above every reachable usage behaves the same; the *)
(* configurations use 2^31 - 1.  The model keeps the real value, and a     *)
(* limit is unlimited in one exactly when it is unlimited in the other.    *)
(***************************************************************************)

VARIABLES
    lifecycle,      \* per memcg: ABSENT, ONLINE, or OFFLINE (removed by rmdir)
    use_hierarchy,  \* per memcg: memory.use_hierarchy
    hier,           \* per memcg: its counters charge its parent's (res.parent)
    kmem_active,    \* per memcg: KMEM_ACCOUNTED_ACTIVE (memcg_kmem_is_active)
    kmemcg_id,      \* per memcg: memcg->kmemcg_id, NONE until it has one
    res,            \* per memcg: memcg->res, a counter record
    kmem,           \* per memcg: memcg->kmem, a counter record
    kmem_pages,     \* per memcg: committed kmem pages (PageCgroupUsed)
    user_pages,     \* per memcg: user (LRU) pages charged to it
    task_memcg,     \* per task: the memcg it belongs to
    task_pc,        \* per task: how far its kmem charge has got
    task_charge,    \* per task: the memcg its charge in flight is for, or NONE
    admin_pc,       \* the next step of the administrator's activation
    admin_memcg,    \* the memcg being activated, or NONE
    static_key      \* the count of memcg_kmem_enabled_key

vars == << lifecycle, use_hierarchy, hier, kmem_active, kmemcg_id, res, kmem,
           kmem_pages, user_pages, task_memcg, task_pc, task_charge,
           admin_pc, admin_memcg, static_key >>

treeVars       == << lifecycle, use_hierarchy, hier >>
activationVars == << kmem_active, kmemcg_id, admin_pc, admin_memcg, static_key >>
counterVars    == << res, kmem >>
pageVars       == << kmem_pages, user_pages >>
taskVars       == << task_memcg, task_pc, task_charge >>

-----------------------------------------------------------------------------
(***************************************************************************)
(* Names for numbers.  The values are the model's (model/state.py,         *)
(* model/config.py), so that states read the same in both.                 *)
(***************************************************************************)

ROOT == 0
NONE == -1
PAGE_SIZE == 4096

\* A memcg's cgroup directory: not yet created, online, removed by rmdir.
ABSENT == 0
ONLINE == 1
OFFLINE == 2

\* Where a task's kmem page allocation stands between
\* memcg_kmem_newpage_charge and memcg_kmem_commit_charge.
IDLE == 0          \* no allocation in flight
KMEM_CHARGED == 1  \* memcg->kmem charged, memcg->res not yet
RES_CHARGED == 2   \* both charged: the page is being allocated

\* The step the administrator's activation (memcg_update_kmem_limit)
\* takes next.
ADMIN_IDLE == 0   \* no activation under way
CACHE_SIZES == 1  \* next: ActivateUpdateCacheSizes
KEY_INC == 2      \* next: ActivateStaticKeyInc
SET_ACTIVE == 3   \* next: ActivateSetActive

\* The counter a reset names: memory.* files are res, memory.kmem.* kmem.
RES_COUNTER == 0
KMEM_COUNTER == 1

ActionNames ==
    { "charge.kmem", "charge.res", "charge.commit", "charge.abort",
      "free.uncharge", "user.charge", "user.uncharge",
      "mkdir", "rmdir", "attach", "use_hierarchy.write",
      "limit.write", "kmem_limit.write",
      "activate.update_cache_sizes", "activate.static_key_inc",
      "activate.set_active", "max_usage.reset", "failcnt.reset" }

Profiles == { "correct", "no_kmem_limit_check", "no_kmem_rollback" }

N == Len(Memcgs)
MemcgIds == 0 .. N - 1
NonRoot == 1 .. N - 1
TaskIds == 0 .. Len(Tasks) - 1
CounterIds == { RES_COUNTER, KMEM_COUNTER }

ParentOf(m) == Parent[m + 1]
Children(m) == { c \in NonRoot : ParentOf(c) = m }

ASSUME ConstantsOK ==
    /\ N >= 1
    /\ Len(Parent) = N
    /\ ParentOf(ROOT) = NONE
    /\ \A m \in NonRoot : ParentOf(m) \in 0 .. m - 1   \* a tree, parents first
    /\ MaxPages \in Nat
    /\ MaxFailcnt \in Nat
    /\ Unlimited \in Nat
    /\ \A v \in KmemLimits \cup ResLimits : v \in Nat /\ v <= Unlimited
    /\ Actions \subseteq ActionNames
    /\ Profile \in Profiles

-----------------------------------------------------------------------------
(***************************************************************************)
(* Arithmetic over finite sets and functions.                              *)
(***************************************************************************)

Max(a, b) == IF a >= b THEN a ELSE b
Min(S) == CHOOSE x \in S : \A y \in S : x <= y
Range(s) == { s[k] : k \in DOMAIN s }

RECURSIVE SetSum(_, _)
SetSum(S, f) ==   \* the sum of f[x] over x in S
    IF S = {} THEN 0
    ELSE LET x == CHOOSE y \in S : TRUE IN f[x] + SetSum(S \ {x}, f)

Sum(f) == SetSum(DOMAIN f, f)

-----------------------------------------------------------------------------
(***************************************************************************)
(* struct res_counter and its operations (kernel/res_counter.c).           *)
(*                                                                         *)
(* A counter is a record [usage, max_usage, limit, failcnt].  A memcg's    *)
(* counter has a parent pointer exactly when the memcg was created under a *)
(* parent with use_hierarchy set (hier), and charges and uncharges walk    *)
(* the parent pointers to the top.                                         *)
(***************************************************************************)

Fresh == [usage |-> 0, max_usage |-> 0, limit |-> Unlimited, failcnt |-> 0]

\* The levels a charge to memcg m's counter walks, nearest first: m, then
\* each ancestor for as long as the level below it has hier set.
RECURSIVE Walk(_)
Walk(m) ==
    IF ParentOf(m) # NONE /\ hier[m]
    THEN << m >> \o Walk(ParentOf(m))
    ELSE << m >>

\* Whether d's charges reach m's counters.
Reaches(d, m) == m \in Range(Walk(d))

(***************************************************************************)
(* res_counter_charge(counter, n): charge n bytes to each level of the     *)
(* walk w of the counters c, nearest first.  A level over its limit        *)
(* (usage + n > limit) counts the failure in its own failcnt and ends the  *)
(* walk; the levels below it, already charged, are uncharged again, but    *)
(* the max_usage they recorded stays.  So only the first failing level     *)
(* counts a failure, and a max_usage may record a usage that never stuck.  *)
(* The result is the new counters and whether the charge succeeded.        *)
(***************************************************************************)
RECURSIVE Charge(_, _, _)
Charge(c, w, n) ==
    IF w = << >>
    THEN [counters |-> c, ok |-> TRUE]
    ELSE LET i == Head(w)
             level == c[i]
         IN  IF level.usage + n > level.limit
             THEN [counters |-> [c EXCEPT ![i].failcnt = @ + 1], ok |-> FALSE]
             ELSE LET above == Charge([c EXCEPT ![i].usage = @ + n,
                                                ![i].max_usage = Max(@, level.usage + n)],
                                      Tail(w), n)
                  IN  IF above.ok
                      THEN above
                      ELSE [above EXCEPT !.counters[i].usage = @ - n]

\* The charge of the no_kmem_limit_check bug: every level takes the charge,
\* whatever its limit.
ChargeIgnoringLimit(c, w, n) ==
    [i \in MemcgIds |->
        IF i \in Range(w)
        THEN [c[i] EXCEPT !.usage = @ + n, !.max_usage = Max(@, c[i].usage + n)]
        ELSE c[i]]

\* res_counter_uncharge: every level of the walk loses n bytes.  A level
\* holding less than n drops to 0 (the kernel WARNs).
Uncharge(c, w, n) ==
    [i \in MemcgIds |->
        IF i \in Range(w)
        THEN [c[i] EXCEPT !.usage = IF @ >= n THEN @ - n ELSE 0]
        ELSE c[i]]

\* res_counter_set_limit: -EBUSY, changing nothing, when the usage is already
\* over the new limit; it never reclaims.
SetLimit(c, m, v) ==
    IF c[m].usage > v THEN c ELSE [c EXCEPT ![m].limit = v]

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

\* ida_simple_get(&kmem_limited_groups, 0, ...): the lowest unused kmemcg_id.
LowestFreeId ==
    LET free == { k \in 0 .. N - 1 : \A i \in MemcgIds : kmemcg_id[i] # k }
    IN  IF free = {} THEN N ELSE Min(free)

AdminIdle == admin_pc = ADMIN_IDLE

\* How many tasks have a charge in flight for memcg m at one of the pcs.
InFlightTo(m, pcs) ==
    Cardinality({ t \in TaskIds : task_pc[t] \in pcs /\ task_charge[t] = m })

-----------------------------------------------------------------------------
(***************************************************************************)
(* Boot: only the root memcg exists, and every task is in it.              *)
(***************************************************************************)

Init ==
    /\ lifecycle = [m \in MemcgIds |-> IF m = ROOT THEN ONLINE ELSE ABSENT]
    /\ use_hierarchy = [m \in MemcgIds |-> FALSE]
    /\ hier = [m \in MemcgIds |-> FALSE]
    /\ kmem_active = [m \in MemcgIds |-> FALSE]
    /\ kmemcg_id = [m \in MemcgIds |-> NONE]
    /\ res = [m \in MemcgIds |-> Fresh]
    /\ kmem = [m \in MemcgIds |-> Fresh]
    /\ kmem_pages = [m \in MemcgIds |-> 0]
    /\ user_pages = [m \in MemcgIds |-> 0]
    /\ task_memcg = [t \in TaskIds |-> ROOT]
    /\ task_pc = [t \in TaskIds |-> IDLE]
    /\ task_charge = [t \in TaskIds |-> NONE]
    /\ admin_pc = ADMIN_IDLE
    /\ admin_memcg = NONE
    /\ static_key = 0

-----------------------------------------------------------------------------
(***************************************************************************)
(* The kmem charge path: memcg_kmem_newpage_charge -> memcg_charge_kmem    *)
(* (kmem first, then res) -> page allocation -> memcg_kmem_commit_charge.  *)
(* Each arrow is a preemption point, so each step is an action.  Task t's  *)
(* pc and the memcg it charges move together.                              *)
(***************************************************************************)

GoTo(t, pc, memcg) ==
    /\ task_pc' = [task_pc EXCEPT ![t] = pc]
    /\ task_charge' = [task_charge EXCEPT ![t] = memcg]

(***************************************************************************)
(* memcg_charge_kmem: res_counter_charge(&memcg->kmem), no reclaim (3.8).  *)
(* The charge path runs only once the static key is patched and only for a *)
(* kmem-active memcg; otherwise memcg_kmem_newpage_charge lets the         *)
(* allocation through uncharged (the model's charge.bypass, a stutter      *)
(* step, which Next leaves out).  Over the kmem limit the allocation fails *)
(* with -ENOMEM at once.                                                   *)
(***************************************************************************)
ChargeKmem(t, m) ==
    /\ task_pc[t] = IDLE
    /\ task_memcg[t] = m
    /\ static_key > 0
    /\ CanAccountKmem(m)
    /\ LET r == IF Profile = "no_kmem_limit_check"
                THEN [counters |-> ChargeIgnoringLimit(kmem, Walk(m), PAGE_SIZE),
                      ok |-> TRUE]
                ELSE Charge(kmem, Walk(m), PAGE_SIZE)
       IN  /\ kmem' = r.counters
           /\ IF r.ok THEN GoTo(t, KMEM_CHARGED, m) ELSE GoTo(t, IDLE, NONE)
    /\ UNCHANGED << treeVars, activationVars, res, pageVars, task_memcg >>

(***************************************************************************)
(* memcg_charge_kmem: __mem_cgroup_try_charge, then kmem uncharged on      *)
(* -ENOMEM (3.8).  The res charge is modelled without reclaim or OOM: it   *)
(* succeeds or fails on the limits alone.  On failure the kmem charge is   *)
(* rolled back, except in the no_kmem_rollback bug.                        *)
(***************************************************************************)
ChargeRes(t, m) ==
    /\ task_pc[t] = KMEM_CHARGED
    /\ task_charge[t] = m
    /\ LET r == Charge(res, Walk(m), PAGE_SIZE)
       IN  /\ res' = r.counters
           /\ kmem' = IF r.ok \/ Profile = "no_kmem_rollback"
                      THEN kmem
                      ELSE Uncharge(kmem, Walk(m), PAGE_SIZE)
           /\ IF r.ok THEN GoTo(t, RES_CHARGED, m) ELSE GoTo(t, IDLE, NONE)
    /\ UNCHANGED << treeVars, activationVars, pageVars, task_memcg >>

(***************************************************************************)
(* memcg_kmem_commit_charge: pc->mem_cgroup = memcg, SetPageCgroupUsed     *)
(* (3.8).  The page now belongs to m until it is freed.                    *)
(***************************************************************************)
ChargeCommit(t, m) ==
    /\ task_pc[t] = RES_CHARGED
    /\ task_charge[t] = m
    /\ kmem_pages' = [kmem_pages EXCEPT ![m] = @ + 1]
    /\ GoTo(t, IDLE, NONE)
    /\ UNCHANGED << treeVars, activationVars, counterVars, user_pages, task_memcg >>

\* memcg_uncharge_kmem in its 3.8-3.10 order: res first, kmem last.
UnchargeKmem(m) ==
    /\ res' = Uncharge(res, Walk(m), PAGE_SIZE)
    /\ kmem' = Uncharge(kmem, Walk(m), PAGE_SIZE)

(***************************************************************************)
(* memcg_kmem_commit_charge with page == NULL: memcg_uncharge_kmem (3.8).  *)
(* The page allocator may fail for reasons the model does not track (low   *)
(* memory, order, fault injection), so after both charges either           *)
(* ChargeCommit or ChargeAbort may follow.                                 *)
(***************************************************************************)
ChargeAbort(t, m) ==
    /\ task_pc[t] = RES_CHARGED
    /\ task_charge[t] = m
    /\ UnchargeKmem(m)
    /\ GoTo(t, IDLE, NONE)
    /\ UNCHANGED << treeVars, activationVars, pageVars, task_memcg >>

(***************************************************************************)
(* __memcg_kmem_uncharge_pages: uncharge pc->mem_cgroup, clear Used (3.8). *)
(* A page is uncharged from the memcg it was committed to, whichever       *)
(* memcg the freeing task is in, and even after that memcg is removed.     *)
(***************************************************************************)
FreeUncharge(m) ==
    /\ kmem_pages[m] > 0
    /\ UnchargeKmem(m)
    /\ kmem_pages' = [kmem_pages EXCEPT ![m] = @ - 1]
    /\ UNCHANGED << treeVars, activationVars, user_pages, taskVars >>

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
    /\ task_memcg[t] = m
    /\ IF m = ROOT
       THEN /\ user_pages' = [user_pages EXCEPT ![m] = @ + 1]
            /\ UNCHANGED res
       ELSE LET r == Charge(res, Walk(m), PAGE_SIZE)
            IN  /\ res' = r.counters
                /\ user_pages' = IF r.ok
                                 THEN [user_pages EXCEPT ![m] = @ + 1]
                                 ELSE user_pages   \* -ENOMEM
    /\ UNCHANGED << treeVars, activationVars, kmem, kmem_pages, taskVars >>

\* __mem_cgroup_uncharge_common: res_counter_uncharge unless root (3.8).
UserUncharge(m) ==
    /\ user_pages[m] > 0
    /\ user_pages' = [user_pages EXCEPT ![m] = @ - 1]
    /\ res' = IF m = ROOT THEN res ELSE Uncharge(res, Walk(m), PAGE_SIZE)
    /\ UNCHANGED << treeVars, activationVars, kmem, kmem_pages, taskVars >>

-----------------------------------------------------------------------------
(***************************************************************************)
(* The cgroup tree.  As in the model, the administrator is one sequential  *)
(* actor: mkdir, rmdir, attach and the file writes below take a step only  *)
(* while no activation is half done (AdminIdle), since                     *)
(* memcg_update_kmem_limit holds its mutexes across the whole activation.  *)
(* Tasks, in contrast, charge and free at any time.                        *)
(***************************************************************************)

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
    IN  /\ AdminIdle
        /\ lifecycle[m] = ABSENT
        /\ lifecycle[p] = ONLINE
        /\ lifecycle' = [lifecycle EXCEPT ![m] = ONLINE]
        /\ use_hierarchy' = [use_hierarchy EXCEPT ![m] = use_hierarchy[p]]
        /\ hier' = [hier EXCEPT ![m] = use_hierarchy[p]]
        /\ res' = [res EXCEPT ![m] = Fresh]
        /\ kmem' = [kmem EXCEPT ![m] = Fresh]
        /\ kmem_active' = [kmem_active EXCEPT ![m] = inherit]
        /\ kmemcg_id' = [kmemcg_id EXCEPT ![m] = IF inherit THEN LowestFreeId ELSE NONE]
        /\ static_key' = static_key + (IF inherit THEN 1 ELSE 0)
        /\ UNCHANGED << admin_pc, admin_memcg, pageVars, taskVars >>

(***************************************************************************)
(* cgroup_rmdir -> mem_cgroup_css_offline -> mem_cgroup_reparent_charges   *)
(* (3.8).  A memcg with tasks or child cgroups is busy (-EBUSY).           *)
(* Otherwise its user pages move to its parent, or to the root if it does  *)
(* not charge its parent, and only its own res level gives them up: the    *)
(* levels above were charged for them already.  Its kmem pages stay        *)
(* charged to it until they are freed.                                     *)
(***************************************************************************)
Rmdir(m) ==
    /\ AdminIdle
    /\ lifecycle[m] = ONLINE
    /\ IF TasksIn(m) # {} \/ OnlineChildren(m) # {}
       THEN UNCHANGED vars   \* -EBUSY
       ELSE LET heir == IF hier[m] THEN ParentOf(m) ELSE ROOT
                moved == user_pages[m]
            IN  /\ lifecycle' = [lifecycle EXCEPT ![m] = OFFLINE]
                /\ user_pages' = [user_pages EXCEPT ![heir] = @ + moved, ![m] = 0]
                /\ res' = [res EXCEPT ![m].usage = @ - moved * PAGE_SIZE]
                /\ UNCHANGED << use_hierarchy, hier, activationVars, kmem,
                                kmem_pages, taskVars >>

(***************************************************************************)
(* cgroup_attach_task; kmem charges never move (mem_cgroup_move_charge,    *)
(* 3.8).  A task may move with a charge in flight; the charge stays with   *)
(* the memcg it was started for.                                           *)
(***************************************************************************)
Attach(t, m) ==
    /\ AdminIdle
    /\ lifecycle[m] = ONLINE
    /\ task_memcg[t] # m
    /\ task_memcg' = [task_memcg EXCEPT ![t] = m]
    /\ UNCHANGED << treeVars, activationVars, counterVars, pageVars,
                    task_pc, task_charge >>

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
        /\ UNCHANGED << lifecycle, hier, activationVars, counterVars, pageVars,
                        taskVars >>

-----------------------------------------------------------------------------
(***************************************************************************)
(* Limits, and the activation of kmem accounting.                          *)
(***************************************************************************)

(***************************************************************************)
(* mem_cgroup_write(RES_LIMIT) -> mem_cgroup_resize_limit, no reclaimable  *)
(* pages (3.8).  The root's limit cannot be set (-EINVAL); a limit below   *)
(* the usage is refused (-EBUSY) since there is nothing to reclaim.        *)
(***************************************************************************)
LimitWrite(m, v) ==
    /\ AdminIdle
    /\ lifecycle[m] = ONLINE
    /\ res' = IF m = ROOT THEN res ELSE SetLimit(res, m, v)
    /\ UNCHANGED << treeVars, activationVars, kmem, pageVars, taskVars >>

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
       ELSE IF TasksIn(m) # {} \/ HasChildren(m) THEN
          UNCHANGED << kmem, admin_pc, admin_memcg >>              \* -EBUSY
       ELSE
          /\ kmem' = SetLimit(kmem, m, v)                          \* activation
          /\ admin_pc' = CACHE_SIZES
          /\ admin_memcg' = m
    /\ UNCHANGED << treeVars, kmem_active, kmemcg_id, static_key, res,
                    pageVars, taskVars >>

\* memcg_update_cache_sizes: ida_simple_get kmemcg_id, grow caches (3.8).
ActivateUpdateCacheSizes(m) ==
    /\ admin_pc = CACHE_SIZES
    /\ admin_memcg = m
    /\ kmemcg_id' = [kmemcg_id EXCEPT ![m] = LowestFreeId]
    /\ admin_pc' = KEY_INC
    /\ UNCHANGED << treeVars, kmem_active, admin_memcg, static_key,
                    counterVars, pageVars, taskVars >>

\* static_key_slow_inc(&memcg_kmem_enabled_key) (3.9, SB).
ActivateStaticKeyInc(m) ==
    /\ admin_pc = KEY_INC
    /\ admin_memcg = m
    /\ static_key' = static_key + 1
    /\ admin_pc' = SET_ACTIVE
    /\ UNCHANGED << treeVars, kmem_active, kmemcg_id, admin_memcg,
                    counterVars, pageVars, taskVars >>

(***************************************************************************)
(* memcg_kmem_set_active after the static key is patched (3.8).  Setting   *)
(* the bit only now guarantees that no one starts charging before every    *)
(* call site of the static key is patched, so no commit or uncharge is     *)
(* skipped after a charge.                                                 *)
(***************************************************************************)
ActivateSetActive(m) ==
    /\ admin_pc = SET_ACTIVE
    /\ admin_memcg = m
    /\ kmem_active' = [kmem_active EXCEPT ![m] = TRUE]
    /\ admin_pc' = ADMIN_IDLE
    /\ admin_memcg' = NONE
    /\ UNCHANGED << treeVars, kmemcg_id, static_key, counterVars, pageVars,
                    taskVars >>

\* mem_cgroup_reset(RES_MAX_USAGE): res_counter_reset_max (3.8).
MaxUsageReset(m, c) ==
    /\ AdminIdle
    /\ lifecycle[m] = ONLINE
    /\ IF c = RES_COUNTER
       THEN /\ res' = [res EXCEPT ![m].max_usage = res[m].usage]
            /\ UNCHANGED kmem
       ELSE /\ kmem' = [kmem EXCEPT ![m].max_usage = kmem[m].usage]
            /\ UNCHANGED res
    /\ UNCHANGED << treeVars, activationVars, pageVars, taskVars >>

\* mem_cgroup_reset(RES_FAILCNT): res_counter_reset_failcnt (3.8).
FailcntReset(m, c) ==
    /\ AdminIdle
    /\ lifecycle[m] = ONLINE
    /\ IF c = RES_COUNTER
       THEN /\ res' = [res EXCEPT ![m].failcnt = 0]
            /\ UNCHANGED kmem
       ELSE /\ kmem' = [kmem EXCEPT ![m].failcnt = 0]
            /\ UNCHANGED res
    /\ UNCHANGED << treeVars, activationVars, pageVars, taskVars >>

-----------------------------------------------------------------------------
(***************************************************************************)
(* The next-state relation.  A configuration names the actions it explores *)
(* in Actions, as the model's Config.actions does; each action ranges over *)
(* the same parameters as in the model.  The model's named stutter steps   *)
(* (charge.bypass, free.bypass) change nothing and are left out.           *)
(***************************************************************************)

Next ==
    \/ /\ "charge.kmem" \in Actions
       /\ \E t \in TaskIds, m \in MemcgIds : ChargeKmem(t, m)
    \/ /\ "charge.res" \in Actions
       /\ \E t \in TaskIds, m \in MemcgIds : ChargeRes(t, m)
    \/ /\ "charge.commit" \in Actions
       /\ \E t \in TaskIds, m \in MemcgIds : ChargeCommit(t, m)
    \/ /\ "charge.abort" \in Actions
       /\ \E t \in TaskIds, m \in MemcgIds : ChargeAbort(t, m)
    \/ /\ "free.uncharge" \in Actions
       /\ \E m \in MemcgIds : FreeUncharge(m)
    \/ /\ "user.charge" \in Actions
       /\ \E t \in TaskIds, m \in MemcgIds : UserCharge(t, m)
    \/ /\ "user.uncharge" \in Actions
       /\ \E m \in MemcgIds : UserUncharge(m)
    \/ /\ "mkdir" \in Actions
       /\ \E m \in NonRoot : Mkdir(m)
    \/ /\ "rmdir" \in Actions
       /\ \E m \in NonRoot : Rmdir(m)
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

Spec == Init /\ [][Next]_vars

(***************************************************************************)
(* The exploration bounds of model/explore.py (in_constraint), used as     *)
(* TLC's CONSTRAINT: states outside it are checked but not explored.       *)
(***************************************************************************)
StateConstraint ==
    /\ Sum(kmem_pages) + Sum(user_pages) <= MaxPages
    /\ \A m \in MemcgIds : /\ res[m].failcnt <= MaxFailcnt
                           /\ kmem[m].failcnt <= MaxFailcnt

-----------------------------------------------------------------------------
(***************************************************************************)
(* The properties (model/invariants.py, in the same order).                *)
(***************************************************************************)

\* Pages each memcg holds, as each counter should see them.
KmemHeld == [d \in MemcgIds |->
                kmem_pages[d] + InFlightTo(d, {KMEM_CHARGED, RES_CHARGED})]
ResHeld  == [d \in MemcgIds |->
                kmem_pages[d] + user_pages[d] + InFlightTo(d, {RES_CHARGED})]
KmemOnlyHeld == [d \in MemcgIds |-> InFlightTo(d, {KMEM_CHARGED})]

\* The sum of f over the memcgs whose charges reach m's counters.
SubtreeSum(m, f) == SetSum({ d \in MemcgIds : Reaches(d, m) }, f)

\* I1: res_counter_charge fails over the limit.
I1_KmemWithinLimit == \A m \in MemcgIds : kmem[m].usage <= kmem[m].limit

\* I1: no -EINTR nofail path is modelled.
I1_ResWithinLimit == \A m \in MemcgIds : res[m].usage <= res[m].limit

\* max_usage is a high-water mark: never below usage.
I2_MaxUsageCoversUsage ==
    \A m \in MemcgIds : /\ res[m].max_usage >= res[m].usage
                        /\ kmem[m].max_usage >= kmem[m].usage

\* kmem.usage is the committed kmem pages of the hierarchical subtree plus
\* the charges in flight: uncharge always targets pc->mem_cgroup.
I4_KmemAccounted ==
    \A m \in MemcgIds : kmem[m].usage = PAGE_SIZE * SubtreeSum(m, KmemHeld)

\* The same for res, of a non-root memcg: the root's usage comes from
\* statistics, not from its counter.
I4_ResAccounted ==
    \A m \in NonRoot : res[m].usage = PAGE_SIZE * SubtreeSum(m, ResHeld)

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
\* uncharge is never skipped after a charge.
I5_ChargedImpliesStaticKey ==
    Sum(kmem_pages) + Cardinality({ t \in TaskIds : task_pc[t] # IDLE }) > 0
        => static_key > 0

\* One static_key_slow_inc per active memcg, plus one between
\* ActivateStaticKeyInc and ActivateSetActive.
I5_StaticKeyCountsActive ==
    static_key = Cardinality({ m \in MemcgIds : kmem_active[m] })
                   + (IF admin_pc = SET_ACTIVE THEN 1 ELSE 0)

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
            => ~(TasksIn(m) # {} \/ HasChildren(m))

\* memcg_propagate_kmem: an online child charging an active parent is
\* itself active.
I6_ChildrenInheritActive ==
    \A m \in NonRoot :
        (lifecycle[m] = ONLINE /\ hier[m] /\ kmem_active[ParentOf(m)])
            => kmem_active[m]

(***************************************************************************)
(* Structure: the facts the model's inductive proof needs beside the       *)
(* properties above.                                                       *)
(***************************************************************************)

\* The root memcg is online, unlimited, and never kmem-active.
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

\* A created memcg's parent exists; an online memcg's parent is online; an
\* online memcg that charges its parent has use_hierarchy, and so does its
\* parent (mem_cgroup_hierarchy_write refuses a memcg with children).
T_Tree ==
    \A m \in NonRoot :
        LET p == ParentOf(m)
        IN  /\ lifecycle[m] \in {ABSENT, ONLINE, OFFLINE}
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
    /\ \A t \in TaskIds :
          /\ task_memcg[t] \in MemcgIds
          /\ task_pc[t] \in {IDLE, KMEM_CHARGED, RES_CHARGED}
          /\ (task_pc[t] = IDLE) <=> (task_charge[t] = NONE)
          /\ task_charge[t] \in {NONE} \cup NonRoot
    /\ admin_pc \in {ADMIN_IDLE, CACHE_SIZES, KEY_INC, SET_ACTIVE}
    /\ (admin_pc = ADMIN_IDLE) <=> (admin_memcg = NONE)
    /\ admin_memcg \in {NONE} \cup NonRoot
    /\ static_key >= 0

\* Tasks sit in online memcgs; the memcg being activated is online and not
\* yet active, and has its kmemcg_id once past ActivateUpdateCacheSizes; an
\* active memcg exists.
T_Links ==
    /\ \A t \in TaskIds :
          \E m \in MemcgIds : task_memcg[t] = m /\ lifecycle[m] = ONLINE
    /\ \A m \in NonRoot :
          (admin_pc # ADMIN_IDLE /\ admin_memcg = m) =>
              /\ lifecycle[m] = ONLINE
              /\ ~kmem_active[m]
              /\ (kmemcg_id[m] >= 0) <=> (admin_pc # CACHE_SIZES)
    /\ \A m \in MemcgIds : kmem_active[m] => lifecycle[m] # ABSENT

(***************************************************************************)
(* Steps (checked by TLC as action properties).                            *)
(***************************************************************************)

\* No code path clears KMEM_ACCOUNTED_ACTIVE.
S_ActivationMonotone ==
    [][\A m \in MemcgIds : kmem_active[m] => kmem_active'[m]]_vars

\* A memcg turns kmem-active only with no tasks and no hierarchical children.
S_ActivationWhenEmpty ==
    [][\A m \in MemcgIds :
         (~kmem_active[m] /\ kmem_active'[m])
             => (TasksIn(m) = {} /\ ~HasChildren(m))]_vars

(***************************************************************************)
(* The variables' types.  The model's tuples need no such invariant; here  *)
(* it guards the mirror itself: a mistyped EXCEPT would show up here       *)
(* rather than as a subtly different state count.                          *)
(***************************************************************************)

Counter == [usage : Nat, max_usage : Nat, limit : Nat, failcnt : Nat]

TypeOK ==
    /\ lifecycle \in [MemcgIds -> {ABSENT, ONLINE, OFFLINE}]
    /\ use_hierarchy \in [MemcgIds -> BOOLEAN]
    /\ hier \in [MemcgIds -> BOOLEAN]
    /\ kmem_active \in [MemcgIds -> BOOLEAN]
    /\ kmemcg_id \in [MemcgIds -> {NONE} \cup Nat]
    /\ res \in [MemcgIds -> Counter]
    /\ kmem \in [MemcgIds -> Counter]
    /\ kmem_pages \in [MemcgIds -> Nat]
    /\ user_pages \in [MemcgIds -> Nat]
    /\ task_memcg \in [TaskIds -> MemcgIds]
    /\ task_pc \in [TaskIds -> {IDLE, KMEM_CHARGED, RES_CHARGED}]
    /\ task_charge \in [TaskIds -> {NONE} \cup MemcgIds]
    /\ admin_pc \in {ADMIN_IDLE, CACHE_SIZES, KEY_INC, SET_ACTIVE}
    /\ admin_memcg \in {NONE} \cup MemcgIds
    /\ static_key \in Nat
=============================================================================
