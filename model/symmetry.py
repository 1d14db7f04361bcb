"""Root caches are interchangeable: the permutations the explorer may identify."""

from __future__ import annotations

from itertools import permutations

from kmemcg.model.config import NONE, Config
from kmemcg.model.state import State

#: per-cache fields, permuted with their root
_PER_CACHE = ("cache", "dead", "slabs", "work", "requeued", "create_pending", "half_created",
              "slot", "listed")


def renaming(cfg: Config, perm: tuple[int, ...]):
    """The function taking a state to the one with root r renamed perm[r]: its
    caches, its alive bit, the walks' references to it. Roots are
    interchangeable: no step or invariant looks at a root's index (offline
    walks its list newest first, and the state does not keep creation order).
    Every other field is the same in both states."""
    n, nr = cfg.n_memcgs, len(cfg.roots)
    # new[i] = old[src[i]]: where each position's content comes from
    inverse = [0] * nr
    for r, q in enumerate(perm):
        inverse[q] = r
    root_src = tuple(inverse)
    cache_src = tuple(inverse[c // n] * n + c % n for c in range(nr * n))
    cache_dst = {c: perm[c // n] * n + c % n for c in range(nr * n)} | {NONE: NONE}

    def rename(s: State) -> State:
        return s._replace(
            root_alive=tuple(s.root_alive[i] for i in root_src),
            offline_done=tuple(s.offline_done[i] for i in root_src),
            rdestroy_root=s.rdestroy_root if s.rdestroy_root == NONE else perm[s.rdestroy_root],
            shrinking=cache_dst[s.shrinking],
            **{f: tuple(getattr(s, f)[i] for i in cache_src) for f in _PER_CACHE})

    return rename


def permute_roots(cfg: Config, s: State, perm: tuple[int, ...]) -> State:
    """``s`` with root r renamed perm[r] (see :func:`renaming`)."""
    return renaming(cfg, perm)(s)


def root_symmetry(cfg: Config) -> tuple:
    """Every permutation of the root caches, the identity first (as itself)."""
    perms = list(permutations(range(len(cfg.roots))))
    return (lambda s: s, *(renaming(cfg, p) for p in perms[1:]))
