"""kmemcg: prove, explore, conform, mutants, tlc, replay, and check (all of them)."""

from __future__ import annotations

import itertools
import json
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import click

from kmemcg.conformance import machine, report
from kmemcg.conformance.adapters import PipeAdapter, PythonAdapter
from kmemcg.conformance.harness import Harness, Nonconformance
from kmemcg.conformance.interleave import describe
from kmemcg.conformance.mutants import DESTRUCTION_MUTANTS, MUTANTS
from kmemcg.conformance.protocol import ProtocolError
from kmemcg.model import explore as explorer
from kmemcg.model import prove as prover
from kmemcg.model.config import DEFAULT, PRESETS, Config, named
from kmemcg.model.slice import slice_of
from kmemcg.model.state import diff_json

REFERENCE = "kmemcg.impl.kernel:Kernel"
#: the preset a profile runs on when no --config is given
SLICE_PRESET = {"accounting": "accounting", "destruction": "destruction"}


def all_profiles() -> list[tuple[str, str, str]]:
    """(profile, slice, what it reproduces and its source), every slice."""
    out, seen = [], set()
    for slice_name, preset in SLICE_PRESET.items():
        for name, what in slice_of(PRESETS[preset]).profiles.items():
            key = name if name != "correct" else f"correct/{slice_name}"
            if key not in seen:
                seen.add(key)
                out.append((name, slice_name, what))
    return out


def _config(path: str | None, profile: str | None, default: Config = DEFAULT) -> Config:
    try:
        if path:
            cfg = named(path)
        elif profile and profile not in slice_of(default).profiles:
            owner = next((sl for name, sl, _ in all_profiles() if name == profile), None)
            cfg = PRESETS[SLICE_PRESET[owner]] if owner else default
        else:
            cfg = default
    except (ValueError, TypeError) as e:
        raise click.UsageError(str(e)) from None
    if profile:
        if profile not in slice_of(cfg).profiles:
            raise click.UsageError(f"unknown profile {profile!r} for the {cfg.slice} slice; "
                                   f"see kmemcg explore --list-profiles")
        cfg = replace(cfg, profile=profile)
    return cfg


def _seed(seed: int | None) -> int:
    s = seed if seed is not None else random.SystemRandom().randrange(1 << 32)
    click.echo(f"seed: {s}  (replay this run with --seed {s})")
    return s


config_option = click.option(
    "--config", "config_path",
    help=f"a preset ({', '.join(PRESETS)}) or a configuration file (JSON)")
profile_option = click.option("--profile", help="a named kernel profile (see --list-profiles)")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kmemcg")
def main():
    """Formal model and conformance suite for the memcg kmem controller (Linux 3.8)."""


# ---------------------------------------------------------------- prove


def run_prove(cfg: Config, bmc_depth: int, echo=click.echo) -> bool:
    r = prover.prove(cfg)
    ok = r.ok
    echo(f"induction: {len(r.obligations)} obligations "
         f"({len({o.action for o in r.obligations})} actions x "
         f"{len(slice_of(cfg).invariants)} invariants), "
         f"{len(r.failed)} failed, {r.seconds:.2f}s")
    if not r.init_ok:
        echo(f"  Init violates {', '.join(r.init_violations)}")
    for o in r.failed:
        echo(f"  FAILED {o.action} does not preserve {o.invariant}")
        if o.cti and o.cti[1] is not None:
            args, pre, post = o.cti
            echo(f"    counterexample to induction, {report.describe(cfg, o.action, args)}:")
            echo("    pre-state (satisfies every invariant):")
            echo("      " + json.dumps(slice_of(cfg).to_json(cfg, pre), sort_keys=True))
            echo("    changes:")
            to_json = slice_of(cfg).to_json
            for path, a, b in diff_json(to_json(cfg, pre), to_json(cfg, post)):
                echo(f"      {path}: {a} -> {b}")
    if bmc_depth:
        b = prover.bmc(cfg, bmc_depth)
        echo(f"bmc: depth {bmc_depth}, {'no violation' if b.ok else 'VIOLATION ' + b.violation}, "
             f"{b.seconds:.2f}s")
        if not b.ok:
            from kmemcg.model.explore import Step
            steps = [Step(a, args, 0, st) for (a, args), st in b.trace]
            echo(report.render_model_trace(cfg, steps, b.violation))
        ok = ok and b.ok
    return ok


