"""The bridge from the model's destruction slice to spec/CacheDestruction.tla.

The conventions are model/tla.py's, which this module reuses: action
``"destroy_work.start"`` is the TLA+ operator ``DestroyWorkStart``, invariant
``"D3.no_use_after_destroy"`` is ``D3_NoUseAfterDestroy``; each shipped model
:class:`~kmemcg.model.config.Config` is three files that belong together, a module
``<name>.tla`` defining the tuple-valued constants (a ``.cfg`` cannot hold
tuples), the ``<name>.cfg`` itself, and ``<name>.json`` (``Config.to_json()``).
``spec/destruction_configs.json`` lists them with the verdict each must give.

What differs from the accounting side:

* the constants are CacheDestruction's: the slice has roots, slab geometry
  (SlabOrder, ObjsPerSlab) and one fixed kmem limit for every non-root memcg
  (KmemLimit, defined in the configuration's module because it may be
  ``Unlimited``), and no parent tree (its counters are one level deep);
* no deadlock check: the protocol reaches quiescent end states
  (``Config.check_deadlock`` is False for the destruction presets). TLC 2.15
  knows no CHECK_DEADLOCK in a .cfg, so the runner passes ``-deadlock``;
* the liveness property (``DESTRUCTION.liveness``): the explorer checks it
  only when no invariant fails, so a configuration expected to pass or to
  break liveness runs TLC on ``SPECIFICATION FairSpec`` with the property
  under PROPERTIES, and one expected to break an invariant runs
  ``INIT``/``NEXT`` without it, as the explorer does.

The shipped configurations: every profile of ``DESTRUCTION.profiles`` on the
``destruction`` preset, each expecting what the explorer reports, and the
default profile on ``destruction-2roots`` and on ``destruction-kmem`` (slabs
of two objects, a task's stack and a kmem limit that allocation and fork run
into). :func:`write_destruction_configs` writes them;
tests/test_spec_destruction.py checks spec/ holds exactly that.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from kmemcg.model import tla
from kmemcg.model.config import Config
from kmemcg.model.controller import MODEL
from kmemcg.model.profiles import PROFILES
from kmemcg.model.scopes import PRESETS
from kmemcg.model.tla import (
    PASS,
    SPEC_DIR,
    TLA_UNLIMITED,
    TYPE_OK,
    Shipped,
    _limit,
    _seq,
    _tla_string,
    _wrapped_set,
    tla_invariant_name,
)
from kmemcg.model.tlc import Comparison

MODULE = "CacheDestruction"
#: The invariants CacheDestruction.tla defines, in its order (K1 is the
#: model's I1.kmem_within_limit and K2 the destruction scope's I4.kmem_accounted).
INVARIANTS = ("D1.destroyed_only_when_empty", "D2.destroyed_at_most_once",
              "D3.no_use_after_destroy", "D4.no_null_deref", "D5.slot_agrees_with_list",
              "D6.offline_caches_dead", "K1.kmem_within_limit", "K2.kmem_is_slabs_and_stacks",
              "T.destruction_ranges", "T.destruction_progress")
#: CacheDestruction's variables: the cache scope of the model's State, named as
#: before the one state (``online`` is lifecycle = ONLINE, ``task_memcg`` the
#: stack's memcg, ``task_exited`` a stack left charged after exit).
VARIABLES = ("online", "root_alive", "cache", "dead", "slabs", "work", "requeued",
             "create_pending", "half_created", "slot", "listed", "offline_memcg",
             "offline_done", "rdestroy_root", "rdestroy_next", "rdestroy_step", "shrinking",
             "error", "kmem", "task_memcg", "task_exited")
#: CacheDestruction's name of a model action where the two differ.
_ACTION_NAMES = {"rmdir": "offline.start"}
INDEX = "destruction_configs.json"
#: The constants CacheDestruction declares, in its order.
CONSTANTS = ("Memcgs", "Roots", "Tasks", "MaxPages", "MaxFailcnt", "SlabOrder",
             "ObjsPerSlab", "KmemLimit", "Unlimited", "Actions", "Profile")
#: Constants whose values are defined in the configuration's module (tuples, and
#: the limit, which may name Unlimited).
_SUBSTITUTED = ("Memcgs", "Roots", "Tasks", "KmemLimit")
#: The fair specification liveness is checked under.
FAIR_SPEC = "FairSpec"
#: Each shipped profile's expected verdict on the "destruction" preset: PASS,
#: a state invariant id, or a liveness id. Checked against the explorer by
#: tests/test_spec_destruction.py; every state breaking an invariant at the
#: shortest counterexample's depth breaks the same one first, so TLC's
#: verdict does not depend on the order it generates successors in.
EXPECT = {
    "correct": PASS,
    "destroy_while_requeued": "D3.no_use_after_destroy",
    "v5_double_destroy": "D3.no_use_after_destroy",
    "root_destroy_no_cancel": "D3.no_use_after_destroy",
    "offline_vs_root_destroy": "D3.no_use_after_destroy",
    "shrink_frees_last_page": "D3.no_use_after_destroy",
    "no_destroy_on_last_page": "L1.dead_empty_cache_destroyed",
    "create_after_offline": "D6.offline_caches_dead",
    "create_vs_root_destroy": "D3.no_use_after_destroy",
    "list_before_slot": "D4.no_null_deref",
}


def _camel(snake: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_") if part)


def tla_profile_name(profile: str) -> str:
    """``"v5_double_destroy"`` -> ``"V5DoubleDestroy"`` (a file-name stem part)."""
    return _camel(profile)


def liveness_ids() -> list[str]:
    return [p.id for p in MODEL.liveness]


def invariant_ids() -> list[str]:
    """The state invariants in the model's order (the explorer reports the first)."""
    return list(INVARIANTS)


