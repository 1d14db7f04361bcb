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
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import click
import z3

from kmemcg.conformance import coverage, granularity, machine, report
from kmemcg.conformance.adapters import REFERENCE, PythonAdapter, load_factory, pipe_factory
from kmemcg.conformance.calls import interruption_point, sticky_interrupts
from kmemcg.conformance.claims import Claim
from kmemcg.conformance.claims import resolve as resolve_kernel
from kmemcg.conformance.formats import graph as graph_format
from kmemcg.conformance.formats import itf as itf_format
from kmemcg.conformance.formats import picture as picture_format
from kmemcg.conformance.formats import progress as live
from kmemcg.conformance.formats import verdict
from kmemcg.conformance.formats.options import graph_option, outputs, picture_option
from kmemcg.conformance.formats.options import writable as _writable
from kmemcg.conformance.harness import Harness, Nonconformance
from kmemcg.conformance.interleave import describe_tries, explore_impl, reference, schedule_tries
from kmemcg.conformance.lasso import lasso
from kmemcg.conformance.mutants import MUTANTS
from kmemcg.conformance.protocol import ProtocolError, SetupError
from kmemcg.conformance.race import replay as replay_schedule
from kmemcg.conformance.serve import serve as serve_json_lines
from kmemcg.conformance.status import Exit
from kmemcg.model import explore as explorer
from kmemcg.model import prove as prover
from kmemcg.model import tla
from kmemcg.model import tlc as tlc_runner
from kmemcg.model.background import Background
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
            # the interrupt may have landed inside a library object's __init__ (Z3's
            # AstRef, say): its finaliser then fails at teardown, which is no news
            sys.unraisablehook = lambda unraisable: None
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
    verdict.note_seed(s)
    return s


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


def _draw(path: str | None, pic, echo=click.echo) -> dict:
    """Draw a counterexample to ``path`` if asked; the files entry of the verdict."""
    if path is None:
        return {}
    try:
        picture_format.write(pic, path)
    except OSError as e:
        echo(f"cannot write the picture to {path}: {e}")
        return {}
    echo(f"picture of the interleaving written to {path}")
    return {"picture": path}


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
    echo(f"prove [{cfg.name}]: {len(MODEL.scope(cfg))} actions x {len(MODEL.invariants)} "
         f"invariants by induction" + (f", BMC to depth {bmc_depth} beside it" if bmc_depth
                                       else ""))
    # --bmc 0 starts no worker at all
    with Background(prover.bmc, cfg, bmc_depth) if bmc_depth else nullcontext() as pending:
        return _proved(cfg, prover.prove(cfg), pending, echo)


def _proved(cfg: Config, r, pending, echo) -> Exit:
    """Report the induction, then the BMC that ran beside it (``pending``)."""
    ok = r.ok
    failed = [f"{o.action} does not preserve {o.invariant}" for o in r.failed]
    verdict.record("prove", f"prove: Z3 induction [{cfg.name}]", Exit.OK if ok else Exit.VIOLATION,
                   r.seconds, "holds" if ok else "FAILED", config=cfg.name, profile=cfg.profile,
                   message="; ".join(failed + [f"Init violates {i}" for i in
                                               r.init_violations]) or None,
                   counts={"obligations": len(r.obligations), "failed": len(r.failed),
                           "by_frame": len(r.by_frame), "solver_queries": r.queries})
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
    if pending is not None:
        b = pending.result(between=interruption_point)
        bmc_depth = b.depth
        bmc_status = Exit.INCOMPLETE if b.unknown else Exit.OK if b.ok else Exit.VIOLATION
        trace = [explorer.Step(a, args, 0, st) for (a, args), st in b.trace] if not b.ok else []
        verdict.record("bmc", f"bmc: depth {bmc_depth} [{cfg.name}]", bmc_status, b.seconds,
                       bmc_status.name.lower(), config=cfg.name, profile=cfg.profile,
                       message=b.unknown or b.violation, counts={"depth": bmc_depth},
                       counterexample=verdict.model_trace(cfg, trace, b.violation)
                       if trace else None)
        if b.unknown:
            echo(f"bmc: depth {bmc_depth}, NO VERDICT: Z3 could not decide {b.unknown}, "
                 f"{b.seconds:.2f}s")
            return Exit.INCOMPLETE
        echo(f"bmc: depth {bmc_depth}, {'no violation' if b.ok else 'VIOLATION ' + b.violation}, "
             f"{b.seconds:.2f}s")
        if not b.ok:
            echo(report.render_model_trace(cfg, trace, b.violation))
        ok = ok and b.ok
    return Exit.OK if ok else Exit.VIOLATION


