"""TLC beside the explorer on every shipped configuration, in one run.

Run: python bench/tlc.py [--runs N] [--cfg NAME ...]. Each figure is the median
wall-clock time of N whole processes (JVM start and Python start included):
``kmemcg explore --config spec/<name>.json`` for the explorer, TLC with
``-workers 1`` and ``-workers 2``. Prints a Markdown table with the ratio
TLC/explorer, per configuration. The machine is shared: quote medians and ratios.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from kmemcg.model import tla, tlc
from kmemcg.model.config import Config

SPEC = Path(tla.SPEC_DIR)


def wall(command: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0


def tlc_wall(entry: dict, workers: int) -> tlc.TlcRun:
    cfg = Config.load(SPEC / entry["model"])
    r = tlc.run(SPEC / entry["module"], SPEC / entry["cfg"], workers=workers,
                check_deadlock=cfg.check_deadlock)
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cfg", action="append", help="a shipped configuration (default: all)")
    args = ap.parse_args()
    kmemcg = shutil.which("kmemcg") or "kmemcg"
    entries = tla.load_index()
    if args.cfg:
        entries = [e for e in entries if Path(e["cfg"]).stem in {Path(c).stem for c in args.cfg}]
    print(f"{platform.processor() or platform.machine()}, {args.runs} runs each, "
          f"median wall seconds of whole processes; TLC: {' '.join(tlc.find_tlc())}")
    print()
    print("| configuration | expect | distinct (TLC) | explorer | TLC -workers 1 | "
          "TLC -workers 2 | TLC(1)/explorer |")
    print("|---|---|---:|---:|---:|---:|---:|")
    version = None
    for e in entries:
        explorer = [wall([kmemcg, "explore", "--config", str(SPEC / e["model"])])
                    for _ in range(args.runs)]
        one, two = [], []
        for _ in range(args.runs):
            run = tlc_wall(e, 1)
            one.append(run.seconds)
            two.append(tlc_wall(e, 2).seconds)
        distinct, version = run.outcome.distinct, run.outcome.version
        ex, t1, t2 = (statistics.median(x) for x in (explorer, one, two))
        print(f"| {Path(e['cfg']).stem} | {e['expect']} | {distinct:,} | {ex:.2f} | "
              f"{t1:.2f} | {t2:.2f} | {t1 / ex:.1f}x |", flush=True)
    print(f"\nTLC version {version}")


if __name__ == "__main__":
    main()
