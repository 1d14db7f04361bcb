---------------------------- MODULE KmemcgDeath -----------------------------
(***************************************************************************)
(* Memcg death with kernel memory outstanding (3.8-3.10 refcounting,       *)
(* model/actions/death.py).  An rmdir'ed memcg lingers while references    *)
(* remain.  Once the cgroup core holds no css reference, cgroup_free_fn    *)
(* runs mem_cgroup_css_free -> kmem_cgroup_destroy in three steps, each a  *)
(* preemption point against the last uncharge (W1): memcg_kmem_mark_dead,  *)
(* the kmem usage read, and -- only if that read 0 -- test_and_clear(DEAD) *)
(* with the death put; then the base reference is put.  The uncharge's own *)
(* test_and_clear is in MemcgUnchargeKmem (KmemcgState).                   *)
(*                                                                         *)
(* References are derived from the state, not counted: the base reference *)
(* until css_free's put; the activation's until the death put; one per     *)
(* live per-memcg cache; one per hierarchical child not yet freed.  With   *)
(* none left, __mem_cgroup_put's RCU callback frees the memcg              *)
(* (MemCgroupFree): disarm_kmem_keys, and the child's reference on its     *)
(* parent goes with it.                                                    *)
(***************************************************************************)
EXTENDS KmemcgState

\* memcg->refcnt, derived.
MemcgRefs(m) ==
    (IF destroy_pc[m] = CSS_DONE THEN 0 ELSE 1)
    + (IF kmem_active[m] THEN 1 - death_puts[m] ELSE 0)
    + Cardinality({ r \in RootIds : cache[CacheOf(r, m)] = ALIVE })
    + Cardinality({ c \in Children(m) : hier[c] /\ lifecycle[c] # MEMCG_FREED })

\* cgroup_free_fn may run ss->css_free: offline with its offline walk over,
\* no css reference held (a creation work's css_tryget, memcg_charge_kmem's
\* between its two counters), every child's css_free run (a child holds its
\* parent's dentry until cgroup_free_fn's dput, 3.9+).
CssFreeable(m) ==
    /\ lifecycle[m] = OFFLINE
    /\ destroy_pc[m] = CSS_LIVE
    /\ offline_memcg # m
    /\ \A r \in RootIds : ~create_pending[CacheOf(r, m)]
    /\ InFlightTo(m, {KMEM_CHARGED}) = 0
    /\ \A c \in Children(m) : destroy_pc[c] = CSS_DONE \/ lifecycle[c] \in {ABSENT, MEMCG_FREED}

\* memcg_kmem_mark_dead: set DEAD if ACTIVE.
CssFreeMarkDead(m) ==
    /\ CssFreeable(m)
    /\ kmem_dead' = [kmem_dead EXCEPT ![m] = @ \/ kmem_active[m]]
    /\ destroy_pc' = [destroy_pc EXCEPT ![m] = CSS_READ_USAGE]
    /\ UNCHANGED << move_charge, lifecycle, use_hierarchy, hier, kmem_active, kmemcg_id, res, kmem,
                    death_puts, stockVars, pageVars, taskVars, adminVars, slabCacheVars >>

\* res_counter_read_u64(&memcg->kmem, RES_USAGE): not 0, and kmem_cgroup_destroy
\* returns (the last uncharge will put) and css_free puts the base reference.
CssFreeReadUsage(m) ==
    /\ destroy_pc[m] = CSS_READ_USAGE
    /\ destroy_pc' = [destroy_pc EXCEPT ![m] = IF kmem[m].usage = 0 THEN CSS_TEST_DEAD
                                                                   ELSE CSS_DONE]
    /\ UNCHANGED << move_charge, lifecycle, use_hierarchy, hier, kmem_active, kmemcg_id,
                    counterVars, pageVars, taskVars, adminVars, slabCacheVars >>

\* memcg_kmem_test_and_clear_dead -> mem_cgroup_put, then the base put.
CssFreePut(m) ==
    /\ destroy_pc[m] = CSS_TEST_DEAD
    /\ kmem_dead' = [kmem_dead EXCEPT ![m] = FALSE]
    /\ death_puts' = [death_puts EXCEPT ![m] = IF kmem_dead[m] THEN @ + 1 ELSE @]
    /\ destroy_pc' = [destroy_pc EXCEPT ![m] = CSS_DONE]
    /\ UNCHANGED << move_charge, lifecycle, use_hierarchy, hier, kmem_active, kmemcg_id, res, kmem,
                    stockVars, pageVars, taskVars, adminVars, slabCacheVars >>

\* __mem_cgroup_free: disarm_kmem_keys (static_key_slow_dec, ida_simple_remove
\* for an active memcg); the counters stay as they were, so M1 reads them.
MemCgroupFree(m) ==
    /\ lifecycle[m] = OFFLINE
    /\ MemcgRefs(m) <= 0
    /\ lifecycle' = [lifecycle EXCEPT ![m] = MEMCG_FREED]
    /\ kmem_active' = [kmem_active EXCEPT ![m] = FALSE]
    /\ kmemcg_id' = [kmemcg_id EXCEPT ![m] = NONE]
    /\ static_key' = static_key - (IF kmem_active[m] THEN 1 ELSE 0)
    /\ UNCHANGED << move_charge, use_hierarchy, hier, destroy_pc, counterVars, pageVars, taskVars,
                    admin_pc, admin_memcg, slabCacheVars >>
=============================================================================
