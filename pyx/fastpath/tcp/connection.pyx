"""User calls on a connection and the standalone Python ``TcpConnection`` (see connection.pxd).

``TcpConnection`` drives one control block from Python with ``Segment`` objects: build it in a
state, feed it segments, look at what it sends and at its variables. The stack
(``fastpath.tcp.stack``) drives the same C functions with real IPv4/IPv6 frames.
"""
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.string cimport memset, memcpy
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING

from fastpath.wire.tcp cimport (tcp_repr_t, TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK_FLAG,
                                TCP_MAX_SACK)
from fastpath.wire.record cimport OPT_MSS, OPT_WSCALE, OPT_SACK_PERM, OPT_SACK, OPT_TIMESTAMP
from fastpath.tcp.seq cimport seq_lt, seq_le, seq_gt, seq_ge, seq_in
from fastpath.tcp.tcb cimport *
from fastpath.tcp.buffers cimport (sndbuf_write, sndbuf_free, rcvbuf_read, rcvbuf_free,
                                   rcvbuf_consume, OOO_MAX)
from fastpath.tcp.sack cimport SB_MAX
from fastpath.tcp.cc cimport cc_get
from fastpath.tcp.input cimport (tcp_input, tcp_accept_syn, tcp_need_sndbuf, tcp_choose_wscale,
                                 IN_OK, IN_NOMEM, IN_ABANDON, IN_NOCONN)
from fastpath.tcp.output cimport (tcp_output, tcp_set_closed, tcp_emit_rst, tcp_poll_at,
                                  tcp_window_update_due, tcp_set_state)
from fastpath.tcp.timers cimport tcp_timers, tcp_keepalive_arm
from fastpath.tcp.isn cimport tcp_secrets_t, isn_generate, ts_offset_for

import ipaddress
import os

from fastpath.errors import (ConfigError, ConnectionRefused, ConnectionReset, ConnectionTimedOut,
                             ConnectionAborted, ConnectionClosed, AllocationFailed, CapacityError,
                             FastpathError)
from fastpath.tcp.config import TcpConfig
from fastpath.tcp.segment import Segment
from fastpath.tcp.state import State
from fastpath.tcp.cc import index_of as _cc_index, algorithms as _cc_algorithms


# ------------------------------------------------------------------ C user calls

cdef void tcp_conn_setup(tcp_conn_t* c, const tcp_config_t* cfg, tcp_emit_fn emit,
                         void* ctx) noexcept nogil:
    memset(c, 0, sizeof(tcp_conn_t))
    c.cfg = cfg
    c.cc = cc_get(cfg.cc_algo)
    c.emit = emit
    c.emit_ctx = ctx
    c.state = TCPS_CLOSED
    c.rto_us = cfg.rto_initial_us
    c.snd_mss = 536
    c.cwnd = 536
    c.ssthresh = 0xffffffffu
    c.heap_idx = 0xffffffffu
    c.family = 4
    if cfg.flags & CFG_WSCALE:
        c.opts |= TF_WSCALE
        c.rcv_wscale = tcp_choose_wscale(cfg.rcvbuf)
    if cfg.flags & CFG_TS:
        c.opts |= TF_TS
    if cfg.flags & CFG_SACK:
        c.opts |= TF_SACK
    if cfg.flags & CFG_NODELAY:
        c.opts |= TF_NODELAY
    if cfg.flags & CFG_KEEPALIVE:
        c.opts |= TF_KEEPALIVE
    c.cc.init(c, 0)


cdef int tcp_open(tcp_conn_t* c, uint64_t now, uint32_t iss, uint32_t ts_offset) noexcept nogil:
    # RFC 9293 3.10.1 OPEN (active): select an ISS, send a SYN, enter SYN-SENT.
    if c.state != TCPS_CLOSED:
        return -TCPE_STATE
    c.iss = iss
    c.snd_una = iss
    c.snd_nxt = iss
    c.snd_max = iss
    c.recover = iss
    c.ts_offset = ts_offset
    c.last_rx_us = now
    c.state = TCPS_SYN_SENT
    return 0


