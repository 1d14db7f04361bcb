"""The TLA+ spec (spec/Kmemcg.tla and the modules it extends) agrees with the Python model.

Without TLC, these tests check what can drift by hand: every module parses; the
variables, constants, actions (with their parameter domains), fixes, invariants
and fairness are the model's; the shipped configurations are exactly what
kmemcg.model.tla renders; the runner reads TLC's output. With TLC, TLC and the
explorer must agree on every shipped configuration.

The names come from the one model (kmemcg.model.controller.MODEL) and the
roster (kmemcg.model.profiles), so a new action, invariant or profile the spec
lacks fails here.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import tla as tlaparser

from kmemcg.model import (
    explore,
    invariants,  # noqa: F401  (registers the accounting invariants)
    tla,
    tlc,
)
from kmemcg.model import state as st
from kmemcg.model.config import NONE, PAGE_SIZE, ROOT, UNLIMITED, Config
from kmemcg.model.controller import MODEL
from kmemcg.model.invariants import FAIR_ACTIONS
from kmemcg.model.profiles import PROFILES
from kmemcg.model.scopes import DEFAULT, PRESETS
from kmemcg.model.state import State

from spec_ast import definitions as _definitions
from spec_ast import is_ as _is
from spec_ast import names as _names
from spec_ast import next_actions as _next_actions
from spec_ast import units as _units
from spec_ast import walk as _walk

SPEC = tla.SPEC_DIR

# ---------------------------------------------------------------- the model's names

#: The whole state's fields, in order.
VARIABLES = State._fields
#: The scope constants, in the order the top module declares them.
CONSTANTS = (
    "Memcgs", "Parents", "Tasks", "Roots", "BootRoots", "BootTasks", "BootMemcgs", "KmemLimits",
    "ResLimits", "KmemLimit", "MaxPages", "MaxCachePages", "MaxFailcnt", "SlabOrder",
    "ObjsPerSlab", "ThreadSizeOrder", "Orders", "Unlimited", "Actions", "Fixes", "SecondAdmin",
    "RootObjects", "FatalSignals", "PercpuStock", "ChargeBatch", "NrCpus",
)
#: Each fix of the roster and the profiles that remove it.
FIXES = {f: {p.name for p in PROFILES.values() if f in p.removes} for f in tla.FIXES}


def _explored() -> list[str]:
    return [a.name for a in MODEL.actions.values() if a.explored]


def _invariants(step: bool = False) -> list[str]:
    """The model's state invariants (or step properties), in its order."""
    return [i.id for i in (MODEL.step_invariants() if step else MODEL.state_invariants())]


# ---------------------------------------------------------------- reading the spec


def _parse(path: Path):
    return tlaparser.parse(path.read_text())


@pytest.fixture(scope="module")
def modules() -> dict:
    return {name: _parse(SPEC / f"{name}.tla") for name in tla.MODULES}


@pytest.fixture(scope="module")
def defs(modules) -> dict:
    """Every definition of every module of the spec."""
    out = {}
    for mod in modules.values():
        for name, d in _definitions(mod).items():
            assert name not in out, f"{name} defined twice"
            out[name] = d
    return out


@pytest.fixture(scope="module")
def top(modules):
    return modules[tla.MODULE]


def _set_value(node, cfg: Config) -> set:
    """The value of a parameter domain of Next under ``cfg``."""
    k = tla.scope_constants(cfg)
    n, t, r = len(k["Memcgs"]), len(k["Tasks"]), len(k["Roots"])
    named = {
        "TaskIds": set(range(t)),
        "MemcgIds": set(range(n)),
        "NonRoot": set(range(1, n)),
        "RootIds": set(range(r)),
        "Caches": {q * n + m for q in range(r) for m in range(1, n)},
        # with root_objects, each root's own slabs too (at the root memcg's number)
        "SlabCaches": {q * n + m for q in range(r)
                       for m in range(0 if cfg.root_objects else 1, n)},
        "ContextIds": set(range(5)),
        "CounterIds": {0, 1},
        "ResLimits": set(cfg.res_limits),
        "KmemLimits": set(cfg.kmem_limits),  # Unlimited stands for UNLIMITED
        "UsedFills": set(range(1, cfg.objs_per_slab + 1)),
        "PartialFills": set(range(1, cfg.objs_per_slab)),
        "Orders": set(cfg.orders),
        "CpuIds": set(range(cfg.cpus)),
    }
    if _is(node, "OperatorApplication") and not node.arguments:
        return named[node.operator]
    if _is(node, "SetEnumeration"):
        return {int(x.value) for x in node.items}
    raise AssertionError(f"unexpected parameter domain {tlaparser.pformat_ast(node)}")


