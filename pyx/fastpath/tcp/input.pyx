"""The receive side of the TCP core (see input.pxd): RFC 9293 3.10.7 step by step, with
RFC 5961 (RST/SYN/ACK validation, challenge ACKs), RFC 7323 (PAWS, TS.Recent, window scale),
RFC 2018 / RFC 6675 (SACK and recovery entry), RFC 5681 / RFC 6582 (duplicate ACKs, fast
retransmit, NewReno partial ACKs), RFC 6298 (RTT samples, Karn), RFC 1122 4.2.3.2 and RFC 5681
4.2 (delayed and immediate ACKs)."""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t

from fastpath.wire.tcp cimport (tcp_repr_t, TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK_FLAG)
from fastpath.wire.record cimport OPT_MSS, OPT_WSCALE, OPT_SACK_PERM, OPT_SACK, OPT_TIMESTAMP
from fastpath.tcp.seq cimport seq_lt, seq_le, seq_gt, seq_ge, seq_max, seq_min, seq_in
from fastpath.tcp.tcb cimport *
from fastpath.tcp.buffers cimport (sndbuf_init, sndbuf_free, sndbuf_consume, rcvbuf_init,
                                   rcvbuf_free, rcvbuf_insert)
from fastpath.tcp.sack cimport sb_add, sb_ack, sb_clear, sb_is_lost
from fastpath.tcp.output cimport (tcp_set_state, tcp_set_closed, tcp_rtt_sample, tcp_emit_rst,
                                  tcp_challenge_allowed)

cdef enum:
    RTO_AFTER_SYN_RTX_US = 3000000                      # RFC 6298 5.7

cdef uint64_t PAWS_IDLE = 24ULL * 24 * 3600 * 1000000   # RFC 7323 5.5: 24 days


cdef uint8_t tcp_choose_wscale(uint32_t rcvbuf) noexcept nogil:
    cdef uint8_t s = 0
    while s < 14 and (rcvbuf >> s) > 65535:
        s += 1
    return s


cdef int tcp_need_sndbuf(tcp_conn_t* c) noexcept nogil:
    if c.snd.data == NULL and sndbuf_init(&c.snd, c.cfg.sndbuf) < 0:
        return -1
    return 0


cdef int tcp_need_rcvbuf(tcp_conn_t* c) noexcept nogil:
    if c.rcv.data == NULL and rcvbuf_init(&c.rcv, c.cfg.rcvbuf) < 0:
        return -1
    return 0


cdef inline void _set_snd_mss(tcp_conn_t* c) noexcept nogil:
    # RFC 9293 3.7.1 / RFC 6691: the MSS counts payload only, so option bytes we always send
    # (timestamps, 12) come out of it.
    cdef uint32_t m = c.peer_mss if c.peer_mss < c.cfg.mss else c.cfg.mss
    if c.opts & TF_TS:
        m -= 12
    if m < 64:
        m = 64
    c.snd_mss = <uint16_t>m


cdef void _syn_options(tcp_conn_t* c, uint64_t now, const tcp_repr_t* seg) noexcept nogil:
    # What both SYNs carried is in use (RFC 7323 2.2 / 3.2, RFC 2018 2); c.opts holds what we
    # offered (active) or are willing to use (passive).
    if seg.options & OPT_MSS and seg.mss:
        c.peer_mss = seg.mss
    else:
        c.peer_mss = 536 if c.family == 4 else 1220     # RFC 9293 3.7.1 / RFC 8200 5
    if (c.opts & TF_WSCALE) and (seg.options & OPT_WSCALE):
        # RFC 7323 2.3: a shift above 14 is used as 14.
        c.snd_wscale = seg.wscale if seg.wscale <= 14 else 14
    else:
        c.opts &= ~TF_WSCALE
        c.snd_wscale = 0
        c.rcv_wscale = 0
    if not ((c.opts & TF_SACK) and (seg.options & OPT_SACK_PERM)):
        c.opts &= ~TF_SACK
    if (c.opts & TF_TS) and (seg.options & OPT_TIMESTAMP):
        c.ts_recent = seg.tsval
        c.ts_recent_us = now
    else:
        c.opts &= ~TF_TS
    _set_snd_mss(c)


