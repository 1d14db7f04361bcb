"""The TLA+ spec agrees with the Python model.

Without TLC, these tests check what can drift by hand: the spec parses; its
variables, constants, actions (with their parameter domains) and invariants
are the model's; the shipped configurations are exactly what kmemcg.model.tla
generates; the runner reads TLC's output. With TLC (TLA2TOOLS_JAR or tlc on
PATH), TLC and the explorer must agree on every shipped configuration.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest
import tla as tlaparser

from kmemcg.model import explore, tla, tlc
from kmemcg.model import state as st
from kmemcg.model.config import PAGE_SIZE, UNLIMITED, Config
from kmemcg.model.controller import MODEL
from kmemcg.model.profiles import PROFILES
from kmemcg.model.scopes import DEFAULT

from spec_ast import definitions as _definitions
from spec_ast import is_ as _is
from spec_ast import names as _names
from spec_ast import next_actions as _next_actions
from spec_ast import units as _units
from spec_ast import walk as _walk

SPEC = tla.SPEC_DIR
MODULE_FILE = SPEC / f"{tla.MODULE}.tla"


# ---------------------------------------------------------------- reading the spec


def _parse(path: Path):
    return tlaparser.parse(path.read_text())


@pytest.fixture(scope="module")
def module():
    return _parse(MODULE_FILE)


def _set_value(node, cfg: Config) -> set:
    """The value of a parameter domain of Next under ``cfg``."""
    n, t = cfg.n_memcgs, cfg.n_tasks
    named = {
        "TaskIds": set(range(t)),
        "MemcgIds": set(range(n)),
        "NonRoot": set(range(1, n)),
        "CounterIds": {0, 1},
        "ResLimits": set(cfg.res_limits),
        "KmemLimits": set(cfg.kmem_limits),  # Unlimited stands for UNLIMITED
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


# ---------------------------------------------------------------- (a) parsing


@pytest.mark.parametrize("path", sorted(SPEC.glob("*.tla")), ids=lambda p: p.name)
def test_module_parses(path):
    mod = _parse(path)
    assert mod.name == path.stem


# ---------------------------------------------------------------- (b) structure


def test_variables_are_the_state_fields(module):
    assert _names(_units(module, "Variables")) == list(tla.VARIABLES)
    # vars lists them all, in the same order
    vars_ = _definitions(module)["vars"].definiens
    assert [v.operator for v in vars_.items] == list(tla.VARIABLES)


def test_constants_are_what_to_cfg_assigns(module):
    declared = _names(_units(module, "Constants"))
    assert declared == list(tla.CONSTANTS)
    assert tla.cfg_constants(tla.to_cfg(DEFAULT)) == declared


def test_next_takes_exactly_the_explored_actions(module):
    explored = tla.explored_actions()
    assert set(_next_actions(module)) == {tla.tla_action_name(a) for a in explored}
    action_names = _definitions(module)["ActionNames"].definiens
    assert {s.value.strip('"') for s in action_names.items} == set(explored)


def test_profiles_are_the_models(module):
    profiles = _definitions(module)["Profiles"].definiens
    assert {s.value.strip('"') for s in profiles.items} == {p.name for p in PROFILES.values() if p.preset in (None, "accounting")}


def test_each_action_is_guarded_by_its_model_name(module):
    """Next takes an action only when its model name is in Actions."""
    for item in _definitions(module)["Next"].definiens.arguments:
        conj = item.expression
        guard = conj.arguments[0].expression
        call = next(n for n in _walk(conj) if _is(n, "Quantification")).predicate
        assert guard.operator == "\\in" and guard.arguments[1].operator == "Actions"
        assert tla.tla_action_name(guard.arguments[0].value.strip('"')) == call.operator


@pytest.mark.parametrize("cfg", [DEFAULT, Config(name="wide", memcgs=("r", "A", "B", "C"),
                                                  parents=(-1, 0, 0, 2), tasks=("t",),
                                                  kmem_limits=(1, 2), res_limits=(3,))],
                         ids=lambda c: c.name)
def test_action_parameters_range_over_the_model_domains(module, cfg):
    actions = _next_actions(module)
    for name in tla.explored_actions():
        act = MODEL.actions[name]
        if not act.explored:
            continue
        args, binders = actions[tla.tla_action_name(name)]
        assert len(args) == len(act.params), name
        spec_domain = set(itertools.product(*(_set_value(binders[a], cfg) for a in args)))
        assert spec_domain == {tuple(d) for d in act.domain(cfg)}, name


def test_every_model_invariant_is_defined(module):
    defs = _definitions(module)
    for i in tla.INVARIANTS.values():
        name = tla.tla_invariant_name(i.id)
        assert name in defs, f"{i.id} has no definition {name}"
        body = defs[name].definiens
        is_action_property = _is(body, "OperatorApplication") and body.operator == "[]"
        assert is_action_property == (i.kind == "step"), f"{name}: [][...]_vars iff a step"
    assert tla.TYPE_OK in defs


def test_named_numbers_are_the_models(module):
    defs = _definitions(module)
    expected = {
        "ROOT": 0, "NONE": -1, "PAGE_SIZE": PAGE_SIZE,
        "ABSENT": st.ABSENT, "ONLINE": st.ONLINE, "OFFLINE": st.OFFLINE,
        "IDLE": st.IDLE, "KMEM_CHARGED": st.KMEM_CHARGED, "RES_CHARGED": st.RES_CHARGED,
        "ADMIN_IDLE": st.ADMIN_IDLE, "CACHE_SIZES": st.CACHE_SIZES, "KEY_INC": st.KEY_INC,
        "SET_ACTIVE": st.SET_ACTIVE, "RES_COUNTER": 0, "KMEM_COUNTER": 1,
    }
    assert {k: _int_value(defs[k].definiens) for k in expected} == expected
    from kmemcg.model.actions.cgroup import COUNTERS
    assert COUNTERS == ("res", "kmem")


# ---------------------------------------------------------------- naming


def test_names():
    assert tla.tla_action_name("charge.kmem") == "ChargeKmem"
    assert tla.tla_action_name("activate.update_cache_sizes") == "ActivateUpdateCacheSizes"
    assert tla.tla_action_name("use_hierarchy.write") == "UseHierarchyWrite"
    assert tla.tla_action_name("free.uncharge") == "FreeUncharge"
    assert tla.tla_action_name("mkdir") == "Mkdir"
    assert tla.tla_invariant_name("I1.kmem_within_limit") == "I1_KmemWithinLimit"
    assert tla.tla_invariant_name("T.root") == "T_Root"
    assert tla.tla_invariant_name("S.activation_monotone") == "S_ActivationMonotone"
    for i in tla.INVARIANTS:
        assert tla.model_invariant_id(tla.tla_invariant_name(i)) == i
    assert tla.model_invariant_id("TypeOK") is None
    names = [tla.tla_action_name(a) for a in tla.explored_actions()]
    assert len(set(names)) == len(names)


# ---------------------------------------------------------------- (c) shipped configurations


def test_shipped_files_are_generated():
    """spec/ holds exactly what write_spec_configs writes (regenerate with it)."""
    for name, text in tla.spec_files().items():
        path = SPEC / name
        assert path.exists(), f"{name} missing: run kmemcg.model.tla.write_spec_configs()"
        assert path.read_text() == text, f"{name} is stale: run kmemcg.model.tla.write_spec_configs()"


def _extends_this_module(cfg_path: Path) -> bool:
    module = cfg_path.with_suffix(".tla")
    return module.exists() and f"EXTENDS {tla.MODULE}\n" in module.read_text()


def test_every_cfg_is_to_cfg_of_its_json():
    index = tla.load_index()
    ours = [p.name for p in SPEC.glob("*.cfg") if _extends_this_module(p)]
    assert sorted(ours) == sorted(e["cfg"] for e in index), "a KmemAccounting .cfg not in the index"
    for e in index:
        cfg = Config.load(SPEC / e["model"])
        assert (SPEC / e["cfg"]).read_text() == tla.to_cfg(cfg)
        assert (SPEC / e["module"]).read_text() == tla.to_mc_module(cfg, Path(e["module"]).stem)
        assert e["expect"] == tla.PASS or e["expect"] in tla.INVARIANTS


def test_failing_configurations_fail_as_expected_in_the_explorer():
    """The bug profiles' expected verdicts hold for the explorer (they fail fast)."""
    for e in tla.load_index():
        if e["expect"] == tla.PASS:
            continue
        r = explore.explore(Config.load(SPEC / e["model"]), graph=False)
        assert r.violation == e["expect"], e["cfg"]