@main.command()
@config_option
@profile_option
@click.option("--bmc", "bmc_depth", default=6, show_default=True, type=click.IntRange(min=0),
              help="bounded model checking depth from Init (0: skip)")
def prove(config_path, profile, bmc_depth):
    """Prove every (action, invariant) pair inductive with Z3, then BMC from Init."""
    ok = run_prove(_config(config_path, profile), bmc_depth)
    sys.exit(0 if ok else 1)


# ---------------------------------------------------------------- explore


def run_explore(cfg: Config, max_states, itf=None, echo=click.echo, symmetry=False):
    def progress(n, queue):
        echo(f"  ... {n} distinct states, {queue} on the queue", err=True)

    r = explorer.explore(cfg, max_states=max_states, progress=progress, symmetry=symmetry)
    if r.violation or r.liveness:
        status = f"VIOLATION {r.violation or r.liveness[0][0]}"
    elif r.deadlocks:
        status = f"DEADLOCK ({r.deadlocks} states)"
    else:
        status = "no violation"
    if not r.complete:
        status = f"INCOMPLETE (stopped at --max-states {max_states})"
    if r.symmetry and not r.violation:
        status = (f"{status} of the safety properties; liveness NOT checked (states up to "
                  f"root symmetry: run without --symmetry for liveness)")
    echo(f"explore [{cfg.name}, profile {cfg.profile}]: {r.distinct} distinct states, "
         f"{r.generated} generated, depth {r.depth}, {r.seconds:.2f}s "
         f"({r.rate:,.0f} states/s), {r.graph.number_of_edges()} edges: {status}")
    if r.liveness:
        from kmemcg.model.explore import Step as _Step

        prop, _key, path = r.liveness[0]
        echo(f"LIVENESS {prop} fails ({len(r.liveness)} instance(s)); a behaviour that "
             f"stays away from the goal forever starts:")
        steps = [_Step("Init", (), 0, r.states[path[0]])]
        for a, b in itertools.pairwise(path):
            name, args = sorted(r.graph.edges[a, b]["labels"])[0]
            steps.append(_Step(name, args, 0, r.states[b]))
        echo(report.render_model_trace(cfg, steps, None))
        echo("     ... and from here every fair behaviour may keep away from the goal")
    if r.violation:
        echo(f"shortest counterexample ({len(r.trace) - 1} steps):")
        echo(report.render_model_trace(cfg, r.trace, r.violation))
        if itf:
            with open(itf, "w") as f:
                json.dump(report.itf_trace(cfg, r.trace, r.violation), f, indent=1)
            echo(f"ITF trace written to {itf}")
    return r


@main.command()
@config_option
@profile_option
@click.option("--max-states", type=int, default=None, help="stop after this many states")
@click.option("--itf", type=click.Path(dir_okay=False), help="write a counterexample as ITF JSON")
@click.option("--list-profiles", is_flag=True, help="list the named profiles and exit")
@click.option("--symmetry", is_flag=True,
              help="identify states that differ only by a permutation of identical root "
                   "caches (destruction slice; safety only, as TLC's SYMMETRY)")
def explore(config_path, profile, max_states, itf, list_profiles, symmetry):
    """Breadth-first search of every reachable state of a small configuration."""
    if list_profiles:
        for name, slice_name, what in all_profiles():
            click.echo(f"{name}\t{slice_name}\t{what}")
        return
    cfg = _config(config_path, profile)
    if symmetry and slice_of(cfg).symmetry is None:
        raise click.UsageError(f"--symmetry: the {cfg.slice} slice declares no symmetry")
    r = run_explore(cfg, max_states, itf, symmetry=symmetry)
    sys.exit(0 if r.ok else 1)


# ---------------------------------------------------------------- conform


def _make_impl(cfg: Config, impl: str | None, pipe: str | None, timeout: float):
    if pipe:
        return lambda: PipeAdapter(pipe, cfg.tasks, timeout=timeout)
    spec = impl or REFERENCE
    PythonAdapter.from_spec(spec, cfg.tasks)  # fail early, with a clear message
    return lambda: PythonAdapter.from_spec(spec, cfg.tasks)