cdef inline void _init_cwnd(tcp_conn_t* c) noexcept nogil:
    # RFC 5681 3.1 (RFC 6928 when configured): the initial window; one segment when our SYN
    # or SYN-ACK had to be retransmitted.
    if c.pend & PF_SYN_RTX:
        c.cwnd = c.snd_mss
    else:
        c.cwnd = <uint32_t>c.cfg.initial_window * c.snd_mss
    c.ssthresh = 0xffffffffu
    c.cc.init(c, 0)


cdef inline void _handshake_rtt(tcp_conn_t* c, uint64_t now) noexcept nogil:
    if c.rtt_start and not (c.pend & PF_SYN_RTX):
        tcp_rtt_sample(c, tcp_timing_elapsed(c, now))
    elif (c.pend & PF_SYN_RTX) and c.srtt_us == 0 and c.rto_us < RTO_AFTER_SYN_RTX_US:
        c.rto_us = RTO_AFTER_SYN_RTX_US        # RFC 6298 5.7
    c.rtt_start = 0


cdef void tcp_accept_syn(tcp_conn_t* c, uint64_t now, const tcp_repr_t* syn, uint32_t iss,
                         uint32_t ts_offset) noexcept nogil:
    c.opts |= TF_PASSIVE
    c.iss = iss
    c.snd_una = iss
    c.snd_nxt = iss                 # tcp_output sends <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>
    c.snd_max = iss
    c.recover = iss
    c.irs = syn.seq
    c.rcv_nxt = syn.seq + 1
    c.rcv_adv = c.rcv_nxt
    c.ts_offset = ts_offset
    c.snd_wnd = syn.window          # RFC 7323 2.2: never scaled in a SYN
    c.max_snd_wnd = syn.window
    c.snd_wl1 = syn.seq
    c.snd_wl2 = iss
    c.last_rx_us = now
    _syn_options(c, now, syn)
    c.state = TCPS_SYN_RECEIVED


cdef int tcp_accept_cookie(tcp_conn_t* c, uint64_t now, const tcp_repr_t* ack, uint16_t mss,
                           int wscale, bint sack, uint32_t ts_offset) noexcept nogil:
    c.opts |= TF_PASSIVE | TF_COOKIE
    c.iss = ack.ack - 1
    c.snd_una = ack.ack
    c.snd_nxt = ack.ack
    c.snd_max = ack.ack
    c.recover = ack.ack
    c.irs = ack.seq - 1
    c.rcv_nxt = ack.seq
    # The window our cookie SYN-ACK advertised (unscaled, RFC 7323 2.2).
    c.rcv_adv = ack.seq + (c.cfg.rcvbuf if c.cfg.rcvbuf < 65535 else 65535)
    c.last_ack_sent = ack.seq
    c.ts_offset = ts_offset
    c.peer_mss = mss
    if (c.opts & TF_WSCALE) and wscale >= 0:
        c.snd_wscale = <uint8_t>(wscale if wscale <= 14 else 14)
    else:
        c.opts &= ~TF_WSCALE
        c.snd_wscale = 0
        c.rcv_wscale = 0
    if not sack:
        c.opts &= ~TF_SACK
    if (c.opts & TF_TS) and (ack.options & OPT_TIMESTAMP):
        c.ts_recent = ack.tsval
        c.ts_recent_us = now
    else:
        c.opts &= ~TF_TS
    _set_snd_mss(c)
    c.snd_wnd = <uint32_t>ack.window << c.snd_wscale
    c.max_snd_wnd = c.snd_wnd
    c.snd_wl1 = ack.seq
    c.snd_wl2 = ack.ack
    c.last_rx_us = now
    _init_cwnd(c)
    c.state = TCPS_SYN_RECEIVED
    tcp_set_state(c, TCPS_ESTABLISHED, now)
    return 0