@main.command()
@outputs
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


def run_explore(cfg: Config, max_states, itf=None, echo=click.echo, symmetry=False,
                picture=None):
    seen = {"states": 0, "queue": 0}
    t0 = time.perf_counter()

    def progress(n, queue):
        seen.update(states=n, queue=queue)
        line.states(n, queue)
        if n % 20000 == 0:
            echo(f"  ... {n} distinct states, {queue} on the queue", err=True)

    try:
        with live.shown(f"explore [{cfg.name}]") as line:
            r = explorer.explore(cfg, max_states=max_states, progress=progress,
                                 symmetry=symmetry, progress_every=500 if line.enabled else 20000)
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
    counterexample = found = drawn = None
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
        counterexample = itf_format.trace(cfg, steps, prop, loop)
        found = verdict.model_trace(cfg, steps, prop, loop)
        drawn = (steps, prop)
    if r.violation:
        echo(f"shortest counterexample ({len(r.trace) - 1} steps):")
        echo(report.render_model_trace(cfg, r.trace, r.violation))
        counterexample = itf_format.trace(cfg, r.trace, r.violation)
        found = verdict.model_trace(cfg, r.trace, r.violation)
        drawn = (r.trace, r.violation)
    if itf and counterexample is None:
        echo(f"no counterexample: nothing written to {itf}")
    elif itf and _write(itf, counterexample, "ITF trace", echo):
        shape = (f", a lasso whose loop starts at state {counterexample['loop']}"
                 if "loop" in counterexample else "")
        echo(f"ITF trace written to {itf}{shape}")
    files = {"itf": itf} if itf and counterexample is not None else {}
    if picture and drawn is None:
        echo(f"no counterexample: nothing drawn to {picture}")
    elif picture:
        files |= _draw(picture, picture_format.from_model_trace(
            cfg, *drawn, f"explore [{cfg.name}, profile {cfg.profile}]"), echo)
    verdict.record("explore", f"explore [{cfg.name}]", explore_status(r), r.seconds, status,
                   config=cfg.name, profile=cfg.profile,
                   message=r.violation or (r.liveness[0][0] if r.liveness else None),
                   counts={"distinct_states": r.distinct, "generated": r.generated,
                           "depth": r.depth, "edges": r.graph.number_of_edges(),
                           "deadlocks": r.deadlocks, "complete": r.complete},
                   counterexample=found, files=files)
    return r


@main.command()
@outputs
@config_option
@profile_option
@click.option("--max-states", type=click.IntRange(min=1), default=None,
              help="stop after this many states (the verdict is then incomplete)")
@click.option("--itf", type=click.Path(dir_okay=False), callback=_writable,
              help="write a counterexample (a lasso for liveness) as ITF JSON")
@click.option("--list-profiles", is_flag=True, help="list the named profiles and exit")
@graph_option
@picture_option
@click.option("--symmetry", is_flag=True,
              help="identify states that differ only by a permutation of identical root "
                   "caches (scopes with root caches; safety only, as TLC's SYMMETRY)")
