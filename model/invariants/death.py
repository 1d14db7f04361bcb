"""Invariants of memcg death (3.8-3.10 refcounting), and its liveness property.

M: a freed memcg holds nothing; the death reference is put at most once, and
only by a memcg that had one. T: the structural facts of css_free and the DEAD
bit. L2: an offline memcg whose charges all go is eventually freed, under weak
fairness of css_free, the free and the cache workers. That each charge is
given back once, to the memcg recorded at charge, is I4 (every counter equals
the pages still recorded under it) and I6.no_charge_leak (a stack stays charged
where fork put it), with M1 closing the case of a memcg that is gone.
"""

from __future__ import annotations

from kmemcg.model.config import NONE, Config
from kmemcg.model.core import Invariants, LeadsTo
from kmemcg.model.dual import And, Eq, Implies, Not, Or
from kmemcg.model.facts import in_flight_to, kernel_pages
from kmemcg.model.invariants.caches import FAIR_ACTIONS as CACHE_FAIR
from kmemcg.model.state import (
    ALIVE,
    CSS_DONE,
    CSS_LIVE,
    CSS_TEST_DEAD,
    KMEM_CHARGED,
    MEMCG_FREED,
    OFFLINE,
    RES_CHARGED,
    State,
    memcg_caches,
)

INVARIANTS = Invariants()


def _memcgs(cfg, fn):
    return And(*(fn(m) for m in range(1, cfg.n_memcgs)))


@INVARIANTS.add("M1.freed_is_empty",
                "a freed memcg has no usage (res and kmem), no charged page or stack, no "
                "live cache, no charge in flight and no kmemcg_id",
                "domain 7: disarm_kmem_keys WARNs on kmem usage; issue 9")
def freed_empty(cfg, s):
    def holds(m):
        return Implies(Eq(s.lifecycle[m], MEMCG_FREED), And(
            _empty(cfg, s, m), Eq(s.kmemcg_id[m], NONE), Not(s.kmem_active[m])))

    return _memcgs(cfg, holds)


def _empty(cfg, s, m):
    """Nothing is charged to or held by memcg ``m``."""
    return And(
        Eq(s.res[m].usage, 0), Eq(s.kmem[m].usage, 0),
        Eq(s.kmem_pages[m], 0), Eq(s.user_pages[m], 0),
        *(Not(Eq(s.task_stack[t], m)) for t in range(cfg.n_tasks)),
        *(Not(Eq(s.task_charge[t], m)) for t in range(cfg.n_tasks)),
        *(Not(Eq(s.cache[c], ALIVE)) for c in memcg_caches(cfg, m)))


@INVARIANTS.add("M2.death_put_once",
                "the death reference is put at most once, only by a memcg activated, and "
                "never while DEAD is still set",
                "domain 7 and 13 W1: test_and_clear_bit(KMEM_ACCOUNTED_DEAD)")
def death_put_once(cfg, s):
    def holds(m):
        puts = s.death_puts[m]
        return And(Or(Eq(puts, 0), Eq(puts, 1)),
                   Implies(Eq(puts, 1), Or(s.kmem_active[m], Eq(s.lifecycle[m], MEMCG_FREED))),
                   Implies(s.kmem_dead[m], Eq(puts, 0)))

    return _memcgs(cfg, holds)


@INVARIANTS.add("T.death",
                "DEAD is set only on an active memcg css_free has begun on; css_free runs "
                "only on a removed memcg; a freed memcg's css_free is done",
                "kmem_cgroup_destroy runs from mem_cgroup_css_free (3.8-3.10)", kind="type")
def death_shape(cfg, s):
    def holds(m):
        lc, pc = s.lifecycle[m], s.destroy_pc[m]
        removed = Or(Eq(lc, OFFLINE), Eq(lc, MEMCG_FREED))
        return And(
            Or(*(Eq(pc, v) for v in range(4))),
            Implies(s.kmem_dead[m], And(Eq(lc, OFFLINE), s.kmem_active[m],
                                        Not(Eq(pc, CSS_LIVE)))),
            Implies(Not(Eq(pc, CSS_LIVE)), removed),
            Implies(Eq(lc, MEMCG_FREED), Eq(pc, CSS_DONE)))

    return And(_memcgs(cfg, holds), Not(s.kmem_dead[0]), Eq(s.destroy_pc[0], CSS_LIVE),
               Eq(s.death_puts[0], 0))