cdef int _syn_sent(tcp_conn_t* c, uint64_t now, const tcp_repr_t* seg, const uint8_t* payload,
                   uint32_t length) noexcept nogil:
    # RFC 9293 3.10.7.3.
    cdef uint16_t f = seg.flags
    if f & TCP_ACK_FLAG:
        if seq_le(seg.ack, c.iss) or seq_gt(seg.ack, c.snd_max):
            if not (f & TCP_RST):
                tcp_emit_rst(c, seg.ack, 0, False)
            return IN_OK
    if f & TCP_RST:
        # Only an RST that acknowledges our SYN means "refused" (RFC 9293 3.10.7.3 second,
        # RFC 5961 3: blind resets without an acceptable ACK are ignored).
        if f & TCP_ACK_FLAG:
            tcp_set_closed(c, TCPE_REFUSED)
        return IN_OK
    if not (f & TCP_SYN):
        return IN_OK
    c.irs = seg.seq
    c.rcv_nxt = seg.seq + 1
    c.rcv_adv = c.rcv_nxt
    c.last_rx_us = now
    _syn_options(c, now, seg)
    c.snd_wnd = seg.window
    c.max_snd_wnd = seg.window
    c.snd_wl1 = seg.seq
    if f & TCP_ACK_FLAG:
        c.snd_una = seg.ack
        c.snd_wl2 = seg.ack
        c.t_rtx = 0
        c.backoff = 0
        _handshake_rtt(c, now)
        _init_cwnd(c)
        tcp_set_state(c, TCPS_ESTABLISHED, now)
        c.pend |= PF_ACK_NOW
        if length or (f & TCP_FIN):
            _receive_text(c, now, seg.seq + 1, payload, length, (f & TCP_FIN) != 0)
        return IN_OK
    # Simultaneous open (RFC 9293 3.5 figure 8): SYN-RECEIVED, and our SYN goes out again
    # with an ACK. That repeat must not be timed (Karn).
    c.snd_wl2 = c.iss
    c.snd_nxt = c.iss
    c.rtt_start = 0
    c.state = TCPS_SYN_RECEIVED
    return IN_OK


cdef inline void _enter_recovery(tcp_conn_t* c, uint64_t now, bint sack) noexcept nogil:
    # RFC 5681 3.2 steps 2-3 / RFC 6582 3.2 step 3 / RFC 6675 5 step 4.
    c.recover = c.snd_max
    c.ssthresh = c.cc.on_loss(c, now)
    c.high_rxt = c.snd_una
    c.pend &= ~PF_RESCUE_SET
    c.pend |= PF_FASTRTX
    if sack:
        c.recovery = REC_SACK
        c.cwnd = c.ssthresh
    else:
        c.recovery = REC_FAST
        c.cwnd = c.ssthresh + 3 * <uint32_t>c.snd_mss


cdef inline void _ts_rtt(tcp_conn_t* c, uint64_t now, const tcp_repr_t* seg) noexcept nogil:
    # RFC 7323 4.1: TSecr of an ACK that advances the left edge gives an RTT sample even for
    # retransmitted data, where Karn's rule leaves the timed-segment method without one. Only
    # an echo of something sent since our last retransmission is used: a receiver that got
    # an earlier copy echoes that copy's TSval (TS.Recent is only updated by acceptable
    # segments), which would inflate the estimate by the whole backoff.
    cdef uint32_t ms
    if (c.opts & TF_TS) and (seg.options & OPT_TIMESTAMP) and seg.tsecr and \
            seq_ge(seg.tsecr, tcp_ts_now(c, c.last_rtx_us)):
        ms = tcp_ts_now(c, now) - seg.tsecr
        if ms < 600000:                 # ignore echoes that cannot be ours (10 minutes)
            tcp_rtt_sample(c, ms * 1000 + 500)