cdef int64_t tcp_send(tcp_conn_t* c, const uint8_t* p, uint32_t n) noexcept nogil:
    # RFC 9293 3.10.2 SEND: queued in SYN-SENT / SYN-RECEIVED too; "connection closing" once
    # the user has shut down sending.
    cdef uint8_t st = c.state
    if st == TCPS_CLOSED:
        return -(c.error if c.error else TCPE_NOTCONN)
    if c.pend & PF_FIN_QUEUED:
        return -TCPE_CLOSING
    if not (st == TCPS_SYN_SENT or st == TCPS_SYN_RECEIVED or st == TCPS_ESTABLISHED or
            st == TCPS_CLOSE_WAIT):
        return -TCPE_CLOSING
    if tcp_need_sndbuf(c) < 0:
        return -TCPE_NOMEM
    return sndbuf_write(&c.snd, p, n)


cdef inline void _after_read(tcp_conn_t* c) noexcept nogil:
    if tcp_window_update_due(c) and c.state >= TCPS_ESTABLISHED and c.state != TCPS_TIME_WAIT:
        c.pend |= PF_WND_UPDATE


cdef int64_t tcp_recv(tcp_conn_t* c, uint8_t* out, uint32_t n) noexcept nogil:
    # RFC 9293 3.10.3 RECEIVE: queued data first, whatever the state; then the error that
    # closed the connection, if any.
    cdef uint32_t got
    if c.rcv.data != NULL and c.rcv.len:
        got = rcvbuf_read(&c.rcv, out, n)
        _after_read(c)
        return got
    if c.state == TCPS_CLOSED and c.error:
        return -c.error
    return 0


cdef uint32_t tcp_recv_consume(tcp_conn_t* c, uint32_t n) noexcept nogil:
    if c.rcv.data == NULL:
        return 0
    if n > c.rcv.len:
        n = c.rcv.len
    rcvbuf_consume(&c.rcv, n)
    _after_read(c)
    return n


cdef bint tcp_at_eof(const tcp_conn_t* c) noexcept nogil:
    # Everything the peer will ever send has been read.
    if c.rcv.data != NULL and c.rcv.len:
        return False
    return (c.pend & PF_FIN_RCVD) != 0 or c.state == TCPS_CLOSED


cdef int tcp_shutdown(tcp_conn_t* c, uint64_t now) noexcept nogil:
    # RFC 9293 3.10.4 CLOSE: no more sending; the FIN follows the queued data.
    cdef uint8_t st = c.state
    if st == TCPS_CLOSED:
        return -(c.error if c.error else TCPE_NOTCONN)
    if c.pend & PF_FIN_QUEUED:
        return 0
    if st == TCPS_SYN_SENT:
        tcp_set_closed(c, TCPE_OK)              # delete the TCB
        return 0
    if st == TCPS_SYN_RECEIVED:
        c.pend |= PF_FIN_QUEUED                 # sent once ESTABLISHED
        return 0
    if st == TCPS_ESTABLISHED:
        c.pend |= PF_FIN_QUEUED
        tcp_set_state(c, TCPS_FIN_WAIT_1, now)
        return 0
    if st == TCPS_CLOSE_WAIT:
        c.pend |= PF_FIN_QUEUED
        tcp_set_state(c, TCPS_LAST_ACK, now)
        return 0
    return 0


cdef int tcp_abort(tcp_conn_t* c, uint64_t now) noexcept nogil:
    # RFC 9293 3.10.5 ABORT: <SEQ=SND.NXT><CTL=RST> in the synchronized states.
    cdef uint8_t st = c.state
    if st == TCPS_CLOSED:
        return -(c.error if c.error else TCPE_NOTCONN)
    if st == TCPS_SYN_RECEIVED or st == TCPS_ESTABLISHED or st == TCPS_FIN_WAIT_1 or \
            st == TCPS_FIN_WAIT_2 or st == TCPS_CLOSE_WAIT:
        tcp_emit_rst(c, c.snd_max, 0, False)
    tcp_set_closed(c, TCPE_ABORTED)
    return 0


