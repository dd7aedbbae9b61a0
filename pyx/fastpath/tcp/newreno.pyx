"""NewReno congestion control: RFC 5681 slow start and congestion avoidance (with RFC 3465
byte counting), RFC 5681 / RFC 6582 reductions. The fast-recovery mechanics (window inflation,
partial ACKs) live in input.pyx because SACK recovery shares them with every algorithm."""
from libc.stdint cimport uint32_t, uint64_t
from fastpath.tcp.tcb cimport tcp_conn_t, tcp_cc_ops_t
from fastpath.tcp.cc cimport cc_slow_start, cc_half_flight


cdef void _init(tcp_conn_t* c, uint64_t now) noexcept nogil:
    c.bytes_acked = 0


cdef void _on_ack(tcp_conn_t* c, uint64_t now, uint32_t acked) noexcept nogil:
    if c.cwnd < c.ssthresh:
        cc_slow_start(c, acked)
        return
    # RFC 5681 3.1 congestion avoidance, counted in bytes (RFC 3465 2.1): one SMSS per
    # window of acknowledged data.
    c.bytes_acked += acked
    if c.bytes_acked >= c.cwnd:
        c.bytes_acked -= c.cwnd
        c.cwnd += c.snd_mss


cdef uint32_t _on_loss(tcp_conn_t* c, uint64_t now) noexcept nogil:
    c.bytes_acked = 0
    return cc_half_flight(c)


cdef void _on_rto(tcp_conn_t* c, uint64_t now) noexcept nogil:
    # RFC 5681 eq. (4) and the loss window of one segment.
    c.ssthresh = cc_half_flight(c)
    c.cwnd = c.snd_mss
    c.bytes_acked = 0


cdef void _on_recovery_end(tcp_conn_t* c, uint64_t now) noexcept nogil:
    c.bytes_acked = 0


cdef tcp_cc_ops_t _ops
_ops.name = b"newreno"
_ops.init = _init
_ops.on_ack = _on_ack
_ops.on_loss = _on_loss
_ops.on_rto = _on_rto
_ops.on_recovery_end = _on_recovery_end


cdef const tcp_cc_ops_t* newreno_ops() noexcept nogil:
    return &_ops
