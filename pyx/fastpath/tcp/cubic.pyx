"""CUBIC congestion control (RFC 9438). Windows are kept in segments as doubles, as the RFC
writes them; cwnd itself stays in bytes in the control block."""
from libc.stdint cimport uint32_t, uint64_t
from libc.math cimport cbrt
from fastpath.tcp.tcb cimport tcp_conn_t, tcp_cc_ops_t, tcp_flight, CC_PRIV_WORDS
from fastpath.tcp.cc cimport cc_slow_start

# RFC 9438 4.1 / 5: C = 0.4, beta_cubic = 0.7, alpha_cubic = 3 (1 - beta) / (1 + beta).
cdef double C_CUBIC = 0.4
cdef double BETA = 0.7
cdef double ALPHA = 3.0 * (1.0 - 0.7) / (1.0 + 0.7)

ctypedef struct cubic_t:
    double w_max            # segments, the window before the last reduction (after fast convergence)
    double cwnd_prior       # segments, cwnd at the last congestion event (RFC 9438 4.3)
    double k                # seconds
    double w_est            # segments, Reno-friendly estimate (RFC 9438 4.3)
    double carry            # fractional segments of growth not yet applied
    uint64_t epoch_start    # us, 0: no congestion-avoidance epoch running


cdef inline cubic_t* _st(tcp_conn_t* c) noexcept nogil:
    return <cubic_t*>c.cc_priv


cdef void _init(tcp_conn_t* c, uint64_t now) noexcept nogil:
    cdef cubic_t* s = _st(c)
    s.w_max = 0
    s.cwnd_prior = 0
    s.k = 0
    s.w_est = 0
    s.carry = 0
    s.epoch_start = 0


cdef void _on_ack(tcp_conn_t* c, uint64_t now, uint32_t acked) noexcept nogil:
    cdef cubic_t* s = _st(c)
    cdef double mss = c.snd_mss, cwnd, t, rtt, target, w_cubic, segs, grow
    cdef uint32_t add
    if c.cwnd < c.ssthresh:
        cc_slow_start(c, acked)
        return
    cwnd = c.cwnd / mss
    segs = acked / mss
    if s.epoch_start == 0:
        # RFC 9438 4.2: a new congestion-avoidance stage. K = 0 when cwnd already reached W_max
        # (also the case after a timeout, 4.8, where W_max restarts from cwnd).
        s.epoch_start = now
        if s.w_max <= cwnd:
            s.k = 0
            s.w_max = cwnd
        else:
            s.k = cbrt((s.w_max - cwnd) / C_CUBIC)
        s.w_est = cwnd
    t = (now - s.epoch_start) / 1e6
    rtt = (c.srtt_us if c.srtt_us else 100000) / 1e6
    # RFC 9438 4.3: the Reno-friendly estimate grows by alpha per window (1 once past cwnd_prior).
    s.w_est += (ALPHA if s.w_est < s.cwnd_prior else 1.0) * segs / cwnd
    w_cubic = C_CUBIC * (t - s.k) * (t - s.k) * (t - s.k) + s.w_max
    if w_cubic < s.w_est:
        grow = s.w_est - cwnd
    else:
        # RFC 9438 4.4 / 4.5: aim at W_cubic(t + RTT), between cwnd and 1.5 cwnd.
        target = C_CUBIC * (t + rtt - s.k) * (t + rtt - s.k) * (t + rtt - s.k) + s.w_max
        if target < cwnd:
            target = cwnd
        elif target > 1.5 * cwnd:
            target = 1.5 * cwnd
        grow = (target - cwnd) / cwnd * segs
    if grow <= 0:
        return
    s.carry += grow * mss
    if s.carry >= 1.0:
        add = <uint32_t>s.carry
        s.carry -= add
        c.cwnd += add


cdef uint32_t _on_loss(tcp_conn_t* c, uint64_t now) noexcept nogil:
    cdef cubic_t* s = _st(c)
    cdef double cwnd = c.cwnd / <double>c.snd_mss
    cdef double ss
    s.epoch_start = 0
    s.carry = 0
    s.cwnd_prior = cwnd
    # RFC 9438 4.7 fast convergence: release bandwidth when the saturation point dropped.
    if cwnd < s.w_max:
        s.w_max = cwnd * (1.0 + BETA) / 2.0
    else:
        s.w_max = cwnd
    # RFC 9438 4.6: ssthresh = flight_size * beta_cubic, at least 2 segments.
    ss = tcp_flight(c) * BETA
    if ss < 2.0 * c.snd_mss:
        ss = 2.0 * c.snd_mss
    return <uint32_t>ss


cdef void _on_rto(tcp_conn_t* c, uint64_t now) noexcept nogil:
    cdef cubic_t* s = _st(c)
    c.ssthresh = _on_loss(c, now)
    c.cwnd = c.snd_mss
    # RFC 9438 4.8: after a timeout, K = 0 and W_max is the cwnd at the start of the next
    # congestion-avoidance stage.
    s.w_max = 0


cdef void _on_recovery_end(tcp_conn_t* c, uint64_t now) noexcept nogil:
    _st(c).epoch_start = 0


cdef tcp_cc_ops_t _ops
_ops.name = b"cubic"
_ops.init = _init
_ops.on_ack = _on_ack
_ops.on_loss = _on_loss
_ops.on_rto = _on_rto
_ops.on_recovery_end = _on_recovery_end

assert sizeof(cubic_t) <= CC_PRIV_WORDS * 8


cdef const tcp_cc_ops_t* cubic_ops() noexcept nogil:
    return &_ops


