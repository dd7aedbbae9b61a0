/* Writes the size and field offsets of every struct in fastpath_shared.h, as this compiler
 * (bcc's clang, BPF target) lays them out, into fp_layout: tests compare them with the ctypes
 * mirrors. The order of the entries is the order of FP_LAYOUT_FIELDS in fastpath/xdp/structs.py.
 */
#include <uapi/linux/bpf.h>
#include "fastpath_shared.h"

BPF_ARRAY(fp_layout, __u32, 128);

static __always_inline void fp_put(__u32 k, __u32 v)
{
    fp_layout.update(&k, &v);
}

#define PUT(i, v) fp_put((i), (v))
#define OFF(t, f) __builtin_offsetof(struct t, f)

int fp_layout_probe(struct xdp_md *ctx)
{
    int i = 0;
    PUT(i++, sizeof(struct fp_config));
    PUT(i++, OFF(fp_config, default_action));
    PUT(i++, OFF(fp_config, other_action));
    PUT(i++, OFF(fp_config, flags));
    PUT(i++, OFF(fp_config, generation));
    PUT(i++, sizeof(struct fp_rule_value));
    PUT(i++, OFF(fp_rule_value, rule_id));
    PUT(i++, OFF(fp_rule_value, action));
    PUT(i++, OFF(fp_rule_value, flags));
    PUT(i++, sizeof(struct fp_prefix4_key));
    PUT(i++, OFF(fp_prefix4_key, prefixlen));
    PUT(i++, OFF(fp_prefix4_key, addr));
    PUT(i++, sizeof(struct fp_prefix6_key));
    PUT(i++, OFF(fp_prefix6_key, prefixlen));
    PUT(i++, OFF(fp_prefix6_key, addr));
    PUT(i++, sizeof(struct fp_flow4_key));
    PUT(i++, OFF(fp_flow4_key, saddr));
    PUT(i++, OFF(fp_flow4_key, daddr));
    PUT(i++, OFF(fp_flow4_key, sport));
    PUT(i++, OFF(fp_flow4_key, dport));
    PUT(i++, OFF(fp_flow4_key, proto));
    PUT(i++, sizeof(struct fp_flow6_key));
    PUT(i++, OFF(fp_flow6_key, saddr));
    PUT(i++, OFF(fp_flow6_key, daddr));
    PUT(i++, OFF(fp_flow6_key, sport));
    PUT(i++, OFF(fp_flow6_key, dport));
    PUT(i++, OFF(fp_flow6_key, proto));
    PUT(i++, sizeof(struct fp_stats));
    PUT(i++, OFF(fp_stats, packets));
    PUT(i++, OFF(fp_stats, bytes));
    PUT(i++, sizeof(struct fp_fault_config));
    PUT(i++, OFF(fp_fault_config, drop_threshold));
    PUT(i++, OFF(fp_fault_config, corrupt_threshold));
    PUT(i++, OFF(fp_fault_config, flags));
    PUT(i++, OFF(fp_fault_config, corrupt_offset));
    PUT(i++, OFF(fp_fault_config, proto));
    PUT(i++, OFF(fp_fault_config, dport));
    PUT(127, i);                   /* how many entries were written */
    return XDP_PASS;
}