def explore(config_path, profile, max_states, itf, list_profiles, graph, picture, symmetry):
    """Breadth-first search of every reachable state of a small configuration."""
    if list_profiles:
        for name, preset, what in all_profiles():
            click.echo(f"{name}\t{preset}\t{what}")
        return
    cfg = _config(config_path, profile)
    if symmetry and not cfg.roots:
        raise click.UsageError(f"--symmetry permutes root caches; {cfg.name!r} has none, "
                               f"so there is no symmetry to use")
    r = run_explore(cfg, max_states, itf, symmetry=symmetry, picture=picture)
    if graph:
        nodes, edges = graph_format.write(cfg, r, graph)
        click.echo(f"state graph written to {graph}: {nodes} states, {edges} edges")
    raise SystemExit(explore_status(r))


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
        make()  # set up once now: what cannot be set up is a usage error
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
                database=None, scenarios=True, budget=None) -> Exit:
    if oracle == "z3":
        z3_leaves_ctrl_c_to_python()
    with live.shown(f"conform [{impl_name}]") as shown:
        stats, cov = coverage.conform(cfg, make_impl or reference(cfg), seed_value=seed,
                                      examples=examples, steps=steps, oracle=oracle,
                                      scenarios=scenarios, budget=budget, claim=claim,
                                      database=database,
                                      progress=lambda runs, n: shown.runs(runs, n, examples))
    rate = stats.steps / stats.seconds if stats.seconds else 0.0
    counts = (f"{stats.ops} operations, {stats.steps} steps checked ({oracle} oracle), "
              f"{stats.seconds:.2f}s ({rate:,.0f} steps/s)")
    runs = f"{examples} runs" + (f" on each of {stats.seeds} seeds ({seed}-{seed + stats.seeds - 1})"
                                 if stats.seeds > 1 else "")
    if scenarios:
        runs = f"{stats.scenarios} model scenarios + {runs}"
    files = {}
    if stats.failure is None and not stats.interrupted:
        echo(f"conform [{impl_name}]: {runs}, {counts}: conforms")
        _warnings(claim, stats.warnings, echo)
    elif stats.failure is None:
        echo(f"conform [{impl_name}]: INTERRUPTED: {counts} in the runs completed; no "
             f"nonconformance found so far")
    else:
        when = " (found before Ctrl-C, perhaps not fully shrunk)" if stats.interrupted else ""
        echo(f"conform [{impl_name}]: NONCONFORMANCE{when} after {stats.seconds:.2f}s")
        if stats.killed_by:  # the outcome whose scenario showed it: seed-independent
            echo(f"found by the model's scenario for: {stats.killed_by}")
        echo(report.render_conformance_failure(stats.failure))
        if save:
            failure = {"check": stats.failure.check, "message": stats.failure.message}
            data = report.replay_data(cfg, seed, failure, ops=stats.failing_ops, impl=impl,
                                      pipe=pipe, timeout=timeout, kernel=claim and claim.kernel)
            if _write(save, data, "replay file", echo):
                echo(f"replay file written to {save}  (kmemcg replay {save})")
                files["replay"] = save
    status = Exit.OK if stats.failure is None else Exit.VIOLATION
    verdict.record("conform", f"conform [{impl_name}] [{cfg.name}]",
                   Exit.INTERRUPTED if stats.interrupted and not stats.failure else status,
                   stats.seconds, "conforms" if status == Exit.OK else "NONCONFORMANCE",
                   config=cfg.name, profile=cfg.profile,
                   message=stats.failure and f"[{stats.failure.check}] {stats.failure.message}",
                   counts={"runs": examples, "operations": stats.ops,
                           "steps_checked": stats.steps, "oracle": oracle,
                           "shrunk_operations": len(stats.failing_ops),
                           "known_bug_warnings": len(stats.warnings)},
                   counterexample=stats.failure and verdict.operations(stats.failure),
                   files=files)
    for line in cov.lines():
        echo(line)
    if stats.interrupted:
        raise KeyboardInterrupt
    return status


@main.command()
@outputs
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
@picture_option
@click.option("--cover", is_flag=True,
              help="keep generating runs (on the next seeds) until every outcome the model "
                   "reaches is covered, or --budget is spent; print what stayed uncovered")
@click.option("--budget", type=click.FloatRange(min=0), default=60.0, show_default=True,
              help="seconds --cover may spend after the first runs")
@click.option("--scenarios/--no-scenarios", default=True, show_default=True,
              help="replay the model's shortest scenario to each outcome before the random "
                   "runs (for the race machine, the explorer's trace as tries)")
def conform(config_path, impl, pipe, seed, examples, steps, oracle, timeout, race, profile,
            kernel, save, database, picture, cover, budget, scenarios):
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
        if picture:
            raise click.UsageError("--picture draws an interleaving: the race machine's "
                                   "(--race); the sequential machine runs whole operations "
                                   "one after another")
    # an implementation of whole operations is raced too, an operation at a time
    # (its serial runs: conformance/sequential.py)
    make = _started(cfg, impl, pipe, timeout, "race" if race else "conform")
    s = _seed(seed)
    budget = budget if cover else None
    if race:
        raise SystemExit(run_race(cfg, s, 1000 if examples is None else examples,
                                  60 if steps is None else steps, save, make=make, impl=impl,
                                  pipe=pipe, timeout=timeout, claim=claim, database=database,
                                  picture=picture, budget=budget, scenarios=scenarios))
    raise SystemExit(run_conform(cfg, make, s, 200 if examples is None else examples,
                                 40 if steps is None else steps, oracle, save,
                                 pipe or impl or "reference", impl=impl, pipe=pipe,
                                 timeout=timeout, claim=claim, database=database,
                                 scenarios=scenarios, budget=budget))


