"""Batch parsing of frames into ``PACKET_DTYPE`` rows, without the GIL.

``parse_frames(buf, index)`` takes what a capture reader or an I/O backend hands over (a buffer
and a ``FRAME_DTYPE`` index), ``parse_batch(buf, offsets, lengths)`` the simplest form of it,
``parse_packet(frame)`` one frame. Problems are recorded per packet (``error``), never raised.

Field semantics follow tshark where the captures README says a header parser can be held to it:
raw wire values, outer ethertype, tags outer first, checksum status 0 bad / 1 good /
2 unverified / 3 not present.
"""
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t, int32_t
from libc.string cimport memcpy, memset
cimport numpy as cnp
import numpy as np

from fastpath.includes.byteorder cimport load_be16, load_be32, load_le32, store_be16
from fastpath.includes.prefetch cimport fastpath_prefetch_read
from fastpath.wire.checksum cimport csum_partial, csum_ok, csum_finish
from fastpath.wire.record cimport *
from fastpath.wire.ipv6 cimport ipv6_ext_t, ipv6_walk
from fastpath.wire.tcp cimport tcp_repr_t, tcp_parse_options
from fastpath.wire.icmp cimport icmp_is_error, icmpv6_is_error, ICMPV6_REDIRECT

from fastpath.wire.record import PACKET_DTYPE, FRAME_DTYPE

cnp.import_array()

cdef enum:
    PREFETCH_AHEAD = 8              # frames
    UDP_PORT_VXLAN = 4789
    UDP_PORT_TEREDO = 3544
    UDP_PORT_GENEVE = 6081
    UDP_PORT_MPLS = 6635
    GRE_PROTO_ERSPAN2 = 0x88be    # type I without a sequence number, type II with one
    GRE_PROTO_ERSPAN3 = 0x22eb
    GRE_PROTO_WCCP = 0x883e

# A record with every "absent" value in place: copied over each row before parsing.
cdef PacketRecord BLANK
memset(&BLANK, 0, sizeof(PacketRecord))
BLANK.l3_off = OFF_NONE
BLANK.l4_off = OFF_NONE
BLANK.payload_off = OFF_NONE
BLANK.inner_off = OFF_NONE
BLANK.tcp_wscale = WSCALE_NONE
BLANK.csum_ip = CSUM_NONE
BLANK.csum_l4 = CSUM_NONE


cdef inline void set_error(PacketRecord* r, uint8_t e) noexcept nogil:
    # Keep the first problem: later layers only add detail.
    if r.error == ERR_NONE:
        r.error = e


cdef inline bint is_tag_type(uint16_t t) noexcept nogil:
    return t == ETH_P_VLAN or t == ETH_P_QINQ or t == ETH_P_QINQ_OLD


# ---------------------------------------------------------------- link layer

cdef inline uint16_t ppp_to_ethertype(uint16_t proto) noexcept nogil:
    # PPP protocol numbers (RFC 1332 IPCP's 0x0021, RFC 5072's 0x0057).
    if proto == 0x0021:
        return ETH_P_IPV4
    if proto == 0x0057:
        return ETH_P_IPV6
    return 0


cdef inline Py_ssize_t mpls_stack(const uint8_t* p, Py_ssize_t n, Py_ssize_t off,
                                  PacketRecord* r) noexcept nogil:
    # RFC 3032: 4-byte entries until the bottom-of-stack bit. The payload type is not
    # signalled; the first nibble decides (4 or 6), as tshark does for IP. Returns the payload
    # offset when it is IP, else -1 (r.error set for a truncated or overlong stack).
    cdef int labels = 0
    cdef uint32_t label
    while True:
        if labels == MAX_MPLS_LABELS:
            set_error(r, ERR_TOO_MANY_TAGS)
            return -1
        if off + 4 > n:
            set_error(r, ERR_TRUNCATED)
            return -1
        labels += 1
        label = load_be32(p + off) >> 12
        off += 4
        if p[off - 2] & 0x01:
            break
    if label == 13 or label == 14:
        return -1               # GAL / OAM alert (RFC 5586, RFC 3429): not a data packet
    if off + 1 > n:
        set_error(r, ERR_TRUNCATED)
        return -1
    if (p[off] >> 4) == 4 or (p[off] >> 4) == 6:
        return off
    return -1


cdef inline void set_inner(PacketRecord* r, uint8_t kind, Py_ssize_t off,
                           Py_ssize_t avail_end) noexcept nogil:
    if off < avail_end:
        r.inner_kind = kind
        r.inner_off = <uint16_t>off


