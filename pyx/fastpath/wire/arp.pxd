# ARP for Ethernet and IPv4 (RFC 826).
from libc.stdint cimport uint8_t, uint16_t, uint32_t

cpdef enum:
    ARP_LEN = 28
    ARP_REQUEST = 1
    ARP_REPLY = 2

ctypedef struct arp_repr_t:
    uint16_t htype              # 1 = Ethernet
    uint16_t ptype              # 0x0800
    uint16_t op
    uint8_t sha[6]
    uint8_t tha[6]
    uint32_t spa                # host-order IPv4
    uint32_t tpa

# Returns 28, -ERR_TRUNCATED, or -ERR_BAD_LENGTH (not Ethernet/IPv4 address sizes).
cdef Py_ssize_t arp_parse(const uint8_t* p, Py_ssize_t n, arp_repr_t* r) noexcept nogil
cdef Py_ssize_t arp_emit(uint8_t* p, Py_ssize_t cap, const arp_repr_t* r) noexcept nogil