def run_conform(cfg, make_impl, seed, examples, steps, oracle, save=None, impl_name="",
                echo=click.echo, race=False):
    stats = machine.run(cfg, make_impl, seed_value=seed, examples=examples, steps=steps,
                        oracle=oracle, race=race)
    rate = stats.steps / stats.seconds if stats.seconds else 0.0
    if stats.failure is None:
        echo(f"conform [{impl_name}{', race' if race else ''}]: {examples} runs, "
             f"{stats.ops} operations, "
             f"{stats.steps} steps checked ({oracle} oracle), {stats.seconds:.2f}s "
             f"({rate:,.0f} steps/s): conforms")
    else:
        echo(f"conform [{impl_name}]: NONCONFORMANCE after {stats.seconds:.2f}s")
        echo(report.render_conformance_failure(stats.failure))
        if save:
            report.save_replay(save, cfg, impl_name, seed, stats.failing_ops, stats.failure)
            echo(f"replay file written to {save}  (kmemcg replay {save})")
    return stats


@main.command()
@config_option
@click.option("--impl", help="MOD:FACTORY of a Python implementation (default: the reference)")
@click.option("--pipe", help="a command speaking the JSON-lines protocol on stdin/stdout")
@click.option("--seed", type=int, help="the random seed (printed when chosen for you)")
@click.option("--examples", type=click.IntRange(min=1), default=None,
              help="Hypothesis runs [default: 200; 1000 for a destruction profile]")
@click.option("--steps", default=None, type=click.IntRange(min=1),
              help="rule steps per run [default: 40; 60 tries for a destruction profile]")
@click.option("--oracle", type=click.Choice(["eval", "z3"]), default="eval", show_default=True)
@click.option("--timeout", default=10.0, show_default=True, help="seconds per pipe reply")
@click.option("--race", is_flag=True, help="interleave operations' steps across threads")
@click.option("--profile", help="a destruction profile: run the destruction race machine on it")
@click.option("--save", type=click.Path(dir_okay=False), default="kmemcg-replay.json",
              show_default=True, help="where to write the replay file of a failure")
def conform(config_path, impl, pipe, seed, examples, steps, oracle, timeout, race, profile,
            save):
    """Drive an implementation with the Hypothesis machine; check every step."""
    if impl and pipe:
        raise click.UsageError("give --impl or --pipe, not both")
    if profile or (config_path and named_slice(config_path) == "destruction"):
        cfg = _config(config_path, profile, PRESETS["destruction"])
        if cfg.slice != "destruction":
            raise click.UsageError(
                f"conform --profile runs the destruction race machine; {cfg.name!r} is of the "
                f"{cfg.slice} slice (its profiles: kmemcg explore/prove --profile, or "
                f"kmemcg mutants)")
        if pipe:
            raise click.UsageError("the destruction race machine drives Python "
                                   "implementations (--impl MOD:FACTORY), not a pipe")
        make = destruction_kernel(cfg, impl) if impl else None
        ok = run_destruction_race(cfg, _seed(seed), 1000 if examples is None else examples,
                                  60 if steps is None else steps, save, make=make, impl=impl)
        sys.exit(0 if ok else 1)
    cfg = _config(config_path, None, PRESETS["conformance"])
    s = _seed(seed)
    try:
        make = _make_impl(cfg, impl, pipe, timeout)
    except ProtocolError as e:
        raise click.UsageError(str(e)) from None
    try:
        stats = run_conform(cfg, make, s, 200 if examples is None else examples,
                            40 if steps is None else steps, oracle,
                            save, pipe or impl or REFERENCE, race=race)
    except ProtocolError as e:
        click.echo(f"conform: the implementation broke the protocol: {e}", err=True)
        sys.exit(1)
    sys.exit(0 if stats.failure is None else 1)


def named_slice(path: str) -> str:
    try:
        return named(path).slice
    except (ValueError, TypeError) as e:
        raise click.UsageError(str(e)) from None


