# The transmission control block (RFC 9293 3.3.1): everything one connection remembers, the
# configuration it runs with, and the interface through which the core emits segments. No
# code here besides tiny inline helpers; the state machine is split by concern into input.pyx
# (segment arrives), output.pyx (what to send), timers.pyx and connection.pyx (user calls).
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t

from fastpath.wire.tcp cimport tcp_repr_t
from fastpath.tcp.buffers cimport tcp_sndbuf_t, tcp_rcvbuf_t
from fastpath.tcp.sack cimport tcp_sackboard_t

# ---- connection states (RFC 9293 3.3.2); the order matters: < TCPS_ESTABLISHED means "the
# handshake has not completed", and SYN_SENT / SYN_RECEIVED are the only states whose SYN may
# still be unacknowledged.
cdef enum:
    TCPS_CLOSED = 0
    TCPS_LISTEN = 1
    TCPS_SYN_SENT = 2
    TCPS_SYN_RECEIVED = 3
    TCPS_ESTABLISHED = 4
    TCPS_FIN_WAIT_1 = 5
    TCPS_FIN_WAIT_2 = 6
    TCPS_CLOSE_WAIT = 7
    TCPS_CLOSING = 8
    TCPS_LAST_ACK = 9
    TCPS_TIME_WAIT = 10

# ---- why a connection ended, or why a user call failed (returned negated)
cdef enum:
    TCPE_OK = 0
    TCPE_REFUSED = 1        # RST in answer to our SYN (RFC 9293 3.10.7.3)
    TCPE_RESET = 2          # RST on a synchronized connection (RFC 9293 3.10.7.4, RFC 5961 3)
    TCPE_TIMEDOUT = 3       # retransmissions, SYN retries or keepalive probes exhausted
    TCPE_ABORTED = 4        # the local user aborted
    TCPE_NOMEM = 5          # an allocation failed
    TCPE_CLOSING = 6        # send after shutdown (RFC 9293 3.10.2: "connection closing")
    TCPE_NOTCONN = 7        # the call needs an open connection
    TCPE_STATE = 8          # the call is not valid in this state (connect twice, ...)
    TCPE_NOBUFS = 9         # a bounded queue or table is full
    TCPE_ADDRINUSE = 10     # the 4-tuple (or every ephemeral port) is taken
    TCPE_COUNT = 11

# ---- c.opts: options negotiated on the SYN exchange, and per-connection switches
cdef enum:
    TF_WSCALE = 0x01        # both SYNs carried window scale (RFC 7323 2.2)
    TF_TS = 0x02            # both SYNs carried timestamps (RFC 7323 3.2)
    TF_SACK = 0x04          # both SYNs carried SACK-permitted (RFC 2018 2)
    TF_NODELAY = 0x08       # Nagle off
    TF_KEEPALIVE = 0x10     # keepalive probes on (RFC 1122 4.2.3.6)
    TF_PASSIVE = 0x20       # made by a listener
    TF_COOKIE = 0x40        # established from a SYN cookie (RFC 4987 3.6)

# ---- c.pend: work the next output pass must do
cdef enum:
    PF_ACK_NOW = 0x0001     # an ACK must go out (possibly carried by data)
    PF_FIN_QUEUED = 0x0002  # the user shut down sending: a FIN follows the data
    PF_RST = 0x0004         # send a RST (abort)
    PF_PROBE = 0x0008       # the persist timer fired: send a window probe
    PF_KEEPALIVE = 0x0010   # the keepalive timer fired: send a probe
    PF_FIN_RCVD = 0x0020    # the peer's FIN has been processed (no more data will come)
    PF_TX_BLOCKED = 0x0040  # the device refused a segment: retry soon
    PF_WND_UPDATE = 0x0080  # the receive window opened enough to tell the peer
    PF_SYN_RTX = 0x0100     # our SYN was retransmitted (RFC 6298 5.7)
    PF_FIN_PENDING = 0x0200 # an out-of-order FIN: its sequence number is c.rcv_fin_seq
    PF_FASTRTX = 0x0400     # retransmit SND.UNA now (fast retransmit / partial ACK)
    PF_RESCUE_SET = 0x0800  # RFC 6675 RescueRxt is defined in this recovery
    PF_PERSIST = 0x1000     # the retransmission timer runs as the persist timer
    PF_FIN_ACKED = 0x2000   # our FIN has been acknowledged