def _int_value(node):
    if _is(node, "IntegralNumeral"):
        return int(node.value)
    if _is(node, "OperatorApplication") and node.operator == "-" and len(node.arguments) == 1:
        return -_int_value(node.arguments[0])
    return None


def _strings(node) -> list[str]:
    return [s.value.strip('"') for s in node.items]


# ---------------------------------------------------------------- (a) parsing


@pytest.mark.parametrize("path", sorted(SPEC.glob("*.tla")), ids=lambda p: p.name)
def test_module_parses(path):
    mod = _parse(path)
    assert mod.name == path.stem


def test_the_modules_extend_one_another(modules):
    ext = {name: [e.operator if hasattr(e, "operator") else str(e) for e in mod.extendees]
           for name, mod in modules.items()}
    assert "KmemcgCounters" in ext["KmemcgState"]
    assert ext["KmemcgAccounting"] == ["KmemcgState"] == ext["KmemcgCaches"] \
        == ext["KmemcgDeath"]
    assert ext[tla.MODULE] == ["KmemcgAccounting", "KmemcgCaches", "KmemcgDeath"]
    # only KmemcgState declares constants and variables
    for name, mod in modules.items():
        if name != "KmemcgState":
            assert not _units(mod, "Constants") and not _units(mod, "Variables"), name


# ---------------------------------------------------------------- (b) structure


def test_variables_are_the_whole_states_fields(modules, defs):
    mod = modules["KmemcgState"]
    assert _names(_units(mod, "Variables")) == list(VARIABLES)
    assert [v.operator for v in defs["vars"].definiens.items] == list(VARIABLES)
    # each variable is in exactly one group of an UNCHANGED
    groups = ("memcgVars", "counterVars", "pageVars", "taskVars", "adminVars", "cacheVars",
              "walkVars")
    grouped = [v.operator for g in groups for v in defs[g].definiens.items] + ["error"]
    assert sorted(grouped) == sorted(VARIABLES)


def test_constants_are_what_to_cfg_assigns(modules):
    declared = _names(_units(modules["KmemcgState"], "Constants"))
    assert declared == list(CONSTANTS) == list(tla.CONSTANTS)
    for s in tla.shipped():
        assert tla.cfg_constants(s.cfg_text()) == declared
        assert set(tla.scope_constants(s.config)) == set(declared)


def test_next_takes_exactly_the_models_explored_actions(top, defs):
    actions = list(tla.ACTIONS)
    assert set(actions) == set(_explored()) and len(actions) == len(_explored())
    assert list(_next_actions(top)) == [tla.tla_action_name(a) for a in actions]
    assert _strings(defs["ActionNames"].definiens) == actions
    for a in actions:
        assert tla.tla_action_name(a) in defs, f"{a} has no definition"


def test_each_action_is_guarded_by_its_model_name(top):
    """Next takes an action only when its model name is in Actions."""
    for item in _definitions(top)["Next"].definiens.arguments:
        conj = item.expression
        guard = conj.arguments[0].expression
        call = next(n for n in _walk(conj) if _is(n, "Quantification")).predicate
        assert guard.operator == "\\in" and guard.arguments[1].operator == "Actions"
        assert tla.tla_action_name(guard.arguments[0].value.strip('"')) == call.operator


WIDE_ACCOUNTING = Config(name="wide", memcgs=("r", "A", "B", "C"), parents=(-1, 0, 0, 2),
                         tasks=("t",), kmem_limits=(1, 2), res_limits=(3,))
WIDE_DESTRUCTION = Config(name="wide-caches", memcgs=("r", "A", "B"),
                          parents=(NONE, 0, 0), tasks=("t1", "t2"), roots=("x", "y", "z"),
                          objs_per_slab=3, check_deadlock=False, boot_tasks=False,
                          boot_memcgs=True, actions=PRESETS["destruction"].actions)


@pytest.mark.parametrize("cfg", [DEFAULT, WIDE_ACCOUNTING, PRESETS["destruction"],
                                 PRESETS["destruction-2roots"], PRESETS["destruction-kmem"],
                                 PRESETS["root-objects"], WIDE_DESTRUCTION],
                         ids=lambda c: c.name)
