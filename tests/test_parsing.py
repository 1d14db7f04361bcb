"""Limit parsing: the C-shaped parser (impl) against the declarative spec (model)."""

from errno import E2BIG, EINVAL

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kmemcg.conformance.strategies import limit_texts
from kmemcg.impl import cgroupfs as c
from kmemcg.impl.kernel import Kernel
from kmemcg.model import cgroupfs as spec
from kmemcg.model.config import RESOURCE_MAX

PINNED = [
    ("-1", RESOURCE_MAX), ("-01", RESOURCE_MAX), ("-2", None), ("-0", None), ("-", None),
    ("--1", None), ("-1k", None), ("0", 0), ("", 0), ("1", 4096), ("4096", 4096),
    ("4097", 8192), ("1k", 4096), ("4K", 4096), ("1m", 1 << 20), ("2G", 2 << 30),
    ("1T", None), ("0x1000", 4096), ("0X10", 4096), ("010", 4096), ("08", None),
    ("0x", None), ("1.5k", None), ("+4096", None), ("4kk", None), ("1 k", None),
    ("9223372036854775807", 1 << 63),  # PAGE_ALIGN passes RESOURCE_MAX: it activates
    ("18446744073709551615", 0),  # PAGE_ALIGN wraps past 2^64
    ("18446744073709551616", 0),  # simple_strtoull wraps silently
    ("-18446744073709551617", RESOURCE_MAX),  # ... even after the minus sign
    ("16G", 16 << 30), ("17179869184G", 0),  # memparse's shift wraps too
]


def impl_parse(text: str):
    ret, buf = c.cgroup_write_string(text.encode())
    if ret:
        return ret
    ret, val = c.res_counter_memparse_write_strategy(buf)
    return val if ret == 0 else None


@pytest.mark.parametrize(("text", "value"), PINNED)
def test_pinned_values(text, value):
    assert spec.parse_limit(text) == value
    assert impl_parse(text) == value


def test_whitespace_is_stripped_both_ends():
    assert impl_parse(" \t4k\n") == 4096
    assert spec.parse_limit(spec._strip(" \t4k\n")) == 4096


def test_write_buffer_limits_differ_by_file_kind():
    assert c.cgroup_write_string(b"1" * 62)[0] == 0
    assert c.cgroup_write_string(b"1" * 63)[0] == -E2BIG  # write_string: size - 1
    assert c.cgroup_write_u64(b"0" * 63) == (0, 0)
    assert c.cgroup_write_u64(b"0" * 64)[0] == -E2BIG  # write_u64: the whole buffer


@settings(max_examples=400, deadline=None)
@given(st.one_of(limit_texts, st.text(max_size=20)))
def test_impl_and_spec_agree_on_any_text(text):
    data = text.encode("utf-8", "surrogateescape")
    stripped = data.decode("latin-1")
    expected = spec.expect_write(None, None, 1, "memory.limit_in_bytes", text)
    got = impl_parse(text) if len(data) < 63 else -E2BIG
    if expected.error:
        assert got in (None, -expected.error), (text, stripped)
    else:
        assert got == expected.args[1], text


def test_zero_byte_write_to_a_u64_file_is_einval():
    """cgroup_write_X64 (3.8) begins ``if (!nbytes) return -EINVAL``: a zero-byte
    write to memory.use_hierarchy or memory.move_charge_at_immigrate is refused,
    while "\\n" strips to the empty string, which simple_strtoull reads as 0. A
    limit file (cgroup_write_string) has no such test: "" parses as 0."""
    for file in ("memory.use_hierarchy", "memory.move_charge_at_immigrate"):
        assert spec.expect_write(None, None, 1, file, "") == spec.Expect(EINVAL)
        assert spec.expect_write(None, None, 1, file, "\n").args == (1, 0)
    assert spec.expect_write(None, None, 1, "memory.limit_in_bytes", "").args == (1, 0)
    k = Kernel(tasks=())
    k.mkdir("/A")
    assert k.write("/A", "memory.use_hierarchy", "1") == 0
    assert k.write("/A", "memory.use_hierarchy", "") == -EINVAL
    assert k.read("/A", "memory.use_hierarchy") == "1\n"  # unchanged
    assert k.write("/A", "memory.use_hierarchy", "\n") == 0
    assert k.read("/A", "memory.use_hierarchy") == "0\n"
    assert k.write("/A", "memory.move_charge_at_immigrate", "3") == 0
    assert k.write("/A", "memory.move_charge_at_immigrate", "") == -EINVAL
    assert k.read("/A", "memory.move_charge_at_immigrate") == "3\n"
    assert k.write("/A", "memory.move_charge_at_immigrate", "\n") == 0
    assert k.read("/A", "memory.move_charge_at_immigrate") == "0\n"
    assert k.write("/A", "memory.limit_in_bytes", "") == 0  # parsed as 0
    assert k.read("/A", "memory.limit_in_bytes") == "0\n"


def test_a_long_limit_text_is_e2big_on_the_root_too():
    """cgroup_write_string refuses 63 bytes before mem_cgroup_write runs, and only
    that handler refuses the root ("Can't set limit on root"): -E2BIG comes first."""
    long, short = "9" * 63, "9" * 62
    for file in ("memory.limit_in_bytes", "memory.kmem.limit_in_bytes"):
        assert spec.expect_write(None, None, 0, file, long) == spec.Expect(E2BIG)
        assert spec.expect_write(None, None, 0, file, short) == spec.Expect(EINVAL)
        k = Kernel(tasks=())
        assert k.write("/", file, long) == -E2BIG
        assert k.write("/", file, short) == -EINVAL


def test_a_res_limit_past_the_memsw_limit_is_einval():
    """mem_cgroup_resize_limit refuses a value above memsw's limit, which stays
    RESOURCE_MAX without swap accounting: only 9223372036854775807, which
    PAGE_ALIGN carries to 2^63. memory.kmem.limit_in_bytes has no such check."""
    k = Kernel(tasks=())
    k.mkdir("/A")
    assert k.write("/A", "memory.limit_in_bytes", "9223372036854775807") == -EINVAL
    assert k.write("/A", "memory.limit_in_bytes", "9223372036854771712") == 0
    assert k.write("/A", "memory.kmem.limit_in_bytes", "9223372036854775807") == 0