cdef inline Py_ssize_t ethertype_chain(const uint8_t* p, Py_ssize_t n, uint16_t t, Py_ssize_t off,
                                       PacketRecord* r) noexcept nogil:
    # t is a type field just read; off is where the data after it begins. Walks what can sit
    # between the link header and the network layer -- 802.1Q/802.1ad tags (TCI + next type),
    # an 802.3 length with LLC/SNAP, an MPLS label stack, a PPPoE session header -- and returns
    # the network-layer offset with r.l3_type set, or -1 (r.error set when it is an error).
    cdef Py_ssize_t tag_len
    while True:
        if is_tag_type(t):
            if r.vlan_count == MAX_VLAN:
                set_error(r, ERR_TOO_MANY_TAGS)
                return -1
            if off + 4 > n:
                set_error(r, ERR_TRUNCATED)
                return -1
            r.vlan[r.vlan_count] = load_be16(p + off) & 0x0fff
            if t != ETH_P_VLAN:
                r.vlan_stag |= <uint8_t>(1 << r.vlan_count)
            r.vlan_count += 1
            t = load_be16(p + off + 2)
            off += 4
        elif t == ETH_P_CISCO_MD:
            # Cisco MetaData: version, length, option type, SGT, then the ethertype (8 bytes).
            if off + 8 > n:
                set_error(r, ERR_TRUNCATED)
                return -1
            t = load_be16(p + off + 6)
            off += 8
        elif t == ETH_P_ARISTA:
            # Arista vendor header: subtype, version, then (timestamp subtype) a 64-bit
            # (version low byte 0x10) or 48-bit (0x20) TAI timestamp, then the ethertype.
            if off + 4 > n:
                set_error(r, ERR_TRUNCATED)
                return -1
            if load_be16(p + off) != 1:
                return -1
            if p[off + 3] == 0x10:
                tag_len = 12
            elif p[off + 3] == 0x20:
                tag_len = 10
            else:
                return -1
            if off + tag_len + 2 > n:
                set_error(r, ERR_TRUNCATED)
                return -1
            t = load_be16(p + off + tag_len)
            off += tag_len + 2
        elif t == ETH_P_MACSEC:
            # IEEE 802.1AE SecTAG: TCI/AN, short length, packet number, optional SCI. Only
            # integrity-protected frames (E and C clear) carry readable user data, starting
            # with its ethertype.
            if off + 6 > n:
                set_error(r, ERR_TRUNCATED)
                return -1
            if p[off] & 0x0c:
                return -1
            tag_len = 14 if p[off] & 0x20 else 6
            if off + tag_len + 2 > n:
                set_error(r, ERR_TRUNCATED)
                return -1
            t = load_be16(p + off + tag_len)
            off += tag_len + 2
        else:
            break
    if t <= 1500:
        # An 802.3 length field: LLC follows. Only SNAP (AA AA 03, OUI, type) carries an
        # ethertype; other LLC payloads (STP, ...) have no network layer the parser knows.
        if off + 3 > n:
            set_error(r, ERR_TRUNCATED)
            return -1
        if p[off] == 0xaa and p[off + 1] == 0xaa and p[off + 2] == 0x03:
            if off + 8 > n:
                set_error(r, ERR_TRUNCATED)
                return -1
            t = load_be16(p + off + 6)
            off += 8
        else:
            return -1
    if t == ETH_P_MPLS_UC or t == ETH_P_MPLS_MC:
        off = mpls_stack(p, n, off, r)
        if off < 0:
            return -1
        t = ETH_P_IPV4 if (p[off] >> 4) == 4 else ETH_P_IPV6
    elif t == ETH_P_PPPOE_SESSION:
        # RFC 2516: version/type, code, session id, length, then the PPP protocol field.
        if off + 8 > n:
            set_error(r, ERR_TRUNCATED)
            return -1
        t = ppp_to_ethertype(load_be16(p + off + 6))
        off += 8
        if t == 0:
            return -1
    r.l3_type = t
    return off


cdef inline Py_ssize_t nflog_payload(const uint8_t* p, Py_ssize_t n, PacketRecord* r) noexcept nogil:
    # NFLOG: family, version, resource id, then TLVs whose length (including the 4-byte TLV
    # header) and type are in the capturing host's byte order, padded to 4 bytes. The packet
    # is the NFULA_PAYLOAD (type 9) value.
    cdef Py_ssize_t off = 4, tlen
    cdef uint16_t ttype
    cdef bint big = False
    if n < 4:
        set_error(r, ERR_TRUNCATED)
        return -1
    if p[0] == 2:
        r.l3_type = ETH_P_IPV4
    elif p[0] == 10:
        r.l3_type = ETH_P_IPV6
    else:
        return -1
    # Guess the byte order from the first TLV: a length below 4 cannot be right.
    if off + 4 <= n and (p[off] | (p[off + 1] << 8)) < 4 and ((p[off] << 8) | p[off + 1]) >= 4:
        big = True
    while off + 4 <= n:
        tlen = ((p[off] << 8) | p[off + 1]) if big else (p[off] | (p[off + 1] << 8))
        ttype = ((p[off + 2] << 8) | p[off + 3]) if big else (p[off + 2] | (p[off + 3] << 8))
        if tlen < 4 or off + tlen > n:
            set_error(r, ERR_BAD_LENGTH)
            return -1
        if (ttype & 0x7fff) == 9:
            return off + 4
        off += (tlen + 3) & ~3
    r.l3_type = 0
    return -1


cdef inline uint16_t family_to_ethertype(uint32_t fam) noexcept nogil:
    # BSD loopback address families: AF_INET is 2 everywhere; AF_INET6 differs by system
    # (Linux 10, Windows 23, NetBSD/OpenBSD 24, FreeBSD 28, Darwin 30).
    if fam == 2:
        return ETH_P_IPV4
    if fam == 10 or fam == 23 or fam == 24 or fam == 28 or fam == 30:
        return ETH_P_IPV6
    return 0


cdef inline Py_ssize_t parse_link(const uint8_t* p, Py_ssize_t n, uint16_t linktype,
                                  PacketRecord* r) noexcept nogil:
    cdef uint16_t t
    cdef uint32_t fam
    cdef Py_ssize_t off
    if linktype == LINKTYPE_ETHERNET:
        if n < 14:
            set_error(r, ERR_TRUNCATED)
            return -1
        t = load_be16(p + 12)
        r.eth_type = t
        if t <= 1500:
            r.eth_type = 0          # tshark has no eth.type for 802.3 frames
        return ethertype_chain(p, n, t, 14, r)
    if linktype == LINKTYPE_LINUX_SLL:
        if n < 16:
            set_error(r, ERR_TRUNCATED)
            return -1
        t = load_be16(p + 14)
        if t == 0x0001 or t == 0x0004 or t == 0x0003:
            return -1               # Novell 802.3, 802.2 LLC, or "all protocols": no ethertype
        return ethertype_chain(p, n, t, 16, r)
    if linktype == LINKTYPE_LINUX_SLL2:
        if n < 20:
            set_error(r, ERR_TRUNCATED)
            return -1
        t = load_be16(p)
        if t == 0x0001 or t == 0x0004 or t == 0x0003:
            return -1
        return ethertype_chain(p, n, t, 20, r)
    if linktype == LINKTYPE_NULL or linktype == LINKTYPE_LOOP:
        if n < 4:
            set_error(r, ERR_TRUNCATED)
            return -1
        if linktype == LINKTYPE_LOOP:
            fam = load_be32(p)
        else:
            # The writer's byte order: a family is small, so a value with the low half zero
            # was written big-endian.
            fam = load_le32(p)
            if (fam & 0xffff) == 0:
                fam = load_be32(p)
        t = family_to_ethertype(fam)
        if t == 0:
            return -1
        r.l3_type = t
        return 4
    if linktype == LINKTYPE_RAW or linktype == LINKTYPE_RAW_DLT12 or linktype == LINKTYPE_RAW_DLT14:
        # Raw IP: the version nibble decides; anything but 4 or 6 is not IP at all.
        if n < 1:
            set_error(r, ERR_TRUNCATED)
            return -1
        if (p[0] >> 4) == 4:
            r.l3_type = ETH_P_IPV4
        elif (p[0] >> 4) == 6:
            r.l3_type = ETH_P_IPV6
        else:
            set_error(r, ERR_BAD_VERSION)
            return -1
        return 0
    if linktype == LINKTYPE_IPV4:
        # Declared IPv4: the IPv4 parser takes it; a version 6 header is handed to IPv6 (as
        # tshark does), any other version is a bad IPv4 header.
        if n < 1:
            set_error(r, ERR_TRUNCATED)
            return -1
        r.l3_type = ETH_P_IPV6 if (p[0] >> 4) == 6 else ETH_P_IPV4
        return 0
    if linktype == LINKTYPE_PPP or linktype == LINKTYPE_PPP_HDLC:
        # Optional HDLC address/control (FF 03); the protocol field may be compressed to one
        # byte (RFC 1661 6.5: odd first byte).
        off = 2 if n >= 2 and p[0] == 0xff and p[1] == 0x03 else 0
        if off + 1 > n:
            set_error(r, ERR_TRUNCATED)
            return -1
        if p[off] & 1:
            t = ppp_to_ethertype(p[off])
            off += 1
        else:
            if off + 2 > n:
                set_error(r, ERR_TRUNCATED)
                return -1
            t = ppp_to_ethertype(load_be16(p + off))
            off += 2
        if t == 0:
            return -1
        r.l3_type = t
        return off
    if linktype == LINKTYPE_C_HDLC:
        if n < 4:
            set_error(r, ERR_TRUNCATED)
            return -1
        return ethertype_chain(p, n, load_be16(p + 2), 4, r)
    if linktype == LINKTYPE_NFLOG:
        return nflog_payload(p, n, r)
    if linktype == LINKTYPE_IPV6:
        r.l3_type = ETH_P_IPV6
        return 0
    set_error(r, ERR_UNSUPPORTED_LINKTYPE)
    return -1


