"""spec/CacheDestruction.tla agrees with the model's destruction slice.

Without TLC: the module parses; its variables are DState's fields; Next takes
exactly the explored destruction actions, each guarded by its model name and
ranging over the model's parameter domain; every invariant and liveness
property has its definition; the constants are what the .cfg assigns; the
shipped configurations are what kmemcg.model.tla_destruction renders, and their
expected verdicts are the explorer's. With TLC, TLC and the explorer agree.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import pytest
import tla as tlaparser

from kmemcg.model import explore, tlc
from kmemcg.model import state as d
from kmemcg.model import tla_destruction as td
from kmemcg.model.config import NONE, PAGE_SIZE, ROOT, Config
from kmemcg.model.controller import MODEL
from kmemcg.model.invariants import FAIR_ACTIONS
from kmemcg.model.scopes import PRESETS
from kmemcg.model.tla import PASS, TYPE_OK, cfg_constants, tla_action_name, tla_invariant_name

from spec_ast import definitions as _definitions
from spec_ast import is_ as _is
from spec_ast import names as _names
from spec_ast import next_actions as _next_actions
from spec_ast import units as _units
from spec_ast import walk as _walk

SPEC = td.SPEC_DIR
MODULE_FILE = SPEC / f"{td.MODULE}.tla"


@pytest.fixture(scope="module")
def module():
    return tlaparser.parse(MODULE_FILE.read_text())


def _domain(node, cfg: Config) -> set:
    n, r = cfg.n_memcgs, len(cfg.roots)
    named = {
        "Caches": {c for c in range(r * n) if c % n != 0},
        "NonRoot": set(range(1, n)),
        "RootIds": set(range(r)),
        "TaskIds": set(range(cfg.n_tasks)),
        "UsedFills": set(range(1, cfg.objs_per_slab + 1)),
        "PartialFills": set(range(1, cfg.objs_per_slab)),
    }
    assert _is(node, "OperatorApplication") and not node.arguments, node
    return named[node.operator]


def _string_set(node) -> set[str]:
    return {s.value.strip('"') for s in node.items}


# ---------------------------------------------------------------- structure


def test_module_parses(module):
    assert module.name == td.MODULE


def test_variables_are_the_state_fields(module):
    assert _names(_units(module, "Variables")) == list(td.VARIABLES)
    assert [v.operator for v in _definitions(module)["vars"].definiens.items] == list(td.VARIABLES)
    # Now and Become carry every field
    now = _definitions(module)["Now"].definiens
    assert [kv[0] for kv in now.key_values] == list(td.VARIABLES)


def test_constants_are_what_to_cfg_assigns(module):
    declared = _names(_units(module, "Constants"))
    assert declared == list(td.CONSTANTS)
    for s in td.shipped():
        assert cfg_constants(td.to_cfg(s.config, liveness=s.liveness)) == declared


def test_next_takes_exactly_the_explored_actions(module):
    explored = td.explored_actions()
    assert set(_next_actions(module)) == {tla_action_name(td.spec_action_name(a))
                                          for a in explored}
    assert _string_set(_definitions(module)["ActionNames"].definiens) == {
        td.spec_action_name(a) for a in explored}


def test_each_action_is_guarded_by_its_model_name(module):
    for item in _definitions(module)["Next"].definiens.arguments:
        conj = item.expression
        guard = conj.arguments[0].expression
        call = next(n for n in _walk(conj) if _is(n, "Quantification")).predicate
        assert guard.operator == "\\in" and guard.arguments[1].operator == "Actions"
        assert tla_action_name(guard.arguments[0].value.strip('"')) == call.operator


@pytest.mark.parametrize("cfg", [PRESETS["destruction"], PRESETS["destruction-2roots"],
                                 PRESETS["destruction-kmem"],
                                 Config(name="wide", memcgs=("r", "A", "B"),
                                        parents=(NONE, 0, 0), tasks=("t1", "t2"),
                                        roots=("x", "y", "z"), objs_per_slab=3,
                                        boot_tasks=False, boot_memcgs=True,
                                        check_deadlock=False,
                                        actions=PRESETS["destruction"].actions)],
                         ids=lambda c: c.name)
def test_action_parameters_range_over_the_model_domains(module, cfg):
    actions = _next_actions(module)
    for name in td.explored_actions():
        act = MODEL.actions[name]
        args, binders = actions[tla_action_name(td.spec_action_name(name))]
        assert len(args) == len(act.params), name
        spec = set(itertools.product(*(_domain(binders[a], cfg) for a in args)))
        assert spec == {tuple(d) for d in act.domain(cfg)}, name


def test_profiles_are_the_models(module):
    assert _string_set(_definitions(module)["Profiles"].definiens) == set(td.profiles())


def test_every_invariant_and_liveness_property_is_defined(module):
    defs = _definitions(module)
    for i in td.INVARIANTS:
        assert tla_invariant_name(i) in defs, i
    for lid in td.liveness_ids():
        name = tla_invariant_name(lid)
        assert name in defs, lid
        assert any(_is(n, "OperatorApplication") and n.operator == "~>"
                   for n in _walk(defs[name].definiens)), f"{name} is not a leads-to"
    assert TYPE_OK in defs and td.FAIR_SPEC in defs
    # invariants named in the cfg are in the model's order
    text = td.to_cfg(PRESETS["destruction"])
    names = text.split("INVARIANTS\n", 1)[1].split()
    assert names == [tla_invariant_name(i) for i in td.invariant_ids()] + [TYPE_OK]


def test_fairness_covers_the_models_fair_actions(module):
    fair = {n.operator for n in _walk(_definitions(module)["Fairness"].definiens)
            if _is(n, "OperatorApplication") and n.arguments
            and n.operator in {tla_action_name(td.spec_action_name(a))
                               for a in td.explored_actions()}}
    assert fair == {tla_action_name(a) for a in FAIR_ACTIONS}


def test_named_numbers_are_the_models(module):
    defs = _definitions(module)

    def value(node):
        if _is(node, "IntegralNumeral"):
            return int(node.value)
        assert node.operator == "-"
        return -value(node.arguments[0])

    expected = {"NONE": NONE, "ROOT": ROOT, "PAGE_SIZE": PAGE_SIZE,
                "THREAD_SIZE_ORDER": d.THREAD_SIZE_ORDER,
                "NOCACHE": d.NOCACHE, "ALIVE": d.ALIVE, "FREED": d.FREED,
                "IDLE": d.WORK_IDLE, "PENDING": d.PENDING, "RUN_CHECK": d.RUN_CHECK,
                "RUN_SHRINK": d.RUN_SHRINK, "RUN_DESTROY": d.RUN_DESTROY, "OK": d.OK,
                "USE_AFTER_FREE": d.USE_AFTER_FREE, "DOUBLE_DESTROY": d.DOUBLE_DESTROY,
                "NULL_DEREF": d.NULL_DEREF, "RD_MARK": d.RD_MARK, "RD_CANCEL": d.RD_CANCEL,
                "RD_DESTROY": d.RD_DESTROY, "RD_WAIT": d.RD_WAIT}
    assert {k: value(defs[k].definiens) for k in expected} == expected


# ---------------------------------------------------------------- shipped configurations


def test_shipped_files_are_generated():
    for name, text in td.spec_files().items():
        path = SPEC / name
        assert path.exists(), f"{name} missing: run kmemcg.model.tla_destruction.write_destruction_configs()"
        assert path.read_text() == text, f"{name} is stale: run write_destruction_configs()"


def test_one_configuration_per_profile_then_two_roots_and_kmem():
    index = td.load_index()
    assert [e["cfg"] for e in index] == [s.cfg_file for s in td.shipped()]
    loaded = [Config.load(SPEC / e["model"]) for e in index]
    n = len(td.profiles())
    assert [c.profile for c in loaded[:n]] == td.profiles()
    assert [(c.name, c.profile) for c in loaded[n:]] == [("destruction-2roots", "correct"),
                                                         ("destruction-kmem", "correct")]
    assert [e["expect"] for e in index[n:]] == [PASS, PASS]
    for e in index:
        cfg = Config.load(SPEC / e["model"])
        assert cfg.roots and not cfg.check_deadlock
        text = (SPEC / e["cfg"]).read_text()
        # TLC 2.15 rejects CHECK_DEADLOCK in a .cfg; the runner passes -deadlock
        assert "CHECK_DEADLOCK" not in text
        assert (SPEC / e["module"]).read_text() == td.to_mc_module(cfg, Path(e["module"]).stem)


def test_expected_verdicts_are_the_explorers():
    """Every failing profile fails the way the explorer says (fast: < 1 s)."""
    for e in td.load_index():
        cfg = Config.load(SPEC / e["model"])
        if cfg.name == PRESETS["destruction-2roots"].name:
            continue  # 10,000 states with the liveness graph: left to the TLC test
        r = explore.explore(cfg, graph=e["expect"] in td.liveness_ids() or e["expect"] == PASS)
        assert td.explorer_verdict(r) == e["expect"], e["cfg"]


def test_tlc_verdict_names():
    o = tlc.parse_output("Error: Invariant D3_NoUseAfterDestroy is violated.\n")
    assert td.tlc_model_verdict(o) == "D3.no_use_after_destroy"
    o = tlc.parse_output("Error: Temporal properties were violated.\n")
    assert td.tlc_model_verdict(o) == td.liveness_ids()[0]


def test_to_cfg_refuses_what_it_cannot_mirror():
    with pytest.raises(ValueError, match="no cache-race scope"):
        td.to_cfg(replace(PRESETS["accounting"], check_deadlock=False))
    with pytest.raises(ValueError, match="profile"):
        td.to_cfg(replace(PRESETS["destruction"], profile="no_such_race"))
    with pytest.raises(ValueError, match="deadlock"):
        td.to_cfg(replace(PRESETS["destruction"], check_deadlock=True))


#: why TLC cannot run here (None: it can), asked once
NO_TLC = tlc.unavailable_reason()

# ---------------------------------------------------------------- TLC itself


@pytest.mark.skipif(NO_TLC is not None, reason=str(NO_TLC))
@pytest.mark.parametrize("entry", td.load_index(), ids=lambda e: e["cfg"])
def test_tlc_agrees_with_the_explorer(entry):
    (comparison,) = td.run_shipped([entry["cfg"]])
    print(comparison)
    print(comparison.tlc.output[-3000:])
    assert comparison.ok, str(comparison)


def test_comparison_judges_a_tlc_outcome_in_this_slices_terms():
    """No TLC needed: a TLC outcome as the parser would give it, against the explorer."""
    from dataclasses import replace

    from kmemcg.model import explore, tlc
    from kmemcg.model.scopes import PRESETS
    from kmemcg.model.tla_destruction import DestructionComparison

    live = explore.explore(replace(PRESETS["destruction"], profile="no_destroy_on_last_page"))
    temporal = tlc.TlcOutcome("property", None, 1000, live.distinct, 0, 10, 5)
    ok = DestructionComparison("live", "L1.dead_empty_cache_destroyed",
                               tlc.TlcRun("m", "c", temporal, 1.0, 0, ""), live)
    assert ok.ok, ok.problems
    correct = explore.explore(PRESETS["destruction"])
    short = tlc.TlcOutcome("pass", None, 10, correct.distinct - 1, 0, 5, 0)
    bad = DestructionComparison("pass", "pass", tlc.TlcRun("m", "c", short, 1.0, 0, ""), correct)
    assert bad.problems == [f"TLC found {correct.distinct - 1} distinct states, the explorer "
                            f"{correct.distinct}"]
