"""The kernel an implementation claims to be, and what its known bugs excuse.

``--kernel 3.10`` checks an implementation against the model of mainline 3.10
as merged (the roster's ``merged_3_10``, model/profiles.py: every fix 3.10
lacked removed). Every step must still be a step of that model. A step that
only a known bug allows -- one the correct kernel would not take, or one that
breaks an invariant -- is that bug at work: a :class:`KnownBug`, reported as a
warning that names the roster's profiles reproducing it, not a failure.

What follows a broken invariant is undefined (the kernel has corrupted itself:
a use after free, a NULL dereference), so a run checks nothing after it, as the
explorer's ``keep_going`` expands no such state: an implementation's states
are then compared with the model's pruned there.

``--kernel correct`` (the default) is today's check: every known bug is a
failure. ``--profile`` is for hunting one bug (its verdict is "found"); a claim
is for judging an implementation that has the bugs of its release.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

from kmemcg.conformance.oracle import EvalOracle
from kmemcg.model.config import Config
from kmemcg.model.profiles import CORRECT, MERGED, PROFILES, RELEASES, merged


def resolve(kernel: str) -> str:
    """The profile a claim names: a release ("3.10": as merged), ``correct``, or a
    profile of the roster; ValueError naming the choices otherwise."""
    if kernel in RELEASES:
        return merged(kernel)
    if kernel in PROFILES:
        return kernel
    raise ValueError(f"unknown kernel {kernel!r}: a release as merged ({', '.join(RELEASES)}), "
                     f"{CORRECT!r}, or a profile (kmemcg explore --list-profiles)")


@dataclass(frozen=True)
class KnownBug:
    """A step only the claimed kernel's known bugs allow."""

    #: the roster's profiles that reproduce it (several when the step alone
    #: cannot tell them apart; empty when only a combination does)
    bugs: tuple[str, ...]
    #: the step, as the model names it
    step: str
    #: the invariants it breaks (none: a step the correct kernel would not take)
    broke: tuple[str, ...]

    @property
    def who(self) -> str:
        return " or ".join(self.bugs) or "a combination of the claimed kernel's bugs"


@dataclass
class Sighting:
    """Every step one known bug (or set of candidates) was seen at."""

    first: KnownBug
    count: int = 0
    broke: set = field(default_factory=set)

    def __str__(self) -> str:
        what = f"breaks {', '.join(sorted(self.broke))}" if self.broke else \
            "steps the fixed kernel does not take"
        return (f"known bug {self.first.who}: {what}; seen {self.count}x, first at "
                f"{self.first.step}")


class Claim:
    """The kernel ``cfg.profile`` names, as a claim: which known bug a step is."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.kernel = cfg.profile
        #: each known bug seen, by its candidate profiles
        self.seen: dict[tuple, Sighting] = {}

    @cached_property
    def _correct(self) -> EvalOracle:
        return EvalOracle(replace(self.cfg, profile=CORRECT))

    @cached_property
    def _suspects(self) -> dict[str, EvalOracle]:
        """The single bugs of the roster the claimed kernel has, each its oracle."""
        lacks = set(PROFILES[self.kernel].removes)
        return {p.name: EvalOracle(replace(self.cfg, profile=p.name))
                for p in PROFILES.values()
                if p.removes and set(p.removes) <= lacks and p.name != self.kernel
                and p.name not in MERGED}

    def known(self, pre, action: str, margs: tuple, ret: int, post,
              broke: list[str]) -> KnownBug | None:
        """The known bug a step the claimed kernel's model accepted is, or None
        when the correct kernel takes it too and it breaks nothing."""
        if self.kernel == CORRECT:
            return None
        step = f"{action}{margs}"
        if broke:
            bugs = tuple(n for n in self._suspects if PROFILES[n].expect in broke)
        elif self._correct.check(pre, action, margs, ret, post).ok:
            return None
        else:
            bugs = tuple(n for n, o in self._suspects.items()
                         if o.check(pre, action, margs, ret, post).ok)
        return self._sighted(KnownBug(bugs, step, tuple(broke)))

    def _sighted(self, bug: KnownBug) -> KnownBug:
        seen = self.seen.setdefault(bug.bugs, Sighting(bug))
        seen.count += 1
        seen.broke.update(bug.broke)
        return bug

    def known_liveness(self, prop: str, where: str) -> KnownBug:
        """A leads-to property the claimed kernel's model fails too, failed at
        ``where`` (the race machine's end-of-run check): its known bug."""
        bugs = tuple(n for n in self._suspects if PROFILES[n].expect == prop)
        return self._sighted(KnownBug(bugs, where, (prop,)))

    def warnings(self) -> list[str]:
        """Each known bug seen, once: what it broke, how often, where first."""
        return [str(s) for s in self.seen.values()]