def test_to_cfg_writes_unlimited_as_the_constant():
    cfg = Config(kmem_limits=(PAGE_SIZE, UNLIMITED))
    assert "MC_KmemLimits == {4096, Unlimited}" in tla.to_mc_module(cfg, "M")
    assert f"Unlimited  = {2**31 - 1}" in tla.to_cfg(cfg)
    assert "MC_Parent     == <<NONE, 0, 1>>" in tla.to_mc_module(cfg, "M")


def test_to_cfg_refuses_what_tlc_cannot_mirror():
    with pytest.raises(ValueError, match="fit TLC"):
        tla.to_cfg(Config(res_limits=(2**40,)))
    with pytest.raises(ValueError, match="stutter"):
        tla.to_cfg(Config(actions=("charge.kmem", "charge.bypass")))
    with pytest.raises(ValueError, match="unknown action"):
        tla.to_cfg(Config(actions=("charge.kmemm",)))
    with pytest.raises(ValueError, match="profile"):
        tla.to_cfg(Config(profile="no_such_bug"))
    with pytest.raises(ValueError, match="root caches"):
        tla.to_cfg(Config(roots=("dentry",)))


def test_to_cfg_selects_actions_and_invariants():
    text = tla.to_cfg(Config(actions=("mkdir", "attach")), invariants=["T.root"],
                      properties=[], type_ok=False)
    assert 'Actions    = {"mkdir", "attach"}' in text
    assert "INVARIANTS\n    T_Root\n" in text and "PROPERTIES" not in text
    assert text.endswith("T_Root\n")


