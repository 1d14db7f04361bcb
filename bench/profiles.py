"""The profile table for the README: every destruction profile, explorer and Hypothesis.

Run: python bench/profiles.py [PROFILE ...] (default: all). For each profile: the invariant it breaks, the
shortest trace (steps), states explored, the explorer's time to verdict, and
the Hypothesis race machine's time to find and shrink it (median of 5 seeds, and
how many of the 5 found it within 1000 runs).
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import replace

from kmemcg.conformance import race
from kmemcg.conformance.interleave import explore_impl
from kmemcg.model import explore
from kmemcg.model.profiles import PROFILES
from kmemcg.model.scopes import PRESETS


def main(only: list[str]) -> None:
    print("| profile | breaks | shortest trace | states | explorer | implementation, "
          "exhaustive | Hypothesis (median of 5) |")
    print("|---|---|---|---|---|---|---|")
    for profile in [p.name for p in PROFILES.values() if p.preset in (None, "destruction")
                    and (not only or p.name in only)]:
        cfg = replace(PRESETS["destruction"], profile=profile)
        t = time.perf_counter()
        r = explore.explore(cfg)
        t_explore = time.perf_counter() - t
        broken = r.violation or (r.liveness[0][0] if r.liveness else "none")
        length = len(r.trace) - 1 if r.violation else (
            len(r.liveness[0][2]) - 1 if r.liveness else "-")
        t = time.perf_counter()
        impl = explore_impl(cfg)
        t_impl = time.perf_counter() - t
        impl_verdict = ("equal states" if impl.problem is None and impl.states == set(r.states)
                        else impl.problem.split(": ")[-1].split(";")[0] if impl.problem
                        else "DIFFERENT")
        times, found = [], 0
        for seed in range(5):
            st = race.run(cfg, seed_value=seed, examples=1000, shrink_seconds=10)
            times.append(st.seconds)
            found += st.failure is not None
        hyp = f"{statistics.median(times):.1f} s, found {found}/5"
        print(f"| {profile} | {broken} | {length} | {r.distinct} | {t_explore * 1000:.0f} ms "
              f"| {impl_verdict}, {t_impl * 1000:.0f} ms | {hyp} |")
    if only:
        return
    print()
    for name in ("destruction-kmem", "destruction-2roots"):
        cfg = PRESETS[name]
        t = time.perf_counter()
        r = explore.explore(cfg)
        t_explore = time.perf_counter() - t
        t = time.perf_counter()
        sym = explore.explore(cfg, graph=False, symmetry=True)
        t_sym = time.perf_counter() - t
        t = time.perf_counter()
        impl = explore_impl(cfg)
        t_impl = time.perf_counter() - t
        reduced = (f"; up to root symmetry {sym.distinct} states in {t_sym:.2f} s (safety)"
                   if sym.symmetry else "")
        print(f"{name}, default profile: {r.distinct} states, explorer {t_explore:.2f} s "
              f"(with liveness){reduced}; implementation {len(impl.states)} states in {t_impl:.2f} s "
              f"({impl.steps} checked steps): "
              f"{'equal' if impl.states == set(r.states) else 'DIFFERENT'}")


if __name__ == "__main__":
    main(sys.argv[1:])
