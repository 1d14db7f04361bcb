"""Root caches are interchangeable: the permutations the explorer may identify."""

from __future__ import annotations

from itertools import permutations

from model.config import NONE, Config
from model.destruction.state import (
    DESTRUCTION,
    DState,
)

#: per-cache fields, permuted with their root
_PER_CACHE = ("cache", "dead", "slabs", "work", "requeued", "create_pending", "half_created",
              "slot", "listed")


def permute_roots(cfg: Config, s: DState, perm: tuple[int, ...]) -> DState:
    """``s`` with root r renamed perm[r]: its caches, its alive bit, the walks'
    references to it. Roots are interchangeable: no step or invariant looks at
    a root's index (offline walks a list in creation order, which the state
    does not keep)."""
    n = cfg.n_memcgs

    def cache(c):
        return c if c == NONE else perm[c // n] * n + c % n

    def roots(xs):
        out = list(xs)
        for r, x in enumerate(xs):
            out[perm[r]] = x
        return tuple(out)

    def caches(xs):
        out = list(xs)
        for c, x in enumerate(xs):
            out[cache(c)] = x
        return tuple(out)

    return s._replace(
        root_alive=roots(s.root_alive), offline_done=roots(s.offline_done),
        rdestroy_root=s.rdestroy_root if s.rdestroy_root == NONE else perm[s.rdestroy_root],
        shrinking=cache(s.shrinking), **{f: caches(getattr(s, f)) for f in _PER_CACHE})


def root_symmetry(cfg: Config) -> tuple:
    """Every permutation of the root caches, the identity first."""
    return tuple(lambda s, p=p: permute_roots(cfg, s, p)
                 for p in permutations(range(len(cfg.roots))))


DESTRUCTION.symmetry = root_symmetry