# ---------------------------------------------------------------- transport layer

cdef inline uint64_t pseudo_sum(const uint8_t* src, const uint8_t* dst, bint v6, uint8_t proto,
                                Py_ssize_t length) noexcept nogil:
    # The pseudo-header (RFC 793 3.1, RFC 768, RFC 8200 8.1), computed only when a checksum is
    # actually verified.
    cdef size_t alen = 16 if v6 else 4
    return pseudo_add(csum_partial(dst, alen, csum_partial(src, alen, 0)), proto, length)


cdef inline void parse_tcp(const uint8_t* p, Py_ssize_t l4, Py_ssize_t avail_end,
                           Py_ssize_t seg_len, PacketRecord* r, bint verify, bint can_verify,
                           const uint8_t* src, const uint8_t* dst, bint v6) noexcept nogil:
    # avail_end bounds what was captured (and what the IP length allows); seg_len is the
    # segment length the IP header claims.
    cdef Py_ssize_t avail = avail_end - l4, doff, optlen
    cdef int i
    cdef tcp_repr_t t
    cdef const uint8_t* h = p + l4
    r.l4_off = <uint16_t>l4
    # A short header still yields the fields that fit (an ICMP error quotes only 8 bytes).
    if avail >= 4:
        r.sport = load_be16(h)
        r.dport = load_be16(h + 2)
    if avail >= 8:
        r.tcp_seq = load_be32(h + 4)
    if avail < 20:
        if avail >= 12:
            r.tcp_ack = load_be32(h + 8)
        set_error(r, ERR_TRUNCATED)
        return
    r.tcp_ack = load_be32(h + 8)
    r.tcp_flags = load_be16(h + 12) & 0x0fff
    r.tcp_window = load_be16(h + 14)
    doff = (h[12] >> 4) * 4
    if doff < 20 or (doff > seg_len and can_verify):
        set_error(r, ERR_BAD_LENGTH)
        return
    optlen = doff - 20
    if doff > seg_len:
        # A first fragment may end inside the TCP header: the rest is in the next fragment.
        set_error(r, ERR_TRUNCATED)
        if optlen > seg_len - 20:
            optlen = seg_len - 20
    if optlen > avail - 20:
        optlen = avail - 20
        set_error(r, ERR_TRUNCATED)
    if optlen > 0:
        t.options = 0
        tcp_parse_options(h + 20, optlen, &t)
        r.tcp_opts = t.options
        if t.options & OPT_MSS:
            r.tcp_mss = t.mss
        if t.options & OPT_WSCALE:
            r.tcp_wscale = t.wscale
        if t.options & OPT_TIMESTAMP:
            r.tcp_tsval = t.tsval
            r.tcp_tsecr = t.tsecr
        if t.options & OPT_SACK:
            r.tcp_sack_max = t.sack_right[0]
            for i in range(1, t.sack_count):
                # Highest right edge in sequence space (RFC 1982-style comparison).
                if <int32_t>(t.sack_right[i] - r.tcp_sack_max) > 0:
                    r.tcp_sack_max = t.sack_right[i]
        if t.options & OPT_MALFORMED:
            set_error(r, ERR_BAD_OPTION)
    if doff <= avail:
        r.payload_off = <uint16_t>(l4 + doff)     # (never past what was captured)
    r.payload_len = <uint32_t>(seg_len - doff) if seg_len > doff else 0
    if not verify:
        r.csum_l4 = CSUM_UNVERIFIED
    elif can_verify and avail >= seg_len:
        r.csum_l4 = CSUM_GOOD if csum_ok(csum_partial(
            h, <size_t>seg_len, pseudo_sum(src, dst, v6, IPPROTO_TCP, seg_len))) else CSUM_BAD
    else:
        r.csum_l4 = CSUM_UNVERIFIED


