"""The congestion-control registry (see cc.pxd)."""
from libc.stdint cimport uint64_t
from libc.string cimport memset
from fastpath.tcp.tcb cimport tcp_cc_ops_t, tcp_conn_t
from fastpath.tcp.newreno cimport newreno_ops
from fastpath.tcp.cubic cimport cubic_ops

cdef const tcp_cc_ops_t* _registry[CC_MAX]
cdef int _count = 0


cdef const tcp_cc_ops_t* cc_get(int algo) noexcept nogil:
    if algo < 0 or algo >= _count:
        return _registry[CC_NEWRENO]
    return _registry[algo]


cdef int cc_register(const tcp_cc_ops_t* ops) noexcept nogil:
    global _count
    if _count == CC_MAX:
        return -1
    _registry[_count] = ops
    _count += 1
    return _count - 1


cc_register(newreno_ops())
cc_register(cubic_ops())


def algorithms():
    """Names of the registered algorithms, by index."""
    return [(<bytes>_registry[i].name).decode() for i in range(_count)]


def index_of(str name):
    names = algorithms()
    try:
        return names.index(name)
    except ValueError:
        from fastpath.errors import ConfigError
        raise ConfigError(f"unknown congestion control {name!r}: choose one of {', '.join(names)}") from None


def trace(str algorithm, *, unsigned int mss=1460, unsigned int window_segments=100,
          unsigned int rtt_us=100_000, double duration_s=10.0, bint timeout=False):
    """Drive one algorithm in isolation: a window of ``window_segments`` meets a loss at t=0
    (or a retransmission timeout), then every round trip acknowledges the whole window.
    Returns [(t_us, cwnd_bytes, ssthresh_bytes)] after each round trip."""
    cdef tcp_conn_t c
    cdef const tcp_cc_ops_t* ops = cc_get(index_of(algorithm))
    cdef uint64_t t = 1
    cdef uint64_t end = <uint64_t>(duration_s * 1e6)
    memset(&c, 0, sizeof(c))
    c.snd_mss = mss
    c.srtt_us = rtt_us
    c.cwnd = window_segments * mss
    c.ssthresh = 0xffffffffu
    c.snd_una = 0
    c.snd_max = c.cwnd
    ops.init(&c, 0)
    if timeout:
        ops.on_rto(&c, t)
    else:
        c.ssthresh = ops.on_loss(&c, t)
        c.cwnd = c.ssthresh
        ops.on_recovery_end(&c, t)
    out = [(0, c.cwnd, c.ssthresh)]
    while t < end:
        t += rtt_us
        c.snd_max = c.snd_una + c.cwnd
        ops.on_ack(&c, t, c.cwnd)
        c.snd_una = c.snd_max
        out.append((t, c.cwnd, c.ssthresh))
    return out
