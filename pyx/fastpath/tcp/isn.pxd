# Initial sequence numbers (RFC 6528), timestamp offsets (RFC 7323 5.4) and SYN cookies
# (RFC 4987 3.6), all from SipHash-2-4 keyed with a per-stack secret.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

ctypedef struct tcp_secrets_t:
    uint8_t isn_key[16]
    uint8_t ts_key[16]
    uint8_t cookie_key[16]
    uint8_t hash_key[16]        # connection-table hashing (collision-flooding resistant)

cdef enum:
    COOKIE_PERIOD_US = 64000000     # a cookie's time counter ticks every 64 s
    COOKIE_MSS_COUNT = 8

cdef uint64_t siphash24(const uint8_t* key, const uint8_t* msg, size_t n) noexcept nogil
# RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a 4 us clock.
cdef uint32_t isn_generate(const tcp_secrets_t* s, const uint8_t* laddr, uint16_t lport,
                           const uint8_t* raddr, uint16_t rport, uint64_t now_us) noexcept nogil
cdef uint32_t ts_offset_for(const tcp_secrets_t* s, const uint8_t* laddr, uint16_t lport,
                            const uint8_t* raddr, uint16_t rport) noexcept nogil
# A SYN cookie to use as our ISS: 5 bits of time, 3 bits of MSS index, 24 bits of keyed hash
# over the 4-tuple, the peer's ISN and the time.
cdef uint32_t cookie_make(const tcp_secrets_t* s, const uint8_t* laddr, uint16_t lport,
                          const uint8_t* raddr, uint16_t rport, uint32_t peer_isn,
                          uint16_t peer_mss, uint64_t now_us) noexcept nogil
# The MSS the cookie encodes when it is valid (made by us, for this 4-tuple and peer ISN, in
# the last two periods), else 0.
cdef uint16_t cookie_check(const tcp_secrets_t* s, const uint8_t* laddr, uint16_t lport,
                           const uint8_t* raddr, uint16_t rport, uint32_t peer_isn,
                           uint32_t cookie, uint64_t now_us) noexcept nogil
# Options that a cookie connection would otherwise forget, carried in the low 6 bits of our
# SYN-ACK's TSval and returned in the peer's TSecr (the scheme Linux uses): window scale
# (0xf = none) and SACK-permitted, with a marker bit.
cdef uint32_t cookie_ts_encode(uint32_t ts_now, int wscale, bint sack) noexcept nogil
cdef int cookie_ts_decode(uint32_t tsecr, int* wscale, bint* sack) noexcept nogil
