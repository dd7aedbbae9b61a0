/* fastpath's steering program: decides per packet whether the kernel, nobody, or the engine's
 * AF_XDP socket gets it.
 *
 * Rules, most specific first (the first table that matches decides):
 *   1. exact 5-tuples                  fp_flows4 / fp_flows6      (hash; consulted only for
 *      destination ports that some 5-tuple rule has, as the port array's flags say)
 *   2. TCP/UDP destination port, then source port                 fp_ports (array, 2 x 2 x 65536)
 *   3. destination prefix, then source prefix                     fp_dst4/6, fp_src4/6 (LPM tries)
 *   4. config.default_action (rule 0) for IP packets nothing matched;
 *      config.other_action (rule 1) for non-IP or malformed frames.
 * Tables the loader left empty are not looked up (config.flags), so a small rule set costs a
 * few array reads. Later IPv4/IPv6 fragments carry no ports: only prefix rules apply to them.
 *
 * A redirect goes to the socket bound on the packet's receive queue (fp_xsks); with no socket
 * there, the packet goes to the kernel instead and is counted as FP_OUT_FALLBACK.
 *
 * Counters are per CPU, per rule and outcome: fp_stats[rule_id * FP_OUTCOMES + outcome].
 */
#include <uapi/linux/bpf.h>
#include "fastpath_shared.h"
#include "parse.h"

BPF_ARRAY(fp_config, struct fp_config, 1);
BPF_ARRAY(fp_ports, struct fp_rule_value, FP_PORT_SLOTS);
BPF_HASH(fp_flows4, struct fp_flow4_key, struct fp_rule_value, FP_MAX_FLOWS);
BPF_HASH(fp_flows6, struct fp_flow6_key, struct fp_rule_value, FP_MAX_FLOWS);
BPF_LPM_TRIE(fp_dst4, struct fp_prefix4_key, struct fp_rule_value, FP_MAX_PREFIXES);
BPF_LPM_TRIE(fp_src4, struct fp_prefix4_key, struct fp_rule_value, FP_MAX_PREFIXES);
BPF_LPM_TRIE(fp_dst6, struct fp_prefix6_key, struct fp_rule_value, FP_MAX_PREFIXES);
BPF_LPM_TRIE(fp_src6, struct fp_prefix6_key, struct fp_rule_value, FP_MAX_PREFIXES);
BPF_PERCPU_ARRAY(fp_stats, struct fp_stats, FP_MAX_RULES * FP_OUTCOMES);
BPF_XSKMAP(fp_xsks, FP_MAX_QUEUES);

static __always_inline int fp_verdict(struct xdp_md *ctx, __u32 rule_id, __u32 action,
                                      __u64 bytes)
{
    struct fp_stats *st;
    __u32 outcome, idx;
    int ret;

    if (action == FP_ACTION_REDIRECT) {
        ret = fp_xsks.redirect_map(ctx->rx_queue_index, XDP_PASS);
        outcome = ret == XDP_REDIRECT ? FP_OUT_REDIRECT : FP_OUT_FALLBACK;
    } else if (action == FP_ACTION_DROP) {
        ret = XDP_DROP;
        outcome = FP_OUT_DROP;
    } else {
        ret = XDP_PASS;
        outcome = FP_OUT_PASS;
    }
    if (rule_id >= FP_MAX_RULES)
        rule_id = FP_RULE_DEFAULT;
    idx = rule_id * FP_OUTCOMES + outcome;
    st = fp_stats.lookup(&idx);
    if (st) {
        st->packets += 1;
        st->bytes += bytes;
    }
    return ret;
}

static __always_inline int fp_port_slot(__u8 proto)
{
    if (proto == IPPROTO_TCP)
        return FP_PORT_PROTO_TCP;
    if (proto == IPPROTO_UDP)
        return FP_PORT_PROTO_UDP;
    return -1;
}