cdef void _process_ack(tcp_conn_t* c, uint64_t now, const tcp_repr_t* seg, uint32_t length) noexcept nogil:
    # RFC 9293 3.10.7.4 fifth, ESTABLISHED and the states after it.
    cdef uint32_t ack = seg.ack, acked, dacked, fin_seq, newly = 0
    cdef uint32_t old_wnd = c.snd_wnd
    cdef uint32_t new_wnd = <uint32_t>seg.window << c.snd_wscale
    cdef uint32_t una_before = c.snd_una
    cdef bint fin_q = (c.pend & PF_FIN_QUEUED) != 0, dup, sampled = False
    cdef uint8_t rec
    if (c.opts & TF_SACK) and (seg.options & OPT_SACK) and seg.sack_count:
        newly = sb_add(&c.sb, c.snd_una, c.snd_max, seg.sack_left, seg.sack_right, seg.sack_count)
    if seq_gt(ack, c.snd_una):
        acked = ack - c.snd_una
        if c.rtt_start and seq_gt(ack, c.rtt_seq):
            tcp_rtt_sample(c, tcp_timing_elapsed(c, now))
            c.rtt_start = 0
            sampled = True
        if not sampled and c.first_rtx_us:
            _ts_rtt(c, now, seg)
        dacked = acked
        fin_seq = tcp_fin_seq(c)
        if fin_q and not (c.pend & PF_FIN_ACKED) and seq_gt(ack, fin_seq):
            dacked -= 1                 # our FIN is acknowledged
            c.pend |= PF_FIN_ACKED
        sndbuf_consume(&c.snd, dacked)
        c.snd_una = ack
        if seq_lt(c.snd_nxt, ack):
            c.snd_nxt = ack
        sb_ack(&c.sb, ack)
        c.high_rxt = seq_max(c.high_rxt, ack)
        c.backoff = 0
        c.retries = 0
        c.first_rtx_us = 0
        c.pend &= ~PF_PERSIST
        # RFC 6298 5.2 / 5.3.
        c.t_rtx = 0 if ack == c.snd_max else now + c.rto_us
        c.events |= EV_WRITABLE
        rec = c.recovery
        if rec == REC_FAST:
            if seq_ge(ack, c.recover):
                # RFC 6582 3.2 step 6, full ACK: deflate to min(ssthresh, FlightSize + SMSS).
                fin_seq = tcp_flight(c)
                if fin_seq < c.snd_mss:
                    fin_seq = c.snd_mss
                fin_seq += c.snd_mss
                c.cwnd = c.ssthresh if c.ssthresh < fin_seq else fin_seq
                c.recovery = REC_NONE
                c.cc.on_recovery_end(c, now)
            else:
                # RFC 6582 3.2 step 5, partial ACK: retransmit the first unacknowledged
                # segment, deflate by the amount acknowledged, add back one SMSS if that was
                # at least one SMSS.
                c.pend |= PF_FASTRTX
                c.cwnd = c.cwnd - acked if c.cwnd > acked else c.snd_mss
                if acked >= c.snd_mss:
                    c.cwnd += c.snd_mss
        elif rec == REC_SACK:
            if seq_ge(ack, c.recover):
                c.cwnd = c.ssthresh             # RFC 6675 5: recovery ends
                c.recovery = REC_NONE
                c.cc.on_recovery_end(c, now)
        elif rec == REC_LOSS:
            c.cc.on_ack(c, now, acked)
            if seq_ge(ack, c.recover):
                c.recovery = REC_NONE
        else:
            c.cc.on_ack(c, now, acked)
        if c.recovery == REC_NONE:
            c.dupacks = 0
    elif ack == c.snd_una and c.snd_una != c.snd_max:
        # RFC 5681 2 duplicate ACK: no data, no SYN/FIN, same window, outstanding data.
        # With SACK, an ACK that reports new SACKed data counts (RFC 6675 2 / 5).
        dup = (length == 0 and not (seg.flags & (TCP_SYN | TCP_FIN)) and new_wnd == old_wnd
               and not (seg.options & OPT_SACK))
        if c.opts & TF_SACK:
            dup = dup or newly > 0
        if dup:
            if c.dupacks < 255:
                c.dupacks += 1
            if c.recovery == REC_NONE:
                # Not again for losses inside the window already recovered (RFC 6582 3.2
                # step 2, RFC 6675 5: HighACK beyond RecoveryPoint).
                if seq_ge(c.snd_una, c.recover):
                    if c.opts & TF_SACK:
                        if (c.dupacks >= c.cfg.dupthresh or
                                sb_is_lost(&c.sb, c.snd_una, c.snd_mss, c.cfg.dupthresh)):
                            _enter_recovery(c, now, True)
                    elif c.dupacks == c.cfg.dupthresh:
                        _enter_recovery(c, now, False)
            elif c.recovery == REC_FAST:
                c.cwnd += c.snd_mss             # RFC 5681 3.2 step 4: inflate
    # The send window (RFC 9293 3.10.7.4): only from segments newer than the last update.
    if seq_le(una_before, ack) and (seq_lt(c.snd_wl1, seg.seq) or
                                    (c.snd_wl1 == seg.seq and seq_le(c.snd_wl2, ack))):
        c.snd_wnd = new_wnd
        c.snd_wl1 = seg.seq
        c.snd_wl2 = ack
        if new_wnd > c.max_snd_wnd:
            c.max_snd_wnd = new_wnd
        if (c.pend & PF_PERSIST) and new_wnd:
            # A window to use: stop probing (output re-arms the persist timer if it still
            # cannot send).
            c.pend &= ~PF_PERSIST
            c.t_rtx = 0 if c.snd_una == c.snd_max else now + c.rto_us
            c.backoff = 0
        if old_wnd == 0 and new_wnd and seq_lt(c.snd_una, c.snd_nxt):
            # The window reopened: resend whatever went into the closed window (the peer
            # could not keep it).
            c.snd_nxt = c.snd_una
            c.rtt_start = 0


