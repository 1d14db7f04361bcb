"""The files kmemcg writes for other tools (issue 10), read back by those tools'
own libraries: ITF traces by itf-py, verdicts by a JSON Schema validator,
JUnit XML by junitparser, state graphs by networkx."""

import json
from pathlib import Path

import itf_py
import pytest
from click.testing import CliRunner

from kmemcg.conformance.cli import main
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
