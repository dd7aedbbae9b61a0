# Whole frames from header structs: [Ethernet (+tags)] + IPv4/IPv6 + TCP, with every checksum.
# The TCP engine emits its segments through these.
from libc.stdint cimport uint8_t
from fastpath.wire.ethernet cimport eth_repr_t
from fastpath.wire.ipv4 cimport ipv4_repr_t
from fastpath.wire.ipv6 cimport ipv6_repr_t
from fastpath.wire.tcp cimport tcp_repr_t

# eth may be NULL for a raw IP packet (its ethertype is set from the IP version). The IP
# header's protocol / next header is set to TCP. Returns the frame length, or -1 if cap is too
# small or the headers cannot be emitted (options over 40 bytes, payload too long).
cdef Py_ssize_t build_tcp_ipv4(uint8_t* p, Py_ssize_t cap, const eth_repr_t* eth,
                               const ipv4_repr_t* ip, const tcp_repr_t* tcp,
                               const uint8_t* payload, Py_ssize_t payload_len) noexcept nogil
cdef Py_ssize_t build_tcp_ipv6(uint8_t* p, Py_ssize_t cap, const eth_repr_t* eth,
                               const ipv6_repr_t* ip, const tcp_repr_t* tcp,
                               const uint8_t* payload, Py_ssize_t payload_len) noexcept nogil
