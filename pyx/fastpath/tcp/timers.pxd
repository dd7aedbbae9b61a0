# Timers (RFC 6298 retransmission, RFC 1122 4.2.2.17 persist, 4.2.3.2 delayed ACK, 4.2.3.6
# keepalive, RFC 9293 3.4.2 TIME-WAIT): act on every deadline that has passed.
from libc.stdint cimport uint64_t
from fastpath.tcp.tcb cimport tcp_conn_t

cdef void tcp_timers(tcp_conn_t* c, uint64_t now) noexcept nogil
cdef void tcp_keepalive_arm(tcp_conn_t* c, uint64_t now) noexcept nogil
