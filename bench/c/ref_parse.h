/* A plain C packet parser: the honest reference the wire benchmarks compare fastpath against.
 *
 * It fills a record with the fields of fastpath's PacketRecord (pyx/fastpath/wire/record.pxd),
 * with the same meaning; ref_field_*() describe its layout by name, so the benchmark can read it
 * with numpy and compare it with fastpath's field by field even when record.pxd changes: link header, VLAN/QinQ tags, LLC/SNAP, MPLS, PPPoE,
 * IPv4 (options, fragments, total length 0), IPv6 with the extension-header walk (and the
 * hop-by-hop / destination option scan for Jumbo Payload and Home Address), TCP with its
 * options, UDP, ICMP/ICMPv6 with the quoted header's offset, GRE, IP-in-IP, VXLAN and Teredo
 * detection, ARP, payload offset and length, a per-packet error code. Checksums are not
 * verified (status "unverified" / "not present"), matching fastpath with verify_checksums off.
 *
 * Written plainly, as a competent C programmer would for a single-threaded loop: inline
 * functions, big-endian loads by shifts, bounds checked against the captured length.
 * Compiled by bench/conftest.py with gcc -O2.
 */
#ifndef FASTPATH_BENCH_REF_PARSE_H
#define FASTPATH_BENCH_REF_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    int64_t ts_ns;
    uint64_t data_off;
    uint32_t caplen;
    uint32_t wirelen;
    uint16_t linktype;
    uint16_t iface;
    uint32_t reserved;
} ref_frame;

typedef struct {
    int64_t ts_ns;
    uint64_t data_off;
    uint32_t caplen, wirelen;
    uint32_t ip4_src, ip4_dst;
    uint32_t tcp_seq, tcp_ack, tcp_tsval, tcp_tsecr, tcp_sack_max, payload_len;
    uint8_t ip6_src[16];
    uint8_t ip6_dst[16];
    uint16_t linktype, iface, eth_type, l3_type;
    uint16_t vlan[4];
    uint16_t l3_off, l4_off, payload_off, inner_off;
    uint16_t sport, dport, tcp_flags, tcp_window, tcp_mss, ip_id, frag_off, arp_op;
    uint8_t error, vlan_count, ip_version, ip_proto, ip_ttl, ip_flags, tcp_wscale, tcp_opts;
    uint8_t icmp_type, icmp_code, csum_ip, csum_l4, inner_kind, l4_avail;
    uint8_t vlan_stag;                                /* bit i: tag i is a service tag */
    uint8_t reserved;
} ref_record;

enum { OFF_NONE = 0xffff, WSCALE_NONE = 0xff, MAX_VLAN = 4, MAX_EXT = 16, MAX_MPLS = 8 };
enum { ERR_NONE, ERR_TRUNCATED, ERR_BAD_LENGTH, ERR_BAD_VERSION, ERR_UNSUPPORTED_LINKTYPE,
       ERR_TOO_MANY_TAGS, ERR_BAD_OPTION, ERR_EXT_CHAIN, ERR_BAD_FRAME };
enum { CSUM_BAD, CSUM_GOOD, CSUM_UNVERIFIED, CSUM_NONE };
enum { IPF_DF = 1, IPF_MF = 2, IPF_FRAGMENT = 4, IPF_NONFIRST = 8, IPF_OPTIONS = 16,
       IPF_JUMBO = 32, IPF_ROUTING = 64, IPF_HOME_ADDR = 128 };
enum { OPT_MSS = 1, OPT_WSCALE = 2, OPT_SACK_PERM = 4, OPT_SACK = 8, OPT_TIMESTAMP = 16,
       OPT_UNKNOWN = 32, OPT_MALFORMED = 64 };
enum { INNER_NONE, INNER_ICMP_QUOTE, INNER_IP_IN_IP, INNER_GRE_IP, INNER_GRE_ETH, INNER_VXLAN,
       INNER_TEREDO };

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint32_t le32(const uint8_t *p) {
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}
static inline void seterr(ref_record *r, uint8_t e) { if (r->error == ERR_NONE) r->error = e; }

