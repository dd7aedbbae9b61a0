"""SipHash-2-4 (Aumasson and Bernstein), RFC 6528 ISNs, RFC 7323 timestamp offsets, RFC 4987
SYN cookies (see isn.pxd)."""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

from fastpath.includes.byteorder cimport load_le32, store_be16, store_be32


cdef inline uint64_t _rotl(uint64_t x, int b) noexcept nogil:
    return (x << b) | (x >> (64 - b))


cdef inline uint64_t _le64(const uint8_t* p) noexcept nogil:
    return <uint64_t>load_le32(p) | (<uint64_t>load_le32(p + 4) << 32)


cdef uint64_t siphash24(const uint8_t* key, const uint8_t* msg, size_t n) noexcept nogil:
    cdef uint64_t k0 = _le64(key), k1 = _le64(key + 8)
    cdef uint64_t v0 = k0 ^ 0x736f6d6570736575ULL
    cdef uint64_t v1 = k1 ^ 0x646f72616e646f6dULL
    cdef uint64_t v2 = k0 ^ 0x6c7967656e657261ULL
    cdef uint64_t v3 = k1 ^ 0x7465646279746573ULL
    cdef uint64_t m, b = (<uint64_t>n) << 56
    cdef size_t i, left = n & 7, end = n - left
    cdef int r
    cdef uint8_t tail[8]
    i = 0
    while i < end:
        m = _le64(msg + i)
        v3 ^= m
        for r in range(2):
            v0 += v1; v1 = _rotl(v1, 13); v1 ^= v0; v0 = _rotl(v0, 32)
            v2 += v3; v3 = _rotl(v3, 16); v3 ^= v2
            v0 += v3; v3 = _rotl(v3, 21); v3 ^= v0
            v2 += v1; v1 = _rotl(v1, 17); v1 ^= v2; v2 = _rotl(v2, 32)
        v0 ^= m
        i += 8
    for r in range(8):
        tail[r] = 0
    for r in range(<int>left):
        tail[r] = msg[end + r]
    m = b | _le64(tail)
    v3 ^= m
    for r in range(2):
        v0 += v1; v1 = _rotl(v1, 13); v1 ^= v0; v0 = _rotl(v0, 32)
        v2 += v3; v3 = _rotl(v3, 16); v3 ^= v2
        v0 += v3; v3 = _rotl(v3, 21); v3 ^= v0
        v2 += v1; v1 = _rotl(v1, 17); v1 ^= v2; v2 = _rotl(v2, 32)
    v0 ^= m
    v2 ^= 0xff
    for r in range(4):
        v0 += v1; v1 = _rotl(v1, 13); v1 ^= v0; v0 = _rotl(v0, 32)
        v2 += v3; v3 = _rotl(v3, 16); v3 ^= v2
        v0 += v3; v3 = _rotl(v3, 21); v3 ^= v0
        v2 += v1; v1 = _rotl(v1, 17); v1 ^= v2; v2 = _rotl(v2, 32)
    return v0 ^ v1 ^ v2 ^ v3


cdef inline size_t _tuple(uint8_t* m, const uint8_t* laddr, uint16_t lport,
                          const uint8_t* raddr, uint16_t rport) noexcept nogil:
    memcpy(m, laddr, 16)
    memcpy(m + 16, raddr, 16)
    store_be16(m + 32, lport)
    store_be16(m + 34, rport)
    return 36


cdef uint32_t isn_generate(const tcp_secrets_t* s, const uint8_t* laddr, uint16_t lport,
                           const uint8_t* raddr, uint16_t rport, uint64_t now_us) noexcept nogil:
    cdef uint8_t m[40]
    cdef size_t n = _tuple(m, laddr, lport, raddr, rport)
    return <uint32_t>(now_us >> 2) + <uint32_t>siphash24(s.isn_key, m, n)


cdef uint32_t ts_offset_for(const tcp_secrets_t* s, const uint8_t* laddr, uint16_t lport,
                            const uint8_t* raddr, uint16_t rport) noexcept nogil:
    cdef uint8_t m[40]
    cdef size_t n = _tuple(m, laddr, lport, raddr, rport)
    return <uint32_t>siphash24(s.ts_key, m, n)


# Common MSS values, ascending; a cookie keeps the index of the largest not above the peer's.
cdef uint16_t[8] COOKIE_MSS
COOKIE_MSS[:] = [536, 1220, 1300, 1360, 1400, 1440, 1460, 8960]


cdef inline uint32_t _cookie_hash(const tcp_secrets_t* s, const uint8_t* laddr, uint16_t lport,
                                  const uint8_t* raddr, uint16_t rport, uint32_t peer_isn,
                                  uint32_t t, uint32_t mss_idx) noexcept nogil:
    cdef uint8_t m[48]
    cdef size_t n = _tuple(m, laddr, lport, raddr, rport)
    store_be32(m + n, peer_isn)
    store_be32(m + n + 4, (t << 8) | mss_idx)
    return <uint32_t>siphash24(s.cookie_key, m, n + 8) & 0xffffff


cdef uint32_t cookie_make(const tcp_secrets_t* s, const uint8_t* laddr, uint16_t lport,
                          const uint8_t* raddr, uint16_t rport, uint32_t peer_isn,
                          uint16_t peer_mss, uint64_t now_us) noexcept nogil:
    cdef uint32_t t = <uint32_t>((now_us // COOKIE_PERIOD_US) & 0x1f)
    cdef uint32_t idx = 0
    while idx + 1 < COOKIE_MSS_COUNT and COOKIE_MSS[idx + 1] <= peer_mss:
        idx += 1
    return (t << 27) | (idx << 24) | _cookie_hash(s, laddr, lport, raddr, rport, peer_isn, t, idx)


cdef uint16_t cookie_check(const tcp_secrets_t* s, const uint8_t* laddr, uint16_t lport,
                           const uint8_t* raddr, uint16_t rport, uint32_t peer_isn,
                           uint32_t cookie, uint64_t now_us) noexcept nogil:
    cdef uint32_t now_t = <uint32_t>((now_us // COOKIE_PERIOD_US) & 0x1f)
    cdef uint32_t t = cookie >> 27, idx = (cookie >> 24) & 0x7
    # Valid for the period it was made in and the next one.
    if ((now_t - t) & 0x1f) > 1:
        return 0
    if _cookie_hash(s, laddr, lport, raddr, rport, peer_isn, t, idx) != (cookie & 0xffffff):
        return 0
    return COOKIE_MSS[idx]


cdef uint32_t cookie_ts_encode(uint32_t ts_now, int wscale, bint sack) noexcept nogil:
    cdef uint32_t bits = 0x20 | (<uint32_t>(wscale if 0 <= wscale <= 14 else 0xf) & 0xf)
    if sack:
        bits |= 0x10
    return (ts_now & ~<uint32_t>0x3f) | bits


cdef int cookie_ts_decode(uint32_t tsecr, int* wscale, bint* sack) noexcept nogil:
    if not (tsecr & 0x20):
        return -1
    wscale[0] = -1 if (tsecr & 0xf) == 0xf else <int>(tsecr & 0xf)
    sack[0] = (tsecr & 0x10) != 0
    return 0


def siphash(bytes key, bytes msg):
    """SipHash-2-4 of msg under a 16-byte key (exposed for the reference-vector test)."""
    if len(key) != 16:
        raise ValueError("SipHash key is 16 bytes")
    return siphash24(<const uint8_t*><char*>key, <const uint8_t*><char*>msg, len(msg))
