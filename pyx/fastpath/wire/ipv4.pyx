"""IPv4 header: C parse/emit and the Python ``Ipv4Repr``."""
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

from fastpath.includes.byteorder cimport load_be16, load_be32, store_be16, store_be32
from fastpath.wire.checksum cimport csum_partial, csum_finish, csum_ok
from fastpath.wire.record cimport ERR_TRUNCATED, ERR_BAD_VERSION, ERR_BAD_LENGTH, IPF_DF, IPF_MF
from fastpath.wire._pyrepr cimport borrow_readable, borrow_writable, release

import ipaddress
from fastpath.errors import MalformedPacketError


cdef Py_ssize_t ipv4_parse(const uint8_t* p, Py_ssize_t n, ipv4_repr_t* r) noexcept nogil:
    cdef Py_ssize_t ihl
    cdef uint16_t ff
    if n < IPV4_HEADER_LEN:
        return -ERR_TRUNCATED
    if (p[IPV4_VER_IHL] >> 4) != 4:
        return -ERR_BAD_VERSION
    ihl = (p[IPV4_VER_IHL] & 0x0f) * 4
    r.header_len = <uint8_t>ihl
    r.tos = p[IPV4_TOS]
    r.total_len = load_be16(p + IPV4_TOTAL_LEN)
    r.ident = load_be16(p + IPV4_IDENT)
    ff = load_be16(p + IPV4_FLAGS_FRAG)
    r.flags = (IPF_DF if ff & 0x4000 else 0) | (IPF_MF if ff & 0x2000 else 0)
    r.frag_off = ff & 0x1fff
    r.ttl = p[IPV4_TTL]
    r.proto = p[IPV4_PROTO]
    r.checksum = load_be16(p + IPV4_CHECKSUM)
    r.src = load_be32(p + IPV4_SRC)
    r.dst = load_be32(p + IPV4_DST)
    if ihl < IPV4_HEADER_LEN:
        return -ERR_BAD_LENGTH
    # A total length of 0 is what TCP segmentation offload leaves in captures; callers treat it
    # as "the captured length" (as tshark does), so it is not an error here.
    if r.total_len != 0 and r.total_len < ihl:
        return -ERR_BAD_LENGTH
    if n < ihl:
        return -ERR_TRUNCATED
    return ihl


cdef bint ipv4_header_checksum_ok(const uint8_t* p, Py_ssize_t header_len) noexcept nogil:
    return csum_ok(csum_partial(p, <size_t>header_len, 0))


cdef Py_ssize_t ipv4_emit(uint8_t* p, Py_ssize_t cap, const ipv4_repr_t* r,
                          uint16_t payload_len) noexcept nogil:
    cdef uint16_t total = IPV4_HEADER_LEN + payload_len
    cdef uint16_t ff = ((0x4000 if r.flags & IPF_DF else 0) | (0x2000 if r.flags & IPF_MF else 0) |
                        (r.frag_off & 0x1fff))
    cdef uint32_t sum
    if cap < IPV4_HEADER_LEN or payload_len > 0xffff - IPV4_HEADER_LEN:
        return -1
    # The checksum is summed from the field values, not read back from the bytes just
    # stored: loading 8 bytes over 1- and 2-byte stores stalls store-to-load forwarding.
    sum = ((0x45 << 8) | r.tos) + total + r.ident + ff + ((<uint32_t>r.ttl << 8) | r.proto)
    sum += (r.src >> 16) + (r.src & 0xffff) + (r.dst >> 16) + (r.dst & 0xffff)
    sum = (sum & 0xffff) + (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16)
    p[IPV4_VER_IHL] = 0x45
    p[IPV4_TOS] = r.tos
    store_be16(p + IPV4_TOTAL_LEN, total)
    store_be16(p + IPV4_IDENT, r.ident)
    store_be16(p + IPV4_FLAGS_FRAG, ff)
    p[IPV4_TTL] = r.ttl
    p[IPV4_PROTO] = r.proto
    store_be16(p + IPV4_CHECKSUM, <uint16_t>~sum)
    store_be32(p + IPV4_SRC, r.src)
    store_be32(p + IPV4_DST, r.dst)
    return IPV4_HEADER_LEN


def _addr(v):
    return v if isinstance(v, ipaddress.IPv4Address) else ipaddress.IPv4Address(v)


