"""The bridge from the Python model to the TLA+ spec in spec/: one spec, one writer.

spec/Kmemcg.tla is the whole controller (it EXTENDS KmemcgAccounting and
KmemcgCaches, which EXTEND KmemcgState, which EXTENDS KmemcgCounters). A shipped
configuration is a *scope* of it: values for its CONSTANTS.

Names: a model action ``"charge.kmem"`` is the TLA+ operator ``ChargeKmem``; an
invariant ``"I1.kmem_within_limit"`` is ``I1_KmemWithinLimit``.

Configurations: a TLC ``.cfg`` file can hold only numbers (not negative ones),
strings, booleans, sets of those and model values; it has no tuples. So each
model :class:`~kmemcg.model.config.Config` ships as three files that belong together:

* ``<name>.tla``, a module that EXTENDS Kmemcg and defines the tuple-valued
  constants (and the limits, which may name ``Unlimited``);
* ``<name>.cfg``, which gives the other constants values and substitutes those
  definitions (``Memcgs <- MC_Memcgs``), and names the behaviour (INIT/NEXT, or
  SPECIFICATION FairSpec when liveness is checked), the CONSTRAINT, the
  INVARIANTS and the PROPERTIES;
* ``<name>.json``, the model configuration itself (``Config.to_json()``), so
  tools know which configuration the ``.cfg`` stands for.

``spec/configs.json`` lists the shipped configurations, the verdict each must
give and the liveness properties it checks. :func:`write_spec_configs` writes
all of them; tests check that the files in spec/ are exactly what it writes.

Every constant's value comes from :func:`scope_constants`, the one function
that reads a Config's scope (see "the seam" below); the rest of this module
renders and checks those values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from kmemcg.model.config import NONE, UNLIMITED, Config
from kmemcg.model.controller import MODEL
from kmemcg.model.profiles import CORRECT, FIX_NAMES, PROFILES
from kmemcg.model.scopes import PRESETS

SPEC_DIR = Path(__file__).resolve().parent.parent / "spec"
#: The top module, and every module of the spec (each EXTENDS the one before it,
#: but Kmemcg, which EXTENDS both KmemcgAccounting and KmemcgCaches).
MODULE = "Kmemcg"
MODULES = ("KmemcgCounters", "KmemcgState", "KmemcgAccounting", "KmemcgCaches", "KmemcgDeath",
           MODULE)
INDEX = "configs.json"
GENERATOR = "kmemcg.model.tla.write_spec_configs"
#: The TLA+ value of the model's UNLIMITED (RESOURCE_MAX): TLC's largest integer.
TLA_UNLIMITED = 2**31 - 1
#: The TLA+-only type invariant, checked after the model's invariants.
TYPE_OK = "TypeOK"
#: The fair specification liveness is checked under.
FAIR_SPEC = "FairSpec"
PASS = "pass"

#: The constants Kmemcg declares, in its order.
CONSTANTS = (
    "Memcgs", "Parents", "Tasks", "Roots", "BootRoots", "BootTasks", "BootMemcgs", "KmemLimits",
    "ResLimits", "KmemLimit", "MaxPages", "MaxCachePages", "MaxFailcnt", "SlabOrder",
    "ObjsPerSlab", "ThreadSizeOrder", "Orders", "Unlimited", "Actions", "Fixes",
    "SecondAdmin", "RootObjects", "FatalSignals", "PercpuStock", "ChargeBatch", "NrCpus",
)
#: Constants whose values are defined in the configuration's module: tuples, and
#: limits, which may name Unlimited. The others are assigned in the .cfg.
_SUBSTITUTED = ("Memcgs", "Parents", "Tasks", "Roots", "KmemLimits", "ResLimits", "KmemLimit")
_NAMES = ("Memcgs", "Tasks", "Roots")
_BOOLS = ("BootRoots", "BootTasks", "BootMemcgs", "SecondAdmin", "RootObjects",
          "FatalSignals", "PercpuStock")
_COUNTS = ("MaxPages", "MaxCachePages", "MaxFailcnt", "SlabOrder", "ObjsPerSlab",
           "ThreadSizeOrder", "ChargeBatch", "NrCpus")
_LIMIT_SETS = ("KmemLimits", "ResLimits")

#: The spec's actions (ActionNames in KmemcgState), in Next's order.
ACTIONS = (
    "charge.kmem", "charge.res", "charge.commit", "charge.abort",
    "charge.commit_unpatched", "free.uncharge", "user.charge", "user.uncharge", "mkdir", "rmdir", "force_empty", "attach",
    "use_hierarchy.write",
    "limit.write", "kmem_limit.write", "activate.update_cache_sizes",
    "activate.static_key_inc", "activate.set_active", "max_usage.reset", "failcnt.reset",
    "anon.charge", "pagecache.charge",
    "alloc", "alloc.partial", "alloc.root", "free.object", "free.release_pages", "spawn", "fork",
    "exit",
    "put_task_struct", "create_work.publish", "create_work.set_slot", "offline.mark_dead",
    "offline.done", "destroy_work.start", "destroy_work.check", "destroy_work.shrink",
    "destroy_work.destroy", "shrink.release", "shrink.done", "root_destroy.start",
    "root_destroy.clear_dead", "root_destroy.cancel_work", "root_destroy.flush_work",
    "root_destroy.destroy_child", "kmem_cache_create", "css_free.mark_dead", "css_free.read_usage", "css_free.put",
    "mem_cgroup_free", "stock.drain", "move_charge.write",
)
#: The model's named stutter steps, which Next leaves out.
STUTTERS = tuple(a.name for a in MODEL.actions.values() if not a.explored)
#: The fixes (FixNames in KmemcgState), in the order a .cfg lists them.
FIXES = FIX_NAMES
#: The spec's state invariants, in the order TLC checks them (the model's order:
#: accounting first), so TLC reports the one the explorer does when a state
#: breaks several.
STATE_INVARIANTS = tuple(i.id for i in MODEL.state_invariants())
#: Step properties ([][P]_vars), checked as PROPERTIES.
STEP_PROPERTIES = tuple(i.id for i in MODEL.step_invariants())
#: Leads-to properties, checked under FairSpec.
LIVENESS = tuple(p.id for p in MODEL.liveness)

# ---------------------------------------------------------------- the scope


def scope_constants(cfg: Config) -> dict:
    """The value of each of Kmemcg's CONSTANTS for ``cfg``, as Python values:
    names, parents and limits as tuples (sets in order), limits in bytes with
    the model's UNLIMITED, flags as bools."""
    if cfg.profile not in PROFILES:
        raise ValueError(f"configuration {cfg.name!r}: unknown profile {cfg.profile!r}")
    return {
        "Memcgs": cfg.memcgs,
        "Parents": cfg.parents,
        "Tasks": cfg.tasks,
        "Roots": cfg.roots,
        "BootRoots": cfg.boot_roots,
        "BootTasks": cfg.boot_tasks,
        "BootMemcgs": cfg.boot_memcgs,
        "KmemLimits": cfg.kmem_limits,
        "ResLimits": cfg.res_limits,
        "KmemLimit": cfg.kmem_limit,
        "MaxPages": cfg.max_pages,
        "MaxCachePages": cfg.max_cache_pages,
        "MaxFailcnt": cfg.max_failcnt,
        "SlabOrder": cfg.slab_order,
        "ObjsPerSlab": cfg.objs_per_slab,
        "ThreadSizeOrder": cfg.thread_size_order,
        "Orders": cfg.orders,
        "Unlimited": UNLIMITED,
        # as given (the writer says which it cannot mirror), or every explored one
        "Actions": (tuple(cfg.actions) if cfg.actions is not None
                    else tuple(a.name for a in MODEL.enabled(cfg))),
        "Fixes": tuple(f for f in FIXES if cfg.has_fix(f)),
        "SecondAdmin": cfg.second_admin,
        "RootObjects": cfg.root_objects,
        "FatalSignals": cfg.fatal_signals,
        "PercpuStock": cfg.percpu_stock,
        "ChargeBatch": cfg.charge_batch,
        "NrCpus": cfg.nr_cpus,
    }


