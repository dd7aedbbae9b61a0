# UDP (RFC 768); over IPv6 the checksum is mandatory (RFC 8200 8.1).
from libc.stdint cimport uint8_t, uint16_t, uint64_t

cpdef enum:
    UDP_HEADER_LEN = 8

ctypedef struct udp_repr_t:
    uint16_t sport
    uint16_t dport
    uint16_t length             # parse: the field; emit: computed
    uint16_t checksum           # parse: the field (0 = none over IPv4)

# Returns 8, or -ERR_TRUNCATED, or -ERR_BAD_LENGTH (length field < 8).
cdef Py_ssize_t udp_parse(const uint8_t* p, Py_ssize_t n, udp_repr_t* r) noexcept nogil
# Writes header + payload with the checksum (a computed 0 is sent as 0xffff, RFC 768);
# with_checksum=False writes 0 (IPv4 only). Returns the datagram length, or -1 if no room.
cdef Py_ssize_t udp_emit(uint8_t* p, Py_ssize_t cap, const udp_repr_t* r, const uint8_t* payload,
                         Py_ssize_t payload_len, uint64_t pseudo, bint with_checksum) noexcept nogil