def model_invariant_id(tla_name: str) -> str | None:
    """The destruction invariant or liveness property a TLA+ name stands for."""
    for i in [*INVARIANTS, *liveness_ids()]:
        if tla_invariant_name(i) == tla_name:
            return i
    return None


def explored_actions() -> list[str]:
    return list(PRESETS["destruction"].actions)


def spec_action_name(model_name: str) -> str:
    """CacheDestruction's name (as a model-style string) of a model action."""
    return _ACTION_NAMES.get(model_name, model_name)


def profiles() -> list[str]:
    """The profiles shipped on the destruction preset, in roster order."""
    return [p.name for p in PROFILES.values() if p.preset in (None, "destruction")]


def actions_of(cfg: Config) -> list[str]:
    """The model actions a destruction configuration explores, checked."""
    if not cfg.roots or cfg.boot_tasks or not cfg.boot_memcgs:
        raise ValueError(f"configuration {cfg.name!r} is no cache-race scope; {MODULE} "
                         "mirrors root caches with memcgs online at boot and forked tasks")
    if cfg.profile not in PROFILES:
        raise ValueError(f"configuration {cfg.name!r}: unknown profile {cfg.profile!r}")
    names = list(cfg.actions) if cfg.actions is not None else explored_actions()
    for name in names:
        if name not in explored_actions():
            raise ValueError(f"configuration {cfg.name!r}: {MODULE} has no action {name!r}")
    return [spec_action_name(n) for n in names]


def _definitions(cfg: Config) -> dict[str, str]:
    return {
        "Memcgs": _seq(_tla_string(n) for n in cfg.memcgs),
        "Roots": _seq(_tla_string(r) for r in cfg.roots),
        "Tasks": _seq(_tla_string(t) for t in cfg.tasks),
        "KmemLimit": _limit(cfg.kmem_limit),
    }


def to_mc_module(cfg: Config, module: str) -> str:
    """The module ``module`` that instantiates CacheDestruction for ``cfg``."""
    cfg.validate()
    actions_of(cfg)
    return tla.mc_module(module, MODULE, cfg, _definitions(cfg),
                         "kmemcg.model.tla_destruction.write_destruction_configs")