cdef void _process_fin(tcp_conn_t* c, uint64_t now) noexcept nogil:
    # RFC 9293 3.10.7.4 eighth.
    cdef uint8_t st = c.state
    c.rcv_nxt += 1
    c.pend |= PF_FIN_RCVD | PF_ACK_NOW
    c.pend &= ~PF_FIN_PENDING
    c.events |= EV_READABLE
    if st == TCPS_SYN_RECEIVED or st == TCPS_ESTABLISHED:
        tcp_set_state(c, TCPS_CLOSE_WAIT, now)
    elif st == TCPS_FIN_WAIT_1:
        if c.pend & PF_FIN_ACKED:
            tcp_set_state(c, TCPS_TIME_WAIT, now)
        else:
            tcp_set_state(c, TCPS_CLOSING, now)
    elif st == TCPS_FIN_WAIT_2:
        tcp_set_state(c, TCPS_TIME_WAIT, now)


cdef void _receive_text(tcp_conn_t* c, uint64_t now, uint32_t seq, const uint8_t* data,
                        uint32_t dlen, bint fin) noexcept nogil:
    # RFC 9293 3.10.7.4 seventh and eighth, on a segment already trimmed to the window.
    cdef uint32_t free, off
    cdef int64_t r
    cdef uint8_t had_ooo
    if dlen:
        if not tcp_can_receive(c):
            return                      # RFC 9293: ignore the text (and the FIN after it)
        if tcp_need_rcvbuf(c) < 0:
            c.pend |= PF_ACK_NOW        # no memory now: drop it, the peer will resend
            return
        free = c.rcv.cap - c.rcv.len
        off = seq - c.rcv_nxt
        if off >= free:
            dlen = 0
            fin = False
        elif off + dlen > free:
            dlen = free - off
            fin = False
        if dlen:
            if dlen > c.rcv_mss:
                c.rcv_mss = <uint16_t>(dlen if dlen < 65535 else 65535)
            had_ooo = c.rcv.ooo_count
            r = rcvbuf_insert(&c.rcv, c.rcv_nxt, seq, data, dlen)
            if r < 0:
                # No room for another out-of-order range: drop it, the peer resends.
                c.pend |= PF_ACK_NOW
                return
            if r > 0:
                c.rcv_nxt += <uint32_t>r
                c.events |= EV_READABLE
                if had_ooo or c.cfg.delack_us == 0:
                    c.pend |= PF_ACK_NOW        # RFC 5681 4.2: a gap was (partly) filled
                else:
                    # RFC 1122 4.2.3.2 / RFC 5681 4.2: ACK every second full-sized segment,
                    # otherwise within the delayed-ACK time.
                    if dlen >= c.rcv_mss:
                        c.segs_unacked += 1
                    if c.segs_unacked >= 2:
                        c.pend |= PF_ACK_NOW
                    elif c.t_delack == 0:
                        c.t_delack = now + c.cfg.delack_us
            else:
                c.pend |= PF_ACK_NOW            # RFC 5681 4.2: out of order, ACK at once
                if fin:
                    c.pend |= PF_FIN_PENDING
                    c.rcv_fin_seq = seq + dlen
                    fin = False
    if fin:
        if seq + dlen == c.rcv_nxt:
            _process_fin(c, now)
        elif seq_gt(seq + dlen, c.rcv_nxt):
            c.pend |= PF_FIN_PENDING | PF_ACK_NOW
            c.rcv_fin_seq = seq + dlen
    if (c.pend & PF_FIN_PENDING) and c.rcv_fin_seq == c.rcv_nxt:
        _process_fin(c, now)


