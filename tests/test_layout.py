"""The layout's promise (docs/architecture.md): imports run one way,
conformance -> model and impl, with no cycle and no import inside a function
to hide one."""

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("model", "impl", "conformance")


def _modules():
    for folder in FOLDERS:
        for f in sorted((ROOT / folder).rglob("*.py")):
            parts = f.relative_to(ROOT).with_suffix("").parts
            name = ".".join(("kmemcg", *parts)).removesuffix(".__init__")
            yield name, ast.parse(f.read_text(), str(f))


def _imported(node) -> list[str]:
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    return []


def test_imports_run_one_way_with_no_cycle():
    graph, modules = nx.DiGraph(), dict(_modules())
    for name, tree in modules.items():
        for node in ast.walk(tree):
            for target in _imported(node):
                if target in modules and target != name:
                    graph.add_edge(name, target)
    assert list(nx.simple_cycles(graph)) == []
    layer = {"model": 0, "impl": 0, "conformance": 1}
    wrong = [(a, b) for a, b in graph.edges
             if a.split(".")[1] != b.split(".")[1]
             and layer[a.split(".")[1]] <= layer[b.split(".")[1]]]
    assert wrong == [], "model and impl import neither each other nor conformance"


#: the one deferred load: the console script catches a Ctrl-C that lands while
#: the suite is still loading (conformance/console.py); it hides no cycle, since
#: nothing imports console
DEFERRED = {"kmemcg.conformance.console.main: kmemcg.conformance.cli"}


def test_no_function_level_import_of_the_project():
    hidden = []
    for name, tree in _modules():
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                hidden += [f"{name}.{fn.name}: {t}" for node in ast.walk(fn)
                           for t in _imported(node)[:1] if t.startswith("kmemcg")]
    assert set(hidden) <= DEFERRED, sorted(set(hidden) - DEFERRED)
    importers = [name for name, tree in _modules() for node in ast.walk(tree)
                 if "kmemcg.conformance.console" in _imported(node)]
    assert importers == []
