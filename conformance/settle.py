"""The end of a race run: the weakly fair actions alone, then liveness.

The model's leads-to properties (L1: a dead empty cache is destroyed; L2: an
offline memcg whose charges all go is freed) hold under weak fairness of their
actions (model/liveness.py): the css_free and RCU free the kernel owes
(mem_cgroup_css_free, __mem_cgroup_free), the kworkers' items
(memcg_create_cache_work_func, kmem_cache_destroy_work_func) and the walks made
only of such steps (kmem_cgroup_css_offline's, kmem_cache_destroy_memcg_children's).
A single run is finite, so, as P's liveness monitors are checked at the end of
a test, at a run's end only tries that take a fair action are taken, until none
steps (bounded); each is checked as every try is. A key the premise names whose
goal does not hold, in a state where no fair action of the model moves either,
is a state the fair behaviours never leave: the property fails there (the
stuttering trap of model/liveness.py). Where the model could still move, this
check says nothing: the bound was reached, or the implementation holds a fair
step off behind a lock, which the step checks judge.
"""

from __future__ import annotations

from kmemcg.model.config import Config
from kmemcg.model.controller import MODEL
from kmemcg.model.serial import BEGINS, CONTINUES

#: fair tries taken at most at a run's end
BOUND = 60


def properties(cfg: Config) -> list:
    """The leads-to properties that say something in ``cfg``'s scope."""
    return [p for p in MODEL.liveness if p.applies is None or p.applies(cfg)]


def _fair(cfg: Config, prop=None) -> frozenset[str]:
    scope = set(MODEL.actions) if cfg.actions is None else set(cfg.actions)
    props = properties(cfg) if prop is None else [prop]
    return frozenset(a for p in props for a in p.fair if a in scope)


def _fair_try(run, choice, fair: frozenset) -> bool:
    """Whether ``choice`` can take only a fair action (or return)."""
    kind, what = choice[0], choice[1]
    if kind == "work" or (kind == "step" and what.startswith("kworker:")):
        return True
    if kind == "start":
        return what in fair
    name = what.split(":", 1)[0]  # a guarded path's thread is keyed by its first action
    path = BEGINS.get(name, (name,))[0]
    following = [a for a, (p, _) in CONTINUES.items() if p == path]
    return name in fair or (bool(following) and all(a in fair for a in following))


def settle(cfg: Config, run, state, oracle, claim, schedule: list, stats=None) -> tuple:
    """Take fair tries until none steps (at most :data:`BOUND`), each checked
    and appended to ``schedule`` (``stats`` counts the steps): (the state, the
    problem or None)."""
    fair = _fair(cfg)
    if not fair:
        return state, None
    for _ in range(BOUND):
        for choice in run.choices(state):
            if not _fair_try(run, choice, fair):
                continue
            schedule.append(choice)
            step, post, problem = run.take(choice, state, oracle, claim)
            if problem:
                return state, problem
            if run.known is not None and run.known.broke:
                return post, None  # undefined from here on
            if step is not None:
                state = post
                if stats is not None:
                    stats.steps += 1
                break
        else:
            break
    return state, None


def trapped(cfg: Config, s) -> tuple | None:
    """(a property, its key) whose premise holds and goal does not in ``s``,
    where no fair action of the model moves ``s``: the fair runs stay there
    forever. None if there is none."""
    for prop in properties(cfg):
        fair = [(name, args) for name in _fair(cfg, prop)
                for args in MODEL.actions[name].domain(cfg)]
        for key in prop.premise(cfg, s):
            if not prop.goal(cfg, s, key) and not any(_moves(cfg, s, a) for a in fair):
                return prop, key
    return None


def problem(cfg: Config, prop, key) -> str:
    """A trapped property as a verdict line."""
    return (f"[liveness] {prop.id} ({_named(cfg, prop, key)}): {prop.meaning}; "
            f"no fair step is left to take")


def _moves(cfg: Config, s, action) -> bool:
    name, args = action
    act = MODEL.actions[name]
    return act.guard(cfg, s, *args) and act.effect(cfg, s, *args)[0] != s


def _named(cfg: Config, prop, key) -> str:
    """A property's key as a name: L2's is a memcg."""
    return cfg.memcgs[key] if prop.id.startswith("L2") else f"cache {key}"