def run_race(cfg, seed, examples, steps, save=None, echo=click.echo, make=None, impl=None,
             pipe=None, timeout=None, claim=None, database=None, picture=None,
             budget=None, scenarios=True) -> Exit:
    with live.shown(f"race [{cfg.name}]") as shown:
        st, cov = coverage.race(cfg, make or reference(cfg), seed_value=seed,
                                examples=examples, steps=steps, budget=budget, claim=claim,
                                database=database, scenarios=scenarios,
                                progress=lambda runs, n: shown.runs(runs, n, examples))
    rate = st.steps / st.seconds if st.seconds else 0.0
    head = f"race [{cfg.name}, profile {cfg.profile}]"
    runs = f"{examples} runs"
    if scenarios:
        runs = f"{_race_scenarios(st)} + {runs}"
    try:
        return _race_verdict(cfg, st, head, rate, runs, seed, save, echo, make, impl,
                             pipe, timeout, claim, picture, examples)
    finally:  # what the run exercised, after its verdict
        for line in cov.lines():
            echo(line)


def _race_scenarios(st) -> str:
    """How many of the model's scenarios ran, fitted the implementation, and
    had no schedule of tries."""
    fitted = st.scenarios - st.unfit
    skipped = f", {st.unfit} skipped: they do not fit the implementation" if st.unfit else ""
    lost = f", {st.untranslated} with no schedule of tries" if st.untranslated else ""
    return f"{st.scenarios} model scenarios ({fitted} fitted{skipped}{lost})"


def _race_verdict(cfg, st, head, rate, runs, seed, save, echo, make, impl, pipe, timeout,
                  claim, picture, examples) -> Exit:
    def record(status, found=None, files=None):
        verdict.record("race", head, status, st.seconds,
                       "conforms" if status == Exit.OK else status.name, config=cfg.name,
                       profile=cfg.profile, message=st.failure and st.failure.message,
                       counts={"runs": examples, "steps_checked": st.steps,
                               "tries": len(st.schedule),
                               "known_bug_warnings": len(st.warnings)},
                       counterexample=found, files=files or {})

    if st.failure is None:
        record(Exit.INTERRUPTED if st.interrupted else Exit.OK)
        if st.interrupted:
            raise KeyboardInterrupt
        echo(f"{head}: {runs}, {st.steps} steps checked, {st.seconds:.2f}s "
             f"({rate:,.0f} steps/s): conforms")
        _warnings(claim, st.warnings, echo)
        return Exit.OK
    when = " (before Ctrl-C, not minimised)" if st.interrupted else ""
    echo(f"{head}: FOUND{when} after {st.seconds:.2f}s: {st.failure.message}")
    if st.killed_by:  # the outcome whose scenario showed it: seed-independent
        echo(f"found by the model's scenario for: {st.killed_by}")
    echo(f"shrunk schedule ({len(st.schedule)} tries):")
    tries = schedule_tries(cfg, st.schedule, make)
    for line in describe_tries(tries):
        echo(f"  {line}")
    files = {}
    if save:
        data = report.replay_data(cfg, seed, {"check": "race", "message": st.failure.message},
                                  schedule=st.schedule, impl=impl, pipe=pipe, timeout=timeout,
                                  kernel=claim and claim.kernel)
        if _write(save, data, "replay file", echo):
            echo(f"replay file written to {save}  (kmemcg replay {save})")
            files["replay"] = save
    files |= _draw(picture, picture_format.from_tries(tries, st.failure.message, head), echo)
    record(Exit.VIOLATION, verdict.schedule(tries, st.failure.message), files)
    if st.interrupted:
        raise KeyboardInterrupt
    return Exit.VIOLATION


# ---------------------------------------------------------------- interleave


