"""A model trace as a schedule of the interleaver's tries: a race scenario.

The explorer's shortest path to an outcome names model actions; the race
machine and ``kmemcg replay`` take tries (:meth:`~kmemcg.conformance.interleave._Run.choices`:
start an operation, step a thread, let a kworker pick up an item). A guided
replay on an implementation booted as the configuration says (the in-process
reference, :func:`~kmemcg.conformance.interleave.reference`) finds, for each
action of the path in turn, the try whose step is that action into the model's
next state: a thread's next step for an action that continues a path
(model/serial.py ``CONTINUES``), the start of a guarded kernel path or of a
cgroupfs or page operation whose first step it is, a kworker's pick-up. Where
none is, an operation that took its last step returns first (a silent try: it
frees its actor, or the lock it held). Running generators cannot be copied, so
a try that took another step is undone by replaying the schedule so far on a
fresh instance, which is cheap in process.
"""

from __future__ import annotations

from kmemcg.conformance.harness import AlphaError, model_args
from kmemcg.conformance.interleave import ACTOR_OPERATIONS, OPERATIONS, _replay, _Run, reference
from kmemcg.conformance.protocol import ProtocolError
from kmemcg.model import cgroupfs
from kmemcg.model.config import Config
from kmemcg.model.serial import continues

#: the cgroupfs or page operation whose first step an action is (a write is
#: every other cgroupfs action: model/cgroupfs.expect_write says which)
_FIRST_OF = {
    "mkdir": "mkdir", "attach": "attach", "charge.kmem": "alloc_kmem",
    "charge.bypass": "alloc_kmem", "user.charge": "alloc_user", "anon.charge": "fault_anon",
    "pagecache.charge": "read_file", "free.uncharge": "free_kmem", "user.uncharge": "free_user",
    "stock.drain": "drain_stock", "kmem_cache_create": "kmem_cache_create",
}

#: the last steps of an allocation in flight, and whether its fail flag chose each
_ENDS = {"charge.commit": False, "charge.commit_unpatched": False, "charge.abort": True}


def schedule_of(cfg: Config, trace: list, make=None, silent: int = 2,
                then_any_step: bool = False) -> list | None:
    """The tries that take the model ``trace`` (explorer Steps, Init first) on
    ``make()`` (the reference as ``cfg`` says by default), and with
    ``then_any_step`` a last try that takes some step from where it ends; None
    where no try takes one of its actions within ``silent`` returns before it."""
    make = make or reference(cfg)
    try:
        run = _Run(cfg, make)
        state, _ = run.abstract()
    except ProtocolError:
        return None
    if not trace or state != trace[0].state:
        return None
    schedule: list = []
    for i, step in enumerate(trace[1:], 1):
        found = _reach(cfg, make, run, schedule, step, trace[i + 1:], silent)
        if found is None:
            return None
        run, tries = found
        schedule += tries
    if then_any_step:
        last = _any_step(cfg, make, run, schedule)
        return None if last is None else [*schedule, last]
    return schedule


def _any_step(cfg, make, run: _Run, schedule: list):
    """A try that takes a model step after ``schedule``, or None."""
    try:
        choices = run.choices(run.abstract()[0])
    except ProtocolError:
        return None
    for choice in choices:
        try:
            if _replay(cfg, make, schedule).replay(choice) is not None:
                return choice
        except ProtocolError:
            continue
    return None


def _reach(cfg, make, run: _Run, schedule: list, step, rest, silent: int):
    """(the run after, the tries) that take ``step`` next, after at most
    ``silent`` returns; None if none does."""
    fresh, busy = True, sorted(run.threads)
    for choice in _ranked(cfg, run, step, rest):
        if not fresh:
            run = _replay(cfg, make, schedule)
        fresh = False
        if _takes(cfg, run, choice, step):
            return run, [choice]
    if silent:
        for key in busy:
            run = _replay(cfg, make, schedule)
            try:
                if run.replay(("step", key)) is not None or key in run.threads:
                    continue  # it stepped, or waits: not a return
            except ProtocolError:
                continue
            found = _reach(cfg, make, run, [*schedule, ("step", key)], step, rest, silent - 1)
            if found is not None:
                return found[0], [("step", key), *found[1]]
    return None


def _takes(cfg, run: _Run, choice, step) -> bool:
    """Whether ``choice`` takes the model's ``step`` (its action and parameters,
    into its state)."""
    try:
        y = run.replay(choice)
        if y is None:
            return False
        margs = tuple(model_args(cfg, run.paths, y.action, y.args))
        return (y.action, margs) == (step.action, tuple(step.args)) \
            and run.abstract()[0] == step.state
    except (ProtocolError, AlphaError, KeyError, ValueError, TypeError, StopIteration):
        return False


def _ranked(cfg, run: _Run, step, rest) -> list:
    """The tries possible now, the likeliest to take ``step`` first: so that a
    trace costs about one try an action (any of them may be the one)."""
    try:
        state, _ = run.abstract()
        choices = run.choices(state)
    except ProtocolError:
        return []
    return sorted(choices, key=lambda c: -_score(cfg, run, state, c, step, rest))


def _score(cfg, run: _Run, s, choice, step, rest) -> int:
    name, args = step.action, tuple(step.args)
    kind = choice[0]
    if kind == "step":
        return 3 if continues(cfg, name, args) is not None else 0
    if kind == "work":
        return 3 if name.startswith(("create_work.", "destroy_work.")) else 0
    op, cargs = choice[1], tuple(choice[2:])
    if op in OPERATIONS:
        return 4 if (op, cargs) == (name, args) else 0
    if op not in ACTOR_OPERATIONS or _FIRST_OF.get(name, "write") != op:
        return 0
    return 1 + 2 * _predicted(cfg, run, s, op, cargs, step, rest)


def _predicted(cfg, run: _Run, s, op, cargs, step, rest) -> bool:
    """Whether the operation ``op(cargs)`` begins with ``step``, as far as the
    face tells (a write, by the file and text; an allocation's fail flag, by how
    the trace ends its charge)."""
    args = tuple(step.args)
    if op == "write":
        path, file, text = cargs
        want = cgroupfs.expect_write(cfg, s, run.paths.index(path), file, text)
        return (want.action, tuple(want.args or ())) == (step.action, args)
    if op == "mkdir":
        return run.paths.index(cargs[0]) == args[0]
    if op == "attach":
        return (cfg.tasks.index(cargs[0]), run.paths.index(cargs[1])) == args[:2]
    if op == "alloc_kmem":
        task, fail, order = cargs
        t = cfg.tasks.index(task)
        if args[0] != t or (step.action == "charge.kmem" and args[2] != order):
            return False
        ends = (_ENDS[later.action] for later in rest if later.action in _ENDS
                and continues(cfg, later.action, tuple(later.args)) == ("charge", t))
        return fail == next(ends, False)
    return True
