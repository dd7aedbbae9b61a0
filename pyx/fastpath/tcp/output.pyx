"""The send side of the TCP core (see output.pxd). RFC 9293 3.8 / 3.10, RFC 1122 4.2.3.4
(Nagle and sender SWS avoidance), RFC 6298 (RTO), RFC 6675 5 (SACK recovery transmissions),
RFC 3042 (limited transmit), RFC 7323 (window scale, timestamps), RFC 2018 (SACK blocks)."""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t

from fastpath.wire.tcp cimport (tcp_repr_t, TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK_FLAG)
from fastpath.wire.record cimport OPT_MSS, OPT_WSCALE, OPT_SACK_PERM, OPT_SACK, OPT_TIMESTAMP
from fastpath.tcp.seq cimport seq_lt, seq_le, seq_gt, seq_ge, seq_max, seq_min, seq_in
from fastpath.tcp.tcb cimport *
from fastpath.tcp.buffers cimport sndbuf_peek, rcvbuf_sack_blocks
from fastpath.tcp.sack cimport sb_pipe, sb_next_hole, sb_high_sacked


cdef void tcp_set_state(tcp_conn_t* c, uint8_t state, uint64_t now) noexcept nogil:
    if state == TCPS_ESTABLISHED and c.state < TCPS_ESTABLISHED:
        c.events |= EV_ESTABLISHED | EV_WRITABLE
        if c.opts & TF_KEEPALIVE:
            c.t_keep = tcp_deadline(now, c.cfg.keepalive_idle_us)
    if state == TCPS_TIME_WAIT:
        # RFC 9293 3.10.7.4: 2 MSL, and nothing else runs in TIME-WAIT.
        c.t_rtx = 0
        c.t_delack = 0
        c.t_keep = 0
        c.t_2msl = tcp_deadline(now, 2 * <uint64_t>c.cfg.msl_us)
        c.events |= EV_TIME_WAIT
    c.state = state


cdef void tcp_set_closed(tcp_conn_t* c, uint8_t error) noexcept nogil:
    c.state = TCPS_CLOSED
    c.t_rtx = 0
    c.t_delack = 0
    c.t_keep = 0
    c.t_2msl = 0
    c.t_tx_retry = 0
    c.pend &= PF_FIN_RCVD | PF_FIN_QUEUED
    if error != TCPE_OK and c.error == TCPE_OK:
        c.error = error
        c.events |= EV_ERROR
    c.events |= EV_CLOSED | EV_READABLE | EV_WRITABLE


cdef void tcp_rtt_sample(tcp_conn_t* c, uint32_t rtt_us) noexcept nogil:
    # RFC 6298 2.2 / 2.3, alpha = 1/8, beta = 1/4; then 2.4 / 2.5 bounds.
    cdef uint32_t err, rto, var4
    if rtt_us == 0:
        rtt_us = 1
    if c.srtt_us == 0:
        c.srtt_us = rtt_us
        c.rttvar_us = rtt_us // 2
    else:
        err = c.srtt_us - rtt_us if c.srtt_us > rtt_us else rtt_us - c.srtt_us
        c.rttvar_us = (3 * <uint64_t>c.rttvar_us + err) // 4
        c.srtt_us = (7 * <uint64_t>c.srtt_us + rtt_us) // 8
        if c.srtt_us == 0:
            c.srtt_us = 1
    var4 = 4 * c.rttvar_us
    rto = c.srtt_us + (var4 if var4 > CLOCK_GRANULARITY_US else CLOCK_GRANULARITY_US)
    if rto < c.cfg.rto_min_us:
        rto = c.cfg.rto_min_us
    if rto > c.cfg.rto_max_us:
        rto = c.cfg.rto_max_us
    c.rto_us = rto


cdef uint32_t tcp_persist_interval(const tcp_conn_t* c) noexcept nogil:
    # RFC 1122 4.2.2.17: probes back off exponentially, within configured bounds.
    cdef uint64_t t = c.rto_us
    t <<= c.backoff if c.backoff < 16 else 16
    if t < c.cfg.persist_min_us:
        t = c.cfg.persist_min_us
    if t > c.cfg.persist_max_us:
        t = c.cfg.persist_max_us
    return <uint32_t>t


