# IPv6 (RFC 8200) fixed header and the extension-header walk.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from fastpath.includes.byteorder cimport load_be16, load_be32
from fastpath.wire.record cimport (ERR_TRUNCATED, ERR_BAD_LENGTH, ERR_EXT_CHAIN, ERR_BAD_OPTION, MAX_EXT_HEADERS,
                                   IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT, IPPROTO_AH,
                                   IPPROTO_DSTOPTS, IPF_FRAGMENT, IPF_MF, IPF_NONFIRST, IPF_OPTIONS,
                                   IPF_ROUTING, IPF_HOME_ADDR, IPF_JUMBO)

cpdef enum:
    IPV6_HEADER_LEN = 40
    IPV6_VTC_FLOW = 0           # field offsets
    IPV6_PAYLOAD_LEN = 4
    IPV6_NEXT_HEADER = 6
    IPV6_HOP_LIMIT = 7
    IPV6_SRC = 8
    IPV6_DST = 24

ctypedef struct ipv6_repr_t:
    uint8_t src[16]
    uint8_t dst[16]
    uint32_t flow_label
    uint32_t payload_len        # parse: the 16-bit field; emit: what is written (<= 65535)
    uint8_t next_header
    uint8_t hop_limit
    uint8_t traffic_class

# What the extension-header walk found (RFC 8200 4).
ctypedef struct ipv6_ext_t:
    Py_ssize_t upper_off        # offset of the upper-layer header from the IPv6 header
    uint32_t jumbo_len          # Jumbo Payload option value (RFC 2675), 0 if absent
    uint32_t frag_ident
    uint16_t frag_off           # 8-byte units
    uint8_t upper_proto         # protocol after the chain (IPPROTO_NONE for no-next-header)
    uint8_t n_headers
    uint8_t flags               # IPF_FRAGMENT | IPF_MF | IPF_NONFIRST | IPF_ROUTING | IPF_HOME_ADDR | IPF_JUMBO
    const uint8_t* final_dst    # routing header's last address, or NULL (RFC 8200 8.1)
    const uint8_t* home_addr    # Home Address destination option (RFC 6275 6.3), or NULL

cdef Py_ssize_t ipv6_parse(const uint8_t* p, Py_ssize_t n, ipv6_repr_t* r) noexcept nogil
cdef Py_ssize_t ipv6_emit(uint8_t* p, Py_ssize_t cap, const ipv6_repr_t* r,
                          uint32_t payload_len) noexcept nogil


cdef inline bint ipv6_scan_options(const uint8_t* o, Py_ssize_t n, ipv6_ext_t* ext) noexcept nogil:
    # TLV options of a hop-by-hop or destination-options header (RFC 8200 4.2). Only two
    # matter to a parser: Jumbo Payload (0xC2, RFC 2675) and Home Address (0xC9, RFC 6275 6.3).
    # Returns False when an option runs past the header (a malformed header).
    cdef Py_ssize_t i = 0
    cdef uint8_t t, l
    while i < n:
        t = o[i]
        if t == 0:              # Pad1
            i += 1
            continue
        if i + 2 > n:
            return False
        l = o[i + 1]
        if i + 2 + l > n:
            return False
        if t == 0xC2 and l == 4:
            ext.jumbo_len = load_be32(o + i + 2)
            ext.flags |= IPF_JUMBO
        elif t == 0xC9 and l == 16:
            ext.home_addr = o + i + 2
            ext.flags |= IPF_HOME_ADDR
        i += 2 + l
    return True


cdef inline void ipv6_routing_final(const uint8_t* h, Py_ssize_t hlen, ipv6_ext_t* ext) noexcept nogil:
    # The final destination, when the routing header still has segments left (RFC 8200 8.1:
    # at the originator and in transit it is the last element; at the recipient it is the
    # destination field). Type 0 (RFC 2460) and 2 (RFC 6275) list addresses in order from
    # offset 8; a segment routing header (type 4, RFC 8754) lists them in reverse, so the final
    # segment is Segment List[0].
    cdef uint8_t rtype = h[2], segleft = h[3]
    cdef Py_ssize_t naddr = (hlen - 8) // 16
    if segleft == 0 or naddr <= 0:
        return
    if rtype == 0 or rtype == 2:
        ext.final_dst = h + 8 + 16 * (naddr - 1)
        ext.flags |= IPF_ROUTING
    elif rtype == 4:
        ext.final_dst = h + 8
        ext.flags |= IPF_ROUTING


cdef inline int ipv6_walk(const uint8_t* p, Py_ssize_t n, ipv6_ext_t* ext) noexcept nogil:
    # Walk the extension-header chain after the fixed header (RFC 8200 4.1); p points at the IPv6
    # header, n bytes captured. ESP (50) and No Next Header (59) end the walk like an upper
    # layer. Returns 0, or -ERR_TRUNCATED / -ERR_EXT_CHAIN / -ERR_BAD_OPTION (an option runs
    # past its header), with ext filled so far: upper_off and upper_proto then name the header
    # that could not be walked.
    cdef uint8_t nh = p[IPV6_NEXT_HEADER]
    cdef Py_ssize_t off = IPV6_HEADER_LEN, hlen
    cdef uint16_t fo
    ext.jumbo_len = 0
    ext.frag_ident = 0
    ext.frag_off = 0
    ext.n_headers = 0
    ext.flags = 0
    ext.final_dst = NULL
    ext.home_addr = NULL
    while True:
        ext.upper_off = off
        ext.upper_proto = nh
        if not (nh == IPPROTO_HOPOPTS or nh == IPPROTO_ROUTING or nh == IPPROTO_FRAGMENT or
                nh == IPPROTO_DSTOPTS or nh == IPPROTO_AH):
            return 0
        if ext.n_headers == MAX_EXT_HEADERS:
            return -ERR_EXT_CHAIN
        if off + 8 > n:
            return -ERR_TRUNCATED
        ext.flags |= IPF_OPTIONS
        if nh == IPPROTO_FRAGMENT:
            fo = load_be16(p + off + 2)
            ext.frag_off = fo >> 3
            ext.frag_ident = load_be32(p + off + 4)
            # An atomic fragment (offset 0, M clear; RFC 6946) is a whole packet.
            if fo & 0xfff9:
                ext.flags |= IPF_FRAGMENT
            if fo & 1:
                ext.flags |= IPF_MF
            hlen = 8
            if ext.frag_off:
                # A non-first fragment: what follows is the middle of the payload (RFC 8200 4.5).
                ext.flags |= IPF_NONFIRST
                ext.n_headers += 1
                ext.upper_proto = p[off]
                ext.upper_off = off + 8
                return 0
        elif nh == IPPROTO_AH:
            hlen = (<Py_ssize_t>p[off + 1] + 2) * 4     # RFC 4302 2.2: in 4-octet units, minus 2
        else:
            hlen = (<Py_ssize_t>p[off + 1] + 1) * 8
        if off + hlen > n:
            return -ERR_TRUNCATED
        if nh == IPPROTO_HOPOPTS or nh == IPPROTO_DSTOPTS:
            if not ipv6_scan_options(p + off + 2, hlen - 2, ext):
                return -ERR_BAD_OPTION
        elif nh == IPPROTO_ROUTING:
            ipv6_routing_final(p + off, hlen, ext)
        nh = p[off]
        off += hlen
        ext.n_headers += 1