cdef inline void parse_udp(const uint8_t* p, Py_ssize_t l4, Py_ssize_t avail_end,
                           Py_ssize_t seg_len, PacketRecord* r, bint verify, bint can_verify,
                           const uint8_t* src, const uint8_t* dst, bint ipv6) noexcept nogil:
    cdef Py_ssize_t avail = avail_end - l4, ulen
    cdef const uint8_t* h = p + l4
    cdef uint16_t csum
    r.l4_off = <uint16_t>l4
    if avail >= 4:
        r.sport = load_be16(h)
        r.dport = load_be16(h + 2)
    if avail < 8:
        set_error(r, ERR_TRUNCATED)
        return
    ulen = load_be16(h + 4)
    csum = load_be16(h + 6)
    if ulen == 0 and ipv6:
        # Length 0 over IPv6 is how a jumbogram's UDP says "the rest of the payload" (RFC
        # 2675 4); tshark reads any zero length over IPv6 that way.
        ulen = seg_len
    if ulen < 8:
        set_error(r, ERR_BAD_LENGTH)    # the length includes the header: nothing is trusted
        return
    r.payload_off = <uint16_t>(l4 + 8)
    if ulen > seg_len:
        # Past the end of the IP payload: bogus in a whole packet; expected in a fragment.
        if can_verify:
            set_error(r, ERR_BAD_LENGTH)
        r.payload_len = <uint32_t>(seg_len - 8) if seg_len > 8 and can_verify else <uint32_t>(ulen - 8)
    else:
        r.payload_len = <uint32_t>(ulen - 8)
    if csum == 0:
        # RFC 768: zero means the sender computed none -- which IPv6 does not allow.
        r.csum_l4 = CSUM_ILLEGAL if ipv6 else CSUM_NONE
    elif not verify:
        r.csum_l4 = CSUM_UNVERIFIED
    elif can_verify and avail >= ulen and avail >= seg_len:
        # Verified when the whole IP payload was captured, as tshark does.
        r.csum_l4 = CSUM_GOOD if csum_ok(csum_partial(
            h, <size_t>ulen, pseudo_sum(src, dst, ipv6, IPPROTO_UDP, ulen))) else CSUM_BAD
    else:
        r.csum_l4 = CSUM_UNVERIFIED
    # Tunnels recognised by port (VXLAN RFC 7348, Geneve RFC 8926, MPLS RFC 7510) or by
    # content (Teredo, RFC 4380).
    if r.dport == UDP_PORT_VXLAN or r.sport == UDP_PORT_VXLAN:
        if avail >= 16 + 14 and (h[8] & 0x08):
            set_inner(r, INNER_VXLAN, l4 + 16, avail_end)
    elif r.dport == UDP_PORT_GENEVE or r.sport == UDP_PORT_GENEVE:
        geneve_inner(p, l4 + 8, avail_end, r)
    elif r.dport == UDP_PORT_MPLS or r.sport == UDP_PORT_MPLS:
        mpls_inner(p, l4 + 8, avail_end, r)
    elif r.dport == UDP_PORT_TEREDO or r.sport == UDP_PORT_TEREDO:
        teredo_inner(p, l4 + 8, avail_end, r)


cdef inline void geneve_inner(const uint8_t* p, Py_ssize_t off, Py_ssize_t end,
                              PacketRecord* r) noexcept nogil:
    # RFC 8926 3.4: version (2 bits) and option length in 4-byte words, flags, protocol type,
    # VNI; the options follow the 8-byte header.
    cdef Py_ssize_t hlen
    cdef uint16_t proto
    if off + 8 > end or (p[off] >> 6) != 0:
        return
    hlen = 8 + (p[off] & 0x3f) * 4
    proto = load_be16(p + off + 2)
    if proto == ETH_P_TEB:
        set_inner(r, INNER_GENEVE_ETH, off + hlen, end)
    elif proto == ETH_P_IPV4 or proto == ETH_P_IPV6:
        set_inner(r, INNER_GENEVE_IP, off + hlen, end)


cdef inline void mpls_inner(const uint8_t* p, Py_ssize_t off, Py_ssize_t end,
                            PacketRecord* r) noexcept nogil:
    cdef uint8_t saved = r.error
    cdef Py_ssize_t ip = mpls_stack(p, end, off, r)
    r.error = saved             # a broken inner stack is not an error of the outer packet
    if ip >= 0:
        set_inner(r, INNER_MPLS_IP, ip, end)


cdef inline void teredo_inner(const uint8_t* p, Py_ssize_t off, Py_ssize_t end,
                              PacketRecord* r) noexcept nogil:
    # Optional authentication (type 0x0001) and origin indication (0x0000) headers precede the
    # IPv6 packet (RFC 4380 5.1.1).
    cdef Py_ssize_t idlen, aulen
    if off + 2 <= end and p[off] == 0 and p[off + 1] == 1:
        if off + 4 > end:
            return
        idlen = p[off + 2]
        aulen = p[off + 3]
        off += 4 + idlen + aulen + 9
    if off + 2 <= end and p[off] == 0 and p[off + 1] == 0:
        off += 8
    if off + 40 <= end and (p[off] >> 4) == 6:
        r.inner_kind = INNER_TEREDO
        r.inner_off = <uint16_t>off


cdef inline void parse_icmp(const uint8_t* p, Py_ssize_t l4, Py_ssize_t avail_end,
                            Py_ssize_t seg_len, PacketRecord* r, bint verify, bint can_verify,
                            const uint8_t* src, const uint8_t* dst, bint v6) noexcept nogil:
    cdef Py_ssize_t avail = avail_end - l4
    cdef const uint8_t* h = p + l4
    cdef uint8_t t
    r.l4_off = <uint16_t>l4
    if avail < 4:
        if avail >= 1:
            r.icmp_type = h[0]
        if avail >= 2:
            r.icmp_code = h[1]
        set_error(r, ERR_TRUNCATED)
        return
    t = h[0]
    r.icmp_type = t
    r.icmp_code = h[1]
    if avail < 8 or seg_len < 8:
        set_error(r, ERR_TRUNCATED if avail < 8 else ERR_BAD_LENGTH)
        r.csum_l4 = CSUM_UNVERIFIED
        return
    if (v6 and (t == 128 or t == 129)) or (not v6 and (t == 0 or t == 8)):
        r.sport = load_be16(h + 4)      # echo identifier
    r.payload_off = <uint16_t>(l4 + 8)
    r.payload_len = <uint32_t>(seg_len - 8)
    if (icmpv6_is_error(t) if v6 else icmp_is_error(t)) and avail > 8:
        r.inner_kind = INNER_ICMP_QUOTE
        r.inner_off = <uint16_t>(l4 + 8)
    elif v6 and t == ICMPV6_REDIRECT:
        redirected_header(p, l4 + 40, l4 + avail, r)
    if not verify:
        r.csum_l4 = CSUM_UNVERIFIED
    elif r.wirelen == QUOTED_WIRELEN:
        r.csum_l4 = CSUM_UNVERIFIED     # an ICMP message quoted in another is not checked
    elif can_verify and avail >= seg_len:
        # ICMPv6 covers a pseudo-header (RFC 4443 2.3); ICMP for IPv4 does not.
        r.csum_l4 = CSUM_GOOD if csum_ok(csum_partial(
            h, <size_t>seg_len,
            pseudo_sum(src, dst, True, IPPROTO_ICMPV6, seg_len) if v6 else 0)) else CSUM_BAD
    else:
        r.csum_l4 = CSUM_UNVERIFIED