cdef bint tcp_challenge_allowed(tcp_conn_t* c, uint64_t now) noexcept nogil:
    # Per connection, not system-wide: a global counter is a side channel (CVE-2016-5696).
    if now - c.chall_start_us >= 1000000 or c.chall_start_us == 0:
        c.chall_start_us = now if now else 1
        c.chall_count = 0
    if c.chall_count >= c.cfg.challenge_ack_limit:
        return False
    c.chall_count += 1
    return True


cdef inline uint32_t _rcv_capacity(const tcp_conn_t* c) noexcept nogil:
    return c.rcv.cap if c.rcv.data != NULL else c.cfg.rcvbuf


cdef inline uint32_t _rcv_free(const tcp_conn_t* c) noexcept nogil:
    if c.rcv.data == NULL:
        return c.cfg.rcvbuf         # allocated when the first data arrives
    return c.rcv.cap - c.rcv.len


cdef inline uint32_t _open_edge(const tcp_conn_t* c) noexcept nogil:
    # The right edge the free space allows, before SWS avoidance and scaling.
    return c.rcv_nxt + _rcv_free(c)


cdef bint tcp_window_update_due(const tcp_conn_t* c) noexcept nogil:
    cdef uint32_t edge = _open_edge(c), threshold = _rcv_capacity(c) // 2
    cdef uint32_t mss2 = 2 * <uint32_t>(c.rcv_mss if c.rcv_mss else c.cfg.mss)
    if not seq_gt(edge, c.rcv_adv):
        return False
    if mss2 < threshold:
        threshold = mss2
    return edge - c.rcv_adv >= threshold


cdef inline uint16_t _window_field(tcp_conn_t* c, bint syn, uint32_t* edge_out) noexcept nogil:
    # The window to advertise (RFC 9293 3.8.6.2.2): grow the right edge only by at least
    # min(capacity / 2, MSS) (receiver SWS avoidance, RFC 1122 4.2.3.3), never move it left
    # (RFC 9293 3.8.6.2.1), and express it in units of 2^rcv_wscale (RFC 7323 2.3), rounding
    # up when rounding down would shrink it.
    cdef uint32_t old = seq_max(c.rcv_adv, c.rcv_nxt), edge = _open_edge(c), win, unit, sws
    cdef uint8_t shift = 0 if syn else c.rcv_wscale
    sws = _rcv_capacity(c) // 2
    if c.cfg.mss < sws:
        sws = c.cfg.mss
    if seq_le(edge, old) or (edge - old < sws and seq_gt(old, c.rcv_nxt)):
        edge = old
    elif edge - old < sws:
        edge = old          # a zero window stays shut until at least sws opens
    win = edge - c.rcv_nxt
    if syn and win > 65535:
        win = 65535
    unit = <uint32_t>1 << shift
    if win & (unit - 1):
        win &= ~(unit - 1)
        if seq_lt(c.rcv_nxt + win, old):
            win += unit
    if (win >> shift) > 65535:
        win = <uint32_t>65535 << shift
    edge_out[0] = c.rcv_nxt + win
    return <uint16_t>(win >> shift)