@main.command()
@outputs
@config_option
@profile_option
@kernel_option
@impl_option
@pipe_option
@timeout_option
@picture_option
@click.option("--save", type=click.Path(dir_okay=False), default=None, callback=_writable,
              help="write a violation's replay file here: its tries, which kmemcg replay "
                   "re-runs [default: none]")
def interleave(config_path, profile, kernel, impl, pipe, timeout, picture, save):
    """Every interleaving on the implementation; its states must equal the model's
    (under --kernel, the model's with the states its known bugs break pruned)."""
    cfg, claim = _claimed(_config(config_path, profile, PRESETS["destruction"]), kernel, profile)
    # an implementation of whole operations is interleaved too, an operation at a
    # time (conformance/sequential.py)
    make = _started(cfg, impl, pipe, timeout, "interleave")
    raise SystemExit(run_interleave(cfg, make, claim=claim, picture=picture,
                                    save=save and {"path": save, "impl": impl, "pipe": pipe,
                                                   "timeout": timeout}))


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


def run_interleave(cfg, make=None, echo=click.echo, claim=None, picture=None,
                   save=None) -> Exit:
    """The implementation's interleavings (``make``; None: the reference)
    against the model's states; a violation's tries are written to
    ``save["path"]``, if given, as a replay file."""
    cov = coverage.for_steps(cfg)
    with live.shown(f"interleave [{cfg.name}]") as shown:
        r = explore_impl(cfg, make=make, claim=claim, coverage=cov,
                         progress=shown.states if shown.enabled else None)
    head = f"interleave [{cfg.name}, profile {cfg.profile}]"
    if r.whole:
        cov.of_whole_operations()
    try:
        return _interleave_verdict(cfg, r, head, make, claim, picture, echo, save)
    finally:  # what the run exercised, after its verdict
        for line in cov.lines():
            echo(line)


def _interleave_verdict(cfg, r, head, make, claim, picture, echo, save=None) -> Exit:
    def record(status, found=None, files=None, text=None, grain=None, **counts):
        verdict.record("interleave", head, status, r.seconds,
                       text or {Exit.OK: "equal", Exit.VIOLATION: "DIFFERENT"}.get(
                           status, status.name) if not r.problem else "VIOLATION",
                       config=cfg.name, profile=cfg.profile,
                       message=r.problem or (_different(grain) if grain is not None
                                             and not grain.ok else None),
                       counterexample=found, files=files or {},
                       granularity=grain and granularity.to_json(cfg, grain),
                       counts={"implementation_states": len(r.states), "steps_checked": r.steps,
                               "known_bug_warnings": len(r.warnings), **counts})

    if r.problem:
        echo(f"{head}: the implementation reaches {r.problem} after {len(r.trace)} steps "
             f"({r.steps} steps checked, {r.seconds:.2f}s)")
        tries = schedule_tries(cfg, r.trace, make)
        for line in describe_tries(tries):
            echo(f"  {line}")
        files = {}
        if save:
            data = report.replay_data(cfg, None, {"check": "interleave", "message": r.problem},
                                      schedule=r.trace, impl=save["impl"], pipe=save["pipe"],
                                      timeout=save["timeout"], kernel=claim and claim.kernel)
            if _write(save["path"], data, "replay file", echo):
                echo(f"replay file written to {save['path']}  (kmemcg replay {save['path']})")
                files["replay"] = save["path"]
        files |= _draw(picture, picture_format.from_tries(tries, r.problem, head), echo)
        record(Exit.VIOLATION, verdict.schedule(tries, r.problem), files)
        return Exit.VIOLATION
    try:
        stopped = _interleave_stopped(r, head, echo)
    except KeyboardInterrupt:
        record(Exit.INTERRUPTED)
        raise
    if stopped is not None:
        record(stopped)
        return stopped
    g = granularity.judge(cfg, r.states, r.splits, claim, between_operations=r.whole)
    pruned = f" ({g.broken} broken by known bugs, not expanded)" if claim else ""
    between = " between whole operations" if r.whole else ""
    restored = f", {r.restored} tries from a checkpoint" if r.restored else ""
    echo(f"{head}: implementation {g.implementation_states} abstract states{between}, model "
         f"{g.model_states}{pruned}: {g.verdict}; {r.steps} steps checked{restored}, "
         f"{r.seconds:.2f}s")
    _warnings(claim, r.warnings, echo)
    for line in granularity.lines(cfg, g):
        echo(line)
    status = Exit.OK if g.ok else Exit.VIOLATION
    record(status, text=g.verdict, grain=g, **g.counts())
    if r.lock_orders is None:
        echo("lock order: not recorded by this implementation (only the reference reports "
             "its locks to lockdep)")
    else:
        echo("lock order (lockdep): "
             + (", ".join(f"{a} -> {b}" for a, b in r.lock_orders) or "no nested locks")
             + "; no cycle")
    return status


