# The Internet checksum (RFC 1071), pseudo-headers (RFC 768/793, RFC 8200 8.1) and incremental
# update (RFC 1624), as inline C so every module that cimports them gets them without a call.
#
# Conventions. A *partial sum* is a uint64_t accumulating the buffer as native-order words; it
# is byte-order independent until folded (RFC 1071 2(B)), which is what lets the loop load eight
# bytes at a time. Values that appear in headers (``csum_finish``, ``csum_update16``) are host
# integers of the big-endian field, the number tshark prints and ``store_be16`` writes.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from fastpath.includes.byteorder cimport load_ne64, load_ne32, store_be16, store_be32, bswap16, host_is_little_endian
from libc.string cimport memcpy


cdef inline uint64_t csum_partial(const uint8_t* p, size_t n, uint64_t acc) noexcept nogil:
    # Four independent accumulators of 32-bit halves: no carry chain, so the adds overlap.
    # Each accumulator takes one 32-bit value per 16 bytes; it cannot overflow below 64 GiB.
    cdef uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, w, x, y, z
    cdef uint16_t last
    cdef uint8_t pad[2]
    while n >= 32:
        w = load_ne64(p)
        x = load_ne64(p + 8)
        y = load_ne64(p + 16)
        z = load_ne64(p + 24)
        a0 += <uint32_t>w
        a1 += w >> 32
        a2 += <uint32_t>x
        a3 += x >> 32
        a0 += <uint32_t>y
        a1 += y >> 32
        a2 += <uint32_t>z
        a3 += z >> 32
        p += 32
        n -= 32
    while n >= 8:
        w = load_ne64(p)
        a0 += <uint32_t>w
        a1 += w >> 32
        p += 8
        n -= 8
    if n >= 4:
        a2 += load_ne32(p)
        p += 4
        n -= 4
    if n >= 2:
        memcpy(&last, p, 2)
        a3 += last
        p += 2
        n -= 2
    if n:
        # RFC 1071: an odd final byte is padded with a zero byte on its right.
        pad[0] = p[0]
        pad[1] = 0
        memcpy(&last, pad, 2)
        a3 += last
    w = a0 + a1
    w += (w < a1)
    x = a2 + a3
    x += (x < a3)
    w += x
    w += (w < x)
    acc += w
    acc += (acc < w)
    return acc


cdef inline uint16_t csum_fold(uint64_t acc) noexcept nogil:
    # End-around carry down to 16 bits; the result is in native word order.
    acc = (acc & 0xffffffffu) + (acc >> 32)
    acc = (acc & 0xffffffffu) + (acc >> 32)
    acc = (acc & 0xffffu) + (acc >> 16)
    acc = (acc & 0xffffu) + (acc >> 16)
    return <uint16_t>acc


cdef inline uint16_t native_to_be_value(uint16_t w) noexcept nogil:
    if host_is_little_endian():
        return bswap16(w)
    return w


cdef inline uint16_t csum_finish(uint64_t acc) noexcept nogil:
    # The checksum field value: complement of the folded sum, as a host integer.
    return native_to_be_value(<uint16_t>~csum_fold(acc))


cdef inline bint csum_ok(uint64_t acc) noexcept nogil:
    # A buffer that includes its own correct checksum sums to 0xffff (negative zero).
    return csum_fold(acc) == 0xffff


cdef inline uint64_t csum_add_be16(uint64_t acc, uint16_t v) noexcept nogil:
    # Add one 16-bit word given as the host integer of its network-order value.
    cdef uint8_t b[2]
    cdef uint16_t w
    store_be16(b, v)
    memcpy(&w, b, 2)
    return acc + w


cdef inline uint64_t csum_add_be32(uint64_t acc, uint32_t v) noexcept nogil:
    cdef uint8_t b[4]
    cdef uint32_t w
    store_be32(b, v)
    memcpy(&w, b, 4)
    return acc + w


cdef inline uint64_t pseudo_header_v4(uint32_t src, uint32_t dst, uint8_t proto,
                                      uint32_t length) noexcept nogil:
    # RFC 793 3.1 / RFC 768: source, destination, zero, protocol, TCP/UDP length.
    cdef uint64_t acc = csum_add_be32(0, src)
    acc = csum_add_be32(acc, dst)
    acc = csum_add_be16(acc, proto)
    return csum_add_be16(acc, <uint16_t>length)


cdef inline uint64_t pseudo_header_v6(const uint8_t* src, const uint8_t* dst, uint8_t next_header,
                                      uint32_t length) noexcept nogil:
    # RFC 8200 8.1: source, final destination, 32-bit upper-layer length, zeros, next header.
    cdef uint64_t acc = csum_partial(src, 16, 0)
    acc = csum_partial(dst, 16, acc)
    acc = csum_add_be32(acc, length)
    return csum_add_be16(acc, next_header)


cdef inline uint16_t csum_update16(uint16_t hc, uint16_t old, uint16_t new) noexcept nogil:
    # RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). Equation 3, not 2, so that the result agrees
    # with a full recomputation in the negative-zero case (RFC 1624 section 3).
    cdef uint32_t s = <uint32_t>(<uint16_t>~hc) + <uint16_t>~old + new
    s = (s & 0xffffu) + (s >> 16)
    s = (s & 0xffffu) + (s >> 16)
    return <uint16_t>~s


cdef inline uint16_t csum_update32(uint16_t hc, uint32_t old, uint32_t new) noexcept nogil:
    hc = csum_update16(hc, <uint16_t>(old >> 16), <uint16_t>(new >> 16))
    return csum_update16(hc, <uint16_t>old, <uint16_t>new)