def run_destruction_race(cfg, seed, examples, steps, save=None, echo=click.echo,
                         make=None, impl=None) -> bool:
    from kmemcg.conformance import race_destruction

    st = race_destruction.run(cfg, seed_value=seed, examples=examples, steps=steps, make=make)
    rate = st.steps / st.seconds if st.seconds else 0.0
    if st.failure is None:
        echo(f"race [{cfg.name}, profile {cfg.profile}]: {examples} runs, {st.steps} steps "
             f"checked, {st.seconds:.2f}s ({rate:,.0f} steps/s): conforms")
        return True
    echo(f"race [{cfg.name}, profile {cfg.profile}]: FOUND after {st.seconds:.2f}s: "
         f"{st.failure.message}")
    echo(f"shrunk schedule ({len(st.schedule)} tries):")
    for line in describe(cfg, st.schedule, make):
        echo(f"  {line}")
    if save:
        report.save_schedule(save, cfg, seed, st.schedule, st.failure.message, impl)
        echo(f"replay file written to {save}  (kmemcg replay {save})")
    return False


def destruction_kernel(cfg: Config, impl: str | None):
    """``make()`` for the destruction machines: the reference, or ``--impl
    MOD:FACTORY`` called with the configuration (checked once here, so a bad
    spec is a usage error, not a failure found later)."""
    from kmemcg.conformance.interleave import ImplementationError, kernel_factory

    try:
        factory = kernel_factory(impl)
        factory(cfg)
    except (ProtocolError, ImplementationError) as e:
        raise click.UsageError(str(e)) from None
    return lambda: factory(cfg)


@main.command()
@config_option
@profile_option
@click.option("--impl", help="MOD:FACTORY of a Python implementation (default: the reference); "
                             "for the destruction slice FACTORY(config) returns a kernel shaped "
                             "like kmemcg.impl.slab.SlabKernel")
def interleave(config_path, profile, impl):
    """Every interleaving on the implementation; its states must equal the model's."""
    from kmemcg.conformance.interleave import explore_impl

    cfg = _config(config_path, profile, PRESETS["destruction"])
    if cfg.slice == "accounting":
        spec = impl or REFERENCE
        try:
            PythonAdapter.from_spec(spec, cfg.tasks)  # fail early, with a clear message
        except ProtocolError as e:
            raise click.UsageError(str(e)) from None
        ok = run_interleave_accounting(cfg, spec)
    else:
        make = destruction_kernel(cfg, impl) if impl else None
        ok = run_interleave(cfg, lambda c: explore_impl(c, make=make), make=make)
    sys.exit(0 if ok else 1)


def run_interleave_accounting(cfg, spec=REFERENCE, echo=click.echo) -> bool:
    from kmemcg.conformance.interleave_accounting import explore_accounting

    r = explore_accounting(cfg, lambda: PythonAdapter.from_spec(spec, cfg.tasks))
    if r.problem:
        echo(f"interleave [{cfg.name}]: {r.problem}")
        for i, choice in enumerate(r.trace, 1):
            echo(f"  {i:3}. {' '.join(str(x) for x in choice)}")
        return False
    model_states = set(explorer.explore(cfg, graph=False).states)
    same = r.states == model_states
    echo(f"interleave [{cfg.name}]: implementation {len(r.states)} abstract states, model "
         f"{len(model_states)}: {'equal' if same else 'DIFFERENT'}; {r.steps} steps checked, "
         f"{r.seconds:.2f}s")
    return same


def run_interleave(cfg, explore_impl, echo=click.echo, make=None) -> bool:
    r = explore_impl(cfg)
    m = explorer.explore(cfg, graph=False)
    model_states = set(m.states)
    if r.problem:
        echo(f"interleave [{cfg.name}, profile {cfg.profile}]: the implementation reaches "
             f"{r.problem} after {len(r.trace)} steps ({r.steps} steps checked, "
             f"{r.seconds:.2f}s)")
        for line in describe(cfg, r.trace, make):
            echo(f"  {line}")
        return False
    if not r.complete:
        echo(f"interleave [{cfg.name}, profile {cfg.profile}]: INCOMPLETE, stopped after "
             f"{len(r.states)} abstract states ({r.steps} steps checked): no verdict")
        return False
    same = r.states == model_states
    echo(f"interleave [{cfg.name}, profile {cfg.profile}]: implementation {len(r.states)} "
         f"abstract states, model {len(model_states)}: "
         f"{'equal' if same else 'DIFFERENT'}; {r.steps} steps checked, {r.seconds:.2f}s")
    if not same:
        echo(f"  only the implementation: {len(r.states - model_states)}, "
             f"only the model: {len(model_states - r.states)}")
    echo("lock order (lockdep): " + ", ".join(f"{a} -> {b}" for a, b in r.lock_orders)
         + "; no cycle")
    return same