cdef int _xmit(tcp_conn_t* c, uint64_t now, uint16_t flags, uint32_t seq,
               uint32_t length) noexcept nogil:
    cdef tcp_repr_t h
    cdef const uint8_t* p1 = NULL
    cdef const uint8_t* p2 = NULL
    cdef uint32_t n1 = 0, n2 = 0, edge = 0
    cdef int nblocks, r
    cdef bint syn = (flags & TCP_SYN) != 0
    h.sport = c.lport
    h.dport = c.rport
    h.seq = seq
    h.ack = c.rcv_nxt if flags & TCP_ACK_FLAG else 0
    h.flags = flags
    h.urgent = 0
    h.options = 0
    h.sack_count = 0
    h.tsval = 0
    h.tsecr = 0
    h.window = _window_field(c, syn, &edge)
    if syn:
        h.options = OPT_MSS
        h.mss = c.cfg.mss
        # An active SYN offers what the configuration enables; a SYN-ACK answers only what
        # the peer offered (RFC 7323 2.2 / 3.2, RFC 2018 2).
        if c.opts & TF_WSCALE:
            h.options |= OPT_WSCALE
            h.wscale = c.rcv_wscale
        if c.opts & TF_SACK:
            h.options |= OPT_SACK_PERM
        if c.opts & TF_TS:
            h.options |= OPT_TIMESTAMP
            h.tsval = tcp_ts_now(c, now)
            h.tsecr = c.ts_recent if flags & TCP_ACK_FLAG else 0
    else:
        if c.opts & TF_TS:
            h.options = OPT_TIMESTAMP
            h.tsval = tcp_ts_now(c, now)
            h.tsecr = c.ts_recent
        if (c.opts & TF_SACK) and c.rcv.ooo_count and (flags & TCP_ACK_FLAG):
            # RFC 2018 3: at most 3 blocks beside timestamps, 4 without.
            nblocks = rcvbuf_sack_blocks(&c.rcv, h.sack_left, h.sack_right,
                                         3 if c.opts & TF_TS else 4)
            if nblocks:
                h.sack_count = <uint8_t>nblocks
                h.options |= OPT_SACK
    if length:
        sndbuf_peek(&c.snd, seq - tcp_snd_data_seq(c), length, &p1, &n1, &p2, &n2)
    r = c.emit(c.emit_ctx, c, &h, p1, n1, p2, n2)
    if r < 0:
        c.pend |= PF_TX_BLOCKED
        c.t_tx_retry = now + TX_RETRY_US
        return -1
    c.pend &= ~PF_TX_BLOCKED
    c.t_tx_retry = 0
    if flags & TCP_ACK_FLAG:
        c.last_ack_sent = c.rcv_nxt
        c.pend &= ~(PF_ACK_NOW | PF_WND_UPDATE)
        c.t_delack = 0
        c.segs_unacked = 0
        c.rcv_adv = seq_max(c.rcv_adv, edge)
    c.last_tx_us = now
    return 0


cdef int tcp_emit_rst(tcp_conn_t* c, uint32_t seq, uint32_t ack, bint with_ack) noexcept nogil:
    cdef tcp_repr_t h
    h.sport = c.lport
    h.dport = c.rport
    h.seq = seq
    h.ack = ack if with_ack else 0
    h.flags = TCP_RST | (TCP_ACK_FLAG if with_ack else 0)
    h.window = 0
    h.urgent = 0
    h.options = 0
    h.sack_count = 0
    return c.emit(c.emit_ctx, c, &h, NULL, 0, NULL, 0)


cdef inline void _arm_rtx(tcp_conn_t* c, uint64_t now) noexcept nogil:
    # RFC 6298 5.1: start the timer when data goes out and it is not running.
    if c.t_rtx == 0:
        c.t_rtx = now + c.rto_us


cdef inline void _karn(tcp_conn_t* c, uint32_t seq, uint32_t length) noexcept nogil:
    # Karn's rule (RFC 6298 3): a retransmitted segment must not be timed.
    if c.rtt_start and seq_in(c.rtt_seq, seq, seq + length + 1):
        c.rtt_start = 0


cdef inline int _send_at(tcp_conn_t* c, uint64_t now, uint32_t seq, uint32_t length,
                         uint32_t data_end, bint fin) noexcept nogil:
    # Send [seq, seq + length) (+ FIN) and account for it. Returns 0, or -1 if refused.
    cdef uint16_t flags = TCP_ACK_FLAG
    cdef uint32_t end
    if fin:
        flags |= TCP_FIN
    if length and seq + length == data_end:
        flags |= TCP_PSH
    if _xmit(c, now, flags, seq, length) < 0:
        return -1
    end = seq + length + (1 if fin else 0)
    if seq_lt(seq, c.snd_max):
        _karn(c, seq, length)
        if c.first_rtx_us == 0:
            c.first_rtx_us = now
        c.last_rtx_us = now
    elif c.rtt_start == 0 and (length or fin):
        tcp_timing_start(c, now, seq)
    if seq_gt(end, c.snd_max):
        c.snd_max = end
    _arm_rtx(c, now)
    return 0