static inline void ref_blank(ref_record *r) {
    memset(r, 0, sizeof *r);
    r->l3_off = r->l4_off = r->payload_off = r->inner_off = OFF_NONE;
    r->tcp_wscale = WSCALE_NONE;
    r->csum_ip = r->csum_l4 = CSUM_NONE;
}

/* ---------------------------------------------------------------- link layer */

static inline long ref_ethertype_chain(const uint8_t *p, long n, uint16_t t, long off, ref_record *r) {
    while (t == 0x8100 || t == 0x88a8 || t == 0x9100) {
        if (r->vlan_count == MAX_VLAN) { seterr(r, ERR_TOO_MANY_TAGS); return -1; }
        if (off + 4 > n) { seterr(r, ERR_TRUNCATED); return -1; }
        if (t != 0x8100) r->vlan_stag |= (uint8_t)(1u << r->vlan_count);
        r->vlan[r->vlan_count++] = be16(p + off) & 0x0fff;
        t = be16(p + off + 2);
        off += 4;
    }
    if (t <= 1500) {                                  /* 802.3 length: only LLC/SNAP has a type */
        if (off + 3 > n) { seterr(r, ERR_TRUNCATED); return -1; }
        if (p[off] != 0xaa || p[off + 1] != 0xaa || p[off + 2] != 0x03) return -1;
        if (off + 8 > n) { seterr(r, ERR_TRUNCATED); return -1; }
        t = be16(p + off + 6);
        off += 8;
    }
    if (t == 0x8847 || t == 0x8848) {                 /* MPLS label stack (RFC 3032) */
        int labels = 0;
        for (;;) {
            if (labels == MAX_MPLS) { seterr(r, ERR_TOO_MANY_TAGS); return -1; }
            if (off + 4 > n) { seterr(r, ERR_TRUNCATED); return -1; }
            labels++;
            off += 4;
            if (p[off - 2] & 1) break;
        }
        if (off + 1 > n) { seterr(r, ERR_TRUNCATED); return -1; }
        if ((p[off] >> 4) == 4) t = 0x0800;
        else if ((p[off] >> 4) == 6) t = 0x86dd;
        else return -1;
    } else if (t == 0x8864) {                         /* PPPoE session (RFC 2516) */
        uint16_t proto;
        if (off + 8 > n) { seterr(r, ERR_TRUNCATED); return -1; }
        proto = be16(p + off + 6);
        off += 8;
        if (proto == 0x0021) t = 0x0800;
        else if (proto == 0x0057) t = 0x86dd;
        else return -1;
    }
    r->l3_type = t;
    return off;
}

static inline long ref_parse_link(const uint8_t *p, long n, uint16_t linktype, ref_record *r) {
    uint16_t t;
    uint32_t fam;
    switch (linktype) {
    case 1:                                           /* Ethernet */
        if (n < 14) { seterr(r, ERR_TRUNCATED); return -1; }
        t = be16(p + 12);
        r->eth_type = t <= 1500 ? 0 : t;
        return ref_ethertype_chain(p, n, t, 14, r);
    case 113:                                         /* Linux cooked v1 */
        if (n < 16) { seterr(r, ERR_TRUNCATED); return -1; }
        t = be16(p + 14);
        if (t == 1 || t == 3 || t == 4) return -1;
        return ref_ethertype_chain(p, n, t, 16, r);
    case 276:                                         /* Linux cooked v2 */
        if (n < 20) { seterr(r, ERR_TRUNCATED); return -1; }
        t = be16(p);
        if (t == 1 || t == 3 || t == 4) return -1;
        return ref_ethertype_chain(p, n, t, 20, r);
    case 0: case 108:                                 /* BSD loopback */
        if (n < 4) { seterr(r, ERR_TRUNCATED); return -1; }
        fam = linktype == 108 ? be32(p) : le32(p);
        if (linktype == 0 && (fam & 0xffff) == 0) fam = be32(p);
        if (fam == 2) t = 0x0800;
        else if (fam == 10 || fam == 23 || fam == 24 || fam == 28 || fam == 30) t = 0x86dd;
        else return -1;
        r->l3_type = t;
        return 4;
    case 101: case 12: case 14:                       /* raw IP */
        if (n < 1) { seterr(r, ERR_TRUNCATED); return -1; }
        if ((p[0] >> 4) == 4) r->l3_type = 0x0800;
        else if ((p[0] >> 4) == 6) r->l3_type = 0x86dd;
        else { seterr(r, ERR_BAD_VERSION); return -1; }
        return 0;
    case 228: r->l3_type = 0x0800; return 0;
    case 229: r->l3_type = 0x86dd; return 0;
    default:
        seterr(r, ERR_UNSUPPORTED_LINKTYPE);
        return -1;
    }
}

