# The receive side: a segment arrives (RFC 9293 3.10.7), for every state but CLOSED and LISTEN
# (the stack and its listeners handle those), plus the two ways a passive connection starts:
# from a SYN, or from the ACK of a SYN cookie.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from fastpath.wire.tcp cimport tcp_repr_t
from fastpath.tcp.tcb cimport tcp_conn_t

# tcp_input results, for the owner
cdef enum:
    IN_OK = 0               # processed (possibly dropped as the RFC says; replies queued)
    IN_NOCONN = 1           # CLOSED / LISTEN: not for this block
    IN_NOMEM = 2            # the segment was dropped because an allocation failed
    IN_ABANDON = 3          # a passive half-open connection must be forgotten (RFC 9293
                            # 3.10.7.4: "return this connection to the LISTEN state")

cdef int tcp_input(tcp_conn_t* c, uint64_t now, const tcp_repr_t* seg, const uint8_t* payload,
                   uint32_t length) noexcept nogil
# Initialise c (made by tcp_conn_setup) in SYN-RECEIVED from a SYN (RFC 9293 3.10.7.2).
cdef void tcp_accept_syn(tcp_conn_t* c, uint64_t now, const tcp_repr_t* syn, uint32_t iss,
                         uint32_t ts_offset) noexcept nogil
# Initialise c directly in ESTABLISHED from the ACK that returned a valid SYN cookie
# (RFC 4987 3.6); wscale -1 means none. Returns 0.
cdef int tcp_accept_cookie(tcp_conn_t* c, uint64_t now, const tcp_repr_t* ack, uint16_t mss,
                           int wscale, bint sack, uint32_t ts_offset) noexcept nogil
# The shift we use for our windows given the receive buffer (RFC 7323 2.3).
cdef uint8_t tcp_choose_wscale(uint32_t rcvbuf) noexcept nogil
# Buffers are allocated on first use (an idle connection holds none): the send buffer by the
# first SEND, the receive buffer by the first data to arrive. Fail-injectable; 0, or -1.
cdef int tcp_need_sndbuf(tcp_conn_t* c) noexcept nogil
cdef int tcp_need_rcvbuf(tcp_conn_t* c) noexcept nogil