def _variant(preset: str, profile: str) -> Config:
    """A preset with the fixes of ``profile`` removed."""
    base = PRESETS[preset].validate()
    if profile == base.profile:
        return base
    return replace(base, name=f"{base.name}+{profile}", profile=profile)


# ---------------------------------------------------------------- names


def _camel(snake: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_") if part)


def tla_action_name(model_name: str) -> str:
    """``"activate.update_cache_sizes"`` -> ``"ActivateUpdateCacheSizes"``."""
    return "".join(_camel(part) for part in model_name.split("."))


def tla_invariant_name(inv_id: str) -> str:
    """``"I1.kmem_within_limit"`` -> ``"I1_KmemWithinLimit"``; ``"T.root"`` -> ``"T_Root"``."""
    prefix, _, rest = inv_id.partition(".")
    return f"{prefix}_{_camel(rest)}" if rest else prefix


def tla_file_stem(snake: str) -> str:
    """``"v5_double_destroy"`` -> ``"V5DoubleDestroy"`` (a file-name stem part)."""
    return _camel(snake)


def model_invariant_id(tla_name: str) -> str | None:
    """The invariant or property a TLA+ name stands for (None: no such)."""
    for i in (*STATE_INVARIANTS, *STEP_PROPERTIES, *LIVENESS):
        if tla_invariant_name(i) == tla_name:
            return i
    return None


# ---------------------------------------------------------------- rendering


def _tla_string(s: str) -> str:
    if not isinstance(s, str) or '"' in s or "\\" in s or "\n" in s:
        raise ValueError(f"cannot write {s!r} as a TLA+ string")
    return f'"{s}"'


def _limit(v: int) -> str:
    """A limit in bytes as TLA+: UNLIMITED is the constant Unlimited."""
    if v == UNLIMITED:
        return "Unlimited"
    if not isinstance(v, int) or not 0 <= v < TLA_UNLIMITED:
        raise ValueError(f"limit {v} does not fit TLC's integers below Unlimited = {TLA_UNLIMITED}")
    return str(v)


def _count(name: str, v: int) -> str:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < TLA_UNLIMITED:
        raise ValueError(f"{name} = {v!r} must be a natural number that fits TLC's integers")
    return str(v)


def _set(items: Iterable[str]) -> str:
    return "{" + ", ".join(items) + "}"


def _wrapped_set(items: list[str], per_line: int = 3) -> str:
    """A set written one row of a few items per line, as a .cfg value."""
    if len(items) <= per_line:
        return _set(items)
    rows = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "{\n" + ",\n".join(f"        {r}" for r in rows) + "\n    }"


def _seq(items: Iterable[str]) -> str:
    return "<<" + ", ".join(items) + ">>"


def _names_of(values: dict, key: str, known: tuple[str, ...], what: str) -> list[str]:
    names = list(values[key])
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown {what}: {unknown}")
    return names


def rendered_constants(cfg: Config) -> dict[str, str]:
    """Each constant of ``cfg``'s scope as TLA+ text, in CONSTANTS order; fails
    with ValueError on what the spec or TLC cannot hold."""
    values = scope_constants(cfg)
    missing = [k for k in CONSTANTS if k not in values]
    if missing or len(values) != len(CONSTANTS):
        raise ValueError(f"scope_constants must give exactly {CONSTANTS}, missing {missing}")
    actions = list(values["Actions"])
    stutters = [a for a in actions if a in STUTTERS]
    if stutters:
        raise ValueError(f"configuration {cfg.name!r}: {stutters} are named stutter steps, "
                         "which the TLA+ spec leaves out of Next; TLC could not mirror their "
                         "effect on deadlocks")
    _names_of(values, "Actions", ACTIONS, f"action(s) in configuration {cfg.name!r}")
    fixes = _names_of(values, "Fixes", FIXES, f"fix(es) in configuration {cfg.name!r}")
    out = {}
    for k in CONSTANTS:
        v = values[k]
        if k in _NAMES:
            out[k] = _seq(_tla_string(n) for n in v)
        elif k == "Parents":
            out[k] = _seq("NONE" if p == NONE else _count(k, p) for p in v)
        elif k in _BOOLS:
            out[k] = "TRUE" if v is True else "FALSE" if v is False else _bad(k, v)
        elif k in _LIMIT_SETS:
            out[k] = _set(_limit(x) for x in v)
        elif k == "KmemLimit":
            out[k] = _limit(v)
        elif k in _COUNTS:
            out[k] = _count(k, v)
        elif k == "Orders":
            out[k] = _set(_count(k, o) for o in v)
        elif k == "Unlimited":
            out[k] = str(TLA_UNLIMITED) if v == UNLIMITED else _bad(k, v)
        elif k == "Actions":
            out[k] = _wrapped_set([_tla_string(a) for a in actions])
        else:  # Fixes
            out[k] = _wrapped_set([_tla_string(f) for f in fixes])
    return out


def _bad(key: str, value) -> str:
    raise ValueError(f"{key} = {value!r} has no TLA+ rendering")


def liveness_of(cfg: Config, expect: str) -> list[str]:
    """The liveness properties a run of ``cfg`` checks: those that apply to its
    scope (L1 names a cache, so it needs root caches; L2 needs memcgs freed),
    when no safety violation is expected (the explorer checks liveness only on a
    whole graph)."""
    if expect in STATE_INVARIANTS or expect in STEP_PROPERTIES or expect == "Deadlock":
        return []
    return [p.id for p in MODEL.liveness if p.applies is None or p.applies(cfg)]


def to_mc_module(cfg: Config, module: str) -> str:
    """The module ``module`` that instantiates Kmemcg for ``cfg`` (a .cfg file
    cannot hold tuples, so its cfg substitutes them with <-)."""
    cfg.validate()
    text = rendered_constants(cfg)
    defs = {k: text[k] for k in _SUBSTITUTED}
    width = max(len(k) for k in defs) + len("MC_")
    lines = [
        f" MODULE {module} ".center(77, "-"),
        f'\\* TLC model of {MODULE} for the model configuration "{cfg.name}"',
        f"\\* ({module}.json). Generated by {GENERATOR}: do not edit.",
        "\\* A .cfg file cannot hold tuples, so the constants are defined here and",
        f"\\* {module}.cfg substitutes them with <-.",
        f"EXTENDS {MODULE}",
        "",
        *(f"{('MC_' + k).ljust(width)} == {v}" for k, v in defs.items()),
        "=" * 77,
        "",
    ]
    return "\n".join(lines)


def to_cfg(cfg: Config, invariants: Iterable[str] | None = None,
           properties: Iterable[str] | None = None, liveness: Iterable[str] = (),
           type_ok: bool = True) -> str:
    """The TLC .cfg of ``cfg``, for use with the module :func:`to_mc_module` writes.

    ``invariants`` are state invariant ids and ``properties`` step property ids,
    by default all of them, in the spec's order; ``liveness`` are leads-to
    property ids, checked under FairSpec (with none, the behaviour is INIT Init /
    NEXT Next). ``type_ok`` adds the spec's TypeOK last.
    """
    cfg.validate()
    state_ids = list(STATE_INVARIANTS) if invariants is None else list(invariants)
    step_ids = list(STEP_PROPERTIES) if properties is None else list(properties)
    live_ids = list(liveness)
    for i in state_ids:
        if i in STEP_PROPERTIES or i in LIVENESS:
            raise ValueError(f"{i!r} is a property, not a state invariant: pass it in "
                             "properties or liveness")
        if i not in STATE_INVARIANTS:
            raise ValueError(f"unknown invariant {i!r}")
    for i in step_ids:
        if i in STATE_INVARIANTS:
            raise ValueError(f"{i!r} is a state invariant: pass it in invariants")
        if i not in STEP_PROPERTIES:
            raise ValueError(f"unknown step property {i!r}")
    for i in live_ids:
        if i not in LIVENESS:
            raise ValueError(f"unknown liveness property {i!r}")
    text = rendered_constants(cfg)
    width = max(len(k) for k in CONSTANTS)
    lines = [
        f'\\* TLC configuration for the model configuration "{cfg.name}".',
        f"\\* Generated by {GENERATOR}: do not edit.",
        "CONSTANTS",
    ]
    for k in CONSTANTS:
        if k in _SUBSTITUTED:
            lines.append(f"    {k.ljust(width)} <- MC_{k}")
        else:
            lines.append(f"    {k.ljust(width)} = {text[k]}")
    lines.append("")
    lines += [f"SPECIFICATION {FAIR_SPEC}"] if live_ids else ["INIT Init", "NEXT Next"]
    lines += ["", "CONSTRAINT StateConstraint", ""]
    names = [tla_invariant_name(i) for i in state_ids] + ([TYPE_OK] if type_ok else [])
    lines += ["INVARIANTS", *(f"    {n}" for n in names)]
    props = [tla_invariant_name(i) for i in step_ids + live_ids]
    if props:
        lines += ["", "PROPERTIES", *(f"    {n}" for n in props)]
    return "\n".join(lines) + "\n"


def cfg_constants(cfg_text: str) -> list[str]:
    """The constant names a .cfg text assigns or substitutes (for drift checks)."""
    out, inside = [], False
    for raw in cfg_text.splitlines():
        line = raw.split("\\*", 1)[0].strip()
        if not line:
            continue
        if re.fullmatch(r"CONSTANTS?", line):
            inside = True
            continue
        if re.match(r"[A-Z_]+(\s|$)", line) and "=" not in line and "<-" not in line:
            inside = False
            continue
        if inside:
            m = re.match(r"(\w+)\s*(=|<-)", line)
            if m:
                out.append(m.group(1))
    return out


# ---------------------------------------------------------------- shipped configurations


@dataclass(frozen=True)
class Shipped:
    """A configuration shipped in spec/: its file stem, model config and expected verdict."""

    name: str
    config: Config
    #: "pass", or the id of the invariant or property TLC and the explorer must report.
    expect: str

    @property
    def cfg_file(self) -> str:
        return f"{self.name}.cfg"

    @property
    def module_file(self) -> str:
        return f"{self.name}.tla"

    @property
    def json_file(self) -> str:
        return f"{self.name}.json"

    @property
    def liveness(self) -> list[str]:
        return liveness_of(self.config, self.expect)

    def module_text(self) -> str:
        return to_mc_module(self.config, self.name)

    def cfg_text(self) -> str:
        return to_cfg(self.config, liveness=self.liveness)


D3 = "D3.no_use_after_destroy"
#: (file stem after "Kmemcg_", preset, the profile whose fixes it removes, expected
#: verdict). Every state that breaks an invariant at a failing configuration's
#: shortest counterexample depth breaks the expected one first, so TLC's verdict
#: does not depend on the order it generates successors in.
SHIPPED = (
    ("Accounting", "accounting", CORRECT, PASS),
    # a nested limit: B charges A's counters under use_hierarchy
    ("Hierarchy", "hierarchy", CORRECT, PASS),
    # single pages and kmalloc_large's order 2
    ("Large", "large", CORRECT, PASS),
    ("Destruction", "destruction", CORRECT, PASS),
    # two root caches
    ("TwoRoots", "destruction-2roots", CORRECT, PASS),
    # order-1 slabs of two objects, a task's stack, a kmem limit of 4 pages
    ("Kmem", "destruction-kmem", CORRECT, PASS),
    # the objects a root cache serves itself, beside a memcg's copy (root_objects)
    ("RootObjects", "root-objects", CORRECT, PASS),
    # a root cache created at run time (kmem_cache_create), unloaded and loaded again
    ("RootCreate", "root-create", CORRECT, PASS),
    # the activation path against a second administrator and a task's charge
    ("ActivationKey", "activation-key", CORRECT, PASS),
    ("ActivationMkdir", "activation-mkdir", CORRECT, PASS),
    ("ActivationHierarchy", "activation-hierarchy", CORRECT, PASS),
    # memcg death: css_free against the last uncharge (W1), flat and hierarchical
    ("Death", "death", CORRECT, PASS),
    ("DeathHier", "death-hier", CORRECT, PASS),
    # tasks sharing an mm: a stack charged to the mm owner's group
    ("Tasks", "tasks", CORRECT, PASS),
    # anonymous pages and page cache, reclaim at U, K < U and K >= U
    ("PageCache", "page-cache", CORRECT, PASS),
    # the per-cpu charge stock: res batched, two cpus, a batch of 2 pages
    ("Stock", "stock", CORRECT, PASS),
    # memory.move_charge_at_immigrate: an attach moves the mm owner's anonymous
    # pages after a precharge that may fail -ENOMEM; kernel charges stay
    ("Immigrate", "immigrate", CORRECT, PASS),
    # every profile of the roster on its preset, with the verdict it expects
    *((tla_file_stem(p.name), p.preset, p.name, p.expect)
      for p in PROFILES.values() if p.preset is not None),
)


def shipped() -> list[Shipped]:
    """The configurations spec/ ships: derived from the model's presets, never hand-written."""
    return [Shipped(f"{MODULE}_{stem}", _variant(preset, profile), expect)
            for stem, preset, profile, expect in SHIPPED]


def index_entries(items: Iterable[Shipped] | None = None) -> list[dict]:
    return [
        {"cfg": s.cfg_file, "module": s.module_file, "model": s.json_file, "expect": s.expect,
         "liveness": s.liveness}
        for s in (shipped() if items is None else items)
    ]


def spec_files(items: Iterable[Shipped] | None = None) -> dict[str, str]:
    """File name -> text of everything :func:`write_spec_configs` writes."""
    items = list(shipped() if items is None else items)
    files: dict[str, str] = {}
    for s in items:
        files[s.module_file] = s.module_text()
        files[s.cfg_file] = s.cfg_text()
        files[s.json_file] = json.dumps(s.config.to_json(), indent=2) + "\n"
    files[INDEX] = json.dumps(index_entries(items), indent=2) + "\n"
    return files


def write_files(files: dict[str, str], spec_dir: str | Path = SPEC_DIR) -> list[Path]:
    """Write generated spec files (name -> text) into ``spec_dir``."""
    spec_dir = Path(spec_dir)
    spec_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = spec_dir / name
        path.write_text(text)
        written.append(path)
    return written


def write_spec_configs(spec_dir: str | Path = SPEC_DIR) -> list[Path]:
    """(Re)write the shipped configurations' .tla, .cfg and .json files and the index."""
    return write_files(spec_files(), spec_dir)


def load_index(spec_dir: str | Path = SPEC_DIR) -> list[dict]:
    """The shipped configurations as the index file (spec/configs.json) lists them."""
    return json.loads((Path(spec_dir) / INDEX).read_text())


if __name__ == "__main__":
    for p in write_spec_configs():
        print(p)
