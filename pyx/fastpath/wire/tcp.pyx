"""TCP header and options: C parse/emit and the Python ``TcpRepr``."""
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memmove

from fastpath.includes.byteorder cimport load_be16, load_be32, store_be16, store_be32
from fastpath.wire.checksum cimport csum_partial, csum_finish, csum_add_be16
from fastpath.wire.record cimport (ERR_TRUNCATED, ERR_BAD_LENGTH, OPT_MSS, OPT_WSCALE,
                                   OPT_SACK_PERM, OPT_SACK, OPT_TIMESTAMP, OPT_UNKNOWN,
                                   OPT_MALFORMED)
from fastpath.wire._pyrepr cimport borrow_readable, borrow_writable, release

from fastpath.errors import MalformedPacketError


cdef Py_ssize_t tcp_parse(const uint8_t* p, Py_ssize_t n, tcp_repr_t* r) noexcept nogil:
    cdef Py_ssize_t doff
    if n < TCP_HEADER_LEN:
        return -ERR_TRUNCATED
    r.sport = load_be16(p + TCP_SRC_PORT)
    r.dport = load_be16(p + TCP_DST_PORT)
    r.seq = load_be32(p + TCP_SEQ)
    r.ack = load_be32(p + TCP_ACK)
    doff = (p[TCP_OFF_FLAGS] >> 4) * 4
    r.flags = load_be16(p + TCP_OFF_FLAGS) & 0x0fff
    r.window = load_be16(p + TCP_WINDOW)
    r.checksum = load_be16(p + TCP_CHECKSUM)
    r.urgent = load_be16(p + TCP_URGENT)
    r.header_len = <uint16_t>doff
    r.options = 0
    r.sack_count = 0
    if doff < TCP_HEADER_LEN:
        return -ERR_BAD_LENGTH
    if doff > n:
        return -ERR_TRUNCATED
    tcp_parse_options(p + TCP_HEADER_LEN, doff - TCP_HEADER_LEN, r)
    return doff


cdef Py_ssize_t tcp_header_len(const tcp_repr_t* r) noexcept nogil:
    cdef Py_ssize_t n = TCP_HEADER_LEN
    if r.options & OPT_MSS:
        n += 4
    if r.options & (OPT_TIMESTAMP | OPT_SACK_PERM):
        n += 12 if r.options & OPT_TIMESTAMP else 4
    if r.options & OPT_WSCALE:
        n += 4
    if r.sack_count:
        if r.sack_count > TCP_MAX_SACK:
            return -1
        n += 4 + 8 * r.sack_count
    return n if n <= TCP_MAX_HEADER_LEN else -1


