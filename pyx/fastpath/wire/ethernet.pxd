# Ethernet II and 802.1Q / 802.1ad tags (IEEE 802.3, 802.1Q).
from libc.stdint cimport uint8_t, uint16_t

cpdef enum:
    ETH_HEADER_LEN = 14
    ETH_DST = 0                 # field offsets
    ETH_SRC = 6
    ETH_TYPE = 12
    VLAN_TAG_LEN = 4            # TPID (the outer type field) + TCI
    ETH_MAX_TAGS = 4

ctypedef struct eth_repr_t:
    uint8_t dst[6]
    uint8_t src[6]
    uint16_t ethertype          # the type after the last tag
    uint8_t vlan_count
    uint16_t vlan_tpid[4]       # per tag, outer first: 0x8100 (802.1Q) or 0x88a8 (802.1ad)
    uint16_t vlan_tci[4]        # PCP(3) DEI(1) VID(12)

cdef Py_ssize_t eth_header_len(const eth_repr_t* r) noexcept nogil
# Parse: header length including tags, or -ERR_* (record.pxd) on a short or over-tagged frame.
cdef Py_ssize_t eth_parse(const uint8_t* p, Py_ssize_t n, eth_repr_t* r) noexcept nogil
# Emit: bytes written, or -1 if cap is too small.
cdef Py_ssize_t eth_emit(uint8_t* p, Py_ssize_t cap, const eth_repr_t* r) noexcept nogil