cdef inline void redirected_header(const uint8_t* p, Py_ssize_t off, Py_ssize_t end,
                                   PacketRecord* r) noexcept nogil:
    # RFC 4861 4.5 / 4.6.3: after target and destination addresses come options (type, length
    # in 8-byte units); the Redirected Header option (type 4) quotes the packet after 6 bytes
    # of padding.
    cdef Py_ssize_t olen
    while off + 2 <= end:
        olen = p[off + 1] * 8
        if olen == 0 or off + olen > end:
            return
        if p[off] == 4 and olen > 8:
            set_inner(r, INNER_ICMP_QUOTE, off + 8, end)
            return
        off += olen


cdef inline void parse_gre(const uint8_t* p, Py_ssize_t l4, Py_ssize_t avail_end,
                           PacketRecord* r) noexcept nogil:
    # RFC 2784 / 2890: checksum, key and sequence fields are present when their bits are set;
    # version 1 (enhanced GRE, RFC 2637) may add an acknowledgment number.
    cdef Py_ssize_t hlen = 4, off
    cdef uint16_t fl, proto
    r.l4_off = <uint16_t>l4
    if avail_end - l4 < 4:
        set_error(r, ERR_TRUNCATED)
        return
    fl = load_be16(p + l4)
    proto = load_be16(p + l4 + 2)
    if fl & 0x8000:
        hlen += 4
    if fl & 0x2000:
        hlen += 4
    if fl & 0x1000:
        hlen += 4
    if (fl & 0x0007) == 1 and (fl & 0x0080):
        hlen += 4
    if l4 + hlen > avail_end:
        set_error(r, ERR_TRUNCATED)
        return
    r.payload_off = <uint16_t>(l4 + hlen)
    off = l4 + hlen
    if proto == ETH_P_IPV4 or proto == ETH_P_IPV6:
        set_inner(r, INNER_GRE_IP, off, avail_end)
    elif proto == ETH_P_TEB:
        set_inner(r, INNER_GRE_ETH, off, avail_end)
    elif proto == GRE_PROTO_ERSPAN2:
        # ERSPAN type I has no sequence number and no ERSPAN header; type II adds both.
        set_inner(r, INNER_GRE_ETH, off + 8 if fl & 0x1000 else off, avail_end)
    elif proto == GRE_PROTO_ERSPAN3:
        # Type III: 12-byte header, an optional 8-byte subheader (O bit), and a frame type
        # that must be 0 (Ethernet) for the payload to be a frame.
        if off + 12 <= avail_end and ((p[off + 10] >> 2) & 0x1f) == 0:
            set_inner(r, INNER_GRE_ETH, off + 12 + (8 if p[off + 11] & 0x01 else 0), avail_end)
    elif proto == ETH_P_CISCO_MD:
        # In GRE the Cisco MetaData header starts with the ethertype (then version, length,
        # option, SGT); in Ethernet the ethertype comes last.
        if off + 8 < avail_end and load_be16(p + off) in (ETH_P_IPV4, ETH_P_IPV6):
            set_inner(r, INNER_GRE_IP, off + 8, avail_end)
    elif proto == GRE_PROTO_WCCP:
        # WCCP redirect header (4 bytes) precedes the redirected IP packet.
        if off + 4 < avail_end and (p[off + 4] >> 4) in (4, 6):
            set_inner(r, INNER_GRE_IP, off + 4, avail_end)
        else:
            set_inner(r, INNER_GRE_IP, off, avail_end)
    elif proto == ETH_P_MPLS_UC or proto == ETH_P_MPLS_MC:
        mpls_inner(p, off, avail_end, r)


cdef inline void parse_l4(const uint8_t* p, uint8_t proto, Py_ssize_t l4, Py_ssize_t avail_end,
                          Py_ssize_t seg_len, PacketRecord* r, bint verify, bint can_verify,
                          const uint8_t* src, const uint8_t* dst, bint v6) noexcept nogil:
    # src and dst are the addresses the pseudo-header uses (4 or 16 bytes).
    cdef Py_ssize_t present = avail_end - l4
    r.l4_avail = <uint8_t>(255 if present > 255 else (present if present > 0 else 0))
    if proto == IPPROTO_TCP:
        parse_tcp(p, l4, avail_end, seg_len, r, verify, can_verify, src, dst, v6)
    elif proto == IPPROTO_UDP:
        parse_udp(p, l4, avail_end, seg_len, r, verify, can_verify, src, dst, v6)
    elif proto == IPPROTO_ICMP and not v6:
        parse_icmp(p, l4, avail_end, seg_len, r, verify, can_verify, src, dst, False)
    elif proto == IPPROTO_ICMPV6 and v6:
        parse_icmp(p, l4, avail_end, seg_len, r, verify, can_verify, src, dst, True)
    elif proto == IPPROTO_IPIP or proto == IPPROTO_IPV6:
        r.l4_off = <uint16_t>l4
        r.payload_off = <uint16_t>l4
        r.payload_len = <uint32_t>seg_len
        set_inner(r, INNER_IP_IN_IP, l4, avail_end)
    elif proto == IPPROTO_ETHERNET:
        r.l4_off = <uint16_t>l4
        r.payload_off = <uint16_t>l4
        r.payload_len = <uint32_t>seg_len
        set_inner(r, INNER_ETH_IN_IP, l4, avail_end)
    elif proto == IPPROTO_PIM:
        # PIMv2 Register (version 2, type 1; RFC 7761 4.9.3): 8 bytes, then the data packet.
        r.l4_off = <uint16_t>l4
        r.payload_off = <uint16_t>l4
        r.payload_len = <uint32_t>seg_len
        if avail_end - l4 > 8 and p[l4] == 0x21:
            set_inner(r, INNER_PIM_REGISTER, l4 + 8, avail_end)
    elif proto == IPPROTO_GRE:
        parse_gre(p, l4, avail_end, r)
        r.payload_len = <uint32_t>(seg_len - (r.payload_off - l4)) if r.payload_off != OFF_NONE else 0
    else:
        r.l4_off = <uint16_t>l4
        r.payload_off = <uint16_t>l4
        r.payload_len = <uint32_t>seg_len


