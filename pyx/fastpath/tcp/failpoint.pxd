# Failure injection in the spirit of nfsim's failtest: every allocation and every queue
# insertion the TCP core makes asks fp_check() first. In normal operation that is one load
# and one branch. A test switches the shared state to count the sites a scenario passes, then
# reruns the scenario failing the 1st, 2nd, ... Nth of them, proving each failure path leaves
# a consistent connection and a clear error.
from libc.stdint cimport uint32_t, uint64_t, int64_t

cdef enum:
    FP_CONN_ALLOC = 0       # a connection control block (connect, SYN on a listener)
    FP_SNDBUF_ALLOC = 1     # the send buffer
    FP_RCVBUF_ALLOC = 2     # the receive buffer
    FP_OOO_INSERT = 3       # a new out-of-order range in the reassembly queue
    FP_SACK_INSERT = 4      # a new range in the sender's SACK scoreboard
    FP_SYN_QUEUE = 5        # a half-open connection into a listener's SYN queue
    FP_ACCEPT_QUEUE = 6     # an established connection into a listener's accept queue
    FP_TABLE_INSERT = 7     # the connection table (4-tuple demultiplexing)
    FP_TX_ALLOC = 8         # a transmit frame from the device
    FP_SITES = 9

cdef enum:
    FP_OFF = 0
    FP_COUNT = 1            # count calls per site, fail none
    FP_FAIL_NTH = 2         # fail the call numbered `target` (1-based, all sites counted)
    FP_FAIL_SITE = 3        # fail every call at site `target`

ctypedef struct fp_state_t:
    int mode
    uint64_t calls          # calls seen since the mode was set
    uint64_t target
    uint64_t per_site[FP_SITES]
    uint64_t failures       # calls failed on purpose
    int last_failed_site    # -1 when none failed

cdef fp_state_t* fp_state() noexcept nogil
cdef bint fp_slow(fp_state_t* s, int site) noexcept nogil


cdef inline bint fp_check(fp_state_t* s, int site) noexcept nogil:
    # True when this allocation / insertion must fail.
    if s.mode == FP_OFF:
        return False
    return fp_slow(s, site)
