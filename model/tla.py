"""The bridge from the Python model to the TLA+ spec in spec/.

Names: a model action ``"charge.kmem"`` is the TLA+ operator ``ChargeKmem``; an
invariant ``"I1.kmem_within_limit"`` is ``I1_KmemWithinLimit``.

Configurations: a TLC ``.cfg`` file can hold only numbers (not negative ones),
strings, booleans, sets of those and model values; it has no tuples. So each
model :class:`~kmemcg.model.config.Config` ships as three files that belong together:

* ``<name>.tla``, a module that EXTENDS KmemAccounting and defines the
  tuple-valued constants (and the limit sets, which may name ``Unlimited``);
* ``<name>.cfg``, which gives the other constants values and substitutes those
  definitions (``Memcgs <- MC_Memcgs``), and names INIT, NEXT, the CONSTRAINT,
  the INVARIANTS and the PROPERTIES;
* ``<name>.json``, the model configuration itself (``Config.to_json()``), so
  tools know which configuration the ``.cfg`` stands for.

``spec/configs.json`` lists the shipped configurations and the verdict each
must give. :func:`write_spec_configs` writes all of them; tests check that the
files in spec/ are exactly what it writes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from kmemcg.model.config import NONE, UNLIMITED, Config
from kmemcg.model.controller import MODEL
from kmemcg.model.invariants import counters, steps, structure
from kmemcg.model.profiles import PROFILES
from kmemcg.model.scopes import DEFAULT, PRESETS

ACTIONS = MODEL.actions
#: KmemAccounting's variables: the counters' and the tree's fields of State.
VARIABLES = ("lifecycle", "use_hierarchy", "hier", "kmem_active", "kmemcg_id", "res", "kmem",
             "kmem_pages", "user_pages", "task_memcg", "task_pc", "task_charge", "admin_pc",
             "admin_memcg", "static_key")
#: The invariants KmemAccounting.tla defines (the counters' and the tree's).
INVARIANTS = {i.id: i for i in (*counters.INVARIANTS, *structure.INVARIANTS, *steps.INVARIANTS)
              if i.id != "I6.no_charge_leak"}  # stated on the whole, after this module

SPEC_DIR = Path(__file__).resolve().parent.parent / "spec"
MODULE = "KmemAccounting"
INDEX = "configs.json"
#: The TLA+ value of the model's UNLIMITED (RESOURCE_MAX): TLC's largest integer.
TLA_UNLIMITED = 2**31 - 1
#: The TLA+-only type invariant, checked after the model's invariants.
TYPE_OK = "TypeOK"
PASS = "pass"

#: The constants KmemAccounting declares, in its order.
CONSTANTS = (
    "Memcgs", "Parent", "Tasks", "MaxPages", "KmemLimits", "ResLimits",
    "MaxFailcnt", "Actions", "Unlimited", "Profile",
)
#: Constants whose values are defined in the configuration's module (no tuples in a .cfg).
_SUBSTITUTED = ("Memcgs", "Parent", "Tasks", "KmemLimits", "ResLimits")


def _camel(snake: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_") if part)


def tla_action_name(model_name: str) -> str:
    """``"activate.update_cache_sizes"`` -> ``"ActivateUpdateCacheSizes"``."""
    return "".join(_camel(part) for part in model_name.split("."))


def tla_invariant_name(inv_id: str) -> str:
    """``"I1.kmem_within_limit"`` -> ``"I1_KmemWithinLimit"``; ``"T.root"`` -> ``"T_Root"``."""
    prefix, _, rest = inv_id.partition(".")
    return f"{prefix}_{_camel(rest)}" if rest else prefix


def model_invariant_id(tla_name: str) -> str | None:
    """The model invariant a TLA+ invariant or property name stands for (None: no such)."""
    for i in INVARIANTS:
        if tla_invariant_name(i) == tla_name:
            return i
    return None


def explored_actions() -> list[str]:
    """The model actions KmemAccounting's Next may take (TLA+'s ActionNames): the
    explored actions of the counters and the tree."""
    return [*PRESETS["accounting"].actions, "max_usage.reset", "failcnt.reset"]


def actions_of(cfg: Config) -> list[str]:
    """The model actions a configuration explores, checked to exist in the spec."""
    if cfg.roots:
        raise ValueError(f"configuration {cfg.name!r} has root caches; {MODULE} mirrors "
                         "the counters and the tree only")
    if cfg.profile not in PROFILES:
        raise ValueError(f"configuration {cfg.name!r}: unknown profile {cfg.profile!r}")
    names = list(cfg.actions) if cfg.actions is not None else explored_actions()
    for name in names:
        if name not in explored_actions() and name in ACTIONS and ACTIONS[name].explored:
            raise ValueError(f"configuration {cfg.name!r}: {MODULE} has no action {name!r}")
        if name not in ACTIONS:
            raise ValueError(f"configuration {cfg.name!r}: unknown action {name!r}")
        if not ACTIONS[name].explored:
            raise ValueError(
                f"configuration {cfg.name!r}: {name!r} is a named stutter step, which the "
                "TLA+ spec leaves out of Next; TLC could not mirror its effect on deadlocks"
            )
    return names


def _tla_string(s: str) -> str:
    if '"' in s or "\\" in s or "\n" in s:
        raise ValueError(f"cannot write {s!r} as a TLA+ string")
    return f'"{s}"'


def _limit(v: int) -> str:
    """A limit in bytes as TLA+: UNLIMITED is the constant Unlimited."""
    if v == UNLIMITED:
        return "Unlimited"
    if not 0 <= v < TLA_UNLIMITED:
        raise ValueError(
            f"limit {v} does not fit TLC's integers below Unlimited = {TLA_UNLIMITED}"
        )
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


def _definitions(cfg: Config) -> dict[str, str]:
    """The TLA+ expressions of the constants defined in a configuration's module."""
    return {
        "Memcgs": _seq(_tla_string(n) for n in cfg.memcgs),
        "Parent": _seq("NONE" if p == NONE else str(p) for p in cfg.parents),
        "Tasks": _seq(_tla_string(t) for t in cfg.tasks),
        "KmemLimits": _set(_limit(v) for v in cfg.kmem_limits),
        "ResLimits": _set(_limit(v) for v in cfg.res_limits),
    }