/* ---------------------------------------------------------------- transport layer */

/* whole: the segment is not a fragment, so its length can be checked against the IP length. */
static inline void ref_tcp(const uint8_t *p, long l4, long avail_end, long seg_len, ref_record *r, int whole) {
    const uint8_t *h = p + l4;
    long avail = avail_end - l4, doff, optlen, i;
    r->l4_off = (uint16_t)l4;
    if (avail >= 4) { r->sport = be16(h); r->dport = be16(h + 2); }
    if (avail >= 8) r->tcp_seq = be32(h + 4);
    if (avail < 20) {
        if (avail >= 12) r->tcp_ack = be32(h + 8);
        seterr(r, ERR_TRUNCATED);
        return;
    }
    r->tcp_ack = be32(h + 8);
    r->tcp_flags = be16(h + 12) & 0x0fff;
    r->tcp_window = be16(h + 14);
    doff = (h[12] >> 4) * 4;
    if (doff < 20 || (doff > seg_len && whole)) { seterr(r, ERR_BAD_LENGTH); return; }
    optlen = doff - 20;
    if (doff > seg_len) {                             /* a first fragment ending inside the header */
        seterr(r, ERR_TRUNCATED);
        if (optlen > seg_len - 20) optlen = seg_len - 20;
    }
    if (optlen > avail - 20) { optlen = avail - 20; seterr(r, ERR_TRUNCATED); }
    /* Options (RFC 9293 3.1): EOL ends, NOP is one byte, others carry a length >= 2. */
    for (i = 0; i < optlen;) {
        const uint8_t *o = h + 20 + i;
        uint8_t kind = o[0], olen;
        if (kind == 0) break;
        if (kind == 1) { i++; continue; }
        if (i + 1 >= optlen) { r->tcp_opts |= OPT_MALFORMED; break; }
        olen = o[1];
        if (olen < 2 || i + olen > optlen) { r->tcp_opts |= OPT_MALFORMED; break; }
        switch (kind) {
        case 2:
            if (olen == 4) { r->tcp_mss = be16(o + 2); r->tcp_opts |= OPT_MSS; }
            else r->tcp_opts |= OPT_MALFORMED;
            break;
        case 3:
            if (olen == 3) { r->tcp_wscale = o[2]; r->tcp_opts |= OPT_WSCALE; }
            else r->tcp_opts |= OPT_MALFORMED;
            break;
        case 4:
            if (olen == 2) r->tcp_opts |= OPT_SACK_PERM;
            else r->tcp_opts |= OPT_MALFORMED;
            break;
        case 8:
            if (olen == 10) {
                r->tcp_tsval = be32(o + 2);
                r->tcp_tsecr = be32(o + 6);
                r->tcp_opts |= OPT_TIMESTAMP;
            } else r->tcp_opts |= OPT_MALFORMED;
            break;
        case 5:
            if (olen >= 10 && (olen - 2) % 8 == 0) {
                long k;
                int first = 1;
                r->tcp_opts |= OPT_SACK;
                for (k = 2; k + 8 <= olen && k < 2 + 8 * 4; k += 8) {
                    uint32_t right = be32(o + k + 4);
                    /* the highest right edge in sequence space */
                    if (first || (int32_t)(right - r->tcp_sack_max) > 0) r->tcp_sack_max = right;
                    first = 0;
                }
            } else r->tcp_opts |= OPT_MALFORMED;
            break;
        default:
            r->tcp_opts |= OPT_UNKNOWN;
        }
        i += olen;
    }
    if (r->tcp_opts & OPT_MALFORMED) seterr(r, ERR_BAD_OPTION);
    r->payload_off = (uint16_t)(l4 + doff);
    r->payload_len = seg_len > doff ? (uint32_t)(seg_len - doff) : 0;
    r->csum_l4 = CSUM_UNVERIFIED;
}

