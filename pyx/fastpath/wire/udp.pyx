"""UDP header: C parse/emit and the Python ``UdpRepr``."""
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint64_t
from libc.string cimport memmove

from fastpath.includes.byteorder cimport load_be16, store_be16
from fastpath.wire.checksum cimport csum_partial, csum_finish, csum_add_be16
from fastpath.wire.record cimport ERR_TRUNCATED, ERR_BAD_LENGTH
from fastpath.wire._pyrepr cimport borrow_readable, borrow_writable, release

from fastpath.errors import MalformedPacketError


cdef Py_ssize_t udp_parse(const uint8_t* p, Py_ssize_t n, udp_repr_t* r) noexcept nogil:
    if n < UDP_HEADER_LEN:
        return -ERR_TRUNCATED
    r.sport = load_be16(p)
    r.dport = load_be16(p + 2)
    r.length = load_be16(p + 4)
    r.checksum = load_be16(p + 6)
    if r.length < UDP_HEADER_LEN:
        return -ERR_BAD_LENGTH
    return UDP_HEADER_LEN


cdef Py_ssize_t udp_emit(uint8_t* p, Py_ssize_t cap, const udp_repr_t* r, const uint8_t* payload,
                         Py_ssize_t payload_len, uint64_t pseudo, bint with_checksum) noexcept nogil:
    cdef Py_ssize_t total = UDP_HEADER_LEN + payload_len
    cdef uint16_t c
    if payload_len < 0 or cap < total or total > 0xffff:
        return -1
    store_be16(p, r.sport)
    store_be16(p + 2, r.dport)
    store_be16(p + 4, <uint16_t>total)
    store_be16(p + 6, 0)
    if payload_len and payload != p + UDP_HEADER_LEN:
        memmove(p + UDP_HEADER_LEN, payload, <size_t>payload_len)
    if with_checksum:
        c = csum_finish(csum_partial(p, <size_t>total, pseudo))
        # RFC 768: a computed zero is sent as all ones; zero on the wire means "no checksum".
        store_be16(p + 6, c if c != 0 else 0xffff)
    return total


@cython.final
cdef class UdpRepr:
    """A UDP header. ``length`` and ``checksum`` are filled by ``parse``."""
    cdef public int sport
    cdef public int dport
    cdef public int length
    cdef public int checksum

    def __init__(self, int sport, int dport):
        self.sport = sport
        self.dport = dport
        self.length = 0
        self.checksum = 0

    @staticmethod
    def parse(data, pseudo=None):
        """Parse the header; with ``pseudo``, verify a nonzero checksum over the datagram."""
        cdef Py_buffer view
        cdef udp_repr_t r
        cdef Py_ssize_t n, size
        borrow_readable(data, &view)
        try:
            size = view.len
            n = udp_parse(<const uint8_t*>view.buf, size, &r)
        finally:
            release(&view)
        if n == -ERR_BAD_LENGTH:
            raise MalformedPacketError(f"UDP: length field {r.length} is below 8")
        if n < 0:
            raise MalformedPacketError(f"UDP: header truncated ({size} bytes)")
        if pseudo is not None and r.checksum != 0:
            from fastpath.wire.checksum import verify_checksum
            if r.length > size or not verify_checksum(memoryview(data)[:r.length], pseudo):
                raise MalformedPacketError(f"UDP: bad checksum {r.checksum:#06x}")
        out = UdpRepr(r.sport, r.dport)
        out.length = r.length
        out.checksum = r.checksum
        return out

    def buffer_len(self):
        return UDP_HEADER_LEN

    def emit(self, buf, payload=b"", pseudo=0, bint with_checksum=True):
        """Write header and ``payload`` into ``buf`` with the checksum over ``pseudo`` (the
        pseudo-header sum for the datagram length). Returns the datagram length."""
        cdef Py_buffer view, pl
        cdef udp_repr_t r
        cdef Py_ssize_t n
        cdef uint64_t acc = csum_add_be16(0, <uint16_t>pseudo)
        r.sport = self.sport
        r.dport = self.dport
        borrow_readable(payload, &pl)
        try:
            borrow_writable(buf, &view)
            try:
                n = udp_emit(<uint8_t*>view.buf, view.len, &r, <const uint8_t*>pl.buf, pl.len,
                             acc, with_checksum)
            finally:
                release(&view)
        finally:
            release(&pl)
        if n < 0:
            raise ValueError("buffer too small for the UDP datagram, or over 65535 bytes")
        return n

    def to_bytes(self, payload=b"", pseudo=0, bint with_checksum=True):
        out = bytearray(UDP_HEADER_LEN + len(payload))
        self.emit(out, payload, pseudo, with_checksum)
        return bytes(out)

    def __eq__(self, other):
        return isinstance(other, UdpRepr) and (self.sport, self.dport) == (other.sport, other.dport)

    def __repr__(self):
        return f"UdpRepr(sport={self.sport}, dport={self.dport}, length={self.length})"
