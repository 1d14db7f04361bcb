"""A verdict as JUnit XML (``--junit FILE``), the format CI systems show as tests.

One test suite per command, one test case per check (a mutant, a TLC
configuration, a row of ``kmemcg check``): a violation is a ``<failure>``, an
incomplete or interrupted check ``<skipped>``, a missing tool or an internal
error an ``<error>``. The counterexample, if any, is the case's system-out.
Written with junitparser.
"""

from __future__ import annotations

import json

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from kmemcg.conformance.formats.verdict import Check, Verdict
from kmemcg.conformance.status import Exit

_RESULT = {Exit.VIOLATION: Failure, Exit.INCOMPLETE: Skipped, Exit.INTERRUPTED: Skipped,
           Exit.TOOL: Error, Exit.INTERNAL: Error, Exit.USAGE: Error}


def case(c: Check) -> TestCase:
    where = ", ".join(x for x in (c.config, c.profile and f"profile {c.profile}") if x)
    tc = TestCase(c.name, classname=f"kmemcg.{c.kind}" + (f"[{where}]" if where else ""),
                  time=round(c.seconds, 3))
    kind = _RESULT.get(c.status)
    if kind is not None:
        tc.result = [kind(c.message or c.verdict, type_=c.status.name.lower())]
    lines = granularity(c.granularity) if c.granularity else []
    if c.counterexample is not None:
        ce = c.counterexample
        lines += [s.get("text") or json.dumps(s) for s in ce["steps"]]
        if ce.get("violation"):
            lines.append(f"violates {ce['violation']}")
    if lines:
        tc.system_out = "\n".join(lines)
    return tc


def granularity(g: dict) -> list[str]:
    """An interleaving's verdict on granularity, as the lines of its case's output."""
    out = [f"granularity: {g['verdict']}; implementation {g['implementation_states']} states, "
           f"model {g['model_states']}" + (f", restricted model {g['restricted_model_states']}"
                                           if g["restricted_model_states"] is not None else "")]
    if g["never_reached"]["count"]:
        out.append(f"model states never reached: {g['never_reached']['count']}, e.g. "
                   + "; ".join(g["never_reached"]["examples"]))
        if g["never_split"]:
            out.append("paths never split: "
                       + ", ".join(f"{s['path']} by {s['by']}" for s in g["never_split"]))
    out += [f"outside the model: {s}" for s in g["outside_model"]]
    out += [f"missing from the restricted model: {s}" for s in g["missing_from_restricted_model"]]
    return out


def xml(v: Verdict) -> JUnitXml:
    suite = TestSuite(f"kmemcg {v.command}")
    for c in v.checks:
        suite.add_testcase(case(c))
    if v.seed is not None:
        suite.add_property("seed", str(v.seed))
    out = JUnitXml()
    out.add_testsuite(suite)
    return out


def write(path: str, v: Verdict) -> None:
    xml(v).write(path, pretty=True)
