"""The harness's ghost of the slab objects an implementation handed out.

The model counts a cache's slabs by fill (``slabs[c][k]``) and knows no object;
an implementation hands out objects by handle and chooses their slab. The
harness keeps what the abstract state forgets: each handle's cache and slab (as
the allocation's step named them), and each slab's fill by the handles on it.
So a free of handle ``h`` is judged as the model's free of a slab of ``h``'s
slab's fill, in the cache that holds it (recorded when it was allocated,
whoever frees it), and an implementation's own choices (which slab it filled,
whether it released a slab the free emptied) are checked against that, not
dictated. Kernel of record: 3.8 ``mm/slab.c`` (``virt_to_head_page(x)``,
cache_from_obj) and ``mm/slub.c``.

Each update reads the step's arguments alone (no snapshot), so replaying a
checked prefix rebuilds the ghost as cheaply as it rebuilds the implementation.
"""

from __future__ import annotations

from errno import ENOMEM

from kmemcg.model.config import Config
from kmemcg.model.state import root_of, root_own

#: the steps that hand out an object, and those that take one back
ALLOCS = frozenset({"alloc", "alloc.partial", "alloc.root"})
FREES = frozenset({"free.object", "free.release_pages"})


class SlabObjects:
    """handle -> (cache, slab) or None (an object the root served and nobody
    keeps: a scope without ``root_objects``), and (cache, slab) -> fill."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.where: dict[int, tuple[int, int] | None] = {}
        self.fill: dict[tuple[int, int], int] = {}

    def handle_on(self, c: int, fill: int) -> int | None:
        """The lowest handle on a slab of cache ``c`` holding ``fill`` objects
        (any will do: the model cannot tell them apart), or None."""
        return min((h for h, at in self.where.items()
                    if at is not None and at[0] == c and self.fill[at] == fill), default=None)

    def allocated(self, action: str, margs: tuple, args: dict, ret: int) -> str | None:
        """Record an allocation's step: the object it names sits on the slab it
        names, in the cache (the root's own slabs when the step names ``root``:
        the root served it). The problem with the step, or None. A step that
        names no object is of an implementation that predates handles: nothing
        is recorded, and its objects are freed by fill."""
        h = args.get("object")
        if ret < 0 or h is None:
            return None
        if not isinstance(h, int) or isinstance(h, bool) or h < 0:
            return f"{action} names object {h!r}, not a handle (an integer >= 0)"
        if h in self.where:
            return f"{action} hands out object {h}, which is in use"
        served = action == "alloc.root" or "root" in args
        if served and not self.cfg.root_objects:
            self.where[h] = None  # the root serves it, and the state forgets it
            return None
        slab = args.get("slab")
        if not isinstance(slab, int) or isinstance(slab, bool):
            return f"{action} of object {h} names no slab (an integer)"
        cache = root_own(self.cfg, margs[0] if action == "alloc.root" else
                         root_of(self.cfg, margs[0])) if served else margs[0]
        held = self.fill.get((cache, slab), 0)
        # the fill the model's step took: a partial slab's (its parameter), an
        # empty or new one's; the root's own choice (the fullest) the oracle checks
        took = margs[1] if action == "alloc.partial" else None if served else 0
        if took is not None and held != took:
            return (f"{action} took object {h} from slab {slab}, which holds {held} "
                    f"objects (the handles handed out on it), not {took}")
        self.where[h] = (cache, slab)
        self.fill[(cache, slab)] = held + 1
        return None

    def freed(self, h: int, action: str, margs: tuple) -> str | None:
        """Record the step of handle ``h``'s free: it must free from the cache
        and the slab ``h`` was allocated on (free.object with that slab's
        fill), and may release the slab only if ``h`` was its last object."""
        at = self.where.get(h)
        if at is None:
            return f"object {h} {'is not in use' if h not in self.where else 'is kept by no slab'}" \
                   f", yet its free took {action}"
        cache, slab = at
        if margs[0] != cache:
            return f"the free of object {h} took {action} on cache {margs[0]}, its cache is {cache}"
        held = self.fill[at]
        release = action == "free.release_pages"
        says = 1 if release else margs[1]
        if says != held:
            return (f"the free of object {h} took {action} of a slab of {says}, its slab "
                    f"{slab} holds {held}")
        del self.where[h]
        if release:
            del self.fill[at]
        else:
            self.fill[at] = held - 1
        return None

    def returned(self, op: str, args: dict, steps: list, result) -> str | None:
        """A slab path returned: an allocation returns the object its step named
        (-ENOMEM when it failed, a handle of its own when no step named one);
        a free of a handle in use returns 0. The problem, or None."""
        if not isinstance(result, int) or isinstance(result, bool):
            return f"{op} returned {result!r}, not an integer"
        if op == "kmem_cache_alloc":
            named = [st.args["object"] for st in steps if st.action in ALLOCS
                     and "object" in st.args and st.ret >= 0]
            if any(st.ret == -ENOMEM for st in steps if st.action == "alloc"):
                return None if result == -ENOMEM else \
                    f"kmem_cache_alloc's alloc failed -ENOMEM, yet it returned {result}"
            if named:
                return None if result == named[-1] else \
                    f"kmem_cache_alloc's step handed out object {named[-1]}, it returned {result}"
            if steps or result < 0:
                return None  # a step that names no object: before handles
            if result in self.where:
                return f"kmem_cache_alloc returned object {result}, which is in use"
            self.where[result] = None  # the root served it, with no step
            return None
        if op == "kmem_cache_free" and steps and result != 0:
            return f"kmem_cache_free of object {args.get('object')} returned {result}, not 0"
        return None