cdef inline bint _can_send_data(const tcp_conn_t* c) noexcept nogil:
    return (c.state == TCPS_ESTABLISHED or c.state == TCPS_CLOSE_WAIT or
            c.state == TCPS_FIN_WAIT_1 or c.state == TCPS_CLOSING or c.state == TCPS_LAST_ACK)


cdef inline uint32_t _sacked_below(const tcp_conn_t* c, uint32_t seq) noexcept nogil:
    cdef uint32_t n = 0
    cdef int k
    for k in range(c.sb.count):
        if seq_le(c.sb.right[k], seq):
            n += c.sb.right[k] - c.sb.left[k]
        elif seq_lt(c.sb.left[k], seq):
            n += seq - c.sb.left[k]
    return n


cdef inline uint32_t _skip_sacked(const tcp_conn_t* c, uint32_t seq, uint32_t* limit) noexcept nogil:
    # After an RTO the SACK information is still used (RFC 6675 5.1): skip ranges the peer
    # holds and stop before the next one. Returns the new seq; limit = bytes until the next range.
    cdef int k
    limit[0] = 0xffffffffu
    for k in range(c.sb.count):
        if seq_lt(seq, c.sb.left[k]):
            limit[0] = c.sb.left[k] - seq
            return seq
        if seq_lt(seq, c.sb.right[k]):
            seq = c.sb.right[k]
    return seq


cdef inline bint _rescue_segment(const tcp_conn_t* c, uint32_t data_end, uint32_t* seq,
                                 uint32_t* length) noexcept nogil:
    # RFC 6675 4 NextSeg (4): once per recovery (HighACK > RescueRxt, or RescueRxt undefined),
    # a segment holding the highest unSACKed octet. Its use is the tail above the highest
    # SACKed octet, which no SACK can ever declare lost; holes below it are already handled by
    # rules 1 and 3, so only a tail not yet retransmitted is rescued.
    cdef uint32_t end = c.snd_max, floor, start
    if (c.pend & PF_RESCUE_SET) and not seq_gt(c.snd_una, c.rescue_rxt):
        return False
    floor = c.sb.right[c.sb.count - 1] if c.sb.count else c.snd_una
    floor = seq_max(floor, c.high_rxt)
    if seq_gt(end, data_end):
        end = data_end          # the FIN itself rides along via the fin flag
    start = end - c.snd_mss if end - floor > c.snd_mss else floor
    if not seq_lt(start, end):
        return False
    seq[0] = start
    length[0] = end - start
    return True


cdef int _output_sack_recovery(tcp_conn_t* c, uint64_t now, uint32_t data_end,
                               bint fin_q) noexcept nogil:
    # RFC 6675 5 step (C): while cwnd - pipe >= 1 SMSS, send NextSeg().
    cdef uint32_t pipe, seq = 0, length = 0, room, mss = c.snd_mss, wnd_end
    cdef uint32_t dupthresh = c.cfg.dupthresh
    cdef int sent = 0
    cdef bint fin
    pipe = sb_pipe(&c.sb, c.snd_una, c.snd_max, c.high_rxt, mss, dupthresh)
    while c.cwnd > pipe and c.cwnd - pipe >= mss:
        fin = False
        if sb_next_hole(&c.sb, c.snd_una, c.high_rxt, mss, dupthresh, True, &seq, &length):
            pass                                    # rule 1: a lost hole
        else:
            wnd_end = c.snd_una + c.snd_wnd
            if seq_lt(c.snd_nxt, data_end) and seq_lt(c.snd_nxt, wnd_end):
                seq = c.snd_nxt                     # rule 2: new data
                length = data_end - seq
                room = wnd_end - seq
                if length > room:
                    length = room
                if length > mss:
                    length = mss
                fin = fin_q and seq + length == data_end
                if _send_at(c, now, seq, length, data_end, fin) < 0:
                    return -1
                c.snd_nxt = seq + length + (1 if fin else 0)
                pipe += length
                sent += 1
                continue
            if fin_q and c.snd_nxt == data_end:
                if _send_at(c, now, data_end, 0, data_end, True) < 0:
                    return -1
                c.snd_nxt = data_end + 1
                sent += 1
                break
            if not sb_next_hole(&c.sb, c.snd_una, c.high_rxt, mss, dupthresh, False, &seq, &length):
                # Rule 4, the rescue retransmission: once per recovery, a segment holding the
                # highest unSACKed octet; HighRxt is not updated.
                if not _rescue_segment(c, data_end, &seq, &length):
                    break
                c.rescue_rxt = c.recover
                c.pend |= PF_RESCUE_SET
                fin = fin_q and seq + length == data_end and seq_gt(c.snd_max, data_end)
                if _send_at(c, now, seq, length, data_end, fin) < 0:
                    return -1
                pipe += length
                sent += 1
                continue
        fin = fin_q and seq + length == data_end and seq_gt(c.snd_max, data_end)
        if _send_at(c, now, seq, length, data_end, fin) < 0:
            return -1
        c.high_rxt = seq_max(c.high_rxt, seq + length)
        pipe += length + length     # retransmitted octets count twice until acknowledged
        sent += 1
    return sent


