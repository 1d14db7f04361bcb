"""What the memory cgroup's files must do: the user-visible face, as a spec.

For a write this decides, from the text alone and the abstract state, either
the error returned with no state change, or the model action the write must
take (checked by the oracle like any other step). For a read it gives the exact
text. Parsing is stated declaratively (a grammar and arithmetic modulo 2^64),
independently of the C-shaped parser in impl/, so each checks the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from errno import E2BIG, EINVAL, EIO, ENOENT

from kmemcg.model.config import PAGE_SIZE, RESOURCE_MAX, ROOT, Config
from kmemcg.model.slabinfo import expect_memcg_slabinfo
from kmemcg.model.state import ONLINE, State

U64 = 1 << 64

#: file -> (counter, field) for res_counter-backed files.
COUNTER_FILES = {
    "memory.limit_in_bytes": ("res", "limit"),
    "memory.usage_in_bytes": ("res", "usage"),
    "memory.max_usage_in_bytes": ("res", "max_usage"),
    "memory.failcnt": ("res", "failcnt"),
    "memory.kmem.limit_in_bytes": ("kmem", "limit"),
    "memory.kmem.usage_in_bytes": ("kmem", "usage"),
    "memory.kmem.max_usage_in_bytes": ("kmem", "max_usage"),
    "memory.kmem.failcnt": ("kmem", "failcnt"),
}
#: files of cftype write_u64/read_u64 (cgroup_write_X64, cgroup_read_u64) and
#: the model action a write takes
U64_FILES = {"memory.use_hierarchy": "use_hierarchy.write",
             "memory.move_charge_at_immigrate": "move_charge.write"}
FILES = (*COUNTER_FILES, *U64_FILES)
READ_ONLY = ("memory.kmem.slabinfo",)
#: files with a trigger and no read handler: cgroup_file_read gives -EINVAL
WRITE_ONLY = ("memory.force_empty",)
LIMIT_ACTION = {"memory.limit_in_bytes": "limit.write",
                "memory.kmem.limit_in_bytes": "kmem_limit.write"}
RESET_ACTION = {"max_usage": "max_usage.reset", "failcnt": "failcnt.reset"}

_SPACE = " \t\n\v\f\r\xa0"
_NUMBER = re.compile(r"0[xX](?=[0-9a-fA-F])[0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*|")
_SHIFT = {"k": 10, "m": 20, "g": 30}


@dataclass(frozen=True)
class Expect:
    """A write's required outcome: an error alone, or a model action to take."""

    error: int = 0
    action: str | None = None
    args: tuple = ()


def _strip(text: str) -> str:
    return text.strip(_SPACE)


def _number(text: str) -> tuple[int, str] | None:
    """simple_strtoull(text, base 0): the value mod 2^64 and the rest, or None."""
    m = _NUMBER.match(text)
    digits = m.group(0)
    if digits.lower().startswith("0x"):
        value = int(digits[2:], 16)
    elif digits.startswith("0") and len(digits) > 1:
        value = int(digits, 8)
    else:
        value = int(digits or "0")
    return value % U64, text[m.end():]