def test_action_parameters_range_over_the_model_domains(top, cfg):
    actions = _next_actions(top)
    for name in tla.ACTIONS:
        act = MODEL.actions[name]
        args, binders = actions[tla.tla_action_name(name)]
        assert len(args) == len(act.params), name
        spec_domain = set(itertools.product(*(_set_value(binders[a], cfg) for a in args)))
        assert spec_domain == {tuple(d) for d in act.domain(cfg)}, name


def test_fixes_are_the_rosters_and_code_tests_fixes_not_profiles(modules, defs):
    assert list(tla.FIXES) == list(FIXES)
    assert set(_strings(defs["FixNames"].definiens)) == set(FIXES)
    tested = set()
    for mod in modules.values():
        for n in _walk(mod):
            if _is(n, "OperatorApplication") and n.operator in ("\\in", "\\notin") \
                    and len(n.arguments) == 2 and _is(n.arguments[0], "StringLiteral"):
                what, where = n.arguments[0].value.strip('"'), n.arguments[1]
                if _is(where, "OperatorApplication") and where.operator == "Fixes":
                    tested.add(what)
        strings = {n.value.strip('"') for n in _walk(mod) if _is(n, "StringLiteral")}
        assert not strings & set(PROFILES), "the spec names a profile; it should test a fix"
    assert tested == set(FIXES), f"fixes never tested: {set(FIXES) - tested}"


def test_each_profile_removes_exactly_its_fixes():
    for p in PROFILES.values():
        cfg = replace(PRESETS[p.preset or "accounting"], profile=p.name)
        assert set(tla.scope_constants(cfg)["Fixes"]) == {
            f for f, by in FIXES.items() if p.name not in by}, p.name


def test_every_invariant_is_defined_in_the_models_order(defs):
    assert list(tla.STATE_INVARIANTS) == _invariants()
    assert list(tla.STEP_PROPERTIES) == _invariants(step=True)
    for i in (*tla.STATE_INVARIANTS, *tla.STEP_PROPERTIES):
        name = tla.tla_invariant_name(i)
        assert name in defs, f"{i} has no definition {name}"
        body = defs[name].definiens
        is_action_property = _is(body, "OperatorApplication") and body.operator == "[]"
        assert is_action_property == (i in tla.STEP_PROPERTIES), f"{name}: [][...]_vars iff a step"
    assert [p.id for p in MODEL.liveness] == list(tla.LIVENESS)
    for lid in tla.LIVENESS:
        name = tla.tla_invariant_name(lid)
        assert any(_is(n, "OperatorApplication") and n.operator == "~>"
                   for n in _walk(defs[name].definiens)), f"{name} is not a leads-to"
    assert tla.TYPE_OK in defs and tla.FAIR_SPEC in defs


def test_fairness_covers_the_models_fair_actions(defs):
    fair = {n.operator for n in _walk(defs["Fairness"].definiens)
            if _is(n, "OperatorApplication") and n.arguments
            and n.operator in {tla.tla_action_name(a) for a in tla.ACTIONS}}
    assert fair == {tla.tla_action_name(a) for a in FAIR_ACTIONS}


def test_named_numbers_are_the_models(defs):
    d = st
    expected = {
        "ROOT": ROOT, "NONE": NONE, "PAGE_SIZE": PAGE_SIZE,
        "ABSENT": st.ABSENT, "ONLINE": st.ONLINE, "OFFLINE": st.OFFLINE,
        "IDLE": st.IDLE, "KMEM_CHARGED": st.KMEM_CHARGED, "RES_CHARGED": st.RES_CHARGED,
        "ADMIN_IDLE": st.ADMIN_IDLE, "CACHE_SIZES": st.CACHE_SIZES, "KEY_INC": st.KEY_INC,
        "SET_ACTIVE": st.SET_ACTIVE, "RES_COUNTER": 0, "KMEM_COUNTER": 1,
        "NOCACHE": d.NOCACHE, "ALIVE": d.ALIVE, "FREED": d.FREED,
        "PENDING": d.PENDING, "RUN_CHECK": d.RUN_CHECK, "RUN_SHRINK": d.RUN_SHRINK,
        "RUN_DESTROY": d.RUN_DESTROY, "OK": d.OK, "USE_AFTER_FREE": d.USE_AFTER_FREE,
        "DOUBLE_DESTROY": d.DOUBLE_DESTROY, "NULL_DEREF": d.NULL_DEREF,
        "RD_MARK": d.RD_MARK, "RD_CANCEL": d.RD_CANCEL, "RD_DESTROY": d.RD_DESTROY,
        "RD_WAIT": d.RD_WAIT,
        **{name.upper(): i for i, name in enumerate(st.CONTEXTS)},
    }
    assert st.IDLE == d.WORK_IDLE  # one IDLE for a task's charge path and a work item
    assert {k: _int_value(defs[k].definiens) for k in expected} == expected
    from kmemcg.model.actions.cgroup import COUNTERS
    assert COUNTERS == ("res", "kmem")


