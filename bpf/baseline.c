/* Baselines: a bare XDP_DROP (the benchmark's yardstick for the steering program's cost) and a
 * bare XDP_PASS (what a veth peer needs to receive redirected frames in native mode). */
#include <uapi/linux/bpf.h>

int fp_drop(struct xdp_md *ctx)
{
    return XDP_DROP;
}

int fp_pass(struct xdp_md *ctx)
{
    return XDP_PASS;
}
