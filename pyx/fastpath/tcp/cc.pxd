# Pluggable congestion control: a registry of tcp_cc_ops_t tables (tcb.pxd) by index and
# name. NewReno (RFC 5681, RFC 6582) and CUBIC (RFC 9438) are registered at import; another
# algorithm registers its table with cc_register().
from libc.stdint cimport uint32_t, uint64_t
from fastpath.tcp.tcb cimport tcp_conn_t, tcp_cc_ops_t, tcp_flight

cdef enum:
    CC_NEWRENO = 0
    CC_CUBIC = 1
    CC_MAX = 8

cdef const tcp_cc_ops_t* cc_get(int algo) noexcept nogil
cdef int cc_register(const tcp_cc_ops_t* ops) noexcept nogil


cdef inline void cc_slow_start(tcp_conn_t* c, uint32_t acked) noexcept nogil:
    # RFC 5681 3.1 with appropriate byte counting (RFC 3465 2.2, L = 2*SMSS).
    cdef uint32_t limit = 2 * <uint32_t>c.snd_mss
    c.cwnd += acked if acked < limit else limit


cdef inline uint32_t cc_half_flight(const tcp_conn_t* c) noexcept nogil:
    # RFC 5681 eq. (4): ssthresh = max(FlightSize / 2, 2*SMSS).
    cdef uint32_t half = tcp_flight(c) // 2, floor = 2 * <uint32_t>c.snd_mss
    return half if half > floor else floor
