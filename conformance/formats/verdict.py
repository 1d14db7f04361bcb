"""A command's verdict as data: one record per check, for ``--json`` and ``--junit``.

A command's ``run_*`` functions :func:`record` each check they finish (a proof,
an exploration, an interleaving, a machine run, a mutant, a TLC configuration, a
replay); :func:`collecting` gathers them while a command runs, and the command's
exit status closes the verdict. Outside :func:`collecting` (a test calling a
``run_*`` function), :func:`record` does nothing. The JSON shape is documented
and checked by ``schema/verdict.schema.json`` (:data:`SCHEMA_PATH`).
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from kmemcg.conformance import report
from kmemcg.conformance.harness import call_text
from kmemcg.conformance.status import Exit

#: the verdict format; a reader checks ``format`` and ``version`` first
FORMAT, VERSION = "kmemcg-verdict", 1
SCHEMA_PATH = Path(__file__).parent / "schema" / "verdict.schema.json"


@dataclass
class Check:
    """One check a command ran: what it was, its outcome and what it found."""

    #: what kind of check: prove, bmc, explore, interleave, conform, race, mutant, tlc, replay
    kind: str
    #: the row's name, as the text output names it (``explore [accounting]``)
    name: str
    status: Exit
    seconds: float
    #: the text verdict: holds, conforms, killed, equal, VIOLATION I1..., ...
    verdict: str
    config: str | None = None
    profile: str | None = None
    #: the failure in one line (the counterexample's violation, the nonconformance)
    message: str | None = None
    #: numbers the text prints: states, steps, operations, obligations, ...
    counts: dict = field(default_factory=dict)
    #: a counterexample: {"kind": ..., "steps": [...], "violation": ..., "loop": ...}
    counterexample: dict | None = None
    #: files the check wrote (a replay file, an ITF trace, a picture)
    files: dict = field(default_factory=dict)
    #: an interleaving's states against the model's (conformance/granularity.py)
    granularity: dict | None = None

    def to_json(self) -> dict:
        extra = {} if self.granularity is None else {"granularity": self.granularity}
        return {**extra, "kind": self.kind, "name": self.name, "status": self.status.name.lower(),
                "exit": int(self.status), "verdict": self.verdict,
                "seconds": round(self.seconds, 3), "config": self.config,
                "profile": self.profile, "message": self.message, "counts": self.counts,
                "counterexample": self.counterexample, "files": self.files}


@dataclass
class Verdict:
    command: str
    #: the command's options, as given or defaulted
    options: dict
    seed: int | None = None
    checks: list[Check] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    #: where the command wrote what it found, by kind (``replay``, ``itf``, ...)
    files: dict = field(default_factory=dict)

    def to_json(self, status: Exit) -> dict:
        return {"format": FORMAT, "version": VERSION, "command": self.command,
                "options": self.options, "status": status.name.lower(), "exit": int(status),
                "seed": self.seed, "seconds": round(time.perf_counter() - self.started, 3),
                "checks": [c.to_json() for c in self.checks]}


_current: ContextVar[Verdict | None] = ContextVar("kmemcg_verdict", default=None)


@contextmanager
def collecting(command: str, options: dict):
    """Gather the checks of the command that runs inside."""
    v = Verdict(command, dict(options))
    token = _current.set(v)
    try:
        yield v
    finally:
        _current.reset(token)


def record(kind: str, name: str, status: Exit, seconds: float, verdict: str, **kw) -> None:
    """Note a finished check in the verdict being collected, if one is."""
    v = _current.get()
    if v is not None:
        v.checks.append(Check(kind, name, Exit(status), seconds, verdict, **kw))


def note_seed(seed: int) -> None:
    v = _current.get()
    if v is not None:
        v.seed = seed


def write(path: str, data: dict) -> None:
    """The verdict to ``path`` (``-``: standard output)."""
    text = json.dumps(data, indent=2) + "\n"
    if path == "-":
        print(text, end="", flush=True)
    else:
        Path(path).write_text(text)


def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


# ------------------------------------------------------------ counterexamples


def model_trace(cfg, steps, violation: str | None, loop: int | None = None) -> dict:
    """An explorer or BMC trace (``Step`` s, Init first) as a counterexample."""
    out = []
    for i, st in enumerate(steps):
        if st.action == "Init":
            out.append({"index": i, "action": "Init", "text": "Init"})
            continue
        out.append({"index": i, "thread": report.thread_of(cfg, st.action, st.args),
                    "action": st.action, "args": list(st.args), "ret": st.ret,
                    "text": report.describe(cfg, st.action, st.args)})
    return {"kind": "model-trace", "violation": violation, "loop": loop, "steps": out}


def operations(failure) -> dict:
    """A sequential machine's failure: its operations, each with the steps it took."""
    ops: list[dict] = []
    for e in failure.trace:
        if e.action is None:
            ops.append({"index": e.op_no, "action": e.op, "args": e.args, "steps": [],
                        "text": call_text(e.op, e.args)})
        elif ops:
            ops[-1]["steps"].append({"action": e.action, "args": e.step_args, "ret": e.ret})
    return {"kind": "operations", "violation": failure.check, "steps": ops}


def schedule(tries, violation: str | None) -> dict:
    """A race's or an interleaving's tries (``interleave.Try``) as a counterexample."""
    steps = []
    for t in tries:
        s = {"index": t.index, "try": [str(x) for x in t.choice], "text": t.text.strip()}
        if t.thread is not None:
            s["thread"] = t.thread
        if t.step is not None:
            s.update(action=t.step.action, args=t.step.args, ret=t.step.ret)
        steps.append(s)
    return {"kind": "schedule", "violation": violation, "steps": steps}