def test_next_has_no_choose_and_no_subset(defs):
    """TLC speed: nothing Next evaluates picks with CHOOSE or enumerates SUBSET."""
    seen, todo = set(), ["Next"]
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        for n in _walk(defs[name].definiens):
            assert not _is(n, "Choose"), f"CHOOSE in {name}"
            if _is(n, "OperatorApplication"):
                assert n.operator != "SUBSET", f"SUBSET in {name}"
                todo.append(n.operator)


# ---------------------------------------------------------------- naming


def test_names():
    assert tla.tla_action_name("charge.kmem") == "ChargeKmem"
    assert tla.tla_action_name("activate.update_cache_sizes") == "ActivateUpdateCacheSizes"
    assert tla.tla_action_name("root_destroy.destroy_child") == "RootDestroyDestroyChild"
    assert tla.tla_invariant_name("I1.kmem_within_limit") == "I1_KmemWithinLimit"
    assert tla.tla_invariant_name("T.root") == "T_Root"
    assert tla.tla_invariant_name("D3.no_use_after_destroy") == "D3_NoUseAfterDestroy"
    for i in (*tla.STATE_INVARIANTS, *tla.STEP_PROPERTIES, *tla.LIVENESS):
        assert tla.model_invariant_id(tla.tla_invariant_name(i)) == i
    assert tla.model_invariant_id("TypeOK") is None
    names = [tla.tla_action_name(a) for a in tla.ACTIONS]
    assert len(set(names)) == len(names)


# ---------------------------------------------------------------- (c) scopes and configurations


def test_scope_constants_of_the_accounting_and_destruction_presets():
    k = tla.scope_constants(DEFAULT)
    assert (k["BootTasks"], k["BootMemcgs"], k["Roots"]) == (True, False, ())
    assert (k["MaxPages"], k["MaxCachePages"]) == (DEFAULT.max_pages, DEFAULT.max_cache_pages)
    assert k["Fixes"] == tuple(FIXES) and k["Actions"] == DEFAULT.actions
    d = tla.scope_constants(PRESETS["destruction-kmem"])
    assert (d["BootTasks"], d["BootMemcgs"], d["Roots"]) == (False, True, ("dentry",))
    assert (d["MaxPages"], d["MaxCachePages"], d["KmemLimit"]) == (0, 4, 4 * PAGE_SIZE)
    assert "rmdir" in d["Actions"] and "offline.start" not in d["Actions"]
    v5 = tla.scope_constants(replace(PRESETS["destruction"], profile="v5_double_destroy"))
    assert set(FIXES) - set(v5["Fixes"]) == {"destroy_skips_pending",
                                             "destroy_returns_when_requeued"}


def test_shipped_files_are_generated():
    """spec/ holds exactly what write_spec_configs writes (regenerate with it)."""
    for name, text in tla.spec_files().items():
        path = SPEC / name
        assert path.exists(), f"{name} missing: run python -m kmemcg.model.tla"
        assert path.read_text() == text, f"{name} is stale: run python -m kmemcg.model.tla"


def test_every_cfg_is_to_cfg_of_its_json():
    index = tla.load_index()
    assert [e["cfg"] for e in index] == [s.cfg_file for s in tla.shipped()]
    assert sorted(p.name for p in SPEC.glob("*.cfg")) == sorted(e["cfg"] for e in index)
    generated = {e["module"] for e in index}
    assert sorted(p.name for p in SPEC.glob("*.tla")) == sorted(
        [f"{m}.tla" for m in tla.MODULES] + list(generated))
    for e in index:
        cfg = Config.load(SPEC / e["model"])
        assert e["liveness"] == tla.liveness_of(cfg, e["expect"])
        assert (SPEC / e["cfg"]).read_text() == tla.to_cfg(cfg, liveness=e["liveness"])
        assert (SPEC / e["module"]).read_text() == tla.to_mc_module(cfg, Path(e["module"]).stem)
        assert e["expect"] == tla.PASS or e["expect"] in (*tla.STATE_INVARIANTS, *tla.LIVENESS)
        text = (SPEC / e["cfg"]).read_text()
        # TLC 2.15 rejects CHECK_DEADLOCK in a .cfg; the runner passes -deadlock
        assert "CHECK_DEADLOCK" not in text
        assert ("SPECIFICATION FairSpec" in text) == bool(e["liveness"])