def parse_limit(text: str) -> int | None:
    """res_counter_memparse_write_strategy: bytes, or None for -EINVAL."""
    if text.startswith("-"):
        m = re.fullmatch(r"-([0-9]*)", text)
        return RESOURCE_MAX if m and int(m.group(1) or "0") % U64 == 1 else None
    value, rest = _number(text)
    if rest and rest[0].lower() in _SHIFT:
        value, rest = (value << _SHIFT[rest[0].lower()]) % U64, rest[1:]
    if rest:
        return None
    return -(-value // PAGE_SIZE) * PAGE_SIZE % U64


def parse_u64(text: str) -> int | None:
    value, rest = _number(text)
    return None if rest else value


def expect_write(cfg: Config, s: State, m: int, file: str, text: str) -> Expect:
    """The outcome the write of ``text`` to ``file`` of memcg ``m`` must have."""
    # the kernel sees bytes; latin-1 keeps one character per byte, so 0xa0
    # (a space to the kernel's ctype) strips exactly as it does there
    text = text.encode("utf-8", "surrogateescape").decode("latin-1")
    size = len(text)
    if file in READ_ONLY:
        return Expect(EINVAL)  # no write handler
    if file == "memory.force_empty":  # a trigger: the text is ignored
        if m == ROOT:
            return Expect(EINVAL)  # mem_cgroup_force_empty_write refuses the root (3.8)
        return Expect(action="force_empty", args=(m,))
    if file not in FILES:
        return Expect(ENOENT)
    if file in U64_FILES:  # cgroup_write_X64: a 64-byte buffer, strstrip, simple_strtoull
        if size == 0:
            return Expect(EINVAL)  # "if (!nbytes) return -EINVAL" (3.8), before the copy
        if size >= 64:
            return Expect(E2BIG)
        value = parse_u64(_strip(text))
        if value is None:
            return Expect(EINVAL)
        return Expect(action=U64_FILES[file], args=(m, value))
    counter, field = COUNTER_FILES[file]
    if field in RESET_ACTION:  # a trigger: the text is ignored
        return Expect(action=RESET_ACTION[field], args=(m, ("res", "kmem").index(counter)))
    if field != "limit":
        return Expect(EINVAL)  # read-only: no write handler
    if size >= 63:  # cgroup_write_string, before the file's handler runs
        return Expect(E2BIG)
    if m == ROOT:
        return Expect(EINVAL)  # mem_cgroup_write: "Can't set limit on root"
    value = parse_limit(_strip(text))
    if value is None:
        return Expect(EINVAL)
    return Expect(action=LIMIT_ACTION[file], args=(m, value))


def expect_read(cfg: Config, s: State, m: int, file: str) -> str | int:
    """The text a read returns, or -errno."""
    if file == "memory.use_hierarchy":
        return f"{int(bool(s.use_hierarchy[m]))}\n"
    if file == "memory.move_charge_at_immigrate":  # mem_cgroup_move_charge_read
        return f"{s.move_charge[m]}\n"
    if file in WRITE_ONLY:
        return -EINVAL
    if file == "memory.kmem.slabinfo":  # -EIO unless the group can account kmem
        if m == ROOT or not s.kmem_active[m]:
            return -EIO
        return expect_memcg_slabinfo(cfg, s, m)
    if file not in COUNTER_FILES:
        return -ENOENT
    counter, field = COUNTER_FILES[file]
    if (counter, field) == ("res", "usage"):
        return f"{mem_cgroup_usage(cfg, s, m)}\n"
    value = getattr(getattr(s, counter)[m], field)
    return f"{value}\n"


def for_each_mem_cgroup_tree(cfg: Config, s: State, m: int) -> list[int]:
    """for_each_mem_cgroup_tree -> mem_cgroup_iter (mm/memcontrol.c, 3.8-3.10): a
    memcg without use_hierarchy alone, unless it is the root, whose walk covers
    the whole tree whatever its use_hierarchy; a removed group is skipped (its
    css_tryget fails)."""
    if not s.use_hierarchy[m] and m != ROOT:
        return [m]
    return [d for d in range(cfg.n_memcgs)
            if d == m or (s.lifecycle[d] == ONLINE and m in cfg.ancestors(d))]


def mem_cgroup_usage(cfg: Config, s: State, m: int) -> int:
    """mem_cgroup_usage(memcg, swap=false) (mm/memcontrol.c, 3.8-3.10): res usage,
    except for the root: MEM_CGROUP_STAT_CACHE + MEM_CGROUP_STAT_RSS summed over
    its tree walk (mem_cgroup_recursive_stat), i.e. the user pages of every group.
    Kernel pages are in neither statistic (memcg_kmem_commit_charge does not
    count them), so the root shows none, though with use_hierarchy its res
    counter holds its children's."""
    if m != ROOT:
        return s.res[m].usage
    return PAGE_SIZE * sum(s.user_pages[d] for d in for_each_mem_cgroup_tree(cfg, s, m))