cdef Py_ssize_t tcp_emit(uint8_t* p, Py_ssize_t cap, const tcp_repr_t* r,
                         const uint8_t* payload, Py_ssize_t payload_len,
                         uint64_t pseudo) noexcept nogil:
    # Option layout follows common practice so that every option is 4-byte aligned:
    # MSS; SACK-permitted + timestamps (or NOP NOP + either); NOP + window scale; NOP NOP + SACK.
    cdef Py_ssize_t hlen = tcp_header_len(r), o = TCP_HEADER_LEN
    cdef int i
    if hlen < 0 or payload_len < 0 or cap < hlen + payload_len:
        return -1
    store_be16(p + TCP_SRC_PORT, r.sport)
    store_be16(p + TCP_DST_PORT, r.dport)
    store_be32(p + TCP_SEQ, r.seq)
    store_be32(p + TCP_ACK, r.ack)
    store_be16(p + TCP_OFF_FLAGS, <uint16_t>(((hlen // 4) << 12) | (r.flags & 0x0fff)))
    store_be16(p + TCP_WINDOW, r.window)
    store_be16(p + TCP_CHECKSUM, 0)
    store_be16(p + TCP_URGENT, r.urgent)
    if r.options & OPT_MSS:
        p[o] = TCPOPT_MSS
        p[o + 1] = 4
        store_be16(p + o + 2, r.mss)
        o += 4
    if r.options & (OPT_TIMESTAMP | OPT_SACK_PERM):
        if r.options & OPT_SACK_PERM:
            p[o] = TCPOPT_SACK_PERM
            p[o + 1] = 2
        else:
            p[o] = TCPOPT_NOP
            p[o + 1] = TCPOPT_NOP
        o += 2
        if r.options & OPT_TIMESTAMP:
            p[o] = TCPOPT_TIMESTAMP
            p[o + 1] = 10
            store_be32(p + o + 2, r.tsval)
            store_be32(p + o + 6, r.tsecr)
            o += 10
        else:
            p[o] = TCPOPT_NOP
            p[o + 1] = TCPOPT_NOP
            o += 2
    if r.options & OPT_WSCALE:
        p[o] = TCPOPT_NOP
        p[o + 1] = TCPOPT_WSCALE
        p[o + 2] = 3
        p[o + 3] = r.wscale
        o += 4
    if r.sack_count:
        p[o] = TCPOPT_NOP
        p[o + 1] = TCPOPT_NOP
        p[o + 2] = TCPOPT_SACK
        p[o + 3] = <uint8_t>(2 + 8 * r.sack_count)
        o += 4
        for i in range(r.sack_count):
            store_be32(p + o, r.sack_left[i])
            store_be32(p + o + 4, r.sack_right[i])
            o += 8
    if payload_len and payload != p + hlen:
        memmove(p + hlen, payload, <size_t>payload_len)
    store_be16(p + TCP_CHECKSUM, csum_finish(csum_partial(p, <size_t>(hlen + payload_len), pseudo)))
    return hlen + payload_len


FLAG_NAMES = (("FIN", TCP_FIN), ("SYN", TCP_SYN), ("RST", TCP_RST), ("PSH", TCP_PSH),
              ("ACK", TCP_ACK_FLAG), ("URG", TCP_URG), ("ECE", TCP_ECE), ("CWR", TCP_CWR),
              ("AE", TCP_AE))


@cython.final
cdef class TcpRepr:
    """A TCP header with its options. Absent options are None (``mss``, ``wscale``,
    ``timestamp`` = (tsval, tsecr)); ``sack`` is a tuple of (left, right) edges."""
    cdef public int sport
    cdef public int dport
    cdef public unsigned int seq
    cdef public unsigned int ack
    cdef public int flags
    cdef public int window
    cdef public int urgent
    cdef public object mss
    cdef public object wscale
    cdef public bint sack_permitted
    cdef public object timestamp
    cdef public tuple sack
    cdef public int header_len
    cdef public int checksum
    cdef public int option_flags       # parse: OPT_UNKNOWN / OPT_MALFORMED seen

    def __init__(self, int sport, int dport, unsigned int seq=0, unsigned int ack=0,
                 int flags=0, int window=0, int urgent=0, mss=None, wscale=None,
                 bint sack_permitted=False, timestamp=None, sack=()):
        self.sport = sport
        self.dport = dport
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.window = window
        self.urgent = urgent
        self.mss = mss
        self.wscale = wscale
        self.sack_permitted = sack_permitted
        self.timestamp = tuple(timestamp) if timestamp is not None else None
        self.sack = tuple(tuple(b) for b in sack)
        self.header_len = 0
        self.checksum = 0
        self.option_flags = 0

    cdef int _to_c(self, tcp_repr_t* r) except -1:
        if len(self.sack) > TCP_MAX_SACK:
            raise ValueError(f"at most {TCP_MAX_SACK} SACK blocks")
        r.sport = self.sport
        r.dport = self.dport
        r.seq = self.seq
        r.ack = self.ack
        r.flags = self.flags
        r.window = self.window
        r.urgent = self.urgent
        r.options = 0
        if self.mss is not None:
            r.mss = self.mss
            r.options |= OPT_MSS
        if self.wscale is not None:
            r.wscale = self.wscale
            r.options |= OPT_WSCALE
        if self.sack_permitted:
            r.options |= OPT_SACK_PERM
        if self.timestamp is not None:
            r.tsval, r.tsecr = self.timestamp
            r.options |= OPT_TIMESTAMP
        r.sack_count = len(self.sack)
        for i, (left, right) in enumerate(self.sack):
            r.sack_left[i] = left
            r.sack_right[i] = right
        if r.sack_count:
            r.options |= OPT_SACK
        return 0

    @staticmethod
    cdef TcpRepr _from_c(const tcp_repr_t* r):
        out = TcpRepr(r.sport, r.dport, r.seq, r.ack, r.flags, r.window, r.urgent,
                      r.mss if r.options & OPT_MSS else None,
                      r.wscale if r.options & OPT_WSCALE else None,
                      bool(r.options & OPT_SACK_PERM),
                      (r.tsval, r.tsecr) if r.options & OPT_TIMESTAMP else None,
                      [(r.sack_left[i], r.sack_right[i]) for i in range(r.sack_count)])
        out.header_len = r.header_len
        out.checksum = r.checksum
        out.option_flags = r.options & (OPT_UNKNOWN | OPT_MALFORMED)
        return out

    @staticmethod
    def parse(data, pseudo=None):
        """Parse the segment header at the start of ``data``. With ``pseudo`` (a pseudo-header
        sum from ``fastpath.wire.checksum.pseudo_header_sum`` for ``len(data)`` bytes), the
        checksum over the whole of ``data`` is verified too. Raises MalformedPacketError."""
        cdef Py_buffer view
        cdef tcp_repr_t r
        cdef Py_ssize_t n, size
        borrow_readable(data, &view)
        try:
            size = view.len
            n = tcp_parse(<const uint8_t*>view.buf, size, &r)
        finally:
            release(&view)
        if n == -ERR_BAD_LENGTH:
            raise MalformedPacketError(f"TCP: data offset {r.header_len} is below 20")
        if n < 0:
            raise MalformedPacketError(f"TCP: header truncated ({size} bytes)")
        if r.options & OPT_MALFORMED:
            raise MalformedPacketError("TCP: malformed option length")
        if pseudo is not None:
            from fastpath.wire.checksum import verify_checksum
            if not verify_checksum(data, pseudo):
                raise MalformedPacketError(f"TCP: bad checksum {r.checksum:#06x}")
        return TcpRepr._from_c(&r)

    def buffer_len(self):
        cdef tcp_repr_t r
        self._to_c(&r)
        n = tcp_header_len(&r)
        if n < 0:
            raise ValueError("TCP options do not fit in 40 bytes")
        return n

    def emit(self, buf, payload=b"", pseudo=0):
        """Write header, options and ``payload`` into ``buf``; ``pseudo`` is the pseudo-header
        sum for the whole segment length. Returns the segment length."""
        cdef Py_buffer view, pl
        cdef tcp_repr_t r
        cdef Py_ssize_t n
        cdef uint64_t acc = csum_add_be16(0, <uint16_t>pseudo)
        self._to_c(&r)
        borrow_readable(payload, &pl)
        try:
            borrow_writable(buf, &view)
            try:
                n = tcp_emit(<uint8_t*>view.buf, view.len, &r, <const uint8_t*>pl.buf, pl.len, acc)
            finally:
                release(&view)
        finally:
            release(&pl)
        if n < 0:
            raise ValueError("buffer too small for the TCP segment, or options over 40 bytes")
        return n

    def to_bytes(self, payload=b"", pseudo=0):
        out = bytearray(self.buffer_len() + len(payload))
        self.emit(out, payload, pseudo)
        return bytes(out)

    def flag_names(self):
        return [name for name, bit in FLAG_NAMES if self.flags & bit]

    def __eq__(self, other):
        return (isinstance(other, TcpRepr) and
                (self.sport, self.dport, self.seq, self.ack, self.flags, self.window, self.urgent,
                 self.mss, self.wscale, self.sack_permitted, self.timestamp, self.sack) ==
                (other.sport, other.dport, other.seq, other.ack, other.flags, other.window,
                 other.urgent, other.mss, other.wscale, other.sack_permitted, other.timestamp,
                 other.sack))

    def __repr__(self):
        return (f"TcpRepr(sport={self.sport}, dport={self.dport}, seq={self.seq}, ack={self.ack}, "
                f"flags={'|'.join(self.flag_names()) or 0}, window={self.window}, mss={self.mss}, "
                f"wscale={self.wscale}, sack_permitted={self.sack_permitted}, "
                f"timestamp={self.timestamp}, sack={self.sack})")
