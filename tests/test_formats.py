"""The files kmemcg writes for other tools (issue 10), read back by those tools'
own libraries: ITF traces by itf-py, verdicts by a JSON Schema validator,
JUnit XML by junitparser, state graphs by networkx."""

import json
from pathlib import Path

import itf_py
import jsonschema
import pytest
from click.testing import CliRunner
from junitparser import JUnitXml

from kmemcg.conformance.cli import main
from kmemcg.conformance.formats import verdict
from kmemcg.conformance.status import Exit

TESTS = Path(__file__).parent


@pytest.fixture(autouse=True)
def _misbehaving_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))


def run(*args):
    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert "Traceback" not in r.output, r.output
    return r


# ---------------------------------------------------------------- ITF


def test_a_safety_counterexample_with_caches_loads_in_itf_py(tmp_path):
    # list_before_slot's trace reaches a per-memcg cache, keyed dentry(1:A): a map key
    path = tmp_path / "t.itf.json"
    r = run("explore", "--profile", "list_before_slot", "--itf", path)
    assert r.exit_code == Exit.VIOLATION
    trace = itf_py.trace_from_json(json.loads(path.read_text()))
    assert trace.loop is None and len(trace.states) >= 2
    last = trace.states[-1].values
    assert "dentry(1:A)" in last["caches"] and "A" in last["memcgs"]
    assert last["memcgs"]["A"].lifecycle in ("online", "offline", "absent")
    assert trace.meta["violation"] == json.loads(path.read_text())["#meta"]["violation"]
    assert trace.states[0].meta["action"] == "Init"


def test_a_liveness_lasso_loads_in_itf_py_with_its_loop(tmp_path):
    path = tmp_path / "l.itf.json"
    r = run("explore", "--profile", "no_destroy_on_last_page", "--itf", path)
    assert r.exit_code == Exit.VIOLATION
    trace = itf_py.trace_from_json(json.loads(path.read_text()))
    assert trace.loop == len(trace.states) - 1
    # a value the kernel leaves unset (no memcg offline in flight) is TLA+'s NONE
    assert type(trace.states[0].values["admin"].memcg).__name__ == "NONE"
    # a limit past 2^53 (none here: "unlimited" is a name) would be a #bigint; a round trip
    assert itf_py.trace_to_json(trace)["loop"] == trace.loop


# ---------------------------------------------------------------- --json and --junit

#: a command of each kind, kept small: (arguments, the exit status the kernel semantics give)
COMMANDS = {
    "prove": (["prove", "--config", "race", "--bmc", "2"], Exit.OK),
    "explore-violation": (["explore", "--profile", "list_before_slot"], Exit.VIOLATION),
    "explore-lasso": (["explore", "--profile", "no_destroy_on_last_page"], Exit.VIOLATION),
    "explore-incomplete": (["explore", "--max-states", "50"], Exit.INCOMPLETE),
    "interleave": (["interleave", "--config", "destruction"], Exit.OK),
    "conform": (["conform", "--examples", "10", "--seed", "1"], Exit.OK),
    "conform-read-bug": (["conform", "--impl", "misbehaving:WrongRead", "--seed", "1",
                          "--examples", "20", "--steps", "3"], Exit.VIOLATION),
    "race": (["conform", "--race", "--config", "destruction", "--examples", "10", "--seed", "1"],
             Exit.OK),
}


def verdict_of(tmp_path, args):
    out, xml = tmp_path / "v.json", tmp_path / "v.xml"
    r = run(*args, "--json", out, "--junit", xml, *(("--save", tmp_path / "r.json")
                                                     if args[0] == "conform" else ()))
    return r, json.loads(out.read_text()), JUnitXml.fromfile(str(xml))


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_writes_a_verdict_its_schema_accepts_and_junit_xml(tmp_path, name):
    args, want = COMMANDS[name]
    r, v, xml = verdict_of(tmp_path, args)
    assert r.exit_code == want, r.output
    jsonschema.validate(v, verdict.schema())
    assert v["command"] == args[0] and v["exit"] == want and v["status"] == want.name.lower()
    assert v["checks"] and all(c["exit"] in (0, want) for c in v["checks"])
    (suite,) = list(xml)
    cases = list(suite)
    assert len(cases) == len(v["checks"])
    failed = [c for c in cases if c.result and c.result[0]._tag == "failure"]
    assert len(failed) == sum(c["status"] == "violation" for c in v["checks"])
    if want == Exit.INCOMPLETE:
        assert cases[0].is_skipped


def test_a_counterexample_in_the_verdict_is_the_one_printed(tmp_path):
    r, v, _ = verdict_of(tmp_path, COMMANDS["explore-lasso"][0])
    (c,) = v["checks"]
    ce = c["counterexample"]
    assert ce["kind"] == "model-trace" and ce["violation"] == c["message"]
    assert ce["loop"] == len(ce["steps"]) - 1 and ce["steps"][0]["action"] == "Init"
    for s in ce["steps"][1:]:
        assert f"[{s['thread']:>6}] {s['text']}" in r.output
    r, v, _ = verdict_of(tmp_path, COMMANDS["conform-read-bug"][0])
    (c,) = v["checks"]
    assert c["message"].startswith("[read]") and c["files"]["replay"].endswith("r.json")
    assert c["counterexample"]["steps"][-1]["action"] == "read"
    assert c["counts"]["shrunk_operations"] == len(c["counterexample"]["steps"])


def test_mutants_have_one_test_case_each(tmp_path):
    r, v, xml = verdict_of(tmp_path, ["mutants", "--config", "destruction-kmem", "--seed", "1",
                                      "--examples", "5"])
    jsonschema.validate(v, verdict.schema())
    names = [c["name"] for c in v["checks"]]
    assert len(names) == len(set(names)) >= 3 and all(c["kind"] == "mutant" for c in v["checks"])
    assert [c.name for c in next(iter(xml))] == names
    assert (r.exit_code == Exit.OK) == all(c["verdict"] == "killed" for c in v["checks"])


def test_json_to_standard_output_leaves_the_text_to_standard_error():
    r = CliRunner().invoke(main, ["explore", "--profile", "list_before_slot", "--json", "-"])
    v = json.loads(r.stdout)
    jsonschema.validate(v, verdict.schema())
    assert "violates D4.no_null_deref" in r.stderr and v["checks"][0]["message"] == \
        "D4.no_null_deref"


def test_an_unwritable_verdict_path_is_a_usage_error_before_the_work(tmp_path):
    r = run("explore", "--json", tmp_path / "no" / "v.json")
    assert r.exit_code == Exit.USAGE and "does not exist" in r.output
    r = run("explore", "--junit", tmp_path)
    assert r.exit_code == Exit.USAGE and "is a directory" in r.output
