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
import time
from dataclasses import replace
from pathlib import Path

import click

from kmemcg.conformance import machine, report
from kmemcg.conformance.adapters import PipeAdapter, PythonAdapter
from kmemcg.conformance.calls import sticky_interrupts
from kmemcg.conformance.harness import Harness, Nonconformance
from kmemcg.conformance.interleave import describe
from kmemcg.conformance.mutants import DESTRUCTION_MUTANTS, MUTANTS
from kmemcg.conformance.protocol import ProtocolError, SetupError
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

REFERENCE = "kmemcg.impl.kernel:Kernel"
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


def caches_in_scope(cfg: Config) -> bool:
    """Whether ``cfg`` scopes root caches in: ``conform`` then runs the cache race
    machine (choices of the interleaver, whose faces include the slab paths)
    rather than the sequential machine over the adapter protocol, and
    ``mutants`` the destruction mutants on it."""
    return bool(cfg.roots)


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
    interrupted."""


# ---------------------------------------------------------------- prove


def z3_leaves_ctrl_c_to_python() -> None:
    """Z3 answers a Ctrl-C itself by cancelling the solve, and a cancelled solve
    reads as "no counterexample": an interrupted proof would pass. With Z3's
    handler off, Python raises KeyboardInterrupt as soon as Z3 returns."""
    import z3

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
        from kmemcg.conformance.lasso import lasso

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


def _make_impl(cfg: Config, impl: str | None, pipe: str | None, timeout: float):
    """``make()`` for the machine, tried once now: a factory or a command that
    cannot be set up is a usage error (SetupError); a program that starts but
    breaks the protocol at once is a verdict (ProtocolError, raised)."""
    if pipe is not None:
        def make():
            return PipeAdapter(pipe, cfg.tasks, timeout=timeout)
    else:
        spec = REFERENCE if impl is None else impl

        def make():
            return PythonAdapter.from_spec(spec, cfg.tasks, timeout=timeout)
    try:
        make().close()
    except SetupError as e:
        _usage(e)
    return make


def run_conform(cfg, make_impl, seed, examples, steps, oracle, save=None, impl_name="",
                echo=click.echo, race=False, pipe=None, timeout=None) -> Exit:
    if oracle == "z3":
        z3_leaves_ctrl_c_to_python()
    stats = machine.run(cfg, make_impl, seed_value=seed, examples=examples, steps=steps,
                        oracle=oracle, race=race)
    rate = stats.steps / stats.seconds if stats.seconds else 0.0
    counts = (f"{stats.ops} operations, {stats.steps} steps checked ({oracle} oracle), "
              f"{stats.seconds:.2f}s ({rate:,.0f} steps/s)")
    if stats.failure is None and not stats.interrupted:
        echo(f"conform [{impl_name}{', race' if race else ''}]: {examples} runs, {counts}: "
             f"conforms")
    elif stats.failure is None:
        echo(f"conform [{impl_name}]: INTERRUPTED: {counts} in the runs completed; no "
             f"nonconformance found so far")
    else:
        when = " (found before Ctrl-C, perhaps not fully shrunk)" if stats.interrupted else ""
        echo(f"conform [{impl_name}]: NONCONFORMANCE{when} after {stats.seconds:.2f}s")
        echo(report.render_conformance_failure(stats.failure))
        if save:
            data = report.replay_data(cfg, None if pipe else impl_name, seed, stats.failing_ops,
                                      stats.failure, pipe=pipe, timeout=timeout)
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
              help="Hypothesis runs [default: 200; 1000 for a destruction profile]")
@click.option("--steps", default=None, type=click.IntRange(min=1),
              help="rule steps per run [default: 40; 60 tries for a destruction profile]")
@click.option("--oracle", type=click.Choice(["eval", "z3"]), default="eval", show_default=True)
@timeout_option
@click.option("--race", is_flag=True, help="interleave operations' steps across threads")
@click.option("--profile", help="a destruction profile: run the destruction race machine on it")
@click.option("--save", type=click.Path(dir_okay=False), default="kmemcg-replay.json",
              show_default=True, callback=_writable,
              help="where to write the replay file of a failure")
def conform(config_path, impl, pipe, seed, examples, steps, oracle, timeout, race, profile,
            save):
    """Drive an implementation with the Hypothesis machine; check every step."""
    if impl is not None and pipe is not None:
        raise click.UsageError("give --impl or --pipe, not both")
    if profile or (config_path and caches_in_scope(_load(config_path))):
        cfg = _config(config_path, profile, PRESETS["destruction"])
        if not caches_in_scope(cfg):
            raise click.UsageError(
                f"conform --profile runs the cache race machine; {cfg.name!r} has no root "
                f"caches (its profiles: kmemcg explore/prove --profile, or kmemcg mutants)")
        if pipe is not None:
            raise click.UsageError("the destruction race machine drives Python "
                                   "implementations (--impl MOD:FACTORY), not a pipe")
        make = destruction_kernel(cfg, impl, timeout) if impl is not None else None
        raise SystemExit(run_destruction_race(
            cfg, _seed(seed), 1000 if examples is None else examples,
            60 if steps is None else steps, save, make=make, impl=impl, timeout=timeout))
    cfg = _machine_config(_config(config_path, None, PRESETS["conformance"]))
    name = pipe or impl or REFERENCE
    try:
        make = _make_impl(cfg, impl, pipe, timeout)
    except ProtocolError as e:
        click.echo(f"conform [{name}]: NONCONFORMANCE at start: the implementation broke the "
                   f"protocol: {e}")
        raise SystemExit(Exit.VIOLATION) from None
    s = _seed(seed)
    raise SystemExit(run_conform(cfg, make, s, 200 if examples is None else examples,
                                 40 if steps is None else steps, oracle, save, name, race=race,
                                 pipe=pipe, timeout=timeout))


def run_destruction_race(cfg, seed, examples, steps, save=None, echo=click.echo,
                         make=None, impl=None, timeout=None) -> Exit:
    from kmemcg.conformance import race_destruction

    st = race_destruction.run(cfg, seed_value=seed, examples=examples, steps=steps, make=make,
                              timeout=timeout)
    rate = st.steps / st.seconds if st.seconds else 0.0
    head = f"race [{cfg.name}, profile {cfg.profile}]"
    if st.failure is None:
        if st.interrupted:
            echo(f"{head}: INTERRUPTED after {st.seconds:.2f}s: {st.steps} steps checked; "
                 f"no race found so far")
            raise KeyboardInterrupt
        echo(f"{head}: {examples} runs, {st.steps} steps checked, {st.seconds:.2f}s "
             f"({rate:,.0f} steps/s): conforms")
        return Exit.OK
    when = " (before Ctrl-C, not minimised)" if st.interrupted else ""
    echo(f"{head}: FOUND{when} after {st.seconds:.2f}s: {st.failure.message}")
    echo(f"shrunk schedule ({len(st.schedule)} tries):")
    for line in describe(cfg, st.schedule, make, timeout):
        echo(f"  {line}")
    if save:
        data = report.schedule_data(cfg, seed, st.schedule, st.failure.message, impl)
        if _write(save, data, "replay file", echo):
            echo(f"replay file written to {save}  (kmemcg replay {save})")
    if st.interrupted:
        raise KeyboardInterrupt
    return Exit.VIOLATION


def destruction_kernel(cfg: Config, impl: str | None, timeout: float | None = None):
    """``make()`` for the interleaver and the race machine: the reference, or
    ``--impl MOD:FACTORY`` called with the configuration (checked once here, so a bad
    spec is a usage error, not a failure found later)."""
    from kmemcg.conformance.interleave import kernel_factory

    try:
        factory = kernel_factory(impl, timeout)
        factory(cfg)
    except ProtocolError as e:
        _usage(e)
    return lambda: factory(cfg)


# ---------------------------------------------------------------- interleave


@main.command()
@config_option
@profile_option
@click.option("--impl", help="MOD:FACTORY of a Python implementation (default: the reference); "
                             "FACTORY(config) returns a kernel shaped like "
                             "kmemcg.impl.kernel.Kernel (e.g. kmemcg.impl.kernel:Kernel.for_config)")
@timeout_option
def interleave(config_path, profile, impl, timeout):
    """Every interleaving on the implementation; its states must equal the model's."""
    from kmemcg.conformance.interleave import explore_impl

    cfg = _config(config_path, profile, PRESETS["destruction"])
    make = destruction_kernel(cfg, impl, timeout) if impl is not None else None
    raise SystemExit(run_interleave(
        cfg, lambda c: explore_impl(c, make=make, timeout=timeout), make=make, timeout=timeout))


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


