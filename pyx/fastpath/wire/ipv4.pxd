# IPv4 (RFC 791), header checksum (RFC 1071).
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

cpdef enum:
    IPV4_HEADER_LEN = 20
    IPV4_MAX_HEADER_LEN = 60
    IPV4_VER_IHL = 0            # field offsets
    IPV4_TOS = 1
    IPV4_TOTAL_LEN = 2
    IPV4_IDENT = 4
    IPV4_FLAGS_FRAG = 6
    IPV4_TTL = 8
    IPV4_PROTO = 9
    IPV4_CHECKSUM = 10
    IPV4_SRC = 12
    IPV4_DST = 16

ctypedef struct ipv4_repr_t:
    uint32_t src                # host-order integers
    uint32_t dst
    uint16_t total_len          # parse: the field (0 is kept: TSO artefact); emit: computed
    uint16_t ident
    uint16_t frag_off           # 8-byte units
    uint16_t checksum           # parse: the field value
    uint8_t flags               # IPF_DF | IPF_MF (record.pxd)
    uint8_t ttl
    uint8_t proto
    uint8_t tos                 # DSCP << 2 | ECN
    uint8_t header_len          # parse: IHL * 4; emit writes 20 (no options)

# Parse the fixed header: returns IHL*4, or -ERR_TRUNCATED / -ERR_BAD_VERSION / -ERR_BAD_LENGTH
# (IHL < 5, or a nonzero total length shorter than the header).
cdef Py_ssize_t ipv4_parse(const uint8_t* p, Py_ssize_t n, ipv4_repr_t* r) noexcept nogil
cdef bint ipv4_header_checksum_ok(const uint8_t* p, Py_ssize_t header_len) noexcept nogil
# Emit a 20-byte header for payload_len bytes of payload, checksum filled; 20, or -1 if no room.
cdef Py_ssize_t ipv4_emit(uint8_t* p, Py_ssize_t cap, const ipv4_repr_t* r,
                          uint16_t payload_len) noexcept nogil