def test_liveness_is_checked_where_it_applies_and_no_safety_failure():
    """L1 where there are caches, L2 where memcgs are freed."""
    by_name = {e["cfg"]: e for e in tla.load_index()}
    l1, l2 = ["L1.dead_empty_cache_destroyed"], ["L2.offline_memcg_freed"]
    assert by_name["Kmemcg_Accounting.cfg"]["liveness"] == []
    assert by_name["Kmemcg_Destruction.cfg"]["liveness"] == l1
    assert by_name["Kmemcg_NoDestroyOnLastPage.cfg"]["liveness"] == l1
    assert by_name["Kmemcg_TwoRoots.cfg"]["liveness"] == l1
    assert by_name["Kmemcg_DestroyWhileRequeued.cfg"]["liveness"] == []
    assert by_name["Kmemcg_Death.cfg"]["liveness"] == l2
    assert by_name["Kmemcg_W2DeadParentLeak.cfg"]["liveness"] == l2


def test_one_configuration_per_profile_on_its_preset():
    loaded = [Config.load(SPEC / e["model"]) for e in tla.load_index()]
    acc = [c for c in loaded if not c.roots]
    des = [c for c in loaded if c.roots]
    on = {p.preset for p in PROFILES.values() if p.preset}
    rootless = {name for name in on if not PRESETS[name].roots}
    for group, presets in ((acc, rootless | {"hierarchy"}), (des, on - rootless)):
        assert {c.profile for c in group} == {p.name for p in PROFILES.values()
                                               if p.preset in (None, *presets)}
    assert all(not c.check_deadlock for c in des) and all(c.check_deadlock for c in acc)


def test_expected_verdicts_are_the_explorers():
    """Every failing configuration fails the way the explorer says (fast: < 1 s each);
    the passing destruction preset passes with liveness."""
    for e in tla.load_index():
        cfg = Config.load(SPEC / e["model"])
        if e["expect"] == tla.PASS and cfg.name != "destruction":
            continue  # whole graphs, left to the TLC test
        r = explore.explore(cfg, graph=bool(e["liveness"]))
        got = r.violation if r.violation else (
            r.liveness[0][0] if r.liveness else tla.PASS)
        assert got == e["expect"], e["cfg"]


def test_to_cfg_writes_unlimited_as_the_constant():
    cfg = Config(kmem_limits=(PAGE_SIZE, UNLIMITED))
    module = tla.to_mc_module(cfg, "M")
    assert "MC_KmemLimits == {4096, Unlimited}" in module
    assert "MC_Parents    == <<NONE, 0, 1>>" in module
    assert "MC_KmemLimit  == Unlimited" in module
    assert "MC_Roots      == <<>>" in module
    text = tla.to_cfg(cfg)
    assigned = {k.strip(): v.strip() for k, _, v in
                (line.partition("=") for line in text.splitlines() if " = " in line)}
    assert assigned["Unlimited"] == str(2**31 - 1)
    assert assigned["BootTasks"] == "TRUE" and assigned["BootMemcgs"] == "FALSE"


def test_to_cfg_refuses_what_tlc_cannot_mirror():
    with pytest.raises(ValueError, match="fit TLC"):
        tla.to_cfg(Config(res_limits=(2**40,)))
    with pytest.raises(ValueError, match="stutter"):
        tla.to_cfg(Config(actions=("charge.kmem", "charge.bypass")))
    with pytest.raises(ValueError, match="unknown action"):
        tla.to_cfg(Config(actions=("charge.kmemm",)))
    with pytest.raises(ValueError, match="profile"):
        tla.to_cfg(Config(profile="no_such_bug"))
    with pytest.raises(ValueError, match="unknown invariant"):
        tla.to_cfg(DEFAULT, invariants=["K2.kmem_is_slabs_and_stacks"])
    with pytest.raises(ValueError, match="unknown liveness"):
        tla.to_cfg(DEFAULT, liveness=["L9.nothing"])