def mc_module(module: str, extends: str, cfg: Config, defs: dict[str, str],
              generator: str) -> str:
    """A TLC model module: ``extends`` with the configuration's constants defined
    (a .cfg file cannot hold tuples, so its cfg substitutes them with <-)."""
    width = max(len(k) for k in defs) + len("MC_")
    lines = [
        f" MODULE {module} ".center(77, "-"),
        f'\\* TLC model of {extends} for the model configuration "{cfg.name}"',
        f"\\* ({module}.json). Generated by {generator}: do not edit.",
        "\\* A .cfg file cannot hold tuples, so the constants are defined here and",
        f"\\* {module}.cfg substitutes them with <-.",
        f"EXTENDS {extends}",
        "",
        *(f"{('MC_' + k).ljust(width)} == {v}" for k, v in defs.items()),
        "=" * 77,
        "",
    ]
    return "\n".join(lines)


def to_mc_module(cfg: Config, module: str) -> str:
    """The module ``module`` that instantiates KmemAccounting for ``cfg``."""
    cfg.validate()
    actions_of(cfg)  # the slice and actions the spec can mirror
    return mc_module(module, MODULE, cfg, _definitions(cfg), "kmemcg.model.tla.write_spec_configs")


def cfg_header(cfg: Config, generator: str, constants, substituted, values: dict) -> list[str]:
    """A .cfg's opening: whence it came, and its CONSTANTS (the substituted ones
    come from the MC module, which can hold tuples)."""
    width = max(len(k) for k in constants)
    lines = [
        f'\\* TLC configuration for the model configuration "{cfg.name}".',
        f"\\* Generated by {generator}: do not edit.",
        "CONSTANTS",
    ]
    for k in constants:
        if k in substituted:
            lines.append(f"    {k.ljust(width)} <- MC_{k}")
        else:
            lines.append(f"    {k.ljust(width)} = {values[k]}")
    return lines


