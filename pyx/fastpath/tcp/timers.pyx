"""Timer expiry for the TCP core (see timers.pxd)."""
from libc.stdint cimport uint32_t, uint64_t

from fastpath.tcp.tcb cimport *
from fastpath.tcp.sack cimport sb_clear
from fastpath.tcp.output cimport tcp_set_closed, tcp_persist_interval


cdef inline void _backoff(tcp_conn_t* c) noexcept nogil:
    # RFC 6298 5.5: RTO <- RTO * 2, bounded by the maximum (2.5).
    cdef uint64_t r = <uint64_t>c.rto_us * 2
    c.rto_us = <uint32_t>(r if r < c.cfg.rto_max_us else c.cfg.rto_max_us)
    if c.backoff < 255:
        c.backoff += 1


cdef inline bint _keepalive_state(const tcp_conn_t* c) noexcept nogil:
    return (c.state == TCPS_ESTABLISHED or c.state == TCPS_CLOSE_WAIT or
            c.state == TCPS_FIN_WAIT_1 or c.state == TCPS_FIN_WAIT_2)


cdef void tcp_keepalive_arm(tcp_conn_t* c, uint64_t now) noexcept nogil:
    if (c.opts & TF_KEEPALIVE) and _keepalive_state(c):
        if c.t_keep == 0:
            c.t_keep = (c.last_rx_us if c.last_rx_us else now) + c.cfg.keepalive_idle_us
    else:
        c.t_keep = 0


cdef void _rtx_timeout(tcp_conn_t* c, uint64_t now) noexcept nogil:
    cdef uint8_t st = c.state
    if st == TCPS_SYN_SENT or st == TCPS_SYN_RECEIVED:
        # Resend the SYN (or SYN-ACK) with backoff, a limited number of times.
        if c.syn_retries >= c.cfg.syn_retries:
            tcp_set_closed(c, TCPE_TIMEDOUT)
            return
        c.syn_retries += 1
        _backoff(c)
        c.snd_nxt = c.iss
        c.pend |= PF_SYN_RTX
        c.rtt_start = 0
        return
    if (c.pend & PF_PERSIST) or (c.snd_wnd == 0 and c.snd_una != c.snd_max):
        # The persist timer (RFC 1122 4.2.2.17): probe the zero window with backoff. The
        # connection is kept as long as the peer answers; unanswered probes count as retries.
        if c.retries >= c.cfg.max_retries:
            tcp_set_closed(c, TCPE_TIMEDOUT)
            return
        c.retries += 1
        if c.backoff < 255:
            c.backoff += 1
        c.pend |= PF_PROBE | PF_PERSIST
        c.t_rtx = now + tcp_persist_interval(c)
        return
    if c.snd_una == c.snd_max:
        return
    # Retransmission timeout (RFC 6298 5.4-5.6, RFC 5681 3.1 / 4.3).
    if c.retries >= c.cfg.max_retries or (c.cfg.user_timeout_us and c.first_rtx_us and
                                          now - c.first_rtx_us >= c.cfg.user_timeout_us):
        tcp_set_closed(c, TCPE_TIMEDOUT)        # RFC 1122 4.2.3.5 R2 / RFC 9293 3.10.3
        return
    c.retries += 1
    if c.backoff == 0:
        c.cc.on_rto(c, now)
    else:
        c.cwnd = c.snd_mss      # ssthresh is held across repeated timeouts (RFC 5681 3.1)
        # Second timeout in a row: the peer may have reneged on what it SACKed (RFC 2018 8).
        sb_clear(&c.sb)
    c.recovery = REC_LOSS
    c.recover = c.snd_max
    c.dupacks = 0
    c.high_rxt = c.snd_una
    c.bytes_acked = 0
    c.pend &= ~(PF_FASTRTX | PF_RESCUE_SET)
    c.snd_nxt = c.snd_una       # go back: resend from the first unacknowledged octet
    c.rtt_start = 0             # Karn
    _backoff(c)
    c.t_rtx = now + c.rto_us    # RFC 6298 5.6


cdef void _keepalive(tcp_conn_t* c, uint64_t now) noexcept nogil:
    # RFC 1122 4.2.3.6: after the idle time, probe; give up after keepalive_probes.
    cdef uint64_t idle_end
    c.t_keep = 0
    if not (c.opts & TF_KEEPALIVE) or not _keepalive_state(c):
        return
    idle_end = c.last_rx_us + c.cfg.keepalive_idle_us
    if c.keep_probes == 0 and now < idle_end:
        c.t_keep = idle_end
        return
    if c.keep_probes >= c.cfg.keepalive_probes:
        tcp_set_closed(c, TCPE_TIMEDOUT)
        return
    c.keep_probes += 1
    c.pend |= PF_KEEPALIVE
    c.t_keep = now + c.cfg.keepalive_intvl_us


cdef void tcp_timers(tcp_conn_t* c, uint64_t now) noexcept nogil:
    if c.state == TCPS_CLOSED:
        return
    if c.t_2msl and now >= c.t_2msl:
        c.t_2msl = 0
        tcp_set_closed(c, TCPE_OK)
        return
    if c.t_tx_retry and now >= c.t_tx_retry:
        c.t_tx_retry = 0
        c.pend &= ~PF_TX_BLOCKED
    if c.t_delack and now >= c.t_delack:
        c.t_delack = 0
        c.pend |= PF_ACK_NOW
    if c.t_rtx and now >= c.t_rtx:
        c.t_rtx = 0
        _rtx_timeout(c, now)
        if c.state == TCPS_CLOSED:
            return
    if c.t_keep and now >= c.t_keep:
        _keepalive(c, now)
