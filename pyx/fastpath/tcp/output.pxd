# The send side: what to transmit now (SYN, data, retransmissions, FIN, ACKs, probes), the
# advertised window, RTT estimation and the retransmission timer, and the state changes every
# other part shares.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from fastpath.tcp.tcb cimport tcp_conn_t

cdef enum:
    TX_RETRY_US = 1000      # retry after the device refused a segment
    CLOCK_GRANULARITY_US = 1000     # RFC 6298 G

cdef void tcp_set_state(tcp_conn_t* c, uint8_t state, uint64_t now) noexcept nogil
# Enter CLOSED: stop every timer, record the error (TCPE_OK for an orderly close).
cdef void tcp_set_closed(tcp_conn_t* c, uint8_t error) noexcept nogil
cdef void tcp_rtt_sample(tcp_conn_t* c, uint32_t rtt_us) noexcept nogil
cdef uint32_t tcp_persist_interval(const tcp_conn_t* c) noexcept nogil
# RFC 5961 7: may one more challenge ACK go out now?
cdef bint tcp_challenge_allowed(tcp_conn_t* c, uint64_t now) noexcept nogil
# Has the receive window opened enough to be worth a window update (RFC 1122 4.2.3.3)?
cdef bint tcp_window_update_due(const tcp_conn_t* c) noexcept nogil
# Transmit everything the state calls for. Returns segments sent, or -1 if the device refused.
cdef int tcp_output(tcp_conn_t* c, uint64_t now) noexcept nogil
# A RST for this connection's 4-tuple (RFC 9293 3.10.7).
cdef int tcp_emit_rst(tcp_conn_t* c, uint32_t seq, uint32_t ack, bint with_ack) noexcept nogil
# The earliest time the connection needs attention (now, when output is pending), or 0.
cdef uint64_t tcp_poll_at(const tcp_conn_t* c, uint64_t now) noexcept nogil