def run_interleave(cfg, explore_impl, echo=click.echo, make=None, timeout=None) -> Exit:
    r = explore_impl(cfg)
    head = f"interleave [{cfg.name}, profile {cfg.profile}]"
    if r.problem:
        echo(f"{head}: the implementation reaches {r.problem} after {len(r.trace)} steps "
             f"({r.steps} steps checked, {r.seconds:.2f}s)")
        for line in describe(cfg, r.trace, make, timeout):
            echo(f"  {line}")
        return Exit.VIOLATION
    stopped = _interleave_stopped(r, head, echo)
    if stopped is not None:
        return stopped
    model_states = set(explorer.explore(cfg, graph=False).states)
    same = r.states == model_states
    echo(f"{head}: implementation {len(r.states)} abstract states, model {len(model_states)}: "
         f"{'equal' if same else 'DIFFERENT'}; {r.steps} steps checked, {r.seconds:.2f}s")
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
    """The Hypothesis machine first; a survivor then meets every interleaving of
    the race configuration. The destruction mutants meet every interleaving of
    ``destruction-kmem``, or of ``cfg`` when it is a destruction configuration
    (which then runs them alone). Ctrl-C prints the rows so far."""
    rows: list[list[str]] = []
    try:
        ok = _mutant_rows(cfg, seed, examples, steps, rows, timeout)
    except KeyboardInterrupt:
        echo(report.table(rows, ["mutant", "verdict", "by check", "time to kill", "bug"]))
        echo(f"interrupted after {len(rows)} of {1 + len(MUTANTS) + len(DESTRUCTION_MUTANTS)} "
             f"rows")
        raise
    echo(report.table(rows, ["mutant", "verdict", "by check", "time to kill", "bug"]))
    return Exit.OK if ok else Exit.VIOLATION