int fp_steer(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    __u64 bytes = data_end - data;
    struct fp_packet p;            /* fp_parse_packet sets what is read */
    struct fp_rule_value *rv;
    struct fp_config *cfg;
    __u32 zero = 0, flags, idx;
    int slot, dport_done = 0;

    cfg = fp_config.lookup(&zero);
    if (!cfg)
        return XDP_PASS;
    flags = cfg->flags;

    /* Fast path for the common case, deciding exactly as the general path below would:
     * untagged IPv4 without options, not a later fragment, TCP or UDP, whose destination port
     * has a rule and no 5-tuple rules. Everything else takes the general path. */
    if (flags & FP_HAS_PORT) {
        struct ethhdr *eth = data;
        struct iphdr *iph = (void *)(eth + 1);
        __be16 *ports = (void *)(iph + 1);

        if ((void *)(ports + 2) <= data_end && fp_ntohs(eth->h_proto) == ETH_P_IP &&
            *(__u8 *)iph == 0x45 && (fp_ntohs(iph->frag_off) & 0x1fff) == 0 &&
            (iph->protocol == IPPROTO_TCP || iph->protocol == IPPROTO_UDP)) {
            idx = ((iph->protocol == IPPROTO_TCP ? FP_PORT_PROTO_TCP : FP_PORT_PROTO_UDP) * 2
                   + FP_PORT_DST) * 65536 + fp_ntohs(ports[1]);
            rv = fp_ports.lookup(&idx);
            if (rv && !(rv->flags & FP_PORT_FLOWS4)) {
                if (rv->rule_id)
                    return fp_verdict(ctx, rv->rule_id, rv->action, bytes);
                dport_done = 1;    /* neither a port rule nor 5-tuples: do not look again */
            }
        }
    }

    if (fp_parse_packet(data, data_end, &p) < 0)
        return fp_verdict(ctx, FP_RULE_OTHER, cfg->other_action, bytes);

    /* 1 and 2. One read of the port array tells both whether a destination-port rule exists
     * and whether any 5-tuple rule has this destination port; only then is the 5-tuple hash
     * consulted (it is the most specific, so it goes first). */
    if (p.has_ports && (flags & (FP_HAS_PORT | FP_HAS_SPORT))) {
        slot = fp_port_slot(p.proto);
        if (slot >= 0) {
            idx = ((__u32)slot * 2 + FP_PORT_DST) * 65536 + fp_ntohs(p.dport);
            rv = dport_done ? NULL : fp_ports.lookup(&idx);
            if (rv && (rv->flags & (p.family == 4 ? FP_PORT_FLOWS4 : FP_PORT_FLOWS6))) {
                struct fp_rule_value *fv;
                if (p.family == 4) {
                    struct fp_flow4_key k4 = {};
                    __builtin_memcpy(k4.saddr, p.saddr, 4);
                    __builtin_memcpy(k4.daddr, p.daddr, 4);
                    k4.sport = p.sport;
                    k4.dport = p.dport;
                    k4.proto = p.proto;
                    fv = fp_flows4.lookup(&k4);
                } else {
                    struct fp_flow6_key k6 = {};
                    __builtin_memcpy(k6.saddr, p.saddr, 16);
                    __builtin_memcpy(k6.daddr, p.daddr, 16);
                    k6.sport = p.sport;
                    k6.dport = p.dport;
                    k6.proto = p.proto;
                    fv = fp_flows6.lookup(&k6);
                }
                if (fv)
                    return fp_verdict(ctx, fv->rule_id, fv->action, bytes);
            }
            if (rv && rv->rule_id)
                return fp_verdict(ctx, rv->rule_id, rv->action, bytes);
            if (flags & FP_HAS_SPORT) {
                idx = ((__u32)slot * 2 + FP_PORT_SRC) * 65536 + fp_ntohs(p.sport);
                rv = fp_ports.lookup(&idx);
                if (rv && rv->rule_id)
                    return fp_verdict(ctx, rv->rule_id, rv->action, bytes);
            }
        }
    }

    /* 3. prefixes: destination first, then source */
    if (p.family == 4 && (flags & (FP_HAS_DST4 | FP_HAS_SRC4))) {
        struct fp_prefix4_key pk4 = { .prefixlen = 32 };
        if (flags & FP_HAS_DST4) {
            __builtin_memcpy(pk4.addr, p.daddr, 4);
            rv = fp_dst4.lookup(&pk4);
            if (rv)
                return fp_verdict(ctx, rv->rule_id, rv->action, bytes);
        }
        if (flags & FP_HAS_SRC4) {
            __builtin_memcpy(pk4.addr, p.saddr, 4);
            rv = fp_src4.lookup(&pk4);
            if (rv)
                return fp_verdict(ctx, rv->rule_id, rv->action, bytes);
        }
    } else if (p.family == 6 && (flags & (FP_HAS_DST6 | FP_HAS_SRC6))) {
        struct fp_prefix6_key pk6 = { .prefixlen = 128 };
        if (flags & FP_HAS_DST6) {
            __builtin_memcpy(pk6.addr, p.daddr, 16);
            rv = fp_dst6.lookup(&pk6);
            if (rv)
                return fp_verdict(ctx, rv->rule_id, rv->action, bytes);
        }
        if (flags & FP_HAS_SRC6) {
            __builtin_memcpy(pk6.addr, p.saddr, 16);
            rv = fp_src6.lookup(&pk6);
            if (rv)
                return fp_verdict(ctx, rv->rule_id, rv->action, bytes);
        }
    }

    return fp_verdict(ctx, FP_RULE_DEFAULT, cfg->default_action, bytes);
}