# ---- c.events: what happened, for the owner (stack, listener, application) to look at
cdef enum:
    EV_ESTABLISHED = 0x01
    EV_READABLE = 0x02      # new in-order data or the peer's FIN
    EV_WRITABLE = 0x04      # send buffer space was freed
    EV_CLOSED = 0x08        # reached CLOSED: the owner may free the block
    EV_TIME_WAIT = 0x10     # entered TIME_WAIT: data buffers may be released
    EV_ERROR = 0x20         # c.error was set

# ---- congestion-recovery state (c.recovery)
cdef enum:
    REC_NONE = 0
    REC_FAST = 1            # RFC 6582 NewReno fast recovery (no SACK)
    REC_SACK = 2            # RFC 6675 SACK-based recovery
    REC_LOSS = 3            # after an RTO, until SND.UNA passes the recovery point

cdef enum:
    TCP_FLAGS_ALL = 0x1ff
    CC_PRIV_WORDS = 10      # private state of the congestion-control algorithm (80 bytes)

cdef enum:
    # configuration switches (tcp_config_t.flags)
    CFG_WSCALE = 0x01
    CFG_TS = 0x02
    CFG_SACK = 0x04
    CFG_NODELAY = 0x08
    CFG_KEEPALIVE = 0x10
    CFG_SYNCOOKIES = 0x20

ctypedef struct tcp_config_t:
    uint32_t sndbuf             # send buffer capacity, bytes
    uint32_t rcvbuf             # receive buffer capacity, bytes (and the largest window)
    uint32_t rto_initial_us     # RFC 6298 2.1: 1 s
    uint32_t rto_min_us         # RFC 6298 2.4: 1 s (configurable; Linux uses 200 ms)
    uint32_t rto_max_us         # RFC 6298 2.5: at least 60 s
    uint32_t delack_us          # RFC 1122 4.2.3.2 / RFC 5681 4.2: under 500 ms
    uint32_t msl_us             # TIME_WAIT lasts 2 * MSL (RFC 9293 3.4.2)
    uint64_t keepalive_idle_us  # RFC 1122 4.2.3.6: no less than two hours by default
    uint32_t keepalive_intvl_us
    uint32_t persist_min_us     # zero-window probe interval bounds (RFC 1122 4.2.2.17)
    uint32_t persist_max_us
    uint32_t user_timeout_us    # RFC 5482 / RFC 9293 3.10.3: abort when data stays unacked (0: off)
    uint16_t mss                # what we advertise (RFC 9293 3.7.1)
    uint16_t challenge_ack_limit    # challenge ACKs per second per connection (RFC 5961 7)
    uint8_t flags               # CFG_*
    uint8_t cc_algo             # index in the congestion-control registry (cc.pxd)
    uint8_t initial_window      # segments (RFC 5681 3.1; RFC 6928 allows 10)
    uint8_t dupthresh           # RFC 5681 / RFC 6675: 3
    uint8_t syn_retries
    uint8_t max_retries         # RTO expirations before "timed out" (RFC 1122 4.2.3.5 R2)
    uint8_t keepalive_probes
    uint8_t _pad


cdef struct tcp_conn_s
ctypedef tcp_conn_s tcp_conn_t

# The emitter: one segment to send, its payload as at most two pieces (the send ring may wrap).
# Returns 0 when the segment was handed to the device, -1 when the device is full (the core
# keeps the segment pending and retries).
ctypedef int (*tcp_emit_fn)(void* ctx, tcp_conn_t* c, const tcp_repr_t* h, const uint8_t* p1,
                            uint32_t n1, const uint8_t* p2, uint32_t n2) noexcept nogil

