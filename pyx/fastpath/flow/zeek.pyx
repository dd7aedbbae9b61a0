"""Zeek-comparable connection records: conn_state, history, sizes, and Zeek's record boundaries.

Zeek (https://zeek.org) keeps, per connection, a small model of each TCP endpoint (INACTIVE,
SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET) and derives from the pair the
``conn_state`` of conn.log; it also writes a ``history`` of letters. This module reproduces that
observable behaviour so fastpath's records can be checked against Zeek's own outputs:

* history letters are recorded once per direction (upper case for the originator); S, H, F and
  R again when the sequence number differs from the previous one of the same kind; C, T, W and
  G logarithmically, at the 1st, 10th, 100th, ... occurrence; ``^`` when the roles flip.
* the originator is the sender of the first packet, unless Zeek's heuristics flip it: a
  connection that starts without a SYN (or with a SYN/ACK) from a likely server port, a SYN/ACK
  followed by productive traffic, or a SYN/SYN-ACK pair seen in reverse order.
* a connection ends (and the next packet starts a new record) when Zeek would remove it: after
  inactivity, 5 s after a completed close, 5 s after an unanswered SYN, or when a new SYN reuses
  the tuple.

The behaviour was learnt from Zeek's documentation and its public source; no code is shared.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t, int32_t, INT64_MAX
from libc.string cimport memset, memcpy

from fastpath.wire.record cimport (PacketRecord, CSUM_BAD, OFF_NONE, IPPROTO_TCP, IPPROTO_UDP,
                                   IPPROTO_ICMP, IPPROTO_ICMPV6)

cdef enum:
    TH_FIN = 0x01
    TH_SYN = 0x02
    TH_RST = 0x04
    TH_ACK = 0x10
    # Zeek's per-endpoint history mask bits (shifted left by 16 for the responder)
    HM_SYN = 0x01
    HM_FIN = 0x02
    HM_RST = 0x04
    HM_FIN_RST = 0x08
    HM_DATA = 0x10
    HM_ACK = 0x20
    HM_MULTI = 0x40
    # UDP's own mask bits (not shifted)
    HM_UDP_ORIG_DATA = 0x1
    HM_UDP_RESP_DATA = 0x2

cdef int32_t TOO_LARGE_SEQ_DELTA = 1048576
cdef int64_t SEC = 1000000000

CONN_STATE_NAMES = ("S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH",
                    "SH", "SHR", "OTH")
ENDPOINT_STATE_NAMES = ("INACTIVE", "SYN_SENT", "SYN_ACK_SENT", "PARTIAL", "ESTABLISHED",
                        "CLOSED", "RESET")


cdef inline int64_t later(int64_t t, int64_t d) noexcept nogil:
    # t + d for d >= 0, saturating: absurd capture timestamps must not wrap a deadline around.
    return t + d if t <= INT64_MAX - d else INT64_MAX


cdef inline int32_t seq_delta(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(a - b)


cdef inline bint port_likely(const uint8_t* bitmap, uint16_t port) noexcept nogil:
    return bitmap != NULL and (bitmap[port >> 3] >> (port & 7)) & 1


cdef uint32_t ip_total_len(const PacketRecord* r) noexcept nogil:
    # What Zeek counts as IP bytes: the IP header's length, not the frame's (no padding).
    if r.l3_off == OFF_NONE:
        return 0
    if r.payload_off != OFF_NONE and r.payload_off >= r.l3_off:
        return <uint32_t>(r.payload_off - r.l3_off) + r.payload_len
    if r.wirelen > r.l3_off:
        return r.wirelen - r.l3_off
    return 0


# ---------------------------------------------------------------- history

cdef inline void add_hist(ZeekConn* z, char c) noexcept nogil:
    if z.hist_len < HIST_MAX:
        z.hist[z.hist_len] = c
        z.hist_len += 1
    else:
        z.cflags |= ZC_TRUNCATED


cdef inline char lower(char c) noexcept nogil:
    if c >= 65 and c <= 90:
        return c + 32
    return c


cdef void flip_roles(ZeekConn* z) noexcept nogil:
    # Zeek swaps the endpoints (and their counters) but not the letters-seen mask.
    cdef ZeekEnd tmp
    cdef uint8_t seen = z.cflags & (ZC_SEEN_ORIG | ZC_SEEN_RESP)
    memcpy(&tmp, &z.e[0], sizeof(ZeekEnd))
    memcpy(&z.e[0], &z.e[1], sizeof(ZeekEnd))
    memcpy(&z.e[1], &tmp, sizeof(ZeekEnd))
    z.cflags ^= ZC_ORIG_IS_B
    z.cflags |= ZC_FLIPPED
    z.cflags &= ~(ZC_SEEN_ORIG | ZC_SEEN_RESP | ZC_PARTIAL)
    if seen & ZC_SEEN_ORIG:
        z.cflags |= ZC_SEEN_RESP
    if seen & ZC_SEEN_RESP:
        z.cflags |= ZC_SEEN_ORIG
    add_hist(z, 94)             # '^'


cdef bint check_hist(ZeekConn* z, int* zdir, uint32_t mask, char code) noexcept nogil:
    """Record ``code`` for the sender unless already recorded; True if it was already there."""
    if (code == 65 or code == 68) and z.hist_len == 1 and z.hist[0] == 72:
        # A connection that began with a SYN/ACK ('H') now shows productive traffic (a pure
        # ACK or data): the SYN/ACK sender was the responder after all. Flip, and write the
        # history as if the missing SYN's answer had been seen from the responder.
        flip_roles(z)
        z.hist[0] = 94          # '^'
        z.hist[1] = 104         # 'h'
        z.hist_len = 2
        zdir[0] ^= 1
        z.cflags |= ZC_SEEN_ORIG
    if zdir[0] == 1:
        mask <<= 16
        code = lower(code)
    if z.hist_seen & mask:
        return True
    z.hist_seen |= mask
    add_hist(z, code)
    return False


cdef inline void add_hist_dir(ZeekConn* z, int zdir, char code) noexcept nogil:
    add_hist(z, lower(code) if zdir == 1 else code)


cdef void scaled_hist(ZeekConn* z, int zdir, int which, char code) noexcept nogil:
    # The 1st, 10th, 100th, ... occurrence adds the letter again.
    cdef ZeekEnd* e = &z.e[zdir]
    cdef uint16_t n
    if e.cnt[which] == 65535:
        return
    e.cnt[which] += 1
    n = e.cnt[which]
    if n == 1 or n == 10 or n == 100 or n == 1000 or n == 10000:
        add_hist_dir(z, zdir, code)


# ---------------------------------------------------------------- opening a record

cdef void zk_open(ZeekConn* z, const PacketRecord* r, int side, int64_t ts,
                  const ZeekCfg* cfg) noexcept nogil:
    """Start a new connection record with ``r`` (sent by the key's endpoint ``side``)."""
    cdef uint8_t proto = r.ip_proto
    cdef uint16_t f = r.tcp_flags
    cdef bint flip = False
    memset(z, 0, sizeof(ZeekConn))
    z.first_ts = ts
    z.last_ts = ts
    z.cflags = ZC_OPEN | ZC_ACTIVE
    if side:
        z.cflags |= ZC_ORIG_IS_B
    if proto == IPPROTO_TCP:
        z.proto_class = PC_TCP
        # A connection that does not start with a plain SYN came from the middle: guess the
        # server from the ports (Zeek's likely_server_ports). Both plausible: flip only if
        # this is not a SYN/ACK (stealth scans) and the destination port is the higher one.
        if not (f & TH_SYN) or (f & TH_ACK):
            if port_likely(cfg.tcp_ports, r.sport):
                if port_likely(cfg.tcp_ports, r.dport):
                    flip = not (f & TH_SYN) and r.sport < r.dport
                else:
                    flip = True
    elif proto == IPPROTO_UDP:
        z.proto_class = PC_UDP
        flip = port_likely(cfg.udp_ports, r.sport) and not port_likely(cfg.udp_ports, r.dport)
        if flip and r.ip_version == 4 and r.ip4_dst == <uint32_t>0xffffffffU:
            flip = False        # never make the limited broadcast address the originator
        if port_likely(cfg.dns_ports, r.sport if flip else r.dport):
            z.timeout_kind = 3  # Zeek's DNS analyzer expires its sessions on its own timer
    elif proto == IPPROTO_ICMP or proto == IPPROTO_ICMPV6:
        z.proto_class = PC_ICMP
    else:
        z.proto_class = PC_OTHER
    if flip:
        flip_roles(z)
    zk_update_deadline(z, cfg)


cdef bint zk_is_reuse(const ZeekConn* z, const PacketRecord* r) noexcept nogil:
    """A SYN (or, on a half connection, a SYN/ACK) that starts a new connection on the tuple."""
    cdef uint16_t f = r.tcp_flags
    cdef const ZeekEnd* o = &z.e[0]
    cdef const ZeekEnd* conn_orig = o
    if z.proto_class != PC_TCP or not (f & TH_SYN):
        return False
    if f & TH_ACK:
        if o.state != ZS_INACTIVE:
            return False        # the normal answer to the originator's SYN
        conn_orig = &z.e[1]
    if not ((z.e[0].eflags | z.e[1].eflags) & ZE_DID_CLOSE):
        if <uint32_t>conn_orig.start == r.tcp_seq:
            return False        # a retransmission
        if (not (f & TH_ACK) and conn_orig.state == ZS_SYN_ACK_SENT and
                z.e[1].state == ZS_INACTIVE and <uint32_t>z.e[1].start == r.tcp_seq):
            return False        # SYN and SYN/ACK seen in reverse order
    return True


# ---------------------------------------------------------------- TCP

cdef inline void set_state(ZeekConn* z, ZeekEnd* e, ZeekEnd* peer, uint8_t s) noexcept nogil:
    if s != e.state:
        # Leaving the handshake states switches to the (longer) TCP inactivity timeout.
        if (s > ZS_SYN_ACK_SENT and e.state <= ZS_SYN_ACK_SENT and peer.state <= ZS_SYN_ACK_SENT
                and z.timeout_kind == 0):
            z.timeout_kind = 1
        e.prev_state = e.state
        e.state = s


cdef inline void init_seqs(ZeekEnd* e, int64_t start, uint32_t last) noexcept nogil:
    e.start = start
    e.ack = <uint32_t>start
    e.last = last
    e.last_wraps = 0
    e.ack_wraps = 0


cdef inline uint32_t rel(const ZeekEnd* e, uint32_t seq) noexcept nogil:
    return <uint32_t>(seq - <uint32_t>e.start)


cdef void init_endpoint(ZeekEnd* e, uint16_t f, uint32_t seq, uint32_t end) noexcept nogil:
    if e.state == ZS_INACTIVE:
        if f & TH_SYN:
            init_seqs(e, seq, end)
        else:
            # Partial connection: number as if a SYN had been seen just before -- in 32-bit
            # sequence space, as Zeek keeps it: a first sequence number of 0 (a RST answering
            # a SYN) starts at 0xffffffff, not at -1, so its size is 0.
            init_seqs(e, <int64_t>(<uint32_t>(seq - 1)), seq)
        if e.reassem == 0:
            e.reassem = 1
            e.trim = 1
    elif e.state == ZS_SYN_SENT or e.state == ZS_SYN_ACK_SENT:
        if (f & TH_SYN) and <int64_t>seq != e.start:
            init_seqs(e, seq, end)
    elif e.state == ZS_ESTABLISHED or e.state == ZS_PARTIAL:
        if f & TH_SYN:
            init_seqs(e, seq, end)
    elif e.state == ZS_RESET:
        if (f & TH_SYN) and e.prev_state == ZS_INACTIVE:
            init_seqs(e, seq, end)


cdef void update_history(ZeekConn* z, int* zdir, uint16_t f, uint32_t seq, uint32_t length) noexcept nogil:
    # S, F and R are written again only when their (relative) sequence number changed; the low
    # 16 bits of it are kept for that comparison.
    cdef int bits = ((f & TH_SYN) != 0) + ((f & TH_FIN) != 0) + ((f & TH_RST) != 0)
    cdef char code
    seq = rel(&z.e[zdir[0]], seq)
    if bits > 1:
        if (f & TH_FIN) and (f & TH_RST):
            check_hist(z, zdir, HM_FIN_RST, 73)          # 'I'
        else:
            check_hist(z, zdir, HM_MULTI, 81)            # 'Q'
    elif bits == 1:
        if f & TH_SYN:
            code = 72 if f & TH_ACK else 83              # 'H' / 'S'
            if check_hist(z, zdir, HM_SYN, code) and z.e[zdir[0]].hist_syn != <uint16_t>seq:
                add_hist_dir(z, zdir[0], code)
            z.e[zdir[0]].hist_syn = <uint16_t>seq
        if f & TH_FIN:
            # A FIN's sequence number is taken at the end of its data.
            if check_hist(z, zdir, HM_FIN, 70) and z.e[zdir[0]].hist_fin != <uint16_t>(seq + length):
                add_hist_dir(z, zdir[0], 70)
            z.e[zdir[0]].hist_fin = <uint16_t>(seq + length)
        if f & TH_RST:
            if check_hist(z, zdir, HM_RST, 82) and z.e[zdir[0]].hist_rst != <uint16_t>seq:
                add_hist_dir(z, zdir[0], 82)
            z.e[zdir[0]].hist_rst = <uint16_t>seq
    else:
        if length:
            check_hist(z, zdir, HM_DATA, 68)             # 'D'
        elif f & TH_ACK:
            check_hist(z, zdir, HM_ACK, 65)              # 'A'


cdef void gap(ZeekConn* z, int dzdir, uint32_t length, const ZeekCfg* cfg) noexcept nogil:
    # A content gap in what side ``dzdir`` sent. Zeek only believes gaps of connections that
    # are established (or closing cleanly from established) on both sides.
    cdef ZeekEnd* e = &z.e[dzdir]
    cdef ZeekEnd* p = &z.e[1 - dzdir]
    cdef bint clean = ((e.state == ZS_ESTABLISHED or (e.state == ZS_CLOSED and e.prev_state == ZS_ESTABLISHED)) and
                       (p.state == ZS_ESTABLISHED or (p.state == ZS_CLOSED and p.prev_state == ZS_ESTABLISHED)))
    if clean:
        scaled_hist(z, dzdir, CNT_GAP, 71)              # 'G'
    if clean or cfg.report_gaps_for_partial:
        z.missed += length


cdef void ack_received(ZeekConn* z, int dzdir, uint32_t ack_rel, const ZeekCfg* cfg) noexcept nogil:
    """The peer acknowledged side ``dzdir``'s data up to ``ack_rel``: anything acked but never
    seen is a content gap (the reassembler's view)."""
    cdef ZeekEnd* e = &z.e[dzdir]
    cdef uint32_t lo, hi
    if (e.eflags & ZE_FIN) and ack_rel >= e.fin_rel:
        ack_rel = e.fin_rel - 1             # the FIN itself is not data
    if ack_rel <= e.trim:
        return
    if ack_rel > e.reassem:
        if ack_rel <= 2 and (z.cflags & ZC_PARTIAL):
            # The first ack of a partial connection points just past our made-up ISN.
            pass
        else:
            if (e.eflags & ZE_OOO) and e.ooo_lo < ack_rel:
                # One hole below the out-of-order data, and one above it if the ack goes further.
                if e.ooo_lo > e.reassem:
                    gap(z, dzdir, e.ooo_lo - e.reassem, cfg)
                if ack_rel > e.ooo_hi:
                    gap(z, dzdir, ack_rel - e.ooo_hi, cfg)
                    e.reassem = ack_rel
                else:
                    e.reassem = e.ooo_hi
                e.eflags &= ~ZE_OOO
            else:
                gap(z, dzdir, ack_rel - e.reassem, cfg)
                e.reassem = ack_rel
    e.trim = ack_rel


cdef void data_sent(ZeekEnd* e, uint32_t seq_rel, uint32_t length) noexcept nogil:
    cdef uint32_t upper = seq_rel + length
    cdef uint32_t acked = rel(e, e.ack)
    if seq_rel < acked:
        if upper <= acked:
            return                          # delivered and acknowledged already
        seq_rel = acked
    if upper <= e.reassem:
        return
    if seq_rel <= e.reassem:
        e.reassem = upper
        if (e.eflags & ZE_OOO) and e.ooo_lo <= e.reassem:
            if e.ooo_hi > e.reassem:
                e.reassem = e.ooo_hi
            e.eflags &= ~ZE_OOO
    elif e.eflags & ZE_OOO:
        if seq_rel < e.ooo_lo:
            e.ooo_lo = seq_rel
        if upper > e.ooo_hi:
            e.ooo_hi = upper
    else:
        e.ooo_lo = seq_rel
        e.ooo_hi = upper
        e.eflags |= ZE_OOO


cdef void connection_closed(ZeekConn* z, int zdir, bint gen_event, const ZeekCfg* cfg) noexcept nogil:
    cdef ZeekEnd* e = &z.e[zdir]
    cdef ZeekEnd* p = &z.e[1 - zdir]
    if e.eflags & ZE_DID_CLOSE:
        return
    e.eflags |= ZE_DID_CLOSE
    if e.state == ZS_RESET or (p.eflags & ZE_DID_CLOSE) or p.state == ZS_INACTIVE:
        # Close complete: Zeek removes the connection tcp_close_delay after its last activity.
        if gen_event and (e.prev_state != ZS_INACTIVE or p.state != ZS_INACTIVE):
            z.cflags &= ~ZC_ACTIVE           # connection_finished: timers stop
        if z.close_at == 0:
            z.close_at = later(z.last_ts, cfg.close_delay)
    elif e.prev_state != ZS_INACTIVE:
        # Half closed: another expire-timer chain looks for the other side closing.
        if z.etick == 0:
            z.etick = later(z.last_ts, cfg.session_timer)


cdef void tcp_state_machine(ZeekConn* z, int* zdir, uint16_t f, uint32_t seq, uint32_t ack,
                            uint32_t length, int32_t delta_last, int64_t ts, bint* do_close,
                            bint* gen_event, const PacketRecord* r, const ZeekCfg* cfg) noexcept nogil:
    cdef int d = zdir[0]
    cdef uint16_t sp, op
    cdef ZeekEnd* e = &z.e[d]
    cdef ZeekEnd* p = &z.e[1 - d]
    cdef bint is_orig = d == 0
    do_close[0] = False
    gen_event[0] = False
    if e.state == ZS_INACTIVE:
        if f & TH_SYN:
            if is_orig:
                set_state(z, e, p, ZS_SYN_ACK_SENT if f & TH_ACK else ZS_SYN_SENT)
                if z.attempt_ts == 0:
                    z.attempt_ts = ts
            else:
                if not (f & TH_ACK) and p.state == ZS_SYN_ACK_SENT and <int64_t>seq == e.start:
                    # SYN/ACK arrived before the SYN it answers (capture from two interfaces):
                    # flip, and the connection is established.
                    z.cflags &= ~ZC_PARTIAL
                    flip_roles(z)
                    d ^= 1
                    zdir[0] = d
                    e = &z.e[d]
                    p = &z.e[1 - d]
                    set_state(z, p, e, ZS_ESTABLISHED)
                    z.cflags |= ZC_SEEN_ORIG
                if p.state == ZS_SYN_SENT:
                    set_state(z, p, e, ZS_ESTABLISHED)
                set_state(z, e, p, ZS_ESTABLISHED)
                if p.state != ZS_PARTIAL:
                    # connection_established: interactive services get a long timeout (Zeek's
                    # port_inactivity_timeouts). Half-established: the originator's port may
                    # be the service.
                    sp = r.dport if zdir[0] == 0 else r.sport
                    if z.e[0].state == ZS_INACTIVE:
                        op = r.sport if zdir[0] == 0 else r.dport
                        if not port_likely(cfg.tcp_ports, sp) and port_likely(cfg.tcp_ports, op):
                            sp = op
                    if sp == 21 or sp == 22 or sp == 23 or sp == 513:
                        z.timeout_kind = 2
        if f & TH_FIN:
            set_state(z, e, p, ZS_CLOSED)
            do_close[0] = True
            gen_event[0] = True
        if f & TH_RST:
            set_state(z, e, p, ZS_RESET)
            do_close[0] = True
            if is_orig:
                gen_event[0] = p.state != ZS_ESTABLISHED
            else:
                gen_event[0] = not (p.state == ZS_SYN_SENT or p.state == ZS_SYN_ACK_SENT)
        if e.state == ZS_INACTIVE:
            # No control flags changed the state.
            if not is_orig and length == 0 and z.e[0].state == ZS_SYN_SENT:
                pass        # some stacks ACK a SYN before answering it: not a partial connection
            elif (f & TH_ACK) and p.state == ZS_ESTABLISHED:
                # SYN/ACK seen but not the SYN, and now a pure ACK: establish.
                set_state(z, e, p, ZS_ESTABLISHED)
                z.cflags &= ~ZC_PARTIAL
                z.cflags |= ZC_SEEN_ORIG if is_orig else ZC_SEEN_RESP
            else:
                set_state(z, e, p, ZS_PARTIAL)
    elif e.state == ZS_SYN_SENT or e.state == ZS_SYN_ACK_SENT:
        if f & TH_FIN:
            set_state(z, e, p, ZS_CLOSED)
            do_close[0] = True
            gen_event[0] = True
        if f & TH_RST:
            set_state(z, e, p, ZS_RESET)
            do_close[0] = True
    elif e.state == ZS_ESTABLISHED or e.state == ZS_PARTIAL:
        if (f & TH_SYN) and e.state == ZS_PARTIAL and p.state == ZS_INACTIVE and not (f & TH_ACK):
            set_state(z, e, p, ZS_SYN_SENT)
        if (f & TH_FIN) and not (f & TH_RST):
            set_state(z, e, p, ZS_CLOSED)
            if p.state == ZS_RESET and p.prev_state == ZS_CLOSED:
                # FIN then RST from the peer was a normal termination after all.
                set_state(z, p, e, ZS_CLOSED)
            do_close[0] = True
            gen_event[0] = True
        if f & TH_RST:
            set_state(z, e, p, ZS_RESET)
            do_close[0] = True
    elif e.state == ZS_CLOSED:
        if (f & TH_RST) and p.state != ZS_CLOSED:
            set_state(z, e, p, ZS_RESET)
            if not (e.eflags & ZE_DID_CLOSE):
                do_close[0] = True
    # ZS_RESET: nothing changes any more.


cdef void zk_tcp(ZeekConn* z, int side, const PacketRecord* r, int64_t ts,
                 const ZeekCfg* cfg) noexcept nogil:
    cdef int zdir = side ^ ((z.cflags & ZC_ORIG_IS_B) != 0)
    cdef uint16_t f = r.tcp_flags
    cdef uint32_t seq = r.tcp_seq, ack = r.tcp_ack
    cdef uint32_t length = r.payload_len, seg_len, end, ack_rel = 0, data_rel
    cdef int32_t delta, delta_last
    cdef bint underflow, ack_underflow, do_close, gen_event, ack_ok
    cdef ZeekEnd* e
    cdef ZeekEnd* p
    if r.csum_l4 == CSUM_BAD:
        # Zeek counts the bad checksum in the history and otherwise ignores the packet.
        scaled_hist(z, zdir, CNT_CHECKSUM, 67)          # 'C'
        return
    # Zeek's is_partial: the connection did not start with the originator's plain SYN.
    if zdir == 0:
        if not (z.cflags & ZC_SEEN_ORIG):
            if not (f & TH_SYN) or (f & TH_ACK):
                z.cflags |= ZC_PARTIAL
            else:
                z.cflags &= ~ZC_PARTIAL
    elif not (z.cflags & ZC_SEEN_RESP) and not (z.cflags & ZC_PARTIAL):
        if not (f & TH_SYN):
            z.cflags |= ZC_PARTIAL
    seg_len = length
    if f & TH_SYN:
        seg_len += 1
    if f & TH_FIN:
        seg_len += 1
    if f & TH_RST:
        seg_len -= length               # data on a RST is not part of the stream
    end = seq + seg_len
    init_endpoint(&z.e[zdir], f, seq, end)
    e = &z.e[zdir]
    underflow = e.last_wraps == 0 and seq_delta(seq, <uint32_t>e.start) < 0

    update_history(z, &zdir, f, seq, length)           # may flip the roles
    e = &z.e[zdir]
    p = &z.e[1 - zdir]

    if r.tcp_window == 0 and not (f & TH_RST) and p.state != ZS_CLOSED and e.state != ZS_RESET:
        scaled_hist(z, zdir, CNT_ZERO_WINDOW, 87)      # 'W'

    if not ((z.e[0].eflags & ZE_DID_CLOSE) and (z.e[1].eflags & ZE_DID_CLOSE)):
        if ts > z.last_ts:
            z.last_ts = ts         # never backwards (captures may have out-of-order timestamps)

    if f & TH_FIN:
        e.eflags |= ZE_FIN
        e.fin_rel = rel(e, seq) + seg_len
    if f & TH_RST:
        e.eflags |= ZE_RST

    ack_ok = False
    if f & TH_ACK:
        if p.state == ZS_INACTIVE:
            ack_rel = 1
            # Number the silent side as if its SYN had been acknowledged.
            init_seqs(p, <int64_t>ack - 1, ack - 1)
            if p.reassem == 0:
                p.reassem = 1
                p.trim = 1
            ack_ok = True
        else:
            delta = seq_delta(ack, <uint32_t>p.start)
            ack_underflow = p.ack_wraps == 0 and delta < 0
            if ack_underflow:
                ack_rel = 0
            else:
                ack_rel = rel(p, ack)
                ack_ok = True
                if not (f & TH_RST):
                    # RST acks are not trusted; a jump to 0 is more likely a broken ack.
                    delta = seq_delta(ack, p.ack)
                    if not (ack == 0 and delta > TOO_LARGE_SEQ_DELTA) and delta > 0:
                        if ack < p.ack:
                            p.ack_wraps += 1
                        p.ack = ack

    # Highest sequence number sent; a step back with data is a retransmission.
    delta_last = seq_delta(end, e.last)
    if (f & (TH_SYN | TH_RST)) and (delta_last > TOO_LARGE_SEQ_DELTA or delta_last < -TOO_LARGE_SEQ_DELTA):
        pass
    elif (f & TH_FIN) and <int64_t>e.last == e.start + 1:
        if end < e.last:
            e.last_wraps += 1
        e.last = end
    elif e.state == ZS_RESET:
        pass
    elif delta_last > 0:
        if end < e.last:
            e.last_wraps += 1
        e.last = end
    elif length > 0:
        scaled_hist(z, zdir, CNT_RETRANSMIT, 84)       # 'T'

    tcp_state_machine(z, &zdir, f, seq, ack, length, delta_last, ts, &do_close, &gen_event, r, cfg)
    e = &z.e[zdir]
    p = &z.e[1 - zdir]

    if (f & TH_ACK) and ack_ok:
        ack_received(z, 1 - zdir, ack_rel, cfg)

    # Only fully captured, in-order-numbered data reaches the reassembler.
    if (length > 0 and not (f & TH_RST) and not underflow and r.payload_off != OFF_NONE and
            r.caplen >= <uint32_t>r.payload_off + length):
        data_rel = rel(e, seq) + (1 if f & TH_SYN else 0)
        data_sent(e, data_rel, length)

    if do_close:
        connection_closed(z, zdir, gen_event, cfg)

    e.pkts += 1
    e.ip_bytes += ip_total_len(r)
    e.flags_seen |= f


# ---------------------------------------------------------------- UDP, ICMP, other

cdef void zk_udp(ZeekConn* z, int side, const PacketRecord* r, int64_t ts) noexcept nogil:
    cdef int zdir = side ^ ((z.cflags & ZC_ORIG_IS_B) != 0)
    cdef ZeekEnd* e = &z.e[zdir]
    # Zeek counts the packet before it checks the checksum.
    e.pkts += 1
    e.ip_bytes += ip_total_len(r)
    if r.csum_l4 == CSUM_BAD:
        scaled_hist(z, zdir, CNT_CHECKSUM, 67)
        return
    if ts > z.last_ts:
        z.last_ts = ts         # never backwards (captures may have out-of-order timestamps)
    if zdir == 0:
        if not (z.hist_seen & HM_UDP_ORIG_DATA):
            z.hist_seen |= HM_UDP_ORIG_DATA
            add_hist(z, 68)                             # 'D'
    else:
        if not (z.hist_seen & HM_UDP_RESP_DATA):
            z.hist_seen |= HM_UDP_RESP_DATA
            add_hist(z, 100)                            # 'd'
    e.size += r.payload_len
    e.eflags |= ZE_ACTIVE


cdef void zk_other(ZeekConn* z, int side, const PacketRecord* r, int64_t ts) noexcept nogil:
    cdef int zdir = side ^ ((z.cflags & ZC_ORIG_IS_B) != 0)
    cdef ZeekEnd* e = &z.e[zdir]
    if r.csum_l4 == CSUM_BAD:
        return
    if ts > z.last_ts:
        z.last_ts = ts         # never backwards (captures may have out-of-order timestamps)
    e.pkts += 1
    e.ip_bytes += ip_total_len(r)
    if z.proto_class == PC_ICMP:
        e.size += r.payload_len     # Zeek keeps no payload sizes for unknown transports
    e.eflags |= ZE_ACTIVE


# ---------------------------------------------------------------- timers and the end

cdef inline int64_t next_tick(int64_t base, int64_t period, int64_t after_t) noexcept nogil:
    # First time base + k*period (k >= 0) strictly after ``after_t``.
    cdef int64_t k
    if base > after_t:
        return base
    if after_t >= INT64_MAX - period:
        return INT64_MAX
    k = (after_t - base) // period + 1
    return base + k * period


cdef void zk_update_deadline(ZeekConn* z, const ZeekCfg* cfg) noexcept nogil:
    """When Zeek would remove this connection if no further packet arrived."""
    cdef int64_t d, t, t2
    cdef ZeekEnd* o = &z.e[0]
    cdef ZeekEnd* r = &z.e[1]
    cdef bint any_closed, any_reset, any_inactive
    if z.proto_class == PC_TCP:
        if z.timeout_kind == 2:
            d = later(z.last_ts, cfg.interactive_inactivity)
        elif z.timeout_kind == 1:
            d = later(z.last_ts, cfg.tcp_inactivity)
        else:
            d = later(z.last_ts, cfg.udp_inactivity)
        if (z.cflags & ZC_ACTIVE) and z.attempt_ts and (o.state == ZS_SYN_SENT or o.state == ZS_SYN_ACK_SENT) and r.state == ZS_INACTIVE:
            t = later(z.attempt_ts, cfg.attempt_delay)
            if t < d:
                d = t
        if z.close_at and z.close_at < d:
            d = z.close_at
        any_closed = ((o.eflags | r.eflags) & ZE_DID_CLOSE) != 0
        any_reset = o.state == ZS_RESET or r.state == ZS_RESET
        any_inactive = o.state == ZS_INACTIVE or r.state == ZS_INACTIVE
        if z.close_at == 0 and (z.cflags & ZC_ACTIVE) and ((any_closed and (((o.eflags & r.eflags) & ZE_DID_CLOSE) or any_reset or any_inactive))
                                       or (o.state == ZS_INACTIVE and r.state == ZS_INACTIVE)):
            # The expire timer (every tcp_session_timer) removes connections that have been
            # quiet for tcp_connection_linger after closing or resetting.
            t = next_tick(later(z.first_ts, cfg.syn_timeout), cfg.session_timer, later(z.last_ts, cfg.linger))
            if z.etick:
                t2 = next_tick(z.etick, cfg.session_timer, later(z.last_ts, cfg.linger))
                if t2 < t:
                    t = t2
            if t < d:
                d = t
    elif z.proto_class == PC_UDP:
        d = later(z.last_ts, cfg.udp_inactivity)
        if z.timeout_kind == 3:
            # The DNS analyzer's timer fires every dns_session_timeout from the start and
            # removes the connection once it has been quiet for that long, less one second.
            t = next_tick(later(z.first_ts, cfg.dns_session), cfg.dns_session,
                          later(z.last_ts, cfg.dns_session - SEC - 1))
            if t < d:
                d = t
    elif z.proto_class == PC_ICMP:
        d = later(z.last_ts, cfg.icmp_inactivity)
    else:
        d = later(z.last_ts, cfg.other_inactivity)
    z.deadline = d


cdef void zk_packet(ZeekConn* z, int side, const PacketRecord* r, int64_t ts,
                    const ZeekCfg* cfg) noexcept nogil:
    if z.proto_class == PC_TCP:
        zk_tcp(z, side, r, ts, cfg)
    elif z.proto_class == PC_UDP:
        zk_udp(z, side, r, ts)
    else:
        zk_other(z, side, r, ts)
    zk_update_deadline(z, cfg)


cdef uint64_t zk_size(const ZeekConn* z, int end) noexcept nogil:
    """Payload bytes side ``end`` sent: from sequence numbers for TCP (as Zeek does)."""
    cdef const ZeekEnd* e = &z.e[end]
    cdef const ZeekEnd* p = &z.e[1 - end]
    cdef int64_t last64, ack64, size
    if z.proto_class != PC_TCP:
        return e.size
    if e.state == ZS_INACTIVE:
        return 0
    last64 = ((<int64_t>e.last_wraps) << 32) | e.last
    ack64 = ((<int64_t>e.ack_wraps) << 32) | e.ack
    if (e.prev_state == ZS_SYN_SENT and e.state == ZS_RESET and p.state == ZS_INACTIVE and
            not (ack64 == e.start or ack64 == e.start + 1)):
        return 0            # a half-open connection discovered and aborted
    size = (last64 if last64 > ack64 else ack64) - e.start
    if size <= 0:
        return 0
    size -= 1               # the SYN
    if (e.eflags & ZE_FIN) and size > 0:
        size -= 1           # the FIN
    return <uint64_t>size


cdef bint hist_is_rstos0(const ZeekConn* z) noexcept nogil:
    # Zeek's pattern /\^?S[^HAFGIQ]*R.*/ over the whole history.
    cdef int i = 0, n = z.hist_len
    cdef char c
    if i < n and z.hist[i] == 94:
        i += 1
    if i >= n or z.hist[i] != 83:
        return False
    i += 1
    while i < n:
        c = z.hist[i]
        if c == 82:
            return True
        if c == 72 or c == 65 or c == 70 or c == 71 or c == 73 or c == 81:
            return False
        i += 1
    return False


cdef uint8_t zk_conn_state(const ZeekConn* z) noexcept nogil:
    cdef uint8_t os = z.e[0].state, rs = z.e[1].state
    cdef bint o_inactive, r_inactive, o_active, r_active
    if z.proto_class == PC_TCP:
        o_inactive = os == ZS_INACTIVE or os == ZS_PARTIAL
        r_inactive = rs == ZS_INACTIVE or rs == ZS_PARTIAL
        if rs == ZS_RESET:
            if (os == ZS_SYN_SENT or os == ZS_SYN_ACK_SENT or
                    (os == ZS_RESET and zk_size(z, 0) == 0 and zk_size(z, 1) == 0)):
                return CS_REJ
            if o_inactive:
                return CS_RSTRH
            return CS_RSTR
        if os == ZS_RESET:
            if r_inactive:
                return CS_RSTOS0 if hist_is_rstos0(z) else CS_OTH
            return CS_RSTO
        if rs == ZS_CLOSED and os == ZS_CLOSED:
            return CS_SF
        if os == ZS_CLOSED:
            return CS_SH if r_inactive else CS_S2
        if rs == ZS_CLOSED:
            return CS_SHR if o_inactive else CS_S3
        if os == ZS_SYN_SENT and rs == ZS_INACTIVE:
            return CS_S0
        if os == ZS_ESTABLISHED and rs == ZS_ESTABLISHED:
            return CS_S1
        return CS_OTH
    if z.proto_class == PC_UDP:
        o_active = (z.e[0].eflags & ZE_ACTIVE) != 0
        r_active = (z.e[1].eflags & ZE_ACTIVE) != 0
        if o_active:
            return CS_SF if r_active else CS_S0
        return CS_SHR if r_active else CS_OTH
    return CS_OTH
