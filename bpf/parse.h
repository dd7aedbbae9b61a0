/* Bounds-checked packet parsing for XDP programs.
 *
 * Each helper reads the header at the cursor, checks it lies before data_end (the verifier
 * insists, and so do malformed packets), advances the cursor past it and returns the next
 * protocol, or -1 when the header is cut short or impossible. Nothing here writes to the packet.
 */
#ifndef FASTPATH_PARSE_H
#define FASTPATH_PARSE_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>

#include "fastpath_shared.h"

#ifndef ETH_P_8021Q
#define ETH_P_8021Q 0x8100
#endif
#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

/* Network to host order for 16-bit fields, for either byte order of the BPF target. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define fp_ntohs(x) ((__u16)__builtin_bswap16((__u16)(x)))
#else
#define fp_ntohs(x) ((__u16)(x))
#endif

struct fp_cursor {
    void *pos;
};

/* What the steering program needs to know about a packet. */
struct fp_packet {
    __u8 family;                   /* 4 or 6; 0 when not IP */
    __u8 proto;                    /* upper-layer protocol */
    __u8 has_ports;                /* TCP/UDP header present (not a later fragment) */
    __u8 pad;
    __u16 sport;                   /* network order */
    __u16 dport;
    __u8 saddr[16];                /* IPv4 in the first 4 bytes */
    __u8 daddr[16];
};

struct fp_vlan_hdr {
    __be16 tci;
    __be16 encap_proto;
};

/* Ethernet, then up to FP_VLAN_MAX 802.1Q/802.1ad tags. Returns the inner ethertype (host
 * order) or -1. */
static __always_inline int fp_parse_eth(struct fp_cursor *c, void *data_end)
{
    struct ethhdr *eth = c->pos;
    struct fp_vlan_hdr *vh;
    __u16 proto;
    int i;

    if ((void *)(eth + 1) > data_end)
        return -1;
    c->pos = eth + 1;
    proto = fp_ntohs(eth->h_proto);
#pragma unroll
    for (i = 0; i < FP_VLAN_MAX; i++) {
        if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
            break;
        vh = c->pos;
        if ((void *)(vh + 1) > data_end)
            return -1;
        c->pos = vh + 1;
        proto = fp_ntohs(vh->encap_proto);
    }
    if (proto == ETH_P_8021Q || proto == ETH_P_8021AD)
        return -1;                 /* more tags than we walk */
    return proto;
}

/* IPv4 header (RFC 791): version 4, IHL >= 5, all of it present. Returns the protocol or -1.
 * *later_fragment is set for fragments with a non-zero offset (no transport header there). */
static __always_inline int fp_parse_ipv4(struct fp_cursor *c, void *data_end,
                                         struct fp_packet *p, int *later_fragment)
{
    struct iphdr *iph = c->pos;
    int hlen;

    if ((void *)(iph + 1) > data_end)
        return -1;
    if (iph->version != 4 || iph->ihl < 5)
        return -1;
    hlen = iph->ihl * 4;
    if ((void *)iph + hlen > data_end)
        return -1;
    c->pos = (void *)iph + hlen;
    __builtin_memcpy(p->saddr, &iph->saddr, 4);
    __builtin_memcpy(p->daddr, &iph->daddr, 4);
    *later_fragment = (fp_ntohs(iph->frag_off) & 0x1fff) != 0;
    return iph->protocol;
}

struct fp_ipv6_opt {
    __u8 nexthdr;
    __u8 hdrlen;                   /* 8-octet units, not counting the first 8 (RFC 8200 4.3) */
};

struct fp_ipv6_frag {
    __u8 nexthdr;
    __u8 reserved;
    __be16 frag_off;
    __be32 ident;
};

/* IPv6 header (RFC 8200) and up to FP_IPV6_EXT_MAX extension headers (hop-by-hop, routing,
 * destination options, fragment). Returns the upper-layer protocol or -1. */
static __always_inline int fp_parse_ipv6(struct fp_cursor *c, void *data_end,
                                         struct fp_packet *p, int *later_fragment)
{
    struct ipv6hdr *ip6 = c->pos;
    struct fp_ipv6_opt *opt;
    struct fp_ipv6_frag *frag;
    __u8 next;
    int i;

    if ((void *)(ip6 + 1) > data_end)
        return -1;
    if (ip6->version != 6)
        return -1;
    c->pos = ip6 + 1;
    __builtin_memcpy(p->saddr, &ip6->saddr, 16);
    __builtin_memcpy(p->daddr, &ip6->daddr, 16);
    next = ip6->nexthdr;
    *later_fragment = 0;
#pragma unroll
    for (i = 0; i < FP_IPV6_EXT_MAX; i++) {
        if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS) {
            opt = c->pos;
            if ((void *)(opt + 1) > data_end)
                return -1;
            next = opt->nexthdr;
            c->pos = (void *)opt + (opt->hdrlen + 1) * 8;
        } else if (next == IPPROTO_FRAGMENT) {
            frag = c->pos;
            if ((void *)(frag + 1) > data_end)
                return -1;
            next = frag->nexthdr;
            c->pos = frag + 1;
            if (fp_ntohs(frag->frag_off) & 0xfff8)
                *later_fragment = 1;
        } else {
            break;
        }
    }
    return next;
}

/* The first four bytes of TCP and UDP are the ports. Returns 0, or -1 if they are cut short. */
static __always_inline int fp_parse_ports(struct fp_cursor *c, void *data_end, struct fp_packet *p)
{
    __be16 *ports = c->pos;

    if ((void *)(ports + 2) > data_end)
        return -1;
    p->sport = ports[0];
    p->dport = ports[1];
    p->has_ports = 1;
    return 0;
}

/* Everything above in one call: 0 with *p filled, or -1 for non-IP or malformed packets. */
static __always_inline int fp_parse_packet(void *data, void *data_end, struct fp_packet *p)
{
    struct fp_cursor c = { .pos = data };
    int proto, l3, later = 0;

    /* Callers need not zero *p (40 bytes a packet): everything read later is set here or by
     * the header parsers (addresses: 4 bytes for IPv4, 16 for IPv6). */
    p->has_ports = 0;
    p->sport = 0;
    p->dport = 0;
    l3 = fp_parse_eth(&c, data_end);
    if (l3 == ETH_P_IP) {
        p->family = 4;
        proto = fp_parse_ipv4(&c, data_end, p, &later);
    } else if (l3 == ETH_P_IPV6) {
        p->family = 6;
        proto = fp_parse_ipv6(&c, data_end, p, &later);
    } else {
        return -1;
    }
    if (proto < 0)
        return -1;
    p->proto = proto;
    if (!later && (proto == IPPROTO_TCP || proto == IPPROTO_UDP)) {
        if (fp_parse_ports(&c, data_end, p) < 0)
            return -1;
    }
    return 0;
}

#endif /* FASTPATH_PARSE_H */