# ---------------------------------------------------------------- mutants


def run_mutants(cfg, seed, examples, steps, echo=click.echo):
    """The Hypothesis machine first; a survivor then meets every interleaving of
    the race configuration."""
    from kmemcg.conformance.interleave_accounting import explore_accounting

    rows, all_killed = [], True
    ref = machine.run(cfg, lambda: PythonAdapter.from_spec(REFERENCE, cfg.tasks),
                      seed_value=seed, examples=examples, steps=steps)
    ref_ok = ref.failure is None
    rows.append(["(reference)", "passes" if ref_ok else "FAILS", "-", f"{ref.seconds:.1f}s", "-"])
    for name, (factory, what) in MUTANTS.items():
        def make(factory=factory, name=name):
            return PythonAdapter(factory(tasks=cfg.tasks), name=name)

        st = machine.run(cfg, make, seed_value=seed, examples=examples, steps=steps,
                         shrink_seconds=10)
        check, seconds = (st.failure.check if st.failure else None), st.seconds
        if check is None:
            race = PRESETS["race"]
            t = time.perf_counter()
            r = explore_accounting(race, lambda f=factory, t=race.tasks: PythonAdapter(f(tasks=t)))
            seconds += time.perf_counter() - t
            if r.problem:
                check = "interleave " + r.problem.split("]")[0].lstrip("[")
        killed = check is not None
        all_killed &= killed
        rows.append([name, "killed" if killed else "SURVIVED", check or "-",
                     f"{seconds:.1f}s", what])
    from kmemcg.conformance.interleave import explore_impl

    slab = PRESETS["destruction-kmem"]
    for name, (factory, what) in DESTRUCTION_MUTANTS.items():
        t = time.perf_counter()
        r = explore_impl(slab, make=lambda f=factory: f(slab))
        killed = r.problem is not None
        all_killed &= killed
        rows.append([name, "killed" if killed else "SURVIVED",
                     "interleave destruction-kmem" if killed else "-",
                     f"{time.perf_counter() - t:.1f}s", what])
    echo(report.table(rows, ["mutant", "verdict", "by check", "time to kill", "bug"]))
    return ref_ok and all_killed


@main.command()
@config_option
@click.option("--seed", type=int)
@click.option("--examples", default=500, show_default=True)
@click.option("--steps", default=40, show_default=True)
def mutants(config_path, seed, examples, steps):
    """Run the suite against every mutant; exit 0 only if all are killed."""
    cfg = _config(config_path, None, PRESETS["conformance"])
    ok = run_mutants(cfg, _seed(seed), examples, steps)
    sys.exit(0 if ok else 1)


# ---------------------------------------------------------------- replay


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--impl", help="replay against another implementation (MOD:FACTORY)")
def replay(file, impl):
    """Re-run a saved failing operation sequence, step by step."""
    try:
        data = report.load_replay(file)
        cfg = Config.from_json(data["config"])
    except (ValueError, TypeError) as e:
        raise click.UsageError(str(e)) from None
    if "schedule" in data:
        from kmemcg.conformance import race_destruction

        make = destruction_kernel(cfg, impl or data["impl"])
        try:
            problem = race_destruction.replay(cfg, data["schedule"], make)
        except (ValueError, KeyError, TypeError, IndexError) as e:
            raise click.UsageError(f"{file}: {e}") from None
        click.echo(f"replay: {len(data['schedule'])} tries: {problem or 'conforms'}")
        sys.exit(1 if problem else 0)
    spec = impl or data["impl"]
    try:
        h = Harness(PythonAdapter.from_spec(spec, cfg.tasks), cfg)
        for entry in data["ops"]:
            h.run(entry["op"], entry["args"])
    except ProtocolError as e:
        raise click.UsageError(str(e)) from None
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise click.UsageError(f"{file}: not a valid operation list ({type(e).__name__}: "
                               f"{e})") from None
    except Nonconformance as e:
        click.echo(report.render_conformance_failure(e))
        sys.exit(1)
    click.echo(f"replay: {len(data['ops'])} operations, {h.steps_checked} steps: conforms")


