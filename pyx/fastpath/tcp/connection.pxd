# User calls on one connection (RFC 9293 3.10.1-3.10.5: OPEN, SEND, RECEIVE, CLOSE, ABORT),
# processing and polling entry points, the invariant check, and the Python TcpConnection.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from fastpath.wire.tcp cimport tcp_repr_t
from fastpath.tcp.tcb cimport tcp_conn_t, tcp_config_t, tcp_emit_fn

cdef void tcp_conn_setup(tcp_conn_t* c, const tcp_config_t* cfg, tcp_emit_fn emit,
                         void* ctx) noexcept nogil
# Active open: buffers allocated, SYN-SENT (the SYN goes out with the next tcp_output).
# Returns 0 or -TCPE_NOMEM.
cdef int tcp_open(tcp_conn_t* c, uint64_t now, uint32_t iss, uint32_t ts_offset) noexcept nogil
# Bytes queued (possibly fewer than n, 0 when the buffer is full), or -TCPE_*.
cdef int64_t tcp_send(tcp_conn_t* c, const uint8_t* p, uint32_t n) noexcept nogil
# Bytes copied out (0 when nothing is ready: see tcp_at_eof), or -TCPE_*.
cdef int64_t tcp_recv(tcp_conn_t* c, uint8_t* out, uint32_t n) noexcept nogil
# Consume n ready bytes without copying (after looking at them with rcvbuf_peek).
cdef uint32_t tcp_recv_consume(tcp_conn_t* c, uint32_t n) noexcept nogil
cdef bint tcp_at_eof(const tcp_conn_t* c) noexcept nogil
cdef int tcp_shutdown(tcp_conn_t* c, uint64_t now) noexcept nogil
cdef int tcp_abort(tcp_conn_t* c, uint64_t now) noexcept nogil
# Segment arrives, then transmit what it calls for. Returns tcp_input's IN_* code.
cdef int tcp_process(tcp_conn_t* c, uint64_t now, const tcp_repr_t* seg, const uint8_t* payload,
                     uint32_t length) noexcept nogil
# Timers that are due, then transmit. Returns segments sent or -1 (device full).
cdef int tcp_poll(tcp_conn_t* c, uint64_t now) noexcept nogil
cdef void tcp_release(tcp_conn_t* c) noexcept nogil
# 0 when the block is consistent, else the number of the first violated invariant.
cdef int tcp_check(const tcp_conn_t* c) noexcept nogil
cdef int config_to_c(object config, tcp_config_t* out) except -1
cdef object error_for(int code, str what)

cdef int segment_to_repr(object seg, tcp_repr_t* r) except -1
cdef object repr_to_segment(const tcp_repr_t* h, const uint8_t* p1, uint32_t n1,
                            const uint8_t* p2, uint32_t n2)


cdef class ConnectionView:
    # The Python face shared by a standalone TcpConnection and a stack's connections: data
    # calls, state and variables of the control block at cp (NULL once released).
    cdef tcp_conn_t* cp
    cdef tcp_conn_t* _c(self) except NULL
    cdef int _kick(self) except -1