def _different(g) -> str:
    """Why an interleaving's states are DIFFERENT, in one line."""
    if g.outside:
        return f"{len(g.outside)} states outside the model"
    return (f"{len(g.missing)} states of the model restricted to the runs the implementation "
            f"allows never reached")


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
        with live.shown("mutants", total=1 + len(MUTANTS)) as line:
            ok = _mutant_rows(cfg, seed, examples, steps, rows, timeout, line)
    except KeyboardInterrupt:
        echo(report.table(rows, header))
        echo(f"interrupted after {len(rows)} of {1 + len(MUTANTS)} rows")
        raise
    echo(report.table(rows, header))
    return Exit.OK if ok else Exit.VIOLATION


def _mutant_rows(cfg, seed, examples, steps, rows, timeout, line) -> bool:
    sequential = machine.fits(cfg)

    def machine_run(make, **kw):
        st, _ = coverage.conform(cfg, make, seed_value=seed, examples=examples, steps=steps,
                                 **kw)
        if st.interrupted:
            raise KeyboardInterrupt
        return st

    ok = True
    line.item("(reference)")
    if sequential:
        ref = machine_run(reference(cfg))
        ok = ref.failure is None
        rows.append(["(reference)", "passes" if ok else "FAILS", "-", f"{ref.seconds:.1f}s",
                     "-"])
        verdict.record("mutant", "(reference)", Exit.OK if ok else Exit.VIOLATION, ref.seconds,
                       rows[-1][1], config=cfg.name,
                       message=ref.failure and f"[{ref.failure.check}] {ref.failure.message}")
    line.done()
    for m in MUTANTS.values():
        if m.machine is None and not sequential and not PRESETS[m.interleave].roots:
            continue  # a charge-path or death race: cfg is a configuration with root caches
        if m.machine is not None and not sequential:
            continue
        if m.needs and not sequential and not getattr(cfg, m.needs):
            continue  # cfg leaves the bug's site out of its scope
        line.item(m.name)
        t = time.perf_counter()
        check = None
        if m.machine is not None:
            st = machine_run(lambda m=m: PythonAdapter(m.kernel.for_config(cfg), name=m.name,
                                                       timeout=timeout), shrink_seconds=10)
            check = st.failure.check if st.failure else None
            if st.killed_by:  # seed-independent: the model's scenario for that outcome
                check += f" (scenario: {st.killed_by})"
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
        verdict.record("mutant", m.name, Exit.OK if check else Exit.VIOLATION,
                       time.perf_counter() - t, rows[-1][1], config=cfg.name,
                       message=None if check else f"survived: {m.bug}",
                       counts={"by_check": check})
        line.done()
    return ok


@main.command()
@outputs
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
@outputs
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@impl_option
@click.option("--pipe", callback=_pipe,
              help="replay over the JSON-lines pipe against this command (default: the one "
                   "the file was recorded with, if any)")
