"""Benchmarks for the README: prove, explore, conformance throughput, check.

Run: python bench/bench.py [--quick]. Prints a Markdown table. Times are wall
clock on this machine; states/s and steps/s are what users feel.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import subprocess
import time

from kmemcg.conformance import machine, race
from kmemcg.conformance.adapters import PythonAdapter, pipe_factory
from kmemcg.conformance.interleave import explore_impl
from kmemcg.impl.kernel import Kernel
from kmemcg.model import explore, prove
from kmemcg.model.scopes import PRESETS


def timed(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


class Rows:
    """Each row printed as it is measured: a later failure loses none."""

    def append(self, row) -> None:
        print("| " + " | ".join(row) + " |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one repetition, fewer examples")
    args = ap.parse_args()
    rep = 1 if args.quick else 3
    print(f"Machine: {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}, median of {rep}\n")
    print("| measurement | result | time |")
    print("|---|---|---|", flush=True)
    rows = Rows()
    cfg = PRESETS["conformance"]
    whole = PRESETS["whole"]
    t, r = timed(lambda: prove.prove(whole), rep)
    rows.append(("prove: induction [whole]", f"{len(r.obligations)} obligations", f"{t:.2f} s"))
    t, b = timed(lambda: prove.bmc(whole, 6), rep)
    rows.append(("prove: BMC depth 6 [whole]", "no violation" if b.ok else b.violation,
                 f"{t:.2f} s"))
    for name in ("accounting", "hierarchy"):
        t, e = timed(lambda name=name: explore.explore(PRESETS[name]), rep)
        rows.append((f"explore [{name}]", f"{e.distinct} states, {e.distinct / t:,.0f} states/s",
                     f"{t:.2f} s"))
    two = PRESETS["destruction-2roots"]
    for name, run, what in (
        ("destruction-kmem", lambda: explore.explore(PRESETS["destruction-kmem"]), "with liveness"),
        ("destruction-2roots", lambda: explore.explore(two), "with liveness"),
        ("destruction-2roots", lambda: explore.explore(two, graph=False), "safety only"),
        ("destruction-2roots", lambda: explore.explore(two, graph=False, symmetry=True),
         "safety only, --symmetry"),
    ):
        t, e = timed(run, rep)
        rows.append((f"explore [{name}], {what}",
                     f"{e.distinct} states, {e.distinct / t:,.0f} states/s", f"{t:.2f} s"))
    for name in ("destruction", "destruction-kmem", "race", "destruction-2roots"):
        t, r = timed(lambda name=name: explore_impl(PRESETS[name]), 1)
        rows.append((f"interleave: implementation [{name}]",
                     f"{len(r.states)} states, {r.steps} checked steps, "
                     f"{r.steps / t:,.0f} steps/s", f"{t:.2f} s"))
    exe = shutil.which("kmemcg")
    kmem = PRESETS["destruction-kmem"]
    if exe:
        make = pipe_factory(f"{exe} serve", kmem)
        t, r = timed(lambda: explore_impl(kmem, make=make), 1)
        rows.append(("interleave over the pipe (`kmemcg serve`) [destruction-kmem]",
                     f"{len(r.states)} states, {r.steps} checked steps, "
                     f"{r.steps / t:,.0f} steps/s", f"{t:.2f} s"))
    t, st = timed(lambda: race.run(kmem, seed_value=1, examples=300), 1)
    rows.append(("conform: race machine [destruction-kmem], 300 runs",
                 f"{st.steps} steps, {st.steps / t:,.0f} checked steps/s", f"{t:.2f} s"))
    for oracle, examples in (("eval", 300), ("z3", 30)):
        examples = examples // (3 if args.quick else 1)
        t, st = timed(lambda o=oracle, n=examples: machine.run(
            cfg, lambda: PythonAdapter(Kernel.for_config(cfg)), seed_value=1, examples=n,
            oracle=o), 1)
        rows.append((f"conform: sequential machine, {oracle} oracle",
                     f"{st.steps} steps, {st.steps / t:,.0f} checked steps/s "
                     f"({st.ops / t:,.0f} ops/s)", f"{t:.2f} s"))
    if exe:
        t, done = timed(lambda: subprocess.run([exe, "check", "--seed", "1"],
                                               capture_output=True), 1)
        verdict = "holds" if done.returncode == 0 else f"FAILED (status {done.returncode})"
        rows.append(("kmemcg check (wall)",
                     f"prove, 5 explorations, 4 interleavings, conform: {verdict}", f"{t:.1f} s"))


if __name__ == "__main__":
    main()
