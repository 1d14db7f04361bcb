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

from kmemcg.conformance import machine
from kmemcg.conformance.adapters import PythonAdapter
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one repetition, fewer examples")
    args = ap.parse_args()
    rep = 1 if args.quick else 3
    rows = []
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
    for oracle, examples in (("eval", 300), ("z3", 30)):
        examples = examples // (3 if args.quick else 1)
        t, st = timed(lambda o=oracle, n=examples: machine.run(
            cfg, lambda: PythonAdapter(Kernel(tasks=cfg.tasks)), seed_value=1, examples=n,
            oracle=o), 1)
        rows.append((f"conform: sequential machine, {oracle} oracle",
                     f"{st.steps} steps, {st.steps / t:,.0f} checked steps/s "
                     f"({st.ops / t:,.0f} ops/s)", f"{t:.2f} s"))
    exe = shutil.which("kmemcg")
    if exe:
        t, _ = timed(lambda: subprocess.run([exe, "check", "--seed", "1"], check=True,
                                            capture_output=True), 1)
        rows.append(("kmemcg check (wall)", "prove, 4 explorations, 3 interleavings, conform",
                     f"{t:.1f} s"))
    print(f"Machine: {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}, median of {rep}\n")
    print("| measurement | result | time |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
