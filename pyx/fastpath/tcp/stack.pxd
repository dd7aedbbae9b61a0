# A host's TCP: connections demultiplexed by 4-tuple, listeners with bounded backlogs and SYN
# cookies, one timer heap, and real IPv4 / IPv6 frames in and out (built with the wire layer's
# emitters, checksums verified on receipt). The device is two function pointers, so the same
# stack runs over the simulator, a TAP device or AF_XDP.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from fastpath.wire.ethernet cimport eth_repr_t
from fastpath.wire.ipv4 cimport ipv4_repr_t
from fastpath.wire.ipv6 cimport ipv6_repr_t
from fastpath.wire.tcp cimport tcp_repr_t
from fastpath.tcp.tcb cimport tcp_conn_t, tcp_config_t
from fastpath.tcp.isn cimport tcp_secrets_t

cdef enum:
    SF_HASHED = 0x01        # in the connection table
    SF_USER = 0x02          # an application holds a handle to it
    SF_ACCEPTQ = 0x04       # waiting in a listener's accept queue
    SF_SYNQ = 0x08          # counted in a listener's SYN queue (half-open)
    SF_TIMEWAIT = 0x10      # counted in the TIME-WAIT population
    SF_DIRTY = 0x20         # the application changed something: output is due

cdef enum:
    MAX_LISTENERS = 64
    EPHEMERAL_LO = 49152    # RFC 6335 / RFC 6056
    EPHEMERAL_HI = 65535

# Device: alloc gives a frame buffer of at least mtu + link header bytes (NULL: the device is
# full), commit hands it over with its length.
ctypedef uint8_t* (*tx_alloc_fn)(void* ctx, uint32_t* cap) noexcept nogil
ctypedef void (*tx_commit_fn)(void* ctx, uint8_t* frame, uint32_t length) noexcept nogil

ctypedef struct tcp_listener_t:
    tcp_conn_t* acc_head    # established, not yet accepted (linked through qnext)
    tcp_conn_t* acc_tail
    uint32_t backlog        # bound of the accept queue, and of the SYN queue
    uint32_t syn_count      # half-open connections
    uint32_t acc_count
    uint16_t port
    uint8_t active

ctypedef struct tcp_stack_stats_t:
    uint64_t rx_frames
    uint64_t rx_malformed       # IP or TCP header unparseable, lengths impossible, bad options
    uint64_t rx_bad_checksum    # IPv4 header or TCP checksum wrong
    uint64_t rx_not_ours        # other protocol or address
    uint64_t rx_fragments       # IP fragments (no reassembly here)
    uint64_t rx_no_socket       # answered with a RST (RFC 9293 3.10.7.1)
    uint64_t rx_dropped_nomem   # a segment dropped because an allocation failed
    uint64_t tx_frames
    uint64_t tx_busy            # the device refused a frame
    uint64_t rst_sent
    uint64_t syn_received
    uint64_t syn_dropped        # SYN queue full without cookies, or no memory
    uint64_t cookies_sent
    uint64_t cookies_accepted
    uint64_t cookies_rejected
    uint64_t accept_overflow    # handshake completions dropped: accept queue full
    uint64_t conns_opened       # active opens
    uint64_t conns_accepted     # passive connections established
    uint64_t conns_freed
    uint64_t timewait_reused    # RFC 6191: a SYN reopened a TIME-WAIT 4-tuple
    uint64_t timewait_overflow  # TIME-WAIT dropped early: max_timewait reached

ctypedef struct tcp_stack_t:
    tcp_config_t cfg            # for IPv4 connections
    tcp_config_t cfg6           # the same with the MSS an IPv6 header leaves
    tcp_secrets_t secrets
    tcp_conn_t** table          # open addressing, linear probing, backward-shift deletion
    uint32_t table_mask
    uint32_t nconns
    uint32_t max_conns
    uint32_t ntimewait
    uint32_t max_timewait
    tcp_conn_t** heap           # timer heap by c.deadline
    tcp_conn_t* last            # the connection the previous segment went to (lookup cache)
    uint32_t heap_len
    uint32_t eph_counter
    tcp_listener_t listeners[MAX_LISTENERS]
    uint8_t addr4[16]
    uint8_t addr6[16]
    uint8_t has4
    uint8_t has6
    uint8_t use_eth
    uint8_t ttl
    uint16_t mtu
    uint16_t ip_ident
    eth_repr_t eth              # src/dst MACs of frames we send (use_eth)
    ipv4_repr_t ip4             # header template for IPv4 frames we send (dst, ident per frame)
    ipv6_repr_t ip6             # the same for IPv6
    tx_alloc_fn tx_alloc
    tx_commit_fn tx_commit
    void* tx_ctx
    tcp_stack_stats_t stats

cdef int stack_init(tcp_stack_t* st, uint32_t max_conns, uint32_t max_timewait) noexcept nogil
cdef void stack_destroy(tcp_stack_t* st) noexcept nogil
cdef int stack_input(tcp_stack_t* st, uint64_t now, const uint8_t* frame, uint32_t n) noexcept nogil
cdef void stack_poll(tcp_stack_t* st, uint64_t now) noexcept nogil
cdef uint64_t stack_poll_at(const tcp_stack_t* st) noexcept nogil
cdef int stack_listen(tcp_stack_t* st, uint16_t port, uint32_t backlog) noexcept nogil
cdef void stack_unlisten(tcp_stack_t* st, int idx, uint64_t now) noexcept nogil
cdef tcp_conn_t* stack_accept(tcp_stack_t* st, int idx) noexcept nogil
# Active open to raddr (16 bytes, IPv4-mapped for IPv4); lport 0 picks an ephemeral port.
# NULL with *err = TCPE_* on failure.
cdef tcp_conn_t* stack_connect(tcp_stack_t* st, uint64_t now, const uint8_t* raddr, uint16_t rport,
                               uint16_t lport, int* err) noexcept nogil
# The application is done with its handle (close(2)): the connection lives on until CLOSED.
cdef void stack_release(tcp_stack_t* st, tcp_conn_t* c, uint64_t now) noexcept nogil
# The application changed c (send, recv, shutdown, abort): process it at the next poll.
cdef void stack_touch(tcp_stack_t* st, tcp_conn_t* c) noexcept nogil
# Run output for c now and file it (after an application call, for drivers that know `now`).
cdef void stack_kick(tcp_stack_t* st, tcp_conn_t* c, uint64_t now) noexcept nogil
# Consistency of the table, heap and listener queues: 0 or the number of the first failure.
cdef int stack_check(const tcp_stack_t* st) noexcept nogil


ctypedef struct frameq_t:
    uint8_t* buf
    uint32_t* lens
    uint32_t slot
    uint32_t nslots
    uint32_t head
    uint32_t count
    uint32_t pending


cdef class TcpStack:
    cdef tcp_stack_t* st
    cdef frameq_t q
    cdef readonly object config
    cdef readonly tuple addresses
    cdef dict _listeners
    cdef tcp_stack_t* _st(self) except NULL
    cdef void set_device(self, tx_alloc_fn alloc, tx_commit_fn commit, void* ctx) noexcept
