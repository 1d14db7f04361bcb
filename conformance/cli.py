"""kmemcg: prove, explore, conform, mutants, tlc, replay, and check (all of them).

Every command meets bad input with a clear message and an exit status of
:class:`~kmemcg.conformance.status.Exit`, never a traceback, and loses nothing
it found before a later error or a Ctrl-C: a finding is printed first, then
saved, and a Ctrl-C prints what was checked so far.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import click
import z3

from kmemcg.conformance import machine, report
from kmemcg.conformance.adapters import REFERENCE, PythonAdapter, load_factory, pipe_factory
from kmemcg.conformance.calls import sticky_interrupts
from kmemcg.conformance.claims import Claim
from kmemcg.conformance.claims import resolve as resolve_kernel
from kmemcg.conformance.harness import Harness, Nonconformance
from kmemcg.conformance.interleave import describe, explore_impl, reference
from kmemcg.conformance.lasso import lasso
from kmemcg.conformance.mutants import MUTANTS
from kmemcg.conformance.protocol import ProtocolError, SetupError
from kmemcg.conformance.race import replay as replay_schedule
from kmemcg.conformance.race import run as run_race_machine
from kmemcg.conformance.serve import serve as serve_json_lines
from kmemcg.conformance.status import Exit
from kmemcg.model import explore as explorer
from kmemcg.model import prove as prover
from kmemcg.model import tla
from kmemcg.model import tlc as tlc_runner
from kmemcg.model.config import Config
from kmemcg.model.controller import MODEL
from kmemcg.model.profiles import PROFILES
from kmemcg.model.scopes import DEFAULT, PRESETS, named
from kmemcg.model.state import diff_json

#: the preset a profile runs on when no --config is given
#: seconds a call into an implementation may take (a pipe reply, an in-process call)
DEFAULT_TIMEOUT = 10.0
#: what a configuration file can be wrong with, as Config reports it
CONFIG_ERRORS = (ValueError, TypeError, AttributeError, KeyError)


class Kmemcg(click.Group):
    """The command group. Whatever a command did not expect ends in one clear
    paragraph and a status of its own, not a traceback; ``KMEMCG_DEBUG=1``
    re-raises for developers."""

    def invoke(self, ctx):
        try:
            with sticky_interrupts():
                return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted (Ctrl-C): what was checked so far is above", err=True)
            ctx.exit(Exit.INTERRUPTED)
        except BrokenPipeError:
            # the reader went away (`kmemcg ... | head`): stop quietly, as Unix tools do;
            # stdout goes to /dev/null so that the interpreter's final flush fails no more
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(Exit.BROKEN_PIPE)
        except Exception as e:
            if os.environ.get("KMEMCG_DEBUG") == "1":
                raise
            click.echo(f"kmemcg: internal error: {type(e).__name__}: {e}. This is a bug in "
                       f"kmemcg, not a verdict about what it checks; run again with "
                       f"KMEMCG_DEBUG=1 for the traceback, and report it.", err=True)
            ctx.exit(Exit.INTERNAL)


def all_profiles() -> list[tuple[str, str, str]]:
    """(profile, the preset it is checked on, what it reproduces and its source)."""
    return [(p.name, p.preset or "every preset", f"{p.reproduces} ({p.source})")
            for p in PROFILES.values()]


def _load(path: str) -> Config:
    """A preset or a configuration file; whatever is wrong with it is a usage error."""
    try:
        return named(path)
    except CONFIG_ERRORS as e:
        raise click.UsageError(f"--config {path}: {e}") from None


def _config(path: str | None, profile: str | None, default: Config = DEFAULT) -> Config:
    if path:
        cfg = _load(path)
    elif profile in PROFILES and PROFILES[profile].preset:
        cfg = PRESETS[PROFILES[profile].preset]
    else:
        cfg = default
    if profile:
        if profile not in PROFILES:
            raise click.UsageError(f"unknown profile {profile!r}; see kmemcg explore "
                                   f"--list-profiles")
        cfg = replace(cfg, profile=profile)
    return cfg


def _machine_config(cfg: Config) -> Config:
    """A configuration the conformance machine can drive, or a usage error now
    (not a Hypothesis error deep in a strategy)."""
    try:
        return machine.check_config(cfg)
    except ValueError as e:
        raise click.UsageError(str(e)) from None


def _seed(seed: int | None) -> int:
    s = seed if seed is not None else random.SystemRandom().randrange(1 << 32)
    click.echo(f"seed: {s}  (replay this run with --seed {s})")
    return s


def _writable(ctx, param, value):
    """An output path is checked before the long work starts: its directory must
    exist and be writable (a run that finds a bug must be able to keep it)."""
    if value is None:
        return value
    path = Path(value)
    parent = path.parent
    if path.is_dir():
        raise click.BadParameter(f"{value} is a directory", ctx, param)
    if not parent.is_dir():
        raise click.BadParameter(f"directory {str(parent)!r} does not exist", ctx, param)
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists()
                                                     and not os.access(path, os.W_OK)):
        raise click.BadParameter(f"{value} is not writable", ctx, param)
    return value


def _write(path: str, data: dict, what: str, echo=click.echo) -> bool:
    """Write a finding's file; if that fails after all, say so and print the
    content instead, so the finding is not lost."""
    try:
        report.write_json(path, data)
    except OSError as e:
        click.echo(f"cannot write the {what} to {path}: {e}; here it is instead:", err=True)
        echo(json.dumps(data, indent=2))
        return False
    return True


def _usage(e: Exception):
    """An implementation that cannot be set up is the user's to fix."""
    raise click.UsageError(str(e)) from None


