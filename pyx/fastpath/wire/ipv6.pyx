"""IPv6 fixed header and extension-header walk: C parse/emit and the Python ``Ipv6Repr``."""
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

from fastpath.includes.byteorder cimport load_be16, load_be32, store_be16, store_be32
from fastpath.wire.record cimport ERR_TRUNCATED, ERR_BAD_VERSION, IPF_FRAGMENT, IPF_MF
from fastpath.wire._pyrepr cimport borrow_readable, borrow_writable, release

import ipaddress
from fastpath.errors import MalformedPacketError


cdef Py_ssize_t ipv6_parse(const uint8_t* p, Py_ssize_t n, ipv6_repr_t* r) noexcept nogil:
    cdef uint32_t vtf
    if n < IPV6_HEADER_LEN:
        return -ERR_TRUNCATED
    vtf = load_be32(p + IPV6_VTC_FLOW)
    if (vtf >> 28) != 6:
        return -ERR_BAD_VERSION
    r.traffic_class = (vtf >> 20) & 0xff
    r.flow_label = vtf & 0xfffff
    r.payload_len = load_be16(p + IPV6_PAYLOAD_LEN)
    r.next_header = p[IPV6_NEXT_HEADER]
    r.hop_limit = p[IPV6_HOP_LIMIT]
    memcpy(r.src, p + IPV6_SRC, 16)
    memcpy(r.dst, p + IPV6_DST, 16)
    return IPV6_HEADER_LEN


cdef Py_ssize_t ipv6_emit(uint8_t* p, Py_ssize_t cap, const ipv6_repr_t* r,
                          uint32_t payload_len) noexcept nogil:
    # Jumbograms need a hop-by-hop option and are not emitted.
    if cap < IPV6_HEADER_LEN or payload_len > 0xffff:
        return -1
    store_be32(p + IPV6_VTC_FLOW, (<uint32_t>6 << 28) | (<uint32_t>r.traffic_class << 20) |
               (r.flow_label & 0xfffff))
    store_be16(p + IPV6_PAYLOAD_LEN, <uint16_t>payload_len)
    p[IPV6_NEXT_HEADER] = r.next_header
    p[IPV6_HOP_LIMIT] = r.hop_limit
    memcpy(p + IPV6_SRC, r.src, 16)
    memcpy(p + IPV6_DST, r.dst, 16)
    return IPV6_HEADER_LEN


def _addr(v):
    return v if isinstance(v, ipaddress.IPv6Address) else ipaddress.IPv6Address(v)


@cython.final
cdef class Ipv6Repr:
    """A validated IPv6 fixed header. ``parse`` also walks the extension headers and reports
    ``upper_proto`` / ``upper_offset`` (where the upper-layer header starts), ``final_dst``
    (the routing header's final destination, for pseudo-header checksums) and fragment info."""
    cdef public object src
    cdef public object dst
    cdef public int next_header
    cdef public int payload_len
    cdef public int hop_limit
    cdef public int traffic_class
    cdef public int flow_label
    cdef public int upper_proto
    cdef public int upper_offset
    cdef public object final_dst
    cdef public object fragment       # (offset in 8-byte units, more, ident) or None

    def __init__(self, src, dst, int next_header, int payload_len=0, int hop_limit=64,
                 int traffic_class=0, int flow_label=0):
        self.src = _addr(src)
        self.dst = _addr(dst)
        self.next_header = next_header
        self.payload_len = payload_len
        self.hop_limit = hop_limit
        self.traffic_class = traffic_class
        self.flow_label = flow_label
        self.upper_proto = next_header
        self.upper_offset = IPV6_HEADER_LEN
        self.final_dst = self.dst
        self.fragment = None

    cdef int _to_c(self, ipv6_repr_t* r) except -1:
        memcpy(r.src, <const char*>self.src.packed, 16)
        memcpy(r.dst, <const char*>self.dst.packed, 16)
        r.next_header = self.next_header
        r.hop_limit = self.hop_limit
        r.traffic_class = self.traffic_class
        r.flow_label = self.flow_label
        return 0

    @staticmethod
    def parse(data):
        """Parse the fixed header and walk the extension headers of the packet in ``data``."""
        cdef Py_buffer view
        cdef ipv6_repr_t r
        cdef ipv6_ext_t ext
        cdef Py_ssize_t n, size
        cdef int w = 0
        borrow_readable(data, &view)
        try:
            size = view.len
            n = ipv6_parse(<const uint8_t*>view.buf, size, &r)
            if n > 0:
                w = ipv6_walk(<const uint8_t*>view.buf, size, &ext)
                final = (<const char*>ext.final_dst)[:16] if ext.final_dst != NULL else None
        finally:
            release(&view)
        if n == -ERR_BAD_VERSION:
            raise MalformedPacketError("IPv6: version field is not 6")
        if n < 0:
            raise MalformedPacketError(f"IPv6: header truncated ({size} bytes)")
        if w < 0:
            raise MalformedPacketError(f"IPv6: extension header {ext.upper_proto} at offset "
                                       f"{ext.upper_off} is truncated or the chain is too long")
        out = Ipv6Repr((<const char*>r.src)[:16], (<const char*>r.dst)[:16], r.next_header,
                       r.payload_len, r.hop_limit, r.traffic_class, r.flow_label)
        if ext.jumbo_len:
            out.payload_len = ext.jumbo_len
        out.upper_proto = ext.upper_proto
        out.upper_offset = ext.upper_off
        if final is not None:
            out.final_dst = ipaddress.IPv6Address(final)
        if ext.flags & IPF_FRAGMENT:
            out.fragment = (ext.frag_off, bool(ext.flags & IPF_MF), ext.frag_ident)
        return out

    def buffer_len(self):
        return IPV6_HEADER_LEN

    def emit(self, buf):
        cdef Py_buffer view
        cdef ipv6_repr_t r
        cdef Py_ssize_t n
        self._to_c(&r)
        borrow_writable(buf, &view)
        try:
            n = ipv6_emit(<uint8_t*>view.buf, view.len, &r, <uint32_t>self.payload_len)
        finally:
            release(&view)
        if n < 0:
            raise ValueError("buffer too small for an IPv6 header, or payload over 65535 bytes")
        return n

    def to_bytes(self):
        out = bytearray(IPV6_HEADER_LEN)
        self.emit(out)
        return bytes(out)

    def __eq__(self, other):
        return (isinstance(other, Ipv6Repr) and
                (self.src, self.dst, self.next_header, self.payload_len, self.hop_limit,
                 self.traffic_class, self.flow_label) ==
                (other.src, other.dst, other.next_header, other.payload_len, other.hop_limit,
                 other.traffic_class, other.flow_label))

    def __repr__(self):
        return (f"Ipv6Repr(src={str(self.src)!r}, dst={str(self.dst)!r}, "
                f"next_header={self.next_header}, payload_len={self.payload_len}, "
                f"hop_limit={self.hop_limit})")