cdef inline uint64_t pseudo_add(uint64_t acc, uint8_t proto, Py_ssize_t length) noexcept nogil:
    # The protocol and 32-bit length words of a pseudo-header (RFC 8200 8.1 layout; for IPv4
    # the 16-bit length sums the same since its high half is zero).
    cdef uint8_t b[8]
    b[0] = 0
    b[1] = proto
    b[2] = <uint8_t>(length >> 24)
    b[3] = <uint8_t>(length >> 16)
    b[4] = <uint8_t>(length >> 8)
    b[5] = <uint8_t>length
    b[6] = 0
    b[7] = 0
    return csum_partial(b, 8, acc)


# ---------------------------------------------------------------- network layer

cdef inline Py_ssize_t reported_end(Py_ssize_t end, PacketRecord* r) noexcept nogil:
    # Where the packet ends as sent: the IP length, but never past the frame's wire length.
    # Bytes between the capture length and this end were cut by the snapshot length (their
    # checksums cannot be verified); an IP length past the wire length is a short packet,
    # whose checksum is computed over what it has (as tshark does, and it comes out bad).
    # A packet quoted in an ICMP error ends where the quote ends (tshark checks quoted headers
    # over what the quote holds).
    cdef Py_ssize_t wire = r.wirelen if r.wirelen > r.caplen else r.caplen
    if r.wirelen == QUOTED_WIRELEN:
        wire = r.caplen
    return end if end <= wire else wire


cdef inline void parse_ipv4(const uint8_t* p, Py_ssize_t n, Py_ssize_t off, PacketRecord* r,
                            bint verify) noexcept nogil:
    cdef const uint8_t* h = p + off
    cdef Py_ssize_t cap = n - off, ihl, total, end, avail_end
    cdef uint16_t ff
    cdef bint frag
    if cap < 1:
        set_error(r, ERR_TRUNCATED)
        return
    if (h[0] >> 4) == 6:
        # An IPv4 parser that meets version 6 hands the packet to IPv6, as tshark does.
        parse_ipv6(p, n, off, r, verify)
        return
    if (h[0] >> 4) != 4:
        set_error(r, ERR_BAD_VERSION)
        return
    ihl = (h[0] & 0x0f) * 4
    if ihl < 20:
        set_error(r, ERR_BAD_LENGTH)    # nothing after a bogus header length is trusted
        return
    if cap < 4:
        set_error(r, ERR_TRUNCATED)
        return
    total = load_be16(h + 2)
    if total != 0 and total < ihl:
        set_error(r, ERR_BAD_LENGTH)    # nor after a total length shorter than the header
        return
    r.ip_version = 4
    # A header cut short still yields the fields that were captured.
    if cap >= 6:
        r.ip_id = load_be16(h + 4)
    if cap >= 8:
        ff = load_be16(h + 6)
        r.frag_off = ff & 0x1fff
        if ff & 0x4000:
            r.ip_flags |= IPF_DF
        if ff & 0x2000:
            r.ip_flags |= IPF_MF
    if cap >= 9:
        r.ip_ttl = h[8]
    if cap >= 10:
        r.ip_proto = h[9]
    if cap >= 16:
        r.ip4_src = load_be32(h + 12)
    if cap < 20:
        if cap >= 12:
            r.csum_ip = CSUM_UNVERIFIED
        set_error(r, ERR_TRUNCATED)
        return
    r.ip4_dst = load_be32(h + 16)
    if total == 0:
        total = cap                 # segmentation offload left 0: use what was captured
    if cap < ihl:
        r.csum_ip = CSUM_UNVERIFIED
        set_error(r, ERR_TRUNCATED)
        return
    if ihl > 20:
        r.ip_flags |= IPF_OPTIONS
    if verify:
        r.csum_ip = CSUM_GOOD if csum_ok(csum_partial(h, <size_t>ihl, 0)) else CSUM_BAD
    else:
        r.csum_ip = CSUM_UNVERIFIED
    end = reported_end(off + total, r)
    if end < off + ihl:
        end = off + ihl
    total = end - off
    avail_end = end if end <= n else n
    frag = (ff & 0x3fff) != 0
    if frag:
        r.ip_flags |= IPF_FRAGMENT
    if r.frag_off:
        # Not the first fragment: the bytes after the header are the middle of the payload.
        r.ip_flags |= IPF_NONFIRST
        r.payload_off = <uint16_t>(off + ihl)
        r.payload_len = <uint32_t>(total - ihl)
        return
    parse_l4(p, r.ip_proto, off + ihl, avail_end, total - ihl, r, verify, not frag,
             h + 12, h + 16, False)


cdef inline void parse_ipv6(const uint8_t* p, Py_ssize_t n, Py_ssize_t off, PacketRecord* r,
                            bint verify) noexcept nogil:
    cdef const uint8_t* h = p + off
    cdef Py_ssize_t plen, end, avail_end, l4
    cdef ipv6_ext_t ext
    cdef int w
    cdef Py_ssize_t cap = n - off
    if cap < 1:
        set_error(r, ERR_TRUNCATED)
        return
    if (h[0] >> 4) != 6:
        set_error(r, ERR_BAD_VERSION)
        return
    r.ip_version = 6
    # A header cut short keeps the fields that were captured.
    if cap >= 7:
        r.ip_proto = h[6]
    if cap >= 8:
        r.ip_ttl = h[7]
    if cap >= 24:
        memcpy(r.ip6_src, h + 8, 16)
    if cap < 40:
        set_error(r, ERR_TRUNCATED)
        return
    memcpy(r.ip6_dst, h + 24, 16)
    plen = load_be16(h + 4)
    # Walk only what the payload length covers (all that was captured for a jumbogram).
    end = off + 40 + plen
    avail_end = end if end <= n and plen != 0 else n
    w = ipv6_walk(h, avail_end - off, &ext)
    r.ip_proto = ext.upper_proto
    r.ip_flags |= ext.flags
    if ext.flags & IPF_FRAGMENT:
        r.ip_id = <uint16_t>ext.frag_ident
        r.frag_off = ext.frag_off
    if w < 0:
        set_error(r, <uint8_t>(-w))
        return
    if plen == 0 and ext.jumbo_len:
        end = off + 40 + ext.jumbo_len
    elif plen == 0:
        end = off + 40              # an empty payload (or a jumbogram without its option)
    end = reported_end(end, r)
    if end < off + 40:
        end = off + 40
    avail_end = end if end <= n else n
    l4 = off + ext.upper_off
    if ext.flags & IPF_NONFIRST or l4 > end:
        r.payload_off = <uint16_t>l4 if l4 <= end else OFF_NONE
        r.payload_len = <uint32_t>(end - l4) if l4 <= end else 0
        return
    # Pseudo-header: the Home Address replaces the source (RFC 6275 6.3) and the routing
    # header's final destination replaces the destination (RFC 8200 8.1).
    parse_l4(p, ext.upper_proto, l4, avail_end, end - l4, r, verify,
             not (ext.flags & IPF_FRAGMENT),
             ext.home_addr if ext.home_addr != NULL else h + 8,
             ext.final_dst if ext.final_dst != NULL else h + 24, True)