cdef int tcp_process(tcp_conn_t* c, uint64_t now, const tcp_repr_t* seg, const uint8_t* payload,
                     uint32_t length) noexcept nogil:
    cdef int r = tcp_input(c, now, seg, payload, length)
    if r == IN_OK or r == IN_NOMEM:
        tcp_keepalive_arm(c, now)
        tcp_output(c, now)
    return r


cdef int tcp_poll(tcp_conn_t* c, uint64_t now) noexcept nogil:
    tcp_timers(c, now)
    return tcp_output(c, now)


cdef void tcp_release(tcp_conn_t* c) noexcept nogil:
    sndbuf_free(&c.snd)
    rcvbuf_free(&c.rcv)


cdef int tcp_check(const tcp_conn_t* c) noexcept nogil:
    cdef uint8_t st = c.state
    cdef uint32_t limit, prev
    cdef int k
    if st > TCPS_TIME_WAIT:
        return 1
    if st == TCPS_CLOSED:
        if c.t_rtx or c.t_delack or c.t_keep or c.t_2msl:
            return 2
        return 0
    if not (seq_le(c.snd_una, c.snd_nxt) and seq_le(c.snd_nxt, c.snd_max)):
        return 3
    if c.snd.len > c.snd.cap or c.rcv.len > c.rcv.cap:
        return 4
    if st >= TCPS_ESTABLISHED and st != TCPS_TIME_WAIT:
        if c.snd.len and c.snd.data == NULL:
            return 5
        # Everything in flight is in the send buffer (plus one for a FIN).
        if c.snd_max - c.snd_una > c.snd.len + 1:
            return 6
        if c.cwnd == 0 or c.snd_mss == 0:
            return 7
    if c.rcv.ooo_count > OOO_MAX or c.sb.count > SB_MAX:
        return 8
    limit = c.rcv_nxt + (c.rcv.cap - c.rcv.len)
    prev = c.rcv_nxt
    for k in range(c.rcv.ooo_count):
        # Sorted, disjoint, not adjacent to each other, strictly above RCV.NXT, inside the ring.
        if not (seq_gt(c.rcv.ooo_left[k], prev) and seq_lt(c.rcv.ooo_left[k], c.rcv.ooo_right[k])
                and seq_le(c.rcv.ooo_right[k], limit)):
            return 9
        prev = c.rcv.ooo_right[k]
    prev = c.snd_una
    for k in range(c.sb.count):
        if not (seq_ge(c.sb.left[k], prev) and seq_lt(c.sb.left[k], c.sb.right[k])
                and seq_le(c.sb.right[k], c.snd_max)):
            return 10
        prev = c.sb.right[k]
    if c.rto_us < c.cfg.rto_min_us // 2 or c.rto_us > c.cfg.rto_max_us:
        return 11
    if st == TCPS_TIME_WAIT and c.t_2msl == 0:
        return 12
    if c.snd_una != c.snd_max and st >= TCPS_SYN_SENT and c.t_rtx == 0 and \
            not (c.pend & (PF_TX_BLOCKED | PF_FASTRTX)) and st != TCPS_TIME_WAIT:
        return 13               # data outstanding but no retransmission timer
    return 0


INVARIANTS = {
    1: "state out of range",
    2: "a timer runs on a closed connection",
    3: "SND.UNA <= SND.NXT <= SND.MAX violated",
    4: "a buffer holds more than its capacity",
    5: "the send buffer holds data but has no memory",
    6: "more is in flight than the send buffer holds",
    7: "cwnd or MSS is zero",
    8: "a range table overflowed",
    9: "out-of-order ranges are not sorted, disjoint and inside the receive window",
    10: "SACK scoreboard ranges are not sorted, disjoint and inside (SND.UNA, SND.MAX]",
    11: "RTO outside its configured bounds",
    12: "TIME-WAIT without its 2 MSL timer",
    13: "data outstanding without a retransmission timer",
}


