# ICMP (RFC 792) and ICMPv6 (RFC 4443): the common 8-byte header; the error types quote the
# offending IP header after it.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

cpdef enum:
    ICMP_HEADER_LEN = 8
    ICMP_ECHO_REPLY = 0
    ICMP_DEST_UNREACH = 3
    ICMP_SOURCE_QUENCH = 4
    ICMP_REDIRECT = 5
    ICMP_ECHO_REQUEST = 8
    ICMP_TIME_EXCEEDED = 11
    ICMP_PARAM_PROBLEM = 12
    ICMPV6_DEST_UNREACH = 1
    ICMPV6_PACKET_TOO_BIG = 2
    ICMPV6_TIME_EXCEEDED = 3
    ICMPV6_PARAM_PROBLEM = 4
    ICMPV6_ECHO_REQUEST = 128
    ICMPV6_ECHO_REPLY = 129
    ICMPV6_NEIGHBOR_SOLICIT = 135
    ICMPV6_NEIGHBOR_ADVERT = 136
    ICMPV6_REDIRECT = 137

ctypedef struct icmp_repr_t:
    uint8_t type
    uint8_t code
    uint16_t checksum           # parse: the field
    uint32_t rest               # bytes 4..7: identifier << 16 | sequence for echo; MTU; pointer

# True for the types whose body quotes an IP header (RFC 792, RFC 4443 section 3).
cdef bint icmp_is_error(uint8_t type) noexcept nogil
cdef bint icmpv6_is_error(uint8_t type) noexcept nogil
cdef Py_ssize_t icmp_parse(const uint8_t* p, Py_ssize_t n, icmp_repr_t* r) noexcept nogil
# pseudo = 0 for ICMPv4; the IPv6 pseudo-header sum (next header 58) for ICMPv6.
cdef Py_ssize_t icmp_emit(uint8_t* p, Py_ssize_t cap, const icmp_repr_t* r, const uint8_t* payload,
                          Py_ssize_t payload_len, uint64_t pseudo) noexcept nogil