cdef inline void _challenge_ack(tcp_conn_t* c, uint64_t now) noexcept nogil:
    # RFC 5961 3.2 / 4.2 / 5.2: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, rate-limited (7).
    if tcp_challenge_allowed(c, now):
        c.pend |= PF_ACK_NOW


cdef int tcp_input(tcp_conn_t* c, uint64_t now, const tcp_repr_t* seg, const uint8_t* payload,
                   uint32_t length) noexcept nogil:
    cdef uint8_t st = c.state
    cdef uint16_t f = seg.flags
    cdef uint32_t seq = seg.seq, seglen, wnd, skip, dlen = length
    cdef const uint8_t* data = payload
    cdef bint fin, acceptable
    cdef tcp_repr_t tmp
    if st == TCPS_CLOSED or st == TCPS_LISTEN:
        return IN_NOCONN
    if st == TCPS_SYN_SENT:
        return _syn_sent(c, now, seg, payload, length)

    seglen = length + (1 if f & TCP_SYN else 0) + (1 if f & TCP_FIN else 0)

    # RFC 7323 3.2: once timestamps are in use, a non-RST segment without one is dropped.
    # Then PAWS (RFC 7323 5.3 R1): an older TSval means an old duplicate; ACK and drop.
    if (c.opts & TF_TS) and not (f & TCP_RST):
        if not (seg.options & OPT_TIMESTAMP):
            return IN_OK
        if seq_lt(seg.tsval, c.ts_recent):
            if now - c.ts_recent_us > PAWS_IDLE:
                c.ts_recent = seg.tsval         # RFC 7323 5.5: TS.Recent too old to trust
                c.ts_recent_us = now
            else:
                c.pend |= PF_ACK_NOW
                return IN_OK

    # TIME-WAIT (RFC 9293 3.10.7.4): a retransmitted FIN is acknowledged and restarts 2 MSL.
    if st == TCPS_TIME_WAIT and (f & TCP_FIN) and not (f & (TCP_RST | TCP_SYN)) and \
            seq + length + 1 == c.rcv_nxt:
        c.pend |= PF_ACK_NOW
        c.t_2msl = tcp_deadline(now, 2 * <uint64_t>c.cfg.msl_us)
        return IN_OK

    # SYN in a synchronized state (RFC 5961 4.2, RFC 9293 3.10.7.4 fourth): whatever its
    # sequence number, answer with a challenge ACK. In SYN-RECEIVED, the peer's SYN again
    # means our SYN-ACK was lost: send it again.
    if f & TCP_SYN:
        if st == TCPS_SYN_RECEIVED:
            if (seq == c.irs and (f & TCP_ACK_FLAG) and not (f & TCP_RST) and
                    not (c.opts & TF_PASSIVE) and seq_gt(seg.ack, c.snd_una) and
                    seq_le(seg.ack, c.snd_max)):
                # Simultaneous open (RFC 9293 3.5 figure 8, line 6): the peer's SYN,ACK
                # acknowledges our SYN. Its SYN was already counted: go on as for an ACK.
                tmp = seg[0]
                tmp.flags &= ~TCP_SYN
                tmp.seq = c.irs + 1
                return tcp_input(c, now, &tmp, payload, length)
            if seq == c.irs and not (f & TCP_RST):
                c.snd_nxt = c.iss
                c.pend |= PF_SYN_RTX
                c.rtt_start = 0
                return IN_OK
            if c.opts & TF_PASSIVE and not (f & TCP_ACK_FLAG):
                return IN_ABANDON
        if not (f & TCP_RST):
            _challenge_ack(c, now)
            return IN_OK

    # First: sequence number acceptable (RFC 9293 3.10.7.4, the four cases)?
    wnd = c.rcv_adv - c.rcv_nxt if seq_gt(c.rcv_adv, c.rcv_nxt) else 0
    if seglen == 0:
        acceptable = seq == c.rcv_nxt if wnd == 0 else seq_in(seq, c.rcv_nxt, c.rcv_nxt + wnd)
    elif wnd == 0:
        # A bare FIN exactly at RCV.NXT is taken even when the window is shut, as Linux
        # does; the strict rule would leave the peer probing a window it does not need.
        acceptable = length == 0 and (f & TCP_FIN) != 0 and seq == c.rcv_nxt
    else:
        acceptable = (seq_in(seq, c.rcv_nxt, c.rcv_nxt + wnd) or
                      seq_in(seq + seglen - 1, c.rcv_nxt, c.rcv_nxt + wnd))
    if not acceptable:
        if not (f & TCP_RST):
            c.pend |= PF_ACK_NOW
        return IN_OK

    # Second: RST (RFC 5961 3.2): exactly RCV.NXT resets, anywhere else in the window earns a
    # challenge ACK.
    if f & TCP_RST:
        if seq != c.rcv_nxt:
            _challenge_ack(c, now)
            return IN_OK
        if st == TCPS_SYN_RECEIVED:
            if c.opts & TF_PASSIVE:
                tcp_set_closed(c, TCPE_OK)
                return IN_ABANDON
            tcp_set_closed(c, TCPE_REFUSED)
        elif st == TCPS_CLOSING or st == TCPS_LAST_ACK or st == TCPS_TIME_WAIT:
            tcp_set_closed(c, TCPE_OK)
        else:
            tcp_set_closed(c, TCPE_RESET)
        return IN_OK

    c.last_rx_us = now
    c.keep_probes = 0
    if c.pend & PF_PERSIST:
        c.retries = 0               # the peer answers our probes: it is alive

    # RFC 7323 4.3: remember the newest TSval of in-sequence segments.
    if (c.opts & TF_TS) and seq_ge(seg.tsval, c.ts_recent) and seq_le(seq, c.last_ack_sent):
        c.ts_recent = seg.tsval
        c.ts_recent_us = now

    # Trim to the window: what is below RCV.NXT was received before, what is beyond the
    # window cannot be kept (and a FIN after it is not yet in sequence).
    fin = (f & TCP_FIN) != 0
    if seq_lt(seq, c.rcv_nxt):
        skip = c.rcv_nxt - seq
        if skip > dlen:
            skip = dlen
        data += skip
        dlen -= skip
        seq += skip
    if dlen and seq_gt(seq + dlen, c.rcv_nxt + wnd):
        dlen = c.rcv_nxt + wnd - seq
        fin = False

    # Fifth: the ACK field.
    if not (f & TCP_ACK_FLAG):
        return IN_OK
    if st == TCPS_SYN_RECEIVED:
        if not (seq_gt(seg.ack, c.snd_una) and seq_le(seg.ack, c.snd_max)):
            tcp_emit_rst(c, seg.ack, 0, False)      # RFC 9293 3.10.7.4 fifth, SYN-RECEIVED
            return IN_OK
        # Our SYN is acknowledged: ESTABLISHED (RFC 9293 3.10.7.4), taking the window from
        # this segment (scaled now: it is not a SYN).
        c.snd_una = c.iss + 1
        c.snd_wnd = <uint32_t>seg.window << c.snd_wscale
        c.max_snd_wnd = c.snd_wnd
        c.snd_wl1 = seg.seq
        c.snd_wl2 = seg.ack
        c.t_rtx = 0
        c.backoff = 0
        _handshake_rtt(c, now)
        _init_cwnd(c)
        tcp_set_state(c, TCPS_ESTABLISHED, now)
        if c.pend & PF_FIN_QUEUED:
            tcp_set_state(c, TCPS_FIN_WAIT_1, now)  # close was called in SYN-RECEIVED
        st = c.state
    elif seq_gt(seg.ack, c.snd_max) or seq_lt(seg.ack, c.snd_una - c.max_snd_wnd):
        # RFC 5961 5.2: acceptable only within [SND.UNA - MAX.SND.WND, SND.NXT].
        _challenge_ack(c, now)
        return IN_OK
    _process_ack(c, now, seg, length)
    if c.pend & PF_FIN_ACKED:
        # Our FIN is acknowledged.
        if st == TCPS_FIN_WAIT_1:
            tcp_set_state(c, TCPS_FIN_WAIT_2, now)
        elif st == TCPS_CLOSING:
            tcp_set_state(c, TCPS_TIME_WAIT, now)
            return IN_OK
        elif st == TCPS_LAST_ACK:
            tcp_set_closed(c, TCPE_OK)
            return IN_OK
    if st == TCPS_TIME_WAIT:
        return IN_OK
    # Seventh and eighth: text and FIN.
    _receive_text(c, now, seq, data, dlen, fin)
    return IN_OK