# ------------------------------------------------------------------ Python helpers

cdef int config_to_c(object config, tcp_config_t* out) except -1:
    if config is None:
        config = TcpConfig()
    if not isinstance(config, TcpConfig):
        raise ConfigError(f"config must be a TcpConfig, not {type(config).__name__}")
    memset(out, 0, sizeof(tcp_config_t))
    out.sndbuf = config.sndbuf
    out.rcvbuf = config.rcvbuf
    out.mss = config.mss
    out.rto_initial_us = config.rto_initial_us
    out.rto_min_us = config.rto_min_us
    out.rto_max_us = config.rto_max_us
    out.delack_us = config.delack_us
    out.msl_us = config.msl_us
    out.keepalive_idle_us = config.keepalive_idle_us
    out.keepalive_intvl_us = config.keepalive_intvl_us
    out.persist_min_us = config.persist_min_us
    out.persist_max_us = config.persist_max_us
    out.user_timeout_us = config.user_timeout_us
    out.challenge_ack_limit = config.challenge_ack_limit
    out.cc_algo = _cc_index(config.congestion_control)
    out.initial_window = config.initial_window
    out.dupthresh = config.dupthresh
    out.syn_retries = config.syn_retries
    out.max_retries = config.max_retries
    out.keepalive_probes = config.keepalive_probes
    out.flags = ((CFG_WSCALE if config.window_scaling else 0) | (CFG_TS if config.timestamps else 0)
                 | (CFG_SACK if config.sack else 0) | (CFG_NODELAY if config.nodelay else 0)
                 | (CFG_KEEPALIVE if config.keepalive else 0)
                 | (CFG_SYNCOOKIES if config.syncookies else 0))
    return 0


_ERRORS = {
    TCPE_REFUSED: (ConnectionRefused, "connection refused: the peer answered the SYN with a reset "
                                      "(nothing listens on that port)"),
    TCPE_RESET: (ConnectionReset, "connection reset by the peer"),
    TCPE_TIMEDOUT: (ConnectionTimedOut, "connection timed out: the peer stopped answering "
                                        "(retransmissions, SYN retries or keepalive probes exhausted)"),
    TCPE_ABORTED: (ConnectionAborted, "connection aborted locally"),
    TCPE_NOMEM: (AllocationFailed, "out of memory for the connection's buffers: retry later or "
                                   "lower TcpConfig.sndbuf / rcvbuf"),
    TCPE_CLOSING: (ConnectionClosed, "connection closing: sending was shut down"),
    TCPE_NOTCONN: (ConnectionClosed, "not connected: the connection is closed or was never opened"),
    TCPE_STATE: (ConnectionClosed, "invalid in this connection state"),
    TCPE_NOBUFS: (CapacityError, "a bounded queue or table is full"),
    TCPE_ADDRINUSE: (ConnectionClosed, "address in use: the 4-tuple is taken or no ephemeral port is free"),
}


cdef object error_for(int code, str what):
    cls, msg = _ERRORS.get(code, (FastpathError, f"TCP error {code}"))
    return cls(f"{what}: {msg}" if what else msg)


ERROR_NAMES = {TCPE_OK: None, TCPE_REFUSED: "refused", TCPE_RESET: "reset",
               TCPE_TIMEDOUT: "timed out", TCPE_ABORTED: "aborted", TCPE_NOMEM: "out of memory"}
RECOVERY_NAMES = {REC_NONE: "none", REC_FAST: "newreno", REC_SACK: "sack", REC_LOSS: "rto"}


def _parse_endpoint(ep, str which):
    try:
        host, port = ep
        addr = ipaddress.ip_address(host)
        port = int(port)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{which} must be an (address, port) pair, not {ep!r}") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"{which} port {port} is outside 0..65535")
    return addr, port


cdef void _addr16(object addr, uint8_t* out):
    cdef bytes b
    if addr.version == 4:
        b = b"\0" * 10 + b"\xff\xff" + addr.packed
    else:
        b = addr.packed
    memcpy(out, PyBytes_AS_STRING(b), 16)