def _mutant_rows(cfg, seed, examples, steps, rows, timeout) -> bool:
    from kmemcg.conformance.interleave import explore_impl

    def machine_run(make, **kw):
        st = machine.run(cfg, make, seed_value=seed, examples=examples, steps=steps, **kw)
        if st.interrupted:
            raise KeyboardInterrupt
        return st

    ok = True
    if not caches_in_scope(cfg):
        ref = machine_run(lambda: PythonAdapter.from_spec(REFERENCE, cfg.tasks, timeout))
        ok = ref.failure is None
        rows.append(["(reference)", "passes" if ok else "FAILS", "-", f"{ref.seconds:.1f}s",
                     "-"])
        for name, (factory, what) in MUTANTS.items():
            def make(factory=factory, name=name):
                return PythonAdapter(factory(tasks=cfg.tasks), name=name, timeout=timeout)

            st = machine_run(make, shrink_seconds=10)
            check, seconds = (st.failure.check if st.failure else None), st.seconds
            if check is None:
                race = PRESETS["race"]
                t = time.perf_counter()
                r = explore_impl(race, make=lambda f=factory, c=race: f.for_config(c),
                                 timeout=timeout)
                if r.interrupted:
                    raise KeyboardInterrupt
                seconds += time.perf_counter() - t
                if r.problem:
                    check = "interleave " + r.problem.split("]")[0].lstrip("[")
            ok &= check is not None
            rows.append([name, "killed" if check else "SURVIVED", check or "-",
                         f"{seconds:.1f}s", what])
    slab = cfg if caches_in_scope(cfg) else PRESETS["destruction-kmem"]
    for name, (factory, what) in DESTRUCTION_MUTANTS.items():
        t = time.perf_counter()
        r = explore_impl(slab, make=lambda f=factory: f(slab), timeout=timeout)
        if r.interrupted:
            raise KeyboardInterrupt
        killed = r.problem is not None
        ok &= killed
        rows.append([name, "killed" if killed else "SURVIVED",
                     f"interleave {slab.name}" if killed else "-",
                     f"{time.perf_counter() - t:.1f}s", what])
    return ok


@main.command()
@click.option("--config", "config_path",
              help="an accounting configuration for the Hypothesis machine (the destruction "
                   "mutants then meet destruction-kmem), or a destruction one for the "
                   "destruction mutants alone")
