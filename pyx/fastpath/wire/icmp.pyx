"""ICMP / ICMPv6 common header: C parse/emit and the Python ``IcmpRepr``."""
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memmove

from fastpath.includes.byteorder cimport load_be16, load_be32, store_be16, store_be32
from fastpath.wire.checksum cimport csum_partial, csum_finish, csum_add_be16
from fastpath.wire.record cimport ERR_TRUNCATED
from fastpath.wire._pyrepr cimport borrow_readable, borrow_writable, release

from fastpath.errors import MalformedPacketError


cdef bint icmp_is_error(uint8_t type) noexcept nogil:
    # RFC 792: destination unreachable, source quench, redirect, time exceeded, parameter problem.
    return (type == ICMP_DEST_UNREACH or type == ICMP_SOURCE_QUENCH or type == ICMP_REDIRECT or
            type == ICMP_TIME_EXCEEDED or type == ICMP_PARAM_PROBLEM)


cdef bint icmpv6_is_error(uint8_t type) noexcept nogil:
    # RFC 4443 2.1: error messages have types 0-127; 1-4 are defined and quote the packet.
    return type >= 1 and type <= 4


cdef Py_ssize_t icmp_parse(const uint8_t* p, Py_ssize_t n, icmp_repr_t* r) noexcept nogil:
    if n < ICMP_HEADER_LEN:
        return -ERR_TRUNCATED
    r.type = p[0]
    r.code = p[1]
    r.checksum = load_be16(p + 2)
    r.rest = load_be32(p + 4)
    return ICMP_HEADER_LEN


cdef Py_ssize_t icmp_emit(uint8_t* p, Py_ssize_t cap, const icmp_repr_t* r, const uint8_t* payload,
                          Py_ssize_t payload_len, uint64_t pseudo) noexcept nogil:
    cdef Py_ssize_t total = ICMP_HEADER_LEN + payload_len
    if payload_len < 0 or cap < total:
        return -1
    p[0] = r.type
    p[1] = r.code
    store_be16(p + 2, 0)
    store_be32(p + 4, r.rest)
    if payload_len and payload != p + ICMP_HEADER_LEN:
        memmove(p + ICMP_HEADER_LEN, payload, <size_t>payload_len)
    store_be16(p + 2, csum_finish(csum_partial(p, <size_t>total, pseudo)))
    return total


@cython.final
cdef class IcmpRepr:
    """An ICMP or ICMPv6 header: type, code and the 32-bit rest-of-header (for echo,
    ``ident << 16 | seq``; see ``echo()``)."""
    cdef public int type
    cdef public int code
    cdef public unsigned int rest
    cdef public int checksum

    def __init__(self, int type, int code=0, unsigned int rest=0):
        self.type = type
        self.code = code
        self.rest = rest
        self.checksum = 0

    @staticmethod
    def echo(int ident, int seq, bint request=True, bint v6=False):
        if v6:
            t = ICMPV6_ECHO_REQUEST if request else ICMPV6_ECHO_REPLY
        else:
            t = ICMP_ECHO_REQUEST if request else ICMP_ECHO_REPLY
        return IcmpRepr(t, 0, ((ident & 0xffff) << 16) | (seq & 0xffff))

    @property
    def ident(self):
        return self.rest >> 16

    @property
    def seq(self):
        return self.rest & 0xffff

    @staticmethod
    def parse(data, pseudo=0, bint verify=False):
        """Parse the header; with ``verify``, check the checksum over the whole of ``data``
        (ICMPv6 needs ``pseudo``, the pseudo-header sum with next header 58)."""
        cdef Py_buffer view
        cdef icmp_repr_t r
        cdef Py_ssize_t n, size
        borrow_readable(data, &view)
        try:
            size = view.len
            n = icmp_parse(<const uint8_t*>view.buf, size, &r)
        finally:
            release(&view)
        if n < 0:
            raise MalformedPacketError(f"ICMP: header truncated ({size} bytes)")
        if verify:
            from fastpath.wire.checksum import verify_checksum
            if not verify_checksum(data, pseudo):
                raise MalformedPacketError(f"ICMP: bad checksum {r.checksum:#06x}")
        out = IcmpRepr(r.type, r.code, r.rest)
        out.checksum = r.checksum
        return out

    def buffer_len(self):
        return ICMP_HEADER_LEN

    def emit(self, buf, payload=b"", pseudo=0):
        cdef Py_buffer view, pl
        cdef icmp_repr_t r
        cdef Py_ssize_t n
        cdef uint64_t acc = csum_add_be16(0, <uint16_t>pseudo)
        r.type = self.type
        r.code = self.code
        r.rest = self.rest
        borrow_readable(payload, &pl)
        try:
            borrow_writable(buf, &view)
            try:
                n = icmp_emit(<uint8_t*>view.buf, view.len, &r, <const uint8_t*>pl.buf, pl.len, acc)
            finally:
                release(&view)
        finally:
            release(&pl)
        if n < 0:
            raise ValueError("buffer too small for the ICMP message")
        return n

    def to_bytes(self, payload=b"", pseudo=0):
        out = bytearray(ICMP_HEADER_LEN + len(payload))
        self.emit(out, payload, pseudo)
        return bytes(out)

    def __eq__(self, other):
        return (isinstance(other, IcmpRepr) and
                (self.type, self.code, self.rest) == (other.type, other.code, other.rest))

    def __repr__(self):
        return f"IcmpRepr(type={self.type}, code={self.code}, rest={self.rest:#010x})"