# ---------------------------------------------------------------- tlc


@main.command()
@click.option("--cfg", "cfgs", multiple=True, help="a .cfg in spec/ (default: every shipped one)")
def tlc(cfgs):
    """Run TLC on the TLA+ spec and compare with the explorer."""
    from kmemcg.model import tla_destruction
    from kmemcg.model import tlc as tlc_runner

    wanted = list(cfgs) or None
    try:
        accounting = [e for e in tlc_runner.tla.load_index()
                      if wanted is None or Path(e["cfg"]).stem in wanted or e["cfg"] in wanted]
        destruction = [e for e in tla_destruction.load_index()
                       if wanted is None or Path(e["cfg"]).stem in wanted or e["cfg"] in wanted]
        if wanted and not accounting and not destruction:
            raise click.UsageError(f"no shipped configuration named {', '.join(wanted)}")
        results = []
        if accounting:
            results += tlc_runner.run_shipped([e["cfg"] for e in accounting])
        if destruction:
            results += tla_destruction.run_shipped([e["cfg"] for e in destruction])
    except tlc_runner.TlcNotFound as e:
        click.echo(str(e), err=True)
        sys.exit(2)
    ok = True
    for r in results:
        click.echo(r)
        ok &= r.ok
    sys.exit(0 if ok else 1)


# ---------------------------------------------------------------- check


@main.command()
@click.option("--seed", type=int)
@click.option("--examples", default=200, show_default=True)
def check(seed, examples):
    """The main job: prove, explore and conform on the default configurations."""
    s = _seed(seed)
    rows, ok = [], True
    t = time.perf_counter()
    good = run_prove(PRESETS["conformance"], bmc_depth=6)
    rows.append(["prove: Z3 induction + BMC depth 6 [conformance]", "holds" if good else "FAILS",
                 f"{time.perf_counter() - t:.1f}s"])
    ok &= good
    for name in ("destruction-kmem", "destruction-2roots"):
        t = time.perf_counter()
        good = run_prove(PRESETS[name], bmc_depth=0)
        rows.append([f"prove: Z3 induction [{name}]", "holds" if good else "FAILS",
                     f"{time.perf_counter() - t:.1f}s"])
        ok &= good
    for name in ("accounting", "hierarchy", "destruction-kmem", "destruction-2roots"):
        t = time.perf_counter()
        r = run_explore(PRESETS[name], None)
        rows.append([f"explore: {r.distinct} states [{name}]", "holds" if r.ok else "FAILS",
                     f"{time.perf_counter() - t:.1f}s"])
        ok &= r.ok
    from kmemcg.conformance.interleave import explore_impl

    for name in ("destruction", "destruction-kmem"):
        t = time.perf_counter()
        good = run_interleave(PRESETS[name], explore_impl)
        rows.append([f"interleave: implementation = model [{name}]",
                     "equal" if good else "FAILS", f"{time.perf_counter() - t:.1f}s"])
        ok &= good
    t = time.perf_counter()
    good = run_interleave_accounting(PRESETS["race"])
    rows.append(["interleave: implementation = model [race]",
                 "equal" if good else "FAILS", f"{time.perf_counter() - t:.1f}s"])
    ok &= good
    cfg = PRESETS["conformance"]
    t = time.perf_counter()
    st = run_conform(cfg, lambda: PythonAdapter.from_spec(REFERENCE, cfg.tasks), s, examples, 40,
                     "eval", impl_name=REFERENCE)
    rows.append([f"conform: reference, {st.steps} steps [conformance]",
                 "conforms" if st.failure is None else "FAILS",
                 f"{time.perf_counter() - t:.1f}s"])
    ok &= st.failure is None
    click.echo("")
    click.echo(report.table(rows, ["check", "verdict", "time"]))
    sys.exit(0 if ok else 1)