@click.option("--seed", type=int)
@click.option("--examples", default=500, show_default=True, type=click.IntRange(min=1))
@click.option("--steps", default=40, show_default=True, type=click.IntRange(min=1))
@timeout_option
def mutants(config_path, seed, examples, steps, timeout):
    """Run the suite against every mutant; exit 0 only if all are killed."""
    cfg = _config(config_path, None, PRESETS["conformance"])
    if not caches_in_scope(cfg):
        _machine_config(cfg)
    raise SystemExit(run_mutants(cfg, _seed(seed), examples, steps, timeout=timeout))


# ---------------------------------------------------------------- replay


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--impl", help="replay against another implementation (MOD:FACTORY)")
@click.option("--pipe", callback=_pipe,
              help="replay over the JSON-lines pipe against this command (default: the one "
                   "the file was recorded with, if any)")
@timeout_option
def replay(file, impl, pipe, timeout):
    """Re-run a saved failing operation sequence, step by step."""
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
    if "schedule" in data:
        raise SystemExit(_replay_schedule(file, data, cfg, impl, pipe, timeout))
    try:
        ops = report.check_ops(cfg, data["ops"])
    except ValueError as e:
        raise click.UsageError(f"{file}: not a valid operation list: {e}") from None
    if pipe is None and impl is None and data.get("pipe"):
        pipe = data["pipe"]
    source = click.get_current_context().get_parameter_source("timeout")
    if source == click.core.ParameterSource.DEFAULT and _positive(data.get("timeout")):
        timeout = data["timeout"]  # the limit the failure was found with
    spec = impl or data.get("impl") or REFERENCE
    try:
        adapter = (PipeAdapter(pipe, cfg.tasks, timeout=timeout) if pipe is not None
                   else PythonAdapter.from_spec(spec, cfg.tasks, timeout))
    except SetupError as e:
        _usage(e)
    except ProtocolError as e:
        click.echo(f"replay: the implementation broke the protocol at start: {e}")
        raise SystemExit(Exit.VIOLATION) from None
    recorded = data.get("failure") or {}
    done = 0
    try:
        h = Harness(adapter, cfg)
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


def _replay_schedule(file, data, cfg, impl, pipe, timeout) -> Exit:
    from kmemcg.conformance import race_destruction

    if pipe is not None:
        raise click.UsageError("a destruction schedule replays on a Python implementation "
                               "(--impl MOD:FACTORY), not a pipe")
    spec = impl or data["impl"]
    if spec == "kmemcg.impl.slab:SlabKernel.for_config":  # the reference, before issue 8
        spec = "kmemcg.impl.kernel:Kernel.for_config"
    make = destruction_kernel(cfg, spec, timeout)
    try:
        problem = race_destruction.replay(cfg, data["schedule"], make, timeout)
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise click.UsageError(f"{file}: {e}") from None
    click.echo(f"replay: {len(data['schedule'])} tries: {problem or 'conforms'}")
    return Exit.VIOLATION if problem else Exit.OK


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
    from kmemcg.conformance.interleave import explore_impl

    ok = True

    def row(what, status: Exit, good: str, t: float):
        nonlocal ok
        ok &= status == Exit.OK
        verdict = good if status == Exit.OK else status.name
        rows.append([what, verdict, f"{time.perf_counter() - t:.1f}s"])

    t = time.perf_counter()
    row("prove: Z3 induction + BMC depth 6 [whole]",
        run_prove(PRESETS["whole"], bmc_depth=6), "holds", t)
    for name in ("accounting", "hierarchy", "destruction-kmem", "destruction-2roots"):
        t = time.perf_counter()
        r = run_explore(PRESETS[name], None)
        row(f"explore: {r.distinct} states [{name}]", explore_status(r), "holds", t)
    for name in ("destruction", "destruction-kmem"):
        t = time.perf_counter()
        row(f"interleave: implementation = model [{name}]",
            run_interleave(PRESETS[name], explore_impl), "equal", t)
    t = time.perf_counter()
    row("interleave: implementation = model [race]",
        run_interleave(PRESETS["race"], explore_impl), "equal", t)
    cfg = PRESETS["conformance"]
    t = time.perf_counter()
    status = run_conform(cfg, lambda: PythonAdapter.from_spec(REFERENCE, cfg.tasks), seed,
                         examples, 40, "eval", impl_name=REFERENCE)
    row("conform: reference [conformance]", status, "conforms", t)
    return ok