cdef int segment_to_repr(object seg, tcp_repr_t* r) except -1:
    cdef int i
    if not isinstance(seg, Segment):
        raise TypeError(f"expected a Segment, not {type(seg).__name__}")
    r.sport = seg.sport
    r.dport = seg.dport
    r.seq = seg.seq & 0xffffffff
    r.ack = seg.ack & 0xffffffff
    r.flags = seg.flags & 0x1ff
    r.window = seg.window
    r.urgent = seg.urgent
    r.options = 0
    r.sack_count = 0
    r.header_len = 20
    if seg.mss is not None:
        r.mss = seg.mss
        r.options |= OPT_MSS
    if seg.wscale is not None:
        r.wscale = seg.wscale
        r.options |= OPT_WSCALE
    if seg.sack_permitted:
        r.options |= OPT_SACK_PERM
    if seg.timestamp is not None:
        r.tsval = seg.timestamp[0] & 0xffffffff
        r.tsecr = seg.timestamp[1] & 0xffffffff
        r.options |= OPT_TIMESTAMP
    if seg.sack:
        if len(seg.sack) > TCP_MAX_SACK:
            raise ValueError(f"at most {TCP_MAX_SACK} SACK blocks")
        for i, (left, right) in enumerate(seg.sack):
            r.sack_left[i] = left & 0xffffffff
            r.sack_right[i] = right & 0xffffffff
        r.sack_count = len(seg.sack)
        r.options |= OPT_SACK
    return 0


cdef object repr_to_segment(const tcp_repr_t* h, const uint8_t* p1, uint32_t n1,
                            const uint8_t* p2, uint32_t n2):
    cdef bytes payload = PyBytes_FromStringAndSize(NULL, n1 + n2)
    cdef char* dst = PyBytes_AS_STRING(payload)
    if n1:
        memcpy(dst, p1, n1)
    if n2:
        memcpy(dst + n1, p2, n2)
    return Segment(
        seq=h.seq, ack=h.ack, flags=h.flags, window=h.window, payload=payload,
        mss=h.mss if h.options & OPT_MSS else None,
        wscale=h.wscale if h.options & OPT_WSCALE else None,
        sack_permitted=bool(h.options & OPT_SACK_PERM),
        timestamp=(h.tsval, h.tsecr) if h.options & OPT_TIMESTAMP else None,
        sack=tuple((h.sack_left[i], h.sack_right[i]) for i in range(h.sack_count)),
        sport=h.sport, dport=h.dport, urgent=h.urgent)


cdef int _py_emit(void* ctx, tcp_conn_t* c, const tcp_repr_t* h, const uint8_t* p1,
                  uint32_t n1, const uint8_t* p2, uint32_t n2) noexcept nogil:
    with gil:
        conn = <TcpConnection>ctx
        if conn.refuse_output:
            return -1
        conn._out.append(repr_to_segment(h, p1, n1, p2, n2))
    return 0


cdef tcp_secrets_t _default_secrets
_seed = os.urandom(48)
memcpy(_default_secrets.isn_key, PyBytes_AS_STRING(_seed), 16)
memcpy(_default_secrets.ts_key, PyBytes_AS_STRING(_seed) + 16, 16)
memcpy(_default_secrets.cookie_key, PyBytes_AS_STRING(_seed) + 32, 16)


# ------------------------------------------------------------------ Python classes

