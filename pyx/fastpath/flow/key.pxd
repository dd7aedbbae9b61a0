# The flow key: one bidirectional 5-tuple (plus optional VLAN IDs) in 40 bytes.
#
# Both directions of a connection map to the same key: the endpoint that sorts lower is stored
# first ("canonical order") and the caller learns whether the packet went a->b or b->a. IPv4
# addresses are stored IPv4-mapped (RFC 4291 2.5.5.2, ::ffff:a.b.c.d), so one layout serves both
# families and an IPv4 key can never equal an IPv6 key.
#
# An IPv6 packet may carry IPv4-mapped addresses too (bogus on the wire, RFC 4291 2.5.5.2, but
# captures contain anything), so the family is not in these 40 bytes: the table keeps it beside
# the key and salts the hash with it (key_hash's ``v6``).
#
# ICMP follows Zeek's convention, so records compare with conn.log: the "ports" are the message
# type and, for request/reply pairs (echo, router/neighbour discovery, ...), the counterpart type;
# one-way messages (errors, MLD reports) use (type, code) and are *not* canonicalised, so each
# direction is its own flow. No two-way type is ever a one-way type, so the two kinds never collide.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

from fastpath.includes.byteorder cimport load_ne64, store_be32
from fastpath.wire.record cimport PacketRecord, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6


ctypedef struct FlowKey:
    uint8_t addr[2][16]         # endpoint a (the lower), endpoint b
    uint16_t port[2]            # host order
    uint32_t meta               # proto << 24 | outer VLAN << 12 | inner VLAN


cdef inline uint32_t key_proto(const FlowKey* k) noexcept nogil:
    return k.meta >> 24


cdef inline bint addr_is_v4mapped(const uint8_t* a) noexcept nogil:
    cdef int i
    for i in range(10):
        if a[i] != 0:
            return False
    return a[10] == 0xff and a[11] == 0xff


cdef inline void addr_set_v4(uint8_t* a, uint32_t host_order) noexcept nogil:
    memset(a, 0, 10)
    a[10] = 0xff
    a[11] = 0xff
    store_be32(a + 12, host_order)


cdef inline uint16_t icmp4_counterpart(uint8_t t, bint* one_way) noexcept nogil:
    # RFC 792 / RFC 950 request-reply pairs; everything else is one-way.
    one_way[0] = False
    if t == 8:
        return 0            # echo -> echo reply
    if t == 0:
        return 8
    if t == 13:
        return 14           # timestamp
    if t == 14:
        return 13
    if t == 15:
        return 16           # information request
    if t == 16:
        return 15
    if t == 10:
        return 9            # router solicitation -> advertisement
    if t == 9:
        return 10
    if t == 17:
        return 18           # address mask
    if t == 18:
        return 17
    one_way[0] = True
    return 0


cdef inline uint16_t icmp6_counterpart(uint8_t t, bint* one_way) noexcept nogil:
    # RFC 4443 echo, RFC 4861 neighbour discovery, RFC 2710 MLD, RFC 4620 node information,
    # RFC 6275 home agent address discovery.
    one_way[0] = False
    if t == 128:
        return 129
    if t == 129:
        return 128
    if t == 133:
        return 134
    if t == 134:
        return 133
    if t == 135:
        return 136
    if t == 136:
        return 135
    if t == 130:
        return 131
    if t == 131:
        return 130
    if t == 139:
        return 140
    if t == 140:
        return 139
    if t == 144:
        return 145
    if t == 145:
        return 144
    one_way[0] = True
    return 0


cdef inline uint64_t v4_word(uint32_t host_order) noexcept nogil:
    # Bytes 8..15 of ::ffff:a.b.c.d as one native (little-endian) word: 00 00 ff ff a b c d.
    cdef uint32_t be = ((host_order >> 24) | ((host_order >> 8) & 0xff00) |
                        ((host_order << 8) & 0xff0000) | (host_order << 24))
    return (<uint64_t>be << 32) | <uint64_t>0xffff0000


cdef inline void store_word(uint8_t* p, uint64_t w) noexcept nogil:
    memcpy(p, &w, 8)


