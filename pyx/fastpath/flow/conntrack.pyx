"""TCP connection tracking as a middlebox sees it (netfilter's model, van Rooij's window checks).

The tracker sees both directions of a connection from the outside. For every segment it decides
whether the segment fits the connection (``V_ACCEPT``), is harmless but not trusted
(``V_IGNORE``) or is invalid (``V_INVALID``, with a reason), and moves the connection through
NONE, SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE and
SYN_SENT2 (simultaneous open). ``TcpTracker`` drives one connection from Python for tests and
experiments; the flow table calls the same C functions on every packet without the GIL.

Window tracking (van Rooij, section 3; RFC 9293 3.10.7.4 for the acceptability test) keeps per
direction: ``end`` (highest seq+len sent), ``maxend`` (highest ack+window the peer offered, the
upper bound for the next sequence number) and ``maxwin`` (the largest window advertised). A
segment is in window when

  I.   seq <= sender.maxend                      (not beyond what the receiver allowed)
  II.  seq + len >= sender.end - receiver.maxwin (not older than one window)
  III. ack <= receiver.end                       (acknowledges only data that was sent)
  IV.  ack >= receiver.end - max(sender.maxwin, 66000)

Window scaling (RFC 7323 2.2): the shift counts only once both SYNs carried the option, and a
shift above 14 is treated as 14 (RFC 7323 2.3).
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, int64_t
from libc.string cimport memset

from fastpath.wire.record cimport (PacketRecord, OPT_WSCALE, OPT_SACK_PERM, OPT_SACK, OFF_NONE,
                                   CSUM_BAD)

cdef enum:
    TH_FIN = 0x01
    TH_SYN = 0x02
    TH_RST = 0x04
    TH_PSH = 0x08
    TH_ACK = 0x10
    TH_URG = 0x20
    TH_ECE = 0x40
    TH_CWR = 0x80
    MAX_ACK_WINDOW = 66000      # lower bound of IV when the sender's window is small
    MAX_WSCALE = 14             # RFC 7323 2.3


# ---------------------------------------------------------------- the transition table
#
# One row per (direction, segment kind); one column per current state. Codes: the next state,
# IV (invalid: count it, change nothing) or IG (ignore: we may be out of sync with the endpoints,
# so let the endpoints decide -- a real problem shows up as a RST we will see).
#
#                      NO  SS  SR  ES  FW  CW  LA  TW  CL  S2
_ROWS = {
    # ---- from the originator (the side that opened the flow)
    (DIR_ORIGINAL, EV_SYN):
        "SS  SS  IG  IG  IG  IG  IG  SS  SS  S2",
        # NO->SS a new connection; SS->SS retransmitted SYN; S2->S2 late retransmission of
        # our SYN during a simultaneous open. SR..LA: a SYN inside a live connection is either
        # stale or we are out of sync -- ignore, the receiver answers with RST or a challenge
        # ACK (RFC 5961 4). TW, CL -> SS: the tuple is reopened (RFC 9293 3.10.7.4 TIME-WAIT,
        # RFC 1122 4.2.2.13).
    (DIR_ORIGINAL, EV_SYNACK):
        "IV  IV  SR  IV  IV  IV  IV  IV  IV  SR",
        # Only in a simultaneous open may the originator answer with SYN/ACK (S2->SR, and
        # SR->SR for its retransmission). A SYN/ACK from the side that sent the SYN is invalid.
    (DIR_ORIGINAL, EV_FIN):
        "IV  IV  FW  FW  LA  LA  LA  TW  CL  IV",
        # Closing needs an established (or half-established) connection: SR/ES -> FW starts
        # the close; FW/CW -> LA is the second FIN; LA, TW, CL keep their state (retransmitted
        # FINs). A FIN before the SYN/ACK (SS, S2) or out of nowhere (NO) is invalid.
    (DIR_ORIGINAL, EV_ACK):
        "ES  IV  ES  ES  CW  CW  TW  TW  CL  IV",
        # NO->ES is the loose pickup of a connection already running; SS->IV: no SYN/ACK seen
        # yet, so there is nothing to acknowledge; SR->ES completes the handshake; FW->CW
        # acknowledges the peer's FIN; LA->TW is the last ACK.
    (DIR_ORIGINAL, EV_RST):
        "IV  CL  CL  CL  CL  CL  CL  CL  CL  CL",
    (DIR_ORIGINAL, EV_NONE):
        "IV  IV  IV  IV  IV  IV  IV  IV  IV  IV",
        # A segment without SYN, FIN, ACK or RST is never valid (RFC 9293 3.10.7.4: "if the
        # ACK bit is off drop the segment").

    # ---- from the responder
    (DIR_REPLY, EV_SYN):
        "IV  S2  IV  IV  IV  IV  IV  SS  IV  S2",
        # SS->S2 simultaneous open (RFC 9293 3.5, figure 8); S2->S2 its retransmission;
        # TW->SS the responder reopens the tuple with the roles reversed.
    (DIR_REPLY, EV_SYNACK):
        "IV  SR  IG  IG  IG  IG  IG  IG  IG  SR",
        # SS->SR the normal answer; S2->SR simultaneous open; later SYN/ACKs are
        # retransmissions or answers to a SYN we ignored: ignore them (see the resync below).
    (DIR_REPLY, EV_FIN):
        "IV  IV  FW  FW  LA  LA  LA  TW  CL  IV",
    (DIR_REPLY, EV_ACK):
        "IV  IG  SR  ES  CW  CW  TW  TW  CL  IG",
        # SS->IG: an ACK to a SYN may be a half-open connection's challenge ACK; SR->SR the
        # responder may be answering a retransmitted SYN.
    (DIR_REPLY, EV_RST):
        "IV  CL  CL  CL  CL  CL  CL  CL  CL  CL",
    (DIR_REPLY, EV_NONE):
        "IV  IV  IV  IV  IV  IV  IV  IV  IV  IV",
}

STATE_NAMES = ("NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT",
               "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2")
EVENT_NAMES = ("SYN", "SYNACK", "FIN", "ACK", "RST", "NONE")
VERDICT_NAMES = ("accept", "new", "ignore", "invalid", "untracked")
REASON_NAMES = ("none", "bad-flags", "bad-checksum", "bad-state", "not-new", "seq-over-window",
                "ack-over-window", "bad-rst", "ignored-state", "seq-under-window",
                "ack-under-window", "window-overshoot", "non-ip", "fragment", "parse-error",
                "bad-ip-checksum", "table-full", "reopened", "rst-unconfirmed", "no-transport")
_SHORT = {"NO": CT_NONE, "SS": CT_SYN_SENT, "SR": CT_SYN_RECV, "ES": CT_ESTABLISHED,
          "FW": CT_FIN_WAIT, "CW": CT_CLOSE_WAIT, "LA": CT_LAST_ACK, "TW": CT_TIME_WAIT,
          "CL": CT_CLOSE, "S2": CT_SYN_SENT2, "IV": CT_INVALID, "IG": CT_IGNORE}

cdef uint8_t _NEXT[2][6][10]


def _fill_table():
    cdef int d, e, s
    for (d, e), row in _ROWS.items():
        cells = row.split()
        if len(cells) != CT_NUM_STATES:
            raise ImportError(f"fastpath.flow.conntrack: row {(d, e)} has {len(cells)} cells")
        for s in range(CT_NUM_STATES):
            _NEXT[d][e][s] = _SHORT[cells[s]]


_fill_table()


def next_state(int direction, int event, int state):
    """The transition table: next state (or CT_INVALID / CT_IGNORE) for a segment kind."""
    if not (0 <= direction <= 1 and 0 <= event < EV_COUNT and 0 <= state < CT_NUM_STATES):
        raise ValueError(f"no table entry for direction={direction} event={event} state={state}")
    return _NEXT[direction][event][state]


cdef uint8_t ct_next_state(int dir, int event, int state) noexcept nogil:
    return _NEXT[dir][event][state]


# ---------------------------------------------------------------- helpers

cdef inline bint before(uint32_t a, uint32_t b) noexcept nogil:
    # Serial-number arithmetic (RFC 1982): a comes before b.
    return <int32_t>(a - b) < 0


cdef inline bint after(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(b - a) < 0


cdef inline uint32_t seg_end(const PacketRecord* r) noexcept nogil:
    # SYN and FIN each occupy one sequence number (RFC 9293 3.4).
    cdef uint32_t e = r.tcp_seq + r.payload_len
    if r.tcp_flags & TH_SYN:
        e += 1
    if r.tcp_flags & TH_FIN:
        e += 1
    return e


cdef inline bint has_options(const PacketRecord* r) noexcept nogil:
    return r.payload_off != OFF_NONE and r.l4_off != OFF_NONE and r.payload_off - r.l4_off > 20


cdef uint8_t tcp_event(uint16_t flags) noexcept nogil:
    if flags & TH_RST:
        return EV_RST
    if flags & TH_SYN:
        return EV_SYNACK if flags & TH_ACK else EV_SYN
    if flags & TH_FIN:
        return EV_FIN
    if flags & TH_ACK:
        return EV_ACK
    return EV_NONE


cdef bint tcp_flags_valid(uint16_t flags) noexcept nogil:
    # The combinations a conforming stack sends; PSH, ECE and CWR may ride on any of them
    # (RFC 3168 6.1). SYN+FIN, SYN+RST, FIN without ACK, no flags at all ("null scan") and
    # everything set ("Xmas") are not among them.
    cdef uint8_t f = <uint8_t>(flags & ~(TH_PSH | TH_ECE | TH_CWR))
    return (f == TH_SYN or f == (TH_SYN | TH_URG) or f == (TH_SYN | TH_ACK) or f == TH_RST or
            f == (TH_RST | TH_ACK) or f == (TH_FIN | TH_ACK) or f == (TH_FIN | TH_ACK | TH_URG) or
            f == TH_ACK or f == (TH_ACK | TH_URG))


cdef inline void read_options(TcpConn* c, int s, const PacketRecord* r) noexcept nogil:
    # What a SYN offers. A header without options leaves the previous values alone.
    if not has_options(r):
        return
    c.scale[s] = 0
    c.dflags[s] &= TD_LIBERAL
    if r.tcp_opts & OPT_SACK_PERM:
        c.dflags[s] |= TD_SACK_PERM
    if r.tcp_opts & OPT_WSCALE:
        c.scale[s] = r.tcp_wscale if r.tcp_wscale <= MAX_WSCALE else MAX_WSCALE
        c.dflags[s] |= TD_WSCALE


cdef inline void init_sender(TcpConn* c, int s, const PacketRecord* r, uint32_t end,
                             uint32_t win) noexcept nogil:
    # The first SYN (or SYN/ACK) of a direction defines its window state.
    c.end[s] = end
    c.maxend[s] = end
    c.maxwin[s] = win if win else 1
    read_options(c, s, r)
    # RFC 7323 1.3: scaling is in effect only when both sides sent the option.
    if s == DIR_REPLY and not ((c.dflags[s] & TD_WSCALE) and (c.dflags[1 - s] & TD_WSCALE)):
        c.scale[s] = 0
        c.scale[1 - s] = 0


cdef inline uint32_t max_ack_window(const TcpConn* c, int s) noexcept nogil:
    return c.maxwin[s] if c.maxwin[s] > MAX_ACK_WINDOW else MAX_ACK_WINDOW


cdef inline uint8_t window_fail(TcpConn* c, int s, uint8_t verdict, uint8_t why,
                                uint8_t* reason) noexcept nogil:
    # A connection picked up mid-stream never saw the window scale options, so its window
    # checks cannot be trusted: failures pass (without updating the window state).
    if c.dflags[s] & TD_LIBERAL:
        return V_ACCEPT
    reason[0] = why
    return verdict


cdef uint8_t in_window(TcpConn* c, int s, const PacketRecord* r, uint8_t* reason) noexcept nogil:
    cdef int o = 1 - s
    cdef uint16_t flags = r.tcp_flags
    cdef uint32_t seq = r.tcp_seq, ack = r.tcp_ack, sack = r.tcp_ack
    cdef uint32_t win = r.tcp_window, end = seg_end(r), swin, overshot
    cdef bint in_recv, ack_ok
    if (c.dflags[o] & TD_SACK_PERM) and (r.tcp_opts & OPT_SACK) and after(r.tcp_sack_max, sack):
        sack = r.tcp_sack_max
    if c.maxwin[s] == 0:
        # First segment seen from this side.
        if flags & TH_SYN:
            init_sender(c, s, r, end, win)
            if not (flags & TH_ACK):
                return V_ACCEPT        # the reply direction's SYN of a simultaneous open
        else:
            # Mid-stream: all we know is this segment.
            c.end[s] = end
            swin = win << c.scale[s]
            c.maxwin[s] = swin if swin else 1
            c.maxend[s] = end + c.maxwin[s]
            if c.maxwin[o] == 0:
                # Nothing seen the other way yet: make III and IV pass until we do.
                c.end[o] = sack
                c.maxend[o] = sack
            elif sack == c.end[o] + 1:
                c.end[o] += 1          # answer to a keep-alive (one byte below the window)
    elif (flags & TH_SYN) and after(end, c.end[s]) and (c.state == CT_SYN_SENT or
                                                       c.state == CT_SYN_RECV):
        # RFC 9293 3.4: a reinitialised endpoint may reopen with a higher sequence number.
        init_sender(c, s, r, end, win)
        if s == DIR_REPLY and not (flags & TH_ACK):
            return V_ACCEPT
    if not (flags & TH_ACK):
        ack = c.end[o]                 # no ACK: nothing to check
        sack = ack
    elif (flags & (TH_ACK | TH_RST)) == (TH_ACK | TH_RST) and ack == 0:
        ack = c.end[o]                 # broken stacks send RST+ACK with ack 0
        sack = ack
    if (flags & TH_RST) and seq == 0 and c.state == CT_SYN_SENT:
        seq = c.end[s]                 # RST answering a SYN (RFC 9293 3.10.7.3)
        end = seq
    if after(seq, c.maxend[s]):
        overshot = end - c.maxend[s] + 1
        ack_ok = after(sack, c.end[o] - max_ack_window(c, s) - 1)
        in_recv = c.maxwin[o] != 0 and after(end, c.end[s] - c.maxwin[o] - 1)
        if in_recv and ack_ok and overshot <= c.maxwin[o] and not after(sack, c.end[o]):
            # Some stacks send a little more than the window allows; remember the data so the
            # ACK for it passes III, but do not vouch for the segment.
            c.end[s] = end
            c.dflags[s] |= TD_DATA_UNACK
            return window_fail(c, s, V_IGNORE, R_OVERSHOOT, reason)
        return window_fail(c, s, V_INVALID, R_SEQ_OVER, reason)
    if after(sack, c.end[o]):
        return window_fail(c, s, V_INVALID, R_ACK_OVER, reason)
    in_recv = c.maxwin[o] == 0 or after(end, c.end[s] - c.maxwin[o] - 1)
    if not in_recv:
        return window_fail(c, s, V_IGNORE, R_SEQ_UNDER, reason)
    if not after(sack, c.end[o] - max_ack_window(c, s) - 1):
        return window_fail(c, s, V_IGNORE, R_ACK_UNDER, reason)
    # In window: update what we know.
    if not (flags & TH_SYN):
        win <<= c.scale[s]             # RFC 7323 2.2: never scale the window of a SYN
    swin = win + (sack - ack)
    if c.maxwin[s] < swin:
        c.maxwin[s] = swin
    if after(end, c.end[s]):
        c.end[s] = end
        c.dflags[s] |= TD_DATA_UNACK
    if flags & TH_ACK:
        if not (c.dflags[s] & TD_MAXACK_SET):
            c.maxack[s] = ack
            c.dflags[s] |= TD_MAXACK_SET
        elif after(ack, c.maxack[s]):
            c.maxack[s] = ack
    if c.maxwin[o] != 0 and after(end, c.maxend[s]):
        c.maxwin[o] += end - c.maxend[s]
    if after(sack + win, c.maxend[o] - 1):
        c.maxend[o] = sack + win
        if win == 0:
            c.maxend[o] += 1           # a zero window still admits a one-byte probe
    if ack == c.end[o]:
        c.dflags[o] &= ~TD_DATA_UNACK
    return V_ACCEPT


# ---------------------------------------------------------------- the tracker

cdef uint8_t ct_tcp_new(TcpConn* c, const PacketRecord* r, bint loose, uint8_t* reason) noexcept nogil:
    """Set up ``c`` for the first segment of a flow; returns its next state or CT_INVALID.

    Only a SYN opens a connection -- or, in loose mode, any segment with ACK (the connection
    was running before we started watching: van Rooij 4, "connection pickup")."""
    cdef uint8_t ev = tcp_event(r.tcp_flags)
    cdef uint8_t ns = _NEXT[DIR_ORIGINAL][ev][CT_NONE]
    cdef uint32_t end = seg_end(r)
    memset(c, 0, sizeof(TcpConn))
    c.last = EV_NONE
    if ns == CT_SYN_SENT:
        c.end[0] = end
        c.maxend[0] = end
        c.maxwin[0] = r.tcp_window if r.tcp_window else 1
        read_options(c, 0, r)
        return ns
    if ns == CT_ESTABLISHED and loose:
        c.end[0] = end
        c.maxwin[0] = r.tcp_window if r.tcp_window else 1
        c.maxend[0] = end + c.maxwin[0]
        # The scale options are lost to us: assume SACK and be liberal about windows.
        c.dflags[0] = TD_SACK_PERM | TD_LIBERAL
        c.dflags[1] = TD_SACK_PERM | TD_LIBERAL
        c.status = ST_LOOSE
        return ns
    reason[0] = R_NOT_NEW
    return CT_INVALID


cdef inline bint ct_established(const TcpConn* c) noexcept nogil:
    return c.state == CT_ESTABLISHED and (c.status & ST_ASSURED) != 0


cdef inline bint ct_closing(uint8_t state) noexcept nogil:
    return (state == CT_FIN_WAIT or state == CT_CLOSE_WAIT or state == CT_LAST_ACK or
            state == CT_TIME_WAIT or state == CT_CLOSE)


cdef uint8_t ct_tcp_packet(TcpConn* c, int dir, const PacketRecord* r, uint8_t* reason,
                           uint8_t* action, uint8_t* timeout_class) noexcept nogil:
    """One segment of an existing connection. Returns V_ACCEPT, V_IGNORE or V_INVALID.

    ``action`` tells the table to remove the flow (ACT_KILL) or to start a new one for this
    segment (ACT_REOPEN); ``timeout_class`` (TO_*) picks the timer, with bit 0x80 meaning
    "no longer than TO_UNACK"."""
    cdef uint16_t flags = r.tcp_flags
    cdef uint8_t ev = tcp_event(flags)
    cdef uint8_t old = c.state
    cdef uint8_t ns = _NEXT[dir][ev][old]
    cdef uint8_t last_ev = c.last & 7, v, ld
    cdef int last_dir = (c.last >> 3) & 1
    cdef uint32_t seq = r.tcp_seq
    cdef bint check_window = True
    action[0] = ACT_NONE
    reason[0] = R_NONE
    timeout_class[0] = TO_TCP + old

    if ns == CT_SYN_SENT and old >= CT_TIME_WAIT:
        # A SYN on a closed tuple: if the connection was properly closed (a FIN was seen) or
        # aborted by this side's RST, this is a new connection (RFC 9293 3.10.7.4 TIME-WAIT).
        if ((c.dflags[0] | c.dflags[1]) & TD_CLOSE_INIT) or (last_dir == dir and last_ev == EV_RST):
            action[0] = ACT_REOPEN
            reason[0] = R_REOPENED
            return V_ACCEPT
        ns = CT_IGNORE

    if ns == CT_IGNORE:
        if (ev == EV_SYNACK and last_ev == EV_SYN and last_dir != dir and
                r.tcp_ack == c.last_end):
            # This SYN/ACK acknowledges the SYN we ignored: the endpoints are in sync and we
            # were not. Rebuild the originator side from what we noted about that SYN.
            ld = last_dir
            old = CT_SYN_SENT
            ns = CT_SYN_RECV
            c.end[ld] = c.last_end
            c.maxend[ld] = c.last_end
            c.maxwin[ld] = c.last_win if c.last_win else 1
            c.scale[ld] = c.last_wscale
            c.dflags[ld] = c.last_flags
            c.status &= ~ST_CHALLENGE_ACK
            c.end[dir] = 0
            c.maxend[dir] = 0
            c.maxwin[dir] = 0
            c.maxack[dir] = 0
            c.scale[dir] = 0
            c.dflags[dir] &= TD_LIBERAL
        else:
            c.last = ev | (dir << 3)
            c.last_end = seg_end(r)
            c.last_win = r.tcp_window
            if ev == EV_SYN and dir == DIR_ORIGINAL:
                # Note the SYN's options, in case the SYN/ACK shows the endpoints accepted it.
                c.last_flags = 0
                c.last_wscale = 0
                if r.tcp_opts & OPT_WSCALE:
                    c.last_flags |= TD_WSCALE
                    c.last_wscale = r.tcp_wscale if r.tcp_wscale <= MAX_WSCALE else MAX_WSCALE
                if r.tcp_opts & OPT_SACK_PERM:
                    c.last_flags |= TD_SACK_PERM
                if old == CT_LAST_ACK:
                    # The answer may be an RFC 5961 challenge ACK, not the last ACK.
                    c.status |= ST_CHALLENGE_ACK
            if dir == DIR_REPLY:
                c.status |= ST_SEEN_REPLY
            reason[0] = R_IGNORED_STATE
            timeout_class[0] = TO_KEEP
            return V_IGNORE
    elif ns == CT_INVALID:
        reason[0] = R_BAD_STATE
        return V_INVALID
    elif ns == CT_TIME_WAIT:
        if (old == CT_LAST_ACK and ev == EV_ACK and last_dir != dir and last_ev == EV_SYN and
                (c.status & ST_CHALLENGE_ACK)):
            # RFC 5961 4: the ACK answers the stray SYN, not our FIN. Stay in LAST_ACK.
            c.status &= ~ST_CHALLENGE_ACK
            reason[0] = R_IGNORED_STATE
            timeout_class[0] = TO_KEEP
            return V_IGNORE
    elif ns == CT_SYN_SENT2:
        c.status |= ST_SIMULTANEOUS
    elif ns == CT_SYN_RECV:
        if dir == DIR_REPLY and ev == EV_ACK and (c.status & ST_SIMULTANEOUS):
            ns = CT_ESTABLISHED        # the last ACK of a simultaneous open
    elif ns == CT_CLOSE and ev == EV_RST:
        if ct_closing(old):
            # Closing anyway: accept the RST without sequence checks (the tuple may even have
            # been reused by now).
            check_window = False
        else:
            if (c.dflags[1 - dir] & TD_MAXACK_SET) and last_ev != EV_SYN:
                # RFC 5961 3.2: a RST is acceptable only at exactly the next expected sequence
                # number; inside the window but elsewhere it gets a challenge ACK.
                if seq == 0 and not ct_established(c):
                    pass
                elif before(seq, c.maxack[1 - dir]):
                    reason[0] = R_BAD_RST
                    return V_INVALID
                elif not ct_established(c) or seq == c.maxack[1 - dir]:
                    pass
                elif last_ev == EV_ACK and last_dir == dir and seq == c.last_end:
                    pass               # the RST follows our own last segment ("RST train")
                else:
                    ns = old
                    reason[0] = R_RST_UNCONFIRMED
            if (((c.status & ST_SEEN_REPLY) and last_ev == EV_SYN) or
                    (not (c.status & ST_ASSURED) and last_ev == EV_ACK)) and r.tcp_ack == c.last_end:
                # RST answering a SYN or ACK we let through: it acknowledges exactly that
                # segment, which our window state may not include.
                check_window = False

    if check_window:
        v = in_window(c, dir, r, reason)
        if v != V_ACCEPT:
            if v == V_IGNORE and dir == DIR_REPLY:
                c.status |= ST_SEEN_REPLY
            timeout_class[0] = TO_KEEP
            return v

    # In window (or exempt): commit the transition.
    c.last = ev | (dir << 3)
    if ev == EV_ACK:
        c.last_end = seg_end(r)
        c.last_win = r.tcp_window
    c.state = ns
    if old != ns and ns == CT_FIN_WAIT:
        c.dflags[dir] |= TD_CLOSE_INIT
    if ev == EV_RST:
        timeout_class[0] = TO_TCP + CT_CLOSE
    else:
        timeout_class[0] = TO_TCP + ns
        if (c.dflags[0] | c.dflags[1]) & TD_DATA_UNACK:
            timeout_class[0] |= 0x80
    if not (c.status & ST_SEEN_REPLY):
        if flags & TH_RST:
            # The only answer was a RST: there is no connection to keep.
            action[0] = ACT_KILL
        elif ev == EV_SYN and old == CT_SYN_SENT:
            # Retransmitted SYNs do not extend the attempt (a reused port would keep it alive).
            timeout_class[0] = TO_KEEP
        elif ns == CT_ESTABLISHED:
            timeout_class[0] |= 0x80   # picked up mid-stream, no answer yet
    elif not (c.status & ST_ASSURED) and (old == CT_SYN_RECV or old == CT_ESTABLISHED) and ns == CT_ESTABLISHED:
        c.status |= ST_ASSURED
    if dir == DIR_REPLY:
        c.status |= ST_SEEN_REPLY
    return V_ACCEPT


# ---------------------------------------------------------------- Python face for one connection

cdef class TcpTracker:
    """One TCP connection tracked from the outside, segment by segment (tests, experiments).

    ``segment()`` returns ``(verdict, reason)`` names; ``state`` is the state name. Direction
    0 is the originator (the side whose segment created the connection)."""
    cdef TcpConn c
    cdef bint started
    cdef bint loose
    cdef public object last_action

    def __init__(self, loose=True):
        self.started = False
        self.loose = loose
        self.last_action = "none"

    def segment(self, int direction, int flags, unsigned int seq=0, unsigned int ack=0,
                int window=65535, int payload=0, wscale=None, bint sack_perm=False,
                sack=None):
        cdef PacketRecord r
        cdef uint8_t reason = 0, action = 0, to = 0, v, ns
        if direction not in (0, 1):
            raise ValueError(f"direction must be 0 (originator) or 1 (responder), not {direction}")
        memset(&r, 0, sizeof(PacketRecord))
        r.ip_version = 4
        r.ip_proto = 6
        r.tcp_flags = flags
        r.tcp_seq = seq
        r.tcp_ack = ack
        r.tcp_window = window
        r.payload_len = payload
        r.l4_off = 34
        r.payload_off = 54
        if wscale is not None:
            r.tcp_opts |= OPT_WSCALE
            r.tcp_wscale = wscale
        if sack_perm:
            r.tcp_opts |= OPT_SACK_PERM
        if sack is not None:
            r.tcp_opts |= OPT_SACK
            r.tcp_sack_max = sack
        if r.tcp_opts:
            r.payload_off = 54 + 12
        if not tcp_flags_valid(flags):
            return ("invalid", REASON_NAMES[R_BAD_FLAGS])
        if not self.started:
            if direction != 0:
                raise ValueError("the first segment comes from the originator (direction 0)")
            ns = ct_tcp_new(&self.c, &r, self.loose, &reason)
            if ns == CT_INVALID:
                return ("invalid", REASON_NAMES[reason])
            self.started = True
        v = ct_tcp_packet(&self.c, direction, &r, &reason, &action, &to)
        self.last_action = ("none", "kill", "reopen")[action]
        return (VERDICT_NAMES[v], REASON_NAMES[reason])

    @property
    def state(self):
        return STATE_NAMES[self.c.state] if self.started else "NONE"

    @property
    def assured(self):
        return bool(self.c.status & ST_ASSURED)

    @property
    def seen_reply(self):
        return bool(self.c.status & ST_SEEN_REPLY)

    def window(self, int direction):
        """(end, maxend, maxwin, scale) of one direction's window state."""
        return (self.c.end[direction], self.c.maxend[direction], self.c.maxwin[direction],
                self.c.scale[direction])