def test_to_cfg_selects_actions_and_invariants():
    text = tla.to_cfg(Config(actions=("mkdir", "attach")), invariants=["T.root"],
                      properties=[], type_ok=False)
    assert re.search(r'Actions += \{"mkdir", "attach"\}', text)
    assert "INVARIANTS\n    T_Root\n" in text and "PROPERTIES" not in text
    assert text.endswith("T_Root\n")
    live = tla.to_cfg(PRESETS["destruction"].validate(), liveness=tla.LIVENESS)
    assert "SPECIFICATION FairSpec" in live and "INIT Init" not in live
    # every step property in the model's order, then the leads-to ones
    props = [*map(tla.tla_invariant_name, tla.STEP_PROPERTIES),
             "L1_DeadEmptyCacheDestroyed", "L2_OfflineMemcgFreed"]
    assert props[0] == "S_ActivationMonotone"
    assert live.endswith("PROPERTIES\n" + "".join(f"    {n}\n" for n in props))


def test_index_is_json():
    data = json.loads((SPEC / tla.INDEX).read_text())
    assert [e["cfg"] for e in data] == [s.cfg_file for s in tla.shipped()]
    assert not (SPEC / "destruction_configs.json").exists()


# ---------------------------------------------------------------- the runner's parser

TLC_PASS = """\
TLC2 Version 2.18 of Day Month 20?? (rev: 3ae2d8b)
Running breadth-first search Model-Checking with fp 98 and seed -2188 with 1 worker on 2 cores \
with 3641MB heap and 64MB offheap memory [pid: 4242] (Linux 6.1.0 amd64, Ubuntu 17.0.9 x86_64, \
MSBDiskFPSet, DiskStateQueue).
Parsing file /tmp/kmemcg-tlc-x/Kmemcg_Accounting.tla
Parsing file /tmp/kmemcg-tlc-x/Kmemcg.tla
Semantic processing of module Kmemcg
Semantic processing of module Kmemcg_Accounting
Starting... (2024-05-01 10:00:00)
Implied-temporal checking--satisfiability problem has 0 branches.
Computing initial states...
Finished computing initial states: 1 distinct state generated at 2024-05-01 10:00:01.
Progress(12) at 2024-05-01 10:00:04: 401,234 states generated (401,234 s/min), \
30,111 distinct states found, 2,345 states left on queue.
Model checking completed. No error has been found.
  Estimates of the probability that TLC did not check all reachable states
  because two distinct states had the same fingerprint:
  calculated (optimistic):  val = 8.2E-11
465809 states generated, 34453 distinct states found, 0 states left on queue.
The depth of the complete state graph search is 32.
The average outdegree of the complete state graph is 1 (minimum is 0, the maximum 9 and the \
95th percentile is 3).
Finished in 06s at (2024-05-01 10:00:06)
"""

TLC_INVARIANT = """\
TLC2 Version 2.18 of Day Month 20?? (rev: 3ae2d8b)
Starting... (2024-05-01 10:00:00)
Computing initial states...
Finished computing initial states: 1 distinct state generated at 2024-05-01 10:00:00.
Error: Invariant I1_KmemWithinLimit is violated.
Error: The behavior up to this point is:
State 1: <Initial predicate>
/\\ admin_memcg = -1
/\\ static_key = 0

State 2: <Mkdir(m) line 412, col 5 to line 425, col 60 of module Kmemcg>
/\\ admin_memcg = -1
/\\ static_key = 0

State 3: <KmemLimitWrite(m, v) line 520, col 5 to line 536, col 40 of module Kmemcg>
/\\ admin_memcg = 1

4131 states generated, 513 distinct states found, 80 states left on queue.
The depth of the complete state graph search is 10.
Finished in 01s at (2024-05-01 10:00:01)
"""

TLC_ACTION_PROPERTY = """\
TLC2 Version 2.16 of 31 December 2020 (rev: cdddf55)
Error: Action property S_ActivationMonotone is violated.
Error: The behavior up to this point is:
State 1: <Initial predicate>
/\\ static_key = 0

State 2: <Next line 580, col 5 to line 620, col 70 of module Kmemcg>
/\\ static_key = 1

1,234 states generated, 567 distinct states found, 12 states left on queue.
Finished in 02s at (2021-01-01 00:00:02)
"""

TLC_ACTION_PROPERTY_OLD = """\
TLC2 Version 2.15 of Day Month 20?? (rev: eb3ff99)
Error: Action property line 3, col 5 to line 3, col 40 of module Kmemcg is violated.
State 1: <Initial predicate>
State 2: <Action line 9, col 1 to line 9, col 20 of module Kmemcg>
10 states generated, 5 distinct states found, 0 states left on queue.
"""

