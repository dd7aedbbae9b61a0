"""Ethernet II with stacked 802.1Q / 802.1ad tags: C parse/emit and the Python ``EthernetRepr``."""
cimport cython
from libc.stdint cimport uint8_t, uint16_t
from libc.string cimport memcpy

from fastpath.includes.byteorder cimport load_be16, store_be16
from fastpath.wire.record cimport ERR_TRUNCATED, ERR_TOO_MANY_TAGS, ETH_P_VLAN, ETH_P_QINQ, ETH_P_QINQ_OLD
from fastpath.wire._pyrepr cimport borrow_readable, borrow_writable, release, mac_bytes, parse_mac

from fastpath.errors import MalformedPacketError


cdef inline bint is_tag_type(uint16_t t) noexcept nogil:
    return t == ETH_P_VLAN or t == ETH_P_QINQ or t == ETH_P_QINQ_OLD


cdef Py_ssize_t eth_header_len(const eth_repr_t* r) noexcept nogil:
    return ETH_HEADER_LEN + VLAN_TAG_LEN * r.vlan_count


cdef Py_ssize_t eth_parse(const uint8_t* p, Py_ssize_t n, eth_repr_t* r) noexcept nogil:
    cdef Py_ssize_t off = ETH_TYPE
    cdef uint16_t t
    if n < ETH_HEADER_LEN:
        return -ERR_TRUNCATED
    memcpy(r.dst, p + ETH_DST, 6)
    memcpy(r.src, p + ETH_SRC, 6)
    r.vlan_count = 0
    t = load_be16(p + off)
    while is_tag_type(t):
        if r.vlan_count == ETH_MAX_TAGS:
            return -ERR_TOO_MANY_TAGS
        if off + 6 > n:
            return -ERR_TRUNCATED
        r.vlan_tpid[r.vlan_count] = t
        r.vlan_tci[r.vlan_count] = load_be16(p + off + 2)
        r.vlan_count += 1
        off += VLAN_TAG_LEN
        t = load_be16(p + off)
    r.ethertype = t
    return off + 2


cdef Py_ssize_t eth_emit(uint8_t* p, Py_ssize_t cap, const eth_repr_t* r) noexcept nogil:
    cdef Py_ssize_t need = eth_header_len(r), off = ETH_TYPE
    cdef int i
    if cap < need or r.vlan_count > ETH_MAX_TAGS:
        return -1
    memcpy(p + ETH_DST, r.dst, 6)
    memcpy(p + ETH_SRC, r.src, 6)
    for i in range(r.vlan_count):
        store_be16(p + off, r.vlan_tpid[i])
        store_be16(p + off + 2, r.vlan_tci[i])
        off += VLAN_TAG_LEN
    store_be16(p + off, r.ethertype)
    return need


@cython.final
cdef class EthernetRepr:
    """An Ethernet header: addresses, type, and VLAN tags as (tpid, pcp, dei, vid), outer first."""
    cdef public bytes dst
    cdef public bytes src
    cdef public int ethertype
    cdef public tuple tags

    def __init__(self, dst, src, int ethertype, tags=()):
        self.dst = parse_mac(dst)
        self.src = parse_mac(src)
        self.ethertype = ethertype
        self.tags = tuple(tuple(t) for t in tags)

    cdef int _to_c(self, eth_repr_t* r) except -1:
        if len(self.tags) > ETH_MAX_TAGS:
            raise ValueError(f"at most {ETH_MAX_TAGS} VLAN tags, got {len(self.tags)}")
        memcpy(r.dst, <const char*>self.dst, 6)
        memcpy(r.src, <const char*>self.src, 6)
        r.ethertype = self.ethertype
        r.vlan_count = len(self.tags)
        for i, (tpid, pcp, dei, vid) in enumerate(self.tags):
            if not (0 <= vid < 4096 and 0 <= pcp < 8 and dei in (0, 1)):
                raise ValueError(f"bad VLAN tag {(tpid, pcp, dei, vid)}")
            r.vlan_tpid[i] = tpid
            r.vlan_tci[i] = (pcp << 13) | (dei << 12) | vid
        return 0

    @staticmethod
    def parse(data):
        """Parse the header at the start of ``data``; raises MalformedPacketError."""
        cdef Py_buffer view
        cdef eth_repr_t r
        cdef Py_ssize_t n
        borrow_readable(data, &view)
        try:
            n = eth_parse(<const uint8_t*>view.buf, view.len, &r)
        finally:
            release(&view)
        if n == -ERR_TOO_MANY_TAGS:
            raise MalformedPacketError(f"Ethernet: more than {ETH_MAX_TAGS} VLAN tags")
        if n < 0:
            raise MalformedPacketError(f"Ethernet: header truncated ({len(data)} bytes)")
        tags = tuple((r.vlan_tpid[i], r.vlan_tci[i] >> 13, (r.vlan_tci[i] >> 12) & 1,
                      r.vlan_tci[i] & 0xfff) for i in range(r.vlan_count))
        return EthernetRepr(mac_bytes(r.dst), mac_bytes(r.src), r.ethertype, tags)

    def buffer_len(self):
        return ETH_HEADER_LEN + VLAN_TAG_LEN * len(self.tags)

    def emit(self, buf):
        """Write the header at the start of ``buf`` (writable buffer); returns its length."""
        cdef Py_buffer view
        cdef eth_repr_t r
        cdef Py_ssize_t n
        self._to_c(&r)
        borrow_writable(buf, &view)
        try:
            n = eth_emit(<uint8_t*>view.buf, view.len, &r)
        finally:
            release(&view)
        if n < 0:
            raise ValueError(f"buffer too small for a {self.buffer_len()}-byte Ethernet header")
        return n

    def to_bytes(self):
        out = bytearray(self.buffer_len())
        self.emit(out)
        return bytes(out)

    def __eq__(self, other):
        return (isinstance(other, EthernetRepr) and self.dst == other.dst and self.src == other.src
                and self.ethertype == other.ethertype and self.tags == other.tags)

    def __repr__(self):
        return (f"EthernetRepr(dst={self.dst.hex(':')!r}, src={self.src.hex(':')!r}, "
                f"ethertype={self.ethertype:#06x}, tags={self.tags!r})")
