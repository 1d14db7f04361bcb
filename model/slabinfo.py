"""What the slabinfo files show for a state: /proc/slabinfo and memory.kmem.slabinfo.

A face of the model, like model/cgroupfs.py: the implementation's text is
compared with these renderings at every state the interleaver reaches.
"""

from __future__ import annotations

from kmemcg.model.config import Config
from kmemcg.model.state import ONLINE, State, cache_id, objects, slab_pages

SLABINFO_HEADER = ("# name <active_objs> <num_objs> <objperslab> <pagesperslab> "
                   ": slabdata <active_slabs> <num_slabs>")


def _slabinfo_line(cfg: Config, name: str, s: State, cs: list[int]) -> str:
    """One slabinfo line, summed over the caches ``cs`` (memcg_slabinfo adds
    the children into their root's line)."""
    active = sum(objects(s, c) for c in cs)
    slabs = sum(sum(s.slabs[c]) for c in cs)
    used = sum(sum(s.slabs[c][1:]) for c in cs)
    return (f"{name} {active} {slabs * cfg.objs_per_slab} {cfg.objs_per_slab} "
            f"{slab_pages(cfg)} : slabdata {used} {slabs}")


def expect_proc_slabinfo(cfg: Config, s: State) -> str:
    """What /proc/slabinfo shows: each live root with its children's counts."""
    lines = [SLABINFO_HEADER]
    for r, root in enumerate(cfg.roots):
        if not s.root_alive[r]:
            continue
        live = [cache_id(cfg, r, m) for m in range(1, cfg.n_memcgs)
                if s.slot[cache_id(cfg, r, m)]]
        lines.append(_slabinfo_line(cfg, root, s, live))
    return "\n".join(lines) + "\n"


def expect_memcg_slabinfo(cfg: Config, s: State, m: int) -> str | None:
    """What memory.kmem.slabinfo of memcg ``m`` shows; None where reading it would
    walk into a half-registered cache (without slot_before_list)."""
    if s.lifecycle[m] != ONLINE:
        return None
    lines = [SLABINFO_HEADER]
    for r, root in enumerate(cfg.roots):
        c = cache_id(cfg, r, m)
        if s.listed[c]:
            if not s.slot[c]:
                return None
            lines.append(_slabinfo_line(cfg, root, s, [c]))
    return "\n".join(lines) + "\n"