# A congestion-control algorithm (RFC 5681 4.3 / RFC 9438): called by the core at the events
# that move cwnd and ssthresh. Algorithms keep their own state in c.cc_priv.
ctypedef struct tcp_cc_ops_t:
    const char* name
    void (*init)(tcp_conn_t* c, uint64_t now) noexcept nogil
    # newly acknowledged bytes outside recovery: grow cwnd (slow start or avoidance)
    void (*on_ack)(tcp_conn_t* c, uint64_t now, uint32_t acked) noexcept nogil
    # a loss detected by duplicate ACKs / SACK: return the new ssthresh
    uint32_t (*on_loss)(tcp_conn_t* c, uint64_t now) noexcept nogil
    # the retransmission timer expired (first expiry of a series): set ssthresh and cwnd
    void (*on_rto)(tcp_conn_t* c, uint64_t now) noexcept nogil
    # recovery finished (cwnd has been set to ssthresh by the core)
    void (*on_recovery_end)(tcp_conn_t* c, uint64_t now) noexcept nogil

cdef struct tcp_conn_s:
    # --- send sequence variables (RFC 9293 3.3.1)
    uint32_t iss
    uint32_t snd_una
    uint32_t snd_nxt            # next sequence number to send (pulled back to SND.UNA by an RTO)
    uint32_t snd_max            # highest sequence number sent + 1
    uint32_t snd_wnd            # peer's window, scaled, in bytes
    uint32_t snd_wl1
    uint32_t snd_wl2
    uint32_t max_snd_wnd        # RFC 5961 5.2 MAX.SND.WND
    # --- receive sequence variables
    uint32_t irs
    uint32_t rcv_nxt
    uint32_t rcv_adv            # right edge of the window last advertised
    uint32_t rcv_fin_seq        # sequence number of an out-of-order FIN (PF_FIN_PENDING)
    # --- congestion control (RFC 5681, RFC 6582, RFC 6675)
    uint32_t cwnd
    uint32_t ssthresh
    uint32_t recover            # RFC 6582 "recover" / RFC 6675 RecoveryPoint
    uint32_t high_rxt           # RFC 6675 HighRxt (exclusive)
    uint32_t rescue_rxt         # RFC 6675 RescueRxt
    uint32_t bytes_acked        # RFC 3465 appropriate byte counting in congestion avoidance
    # --- timestamps (RFC 7323)
    uint32_t ts_recent
    uint32_t ts_offset          # per-connection random offset (RFC 7323 5.4)
    uint32_t last_ack_sent
    # --- round-trip time (RFC 6298), microseconds
    uint32_t srtt_us            # 0: no sample yet
    uint32_t rttvar_us
    uint32_t rto_us
    uint32_t rtt_seq            # the segment being timed (Karn's rule: never a retransmission)
    # --- timers: absolute deadlines in microseconds, 0 when off
    uint64_t rtt_start          # start time + 1 (0: not timing; the clock may start at 0)
    uint64_t t_rtx              # retransmission, or persist when the peer's window is zero
    uint64_t t_delack
    uint64_t t_keep             # keepalive
    uint64_t t_2msl             # TIME_WAIT
    uint64_t t_tx_retry         # device was full
    uint64_t ts_recent_us       # when ts_recent was set (RFC 7323 5.5, 24 days)
    uint64_t last_rx_us         # for keepalive
    uint64_t last_tx_us         # for the restart window after idle (RFC 5681 4.1)
    uint64_t first_rtx_us       # when the oldest unacked data was first retransmitted (user timeout)
    uint64_t last_rtx_us        # when we last retransmitted anything
    uint64_t chall_start_us     # challenge-ACK rate-limit window (RFC 5961 7)
    # --- counters and small state
    uint16_t snd_mss            # payload per segment (RFC 9293 3.7.1, minus option bytes)
    uint16_t peer_mss           # MSS the peer announced
    uint16_t pend               # PF_*
    uint16_t chall_count
    uint16_t segs_unacked       # full segments received since our last ACK (delayed ACK)
    uint8_t state
    uint8_t error               # TCPE_*, set when the connection failed
    uint8_t opts                # TF_*
    uint8_t events              # EV_*, cleared by the owner
    uint8_t snd_wscale          # peer's shift (applied to windows it sends)
    uint8_t rcv_wscale          # our shift
    uint8_t backoff             # RTO / persist doublings so far
    uint8_t retries             # consecutive retransmission-timer expiries
    uint8_t syn_retries
    uint8_t dupacks
    uint8_t recovery            # REC_*
    uint8_t keep_probes
    uint8_t family              # 4 or 6
    uint8_t owner_flags         # the owner's bookkeeping bits (stack.pxd SF_*)
    # --- buffers (their data is allocated separately) and the scoreboards
    tcp_sndbuf_t snd
    tcp_rcvbuf_t rcv
    tcp_sackboard_t sb
    # --- pluggable pieces
    const tcp_config_t* cfg
    const tcp_cc_ops_t* cc
    uint64_t cc_priv[CC_PRIV_WORDS]
    tcp_emit_fn emit
    void* emit_ctx
    # --- identity: addresses are 16 bytes, IPv4 in the IPv4-mapped form ::ffff:a.b.c.d
    uint8_t laddr[16]
    uint8_t raddr[16]
    uint16_t lport
    uint16_t rport
    # --- owner's bookkeeping (stack: timer heap position, accept queue link, listener)
    uint32_t heap_idx
    uint32_t thash              # the owner's table hash of the 4-tuple
    uint16_t listener
    uint16_t rcv_mss            # largest segment received so far (delayed-ACK "full-sized")
    tcp_conn_t* qnext
    void* owner
    uint64_t deadline           # the poll_at the owner last filed this block under