def to_cfg(cfg: Config, invariants: Iterable[str] | None = None,
           properties: Iterable[str] | None = None, type_ok: bool = True) -> str:
    """The TLC .cfg of ``cfg``, for use with the module :func:`to_mc_module` writes.

    ``invariants`` and ``properties`` are model invariant ids (state invariants
    and step properties); by default all of them, in the model's order, so TLC
    reports the same invariant the explorer does when a state breaks several.
    ``type_ok`` adds the spec's TypeOK last.
    """
    cfg.validate()
    if cfg.max_pages >= TLA_UNLIMITED or cfg.max_failcnt >= TLA_UNLIMITED:
        raise ValueError("max_pages and max_failcnt must fit TLC's integers")
    mine = INVARIANTS.values()
    state_ids = [i.id for i in mine if i.kind != "step"] if invariants is None else list(invariants)
    step_ids = [i.id for i in mine if i.kind == "step"] if properties is None else list(properties)
    for i in state_ids + step_ids:
        if i not in INVARIANTS:
            raise ValueError(f"unknown invariant {i!r}")
    for i in state_ids:
        if INVARIANTS[i].kind == "step":
            raise ValueError(f"{i!r} is a step property: pass it in properties")
    for i in step_ids:
        if INVARIANTS[i].kind != "step":
            raise ValueError(f"{i!r} is a state invariant: pass it in invariants")
    values = {
        "MaxPages": str(cfg.max_pages),
        "MaxFailcnt": str(cfg.max_failcnt),
        "Actions": _wrapped_set([_tla_string(a) for a in actions_of(cfg)]),
        "Unlimited": str(TLA_UNLIMITED),
        "Profile": _tla_string(cfg.profile),
    }
    _definitions(cfg)  # fails early on values TLC cannot hold
    lines = cfg_header(cfg, "kmemcg.model.tla.write_spec_configs", CONSTANTS, _SUBSTITUTED, values)
    names = [tla_invariant_name(i) for i in state_ids] + ([TYPE_OK] if type_ok else [])
    lines += ["", "INIT Init", "NEXT Next", "", "CONSTRAINT StateConstraint", ""]
    lines += ["INVARIANTS", *(f"    {n}" for n in names)]
    if step_ids:
        lines += ["", "PROPERTIES", *(f"    {tla_invariant_name(i)}" for i in step_ids)]
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
    #: "pass", or the model id of the invariant TLC and the explorer must report.
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

    def module_text(self) -> str:
        return to_mc_module(self.config, self.name)

    def cfg_text(self) -> str:
        return to_cfg(self.config)


def _bug(profile: str) -> Config:
    return replace(DEFAULT, name=f"{DEFAULT.name}+{profile}", profile=profile)


def shipped() -> list[Shipped]:
    """The configurations spec/ ships: derived from the model's presets, never hand-written."""
    return [
        Shipped("MCKmemAccounting", DEFAULT, PASS),
        Shipped("KmemAccounting_Hierarchy", PRESETS["hierarchy"].validate(), PASS),
        # the kmem charge that skips the limit check: usage goes over the limit
        Shipped("KmemAccounting_NoLimitCheck", _bug("no_kmem_limit_check"),
                "I1.kmem_within_limit"),
        # a failed res charge that keeps its kmem charge: kmem leaks a page. Every
        # state with the leak breaks I4.kmem_accounted, which comes before
        # I3.kmem_within_res in the model's order, so BFS reports it first.
        Shipped("KmemAccounting_NoRollback", _bug("no_kmem_rollback"), "I4.kmem_accounted"),
    ]


def index_entries(items: Iterable[Shipped] | None = None) -> list[dict]:
    return [
        {"cfg": s.cfg_file, "module": s.module_file, "model": s.json_file, "expect": s.expect}
        for s in (shipped() if items is None else items)
    ]


def spec_files(items: Iterable[Shipped] | None = None, index: str = INDEX) -> dict[str, str]:
    """File name -> text of everything :func:`write_spec_configs` writes (or, given
    another slice's items and index name, what its writer writes)."""
    items = list(shipped() if items is None else items)
    files: dict[str, str] = {}
    for s in items:
        files[s.module_file] = s.module_text()
        files[s.cfg_file] = s.cfg_text()
        files[s.json_file] = json.dumps(s.config.to_json(), indent=2) + "\n"
    files[index] = json.dumps(index_entries(items), indent=2) + "\n"
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


def load_index(spec_dir: str | Path = SPEC_DIR, index: str = INDEX) -> list[dict]:
    """The shipped configurations as an index file (spec/configs.json) lists them."""
    return json.loads((Path(spec_dir) / index).read_text())