def to_cfg(cfg: Config, invariants: Iterable[str] | None = None,
           liveness: Iterable[str] = (), type_ok: bool = True) -> str:
    """The TLC .cfg of destruction configuration ``cfg``.

    ``invariants`` are state invariant ids, by default all in the model's
    order; ``liveness`` are liveness property ids, checked under FairSpec
    (with none, the behaviour is INIT Init / NEXT Next).
    """
    cfg.validate()
    if cfg.check_deadlock:
        raise ValueError(f"configuration {cfg.name!r} checks deadlock; {MODULE}'s "
                         "configurations do not (the protocol ends in quiescent states)")
    state_ids = invariant_ids() if invariants is None else list(invariants)
    live_ids = list(liveness)
    for i in state_ids:
        if i not in INVARIANTS:
            raise ValueError(f"unknown state invariant {i!r}")
    for i in live_ids:
        if i not in liveness_ids():
            raise ValueError(f"unknown liveness property {i!r}")
    if cfg.max_cache_pages >= TLA_UNLIMITED or cfg.max_failcnt >= TLA_UNLIMITED:
        raise ValueError("max_cache_pages and max_failcnt must fit TLC's integers")
    values = {
        "MaxPages": str(cfg.max_cache_pages),
        "MaxFailcnt": str(cfg.max_failcnt),
        "SlabOrder": str(cfg.slab_order),
        "ObjsPerSlab": str(cfg.objs_per_slab),
        "Unlimited": str(TLA_UNLIMITED),
        "Actions": _wrapped_set([_tla_string(a) for a in actions_of(cfg)]),
        "Profile": _tla_string(cfg.profile),
    }
    _definitions(cfg)  # fails early on values TLC cannot hold
    lines = tla.cfg_header(cfg, "kmemcg.model.tla_destruction.write_destruction_configs", CONSTANTS,
                           _SUBSTITUTED, values)
    lines.append("")
    if live_ids:
        lines += [f"SPECIFICATION {FAIR_SPEC}"]
    else:
        lines += ["INIT Init", "NEXT Next"]
    lines += ["", "CONSTRAINT StateConstraint", ""]
    names = [tla_invariant_name(i) for i in state_ids] + ([TYPE_OK] if type_ok else [])
    lines += ["INVARIANTS", *(f"    {n}" for n in names)]
    if live_ids:
        lines += ["", "PROPERTIES", *(f"    {tla_invariant_name(i)}" for i in live_ids)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- shipped configurations


@dataclass(frozen=True)
class ShippedDestruction(Shipped):
    """A shipped destruction configuration; liveness is checked unless an
    invariant is expected to fail (the explorer checks it only then)."""

    @property
    def liveness(self) -> list[str]:
        return [] if self.expect in INVARIANTS else liveness_ids()

    def module_text(self) -> str:
        return to_mc_module(self.config, self.name)

    def cfg_text(self) -> str:
        return to_cfg(self.config, liveness=self.liveness)


def _profile(profile: str) -> Config:
    base = PRESETS["destruction"].validate()
    if profile == base.profile:
        return base
    return replace(base, name=f"{base.name}+{profile}", profile=profile)


def shipped() -> list[ShippedDestruction]:
    """The destruction configurations spec/ ships, derived from the model's presets."""
    missing = {p.name for p in PROFILES.values() if p.preset in (None, "destruction")} - set(EXPECT)
    if missing:
        raise ValueError(f"no expected verdict for profile(s) {sorted(missing)}: add them "
                         "to kmemcg.model.tla_destruction.EXPECT (kmemcg explore --config "
                         "destruction --profile NAME says which)")
    out = [ShippedDestruction(f"{MODULE}_{tla_profile_name(p)}", _profile(p), EXPECT[p])
           for p in PROFILES if p in EXPECT]
    out.append(ShippedDestruction(f"{MODULE}_TwoRoots",
                                  PRESETS["destruction-2roots"].validate(), PASS))
    out.append(ShippedDestruction(f"{MODULE}_Kmem",
                                  PRESETS["destruction-kmem"].validate(), PASS))
    return out


def spec_files(items: Iterable[ShippedDestruction] | None = None) -> dict[str, str]:
    """File name -> text of everything :func:`write_destruction_configs` writes."""
    return tla.spec_files(shipped() if items is None else items, INDEX)


def write_destruction_configs(spec_dir: str | Path = SPEC_DIR) -> list[Path]:
    """(Re)write the shipped destruction configurations and their index."""
    return tla.write_files(spec_files(), spec_dir)


def load_index(spec_dir: str | Path = SPEC_DIR) -> list[dict]:
    return tla.load_index(spec_dir, INDEX)


# ---------------------------------------------------------------- TLC against the explorer


def tlc_model_verdict(outcome) -> str:
    """A TLC outcome (kmemcg.model.tlc.TlcOutcome) in the explorer's terms for this slice."""
    if outcome.verdict == "pass":
        return PASS
    if outcome.verdict == "deadlock":
        return "Deadlock"
    if outcome.verdict == "invariant" and outcome.violated:
        return model_invariant_id(outcome.violated) or outcome.violated
    if outcome.verdict == "property":
        if outcome.violated:
            return model_invariant_id(outcome.violated) or outcome.violated
        live = liveness_ids()
        # TLC names no temporal property; with one checked, it is that one
        return live[0] if len(live) == 1 else "property: unnamed"
    return "error"


def explorer_verdict(result) -> str:
    if result.violation:
        return result.violation
    if getattr(result, "liveness", None):
        return result.liveness[0][0]
    return PASS


class DestructionComparison(Comparison):
    """TLC and the explorer on one shipped destruction configuration: verdicts
    in this slice's terms, and liveness runs explore the whole graph too."""

    @property
    def tlc_verdict(self) -> str:
        return tlc_model_verdict(self.tlc.outcome)

    @property
    def explorer_verdict(self) -> str:
        return explorer_verdict(self.explorer)

    @property
    def whole_graph(self) -> bool:
        return self.expect == PASS or self.expect in liveness_ids()


def run_shipped(cfgs: list[str] | None = None, spec_dir: str | Path = SPEC_DIR,
                workers: int | str = 1, timeout: float | None = None
                ) -> list[DestructionComparison]:
    """Run TLC and the explorer on the shipped destruction configurations."""
    from kmemcg.model import explore, tlc

    tlc.find_tlc()
    spec_dir = Path(spec_dir)
    results = []
    for entry in tlc._select(load_index(spec_dir), cfgs):
        cfg = Config.load(spec_dir / entry["model"])
        run_ = tlc.run(spec_dir / entry["module"], spec_dir / entry["cfg"], workers=workers,
                       check_deadlock=cfg.check_deadlock, timeout=timeout)
        # the graph is needed for the liveness check
        result = explore.explore(cfg, graph=True)
        results.append(DestructionComparison(Path(entry["cfg"]).stem, entry["expect"],
                                             run_, result))
    return results


if __name__ == "__main__":
    for p in write_destruction_configs():
        print(p)
