# Sequence-number arithmetic modulo 2^32 (RFC 9293 3.4). Every comparison of sequence numbers,
# acknowledgment numbers and timestamps in the core goes through these; a plain `<` on two
# uint32_t sequence numbers is a bug once the space wraps.
from libc.stdint cimport uint32_t, int32_t


cdef inline int32_t seq_diff(uint32_t a, uint32_t b) noexcept nogil:
    # Signed distance a - b, valid while the two are less than 2^31 apart.
    return <int32_t>(a - b)


cdef inline bint seq_lt(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(a - b) < 0


cdef inline bint seq_le(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(a - b) <= 0


cdef inline bint seq_gt(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(a - b) > 0


cdef inline bint seq_ge(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(a - b) >= 0


cdef inline uint32_t seq_max(uint32_t a, uint32_t b) noexcept nogil:
    return b if <int32_t>(a - b) < 0 else a


cdef inline uint32_t seq_min(uint32_t a, uint32_t b) noexcept nogil:
    return a if <int32_t>(a - b) < 0 else b


cdef inline bint seq_in(uint32_t s, uint32_t lo, uint32_t hi) noexcept nogil:
    # lo <= s < hi, as unsigned offsets from lo (correct for any window below 2^32).
    return <uint32_t>(s - lo) < <uint32_t>(hi - lo)
