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

#: gfp flag sets an allocation may carry (the kmem one by default).
gfp_sets = st.sampled_from([["GFP_KERNEL", "__GFP_KMEMCG"]] * 4
                           + [["GFP_KERNEL"], ["GFP_KERNEL", "__GFP_KMEMCG", "__GFP_NOFAIL"]])

#: a handful of pages, spelled a few ways: enough to make limits bite.
small_limits = st.sampled_from(["4096", "4k", "8k", "8192", "12k", "1", "-1"])