cdef class ConnectionView:
    """Data calls, state and variables of one connection (see TcpConnection, and
    fastpath.tcp.stack.Connection for connections owned by a stack)."""

    cdef tcp_conn_t* _c(self) except NULL:
        if self.cp == NULL:
            raise ConnectionClosed("this connection handle was closed; its connection is gone")
        return self.cp

    cdef int _kick(self) except -1:
        return 0

    def send(self, data):
        """Queue bytes for sending; returns how many fit (0 when the buffer is full). Raises
        the error that closed the connection, or ConnectionClosed after shutdown."""
        cdef const uint8_t[::1] view
        cdef int64_t r
        cdef tcp_conn_t* c = self._c()
        view = data if isinstance(data, bytes) else memoryview(data).cast("B")
        if view.shape[0] == 0:
            return 0
        r = tcp_send(c, &view[0], <uint32_t>min(view.shape[0], 0xffffffff))
        if r < 0:
            raise error_for(<int>-r, "send")
        if r:
            self._kick()
        return r

    def recv(self, Py_ssize_t max_bytes=1 << 20):
        """Up to ``max_bytes`` of received data; b"" when none is ready (see ``eof``).
        Raises the error that closed the connection once its data has been read."""
        cdef tcp_conn_t* c = self._c()
        cdef uint32_t avail = c.rcv.len if c.rcv.data != NULL else 0
        cdef uint32_t n = <uint32_t>max_bytes if max_bytes < avail else avail
        cdef bytes out
        cdef int64_t r
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        if n == 0:
            r = tcp_recv(c, NULL, 0)
            if r < 0:
                raise error_for(<int>-r, "recv")
            return b""
        out = PyBytes_FromStringAndSize(NULL, n)
        tcp_recv(c, <uint8_t*>PyBytes_AS_STRING(out), n)
        if c.pend & PF_WND_UPDATE:
            self._kick()
        return out

    def shutdown(self):
        """Close the sending side (RFC 9293 3.10.4): a FIN follows the queued data."""
        r = tcp_shutdown(self._c(), 0)
        if r < 0:
            raise error_for(-r, "shutdown")
        self._kick()

    def check(self):
        """Raise AssertionError if an invariant of the control block does not hold."""
        code = tcp_check(self._c())
        if code:
            raise AssertionError(f"TCP invariant {code} violated: {INVARIANTS[code]} ({self!r})")

    # -- state and variables
    @property
    def state(self):
        return State(self._c().state)

    @property
    def error(self):
        """The exception that ended the connection, or None."""
        cdef tcp_conn_t* c = self._c()
        return error_for(c.error, "") if c.error else None

    @property
    def eof(self):
        """True once the peer's FIN has arrived and all its data has been read."""
        return tcp_at_eof(self._c())

    @property
    def iss(self): return self._c().iss
    @property
    def irs(self): return self._c().irs
    @property
    def snd_una(self): return self._c().snd_una
    @property
    def snd_nxt(self): return self._c().snd_nxt
    @property
    def snd_max(self): return self._c().snd_max
    @property
    def snd_wnd(self): return self._c().snd_wnd
    @property
    def rcv_nxt(self): return self._c().rcv_nxt
    @property
    def rcv_wnd(self):
        """The window last advertised, from RCV.NXT (bytes)."""
        cdef tcp_conn_t* c = self._c()
        return <uint32_t>(c.rcv_adv - c.rcv_nxt) if seq_gt(c.rcv_adv, c.rcv_nxt) else 0
    @property
    def cwnd(self): return self._c().cwnd
    @property
    def ssthresh(self): return self._c().ssthresh
    @property
    def srtt_us(self): return self._c().srtt_us
    @property
    def rttvar_us(self): return self._c().rttvar_us
    @property
    def rto_us(self): return self._c().rto_us
    @property
    def mss(self):
        """Payload bytes per segment we send (after negotiation and option overhead)."""
        return self._c().snd_mss
    @property
    def peer_mss(self): return self._c().peer_mss
    @property
    def dupacks(self): return self._c().dupacks
    @property
    def backoff(self): return self._c().backoff
    @property
    def retries(self): return self._c().retries
    @property
    def recovery(self): return RECOVERY_NAMES[self._c().recovery]
    @property
    def recover(self): return self._c().recover
    @property
    def high_rxt(self): return self._c().high_rxt
    @property
    def snd_wscale(self): return self._c().snd_wscale
    @property
    def rcv_wscale(self): return self._c().rcv_wscale
    @property
    def ts_recent(self): return self._c().ts_recent
    @property
    def congestion_control(self): return (<bytes>self._c().cc.name).decode()

    @property
    def local_port(self): return self._c().lport
    @property
    def remote_port(self): return self._c().rport

    @property
    def options(self):
        """Negotiated options: a subset of {'wscale', 'timestamps', 'sack'}."""
        cdef tcp_conn_t* c = self._c()
        out = set()
        if c.opts & TF_WSCALE:
            out.add("wscale")
        if c.opts & TF_TS:
            out.add("timestamps")
        if c.opts & TF_SACK:
            out.add("sack")
        return frozenset(out)

    @property
    def send_buffered(self):
        """Bytes in the send buffer (unacknowledged and not yet sent)."""
        return self._c().snd.len

    @property
    def send_space(self):
        """Bytes that ``send`` would accept now."""
        cdef tcp_conn_t* c = self._c()
        return c.snd.cap - c.snd.len if c.snd.data != NULL else c.cfg.sndbuf

    @property
    def recv_buffered(self):
        return self._c().rcv.len

    @property
    def sacked(self):
        """The SACK scoreboard: [(left, right)] ranges the peer holds above SND.UNA."""
        cdef tcp_conn_t* c = self._c()
        return [(c.sb.left[k], c.sb.right[k]) for k in range(c.sb.count)]

    @property
    def out_of_order(self):
        """Out-of-order ranges held above RCV.NXT."""
        cdef tcp_conn_t* c = self._c()
        return [(c.rcv.ooo_left[k], c.rcv.ooo_right[k]) for k in range(c.rcv.ooo_count)]

    @property
    def timers(self):
        """Deadlines (microseconds) of the timers that run."""
        cdef tcp_conn_t* c = self._c()
        out = {}
        for name, t in (("retransmit", c.t_rtx), ("delayed_ack", c.t_delack),
                        ("keepalive", c.t_keep), ("time_wait", c.t_2msl)):
            if t:
                out[name] = t
        if out.get("retransmit") and c.pend & PF_PERSIST:
            out["persist"] = out.pop("retransmit")
        return out

    @property
    def nodelay(self): return bool(self._c().opts & TF_NODELAY)
    @nodelay.setter
    def nodelay(self, bint on):
        cdef tcp_conn_t* c = self._c()
        if on:
            c.opts |= TF_NODELAY
        else:
            c.opts &= ~TF_NODELAY
        self._kick()

    @property
    def keepalive(self): return bool(self._c().opts & TF_KEEPALIVE)
    @keepalive.setter
    def keepalive(self, bint on):
        cdef tcp_conn_t* c = self._c()
        if on:
            c.opts |= TF_KEEPALIVE
        else:
            c.opts &= ~TF_KEEPALIVE
        c.t_keep = 0
        tcp_keepalive_arm(c, c.last_rx_us)
        self._kick()

    def poll_at(self):
        """When this connection needs attention next (microseconds), or None."""
        cdef uint64_t t = tcp_poll_at(self._c(), 0)
        return None if t == 0 else t

    def __repr__(self):
        if self.cp == NULL:
            return f"<{type(self).__name__} closed>"
        c = self.cp
        return (f"<{type(self).__name__} {State(c.state).name} "
                f"snd_una={c.snd_una} snd_nxt={c.snd_nxt} snd_max={c.snd_max} snd_wnd={c.snd_wnd} "
                f"rcv_nxt={c.rcv_nxt} cwnd={c.cwnd} ssthresh={c.ssthresh} rto={c.rto_us}us "
                f"recovery={RECOVERY_NAMES[c.recovery]}>")


