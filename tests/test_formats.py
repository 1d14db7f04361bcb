"""The files kmemcg writes for other tools (issue 10), read back by those tools'
own libraries: ITF traces by itf-py, verdicts by a JSON Schema validator,
JUnit XML by junitparser, state graphs by networkx."""

import json
import os
import pty
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import itf_py
import jsonschema
import networkx as nx
import pydot
import pytest
from cli import run
from click.testing import CliRunner
from junitparser import JUnitXml

from kmemcg.conformance.cli import main
from kmemcg.conformance.formats import verdict
from kmemcg.conformance.status import Exit

TESTS = Path(__file__).parent


@pytest.fixture(autouse=True)
def _misbehaving_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))


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


# ---------------------------------------------------------------- --graph


def test_the_explored_graph_as_graphml_has_every_state_and_edge(tmp_path):
    path = tmp_path / "g.graphml"
    r = run("explore", "--config", "destruction", "--graph", path)
    assert r.exit_code == Exit.OK
    g = nx.read_graphml(path)
    edges = int(r.output.split(" edges:")[0].rsplit(" ", 1)[1])
    assert g.number_of_nodes() == 441 and g.number_of_edges() == edges  # the preset's count
    assert g.nodes["0"]["init"] and json.loads(g.nodes["0"]["state"])["memcgs"]["A"]
    assert all(d["label"] for _, _, d in g.edges(data=True))


def test_a_counterexample_is_marked_in_the_dot_graph(tmp_path):
    path = tmp_path / "g.dot"
    r = run("explore", "--profile", "list_before_slot", "--graph", path)
    assert r.exit_code == Exit.VIOLATION
    (g,) = pydot.graph_from_dot_file(str(path))
    red = [n for n in g.get_nodes() if n.get("color") == "red"]
    steps = r.output.split("shortest counterexample (")[1].split(" steps")[0]
    # the trace's states but its last, whose violation stopped the search before storing it
    assert len(red) == int(steps)


def test_a_graph_or_picture_path_of_an_unknown_suffix_is_a_usage_error(tmp_path):
    r = run("explore", "--graph", tmp_path / "g.png")
    assert r.exit_code == Exit.USAGE and ".graphml" in r.output
    r = run("interleave", "--picture", tmp_path / "p.pdf")
    assert r.exit_code == Exit.USAGE and ".svg" in r.output
    r = run("conform", "--picture", tmp_path / "p.svg")
    assert r.exit_code == Exit.USAGE and "--race" in r.output


# ---------------------------------------------------------------- --picture

SVG = "{http://www.w3.org/2000/svg}"
RACY = "kmemcg.conformance.mutants:ActiveBeforeStaticKey"  # ACTIVE before the static key


def svg_picture(path):
    root = ET.parse(path).getroot()
    texts = [t.text for t in root.iter(f"{SVG}text")]
    boxes = [b for b in root.iter(f"{SVG}rect") if b.get("rx")]
    return texts, boxes


def test_a_race_in_the_model_is_drawn_with_a_lane_per_thread(tmp_path):
    path = tmp_path / "p.svg"
    r = run("explore", "--profile", "create_vs_root_destroy", "--picture", path)
    assert r.exit_code == Exit.VIOLATION and "picture of the interleaving written" in r.output
    texts, boxes = svg_picture(path)
    steps = [line.split("] ", 1) for line in r.output.splitlines()
             if line[:4].strip().rstrip(".").isdigit() and "] " in line]
    assert {who.split("[")[1].strip() for who, _ in steps} <= set(texts)  # the lanes
    assert len(boxes) == len(steps)
    assert [b.get("stroke") for b in boxes].count("#c00") == 1 and boxes[-1].get("stroke") == "#c00"
    assert any(t and t.startswith(f"step {len(steps)} violates D3.") for t in texts)


def test_an_implementation_race_is_drawn_from_interleave_race_and_replay(tmp_path):
    for args in (["interleave", "--config", "race", "--impl", RACY],
                 ["conform", "--race", "--config", "race", "--impl", RACY, "--seed", "1",
                  "--save", tmp_path / "r.json"]):
        path = tmp_path / "p.svg"
        r = run(*args, "--picture", path)
        assert r.exit_code == Exit.VIOLATION
        texts, boxes = svg_picture(path)
        assert "admin" in texts and boxes[-1].get("stroke") == "#c00"
        assert any("activate.set_active" in (t or "") for t in texts)
    dot = tmp_path / "p.dot"
    r = run("replay", tmp_path / "r.json", "--picture", dot)
    assert r.exit_code == Exit.VIOLATION
    (g,) = pydot.graph_from_dot_file(str(dot))
    lanes = [s.get_label() for s in g.get_subgraphs()]
    assert "admin" in lanes
    nodes = [n for s in g.get_subgraphs() for n in s.get_nodes()]
    assert len(g.get_edges()) == len(nodes) - 1  # one chain: the order the steps were taken
    last = max(nodes, key=lambda n: int(n.get_name().lstrip("s")))
    assert last.get("color") == '"#cc0000"' and "violates" in last.get("label")


# ---------------------------------------------------------------- progress

KMEMCG = [sys.executable, "-c", "from kmemcg.conformance.cli import main; main()"]


def on_a_terminal(args: list[str]) -> str:
    """What a command shows on a terminal (a pseudo-terminal for both outputs)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([*KMEMCG, *args], stdin=subprocess.DEVNULL, stdout=slave,
                         stderr=slave, env={**os.environ, "COLUMNS": "120"})
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the command ended and closed its side
            break
        if not chunk:
            break
        out += chunk
    p.wait(timeout=120)
    os.close(master)
    return out.decode(errors="replace")


@pytest.mark.parametrize("args", [["interleave", "--config", "destruction-kmem"],
                                  ["conform", "--examples", "40", "--seed", "1"]])
def test_progress_shows_on_a_terminal_and_nowhere_else(args, tmp_path):
    shown = on_a_terminal([*args, *(["--save", str(tmp_path / "r.json")]
                                    if args[0] == "conform" else [])])
    live = "distinct states (" if args[0] == "interleave" else " runs, "
    assert live in shown and "\x1b[" in shown
    piped = subprocess.run([*KMEMCG, *args], capture_output=True, text=True, cwd=tmp_path,
                           timeout=120)
    assert piped.returncode == 0
    assert "\x1b[" not in piped.stdout + piped.stderr and live not in piped.stderr
    # what the command says is the same, less the live line
    said = next(line for line in piped.stdout.splitlines() if line.startswith(args[0]))
    assert said.split(":")[0] in shown
    assert "equal" in said or said.endswith("conforms")
