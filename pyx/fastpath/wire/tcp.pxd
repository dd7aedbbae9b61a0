# TCP header and options (RFC 9293 3.1; MSS RFC 9293 3.7.1; window scale and timestamps
# RFC 7323; SACK RFC 2018). Checksums over the pseudo-header come from checksum.pxd.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from fastpath.includes.byteorder cimport load_be16, load_be32
from fastpath.wire.record cimport (OPT_MSS, OPT_WSCALE, OPT_SACK_PERM, OPT_SACK, OPT_TIMESTAMP,
                                   OPT_UNKNOWN, OPT_MALFORMED)

cpdef enum:
    TCP_HEADER_LEN = 20
    TCP_MAX_HEADER_LEN = 60
    TCP_MAX_SACK = 4            # blocks in one option (3 fit beside timestamps)
    TCP_SRC_PORT = 0            # field offsets
    TCP_DST_PORT = 2
    TCP_SEQ = 4
    TCP_ACK = 8
    TCP_OFF_FLAGS = 12          # data offset (4 bits), reserved (3), flags (9)
    TCP_WINDOW = 14
    TCP_CHECKSUM = 16
    TCP_URGENT = 18

cpdef enum:
    TCP_FIN = 0x001
    TCP_SYN = 0x002
    TCP_RST = 0x004
    TCP_PSH = 0x008
    TCP_ACK_FLAG = 0x010
    TCP_URG = 0x020
    TCP_ECE = 0x040
    TCP_CWR = 0x080
    TCP_AE = 0x100              # formerly NS (RFC 3540, historic)

cpdef enum:
    TCPOPT_EOL = 0
    TCPOPT_NOP = 1
    TCPOPT_MSS = 2
    TCPOPT_WSCALE = 3
    TCPOPT_SACK_PERM = 4
    TCPOPT_SACK = 5
    TCPOPT_TIMESTAMP = 8

ctypedef struct tcp_repr_t:
    uint32_t seq
    uint32_t ack
    uint32_t tsval              # valid when has_timestamp
    uint32_t tsecr
    uint32_t sack_left[4]       # sack_count blocks
    uint32_t sack_right[4]
    uint16_t sport
    uint16_t dport
    uint16_t flags              # TCP_* bits (the 12 bits after the data offset)
    uint16_t window             # the raw field, unscaled
    uint16_t urgent
    uint16_t checksum           # parse: the field value
    uint16_t mss                # valid when options & OPT_MSS
    uint16_t header_len         # parse: data offset * 4; emit: ignored (computed)
    uint8_t wscale              # raw shift, valid when options & OPT_WSCALE
    uint8_t sack_count          # SACK blocks present (OPT_SACK)
    uint8_t options             # OPT_* bits (record.pxd): which options are present; parse also
                                # sets OPT_UNKNOWN / OPT_MALFORMED

# Parse header and options: returns the header length (data offset * 4), or -ERR_TRUNCATED
# (fewer than 20 bytes, or the options run past the captured bytes: fixed fields are then valid)
# or -ERR_BAD_LENGTH (offset < 5). Malformed options set OPT_MALFORMED and stop the option walk.
cdef Py_ssize_t tcp_parse(const uint8_t* p, Py_ssize_t n, tcp_repr_t* r) noexcept nogil
# Header length emit will write for r (options padded to 4 bytes), or -1 if over 60 bytes.
cdef Py_ssize_t tcp_header_len(const tcp_repr_t* r) noexcept nogil
# Write header, options and payload (copied unless payload already sits at p + header length),
# with the checksum over `pseudo` (pseudo_header_v4/v6 partial sum for the segment length).
# Returns header + payload length, or -1 if cap is too small.
cdef Py_ssize_t tcp_emit(uint8_t* p, Py_ssize_t cap, const tcp_repr_t* r,
                         const uint8_t* payload, Py_ssize_t payload_len,
                         uint64_t pseudo) noexcept nogil


cdef inline void tcp_parse_options(const uint8_t* o, Py_ssize_t n, tcp_repr_t* r) noexcept nogil:
    # Walk kind/length options (RFC 9293 3.1): EOL ends the list, NOP is one byte, every other
    # kind carries a length >= 2 that must stay inside the option space. Shared by tcp_parse and
    # the batch parser. Fields of options not present are left untouched.
    cdef Py_ssize_t i = 0, olen, k
    cdef uint8_t kind
    while i < n:
        kind = o[i]
        if kind == TCPOPT_EOL:
            break
        if kind == TCPOPT_NOP:
            i += 1
            continue
        if i + 1 >= n:
            r.options |= OPT_MALFORMED
            break
        olen = o[i + 1]
        if olen < 2 or i + olen > n:
            r.options |= OPT_MALFORMED
            break
        if kind == TCPOPT_MSS:
            if olen == 4:
                r.mss = load_be16(o + i + 2)
                r.options |= OPT_MSS
            else:
                r.options |= OPT_MALFORMED
        elif kind == TCPOPT_WSCALE:
            if olen == 3:
                r.wscale = o[i + 2]
                r.options |= OPT_WSCALE
            else:
                r.options |= OPT_MALFORMED
        elif kind == TCPOPT_SACK_PERM:
            if olen == 2:
                r.options |= OPT_SACK_PERM
            else:
                r.options |= OPT_MALFORMED
        elif kind == TCPOPT_TIMESTAMP:
            if olen == 10:
                r.tsval = load_be32(o + i + 2)
                r.tsecr = load_be32(o + i + 6)
                r.options |= OPT_TIMESTAMP
            else:
                r.options |= OPT_MALFORMED
        elif kind == TCPOPT_SACK:
            if olen >= 10 and (olen - 2) % 8 == 0:
                r.options |= OPT_SACK
                r.sack_count = 0
                k = i + 2
                while k + 8 <= i + olen and r.sack_count < TCP_MAX_SACK:
                    r.sack_left[r.sack_count] = load_be32(o + k)
                    r.sack_right[r.sack_count] = load_be32(o + k + 4)
                    r.sack_count += 1
                    k += 8
            else:
                r.options |= OPT_MALFORMED
        else:
            r.options |= OPT_UNKNOWN
        i += olen