config_option = click.option(
    "--config", "config_path",
    help=f"a preset ({', '.join(PRESETS)}) or a configuration file (JSON)")
profile_option = click.option("--profile", help="a named kernel profile (see --list-profiles)")
kernel_option = click.option(
    "--kernel", help="the kernel the implementation claims to be: 3.8 or 3.10 (as merged: its "
                     "known bugs are warnings, not failures), correct [the default], or a "
                     "profile")


def _claimed(cfg: Config, kernel: str | None, profile: str | None) -> tuple[Config, Claim | None]:
    """The configuration checked and the claim, for ``--kernel``."""
    if kernel is None:
        return cfg, None
    if profile is not None:
        raise click.UsageError("give --kernel (what the implementation is) or --profile (the "
                               "bug to hunt), not both")
    try:
        cfg = replace(cfg, profile=resolve_kernel(kernel))
    except ValueError as e:
        raise click.UsageError(f"--kernel: {e}") from None
    return cfg, Claim(cfg)


def _warnings(claim: Claim | None, warnings: list, echo) -> None:
    if claim is not None:
        echo(f"claimed kernel {claim.kernel}: {len(warnings)} known bug(s) seen"
             + (" (warnings, not failures):" if warnings else ""))
        for w in warnings:
            echo(f"  warning: {w}")
timeout_option = click.option(
    "--timeout", default=DEFAULT_TIMEOUT, show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="seconds a call into the implementation may take (a pipe reply, or an in-process "
         "call); past it, a timeout verdict naming the call")
impl_option = click.option("--impl", help="MOD:FACTORY of a Python implementation "
                                          "(default: the reference)")


def _pipe(ctx, param, value):
    if value is not None and not value.strip():
        raise click.BadParameter("wants a command to run, got an empty one", ctx, param)
    return value


pipe_option = click.option("--pipe", callback=_pipe,
                           help="a command speaking the JSON-lines protocol on stdin/stdout")


