"""Hypothesis strategies for what users write and do.

Composed from small pieces: a limit is a number in one of the spellings the
kernel parses, or a near miss it must reject; every byte the kernel treats
specially (whitespace, signs, suffixes, bases, overflow) has a way in.
"""

from __future__ import annotations

from hypothesis import strategies as st

from kmemcg.model.config import PAGE_SIZE

_SUFFIX = {"": 0, "k": 10, "K": 10, "m": 20, "M": 20, "g": 30, "G": 30}

#: sizes near the boundaries that matter: zero, a page, a few pages, unaligned
#: values, and values near 2^63 / 2^64 where PAGE_ALIGN and strtoull wrap.
sizes = st.one_of(
    st.sampled_from([0, 1, PAGE_SIZE - 1, PAGE_SIZE, PAGE_SIZE + 1, 2 * PAGE_SIZE,
                     3 * PAGE_SIZE, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 1 << 64]),
    st.integers(min_value=0, max_value=4 * PAGE_SIZE),
)


@st.composite
def spelled_size(draw) -> str:
    """A non-negative size in decimal, hex or octal, with an optional K/M/G suffix."""
    suffix = draw(st.sampled_from(list(_SUFFIX)))
    value = draw(st.integers(0, 8)) if suffix else draw(sizes)
    base = draw(st.sampled_from(["dec", "hex", "oct"]))
    text = {"dec": str(value), "hex": hex(value), "oct": "0" + oct(value)[2:]}[base]
    return text + suffix


def _pad(text_strategy):
    ws = st.sampled_from(["", " ", "\n", "\t", " \n"])
    return st.tuples(ws, text_strategy, ws).map(lambda t: "".join(t))


limit_texts = st.one_of(
    _pad(spelled_size()),
    st.sampled_from(["-1", "-01", "-1\n", "-2", "-0", "-", "--1", "-1k", "1 k", "4kk", "0x",
                     "0xg", "08", "1T", "", "abc", "1.5k", "+4096", "-18446744073709551617"]),
    st.text(alphabet="0123456789kKmMgGxX -+\n", max_size=12),
    st.just("9" * 70),  # past the cgroup write buffer: -E2BIG
)

hierarchy_texts = st.one_of(st.sampled_from(["0", "1", " 1\n", "2", "x", "", "01", "0x1"]),
                            st.integers(0, 3).map(str))

#: what is written to memory.move_charge_at_immigrate: 0-3 in the spellings
#: simple_strtoull takes, the first refused value (4), near misses, wrap-around
#: at 2^64 (back to 1), and past cgroup_write_X64's buffer (-E2BIG).
move_charge_texts = st.one_of(
    st.integers(0, 4).map(str),
    st.sampled_from([" 1\n", "03", "0x3", "0x", "1x", "-1", "", "8", str((1 << 64) + 1),
                     "9" * 70]),
)

#: what is written to a trigger file (memory.force_empty): ignored, even past a
#: limit file's buffer.
trigger_texts = st.sampled_from(["0", "1", "", "x\n", "9" * 70])

#: a flag that is usually off.
rarely = st.sampled_from([False] * 5 + [True])

#: a file and the text written to it: limits most often, everything else too.
writes = st.one_of(
    st.tuples(st.sampled_from(["memory.limit_in_bytes", "memory.kmem.limit_in_bytes"]),
              limit_texts),
    st.tuples(st.just("memory.use_hierarchy"), hierarchy_texts),
    st.tuples(st.sampled_from(["memory.max_usage_in_bytes", "memory.kmem.max_usage_in_bytes",
                               "memory.failcnt", "memory.kmem.failcnt",
                               "memory.usage_in_bytes", "memory.nosuch"]),
              st.sampled_from(["0", "1", "x"])),
    st.tuples(st.just("memory.force_empty"), trigger_texts),
)

#: the writes of a scope with move_charge_at_immigrate (model/facts.immigrate_in_scope)
writes_with_move_charge = st.one_of(
    writes, st.tuples(st.just("memory.move_charge_at_immigrate"), move_charge_texts))

#: gfp flag sets an allocation may carry (the kmem one by default).
gfp_sets = st.sampled_from([["GFP_KERNEL", "__GFP_KMEMCG"]] * 4
                           + [["GFP_KERNEL"], ["GFP_KERNEL", "__GFP_KMEMCG", "__GFP_NOFAIL"]])

#: a handful of pages, spelled a few ways: enough to make limits bite (16k to
#: 32k let a kmalloc_large of order 2 or 3 fit, or fit once).
small_limits = st.sampled_from(["4096", "4k", "8k", "8192", "12k", "16k", "20k", "32k", "1M", "1",
                                "-1"])


def get_order(size: int) -> int:
    """get_order (asm-generic/getorder.h, 3.8): the least order whose 2**order
    pages hold ``size`` bytes."""
    return max(0, (size - 1).bit_length() - PAGE_SIZE.bit_length() + 1)


#: SLUB's KMALLOC_MAX_CACHE_SIZE (3.10; SLUB_MAX_SIZE in 3.8): two pages. A
#: kmalloc of more goes to kmalloc_large, straight to the page allocator.
KMALLOC_MAX_CACHE_SIZE = 2 * PAGE_SIZE


def kmalloc_large_sizes(orders: tuple[int, ...]):
    """Sizes kmalloc hands to kmalloc_large whose get_order is one of ``orders``
    (None when the scope allocates no such order)."""
    large = [o for o in orders if PAGE_SIZE << o > KMALLOC_MAX_CACHE_SIZE]
    if not large:
        return None
    return st.sampled_from(large).flatmap(lambda o: st.integers(
        max(PAGE_SIZE << (o - 1), KMALLOC_MAX_CACHE_SIZE) + 1, PAGE_SIZE << o))


def page_orders(orders: tuple[int, ...]):
    """The order of a kernel page allocation, among a scope's ``orders``: mostly
    a single page; now and then order 1 (a thread stack's size) or a SLUB
    kmalloc_large, whose get_order(size) is 2 and up (more than 8 KiB)."""
    return st.sampled_from([o for o in orders if o == 0] * 4 + list(orders))
