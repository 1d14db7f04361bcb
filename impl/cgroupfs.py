"""The memory cgroup's files: cftype handlers and the parsing they use.

Parsing follows the C of 3.8 to the byte: cgroup_write_X64/cgroup_write_string
(buffer sizes, strstrip), simple_strtoull (base detection, silent wrap at 2^64),
memparse (K/M/G only in 3.8) and res_counter_memparse_write_strategy
(``-1`` as RESOURCE_MAX, PAGE_ALIGN with wrap-around).
"""

from __future__ import annotations

from errno import E2BIG, EINVAL

from kmemcg.impl.res_counter import RESOURCE_MAX

PAGE_SIZE = 4096
U64 = (1 << 64) - 1
#: CGROUP_LOCAL_BUFFER_SIZE
LOCAL_BUFFER = 64
_SPACE = b" \t\n\v\f\r\xa0"  # the kernel's _S class (lib/ctype.c)


def strstrip(buf: bytes) -> bytes:
    """strstrip: drop trailing, then leading, whitespace."""
    end = len(buf)
    while end and buf[end - 1] in _SPACE:
        end -= 1
    start = 0
    while start < end and buf[start] in _SPACE:
        start += 1
    return buf[start:end]


def _digit(c: int) -> int:
    if 0x30 <= c <= 0x39:
        return c - 0x30
    lc = c | 0x20
    if 0x61 <= lc <= 0x66:
        return lc - 0x61 + 10
    return 99


def simple_strtoull(buf: bytes, pos: int, base: int) -> tuple[int, int]:
    """simple_strtoull: (value mod 2^64, index of the first unparsed byte)."""
    # _parse_integer_fixup_radix
    if base == 0:
        if buf[pos : pos + 1] == b"0":
            nxt = buf[pos + 1 : pos + 2].lower()
            if nxt == b"x" and pos + 2 < len(buf) and _digit(buf[pos + 2]) < 16:
                base = 16
            else:
                base = 8
        else:
            base = 10
    if base == 16 and buf[pos : pos + 2].lower() == b"0x":
        pos += 2
    # _parse_integer
    res = 0
    while pos < len(buf):
        d = _digit(buf[pos])
        if d >= base:
            break
        res = (res * base + d) & U64
        pos += 1
    return res, pos


def memparse(buf: bytes) -> tuple[int, int]:
    """memparse (lib/cmdline.c, 3.8): K, M and G suffixes, binary, wrapping."""
    ret, end = simple_strtoull(buf, 0, 0)
    shifts = {b"G": 30, b"g": 30, b"M": 20, b"m": 20, b"K": 10, b"k": 10}
    suffix = buf[end : end + 1]
    if suffix in shifts:
        ret = (ret << shifts[suffix]) & U64
        end += 1
    return ret, end


def res_counter_memparse_write_strategy(buf: bytes) -> tuple[int, int]:
    """res_counter_memparse_write_strategy: (0, bytes) or (-EINVAL, 0)."""
    if buf[:1] == b"-":
        val, end = simple_strtoull(buf, 1, 10)
        if val != 1 or end != len(buf):
            return -EINVAL, 0
        return 0, RESOURCE_MAX
    val, end = memparse(buf)
    if end != len(buf):
        return -EINVAL, 0
    return 0, (val + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1) & U64


def cgroup_write_string(data: bytes) -> tuple[int, bytes]:
    """cgroup_write_string: max_write_len defaults to the buffer size - 1."""
    if len(data) >= LOCAL_BUFFER - 1:
        return -E2BIG, b""
    return 0, strstrip(data)


def cgroup_write_u64(data: bytes) -> tuple[int, int]:
    """cgroup_write_X64 with write_u64 (3.8 kernel/cgroup.c): a zero-byte write is
    -EINVAL before anything is copied, where "\\n" strips to an empty string
    that simple_strtoull reads as 0. cgroup_write_string has no such test."""
    if not data:
        return -EINVAL, 0
    if len(data) >= LOCAL_BUFFER:
        return -E2BIG, 0
    buf = strstrip(data)
    val, end = simple_strtoull(buf, 0, 0)
    if end != len(buf):
        return -EINVAL, 0
    return 0, val