cdef int tcp_output(tcp_conn_t* c, uint64_t now) noexcept nogil:
    cdef uint8_t st = c.state
    cdef uint32_t data_end, seq, length, avail, wnd, in_flight, usable, limit, extra
    cdef bint fin_q, fin
    cdef int sent = 0, r
    if st == TCPS_CLOSED or st == TCPS_LISTEN:
        return 0
    if st == TCPS_TIME_WAIT:
        if c.pend & PF_ACK_NOW:
            if _xmit(c, now, TCP_ACK_FLAG, c.snd_nxt, 0) < 0:
                return -1
            return 1
        return 0
    if st == TCPS_SYN_SENT or st == TCPS_SYN_RECEIVED:
        if c.snd_nxt == c.iss:
            # (Re)send our SYN: RFC 9293 3.10.1 (active) / 3.10.7.2 (passive) / 3.5 (simultaneous).
            if _xmit(c, now, TCP_SYN | (TCP_ACK_FLAG if st == TCPS_SYN_RECEIVED else 0),
                     c.iss, 0) < 0:
                return -1
            c.snd_nxt = c.iss + 1
            if seq_gt(c.snd_nxt, c.snd_max):
                c.snd_max = c.snd_nxt
            if c.rtt_start == 0 and not (c.pend & PF_SYN_RTX):
                tcp_timing_start(c, now, c.iss)
            _arm_rtx(c, now)
            return 1
        if (c.pend & PF_ACK_NOW) and st == TCPS_SYN_RECEIVED:
            if _xmit(c, now, TCP_ACK_FLAG, c.snd_nxt, 0) < 0:
                return -1
            return 1
        c.pend &= ~PF_ACK_NOW
        return 0

    fin_q = (c.pend & (PF_FIN_QUEUED | PF_FIN_ACKED)) == PF_FIN_QUEUED
    data_end = tcp_snd_data_seq(c) + c.snd.len
    if _can_send_data(c):
        if c.pend & PF_FASTRTX:
            # Fast retransmit (RFC 5681 3.2 step 4 / RFC 6675 5 step 4.3) or a NewReno partial
            # ACK (RFC 6582 3.2 step 5): the segment at SND.UNA, once.
            length = data_end - c.snd_una if seq_lt(c.snd_una, data_end) else 0
            if length > c.snd_mss:
                length = c.snd_mss
            fin = fin_q and c.snd_una + length == data_end and seq_gt(c.snd_max, data_end)
            if length or fin:
                if _send_at(c, now, c.snd_una, length, data_end, fin) < 0:
                    return -1
                c.high_rxt = seq_max(c.high_rxt, c.snd_una + length)
                sent += 1
            c.pend &= ~PF_FASTRTX
        if c.recovery == REC_SACK:
            r = _output_sack_recovery(c, now, data_end, fin_q)
            if r < 0:
                return -1
            sent += r
        else:
            if (c.snd_una == c.snd_max and c.last_tx_us and now - c.last_tx_us > c.rto_us and
                    c.recovery == REC_NONE):
                # RFC 5681 4.1: restart from at most the initial window after an idle period.
                limit = <uint32_t>c.cfg.initial_window * c.snd_mss
                if c.cwnd > limit:
                    c.cwnd = limit
            while True:
                seq = c.snd_nxt
                limit = 0xffffffffu
                if c.recovery == REC_LOSS and c.sb.count and seq_lt(seq, c.snd_max):
                    seq = _skip_sacked(c, seq, &limit)
                    c.snd_nxt = seq
                avail = data_end - seq if seq_lt(seq, data_end) else 0
                # RFC 3042 limited transmit: the first two duplicate ACKs each let one new
                # segment out beyond cwnd.
                extra = 0
                if c.recovery == REC_NONE and c.dupacks and c.dupacks < c.cfg.dupthresh:
                    extra = <uint32_t>c.dupacks * c.snd_mss
                wnd = c.cwnd + extra
                if c.snd_wnd < wnd:
                    wnd = c.snd_wnd
                in_flight = seq - c.snd_una
                if c.recovery == REC_LOSS and c.sb.count:
                    in_flight -= _sacked_below(c, seq)
                usable = wnd - in_flight if wnd > in_flight else 0
                length = avail
                if length > c.snd_mss:
                    length = c.snd_mss
                if length > usable:
                    length = usable
                if length > limit:
                    length = limit
                fin = fin_q and seq + length == data_end
                if length and length < c.snd_mss and not seq_lt(seq, c.snd_max):
                    # New data smaller than a segment: Nagle (RFC 896, RFC 1122 4.2.3.4) holds
                    # it while data is unacknowledged, unless it is all there is and nodelay
                    # is set; sender SWS avoidance lets half the peer's largest window through.
                    if not ((length == avail and ((c.opts & TF_NODELAY) or c.snd_una == c.snd_max
                                                  or fin))
                            or length >= c.max_snd_wnd // 2 and length == usable and c.max_snd_wnd):
                        length = 0
                        fin = False
                if length == 0 and not fin:
                    break
                if _send_at(c, now, seq, length, data_end, fin) < 0:
                    return -1
                c.snd_nxt = seq + length + (1 if fin else 0)
                sent += 1
        # Data waits but nothing is in flight to bring an ACK: the window is zero, or too
        # small to use under SWS avoidance and the update that opened it may have been lost.
        # The persist timer (RFC 9293 3.8.6.1, RFC 1122 4.2.2.17 and 4.2.3.4 (d)) probes for
        # the current window.
        if (c.t_rtx == 0 and c.snd_una == c.snd_max and
                (seq_lt(c.snd_nxt, data_end) or (fin_q and c.snd_nxt == data_end))):
            c.t_rtx = now + tcp_persist_interval(c)
            c.pend |= PF_PERSIST
    if c.pend & (PF_PROBE | PF_KEEPALIVE):
        # A zero-length segment one below SND.UNA is outside the peer's window, so it must
        # answer with an ACK carrying its current window (RFC 9293 3.10.7.4 first check);
        # RFC 1122 4.2.3.6 describes the keepalive the same way.
        if _xmit(c, now, TCP_ACK_FLAG, c.snd_una - 1, 0) < 0:
            return -1
        c.pend &= ~(PF_PROBE | PF_KEEPALIVE)
        sent += 1
    if c.pend & (PF_ACK_NOW | PF_WND_UPDATE):
        # A bare ACK carries the highest sequence number sent, not an SND.NXT pulled back by
        # a retransmission timeout: the peer may already hold everything up to SND.MAX, and
        # would find an older sequence number outside its window and drop the ACK with it
        # (both sides retransmitting into each other's past is a deadlock).
        if _xmit(c, now, TCP_ACK_FLAG, c.snd_max, 0) < 0:
            return -1
        sent += 1
    return sent


cdef uint64_t tcp_poll_at(const tcp_conn_t* c, uint64_t now) noexcept nogil:
    cdef uint64_t d
    if c.state == TCPS_CLOSED:
        return 0
    if c.pend & PF_TX_BLOCKED:
        return c.t_tx_retry
    if c.pend & (PF_ACK_NOW | PF_FASTRTX | PF_PROBE | PF_KEEPALIVE | PF_WND_UPDATE):
        return now if now else 1
    d = tcp_min_deadline(c.t_rtx, c.t_delack)
    d = tcp_min_deadline(d, c.t_keep)
    d = tcp_min_deadline(d, c.t_2msl)
    return d
