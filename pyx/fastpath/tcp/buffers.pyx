"""Fixed-capacity send/receive rings and out-of-order reassembly (see buffers.pxd)."""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy

from fastpath.tcp.seq cimport seq_lt, seq_le, seq_gt, seq_ge, seq_max, seq_min
from fastpath.tcp.failpoint cimport fp_state_t, fp_state, fp_check, FP_SNDBUF_ALLOC, FP_RCVBUF_ALLOC, FP_OOO_INSERT

cdef fp_state_t* _fp = fp_state()


cdef inline void _ring_copy_in(uint8_t* ring, uint32_t cap, uint32_t pos, const uint8_t* p,
                               uint32_t n) noexcept nogil:
    cdef uint32_t first
    if pos >= cap:
        pos -= cap
    if pos + n <= cap:
        memcpy(ring + pos, p, n)
    else:
        first = cap - pos
        memcpy(ring + pos, p, first)
        memcpy(ring, p + first, n - first)


cdef int sndbuf_init(tcp_sndbuf_t* b, uint32_t cap) noexcept nogil:
    b.head = 0
    b.len = 0
    b.cap = 0
    b.data = NULL
    if fp_check(_fp, FP_SNDBUF_ALLOC):
        return -1
    b.data = <uint8_t*>malloc(cap)
    if b.data == NULL:
        return -1
    b.cap = cap
    return 0


cdef void sndbuf_free(tcp_sndbuf_t* b) noexcept nogil:
    free(b.data)
    b.data = NULL
    b.cap = 0
    b.len = 0
    b.head = 0


cdef uint32_t sndbuf_write(tcp_sndbuf_t* b, const uint8_t* p, uint32_t n) noexcept nogil:
    cdef uint32_t room = b.cap - b.len
    if n > room:
        n = room
    if n:
        _ring_copy_in(b.data, b.cap, b.head + b.len, p, n)
        b.len += n
    return n


cdef void sndbuf_consume(tcp_sndbuf_t* b, uint32_t n) noexcept nogil:
    if n > b.len:
        n = b.len
    b.len -= n
    b.head += n
    if b.head >= b.cap:
        b.head -= b.cap
    if b.len == 0:
        b.head = 0          # keep the next writes contiguous


cdef int rcvbuf_init(tcp_rcvbuf_t* b, uint32_t cap) noexcept nogil:
    b.head = 0
    b.len = 0
    b.cap = 0
    b.ooo_count = 0
    b.ooo_clock = 0
    b.data = NULL
    if fp_check(_fp, FP_RCVBUF_ALLOC):
        return -1
    b.data = <uint8_t*>malloc(cap)
    if b.data == NULL:
        return -1
    b.cap = cap
    return 0


cdef void rcvbuf_free(tcp_rcvbuf_t* b) noexcept nogil:
    free(b.data)
    b.data = NULL
    b.cap = 0
    b.len = 0
    b.head = 0
    b.ooo_count = 0


cdef inline void _ooo_remove(tcp_rcvbuf_t* b, int i, int count) noexcept nogil:
    # Remove ranges i .. i+count-1.
    cdef int k
    for k in range(i, b.ooo_count - count):
        b.ooo_left[k] = b.ooo_left[k + count]
        b.ooo_right[k] = b.ooo_right[k + count]
        b.ooo_stamp[k] = b.ooo_stamp[k + count]
    b.ooo_count -= count


cdef int64_t rcvbuf_insert(tcp_rcvbuf_t* b, uint32_t rcv_nxt, uint32_t seq, const uint8_t* p,
                           uint32_t n) noexcept nogil:
    cdef uint32_t right = seq + n, nxt
    cdef int i, j, k, drop
    if n == 0:
        return 0
    if seq == rcv_nxt:
        _ring_copy_in(b.data, b.cap, b.head + b.len, p, n)
        nxt = right
        # Absorb out-of-order ranges that are now contiguous (they are sorted).
        drop = 0
        while drop < b.ooo_count and seq_le(b.ooo_left[drop], nxt):
            nxt = seq_max(nxt, b.ooo_right[drop])
            drop += 1
        if drop:
            _ooo_remove(b, 0, drop)
        b.len += nxt - rcv_nxt
        return nxt - rcv_nxt
    # Out of order: find the ranges it touches (overlapping or adjacent).
    i = 0
    while i < b.ooo_count and seq_lt(b.ooo_right[i], seq):
        i += 1
    j = i
    while j < b.ooo_count and seq_le(b.ooo_left[j], right):
        j += 1
    # Ranges i .. j-1 touch [seq, right).
    b.ooo_clock += 1
    if j == i:
        if b.ooo_count == OOO_MAX or fp_check(_fp, FP_OOO_INSERT):
            return -1
        k = b.ooo_count
        while k > i:
            b.ooo_left[k] = b.ooo_left[k - 1]
            b.ooo_right[k] = b.ooo_right[k - 1]
            b.ooo_stamp[k] = b.ooo_stamp[k - 1]
            k -= 1
        b.ooo_left[i] = seq
        b.ooo_right[i] = right
        b.ooo_stamp[i] = b.ooo_clock
        b.ooo_count += 1
    else:
        b.ooo_left[i] = seq_min(seq, b.ooo_left[i])
        b.ooo_right[i] = seq_max(right, b.ooo_right[j - 1])
        b.ooo_stamp[i] = b.ooo_clock
        if j - i > 1:
            _ooo_remove(b, i + 1, j - i - 1)
    _ring_copy_in(b.data, b.cap, b.head + b.len + (seq - rcv_nxt), p, n)
    return 0


cdef uint32_t rcvbuf_read(tcp_rcvbuf_t* b, uint8_t* out, uint32_t n) noexcept nogil:
    cdef uint32_t first
    if n > b.len:
        n = b.len
    if n == 0:
        return 0
    if b.head + n <= b.cap:
        memcpy(out, b.data + b.head, n)
    else:
        first = b.cap - b.head
        memcpy(out, b.data + b.head, first)
        memcpy(out + first, b.data, n - first)
    rcvbuf_consume(b, n)
    return n


cdef void rcvbuf_consume(tcp_rcvbuf_t* b, uint32_t n) noexcept nogil:
    if n > b.len:
        n = b.len
    b.len -= n
    b.head += n
    if b.head >= b.cap:
        b.head -= b.cap
    if b.len == 0 and b.ooo_count == 0:
        b.head = 0


cdef int rcvbuf_sack_blocks(tcp_rcvbuf_t* b, uint32_t* left, uint32_t* right, int max) noexcept nogil:
    # Selection by recency over at most OOO_MAX ranges: a few comparisons, no sorting.
    cdef int out = 0, i, best
    cdef uint16_t used = 0      # bitmask over the (<= 16) ranges already reported
    cdef uint16_t age, best_age
    while out < max and out < b.ooo_count:
        best = -1
        best_age = 0xffff
        for i in range(b.ooo_count):
            if used & (1 << i):
                continue
            age = <uint16_t>(b.ooo_clock - b.ooo_stamp[i])     # wraps consistently
            if best < 0 or age < best_age:
                best = i
                best_age = age
        used |= <uint16_t>(1 << best)
        left[out] = b.ooo_left[best]
        right[out] = b.ooo_right[best]
        out += 1
    return out


cdef void rcvbuf_clear_ooo(tcp_rcvbuf_t* b) noexcept nogil:
    b.ooo_count = 0
