from fastpath.tcp.tcb cimport tcp_cc_ops_t
cdef const tcp_cc_ops_t* cubic_ops() noexcept nogil