@INVARIANTS.add("T.death_refs",
                "before css_free nothing was put; once it began no css reference is taken "
                "and an active memcg is DEAD or put; a put memcg has no charge in flight",
                "memcg->refcnt (3.8-3.10): what the references stand for", kind="type")
def death_refs(cfg, s):
    def holds(m):
        pc, puts = s.destroy_pc[m], s.death_puts[m]
        begun = Not(Eq(pc, CSS_LIVE))
        return And(
            Implies(Not(begun), Eq(puts, 0)),
            Implies(begun, And(*(Not(s.create_pending[c]) for c in memcg_caches(cfg, m)),
                               Eq(in_flight_to(cfg, s, m, (KMEM_CHARGED,)), 0),
                               *(Or(Eq(s.destroy_pc[c], CSS_DONE),
                                    Eq(s.lifecycle[c], MEMCG_FREED), Eq(s.lifecycle[c], 0))
                                 for c in cfg.children(m)))),
            Implies(And(begun, s.kmem_active[m]), Or(s.kmem_dead[m], Eq(puts, 1))),
            Implies(puts >= 1, Eq(in_flight_to(cfg, s, m, (KMEM_CHARGED, RES_CHARGED)), 0)))

    return _memcgs(cfg, holds)


@INVARIANTS.add("M3.charged_holds_activation_ref",
                "a memcg with kernel pages of its own, or a charge to it in flight, has not "
                "had its death put; once put, or once css_free read its kmem usage as 0, "
                "the usage is 0 and stays so",
                "memcg_uncharge_kmem and kmem_cgroup_destroy put the activation reference "
                "only at kmem usage 0 (3.8-3.10, domain 7)")
def charged_holds_activation_ref(cfg, s):
    def holds(m):
        charged = Or(kernel_pages(cfg, s, m) > 0,
                     in_flight_to(cfg, s, m, (KMEM_CHARGED, RES_CHARGED)) > 0)
        emptied = Or(s.death_puts[m] >= 1, Eq(s.destroy_pc[m], CSS_TEST_DEAD))
        return And(Implies(charged, Eq(s.death_puts[m], 0)),
                   Implies(emptied, Eq(s.kmem[m].usage, 0)))

    return _memcgs(cfg, holds)


@INVARIANTS.add("T.removed_holds_no_user_pages",
                "a removed memcg holds no user page, and its offline walk is over once "
                "css_free began",
                "mem_cgroup_css_offline -> mem_cgroup_reparent_charges at rmdir; no task is "
                "left to charge it (3.8-3.10)", kind="type")
def removed_holds_no_user_pages(cfg, s):
    def holds(m):
        removed = Or(Eq(s.lifecycle[m], OFFLINE), Eq(s.lifecycle[m], MEMCG_FREED))
        return And(Implies(removed, And(Eq(s.user_pages[m], 0), Eq(s.page_cache[m], 0),
                                        *(Eq(s.mm_anon[k][m], 0) for k in range(cfg.n_tasks)))),
                   Implies(Not(Eq(s.destroy_pc[m], CSS_LIVE)), Not(Eq(s.offline_memcg, m))))

    return _memcgs(cfg, holds)


def frees(cfg: Config) -> bool:
    """Whether memcgs are freed in ``cfg``'s scope."""
    return cfg.actions is None or "mem_cgroup_free" in cfg.actions


def drained_offline(cfg: Config, s: State) -> list[int]:
    """The memcgs L2 is about: offline, with nothing charged to their counters
    and no charge to them in flight. None in a scope without the free (its
    memcgs linger by the scope's choice, not the kernel's)."""
    if not frees(cfg):
        return []
    return [m for m in range(1, cfg.n_memcgs)
            if s.lifecycle[m] == OFFLINE and s.kmem[m].usage == 0 and s.res[m].usage == 0
            and in_flight_to(cfg, s, m, (KMEM_CHARGED, RES_CHARGED)) == 0]


#: the weakly fair actions: css_free and the RCU free run once due, and the
#: cache workers of L1 (a live cache holds its memcg)
FAIR_ACTIONS = ("css_free.mark_dead", "css_free.read_usage", "css_free.put",
                "mem_cgroup_free", *CACHE_FAIR)

LIVENESS = (
    LeadsTo(
        "L2.offline_memcg_freed",
        "an offline memcg whose charges all go is eventually freed",
        drained_offline,
        lambda cfg, s, m: s.lifecycle[m] == MEMCG_FREED,
        FAIR_ACTIONS,
        "domain 7; issue 9, under weak fairness of css_free, the free and the workers",
        applies=frees,
    ),
)