TLC_TEMPORAL = """\
TLC2 Version 2.14 of 10 July 2019 (rev: 0cae24f)
Error: Temporal properties were violated.

Error: The following behavior constitutes a counter-example:

State 1: <Initial predicate>
State 2: <Action line 9, col 1 to line 9, col 20 of module Kmemcg>
2 states generated, 2 distinct states found, 0 states left on queue.
"""

TLC_DEADLOCK = """\
TLC2 Version 1.7.0 of Day Month 20?? (rev: 3c2a2d6)
Error: Deadlock reached.
Error: The behavior up to this point is:
State 1: <Initial predicate>
/\\ static_key = 0

State 2: <Attach line 460, col 5 to line 465, col 40 of module Kmemcg>
/\\ static_key = 0

12 states generated, 7 distinct states found, 3 states left on queue.
The depth of the complete state graph search is 2.
Finished in 00s at (2020-01-01 00:00:00)
"""

TLC_PARSE_ERROR = """\
TLC2 Version 2.18 of Day Month 20?? (rev: 3ae2d8b)
Parsing file /tmp/x/Kmemcg.tla
***Parse Error***
Encountered "Beginning of definition" at line 40, column 1 in module Kmemcg
Fatal errors while parsing TLA+ spec in file Kmemcg
"""

TLC_ASSUME = """\
TLC2 Version 2.18 of Day Month 20?? (rev: 3ae2d8b)
Error: Assumption line 130, col 8 to line 141, col 28 of module Kmemcg is false.
Finished in 00s at (2024-05-01 10:00:00)
"""


def test_parse_pass():
    o = tlc.parse_output(TLC_PASS)
    assert (o.verdict, o.violated, o.model_verdict) == ("pass", None, "pass")
    assert (o.generated, o.distinct, o.left, o.depth) == (465809, 34453, 0, 32)
    assert (o.version, o.tlc_time, o.trace_length) == ("2.18", "06s", 0)


def test_parse_invariant_violation():
    o = tlc.parse_output(TLC_INVARIANT)
    assert (o.verdict, o.violated, o.model_verdict) == (
        "invariant", "I1_KmemWithinLimit", "I1.kmem_within_limit")
    assert (o.distinct, o.generated, o.depth, o.trace_length) == (513, 4131, 10, 3)


def test_parse_action_property_violation():
    o = tlc.parse_output(TLC_ACTION_PROPERTY)
    assert (o.verdict, o.model_verdict) == ("property", "S.activation_monotone")
    assert (o.generated, o.distinct, o.left, o.trace_length) == (1234, 567, 12, 2)


def test_parse_action_property_named_by_location(tmp_path):
    (tmp_path / "Kmemcg.tla").write_text(
        "---- MODULE Kmemcg ----\nVARIABLE x\nS_ActivationMonotone ==\n"
        "    [][x' >= x]_x\n====\n")
    o = tlc.parse_output(TLC_ACTION_PROPERTY_OLD, module_dir=tmp_path)
    assert (o.verdict, o.violated, o.model_verdict) == (
        "property", "S_ActivationMonotone", "S.activation_monotone")


def test_parse_temporal_violation():
    o = tlc.parse_output(TLC_TEMPORAL)
    assert (o.verdict, o.violated, o.trace_length) == ("property", None, 2)


def test_parse_deadlock():
    o = tlc.parse_output(TLC_DEADLOCK)
    assert (o.verdict, o.model_verdict, o.distinct, o.trace_length) == (
        "deadlock", "Deadlock", 7, 2)


def test_parse_errors():
    o = tlc.parse_output(TLC_PARSE_ERROR)
    assert (o.verdict, o.model_verdict, o.distinct) == ("error", "error", None)
    o = tlc.parse_output(TLC_ASSUME)
    assert o.verdict == "error" and o.message.startswith("Assumption line 130")
    assert tlc.parse_output("").message == "TLC gave no verdict"


def test_a_tlc_error_is_shown_whole():
    o = tlc.parse_output(TLC_PARSE_ERROR)
    assert o.message.splitlines() == TLC_PARSE_ERROR.splitlines()[2:]
    two_lines = TLC_ASSUME.replace("is false.", "is false.\nThe behavior up to this point is:")
    assert tlc.parse_output(two_lines).message.splitlines()[1] == "The behavior up to this point is:"


def test_not_found_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(tlc.ENV_JAR, str(tmp_path / "missing.jar"))
    with pytest.raises(tlc.TlcNotFound, match=tlc.ENV_JAR):
        tlc.find_tlc()


