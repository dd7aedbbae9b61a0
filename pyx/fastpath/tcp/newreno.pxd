from fastpath.tcp.tcb cimport tcp_cc_ops_t
cdef const tcp_cc_ops_t* newreno_ops() noexcept nogil