@cython.final
cdef class Ipv4Repr:
    """A validated IPv4 header (without options when emitted).

    ``payload_len`` is the payload length after the header; ``header_len`` and ``checksum`` are
    filled by ``parse`` (emit computes both)."""
    cdef public object src
    cdef public object dst
    cdef public int proto
    cdef public int ttl
    cdef public int tos
    cdef public int ident
    cdef public bint df
    cdef public bint mf
    cdef public int frag_off
    cdef public int payload_len
    cdef public int header_len
    cdef public int checksum

    def __init__(self, src, dst, int proto, int payload_len=0, int ttl=64, int tos=0, int ident=0,
                 bint df=False, bint mf=False, int frag_off=0):
        self.src = _addr(src)
        self.dst = _addr(dst)
        self.proto = proto
        self.payload_len = payload_len
        self.ttl = ttl
        self.tos = tos
        self.ident = ident
        self.df = df
        self.mf = mf
        self.frag_off = frag_off
        self.header_len = IPV4_HEADER_LEN
        self.checksum = 0

    cdef int _to_c(self, ipv4_repr_t* r) except -1:
        r.src = int(self.src)
        r.dst = int(self.dst)
        r.proto = self.proto
        r.ttl = self.ttl
        r.tos = self.tos
        r.ident = self.ident
        r.flags = (IPF_DF if self.df else 0) | (IPF_MF if self.mf else 0)
        r.frag_off = self.frag_off
        return 0

    @staticmethod
    def parse(data, bint verify_checksum=True):
        """Parse the header at the start of ``data``. Raises MalformedPacketError on a short or
        impossible header, or (with ``verify_checksum``) a bad header checksum. A total length
        of 0 (segmentation offload) is read as "the rest of ``data``"."""
        cdef Py_buffer view
        cdef ipv4_repr_t r
        cdef Py_ssize_t n, size
        cdef bint ok = True
        borrow_readable(data, &view)
        try:
            size = view.len
            n = ipv4_parse(<const uint8_t*>view.buf, size, &r)
            if n > 0 and verify_checksum:
                ok = ipv4_header_checksum_ok(<const uint8_t*>view.buf, n)
        finally:
            release(&view)
        if n == -ERR_BAD_VERSION:
            raise MalformedPacketError(f"IPv4: version field is not 4")
        if n == -ERR_BAD_LENGTH:
            raise MalformedPacketError(f"IPv4: impossible lengths (header {r.header_len}, "
                                       f"total {r.total_len})")
        if n < 0:
            raise MalformedPacketError(f"IPv4: header truncated ({size} bytes)")
        if not ok:
            raise MalformedPacketError(f"IPv4: bad header checksum {r.checksum:#06x}")
        total = r.total_len if r.total_len else size
        out = Ipv4Repr(r.src, r.dst, r.proto, total - n, r.ttl, r.tos, r.ident,
                       r.flags & IPF_DF, r.flags & IPF_MF, r.frag_off)
        out.header_len = n
        out.checksum = r.checksum
        return out

    def buffer_len(self):
        return IPV4_HEADER_LEN

    def emit(self, buf):
        """Write the 20-byte header at the start of ``buf``, checksum filled; returns 20."""
        cdef Py_buffer view
        cdef ipv4_repr_t r
        cdef Py_ssize_t n
        self._to_c(&r)
        borrow_writable(buf, &view)
        try:
            n = ipv4_emit(<uint8_t*>view.buf, view.len, &r, <uint16_t>self.payload_len)
        finally:
            release(&view)
        if n < 0:
            raise ValueError("buffer too small for an IPv4 header, or payload over 65515 bytes")
        return n

    def to_bytes(self):
        out = bytearray(IPV4_HEADER_LEN)
        self.emit(out)
        return bytes(out)

    def __eq__(self, other):
        return (isinstance(other, Ipv4Repr) and
                (self.src, self.dst, self.proto, self.payload_len, self.ttl, self.tos, self.ident,
                 self.df, self.mf, self.frag_off) ==
                (other.src, other.dst, other.proto, other.payload_len, other.ttl, other.tos,
                 other.ident, other.df, other.mf, other.frag_off))

    def __repr__(self):
        return (f"Ipv4Repr(src={str(self.src)!r}, dst={str(self.dst)!r}, proto={self.proto}, "
                f"payload_len={self.payload_len}, ttl={self.ttl}, ident={self.ident}, "
                f"df={self.df}, mf={self.mf}, frag_off={self.frag_off})")