cdef void parse_frame(const uint8_t* p, uint32_t caplen, uint16_t linktype, PacketRecord* r,
                      bint verify_checksums) noexcept nogil:
    # The caller sets ts_ns, data_off, wirelen and iface; everything else starts blank.
    cdef int64_t ts = r.ts_ns
    cdef uint64_t data_off = r.data_off
    cdef uint32_t wirelen = r.wirelen
    cdef uint16_t iface = r.iface
    cdef Py_ssize_t n = caplen, off
    memcpy(r, &BLANK, sizeof(PacketRecord))
    r.ts_ns = ts
    r.data_off = data_off
    r.wirelen = wirelen
    r.iface = iface
    r.caplen = caplen
    r.linktype = linktype
    off = parse_link(p, n, linktype, r)
    if off < 0:
        return
    r.l3_off = <uint16_t>off
    if r.l3_type == ETH_P_IPV4:
        parse_ipv4(p, n, off, r, verify_checksums)
    elif r.l3_type == ETH_P_IPV6:
        parse_ipv6(p, n, off, r, verify_checksums)
    elif r.l3_type == ETH_P_ARP or r.l3_type == ETH_P_RARP:
        if n - off < 8:
            set_error(r, ERR_TRUNCATED)
        else:
            r.arp_op = load_be16(p + off + 6)


# ---------------------------------------------------------------- Python entry points

cdef cnp.ndarray _new_records(Py_ssize_t n, out):
    if out is None:
        return np.zeros(n, dtype=PACKET_DTYPE)
    if not isinstance(out, np.ndarray) or out.dtype != PACKET_DTYPE or out.shape[0] < n \
            or not out.flags.c_contiguous:
        raise ValueError(f"out must be a contiguous PACKET_DTYPE array of at least {n} rows")
    return out[:n]


def parse_frames(buf, index, Py_ssize_t base=0, bint verify_checksums=False, out=None):
    """Parse every frame of ``index`` (a ``FRAME_DTYPE`` array) in ``buf``.

    Frame i is ``buf[index['data_off'][i] - base :][:index['caplen'][i]]``; its link type,
    timestamp, wire length and interface come from the index. Returns a ``PACKET_DTYPE`` array
    (or fills ``out``). A frame that lies outside ``buf`` gets ``error = ERR_BAD_FRAME``.
    With ``verify_checksums`` the IPv4, TCP, UDP and ICMP checksums are verified (status good /
    bad); otherwise they are reported unverified, as tshark does with validation off.
    """
    cdef const uint8_t[::1] data
    if index.dtype != FRAME_DTYPE:
        raise TypeError(f"index must be a FRAME_DTYPE array, not {index.dtype}")
    cdef cnp.ndarray idx_arr = np.ascontiguousarray(index)
    cdef Py_ssize_t count = idx_arr.shape[0], i, size
    cdef cnp.ndarray recs = _new_records(count, out)
    cdef const FrameRef* frames = <const FrameRef*>cnp.PyArray_DATA(idx_arr)
    cdef PacketRecord* rows = <PacketRecord*>cnp.PyArray_DATA(recs)
    cdef const uint8_t* start
    cdef int64_t pos
    if count == 0:
        return recs
    data = memoryview(buf).cast("B") if not isinstance(buf, np.ndarray) else buf.view(np.uint8).reshape(-1)
    size = data.shape[0]
    start = &data[0] if size > 0 else NULL
    with nogil:
        for i in range(count):
            # Frames far apart in memory each cost a cache miss: start fetching the headers of
            # a frame a few iterations ahead so the misses overlap.
            if i + PREFETCH_AHEAD < count:
                pos = <int64_t>frames[i + PREFETCH_AHEAD].data_off - base
                if pos >= 0 and pos + 128 <= size:
                    fastpath_prefetch_read(start + pos)
                    fastpath_prefetch_read(start + pos + 64)
            pos = <int64_t>frames[i].data_off - base
            rows[i].ts_ns = frames[i].ts_ns
            rows[i].data_off = frames[i].data_off
            rows[i].wirelen = frames[i].wirelen
            rows[i].iface = frames[i].iface
            if pos < 0 or pos + <int64_t>frames[i].caplen > size:
                memcpy(&rows[i], &BLANK, sizeof(PacketRecord))
                rows[i].ts_ns = frames[i].ts_ns
                rows[i].data_off = frames[i].data_off
                rows[i].wirelen = frames[i].wirelen
                rows[i].caplen = frames[i].caplen
                rows[i].linktype = frames[i].linktype
                rows[i].error = ERR_BAD_FRAME
                continue
            parse_frame(start + pos, frames[i].caplen, frames[i].linktype, &rows[i],
                        verify_checksums)
    return recs


def parse_batch(buf, offsets, lengths, int linktype=LINKTYPE_ETHERNET, timestamps=None,
                bint verify_checksums=False, out=None):
    """Parse frames at ``offsets`` with ``lengths`` in ``buf`` (what a ring-buffer backend
    hands over), all of one ``linktype``; ``timestamps`` (ns) optional. Returns PACKET_DTYPE."""
    off = np.asarray(offsets)
    ln = np.asarray(lengths)
    if off.shape != ln.shape or off.ndim != 1:
        raise ValueError(f"offsets and lengths must be 1-D arrays of one length "
                         f"(got {off.shape} and {ln.shape})")
    if off.size and (off.min() < 0 or ln.min() < 0):
        raise ValueError("offsets and lengths must not be negative")
    index = np.zeros(off.shape[0], dtype=FRAME_DTYPE)
    index["data_off"] = off
    index["caplen"] = ln
    index["wirelen"] = ln
    index["linktype"] = linktype
    if timestamps is not None:
        index["ts_ns"] = timestamps
    return parse_frames(buf, index, 0, verify_checksums, out)