cdef inline bint tcp_synchronized(const tcp_conn_t* c) noexcept nogil:
    # RFC 9293 3.5: the states after the SYN exchange (SYN-RECEIVED counts for RST/SYN rules).
    return c.state >= TCPS_SYN_RECEIVED


cdef inline bint tcp_can_receive(const tcp_conn_t* c) noexcept nogil:
    # RFC 9293 3.10.7.4 seventh: text is accepted in ESTABLISHED, FIN-WAIT-1 and FIN-WAIT-2.
    return (c.state == TCPS_ESTABLISHED or c.state == TCPS_FIN_WAIT_1 or
            c.state == TCPS_FIN_WAIT_2)


cdef inline uint32_t tcp_snd_data_seq(const tcp_conn_t* c) noexcept nogil:
    # Sequence number of the first byte in the send buffer: right after our SYN while the
    # SYN is unacknowledged, else SND.UNA.
    if c.state == TCPS_SYN_SENT or c.state == TCPS_SYN_RECEIVED:
        return c.iss + 1
    return c.snd_una


cdef inline uint32_t tcp_fin_seq(const tcp_conn_t* c) noexcept nogil:
    # Sequence number of our FIN (meaningful with PF_FIN_QUEUED): right after the data.
    return tcp_snd_data_seq(c) + c.snd.len


cdef inline uint32_t tcp_flight(const tcp_conn_t* c) noexcept nogil:
    # RFC 5681 FlightSize: sent but not yet acknowledged.
    return c.snd_max - c.snd_una


cdef inline uint32_t tcp_ts_now(const tcp_conn_t* c, uint64_t now) noexcept nogil:
    # RFC 7323 5.4: a 1 ms timestamp clock with a per-connection random offset.
    return <uint32_t>(now // 1000) + c.ts_offset


cdef inline uint64_t tcp_min_deadline(uint64_t a, uint64_t b) noexcept nogil:
    if a == 0:
        return b
    if b == 0:
        return a
    return a if a < b else b


cdef inline void tcp_timing_start(tcp_conn_t* c, uint64_t now, uint32_t seq) noexcept nogil:
    c.rtt_start = now + 1
    c.rtt_seq = seq


cdef inline uint32_t tcp_timing_elapsed(const tcp_conn_t* c, uint64_t now) noexcept nogil:
    return <uint32_t>(now + 1 - c.rtt_start)


cdef inline uint64_t tcp_deadline(uint64_t now, uint64_t delta) noexcept nogil:
    # An absolute deadline, never 0 (0 means "timer off").
    return now + delta if now + delta else 1