@click.group(cls=Kmemcg, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kmemcg")
def main():
    """Formal model and conformance suite for the memcg kmem controller (Linux 3.8).

    Exit statuses: 0 holds/conforms, 1 violation or nonconformance, 2 usage or
    configuration error, 3 incomplete (a bound or time limit before a verdict),
    4 an outside tool (TLC, java) missing or failed, 5 internal error, 130
    interrupted, 141 the output's reader went away (a pipe to head)."""


# ---------------------------------------------------------------- prove


def z3_leaves_ctrl_c_to_python() -> None:
    """Z3 answers a Ctrl-C itself by cancelling the solve, and a cancelled solve
    reads as "no counterexample": an interrupted proof would pass. With Z3's
    handler off, Python raises KeyboardInterrupt as soon as Z3 returns."""
    z3.set_param("ctrl_c", False)


def run_prove(cfg: Config, bmc_depth: int, echo=click.echo) -> Exit:
    z3_leaves_ctrl_c_to_python()
    r = prover.prove(cfg)
    ok = r.ok
    echo(f"induction: {len(r.obligations)} obligations "
         f"({len({o.action for o in r.obligations})} actions x "
         f"{len(MODEL.invariants)} invariants), "
         f"{len(r.failed)} failed, {r.seconds:.2f}s")
    echo(f"  {len(r.by_frame)} discharged by frame reasoning, without a solver (the action "
         f"writes nothing the invariant reads); {r.queries} solver queries for the rest")
    if not r.init_ok:
        echo(f"  Init violates {', '.join(r.init_violations)}")
    for o in r.failed:
        echo(f"  FAILED {o.action} does not preserve {o.invariant}")
        if o.cti and o.cti[1] is not None:
            args, pre, post = o.cti
            echo(f"    counterexample to induction, {report.describe(cfg, o.action, args)}:")
            echo("    pre-state (satisfies every invariant):")
            echo("      " + json.dumps(MODEL.to_json(cfg, pre), sort_keys=True))
            echo("    changes:")
            to_json = MODEL.to_json
            for path, a, b in diff_json(to_json(cfg, pre), to_json(cfg, post)):
                echo(f"      {path}: {a} -> {b}")
    if bmc_depth:
        b = prover.bmc(cfg, bmc_depth)
        if b.unknown:
            echo(f"bmc: depth {bmc_depth}, NO VERDICT: Z3 could not decide {b.unknown}, "
                 f"{b.seconds:.2f}s")
            return Exit.INCOMPLETE
        echo(f"bmc: depth {bmc_depth}, {'no violation' if b.ok else 'VIOLATION ' + b.violation}, "
             f"{b.seconds:.2f}s")
        if not b.ok:
            steps = [explorer.Step(a, args, 0, st) for (a, args), st in b.trace]
            echo(report.render_model_trace(cfg, steps, b.violation))
        ok = ok and b.ok
    return Exit.OK if ok else Exit.VIOLATION


@main.command()
@config_option
@profile_option
@click.option("--bmc", "bmc_depth", default=6, show_default=True, type=click.IntRange(min=0),
              help="bounded model checking depth from Init (0: skip)")
def prove(config_path, profile, bmc_depth):
    """Prove every (action, invariant) pair inductive with Z3, then BMC from Init
    (the whole model by default: the `whole` preset)."""
    raise SystemExit(run_prove(_config(config_path, profile, PRESETS["whole"]), bmc_depth))


# ---------------------------------------------------------------- explore


def explore_status(r) -> Exit:
    if r.violation or r.liveness or r.deadlocks:
        return Exit.VIOLATION
    return Exit.OK if r.complete else Exit.INCOMPLETE


def run_explore(cfg: Config, max_states, itf=None, echo=click.echo, symmetry=False):
    seen = {"states": 0, "queue": 0}
    t0 = time.perf_counter()

    def progress(n, queue):
        seen.update(states=n, queue=queue)
        echo(f"  ... {n} distinct states, {queue} on the queue", err=True)

    try:
        r = explorer.explore(cfg, max_states=max_states, progress=progress, symmetry=symmetry)
    except KeyboardInterrupt:
        so_far = (f"{seen['states']} distinct states at the last progress report, "
                  f"{seen['queue']} on the queue" if seen["states"]
                  else "fewer than 20000 distinct states (no progress report yet)")
        echo(f"explore [{cfg.name}, profile {cfg.profile}]: INTERRUPTED after "
             f"{time.perf_counter() - t0:.2f}s: {so_far}; no violation found so far")
        raise
    if r.violation or r.liveness:
        status = f"VIOLATION {r.violation or r.liveness[0][0]}"
    elif r.deadlocks:
        status = f"DEADLOCK ({r.deadlocks} states)"
    else:
        status = "no violation"
    if not r.complete:
        status = f"INCOMPLETE (stopped at --max-states {max_states}): no verdict"
    if r.symmetry and not r.violation:
        status = (f"{status} of the safety properties; liveness NOT checked (states up to "
                  f"root symmetry: run without --symmetry for liveness)")
    echo(f"explore [{cfg.name}, profile {cfg.profile}]: {r.distinct} distinct states, "
         f"{r.generated} generated, depth {r.depth}, {r.seconds:.2f}s "
         f"({r.rate:,.0f} states/s), {r.graph.number_of_edges()} edges: {status}")
    counterexample = None
    if r.liveness:
        prop, key, path = r.liveness[0]
        echo(f"LIVENESS {prop} fails ({len(r.liveness)} instance(s)); a behaviour that "
             f"stays away from the goal forever:")
        prop_of = {p.id: p for p in MODEL.liveness}
        steps, loop = lasso(r, prop_of[prop], key, path)
        echo(report.render_model_trace(cfg, steps, None))
        if loop == len(steps) - 1:
            echo("     ... and stays here: no fair action can change this state")
        else:
            echo(f"     ... and back to step {loop}: steps {loop + 1} to {len(steps) - 1} repeat "
                 f"forever, every fair action taken or disabled in them")
        counterexample = report.itf_trace(cfg, steps, prop, loop)
    if r.violation:
        echo(f"shortest counterexample ({len(r.trace) - 1} steps):")
        echo(report.render_model_trace(cfg, r.trace, r.violation))
        counterexample = report.itf_trace(cfg, r.trace, r.violation)
    if itf and counterexample is None:
        echo(f"no counterexample: nothing written to {itf}")
    elif itf and _write(itf, counterexample, "ITF trace", echo):
        shape = (f", a lasso whose loop starts at state {counterexample['loop']}"
                 if "loop" in counterexample else "")
        echo(f"ITF trace written to {itf}{shape}")
    return r


@main.command()
@config_option
@profile_option
@click.option("--max-states", type=click.IntRange(min=1), default=None,
              help="stop after this many states (the verdict is then incomplete)")
@click.option("--itf", type=click.Path(dir_okay=False), callback=_writable,
              help="write a counterexample (a lasso for liveness) as ITF JSON")
@click.option("--list-profiles", is_flag=True, help="list the named profiles and exit")
@click.option("--symmetry", is_flag=True,
              help="identify states that differ only by a permutation of identical root "
                   "caches (scopes with root caches; safety only, as TLC's SYMMETRY)")
def explore(config_path, profile, max_states, itf, list_profiles, symmetry):
    """Breadth-first search of every reachable state of a small configuration."""
    if list_profiles:
        for name, preset, what in all_profiles():
            click.echo(f"{name}\t{preset}\t{what}")
        return
    cfg = _config(config_path, profile)
    if symmetry and not cfg.roots:
        raise click.UsageError(f"--symmetry permutes root caches; {cfg.name!r} has none, "
                               f"so there is no symmetry to use")
    raise SystemExit(explore_status(run_explore(cfg, max_states, itf, symmetry=symmetry)))


# ---------------------------------------------------------------- conform


def _implementation(cfg: Config, impl: str | None, pipe: str | None, timeout: float):
    """``make()`` for the machines and the interleaver, on any scope: ``--impl
    MOD:FACTORY`` (called with the configuration), ``--pipe CMD`` (one server
    process, booted again with ``reset`` for each run), or None for the
    reference (in process, its locks reported to lockdep). It is set up once
    now: a factory or a command that cannot be set up is a usage error
    (SetupError); a program that starts but breaks the protocol at once is a
    verdict (ProtocolError, raised)."""
    if impl is not None and pipe is not None:
        raise click.UsageError("give --impl or --pipe, not both")
    if impl is None and pipe is None:
        return None
    try:
        if pipe is not None:
            make = pipe_factory(pipe, cfg, timeout)
        else:
            factory = load_factory(impl)

            def make():
                return PythonAdapter.booting(factory, cfg, impl, timeout)
        make()
    except SetupError as e:
        _usage(e)
    return make


def _started(cfg, impl, pipe, timeout, head: str):
    """:func:`_implementation`, a protocol break at start printed as a verdict."""
    try:
        return _implementation(cfg, impl, pipe, timeout)
    except ProtocolError as e:
        click.echo(f"{head} [{pipe or impl}]: NONCONFORMANCE at start: the implementation "
                   f"broke the protocol: {e}")
        raise SystemExit(Exit.VIOLATION) from None


def run_conform(cfg, make_impl, seed, examples, steps, oracle, save=None, impl_name="",
                echo=click.echo, impl=None, pipe=None, timeout=None, claim=None,
                database=None) -> Exit:
    if oracle == "z3":
        z3_leaves_ctrl_c_to_python()
    stats = machine.run(cfg, make_impl or reference(cfg), seed_value=seed, examples=examples,
                        steps=steps, oracle=oracle, claim=claim, database=database)
    rate = stats.steps / stats.seconds if stats.seconds else 0.0
    counts = (f"{stats.ops} operations, {stats.steps} steps checked ({oracle} oracle), "
              f"{stats.seconds:.2f}s ({rate:,.0f} steps/s)")
    if stats.failure is None and not stats.interrupted:
        echo(f"conform [{impl_name}]: {examples} runs, {counts}: conforms")
        _warnings(claim, stats.warnings, echo)
    elif stats.failure is None:
        echo(f"conform [{impl_name}]: INTERRUPTED: {counts} in the runs completed; no "
             f"nonconformance found so far")
    else:
        when = " (found before Ctrl-C, perhaps not fully shrunk)" if stats.interrupted else ""
        echo(f"conform [{impl_name}]: NONCONFORMANCE{when} after {stats.seconds:.2f}s")
        echo(report.render_conformance_failure(stats.failure))
        if save:
            failure = {"check": stats.failure.check, "message": stats.failure.message}
            data = report.replay_data(cfg, seed, failure, ops=stats.failing_ops, impl=impl,
                                      pipe=pipe, timeout=timeout, kernel=claim and claim.kernel)
            if _write(save, data, "replay file", echo):
                echo(f"replay file written to {save}  (kmemcg replay {save})")
    if stats.interrupted:
        raise KeyboardInterrupt
    return Exit.OK if stats.failure is None else Exit.VIOLATION


@main.command()
@config_option
@impl_option
@pipe_option
@click.option("--seed", type=int, help="the random seed (printed when chosen for you)")
@click.option("--examples", type=click.IntRange(min=1), default=None,
              help="Hypothesis runs [default: 200; 1000 for the race machine]")
@click.option("--steps", default=None, type=click.IntRange(min=1),
              help="rule steps per run [default: 40; 60 tries for the race machine]")
@click.option("--oracle", type=click.Choice(["eval", "z3"]), default="eval", show_default=True,
              help="the sequential machine's oracle (the race machine evaluates)")
@timeout_option
@click.option("--race", is_flag=True,
              help="the race machine: single steps of threads and kworkers interleaved, as "
                   "the interleaver's choices (the machine on scopes with root caches or "
                   "forked tasks, or with --profile)")
@profile_option
@kernel_option
@click.option("--save", type=click.Path(dir_okay=False), default="kmemcg-replay.json",
              show_default=True, callback=_writable,
              help="where to write the replay file of a failure")
@click.option("--database", type=click.Path(file_okay=False),
              help="a Hypothesis example database directory: failures found are saved "
                   "there and tried first on the next run [default: none, each run is its "
                   "seed's alone]")
def conform(config_path, impl, pipe, seed, examples, steps, oracle, timeout, race, profile,
            kernel, save, database):
    """Drive an implementation with a Hypothesis machine; check every step.

    The sequential machine runs whole operations on the default scope
    (`conformance`); the race machine interleaves single steps on any scope."""
    if impl is not None and pipe is not None:
        raise click.UsageError("give --impl or --pipe, not both")
    default = PRESETS["destruction"] if profile else PRESETS["conformance"]
    cfg, claim = _claimed(_config(config_path, profile, default), kernel, profile)
    race = race or bool(profile) or not machine.fits(cfg)
    if not race:
        _machine_config(cfg)
    make = _started(cfg, impl, pipe, timeout, "race" if race else "conform")
    s = _seed(seed)
    if race:
        raise SystemExit(run_race(cfg, s, 1000 if examples is None else examples,
                                  60 if steps is None else steps, save, make=make, impl=impl,
                                  pipe=pipe, timeout=timeout, claim=claim, database=database))
    raise SystemExit(run_conform(cfg, make, s, 200 if examples is None else examples,
                                 40 if steps is None else steps, oracle, save,
                                 pipe or impl or "reference", impl=impl, pipe=pipe,
                                 timeout=timeout, claim=claim, database=database))


def run_race(cfg, seed, examples, steps, save=None, echo=click.echo, make=None, impl=None,
             pipe=None, timeout=None, claim=None, database=None) -> Exit:
    st = run_race_machine(cfg, seed_value=seed, examples=examples, steps=steps, make=make,
                          claim=claim, database=database)
    rate = st.steps / st.seconds if st.seconds else 0.0
    head = f"race [{cfg.name}, profile {cfg.profile}]"
    if st.failure is None:
        if st.interrupted:
            echo(f"{head}: INTERRUPTED after {st.seconds:.2f}s: {st.steps} steps checked; "
                 f"no race found so far")
            raise KeyboardInterrupt
        echo(f"{head}: {examples} runs, {st.steps} steps checked, {st.seconds:.2f}s "
             f"({rate:,.0f} steps/s): conforms")
        _warnings(claim, st.warnings, echo)
        return Exit.OK
    when = " (before Ctrl-C, not minimised)" if st.interrupted else ""
    echo(f"{head}: FOUND{when} after {st.seconds:.2f}s: {st.failure.message}")
    echo(f"shrunk schedule ({len(st.schedule)} tries):")
    for line in describe(cfg, st.schedule, make):
        echo(f"  {line}")
    if save:
        data = report.replay_data(cfg, seed, {"check": "race", "message": st.failure.message},
                                  schedule=st.schedule, impl=impl, pipe=pipe, timeout=timeout,
                                  kernel=claim and claim.kernel)
        if _write(save, data, "replay file", echo):
            echo(f"replay file written to {save}  (kmemcg replay {save})")
    if st.interrupted:
        raise KeyboardInterrupt
    return Exit.VIOLATION


# ---------------------------------------------------------------- interleave


@main.command()
@config_option
@profile_option
@kernel_option
@impl_option
@pipe_option
@timeout_option
def interleave(config_path, profile, kernel, impl, pipe, timeout):
    """Every interleaving on the implementation; its states must equal the model's
    (under --kernel, the model's with the states its known bugs break pruned)."""
    cfg, claim = _claimed(_config(config_path, profile, PRESETS["destruction"]), kernel, profile)
    make = _started(cfg, impl, pipe, timeout, "interleave")
    raise SystemExit(run_interleave(cfg, make, claim=claim))


def _interleave_stopped(r, head: str, echo) -> Exit | None:
    """An interleaving that stopped before a verdict, said so: Ctrl-C (re-raised)
    or a bound (INCOMPLETE)."""
    counts = f"{len(r.states)} abstract states, {r.steps} steps checked, {r.seconds:.2f}s"
    if r.interrupted:
        echo(f"{head}: INTERRUPTED after {counts}; no problem found so far")
        raise KeyboardInterrupt
    if not r.complete:
        echo(f"{head}: INCOMPLETE, stopped after {counts}: no verdict")
        return Exit.INCOMPLETE
    return None


def run_interleave(cfg, make=None, echo=click.echo, claim=None) -> Exit:
    """The implementation's interleavings (``make``; None: the reference)
    against the model's states."""
    r = explore_impl(cfg, make=make, claim=claim)
    head = f"interleave [{cfg.name}, profile {cfg.profile}]"
    if r.problem:
        echo(f"{head}: the implementation reaches {r.problem} after {len(r.trace)} steps "
             f"({r.steps} steps checked, {r.seconds:.2f}s)")
        for line in describe(cfg, r.trace, make):
            echo(f"  {line}")
        return Exit.VIOLATION
    stopped = _interleave_stopped(r, head, echo)
    if stopped is not None:
        return stopped
    model = explorer.explore(cfg, graph=False, keep_going=claim is not None)
    model_states = set(model.states)
    same = r.states == model_states
    pruned = f" ({len(model.broken)} broken by known bugs, not expanded)" if claim else ""
    echo(f"{head}: implementation {len(r.states)} abstract states, model {len(model_states)}"
         f"{pruned}: {'equal' if same else 'DIFFERENT'}; {r.steps} steps checked, "
         f"{r.seconds:.2f}s")
    _warnings(claim, r.warnings, echo)
    if not same:
        echo(f"  only the implementation: {len(r.states - model_states)}, "
             f"only the model: {len(model_states - r.states)}")
    if r.lock_orders is None:
        echo("lock order: not recorded by this implementation (only the reference reports "
             "its locks to lockdep)")
    else:
        echo("lock order (lockdep): "
             + (", ".join(f"{a} -> {b}" for a, b in r.lock_orders) or "no nested locks")
             + "; no cycle")
    return Exit.OK if same else Exit.VIOLATION


# ---------------------------------------------------------------- mutants


def run_mutants(cfg, seed, examples, steps, echo=click.echo, timeout=None) -> Exit:
    """Each mutant of the zoo meets the sequential machine on its preset (or on
    ``cfg``, an accounting configuration), and a survivor every interleaving of
    its interleaving preset (or of ``cfg``, a configuration with root caches,
    which then runs the slab and task mutants alone). Ctrl-C prints the rows so
    far."""
    rows: list[list[str]] = []
    header = ["mutant", "verdict", "by check", "time to kill", "bug"]
    try:
        ok = _mutant_rows(cfg, seed, examples, steps, rows, timeout)
    except KeyboardInterrupt:
        echo(report.table(rows, header))
        echo(f"interrupted after {len(rows)} of {1 + len(MUTANTS)} rows")
        raise
    echo(report.table(rows, header))
    return Exit.OK if ok else Exit.VIOLATION


def _mutant_rows(cfg, seed, examples, steps, rows, timeout) -> bool:
    sequential = machine.fits(cfg)

    def machine_run(make, **kw):
        st = machine.run(cfg, make, seed_value=seed, examples=examples, steps=steps, **kw)
        if st.interrupted:
            raise KeyboardInterrupt
        return st

    ok = True
    if sequential:
        ref = machine_run(reference(cfg))
        ok = ref.failure is None
        rows.append(["(reference)", "passes" if ok else "FAILS", "-", f"{ref.seconds:.1f}s",
                     "-"])
    for m in MUTANTS.values():
        if m.machine is None and not sequential and not PRESETS[m.interleave].roots:
            continue  # a charge-path or death race: cfg is a configuration with root caches
        if m.machine is not None and not sequential:
            continue
        t = time.perf_counter()
        check = None
        if m.machine is not None:
            st = machine_run(lambda m=m: PythonAdapter(m.kernel.for_config(cfg), name=m.name,
                                                       timeout=timeout), shrink_seconds=10)
            check = st.failure.check if st.failure else None
        if check is None:
            scope = cfg if not sequential else PRESETS[m.interleave]
            r = explore_impl(scope, make=lambda m=m, c=scope: PythonAdapter(
                m.kernel.for_config(c), name=m.name, timeout=timeout))
            if r.interrupted:
                raise KeyboardInterrupt
            if r.problem:
                check = f"interleave {scope.name}"
                if r.problem.startswith("["):
                    check += " " + r.problem.split("]")[0].lstrip("[")
        ok &= check is not None
        rows.append([m.name, "killed" if check else "SURVIVED", check or "-",
                     f"{time.perf_counter() - t:.1f}s", m.bug])
    return ok


@main.command()
@click.option("--config", "config_path",
              help="an accounting configuration for the sequential machine (the slab and "
                   "task mutants then meet destruction-kmem), or one with root caches for "
                   "the slab and task mutants alone")
@click.option("--seed", type=int)
@click.option("--examples", default=500, show_default=True, type=click.IntRange(min=1))
@click.option("--steps", default=40, show_default=True, type=click.IntRange(min=1))
@timeout_option
def mutants(config_path, seed, examples, steps, timeout):
    """Run the suite against every mutant; exit 0 only if all are killed."""
    cfg = _config(config_path, None, PRESETS["conformance"])
    if not cfg.roots:
        _machine_config(cfg)
    raise SystemExit(run_mutants(cfg, _seed(seed), examples, steps, timeout=timeout))


# ---------------------------------------------------------------- replay


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@impl_option
@click.option("--pipe", callback=_pipe,
              help="replay over the JSON-lines pipe against this command (default: the one "
                   "the file was recorded with, if any)")
@timeout_option
def replay(file, impl, pipe, timeout):
    """Re-run a saved failure (operations, or a race's tries), step by step."""
    if impl is not None and pipe is not None:
        raise click.UsageError("give --impl or --pipe, not both")
    try:
        data = report.load_replay(file)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    try:
        cfg = Config.from_json(data["config"])
    except CONFIG_ERRORS as e:
        raise click.UsageError(f"{file}: its configuration: {e}") from None
    if impl is None and pipe is None:
        impl, pipe = data.get("impl"), data.get("pipe")
    source = click.get_current_context().get_parameter_source("timeout")
    if source == click.core.ParameterSource.DEFAULT and _positive(data.get("timeout")):
        timeout = data["timeout"]  # the limit the failure was found with
    # the claim the failure was found under: the release's known bugs stay warnings
    claim = Claim(cfg) if data.get("kernel") else None
    if claim is not None and data["kernel"] != cfg.profile:
        raise click.UsageError(f"{file}: claims kernel {data['kernel']!r} but its configuration "
                               f"is of profile {cfg.profile!r}")
    if "schedule" in data:
        make = _started(cfg, impl, pipe, timeout, "replay")
        raise SystemExit(_replay_schedule(file, data, cfg, make, claim))
    try:
        ops = report.check_ops(cfg, data["ops"])
    except ValueError as e:
        raise click.UsageError(f"{file}: not a valid operation list: {e}") from None
    make = _started(cfg, impl, pipe, timeout, "replay") or reference(cfg)
    adapter = make()
    recorded = data.get("failure") or {}
    done = 0
    try:
        h = Harness(adapter, cfg, claim=claim)
        for op, args in ops:
            h.run(op, args)
            done += 1
    except Nonconformance as e:
        click.echo(report.render_conformance_failure(e))
        raise SystemExit(Exit.VIOLATION) from None
    except KeyboardInterrupt:
        click.echo(f"replay: INTERRUPTED after {done} of {len(ops)} operations; no "
                   f"nonconformance so far")
        raise
    finally:
        adapter.close()
    note = (f" (the file recorded [{recorded.get('check')}] {recorded.get('message')}: not "
            f"reproduced here)" if recorded else "")
    click.echo(f"replay: {len(ops)} operations, {h.steps_checked} steps: conforms{note}")
    raise SystemExit(Exit.OK)


def _positive(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and x > 0


def _replay_schedule(file, data, cfg, make, claim) -> Exit:
    try:
        problem = replay_schedule(cfg, data["schedule"], make, claim)
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise click.UsageError(f"{file}: {e}") from None
    click.echo(f"replay: {len(data['schedule'])} tries: {problem or 'conforms'}")
    return Exit.VIOLATION if problem else Exit.OK


# ---------------------------------------------------------------- serve


@main.command()
@click.option("--impl", default=REFERENCE, show_default=True,
              help="MOD:FACTORY of the Python implementation to serve; FACTORY(config) "
                   "returns a kernel shaped like kmemcg.impl.kernel.Kernel")
def serve(impl):
    """Serve an implementation over the JSON-lines protocol on stdin/stdout."""
    try:
        load_factory(impl)
    except SetupError as e:
        _usage(e)
    raise SystemExit(serve_json_lines(impl))


# ---------------------------------------------------------------- tlc


def shipped_tlc_cfgs(wanted: list[str] | None) -> list[str]:
    """The .cfg file of each shipped configuration named (all by default)."""
    index = tla.load_index()
    try:
        return [e["cfg"] for e in tlc_runner.select(index, wanted)]
    except ValueError:
        known = {Path(e["cfg"]).stem for e in index}
        unknown = [w for w in wanted if Path(w).stem not in known]
        raise click.UsageError(f"not a shipped configuration: {', '.join(unknown)}; "
                               f"spec/ ships {', '.join(Path(e['cfg']).stem for e in index)}"
                               ) from None


@main.command()
@click.option("--cfg", "cfgs", multiple=True, help="a .cfg in spec/ (default: every shipped one)")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="TLC worker threads (1 keeps its search breadth-first, so its "
                   "counterexample is a shortest one)")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True),
              help="seconds per TLC run")
