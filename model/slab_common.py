"""What kmem_cache_create must do, seen from its caller: the face, as a spec.

From the arguments and the abstract state this decides either the error it
returns with nothing changed, or the model action it takes
(model/actions/root_create.py), as model/cgroupfs.py decides a file write.
Kernel of record: 3.8-3.10 ``mm/slab_common.c``: kmem_cache_create ->
kmem_cache_create_memcg(NULL, ...), whose kmem_cache_sanity_check
(CONFIG_DEBUG_VM) refuses a NULL name, ``in_interrupt()``, a size below
``sizeof(void *)`` or above KMALLOC_MAX_SIZE, and a root cache of the same name
on ``slab_caches``; kmem_cache_create then returns NULL (the protocol returns
the errno, -EINVAL). A geometry no slab holds fails in __kmem_cache_create
(SLUB's kmem_cache_open: -EINVAL). No operation creates a cache from an
interrupt, so ``in_interrupt()`` is never true here.
"""

from __future__ import annotations

from errno import EINVAL

from kmemcg.model.cgroupfs import Expect
from kmemcg.model.config import MAX_ORDER, PAGE_SIZE, Config
from kmemcg.model.state import State

#: sizeof(void *) on x86_64
SIZEOF_VOID_P = 8
#: KMALLOC_MAX_SIZE: SLUB's 1 << (MAX_ORDER + PAGE_SHIFT) in 3.9-3.10 (8 MiB);
#: 3.8's include/linux/slab.h had 1 << (MAX_ORDER + PAGE_SHIFT - 1), 4 MiB
KMALLOC_MAX_SIZE = PAGE_SIZE << MAX_ORDER


def _count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def refusal(cfg: Config, s: State, name, size, objs_per_slab, order) -> str | None:
    """Why kmem_cache_create(name, size) of ``objs_per_slab`` objects to a
    ``2**order``-page slab returns -EINVAL in ``s`` (None: it creates): a
    ``null name``, a ``size`` out of bounds, a ``duplicate``, or a
    ``geometry`` no slab holds. Arguments of the wrong type are the caller's
    error (ValueError)."""
    if name is None:
        return "null name"  # kmem_cache_sanity_check: !name
    if not isinstance(name, str) or not all(map(_count, (size, objs_per_slab, order))):
        raise ValueError(f"kmem_cache_create wants a name (text or null) and integer size, "
                         f"objs_per_slab and order, not {name!r}, {size!r}, "
                         f"{objs_per_slab!r}, {order!r}")
    if not SIZEOF_VOID_P <= size <= KMALLOC_MAX_SIZE:
        return "size"  # size < sizeof(void *) || size > KMALLOC_MAX_SIZE
    if name in cfg.roots and s.root_alive[cfg.roots.index(name)]:
        return "duplicate"  # "Cache name already exists." (on slab_caches until freed)
    if not 0 <= order < MAX_ORDER or objs_per_slab < 1 \
            or objs_per_slab * size > PAGE_SIZE << order:
        return "geometry"  # __kmem_cache_create: no slab holds them
    return None


def expect_create(cfg: Config, s: State, name, size, objs_per_slab, order) -> Expect:
    """The outcome kmem_cache_create(name, size) of a cache of ``objs_per_slab``
    objects to a ``2**order``-page slab must have in ``s``. A cache the kernel
    would create but the configuration has no slot for (a name it does not
    know, or a geometry other than its own) is outside the scope: ValueError,
    the caller's error, never a verdict on the implementation."""
    if refusal(cfg, s, name, size, objs_per_slab, order) is not None:
        return Expect(EINVAL)
    if name not in cfg.roots:
        raise ValueError(f"kmem_cache_create of {name!r}: the configuration's root caches "
                         f"are {list(cfg.roots)}; a cache of another name is out of its scope")
    if (order, objs_per_slab) != (cfg.slab_order, cfg.objs_per_slab):
        raise ValueError(f"kmem_cache_create of {name!r}: the configuration's slabs are "
                         f"2**{cfg.slab_order} pages of {cfg.objs_per_slab} objects, not "
                         f"2**{order} pages of {objs_per_slab}")
    return Expect(action="kmem_cache_create", args=(cfg.roots.index(name),))


def object_size(cfg: Config) -> int:
    """The object size the suite creates a root cache of: the largest that the
    configuration's ``objs_per_slab`` objects to a slab leaves."""
    return (PAGE_SIZE << cfg.slab_order) // cfg.objs_per_slab