@timeout_option
@picture_option
def replay(file, impl, pipe, timeout, picture):
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
        raise SystemExit(_replay_schedule(file, data, cfg, make, claim, picture))
    if picture:
        raise click.UsageError(f"--picture draws an interleaving; {file} holds operations run "
                               f"one after another (the race machine's files hold one)")
    try:
        ops = report.check_ops(cfg, data["ops"])
    except ValueError as e:
        raise click.UsageError(f"{file}: not a valid operation list: {e}") from None
    make = _started(cfg, impl, pipe, timeout, "replay") or reference(cfg)
    adapter = make()
    recorded = data.get("failure") or {}
    done, t0 = 0, time.perf_counter()
    cov = coverage.Coverage(cfg)
    try:
        h = Harness(adapter, cfg, claim=claim, coverage=cov)
        for op, args in ops:
            h.run(op, args)
            done += 1
    except Nonconformance as e:
        click.echo(cov.exercised())
        click.echo(report.render_conformance_failure(e))
        verdict.record("replay", f"replay {file}", Exit.VIOLATION, time.perf_counter() - t0,
                       "NONCONFORMANCE", config=cfg.name, profile=cfg.profile,
                       message=f"[{e.check}] {e.message}", counts={"operations": len(ops)},
                       counterexample=verdict.operations(e))
        raise SystemExit(Exit.VIOLATION) from None
    except KeyboardInterrupt:
        click.echo(f"replay: INTERRUPTED after {done} of {len(ops)} operations; no "
                   f"nonconformance so far")
        raise
    finally:
        adapter.close()
    note = (f" (the file recorded [{recorded.get('check')}] {recorded.get('message')}: not "
            f"reproduced here)" if recorded else "")
    click.echo(cov.exercised())
    click.echo(f"replay: {len(ops)} operations, {h.steps_checked} steps: conforms{note}")
    verdict.record("replay", f"replay {file}", Exit.OK, time.perf_counter() - t0, "conforms",
                   config=cfg.name, profile=cfg.profile, message=note.strip() or None,
                   counts={"operations": len(ops), "steps_checked": h.steps_checked})
    raise SystemExit(Exit.OK)


def _positive(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and x > 0


def _replay_schedule(file, data, cfg, make, claim, picture=None) -> Exit:
    t0 = time.perf_counter()
    try:
        problem = replay_schedule(cfg, data["schedule"], make, claim)
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise click.UsageError(f"{file}: {e}") from None
    click.echo(f"replay: {len(data['schedule'])} tries: {problem or 'conforms'}")
    status = Exit.VIOLATION if problem else Exit.OK
    tries = schedule_tries(cfg, data["schedule"], make) if problem else []
    files = _draw(picture, picture_format.from_tries(tries, problem, f"replay {file}")) \
        if problem else {}
    if picture and not problem:
        click.echo(f"no failure reproduced: nothing drawn to {picture}")
    verdict.record("replay", f"replay {file}", status, time.perf_counter() - t0,
                   problem or "conforms", config=cfg.name, profile=cfg.profile,
                   message=problem, counts={"tries": len(data["schedule"])},
                   counterexample=verdict.schedule(tries, problem) if problem else None,
                   files=files)
    return status


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


def _tlc_one(cfg_file, workers, timeout, agree, errors) -> tuple[int, int]:
    """One shipped configuration through TLC and the explorer: the counts so far."""
    try:
        (r,) = tlc_runner.run_shipped([cfg_file], workers=workers, timeout=timeout)
    except (tlc_runner.TlcNotFound, tlc_runner.TlcError) as e:
        click.echo(str(e), err=True)
        raise SystemExit(Exit.TOOL) from None
    click.echo(r)
    failed = r.tlc.outcome.verdict == "error"
    verdict.record("tlc", r.name, Exit.OK if r.ok else Exit.TOOL if failed
                   else Exit.VIOLATION, r.tlc.seconds, "agrees" if r.ok else "DISAGREES",
                   config=r.name, message="; ".join(r.problems) or None,
                   counts={"tlc": r.tlc_verdict, "explorer": r.explorer_verdict,
                           "expected": r.expect, "tlc_distinct": r.tlc.outcome.distinct,
                           "explorer_distinct": r.explorer.distinct})
    return agree + r.ok, errors + failed


@main.command()
@outputs
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
    with live.shown("tlc", total=len(picked)) as line:
        for cfg_file in picked:
            line.item(Path(cfg_file).stem)
            agree, errors = _tlc_one(cfg_file, workers, timeout, agree, errors)
            line.done()
    click.echo(f"tlc: {agree} of {len(picked)} configurations agree with the explorer")
    if errors:
        raise SystemExit(Exit.TOOL)
    raise SystemExit(Exit.OK if agree == len(picked) else Exit.VIOLATION)


# ---------------------------------------------------------------- check


@main.command()
@outputs
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

    # conform's coverage search (the model's scenarios; some 25 s where it is not
    # cached yet) runs beside the checks before it, and conform reads what it stored
    with Background(coverage.warm, PRESETS["conformance"]):
        t = time.perf_counter()
        row("prove: Z3 induction + BMC depth 6 [whole]",
            run_prove(PRESETS["whole"], bmc_depth=6), "holds", t)
        for name in ("accounting", "hierarchy", "destruction-kmem", "destruction-2roots",
                     "death"):
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
