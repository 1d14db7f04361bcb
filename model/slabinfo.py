"""What the slabinfo files show for a state: /proc/slabinfo and memory.kmem.slabinfo.

A face of the model, like model/cgroupfs.py: the implementation's text is
compared with these renderings at every state the interleaver reaches.

Kernel of record: 3.8-3.10 ``mm/slab_common.c`` (print_slabinfo_header,
memcg_accumulate_slabinfo, cache_show, s_show) and ``mm/memcontrol.c``
(mem_cgroup_slabinfo_read), added by the v6 kmem series' patch 26.

What is and is not modelled:

- Both files start with print_slabinfo_header's two lines: the version line
  exactly as a kernel without CONFIG_DEBUG_SLAB prints it, then a column line.
- A cache line has the columns the state determines: name, active and total
  objects, objects per slab, pages per slab, active and total slabs. The
  kernel's ``<objsize>``, ``: tunables ...`` and ``<sharedavail>`` columns and
  its column padding are not modelled (the configuration has no object size),
  so the column line names the columns that are printed.
- /proc/slabinfo's line for a root cache is the root's own slabs plus those of
  every per-memcg cache in its ``memcg_caches[]``. The root's own slabs hold
  the objects it serves itself (an allocation in a context the kernel never
  charges, or the one that queues its memcg's cache): with a configuration's
  ``root_objects`` the state keeps them (``root_own``) and the line counts
  them; without, they are forgotten as they are served, and the line counts
  the per-memcg copies alone.
"""

from __future__ import annotations

from typing import NamedTuple

from kmemcg.model.config import Config
from kmemcg.model.state import ONLINE, State, cache_id, objects, root_own, slab_pages

#: print_slabinfo_header's first line (without CONFIG_DEBUG_SLAB, which
#: prints "2.1 (statistics)").
SLABINFO_VERSION = "slabinfo - version: 2.1"
#: the columns a line below shows (the kernel's line has more; see above).
SLABINFO_COLUMNS = ("# name <active_objs> <num_objs> <objperslab> <pagesperslab> "
                    ": slabdata <active_slabs> <num_slabs>")


class Slabinfo(NamedTuple):
    """struct slabinfo, the fields a line shows that the state determines."""

    active_objs: int = 0
    num_slabs: int = 0
    active_slabs: int = 0

    def __add__(self, other: Slabinfo) -> Slabinfo:
        return Slabinfo(*(a + b for a, b in zip(self, other, strict=True)))


def print_slabinfo_header() -> list[str]:
    """print_slabinfo_header (mm/slab_common.c, 3.8-3.10): version, then columns."""
    return [SLABINFO_VERSION, SLABINFO_COLUMNS]


def get_slabinfo(s: State, c: int) -> Slabinfo:
    """get_slabinfo of cache ``c`` (mm/slab.c, 3.8), a memcg cache or a root's
    own slabs: in-use objects, all slabs, and the slabs holding at least one
    object."""
    return Slabinfo(objects(s, c), sum(s.slabs[c]), sum(s.slabs[c][1:]))


def root_own_slabinfo(cfg: Config, s: State, r: int) -> Slabinfo:
    """get_slabinfo of root cache ``r`` itself: its own slabs (none in a scope
    without ``root_objects``, which forgets what a root serves)."""
    return get_slabinfo(s, root_own(cfg, r))


def memcg_accumulate_slabinfo(cfg: Config, s: State, r: int) -> Slabinfo:
    """memcg_accumulate_slabinfo (mm/slab_common.c, 3.8-3.10): every cache in
    root ``r``'s memcg_caches[] (a published slot), dead or not, its memcg
    online or not."""
    total = Slabinfo()
    for m in range(1, cfg.n_memcgs):
        c = cache_id(cfg, r, m)
        if s.slot[c]:
            total += get_slabinfo(s, c)
    return total


def cache_show(cfg: Config, name: str, info: Slabinfo) -> str:
    """cache_show's line (mm/slab_common.c, 3.8-3.10), in the modelled columns;
    a memcg cache shows under its root's name (cache_name) and shares its
    geometry (kmem_cache_dup)."""
    per = cfg.objs_per_slab
    return (f"{name} {info.active_objs} {info.num_slabs * per} {per} {slab_pages(cfg)} "
            f": slabdata {info.active_slabs} {info.num_slabs}")


def expect_proc_slabinfo(cfg: Config, s: State) -> str:
    """What /proc/slabinfo shows (s_show, 3.8-3.10): each live root cache, its own
    counts plus every per-memcg copy's."""
    lines = print_slabinfo_header()
    for r, root in enumerate(cfg.roots):
        if s.root_alive[r]:
            info = root_own_slabinfo(cfg, s, r) + memcg_accumulate_slabinfo(cfg, s, r)
            lines.append(cache_show(cfg, root, info))
    return "\n".join(lines) + "\n"


def expect_memcg_slabinfo(cfg: Config, s: State, m: int) -> str | None:
    """What memory.kmem.slabinfo of memcg ``m`` shows (mem_cgroup_slabinfo_read,
    3.8-3.10): the header, then each cache on its list; None where reading it
    would walk into a half-registered cache (without slot_before_list)."""
    if s.lifecycle[m] != ONLINE:
        return None
    lines = print_slabinfo_header()
    for r, root in enumerate(cfg.roots):
        c = cache_id(cfg, r, m)
        if s.listed[c]:
            if not s.slot[c]:
                return None
            lines.append(cache_show(cfg, root, get_slabinfo(s, c)))
    return "\n".join(lines) + "\n"