def test_tlc_is_found_in_order_env_path_bundled(monkeypatch, tmp_path):
    jar = tmp_path / "tla2tools.jar"
    jar.write_bytes(b"")
    fake_tlc = tmp_path / "bin" / "tlc"
    fake_tlc.parent.mkdir()
    fake_tlc.write_text("#!/bin/sh\n")
    fake_tlc.chmod(0o755)
    java = shutil.which("java")
    monkeypatch.setenv("PATH", f"{fake_tlc.parent}:{Path(java).parent if java else ''}")
    monkeypatch.setenv(tlc.ENV_JAR, str(jar))
    if java:
        assert tlc.find_tlc()[-3:] == ["-cp", str(jar.resolve()), "tlc2.TLC"]
    monkeypatch.delenv(tlc.ENV_JAR)
    assert tlc.find_tlc() == [str(fake_tlc)]


def test_without_java_the_bundled_jar_says_java_is_missing(monkeypatch, tmp_path):
    monkeypatch.delenv(tlc.ENV_JAR, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(tlc.TlcNotFound, match="Java 11"):
        tlc.find_tlc()
    assert "Java 11" in tlc.unavailable_reason()


@pytest.mark.skipif(shutil.which("java") is None, reason="no java on PATH: TLC cannot run here")
def test_with_java_the_test_install_brings_tlc():
    """CI has Java: the TLC comparisons below must run there, not skip."""
    assert tlc.available(), tlc.unavailable_reason()


#: why TLC cannot run here (None: it can), asked once
NO_TLC = tlc.unavailable_reason()

# ---------------------------------------------------------------- (d) TLC itself


@pytest.mark.skipif(NO_TLC is not None, reason=str(NO_TLC))
@pytest.mark.parametrize("entry", tla.load_index(), ids=lambda e: e["cfg"])
def test_tlc_agrees_with_the_explorer(entry):
    (comparison,) = tlc.run_shipped([entry["cfg"]])
    print(comparison)
    print(comparison.tlc.output[-3000:])
    assert comparison.ok, str(comparison)


#: scopes no shipped configuration has: force_empty (in Next, in no shipped
#: configuration), 16 KiB stacks (ThreadSizeOrder as thread_size_order) and a
#: dying task's anonymous pages going to the root (FatalSignals)
UNSHIPPED = [PRESETS["force-empty"],
             replace(PRESETS["destruction-kmem"], name="big-stacks", thread_size_order=2),
             replace(PRESETS["immigrate-race"], name="fatal-signals", fatal_signals=True)]


@pytest.mark.skipif(NO_TLC is not None, reason=str(NO_TLC))
@pytest.mark.parametrize("cfg", UNSHIPPED, ids=lambda c: c.name)
def test_tlc_agrees_with_the_explorer_on_a_scope_no_shipped_configuration_has(tmp_path, cfg):
    """Rendered as the shipped ones are, the scope must reach exactly the explorer's
    states under TLC too."""
    for module in tla.MODULES:
        shutil.copy(SPEC / f"{module}.tla", tmp_path)
    stem = tla.tla_file_stem(cfg.name.replace("-", "_"))
    item = tla.Shipped(f"{tla.MODULE}_{stem}", cfg.validate(), tla.PASS)
    tla.write_files(tla.spec_files([item]), tmp_path)
    (comparison,) = tlc.run_shipped(spec_dir=tmp_path)
    assert comparison.ok, str(comparison)


def test_comparison_judges_a_tlc_outcome_in_the_specs_terms():
    """No TLC needed: a TLC outcome as the parser would give it, against the explorer."""
    live = explore.explore(replace(PRESETS["destruction"], profile="no_destroy_on_last_page"))
    temporal = tlc.TlcOutcome("property", None, 1000, live.distinct, 0, 10, 5)
    ok = tlc.Comparison("live", "L1.dead_empty_cache_destroyed",
                        tlc.TlcRun("m", "c", temporal, 1.0, 0, ""), live,
                        ("L1.dead_empty_cache_destroyed",))
    assert ok.ok, ok.problems
    correct = explore.explore(PRESETS["destruction"])
    short = tlc.TlcOutcome("pass", None, 10, correct.distinct - 1, 0, 5, 0)
    bad = tlc.Comparison("pass", "pass", tlc.TlcRun("m", "c", short, 1.0, 0, ""), correct,
                         tla.LIVENESS)
    assert bad.problems == [f"TLC found {correct.distinct - 1} distinct states, the explorer "
                            f"{correct.distinct}"]