static inline void ref_teredo(const uint8_t *p, long off, long end, ref_record *r) {
    if (off + 2 <= end && p[off] == 0 && p[off + 1] == 1) {      /* authentication header */
        if (off + 4 > end) return;
        off += 4 + p[off + 2] + p[off + 3] + 9;
    }
    if (off + 2 <= end && p[off] == 0 && p[off + 1] == 0) off += 8; /* origin indication */
    if (off + 40 <= end && (p[off] >> 4) == 6) {
        r->inner_kind = INNER_TEREDO;
        r->inner_off = (uint16_t)off;
    }
}

static inline void ref_udp(const uint8_t *p, long l4, long avail_end, long seg_len, ref_record *r, int v6,
                           int whole) {
    const uint8_t *h = p + l4;
    long avail = avail_end - l4, ulen;
    uint16_t csum;
    r->l4_off = (uint16_t)l4;
    if (avail >= 4) { r->sport = be16(h); r->dport = be16(h + 2); }
    if (avail < 8) { seterr(r, ERR_TRUNCATED); return; }
    ulen = be16(h + 4);
    csum = be16(h + 6);
    if (ulen == 0 && v6) ulen = seg_len;              /* jumbogram (RFC 2675 4) */
    if (ulen < 8) { seterr(r, ERR_BAD_LENGTH); return; }
    r->payload_off = (uint16_t)(l4 + 8);
    if (ulen > seg_len) {                             /* bogus in a whole packet, normal in a fragment */
        if (whole) seterr(r, ERR_BAD_LENGTH);
        r->payload_len = (seg_len > 8 && whole) ? (uint32_t)(seg_len - 8) : (uint32_t)(ulen - 8);
    } else {
        r->payload_len = (uint32_t)(ulen - 8);
    }
    r->csum_l4 = csum == 0 ? (v6 ? 4 : CSUM_NONE) : CSUM_UNVERIFIED;
    if ((r->dport == 4789 || r->sport == 4789) && avail >= 16 + 14 && (h[8] & 0x08)) {
        r->inner_kind = INNER_VXLAN;
        r->inner_off = (uint16_t)(l4 + 16);
    } else if (r->dport == 3544 || r->sport == 3544) {
        ref_teredo(p, l4 + 8, avail_end, r);
    }
}

static inline void ref_icmp(const uint8_t *p, long l4, long avail_end, long seg_len, ref_record *r, int v6) {
    const uint8_t *h = p + l4;
    long avail = avail_end - l4;
    uint8_t t;
    int err;
    r->l4_off = (uint16_t)l4;
    if (avail < 4) {
        if (avail >= 1) r->icmp_type = h[0];
        if (avail >= 2) r->icmp_code = h[1];
        seterr(r, ERR_TRUNCATED);
        return;
    }
    t = r->icmp_type = h[0];
    r->icmp_code = h[1];
    if (avail < 8 || seg_len < 8) {
        seterr(r, avail < 8 ? ERR_TRUNCATED : ERR_BAD_LENGTH);
        r->csum_l4 = CSUM_UNVERIFIED;
        return;
    }
    if (v6 ? (t == 128 || t == 129) : (t == 0 || t == 8)) r->sport = be16(h + 4);
    r->payload_off = (uint16_t)(l4 + 8);
    r->payload_len = (uint32_t)(seg_len - 8);
    err = v6 ? (t >= 1 && t <= 4) : (t == 3 || t == 4 || t == 5 || t == 11 || t == 12);
    if (err && avail > 8) {
        r->inner_kind = INNER_ICMP_QUOTE;
        r->inner_off = (uint16_t)(l4 + 8);
    }
    r->csum_l4 = CSUM_UNVERIFIED;
}