cdef inline bint key_from_packet(const PacketRecord* r, FlowKey* k, bint use_vlan,
                                 bint* swapped) noexcept nogil:
    """Fill ``k`` from a parsed IPv4/IPv6 packet. ``swapped`` says the packet travels b -> a.

    Returns False when the packet cannot be keyed (no IP layer). The key is assembled in
    registers and written with five 8-byte stores, so the loads that hash and compare it right
    after are forwarded from those stores instead of stalling on byte-sized ones."""
    cdef bint one_way = False
    cdef uint16_t sp = 0, dp = 0
    cdef uint8_t proto = r.ip_proto
    cdef uint32_t vl = 0
    cdef uint64_t s0, s1, d0, d1, t, tail
    cdef uint8_t* out = <uint8_t*>k
    if r.ip_version == 4:
        s0 = 0
        d0 = 0
        s1 = v4_word(r.ip4_src)
        d1 = v4_word(r.ip4_dst)
    elif r.ip_version == 6:
        s0 = load_ne64(r.ip6_src)
        s1 = load_ne64(r.ip6_src + 8)
        d0 = load_ne64(r.ip6_dst)
        d1 = load_ne64(r.ip6_dst + 8)
    else:
        return False
    if proto == IPPROTO_TCP or proto == IPPROTO_UDP:
        sp = r.sport
        dp = r.dport
    elif proto == IPPROTO_ICMP:
        sp = r.icmp_type
        dp = icmp4_counterpart(r.icmp_type, &one_way)
        if one_way:
            dp = r.icmp_code
    elif proto == IPPROTO_ICMPV6:
        sp = r.icmp_type
        dp = icmp6_counterpart(r.icmp_type, &one_way)
        if one_way:
            dp = r.icmp_code
    if use_vlan and r.vlan_count > 0:
        vl = (<uint32_t>(r.vlan[0] & 0xfff)) << 12
        if r.vlan_count > 1:
            vl |= r.vlan[1] & 0xfff
    # Canonical order: any total order will do; native words are the cheapest to compare.
    swapped[0] = not one_way and (s0 > d0 or (s0 == d0 and (s1 > d1 or (s1 == d1 and sp > dp))))
    if swapped[0]:
        t = s0
        s0 = d0
        d0 = t
        t = s1
        s1 = d1
        d1 = t
        t = sp
        sp = dp
        dp = <uint16_t>t
    # port[0], port[1] and meta share the last word (little-endian hosts only, as the records).
    tail = <uint64_t>sp | (<uint64_t>dp << 16) | (<uint64_t>((<uint32_t>proto << 24) | vl) << 32)
    store_word(out, s0)
    store_word(out + 8, s1)
    store_word(out + 16, d0)
    store_word(out + 24, d1)
    store_word(out + 32, tail)
    return True


cdef inline bint key_eq(const FlowKey* a, const FlowKey* b) noexcept nogil:
    cdef const uint8_t* x = <const uint8_t*>a
    cdef const uint8_t* y = <const uint8_t*>b
    return ((load_ne64(x) ^ load_ne64(y)) | (load_ne64(x + 8) ^ load_ne64(y + 8)) |
            (load_ne64(x + 16) ^ load_ne64(y + 16)) | (load_ne64(x + 24) ^ load_ne64(y + 24)) |
            (load_ne64(x + 32) ^ load_ne64(y + 32))) == 0


cdef inline uint64_t _mix(uint64_t h, uint64_t w) noexcept nogil:
    h ^= w
    h *= <uint64_t>0x9E3779B97F4A7C15
    return h ^ (h >> 29)


cdef inline uint64_t key_hash(const FlowKey* k, uint64_t seed, bint v6) noexcept nogil:
    # Multiply-xorshift over the five words, seeded per table so that crafted tuples cannot
    # be precomputed to collide (the seed is random unless the caller fixes it).
    cdef const uint8_t* p = <const uint8_t*>k
    cdef uint64_t h = seed ^ <uint64_t>0x2545F4914F6CDD1D
    if v6:
        h ^= <uint64_t>0x6A09E667F3BCC908
    h = _mix(h, load_ne64(p))
    h = _mix(h, load_ne64(p + 8))
    h = _mix(h, load_ne64(p + 16))
    h = _mix(h, load_ne64(p + 24))
    h = _mix(h, load_ne64(p + 32))
    h ^= h >> 32
    h *= <uint64_t>0xD6E8FEB86659FD93
    h ^= h >> 32
    return h