def parse_packet(frame, int linktype=LINKTYPE_ETHERNET, bint verify_checksums=False,
                 wirelen=None):
    """Parse one frame; returns its PACKET_DTYPE record (a numpy structured scalar).

    ``wirelen`` is the length on the wire when ``frame`` was cut short by a snapshot length
    (default: the frame is whole). It decides whether missing bytes were not captured (their
    checksums are unverified) or were never sent (the packet is shorter than its headers say)."""
    cdef const uint8_t[::1] data = memoryview(frame).cast("B")
    cdef cnp.ndarray rec = np.zeros(1, dtype=PACKET_DTYPE)
    cdef PacketRecord* r = <PacketRecord*>cnp.PyArray_DATA(rec)
    cdef Py_ssize_t n = data.shape[0]
    if n > 0xffffffff:
        raise ValueError("a frame longer than 4 GiB")
    r.wirelen = <uint32_t>(n if wirelen is None else wirelen)
    parse_frame(&data[0] if n else <const uint8_t*>b"", <uint32_t>n, <uint16_t>linktype, r,
                verify_checksums)
    return rec[0]


def verify_batch(buf, offsets, lengths, int linktype=LINKTYPE_ETHERNET):
    """Checksum status of every frame, without the GIL: (ip, l4) uint8 arrays of CSUM_* values
    (IPv4 header; TCP, UDP, ICMP or ICMPv6)."""
    recs = parse_batch(buf, offsets, lengths, linktype, None, True)
    return recs["csum_ip"].copy(), recs["csum_l4"].copy()


# ---------------------------------------------------------------- filling checksums

cdef int fill_frame_checksums(uint8_t* p, uint32_t caplen, uint16_t linktype) noexcept nogil:
    # Recompute the IPv4 header checksum and the TCP / UDP / ICMP / ICMPv6 checksum of one
    # frame in place. Returns how many were written; a header that is truncated, a fragment, or
    # a segment not wholly captured is left alone.
    cdef PacketRecord r
    cdef Py_ssize_t l3, l4, seg
    cdef uint8_t* h
    cdef const uint8_t* src
    cdef const uint8_t* dst
    cdef ipv6_ext_t ext
    cdef int written = 0
    cdef Py_ssize_t csum_at
    cdef uint16_t csum
    memset(&r, 0, sizeof(PacketRecord))
    r.wirelen = caplen
    parse_frame(p, caplen, linktype, &r, False)
    if r.ip_version == 0 or r.l3_off == OFF_NONE:
        return 0
    l3 = r.l3_off
    h = p + l3
    if r.ip_version == 4:
        if caplen - l3 < (h[0] & 0x0f) * 4:
            return 0
        store_be16(h + 10, 0)
        store_be16(h + 10, csum_finish(csum_partial(h, <size_t>((h[0] & 0x0f) * 4), 0)))
        written += 1
        src = h + 12
        dst = h + 16
    else:
        if ipv6_walk(h, caplen - l3, &ext) < 0:
            return written
        src = ext.home_addr if ext.home_addr != NULL else h + 8
        dst = ext.final_dst if ext.final_dst != NULL else h + 24
    if r.l4_off == OFF_NONE or r.ip_flags & IPF_FRAGMENT or r.error != ERR_NONE:
        return written
    l4 = r.l4_off
    if r.ip_proto == IPPROTO_TCP:
        seg = r.payload_off - l4 + r.payload_len
        csum_at = 16
    elif r.ip_proto == IPPROTO_UDP:
        seg = 8 + r.payload_len
        csum_at = 6
    elif r.ip_proto == IPPROTO_ICMP and r.ip_version == 4:
        seg = 8 + r.payload_len
        csum_at = 2
    elif r.ip_proto == IPPROTO_ICMPV6 and r.ip_version == 6:
        seg = 8 + r.payload_len
        csum_at = 2
    else:
        return written
    if l4 + seg > caplen:
        return written
    store_be16(p + l4 + csum_at, 0)
    csum = csum_finish(csum_partial(
        p + l4, <size_t>seg,
        0 if r.ip_proto == IPPROTO_ICMP else pseudo_sum(src, dst, r.ip_version == 6, r.ip_proto, seg)))
    if r.ip_proto == IPPROTO_UDP and csum == 0:
        csum = 0xffff           # RFC 768: zero is "no checksum"
    store_be16(p + l4 + csum_at, csum)
    return written + 1


def fill_checksums(frame, int linktype=LINKTYPE_ETHERNET):
    """Recompute every checksum of one frame in place (``frame`` is writable: bytearray,
    numpy array, writable memoryview). Returns how many were written (0 to 2)."""
    cdef uint8_t[::1] data = memoryview(frame).cast("B")
    if data.shape[0] == 0:
        return 0
    if data.shape[0] > 0xffffffff:
        raise ValueError("a frame longer than 4 GiB")
    return fill_frame_checksums(&data[0], <uint32_t>data.shape[0], <uint16_t>linktype)


def fill_checksums_batch(buf, offsets, lengths, int linktype=LINKTYPE_ETHERNET):
    """``fill_checksums`` over many frames of one writable buffer, without the GIL. Returns the
    number of checksums written."""
    cdef uint8_t[::1] data = memoryview(buf).cast("B")
    cdef const int64_t[::1] off = np.ascontiguousarray(offsets, dtype=np.int64)
    cdef const int64_t[::1] ln = np.ascontiguousarray(lengths, dtype=np.int64)
    cdef Py_ssize_t n = off.shape[0], i, size = data.shape[0]
    cdef long total = 0
    if ln.shape[0] != n:
        raise ValueError(f"{n} offsets but {ln.shape[0]} lengths")
    for i in range(n):
        if off[i] < 0 or ln[i] < 0 or off[i] + ln[i] > size or ln[i] > 0xffffffff:
            raise ValueError(f"frame {i} (offset {off[i]}, length {ln[i]}) does not fit in a "
                             f"buffer of {size} bytes")
    with nogil:
        for i in range(n):
            if ln[i]:
                total += fill_frame_checksums(&data[off[i]], <uint32_t>ln[i], <uint16_t>linktype)
    return total
