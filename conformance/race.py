"""The Hypothesis race machine, over any scope.

Each rule invocation picks one of the choices the exhaustive interleaver
would try (start an operation, step a thread, let a kworker pick up an item),
takes that one implementation step and checks it with the oracle and every
invariant, through the adapter protocol (in process or over a pipe). Hypothesis shrinks a failing schedule to a short one; the schedule
is the replay.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from kmemcg.conformance import settle
from kmemcg.conformance.claims import Claim
from kmemcg.conformance.interleave import _Run, problem_of, reference
from kmemcg.conformance.machine import Stats, run_machine
from kmemcg.conformance.minimize import one_minimal
from kmemcg.conformance.oracle import EvalOracle
from kmemcg.conformance.protocol import ProtocolError
from kmemcg.model.config import Config
from kmemcg.model.profiles import CORRECT


class RaceFailure(Exception):
    def __init__(self, message: str, schedule: list):
        super().__init__(message)
        self.message = message
        self.schedule = list(schedule)

    @property
    def reproducer(self) -> list:
        """What shows the failure again: the schedule of tries."""
        return self.schedule


@dataclass
class RaceStats(Stats):
    """The race machine's: the failing schedule, minimised; under a kernel
    claim, each known bug seen (a warning)."""

    schedule: list = field(default_factory=list)
    #: the model's scenarios (schedules of tries) replayed before the random
    #: runs; those that did not fit the implementation (skipped, no verdict);
    #: those with no schedule (the guided replay found no try for a step); the
    #: outcome whose scenario showed the failure (None: a random run, or none)
    scenarios: int = 0
    unfit: int = 0
    untranslated: int = 0
    killed_by: str | None = None


def race_machine(cfg: Config, make, stats: RaceStats, claim: Claim | None = None,
                 coverage=None):
    oracle = EvalOracle(cfg)

    class RaceMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.schedule: list = []
            #: a known bug of the claimed kernel broke an invariant: undefined from here
            self.broken = False
            #: a try failed: the run ends there, with no end-of-run check
            self.failed = False
            try:
                self.run = _Run(cfg, make)
                self.run.coverage = coverage
                self.state, refused = self.run.abstract()
            except ProtocolError as e:
                raise stats.saw(RaceFailure(problem_of(e), [])) from None
            if refused:
                raise stats.saw(RaceFailure(f"initial state: {refused}", []))
            try:
                wrong = self.run.read_problems(self.state)
            except ProtocolError as e:
                raise stats.saw(RaceFailure(problem_of(e), [])) from None
            if wrong:
                raise stats.saw(RaceFailure(f"initial state: {wrong}", []))

        @rule(data=st.data())
        def act(self, data):
            try:
                choices = self.run.choices(self.state)
            except ProtocolError as e:
                raise stats.saw(RaceFailure(problem_of(e), self.schedule)) from None
            if not choices or self.broken:
                return
            choice = data.draw(st.sampled_from(choices))
            self.schedule.append(choice)  # even a blocked try can change the kernel
            step, post, problem = self.run.take(choice, self.state, oracle, claim)
            if problem:
                self.failed = True
                raise stats.saw(RaceFailure(problem, self.schedule))
            self.broken = self.run.known is not None and bool(self.run.known.broke)
            stats.steps += step is not None
            self.state = post

        def teardown(self):
            stats.ran()
            if self.failed or self.broken:
                return
            try:
                problem = ended(cfg, self.run, self.state, oracle, claim, self.schedule, stats)
            except ProtocolError as e:
                problem = problem_of(e)
            if problem:
                raise stats.saw(RaceFailure(problem, self.schedule))

    return RaceMachine


def run(cfg: Config, *, seed_value: int, examples: int = 200, steps: int = 60,
        shrink_seconds: float = 20.0, make=None, claim: Claim | None = None,
        database: str | None = None, progress=None, coverage=None,
        scenarios: dict | None = None) -> RaceStats:
    """Run the race machine; a race found is shrunk, minimised and returned in the
    stats; under a kernel ``claim`` its known bugs are warnings. ``scenarios``
    (outcome -> a schedule of tries, the model's) run first, seed-independent.
    Ctrl-C returns the stats so far, ``interrupted`` set."""
    make = make or reference(cfg)
    stats = RaceStats(progress=progress)
    t0 = time.perf_counter()
    try:
        if scenarios:
            run_scenarios(cfg, make, scenarios, stats, claim=claim, coverage=coverage)
        if stats.failure is None:
            stats.failure, _ = run_machine(
                race_machine(cfg, make, stats, claim, coverage), seed_value=seed_value,
                examples=examples, steps=steps, shrink_seconds=shrink_seconds,
                failure=RaceFailure, database=database)
        stats.seconds = time.perf_counter() - t0
        if stats.failure:  # a scenario's too: tries it need not take
            stats.schedule = minimize(cfg, stats.failure.schedule, make)
    except KeyboardInterrupt:
        stats.interrupted = True
        stats.failure = stats.failure or stats.seen
        stats.schedule = stats.failure.schedule if stats.failure else []
        stats.seconds = time.perf_counter() - t0
    stats.warnings = claim.warnings() if claim is not None else []
    return stats


def run_scenarios(cfg: Config, make, scenarios: dict, stats: RaceStats, *,
                  claim: Claim | None = None, coverage=None) -> None:
    """Each outcome's schedule, in order, with the checks of a machine run,
    skipping an outcome a schedule already run has exercised; a schedule that
    does not fit the implementation (a try it does not offer) is counted and
    skipped, not a verdict; the first failure stops, with the outcome named."""
    for outcome, schedule in scenarios.items():
        if schedule is None:
            stats.untranslated += 1
            continue
        if coverage is not None and outcome in coverage.seen:
            continue
        stats.scenarios += 1
        try:
            problem = replay(cfg, schedule, make, claim, coverage=coverage, stats=stats)
        except ValueError:
            stats.unfit += 1
            continue
        if problem:
            stats.failure, stats.killed_by = RaceFailure(problem, schedule), outcome
            return


def minimize(cfg: Config, schedule: list, make=None) -> list:
    """Drop every try the failure does not need: Hypothesis shrinks the draws,
    which leaves tries that are no-ops or belong to threads the race never uses."""
    want = replay(cfg, schedule, make)

    def same(shorter):
        try:
            return replay(cfg, shorter, make) == want
        except ValueError:  # the rest no longer fits: that try was needed
            return False

    return one_minimal([tuple(c) for c in schedule], same)


def replay(cfg: Config, schedule: list, make=None, claim: Claim | None = None,
           coverage=None, stats: RaceStats | None = None) -> str | None:
    """Re-run a schedule with the checks of the search (under ``claim`` if the
    run had one); the problem it shows, or None. A schedule that does not fit the
    implementation is an error. ``coverage`` is told of every step checked, and
    ``stats`` counts them."""
    make = make or reference(cfg)
    oracle = EvalOracle(cfg)
    try:
        r = _Run(cfg, make)
        r.coverage = coverage
        state, refused = r.abstract()
    except ProtocolError as e:
        return problem_of(e)
    if refused:
        return f"initial state: {refused}"
    try:
        wrong = r.read_problems(state)
    except ProtocolError as e:
        return problem_of(e)
    if wrong:
        return f"initial state: {wrong}"
    for i, choice in enumerate(schedule, 1):
        choice = tuple(choice)
        try:
            possible = r.choices(state)
        except ProtocolError as e:
            return problem_of(e)
        if choice not in possible:
            raise ValueError(f"schedule try {i} {choice} is not possible here: the schedule "
                             f"does not fit this implementation or configuration")
        step, state, problem = r.take(choice, state, oracle, claim)
        if stats is not None:
            stats.steps += step is not None
        if problem:
            return problem
        if r.known is not None and r.known.broke:
            return None  # undefined from here, as the machine stopped
    try:
        return ended(cfg, r, state, oracle, claim, list(schedule), stats)
    except ProtocolError as e:
        return problem_of(e)


def ended(cfg: Config, run: _Run, state, oracle, claim, schedule: list,
          stats: RaceStats | None = None) -> str | None:
    """A run's end: the fair tries alone (:func:`settle.settle`, appended to
    ``schedule``), then the leads-to properties on where they left it."""
    state, problem = settle.settle(cfg, run, state, oracle, claim, schedule, stats)
    if problem or (run.known is not None and run.known.broke):
        return problem
    trap = settle.trapped(cfg, state)
    if trap is None:
        return None
    prop, key = trap
    if claim is not None and claim.kernel != CORRECT:  # the claimed kernel's model is trapped too
        claim.known_liveness(prop.id, f"the end of the run ({settle.problem(cfg, prop, key)})")
        return None
    return settle.problem(cfg, prop, key)
