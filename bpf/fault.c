/* Fault injection at XDP: drop, or corrupt one byte of, a configured fraction of the packets
 * that match (optionally one IP protocol and one TCP/UDP destination port). This kernel has no
 * netem; tests use this for loss and corruption on veth links.
 *
 * Randomness is bpf_get_prandom_u32 (a per-CPU PRNG the kernel seeds): a packet is dropped when
 * a draw falls below drop_threshold (probability threshold / 2^32), otherwise corrupted when a
 * second draw falls below corrupt_threshold. Counters are per CPU (FP_FAULT_*). Corruption
 * reaches the first 16 KiB of a frame (the offset is masked to 14 bits for the verifier).
 */
#include <uapi/linux/bpf.h>
#include "fastpath_shared.h"
#include "parse.h"

BPF_ARRAY(fp_fault_config, struct fp_fault_config, 1);
BPF_PERCPU_ARRAY(fp_fault_stats, __u64, FP_FAULT_COUNTERS);

static __always_inline void fp_count(__u32 which)
{
    __u64 *v = fp_fault_stats.lookup(&which);
    if (v)
        *v += 1;
}

int fp_fault(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct fp_fault_config *cfg;
    struct fp_packet p = {};
    __u32 zero = 0, off, len;
    __u8 *b;
    int parsed;

    cfg = fp_fault_config.lookup(&zero);
    if (!cfg)
        return XDP_PASS;
    if (cfg->flags & (FP_FAULT_MATCH_PROTO | FP_FAULT_MATCH_DPORT)) {
        parsed = fp_parse_packet(data, data_end, &p);
        if (parsed < 0 ||
            ((cfg->flags & FP_FAULT_MATCH_PROTO) && p.proto != cfg->proto) ||
            ((cfg->flags & FP_FAULT_MATCH_DPORT) && (!p.has_ports || p.dport != cfg->dport))) {
            fp_count(FP_FAULT_IGNORED);
            return XDP_PASS;
        }
    }
    fp_count(FP_FAULT_SEEN);
    if ((__u64)bpf_get_prandom_u32() < cfg->drop_threshold) {
        fp_count(FP_FAULT_DROPPED);
        return XDP_DROP;
    }
    if ((__u64)bpf_get_prandom_u32() < cfg->corrupt_threshold) {
        /* Lengths from the context as plain numbers: the verifier forbids arithmetic that
         * would turn packet pointers into scalars. */
        len = ctx->data_end - ctx->data;
        off = cfg->corrupt_offset;
        if (off >= len)
            off = len - 1;
        off &= 0x3fff;             /* a bound the verifier accepts for packet offsets */
        b = data + off;
        if ((void *)(b + 1) <= data_end) {
            *b ^= 0xff;
            fp_count(FP_FAULT_CORRUPTED);
        }
    }
    return XDP_PASS;
}