static inline void ref_gre(const uint8_t *p, long l4, long avail_end, ref_record *r) {
    long hlen = 4;
    uint16_t fl, proto;
    r->l4_off = (uint16_t)l4;
    if (avail_end - l4 < 4) { seterr(r, ERR_TRUNCATED); return; }
    fl = be16(p + l4);
    proto = be16(p + l4 + 2);
    if (fl & 0x8000) hlen += 4;
    if (fl & 0x2000) hlen += 4;
    if (fl & 0x1000) hlen += 4;
    if ((fl & 7) == 1 && (fl & 0x0080)) hlen += 4;
    if (l4 + hlen > avail_end) { seterr(r, ERR_TRUNCATED); return; }
    r->payload_off = (uint16_t)(l4 + hlen);
    if (proto == 0x0800 || proto == 0x86dd) { r->inner_kind = INNER_GRE_IP; r->inner_off = (uint16_t)(l4 + hlen); }
    else if (proto == 0x6558) { r->inner_kind = INNER_GRE_ETH; r->inner_off = (uint16_t)(l4 + hlen); }
    else if (proto == 0x88be && (fl & 0x1000)) { r->inner_kind = INNER_GRE_ETH; r->inner_off = (uint16_t)(l4 + hlen + 8); }
    else if (proto == 0x22eb) { r->inner_kind = INNER_GRE_ETH; r->inner_off = (uint16_t)(l4 + hlen + 12); }
    if (r->inner_off != OFF_NONE && r->inner_off >= avail_end) {
        r->inner_kind = INNER_NONE;
        r->inner_off = OFF_NONE;
    }
}

static inline void ref_l4(const uint8_t *p, uint8_t proto, long l4, long avail_end, long seg_len,
                          ref_record *r, int v6, int whole) {
    long present = avail_end - l4;                    /* transport bytes present, capped */
    r->l4_avail = (uint8_t)(present > 255 ? 255 : present > 0 ? present : 0);
    switch (proto) {
    case 6: ref_tcp(p, l4, avail_end, seg_len, r, whole); break;
    case 17: ref_udp(p, l4, avail_end, seg_len, r, v6, whole); break;
    case 1:
        if (!v6) { ref_icmp(p, l4, avail_end, seg_len, r, 0); break; }
        goto other;
    case 58:
        if (v6) { ref_icmp(p, l4, avail_end, seg_len, r, 1); break; }
        goto other;
    case 4: case 41:
        r->l4_off = r->payload_off = (uint16_t)l4;
        r->payload_len = (uint32_t)seg_len;
        if (avail_end > l4) { r->inner_kind = INNER_IP_IN_IP; r->inner_off = (uint16_t)l4; }
        break;
    case 47:
        ref_gre(p, l4, avail_end, r);
        r->payload_len = r->payload_off != OFF_NONE ? (uint32_t)(seg_len - (r->payload_off - l4)) : 0;
        break;
    default:
    other:
        r->l4_off = r->payload_off = (uint16_t)l4;
        r->payload_len = (uint32_t)seg_len;
    }
}

/* ---------------------------------------------------------------- network layer */

static inline void ref_ipv4(const uint8_t *p, long n, long off, ref_record *r) {
    const uint8_t *h = p + off;
    long ihl, total, end, avail_end;
    uint16_t ff;
    if (n - off < 20) { seterr(r, ERR_TRUNCATED); return; }
    if ((h[0] >> 4) != 4) { seterr(r, ERR_BAD_VERSION); return; }
    r->ip_version = 4;
    ihl = (h[0] & 0x0f) * 4;
    r->ip_ttl = h[8];
    r->ip_proto = h[9];
    r->ip_id = be16(h + 4);
    r->ip4_src = be32(h + 12);
    r->ip4_dst = be32(h + 16);
    ff = be16(h + 6);
    r->frag_off = ff & 0x1fff;
    if (ff & 0x4000) r->ip_flags |= IPF_DF;
    if (ff & 0x2000) r->ip_flags |= IPF_MF;
    if (ihl < 20) { seterr(r, ERR_BAD_LENGTH); return; }
    total = be16(h + 2);
    if (total == 0) total = n - off;                  /* TSO artefact: what was captured */
    else if (total < ihl) { seterr(r, ERR_BAD_LENGTH); return; }
    if (n - off < ihl) { seterr(r, ERR_TRUNCATED); return; }
    if (ihl > 20) r->ip_flags |= IPF_OPTIONS;
    r->csum_ip = CSUM_UNVERIFIED;
    end = off + total;
    avail_end = end <= n ? end : n;
    if (ff & 0x3fff) r->ip_flags |= IPF_FRAGMENT;
    if (r->frag_off) {                                /* never parse L4 past a non-first fragment */
        r->ip_flags |= IPF_NONFIRST;
        r->payload_off = (uint16_t)(off + ihl);
        r->payload_len = (uint32_t)(total - ihl);
        return;
    }
    ref_l4(p, r->ip_proto, off + ihl, avail_end, total - ihl, r, 0, !(ff & 0x3fff));
}

