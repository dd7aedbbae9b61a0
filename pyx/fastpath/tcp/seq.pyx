"""Python access to the core's sequence-number arithmetic (seq.pxd), for tests and tools."""
from libc.stdint cimport uint32_t
from fastpath.tcp.seq cimport seq_lt as _lt, seq_le as _le, seq_gt as _gt, seq_ge as _ge, seq_diff as _diff, seq_in as _in


def lt(uint32_t a, uint32_t b):
    """a < b modulo 2^32 (RFC 9293 3.4)."""
    return _lt(a, b)


def le(uint32_t a, uint32_t b):
    return _le(a, b)


def gt(uint32_t a, uint32_t b):
    return _gt(a, b)


def ge(uint32_t a, uint32_t b):
    return _ge(a, b)


def diff(uint32_t a, uint32_t b):
    """Signed distance a - b."""
    return _diff(a, b)


def within(uint32_t s, uint32_t lo, uint32_t hi):
    """lo <= s < hi modulo 2^32."""
    return _in(s, lo, hi)
