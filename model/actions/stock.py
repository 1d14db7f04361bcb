"""The per-cpu charge stock: res charged in batches, the excess kept per cpu.

__mem_cgroup_try_charge (3.8 mm/memcontrol.c) first takes the pages from the
cpu's ``memcg_stock`` (consume_stock: the stock caches this memcg and holds
enough, for up to CHARGE_BATCH pages since Suleiman Souhlal's V3-01); else it
charges res ``batch = max(CHARGE_BATCH, nr_pages)`` pages at once, and on a
failure of that batch (``nr_pages > min_pages``: CHARGE_RETRY, V3-02) retries
the exact ``nr_pages``, the first attempt's failcnt left counted. What a
successful batch charged over ``nr_pages`` goes to the stock (refill_stock),
which first gives back what it held for another memcg (drain_stock). Uncharges
never go through the stock. Only ``memcg->res`` is stocked: memcg_charge_kmem
charges ``memcg->kmem`` with res_counter_charge itself, so kmem stays exact
(domain section 9). A scope without ``percpu_stock`` charges res page for page,
the exact-counter abstraction.

The charging task's cpu is ``t % nr_cpus``: the model does not migrate tasks,
so which stock a charge meets is fixed per task (two tasks on two cpus meet
two stocks).
"""

from __future__ import annotations

from kmemcg.model import res_counter as rc
from kmemcg.model.actions.reclaim import mem_cgroup_try_charge
from kmemcg.model.config import NONE, PAGE_SIZE, Config
from kmemcg.model.core import Actions
from kmemcg.model.dual import And, Eq, If, Max, Not, Or
from kmemcg.model.facts import reaches
from kmemcg.model.state import State, replace_at

ACTIONS = Actions("kernel")


def cpu_of(cfg: Config, t: int) -> int:
    """The cpu task ``t`` runs on (raw_smp_processor_id in its charge)."""
    return t % cfg.nr_cpus


def drain_stock(cfg: Config, s: State, cpu: int) -> State:
    """drain_stock (3.8): the stock's pages are uncharged from its memcg's res
    (res_counter_uncharge, up the hierarchy), and it caches no memcg."""
    res = s.res
    for d in range(1, cfg.n_memcgs):
        held = And(Eq(s.stock_memcg[cpu], d), s.stock_pages[cpu] > 0)
        res = If(held, rc.uncharge(res, rc.chain(cfg, s, d), PAGE_SIZE * s.stock_pages[cpu]),
                 res)
    return s._replace(res=res, stock_memcg=replace_at(s.stock_memcg, cpu, NONE),
                      stock_pages=replace_at(s.stock_pages, cpu, 0))


def refill_stock(cfg: Config, s: State, m: int, cpu: int, nr_pages) -> State:
    """refill_stock (3.8): a stock caching another memcg is drained first; then
    it caches ``m`` and holds ``nr_pages`` more."""
    same = Eq(s.stock_memcg[cpu], m)
    drained = drain_stock(cfg, s, cpu)
    base = If(same, s, drained)
    pages = If(same, s.stock_pages[cpu], 0) + nr_pages
    return base._replace(stock_memcg=replace_at(base.stock_memcg, cpu, m),
                         stock_pages=replace_at(base.stock_pages, cpu, pages))


def try_charge(cfg: Config, s: State, m: int, nr_pages, cpu: int, may_reclaim: bool = True):
    """__mem_cgroup_try_charge's res side for ``nr_pages`` pages on ``cpu``
    (3.8): (post, ok). Without the stock, the exact charge of the pages,
    reclaiming page cache at U before -ENOMEM unless ``may_reclaim`` is off
    (model/actions/reclaim.py). With the stock there is no reclaim: no scope
    with the stock has page cache (Config.validate refuses one), so a batch's
    retry is the exact size alone, as mem_cgroup_do_charge's CHARGE_RETRY."""
    levels = rc.chain(cfg, s, m)
    if not cfg.percpu_stock:
        if may_reclaim:
            return mem_cgroup_try_charge(cfg, s, m, PAGE_SIZE * nr_pages)
        res, ok = rc.charge(s.res, levels, PAGE_SIZE * nr_pages)
        return s._replace(res=res), ok
    batch_size = cfg.charge_batch
    consume = And(nr_pages <= batch_size, Eq(s.stock_memcg[cpu], m),
                  s.stock_pages[cpu] >= nr_pages)
    consumed = s._replace(stock_pages=replace_at(s.stock_pages, cpu,
                                                 s.stock_pages[cpu] - nr_pages))
    batch = Max(batch_size, nr_pages)
    batched, batch_ok = rc.charge(s.res, levels, PAGE_SIZE * batch)
    # mem_cgroup_do_charge: a failed batch (nr_pages > min_pages) is CHARGE_RETRY,
    # with the exact size and no reclaim; its failcnt++ and max_usage stay
    exact, exact_ok = rc.charge(batched, levels, PAGE_SIZE * nr_pages)
    retried = And(Not(batch_ok), batch > nr_pages)
    restocked = refill_stock(cfg, s._replace(res=batched), m, cpu, batch - nr_pages)
    charged = If(batch_ok, If(batch > nr_pages, restocked, s._replace(res=batched)),
                 s._replace(res=If(retried, exact, batched)))
    ok = Or(batch_ok, And(retried, exact_ok))
    return If(consume, consumed, charged), Or(consume, ok)


def drain_all_stock(cfg: Config, s: State, m: int) -> State:
    """drain_all_stock_sync(root_memcg) (3.8): every cpu whose stock caches
    ``m`` or a memcg whose counters charge ``m``'s (mem_cgroup_same_or_subtree)
    is drained, and the caller waits for it."""
    for cpu in range(cfg.cpus):
        mine = Or(*(And(Eq(s.stock_memcg[cpu], d), reaches(cfg, s, d, m))
                    for d in range(1, cfg.n_memcgs)))
        s = If(mine, drain_stock(cfg, s, cpu), s)
    return s


def _drain_guard(cfg, s, cpu):
    return Not(Eq(s.stock_memcg[cpu], NONE))


def _drain(cfg, s, cpu):
    return drain_stock(cfg, s, cpu), 0


ACTIONS.add(
    "stock.drain",
    ("cpu",),
    lambda cfg: tuple((c,) for c in range(cfg.cpus)),
    "drain_local_stock (3.8): the cpu's stock work, queued by drain_all_stock_async "
    "from a reclaim, or the CPU_DEAD notifier's drain_stock",
)((_drain_guard, _drain))