def tlc(cfgs, workers, timeout):
    """Run TLC on the TLA+ spec and compare with the explorer, configuration by configuration."""
    picked = shipped_tlc_cfgs(list(cfgs) or None)
    agree = errors = 0
    for cfg_file in picked:
        try:
            (r,) = tlc_runner.run_shipped([cfg_file], workers=workers, timeout=timeout)
        except (tlc_runner.TlcNotFound, tlc_runner.TlcError) as e:
            click.echo(str(e), err=True)
            raise SystemExit(Exit.TOOL) from None
        click.echo(r)
        agree += r.ok
        errors += r.tlc.outcome.verdict == "error"
    click.echo(f"tlc: {agree} of {len(picked)} configurations agree with the explorer")
    if errors:
        raise SystemExit(Exit.TOOL)
    raise SystemExit(Exit.OK if agree == len(picked) else Exit.VIOLATION)


# ---------------------------------------------------------------- check


@main.command()
@click.option("--seed", type=int)
@click.option("--examples", default=200, show_default=True, type=click.IntRange(min=1))
def check(seed, examples):
    """The main job: prove, explore and conform on the default configurations."""
    s = _seed(seed)
    rows: list[list[str]] = []
    try:
        ok = _check_rows(s, examples, rows)
    except KeyboardInterrupt:
        click.echo("")
        click.echo(report.table(rows, ["check", "verdict", "time"]))
        raise
    click.echo("")
    click.echo(report.table(rows, ["check", "verdict", "time"]))
    raise SystemExit(Exit.OK if ok else Exit.VIOLATION)


def _check_rows(seed, examples, rows) -> bool:
    ok = True

    def row(what, status: Exit, good: str, t: float):
        nonlocal ok
        ok &= status == Exit.OK
        verdict = good if status == Exit.OK else status.name
        rows.append([what, verdict, f"{time.perf_counter() - t:.1f}s"])

    t = time.perf_counter()
    row("prove: Z3 induction + BMC depth 6 [whole]",
        run_prove(PRESETS["whole"], bmc_depth=6), "holds", t)
    for name in ("accounting", "hierarchy", "destruction-kmem", "destruction-2roots", "death"):
        t = time.perf_counter()
        r = run_explore(PRESETS[name], None)
        row(f"explore: {r.distinct} states [{name}]", explore_status(r), "holds", t)
    for name in ("destruction", "destruction-kmem", "race", "death"):
        t = time.perf_counter()
        row(f"interleave: implementation = model [{name}]",
            run_interleave(PRESETS[name]), "equal", t)
    t = time.perf_counter()
    status = run_conform(PRESETS["conformance"], None, seed, examples, 40, "eval",
                         impl_name="reference")
    row("conform: reference [conformance]", status, "conforms", t)
    return ok