@cython.final
cdef class TcpConnection(ConnectionView):
    """One TCP endpoint driven from Python with ``Segment`` objects and an explicit clock.

    Nothing here reads a clock or touches a network: every call that can make the connection
    transmit takes ``now`` (microseconds) and returns the segments to send; ``send``/``recv``
    only move bytes, and what they make due goes out with the next ``dispatch(now)``.
    ``poll_at()`` says when ``dispatch()`` must run next. Errors the peer causes (refused,
    reset, timed out) are raised by ``send``/``recv`` and reported by ``error``.
    """
    cdef tcp_conn_t c
    cdef tcp_config_t cfg
    cdef list _out
    cdef readonly object config
    cdef readonly object local
    cdef readonly object remote
    cdef public bint refuse_output      # test hook: the "device" refuses every segment

    def __cinit__(self):
        memset(&self.c, 0, sizeof(tcp_conn_t))
        self._out = []
        self.cp = &self.c

    def __init__(self, local, remote, config=None):
        laddr, lport = _parse_endpoint(local, "local")
        raddr, rport = _parse_endpoint(remote, "remote")
        if laddr.version != raddr.version:
            raise ConfigError(f"local {laddr} and remote {raddr} are different IP versions")
        self.config = config if config is not None else TcpConfig()
        config_to_c(self.config, &self.cfg)
        tcp_conn_setup(&self.c, &self.cfg, _py_emit, <void*>self)
        self.local = (str(laddr), lport)
        self.remote = (str(raddr), rport)
        self.c.family = laddr.version
        _addr16(laddr, self.c.laddr)
        _addr16(raddr, self.c.raddr)
        self.c.lport = lport
        self.c.rport = rport

    def __dealloc__(self):
        tcp_release(&self.c)

    cdef list _take(self):
        out = self._out
        self._out = []
        return out

    cdef uint32_t _isn(self, uint64_t now, iss):
        if iss is not None:
            return <uint32_t>(iss & 0xffffffff)
        return isn_generate(&_default_secrets, self.c.laddr, self.c.lport, self.c.raddr,
                            self.c.rport, now)

    def connect(self, unsigned long long now, iss=None, ts_offset=None):
        """Active open (RFC 9293 3.10.1): returns [SYN]. ``iss`` defaults to RFC 6528."""
        cdef uint32_t tso
        if ts_offset is not None:
            tso = ts_offset & 0xffffffff
        else:
            tso = ts_offset_for(&_default_secrets, self.c.laddr, self.c.lport, self.c.raddr,
                                self.c.rport)
        r = tcp_open(&self.c, now, self._isn(now, iss), tso)
        if r < 0:
            raise error_for(-r, "connect")
        tcp_output(&self.c, now)
        return self._take()

    @staticmethod
    def accept(syn, unsigned long long now, local, remote, config=None, iss=None, ts_offset=0):
        """Passive open from a SYN (RFC 9293 3.10.7.2): a connection in SYN-RECEIVED; its
        ``dispatch(now)`` sends the SYN-ACK."""
        cdef tcp_repr_t r
        cdef TcpConnection conn = TcpConnection(local, remote, config)
        segment_to_repr(syn, &r)
        if not (r.flags & TCP_SYN) or (r.flags & (TCP_RST | TCP_ACK_FLAG)):
            raise ValueError("accept() needs a SYN without ACK or RST")
        tcp_accept_syn(&conn.c, now, &r, conn._isn(now, iss), ts_offset & 0xffffffff)
        return conn

    def process(self, unsigned long long now, seg):
        """A segment arrives: returns the segments sent in answer."""
        cdef tcp_repr_t r
        cdef bytes payload = bytes(seg.payload)
        segment_to_repr(seg, &r)
        code = tcp_process(&self.c, now, &r, <const uint8_t*>PyBytes_AS_STRING(payload),
                           len(payload))
        if code == IN_ABANDON:
            tcp_set_closed(&self.c, TCPE_OK)
        return self._take()

    def dispatch(self, unsigned long long now):
        """Run the timers that are due and transmit: returns the segments sent."""
        tcp_poll(&self.c, now)
        return self._take()

    def abort(self, unsigned long long now):
        """RFC 9293 3.10.5: reset the connection; returns [RST] in synchronized states."""
        r = tcp_abort(&self.c, now)
        if r < 0 and r != -TCPE_NOTCONN:
            raise error_for(-r, "abort")
        return self._take()


def control_block_size():
    """Bytes of one connection's control block, excluding its send and receive data."""
    return sizeof(tcp_conn_t)