# ---------------------------------------------------------------- the runner's parser

TLC_PASS = """\
TLC2 Version 2.18 of Day Month 20?? (rev: 3ae2d8b)
Running breadth-first search Model-Checking with fp 98 and seed -2188 with 1 worker on 2 cores \
with 3641MB heap and 64MB offheap memory [pid: 4242] (Linux 6.1.0 amd64, Ubuntu 17.0.9 x86_64, \
MSBDiskFPSet, DiskStateQueue).
Parsing file /tmp/kmemcg-tlc-x/MCKmemAccounting.tla
Parsing file /tmp/kmemcg-tlc-x/KmemAccounting.tla
Semantic processing of module KmemAccounting
Semantic processing of module MCKmemAccounting
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

State 2: <Mkdir(m) line 412, col 5 to line 425, col 60 of module KmemAccounting>
/\\ admin_memcg = -1
/\\ static_key = 0

State 3: <KmemLimitWrite(m, v) line 520, col 5 to line 536, col 40 of module KmemAccounting>
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

State 2: <Next line 580, col 5 to line 620, col 70 of module KmemAccounting>
/\\ static_key = 1

1,234 states generated, 567 distinct states found, 12 states left on queue.
Finished in 02s at (2021-01-01 00:00:02)
"""

TLC_ACTION_PROPERTY_OLD = """\
TLC2 Version 2.15 of Day Month 20?? (rev: eb3ff99)
Error: Action property line 3, col 5 to line 3, col 40 of module KmemAccounting is violated.
State 1: <Initial predicate>
State 2: <Action line 9, col 1 to line 9, col 20 of module KmemAccounting>
10 states generated, 5 distinct states found, 0 states left on queue.
"""

TLC_TEMPORAL = """\
TLC2 Version 2.14 of 10 July 2019 (rev: 0cae24f)
Error: Temporal properties were violated.

Error: The following behavior constitutes a counter-example:

State 1: <Initial predicate>
State 2: <Action line 9, col 1 to line 9, col 20 of module KmemAccounting>
2 states generated, 2 distinct states found, 0 states left on queue.
"""

TLC_DEADLOCK = """\
TLC2 Version 1.7.0 of Day Month 20?? (rev: 3c2a2d6)
Error: Deadlock reached.
Error: The behavior up to this point is:
State 1: <Initial predicate>
/\\ static_key = 0

State 2: <Attach line 460, col 5 to line 465, col 40 of module KmemAccounting>
/\\ static_key = 0

12 states generated, 7 distinct states found, 3 states left on queue.
The depth of the complete state graph search is 2.
Finished in 00s at (2020-01-01 00:00:00)
"""

TLC_PARSE_ERROR = """\
TLC2 Version 2.18 of Day Month 20?? (rev: 3ae2d8b)
Parsing file /tmp/x/KmemAccounting.tla
***Parse Error***
Encountered "Beginning of definition" at line 40, column 1 in module KmemAccounting
Fatal errors while parsing TLA+ spec in file KmemAccounting
"""

TLC_ASSUME = """\
TLC2 Version 2.18 of Day Month 20?? (rev: 3ae2d8b)
Error: Assumption line 130, col 8 to line 141, col 28 of module KmemAccounting is false.
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
    (tmp_path / "KmemAccounting.tla").write_text(
        "---- MODULE KmemAccounting ----\nVARIABLE x\nS_ActivationMonotone ==\n"
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


def test_index_is_json():
    data = json.loads((SPEC / tla.INDEX).read_text())
    assert [e["cfg"] for e in data] == [s.cfg_file for s in tla.shipped()]