static inline void ref_ipv6_options(const uint8_t *o, long n, uint32_t *jumbo, ref_record *r) {
    long i = 0;
    while (i < n) {
        uint8_t t = o[i], l;
        if (t == 0) { i++; continue; }
        if (i + 2 > n) return;
        l = o[i + 1];
        if (i + 2 + l > n) return;
        if (t == 0xC2 && l == 4) { *jumbo = be32(o + i + 2); r->ip_flags |= IPF_JUMBO; }
        else if (t == 0xC9 && l == 16) r->ip_flags |= IPF_HOME_ADDR;
        i += 2 + l;
    }
}

static inline void ref_ipv6(const uint8_t *p, long n, long off, ref_record *r) {
    const uint8_t *h = p + off;
    long plen, end, avail_end, hn, eoff = 40, hlen, l4;
    uint8_t nh;
    uint32_t jumbo = 0;
    int nhdr = 0;
    if (n - off < 40) { seterr(r, ERR_TRUNCATED); return; }
    if ((h[0] >> 4) != 6) { seterr(r, ERR_BAD_VERSION); return; }
    r->ip_version = 6;
    r->ip_ttl = h[7];
    memcpy(r->ip6_src, h + 8, 16);
    memcpy(r->ip6_dst, h + 24, 16);
    plen = be16(h + 4);
    end = off + 40 + plen;
    avail_end = (end <= n && plen != 0) ? end : n;
    hn = avail_end - off;
    nh = h[6];
    /* The extension-header chain (RFC 8200 4.1); ESP and no-next-header end it. */
    for (;;) {
        if (!(nh == 0 || nh == 43 || nh == 44 || nh == 60 || nh == 51)) break;
        if (nhdr == MAX_EXT) { r->ip_proto = nh; seterr(r, ERR_EXT_CHAIN); return; }
        if (eoff + 8 > hn) { r->ip_proto = nh; seterr(r, ERR_TRUNCATED); return; }
        r->ip_flags |= IPF_OPTIONS;
        if (nh == 44) {
            uint16_t fo = be16(h + eoff + 2);
            if (fo & 0xfff9) {                        /* not an atomic fragment (RFC 6946) */
                r->ip_flags |= IPF_FRAGMENT;
                r->frag_off = fo >> 3;
                r->ip_id = (uint16_t)be32(h + eoff + 4);
            }
            if (fo & 1) r->ip_flags |= IPF_MF;
            if (fo >> 3) {
                r->ip_flags |= IPF_NONFIRST;
                nh = h[eoff];
                eoff += 8;
                nhdr++;
                break;
            }
            hlen = 8;
        } else if (nh == 51) {
            hlen = ((long)h[eoff + 1] + 2) * 4;
        } else {
            hlen = ((long)h[eoff + 1] + 1) * 8;
        }
        if (eoff + hlen > hn) { r->ip_proto = nh; seterr(r, ERR_TRUNCATED); return; }
        if (nh == 0 || nh == 60) {
            ref_ipv6_options(h + eoff + 2, hlen - 2, &jumbo, r);
        } else if (nh == 43) {
            uint8_t rtype = h[eoff + 2], segleft = h[eoff + 3];
            if (segleft && (hlen - 8) / 16 > 0 && (rtype == 0 || rtype == 2 || rtype == 4))
                r->ip_flags |= IPF_ROUTING;
        }
        nh = h[eoff];
        eoff += hlen;
        nhdr++;
    }
    r->ip_proto = nh;
    if (plen == 0 && jumbo) {
        end = off + 40 + jumbo;
        avail_end = end <= n ? end : n;
    } else if (plen == 0) {
        end = avail_end = off + 40;
    }
    l4 = off + eoff;
    if ((r->ip_flags & IPF_NONFIRST) || l4 > end) {
        r->payload_off = l4 <= end ? (uint16_t)l4 : OFF_NONE;
        r->payload_len = l4 <= end ? (uint32_t)(end - l4) : 0;
        return;
    }
    ref_l4(p, nh, l4, avail_end, end - l4, r, 1, !(r->ip_flags & IPF_FRAGMENT));
}

/* One frame into one record. ts_ns, data_off, wirelen and iface are the caller's. */
static inline void ref_parse_frame(const uint8_t *p, uint32_t caplen, uint16_t linktype, ref_record *r) {
    long n = caplen, off;
    int64_t ts = r->ts_ns;
    uint64_t data_off = r->data_off;
    uint32_t wirelen = r->wirelen;
    uint16_t iface = r->iface;
    ref_blank(r);
    r->ts_ns = ts;
    r->data_off = data_off;
    r->wirelen = wirelen;
    r->iface = iface;
    r->caplen = caplen;
    r->linktype = linktype;
    off = ref_parse_link(p, n, linktype, r);
    if (off < 0) return;
    r->l3_off = (uint16_t)off;
    if (r->l3_type == 0x0800) ref_ipv4(p, n, off, r);
    else if (r->l3_type == 0x86dd) ref_ipv6(p, n, off, r);
    else if (r->l3_type == 0x0806) {
        if (n - off < 8) seterr(r, ERR_TRUNCATED);
        else r->arp_op = be16(p + off + 6);
    }
}

/* The record's layout by field name, for the benchmark to build a numpy dtype from. */
#define REF_FIELD(f) {#f, (long)offsetof(ref_record, f), (long)sizeof(((ref_record *)0)->f)}
static const struct { const char *name; long offset, size; } REF_FIELDS[] = {
    REF_FIELD(ts_ns), REF_FIELD(data_off), REF_FIELD(caplen), REF_FIELD(wirelen),
    REF_FIELD(ip4_src), REF_FIELD(ip4_dst), REF_FIELD(tcp_seq), REF_FIELD(tcp_ack),
    REF_FIELD(tcp_tsval), REF_FIELD(tcp_tsecr), REF_FIELD(tcp_sack_max), REF_FIELD(payload_len),
    REF_FIELD(ip6_src), REF_FIELD(ip6_dst), REF_FIELD(linktype), REF_FIELD(iface),
    REF_FIELD(eth_type), REF_FIELD(l3_type), REF_FIELD(vlan), REF_FIELD(l3_off), REF_FIELD(l4_off),
    REF_FIELD(payload_off), REF_FIELD(inner_off), REF_FIELD(sport), REF_FIELD(dport),
    REF_FIELD(tcp_flags), REF_FIELD(tcp_window), REF_FIELD(tcp_mss), REF_FIELD(ip_id),
    REF_FIELD(frag_off), REF_FIELD(arp_op), REF_FIELD(error), REF_FIELD(vlan_count),
    REF_FIELD(ip_version), REF_FIELD(ip_proto), REF_FIELD(ip_ttl), REF_FIELD(ip_flags),
    REF_FIELD(tcp_wscale), REF_FIELD(tcp_opts), REF_FIELD(icmp_type), REF_FIELD(icmp_code),
    REF_FIELD(csum_ip), REF_FIELD(csum_l4), REF_FIELD(inner_kind), REF_FIELD(l4_avail),
    REF_FIELD(vlan_stag),
};
#define REF_NFIELDS ((int)(sizeof REF_FIELDS / sizeof REF_FIELDS[0]))

#endif
