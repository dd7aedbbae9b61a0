"""A host's TCP over real IPv4/IPv6 frames (see stack.pxd), and its Python face ``TcpStack``."""
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memset, memcpy, memcmp
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING

from fastpath.includes.byteorder cimport load_be16, load_be32
from fastpath.wire.checksum cimport csum_partial, csum_ok, pseudo_header_v4, pseudo_header_v6
from fastpath.wire.record cimport (IPPROTO_TCP, IPF_DF, IPF_MF, IPF_FRAGMENT, IPF_ROUTING,
                                   ETH_P_IPV4, ETH_P_IPV6, OPT_MSS, OPT_WSCALE, OPT_SACK_PERM,
                                   OPT_TIMESTAMP, OPT_MALFORMED)
from fastpath.wire.ethernet cimport eth_repr_t, eth_parse, eth_emit
from fastpath.wire.ipv4 cimport ipv4_repr_t, ipv4_parse, ipv4_header_checksum_ok, ipv4_emit
from fastpath.wire.ipv6 cimport ipv6_repr_t, ipv6_ext_t, ipv6_parse, ipv6_walk, ipv6_emit
from fastpath.wire.tcp cimport (tcp_repr_t, tcp_parse, tcp_header_len, tcp_emit, TCP_FIN, TCP_SYN,
                                TCP_RST, TCP_ACK_FLAG)
from fastpath.tcp.seq cimport seq_gt, seq_lt
from fastpath.tcp.tcb cimport *
from fastpath.tcp.failpoint cimport (fp_state_t, fp_state, fp_check, FP_CONN_ALLOC, FP_SYN_QUEUE,
                                     FP_ACCEPT_QUEUE, FP_TABLE_INSERT, FP_TX_ALLOC)
from fastpath.tcp.buffers cimport sndbuf_free, rcvbuf_free
from fastpath.tcp.isn cimport (siphash24, isn_generate, ts_offset_for, cookie_make, cookie_check,
                               cookie_ts_encode, cookie_ts_decode)
from fastpath.tcp.input cimport (tcp_accept_syn, tcp_accept_cookie, tcp_choose_wscale, IN_OK,
                                 IN_NOMEM, IN_ABANDON, IN_NOCONN)
from fastpath.tcp.output cimport tcp_output, tcp_poll_at, tcp_set_closed
from fastpath.tcp.timers cimport tcp_keepalive_arm
from fastpath.tcp.connection cimport (tcp_conn_setup, tcp_open, tcp_process, tcp_poll,
                                      tcp_release, tcp_check, tcp_abort, tcp_shutdown,
                                      config_to_c, error_for, ConnectionView)

import ipaddress
import os

from fastpath.errors import ConfigError, CapacityError, ConnectionClosed, FastpathError
from fastpath.tcp.config import TcpConfig
from fastpath.tcp.state import State

cdef fp_state_t* _fp = fp_state()

cdef enum:
    IN_FRAME_OK = 0
    IN_FRAME_DROPPED = 1


# ------------------------------------------------------------------ table and heap

cdef inline uint32_t _hash(const tcp_stack_t* st, const uint8_t* laddr, uint16_t lport,
                           const uint8_t* raddr, uint16_t rport) noexcept nogil:
    cdef uint8_t m[36]
    memcpy(m, laddr, 16)
    memcpy(m + 16, raddr, 16)
    m[32] = <uint8_t>(lport >> 8)
    m[33] = <uint8_t>lport
    m[34] = <uint8_t>(rport >> 8)
    m[35] = <uint8_t>rport
    return <uint32_t>siphash24(st.secrets.hash_key, m, 36)


cdef inline bint _match(const tcp_conn_t* c, const uint8_t* laddr, uint16_t lport,
                        const uint8_t* raddr, uint16_t rport) noexcept nogil:
    return (c.lport == lport and c.rport == rport and memcmp(c.raddr, raddr, 16) == 0 and
            memcmp(c.laddr, laddr, 16) == 0)


cdef tcp_conn_t* _lookup(const tcp_stack_t* st, const uint8_t* laddr, uint16_t lport,
                         const uint8_t* raddr, uint16_t rport, uint32_t h) noexcept nogil:
    cdef uint32_t i = h & st.table_mask
    cdef tcp_conn_t* c
    while True:
        c = st.table[i]
        if c == NULL:
            return NULL
        if c.thash == h and _match(c, laddr, lport, raddr, rport):
            return c
        i = (i + 1) & st.table_mask


cdef int _table_insert(tcp_stack_t* st, tcp_conn_t* c) noexcept nogil:
    cdef uint32_t i
    if st.nconns >= st.max_conns or fp_check(_fp, FP_TABLE_INSERT):
        return -1
    c.thash = _hash(st, c.laddr, c.lport, c.raddr, c.rport)
    i = c.thash & st.table_mask
    while st.table[i] != NULL:
        i = (i + 1) & st.table_mask
    st.table[i] = c
    st.nconns += 1
    c.owner_flags |= SF_HASHED
    return 0


cdef void _table_remove(tcp_stack_t* st, tcp_conn_t* c) noexcept nogil:
    # Linear probing with backward-shift deletion: no tombstones, lookups stay short.
    cdef uint32_t mask = st.table_mask, i = c.thash & mask, j, k
    if not (c.owner_flags & SF_HASHED):
        return
    while st.table[i] != c:
        i = (i + 1) & mask
    st.table[i] = NULL
    if st.last == c:
        st.last = NULL
    j = i
    while True:
        j = (j + 1) & mask
        if st.table[j] == NULL:
            break
        k = st.table[j].thash & mask
        # Move the entry at j into the hole at i unless its home slot k lies cyclically in (i, j].
        if (i <= j and (k <= i or k > j)) or (i > j and k <= i and k > j):
            st.table[i] = st.table[j]
            st.table[j] = NULL
            i = j
    st.nconns -= 1
    c.owner_flags &= ~SF_HASHED


cdef inline void _heap_swap(tcp_stack_t* st, uint32_t a, uint32_t b) noexcept nogil:
    cdef tcp_conn_t* t = st.heap[a]
    st.heap[a] = st.heap[b]
    st.heap[b] = t
    st.heap[a].heap_idx = a
    st.heap[b].heap_idx = b


cdef void _heap_up(tcp_stack_t* st, uint32_t i) noexcept nogil:
    cdef uint32_t p
    while i > 0:
        p = (i - 1) >> 1
        if st.heap[p].deadline <= st.heap[i].deadline:
            break
        _heap_swap(st, i, p)
        i = p


cdef void _heap_down(tcp_stack_t* st, uint32_t i) noexcept nogil:
    cdef uint32_t l, r, m
    while True:
        l = 2 * i + 1
        r = l + 1
        m = i
        if l < st.heap_len and st.heap[l].deadline < st.heap[m].deadline:
            m = l
        if r < st.heap_len and st.heap[r].deadline < st.heap[m].deadline:
            m = r
        if m == i:
            break
        _heap_swap(st, i, m)
        i = m


cdef void _heap_remove(tcp_stack_t* st, tcp_conn_t* c) noexcept nogil:
    cdef uint32_t i = c.heap_idx
    if i == 0xffffffffu:
        return
    st.heap_len -= 1
    if i != st.heap_len:
        st.heap[i] = st.heap[st.heap_len]
        st.heap[i].heap_idx = i
        _heap_down(st, i)
        _heap_up(st, i)
    c.heap_idx = 0xffffffffu


cdef void _heap_set(tcp_stack_t* st, tcp_conn_t* c, uint64_t deadline) noexcept nogil:
    # The heap holds at most max_conns entries (allocated up front): filing cannot fail.
    cdef uint64_t old = c.deadline
    if deadline == 0:
        _heap_remove(st, c)
        c.deadline = 0
        return
    c.deadline = deadline
    if c.heap_idx == 0xffffffffu:
        c.heap_idx = st.heap_len
        st.heap[st.heap_len] = c
        st.heap_len += 1
        _heap_up(st, c.heap_idx)
    elif deadline < old:
        _heap_up(st, c.heap_idx)
    elif deadline > old:
        _heap_down(st, c.heap_idx)


# ------------------------------------------------------------------ frames out

cdef int _emit_frame(tcp_stack_t* st, uint8_t family, const uint8_t* laddr, const uint8_t* raddr,
                     const tcp_repr_t* h, const uint8_t* p1, uint32_t n1, const uint8_t* p2,
                     uint32_t n2) noexcept nogil:
    # [Ethernet] + IPv4/IPv6 + TCP with the wire layer's emitters: the payload is copied once,
    # straight to its place in the frame, and the TCP checksum is computed over it there.
    cdef uint32_t cap = 0, l2 = 0, iph, off, seg
    cdef uint8_t* buf
    cdef Py_ssize_t thl
    cdef uint64_t pseudo
    if fp_check(_fp, FP_TX_ALLOC):
        st.stats.tx_busy += 1
        return -1
    buf = st.tx_alloc(st.tx_ctx, &cap)
    if buf == NULL:
        st.stats.tx_busy += 1
        return -1
    thl = tcp_header_len(h)
    iph = 20 if family == 4 else 40
    if st.use_eth:
        st.eth.ethertype = ETH_P_IPV4 if family == 4 else ETH_P_IPV6
        l2 = <uint32_t>eth_emit(buf, cap, &st.eth)
    off = l2 + iph + <uint32_t>thl
    seg = <uint32_t>thl + n1 + n2
    if thl < 0 or off + n1 + n2 > cap or seg > 65535 - 40:
        st.tx_commit(st.tx_ctx, buf, 0)
        return -1
    if n2:
        # A payload in two pieces (the send ring wrapped) is put in place first; a single
        # piece is copied by tcp_emit after it writes the header, so that the checksum's
        # reads of the fresh header do not wait behind the payload's stores.
        memcpy(buf + off, p1, n1)
        memcpy(buf + off + n1, p2, n2)
        p1 = buf + off
        n1 += n2
    if family == 4:
        st.ip4.dst = load_be32(raddr + 12)
        st.ip4.ident = st.ip_ident
        st.ip_ident += 1
        ipv4_emit(buf + l2, cap - l2, &st.ip4, <uint16_t>seg)
        pseudo = pseudo_header_v4(st.ip4.src, st.ip4.dst, IPPROTO_TCP, seg)
    else:
        memcpy(st.ip6.dst, raddr, 16)
        ipv6_emit(buf + l2, cap - l2, &st.ip6, seg)
        pseudo = pseudo_header_v6(laddr, raddr, IPPROTO_TCP, seg)
    tcp_emit(buf + l2 + iph, cap - l2 - iph, h, p1, n1, pseudo)
    st.tx_commit(st.tx_ctx, buf, off + n1)
    st.stats.tx_frames += 1
    if h.flags & TCP_RST:
        st.stats.rst_sent += 1
    return 0


cdef int _conn_emit(void* ctx, tcp_conn_t* c, const tcp_repr_t* h, const uint8_t* p1,
                    uint32_t n1, const uint8_t* p2, uint32_t n2) noexcept nogil:
    return _emit_frame(<tcp_stack_t*>ctx, c.family, c.laddr, c.raddr, h, p1, n1, p2, n2)


cdef void _reply_rst(tcp_stack_t* st, uint8_t family, const uint8_t* laddr, const uint8_t* raddr,
                     const tcp_repr_t* seg, uint32_t seglen) noexcept nogil:
    # RFC 9293 3.10.7.1: nothing here. <SEQ=SEG.ACK><CTL=RST> if the segment has an ACK,
    # else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. Never in answer to a RST.
    cdef tcp_repr_t h
    if seg.flags & TCP_RST:
        return
    memset(&h, 0, sizeof(h))
    h.sport = seg.dport
    h.dport = seg.sport
    if seg.flags & TCP_ACK_FLAG:
        h.seq = seg.ack
        h.flags = TCP_RST
    else:
        h.seq = 0
        h.ack = seg.seq + seglen
        h.flags = TCP_RST | TCP_ACK_FLAG
    _emit_frame(st, family, laddr, raddr, &h, NULL, 0, NULL, 0)


# ------------------------------------------------------------------ connection bookkeeping

cdef inline const tcp_config_t* _cfg_for(tcp_stack_t* st, uint8_t family) noexcept nogil:
    return &st.cfg if family == 4 else &st.cfg6


cdef tcp_conn_t* _alloc_conn(tcp_stack_t* st, uint8_t family, const uint8_t* laddr, uint16_t lport,
                             const uint8_t* raddr, uint16_t rport) noexcept nogil:
    cdef tcp_conn_t* c
    if fp_check(_fp, FP_CONN_ALLOC):
        return NULL
    c = <tcp_conn_t*>malloc(sizeof(tcp_conn_t))
    if c == NULL:
        return NULL
    tcp_conn_setup(c, _cfg_for(st, family), _conn_emit, <void*>st)
    c.family = family
    memcpy(c.laddr, laddr, 16)
    memcpy(c.raddr, raddr, 16)
    c.lport = lport
    c.rport = rport
    c.owner = <void*>st
    return c


cdef void _free_conn(tcp_stack_t* st, tcp_conn_t* c) noexcept nogil:
    tcp_release(c)
    free(c)
    st.stats.conns_freed += 1


cdef void _acceptq_remove(tcp_listener_t* L, tcp_conn_t* c) noexcept nogil:
    cdef tcp_conn_t* prev = NULL
    cdef tcp_conn_t* p = L.acc_head
    while p != NULL and p != c:
        prev = p
        p = p.qnext
    if p == NULL:
        return
    if prev == NULL:
        L.acc_head = c.qnext
    else:
        prev.qnext = c.qnext
    if L.acc_tail == c:
        L.acc_tail = prev
    c.qnext = NULL
    L.acc_count -= 1


cdef void _unlink(tcp_stack_t* st, tcp_conn_t* c) noexcept nogil:
    # Out of the table, the heap and any listener queue (the block itself may live on while
    # the application holds a handle).
    cdef tcp_listener_t* L
    _table_remove(st, c)
    _heap_remove(st, c)
    c.deadline = 0
    if c.listener:
        L = &st.listeners[c.listener - 1]
        if c.owner_flags & SF_SYNQ:
            L.syn_count -= 1
        if c.owner_flags & SF_ACCEPTQ:
            _acceptq_remove(L, c)
    c.owner_flags &= ~(SF_SYNQ | SF_ACCEPTQ)
    if c.owner_flags & SF_TIMEWAIT:
        st.ntimewait -= 1
        c.owner_flags &= ~SF_TIMEWAIT


cdef void _after(tcp_stack_t* st, tcp_conn_t* c, uint64_t now) noexcept nogil:
    # Bookkeeping after the core touched c: handshake completion moves it to the accept queue,
    # TIME-WAIT gives back what it no longer needs, CLOSED unlinks (and frees an orphan).
    cdef tcp_listener_t* L
    cdef uint64_t d
    if (c.owner_flags & SF_SYNQ) and c.state >= TCPS_ESTABLISHED:
        L = &st.listeners[c.listener - 1]
        L.syn_count -= 1
        c.owner_flags &= ~SF_SYNQ
        c.owner_flags |= SF_ACCEPTQ
        c.qnext = NULL
        if L.acc_tail == NULL:
            L.acc_head = c
        else:
            L.acc_tail.qnext = c
        L.acc_tail = c
        L.acc_count += 1
        st.stats.conns_accepted += 1
    if c.state == TCPS_TIME_WAIT and not (c.owner_flags & SF_TIMEWAIT):
        c.owner_flags |= SF_TIMEWAIT
        st.ntimewait += 1
        sndbuf_free(&c.snd)                 # everything we sent is acknowledged
        if c.rcv.len == 0 or not (c.owner_flags & SF_USER):
            rcvbuf_free(&c.rcv)
        if st.ntimewait > st.max_timewait:
            st.stats.timewait_overflow += 1
            tcp_set_closed(c, TCPE_OK)
    if (c.state == TCPS_FIN_WAIT_2 and c.t_2msl == 0 and
            not (c.owner_flags & (SF_USER | SF_ACCEPTQ))):
        # An orphan waiting for a FIN that may never come: bounded like Linux's tcp_fin_timeout.
        c.t_2msl = tcp_deadline(now, 2 * <uint64_t>c.cfg.msl_us)
    if c.state == TCPS_CLOSED:
        _unlink(st, c)
        if not (c.owner_flags & SF_USER):
            _free_conn(st, c)
        return
    if c.owner_flags & SF_DIRTY:
        _heap_set(st, c, 1)         # the application changed it: output at the next poll
        return
    d = tcp_poll_at(c, now)
    if d and d <= now:
        d = now + 1                 # output already ran: only a refused device leaves work
    _heap_set(st, c, d)


# ------------------------------------------------------------------ listeners

cdef int _find_listener(const tcp_stack_t* st, uint16_t port) noexcept nogil:
    cdef int i
    for i in range(MAX_LISTENERS):
        if st.listeners[i].active and st.listeners[i].port == port:
            return i
    return -1


cdef void _send_cookie_synack(tcp_stack_t* st, uint64_t now, uint8_t family, const uint8_t* laddr,
                              const uint8_t* raddr, const tcp_repr_t* syn) noexcept nogil:
    # RFC 4987 3.6: answer from a cookie, keep nothing. Without timestamps there is nowhere to
    # keep the peer's window scale and SACK-permitted, so they are not offered.
    cdef tcp_repr_t h
    cdef const tcp_config_t* cfg = _cfg_for(st, family)
    cdef uint16_t peer_mss = syn.mss if syn.options & OPT_MSS else (536 if family == 4 else 1220)
    cdef uint32_t tso, ts_now
    cdef int ws = -1
    memset(&h, 0, sizeof(h))
    h.sport = syn.dport
    h.dport = syn.sport
    h.seq = cookie_make(&st.secrets, laddr, syn.dport, raddr, syn.sport, syn.seq, peer_mss, now)
    h.ack = syn.seq + 1
    h.flags = TCP_SYN | TCP_ACK_FLAG
    h.window = cfg.rcvbuf if cfg.rcvbuf < 65535 else 65535
    h.options = OPT_MSS
    h.mss = cfg.mss                      # what we can receive (RFC 9293 3.7.1)
    if (cfg.flags & CFG_TS) and (syn.options & OPT_TIMESTAMP):
        tso = ts_offset_for(&st.secrets, laddr, syn.dport, raddr, syn.sport)
        ts_now = <uint32_t>(now // 1000) + tso
        if (cfg.flags & CFG_WSCALE) and (syn.options & OPT_WSCALE):
            ws = syn.wscale
            h.options |= OPT_WSCALE
            h.wscale = tcp_choose_wscale(cfg.rcvbuf)
        if (cfg.flags & CFG_SACK) and (syn.options & OPT_SACK_PERM):
            h.options |= OPT_SACK_PERM
        h.options |= OPT_TIMESTAMP
        h.tsval = cookie_ts_encode(ts_now, ws, (h.options & OPT_SACK_PERM) != 0)
        h.tsecr = syn.tsval
    if _emit_frame(st, family, laddr, raddr, &h, NULL, 0, NULL, 0) == 0:
        st.stats.cookies_sent += 1


cdef void _listen_syn(tcp_stack_t* st, int idx, uint64_t now, uint8_t family, const uint8_t* laddr,
                      const uint8_t* raddr, const tcp_repr_t* seg) noexcept nogil:
    # RFC 9293 3.10.7.2 third: a SYN on a listener.
    cdef tcp_listener_t* L = &st.listeners[idx]
    cdef tcp_conn_t* c
    cdef uint32_t iss
    st.stats.syn_received += 1
    if L.acc_count >= L.backlog:
        st.stats.syn_dropped += 1           # nobody accepts: do not even answer (as Linux)
        return
    if L.syn_count >= L.backlog or fp_check(_fp, FP_SYN_QUEUE):
        if _cfg_for(st, family).flags & CFG_SYNCOOKIES:
            _send_cookie_synack(st, now, family, laddr, raddr, seg)
        else:
            st.stats.syn_dropped += 1
        return
    c = _alloc_conn(st, family, laddr, seg.dport, raddr, seg.sport)
    if c == NULL:
        st.stats.syn_dropped += 1
        st.stats.rx_dropped_nomem += 1
        return
    if _table_insert(st, c) < 0:
        free(c)
        st.stats.syn_dropped += 1
        return
    iss = isn_generate(&st.secrets, laddr, seg.dport, raddr, seg.sport, now)
    tcp_accept_syn(c, now, seg, iss, ts_offset_for(&st.secrets, laddr, seg.dport, raddr, seg.sport))
    c.listener = <uint16_t>(idx + 1)
    c.owner_flags |= SF_SYNQ
    L.syn_count += 1
    tcp_output(c, now)
    _after(st, c, now)


cdef void _listen_cookie_ack(tcp_stack_t* st, int idx, uint64_t now, uint8_t family,
                             const uint8_t* laddr, const uint8_t* raddr, const tcp_repr_t* seg,
                             const uint8_t* payload, uint32_t plen) noexcept nogil:
    # RFC 4987 3.6: an ACK to a listener may return a cookie; if it checks, build the
    # connection now, directly in ESTABLISHED.
    cdef tcp_listener_t* L = &st.listeners[idx]
    cdef tcp_conn_t* c
    cdef uint16_t mss
    cdef int ws = -1
    cdef bint sack = False
    if not (_cfg_for(st, family).flags & CFG_SYNCOOKIES):
        _reply_rst(st, family, laddr, raddr, seg, plen + (1 if seg.flags & TCP_FIN else 0))
        return
    mss = cookie_check(&st.secrets, laddr, seg.dport, raddr, seg.sport, seg.seq - 1, seg.ack - 1, now)
    if mss == 0:
        st.stats.cookies_rejected += 1
        _reply_rst(st, family, laddr, raddr, seg, plen + (1 if seg.flags & TCP_FIN else 0))
        return
    if seg.options & OPT_TIMESTAMP:
        if cookie_ts_decode(seg.tsecr, &ws, &sack) < 0:
            ws = -1
            sack = False
    if L.acc_count >= L.backlog or fp_check(_fp, FP_ACCEPT_QUEUE):
        st.stats.accept_overflow += 1
        return
    c = _alloc_conn(st, family, laddr, seg.dport, raddr, seg.sport)
    if c == NULL:
        st.stats.rx_dropped_nomem += 1
        return
    if _table_insert(st, c) < 0:
        free(c)
        st.stats.rx_dropped_nomem += 1
        return
    c.listener = <uint16_t>(idx + 1)
    if tcp_accept_cookie(c, now, seg, mss, ws, sack,
                         ts_offset_for(&st.secrets, laddr, seg.dport, raddr, seg.sport)) < 0:
        _table_remove(st, c)
        _free_conn(st, c)
        st.stats.rx_dropped_nomem += 1
        return
    st.stats.cookies_accepted += 1
    c.owner_flags |= SF_SYNQ             # _after moves it to the accept queue
    L.syn_count += 1
    if plen or (seg.flags & TCP_FIN):
        tcp_process(c, now, seg, payload, plen)
    else:
        tcp_output(c, now)
    _after(st, c, now)


# ------------------------------------------------------------------ frames in

cdef int stack_input(tcp_stack_t* st, uint64_t now, const uint8_t* frame, uint32_t n) noexcept nogil:
    cdef eth_repr_t eth
    cdef ipv4_repr_t ip4
    cdef ipv6_repr_t ip6
    cdef ipv6_ext_t ext
    cdef tcp_repr_t h
    cdef Py_ssize_t off = 0, ihl, hl, r
    cdef const uint8_t* ip
    cdef const uint8_t* tcp
    cdef uint32_t tlen, total, plen, hsh
    cdef uint64_t pseudo
    cdef uint8_t family
    cdef uint8_t laddr[16]
    cdef uint8_t raddr[16]
    cdef uint16_t ethertype
    cdef tcp_conn_t* c
    cdef int idx, code
    st.stats.rx_frames += 1
    if st.use_eth:
        r = eth_parse(frame, n, &eth)
        if r < 0:
            st.stats.rx_malformed += 1
            return IN_FRAME_DROPPED
        off = r
        ethertype = eth.ethertype
    else:
        if n < 1:
            st.stats.rx_malformed += 1
            return IN_FRAME_DROPPED
        ethertype = ETH_P_IPV4 if (frame[0] >> 4) == 4 else ETH_P_IPV6 if (frame[0] >> 4) == 6 else 0
    ip = frame + off
    if ethertype == ETH_P_IPV4:
        if not st.has4:
            st.stats.rx_not_ours += 1
            return IN_FRAME_DROPPED
        ihl = ipv4_parse(ip, n - off, &ip4)
        if ihl < 0:
            st.stats.rx_malformed += 1
            return IN_FRAME_DROPPED
        if not ipv4_header_checksum_ok(ip, ihl):
            st.stats.rx_bad_checksum += 1
            return IN_FRAME_DROPPED
        total = ip4.total_len
        if total < ihl or total > n - off:
            st.stats.rx_malformed += 1
            return IN_FRAME_DROPPED
        if (ip4.flags & IPF_MF) or ip4.frag_off:
            st.stats.rx_fragments += 1
            return IN_FRAME_DROPPED
        if ip4.proto != IPPROTO_TCP or memcmp(ip + 16, st.addr4 + 12, 4) != 0:
            st.stats.rx_not_ours += 1
            return IN_FRAME_DROPPED
        family = 4
        memcpy(laddr, st.addr4, 16)
        memcpy(raddr, st.addr4, 12)
        memcpy(raddr + 12, ip + 12, 4)
        tcp = ip + ihl
        tlen = total - <uint32_t>ihl
        pseudo = pseudo_header_v4(ip4.src, ip4.dst, IPPROTO_TCP, tlen)
    elif ethertype == ETH_P_IPV6:
        if not st.has6:
            st.stats.rx_not_ours += 1
            return IN_FRAME_DROPPED
        if ipv6_parse(ip, n - off, &ip6) < 0:
            st.stats.rx_malformed += 1
            return IN_FRAME_DROPPED
        total = 40 + ip6.payload_len
        if total > n - off or ip6.payload_len == 0:
            st.stats.rx_malformed += 1
            return IN_FRAME_DROPPED
        if ipv6_walk(ip, total, &ext) < 0:
            st.stats.rx_malformed += 1
            return IN_FRAME_DROPPED
        if ext.flags & IPF_FRAGMENT:
            st.stats.rx_fragments += 1
            return IN_FRAME_DROPPED
        if ext.upper_proto != IPPROTO_TCP or memcmp(ip6.dst, st.addr6, 16) != 0:
            st.stats.rx_not_ours += 1
            return IN_FRAME_DROPPED
        family = 6
        memcpy(laddr, st.addr6, 16)
        memcpy(raddr, ip6.src, 16)
        tcp = ip + ext.upper_off
        tlen = total - <uint32_t>ext.upper_off
        pseudo = pseudo_header_v6(ip6.src, ext.final_dst if ext.final_dst != NULL else ip6.dst,
                                  IPPROTO_TCP, tlen)
    else:
        st.stats.rx_not_ours += 1
        return IN_FRAME_DROPPED
    # The TCP checksum over the pseudo-header (RFC 9293 3.1): a corrupted segment goes no
    # further, whatever it claims.
    if not csum_ok(csum_partial(tcp, tlen, pseudo)):
        st.stats.rx_bad_checksum += 1
        return IN_FRAME_DROPPED
    hl = tcp_parse(tcp, tlen, &h)
    if hl < 0 or (h.options & OPT_MALFORMED) or h.sport == 0 or h.dport == 0:
        st.stats.rx_malformed += 1
        return IN_FRAME_DROPPED
    plen = tlen - <uint32_t>hl
    # Segments come in trains for one connection: try the previous one before hashing.
    c = st.last
    if c == NULL or not _match(c, laddr, h.dport, raddr, h.sport):
        hsh = _hash(st, laddr, h.dport, raddr, h.sport)
        c = _lookup(st, laddr, h.dport, raddr, h.sport, hsh)
        st.last = c
    if c != NULL:
        if c.state == TCPS_TIME_WAIT and (h.flags & (TCP_SYN | TCP_ACK_FLAG | TCP_RST)) == TCP_SYN:
            idx = _find_listener(st, h.dport)
            # RFC 6191 / RFC 9293 3.10.7.4: a new SYN may reopen a TIME-WAIT 4-tuple when it
            # is clearly newer (timestamp, else sequence number).
            if idx >= 0 and (((c.opts & TF_TS) and (h.options & OPT_TIMESTAMP) and
                              seq_gt(h.tsval, c.ts_recent)) or
                             (not (c.opts & TF_TS) and seq_gt(h.seq, c.rcv_nxt))):
                st.stats.timewait_reused += 1
                tcp_set_closed(c, TCPE_OK)
                _after(st, c, now)
                _listen_syn(st, idx, now, family, laddr, raddr, &h)
                return IN_FRAME_OK
        if (c.state == TCPS_SYN_RECEIVED and (c.owner_flags & SF_SYNQ) and
                (h.flags & (TCP_ACK_FLAG | TCP_SYN | TCP_RST)) == TCP_ACK_FLAG):
            # The handshake would complete: only if the accept queue has room (else the ACK is
            # dropped and our SYN-ACK retransmission gives the application time, as Linux does).
            if (st.listeners[c.listener - 1].acc_count >= st.listeners[c.listener - 1].backlog
                    or fp_check(_fp, FP_ACCEPT_QUEUE)):
                st.stats.accept_overflow += 1
                return IN_FRAME_DROPPED
        c.owner_flags &= ~SF_DIRTY
        code = tcp_process(c, now, &h, tcp + hl, plen)
        if code == IN_ABANDON:
            tcp_set_closed(c, TCPE_OK)
        elif code == IN_NOMEM:
            st.stats.rx_dropped_nomem += 1
        _after(st, c, now)
        return IN_FRAME_OK
    idx = _find_listener(st, h.dport)
    if idx >= 0:
        if h.flags & TCP_RST:
            return IN_FRAME_OK                              # RFC 9293 3.10.7.2 first
        if h.flags & TCP_ACK_FLAG:
            if h.flags & TCP_SYN:
                _reply_rst(st, family, laddr, raddr, &h, plen + 1)
                return IN_FRAME_OK
            _listen_cookie_ack(st, idx, now, family, laddr, raddr, &h, tcp + hl, plen)
            return IN_FRAME_OK
        if h.flags & TCP_SYN:
            _listen_syn(st, idx, now, family, laddr, raddr, &h)
        return IN_FRAME_OK
    st.stats.rx_no_socket += 1
    _reply_rst(st, family, laddr, raddr, &h,
               plen + (1 if h.flags & TCP_SYN else 0) + (1 if h.flags & TCP_FIN else 0))
    return IN_FRAME_OK


# ------------------------------------------------------------------ stack API (C)

cdef int stack_init(tcp_stack_t* st, uint32_t max_conns, uint32_t max_timewait) noexcept nogil:
    cdef uint32_t size = 16
    while size < 2 * max_conns:
        size <<= 1
    st.table = <tcp_conn_t**>calloc(size, sizeof(tcp_conn_t*))
    st.heap = <tcp_conn_t**>calloc(max_conns + 1, sizeof(tcp_conn_t*))
    if st.table == NULL or st.heap == NULL:
        free(st.table)
        free(st.heap)
        st.table = NULL
        st.heap = NULL
        return -1
    st.table_mask = size - 1
    st.max_conns = max_conns
    st.max_timewait = max_timewait
    st.nconns = 0
    st.heap_len = 0
    st.ntimewait = 0
    return 0


cdef void stack_destroy(tcp_stack_t* st) noexcept nogil:
    cdef uint32_t i
    cdef tcp_conn_t* c
    if st.table == NULL:
        return
    for i in range(st.table_mask + 1):
        c = st.table[i]
        if c != NULL and not (c.owner_flags & SF_USER):
            _free_conn(st, c)
    free(st.table)
    free(st.heap)
    st.table = NULL
    st.heap = NULL


cdef void stack_poll(tcp_stack_t* st, uint64_t now) noexcept nogil:
    cdef tcp_conn_t* c
    cdef uint32_t budget = 2 * st.heap_len + 64
    while st.heap_len and st.heap[0].deadline <= now and budget:
        budget -= 1
        c = st.heap[0]
        c.owner_flags &= ~SF_DIRTY
        tcp_poll(c, now)
        _after(st, c, now)


cdef uint64_t stack_poll_at(const tcp_stack_t* st) noexcept nogil:
    return st.heap[0].deadline if st.heap_len else 0


cdef int stack_listen(tcp_stack_t* st, uint16_t port, uint32_t backlog) noexcept nogil:
    cdef int i
    if _find_listener(st, port) >= 0:
        return -TCPE_ADDRINUSE
    for i in range(MAX_LISTENERS):
        if not st.listeners[i].active:
            memset(&st.listeners[i], 0, sizeof(tcp_listener_t))
            st.listeners[i].active = 1
            st.listeners[i].port = port
            st.listeners[i].backlog = backlog
            return i
    return -TCPE_NOBUFS


cdef void stack_unlisten(tcp_stack_t* st, int idx, uint64_t now) noexcept nogil:
    # Closing a listener resets the connections nobody accepted (as close(2) on a listening
    # socket does) and forgets the half-open ones.
    cdef tcp_listener_t* L = &st.listeners[idx]
    cdef tcp_conn_t* c
    cdef uint32_t i
    while L.acc_head != NULL:
        c = L.acc_head
        tcp_abort(c, now)
        _after(st, c, now)
    for i in range(st.table_mask + 1):
        c = st.table[i]
        while c != NULL and c.listener == idx + 1 and (c.owner_flags & SF_SYNQ):
            tcp_set_closed(c, TCPE_OK)
            _after(st, c, now)          # shifts the table: look at slot i again
            c = st.table[i]
    L.active = 0


cdef tcp_conn_t* stack_accept(tcp_stack_t* st, int idx) noexcept nogil:
    cdef tcp_listener_t* L = &st.listeners[idx]
    cdef tcp_conn_t* c = L.acc_head
    if c == NULL:
        return NULL
    L.acc_head = c.qnext
    if L.acc_head == NULL:
        L.acc_tail = NULL
    L.acc_count -= 1
    c.qnext = NULL
    c.owner_flags &= ~SF_ACCEPTQ
    c.owner_flags |= SF_USER
    return c


cdef tcp_conn_t* stack_connect(tcp_stack_t* st, uint64_t now, const uint8_t* raddr, uint16_t rport,
                               uint16_t lport, int* err) noexcept nogil:
    cdef bint v4 = memcmp(raddr, b"\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0
    cdef uint8_t family = 4 if v4 else 6
    cdef const uint8_t* laddr
    cdef uint32_t span = EPHEMERAL_HI - EPHEMERAL_LO + 1, i, start, h
    cdef tcp_conn_t* c
    cdef uint8_t m[18]
    if (v4 and not st.has4) or (not v4 and not st.has6):
        err[0] = TCPE_STATE
        return NULL
    if v4:
        laddr = &st.addr4[0]
    else:
        laddr = &st.addr6[0]
    if lport == 0:
        # RFC 6056 3.3.3 (algorithm 3): a keyed hash of the destination picks where to start,
        # a counter moves on so consecutive connections differ.
        memcpy(m, raddr, 16)
        m[16] = <uint8_t>(rport >> 8)
        m[17] = <uint8_t>rport
        start = <uint32_t>siphash24(st.secrets.isn_key, m, 18) + st.eph_counter
        for i in range(span):
            lport = <uint16_t>(EPHEMERAL_LO + (start + i) % span)
            h = _hash(st, laddr, lport, raddr, rport)
            if _lookup(st, laddr, lport, raddr, rport, h) == NULL:
                break
        else:
            err[0] = TCPE_ADDRINUSE
            return NULL
        st.eph_counter += i + 1
    elif _lookup(st, laddr, lport, raddr, rport, _hash(st, laddr, lport, raddr, rport)) != NULL:
        err[0] = TCPE_ADDRINUSE
        return NULL
    c = _alloc_conn(st, family, laddr, lport, raddr, rport)
    if c == NULL:
        err[0] = TCPE_NOMEM
        return NULL
    if tcp_open(c, now, isn_generate(&st.secrets, laddr, lport, raddr, rport, now),
                ts_offset_for(&st.secrets, laddr, lport, raddr, rport)) < 0:
        _free_conn(st, c)
        err[0] = TCPE_NOMEM
        return NULL
    if _table_insert(st, c) < 0:
        _free_conn(st, c)
        err[0] = TCPE_NOBUFS
        return NULL
    c.owner_flags |= SF_USER
    st.stats.conns_opened += 1
    tcp_output(c, now)
    _after(st, c, now)
    return c


cdef void stack_release(tcp_stack_t* st, tcp_conn_t* c, uint64_t now) noexcept nogil:
    c.owner_flags &= ~SF_USER
    if c.state == TCPS_CLOSED:
        _unlink(st, c)
        _free_conn(st, c)
        return
    if c.state == TCPS_TIME_WAIT:
        rcvbuf_free(&c.rcv)
    _after(st, c, now)


cdef void stack_touch(tcp_stack_t* st, tcp_conn_t* c) noexcept nogil:
    if c.state == TCPS_CLOSED:
        return
    c.owner_flags |= SF_DIRTY
    _heap_set(st, c, 1)


cdef void stack_kick(tcp_stack_t* st, tcp_conn_t* c, uint64_t now) noexcept nogil:
    c.owner_flags &= ~SF_DIRTY
    if c.state != TCPS_CLOSED:
        tcp_output(c, now)
    _after(st, c, now)


cdef int stack_check(const tcp_stack_t* st) noexcept nogil:
    cdef uint32_t i, n = 0, tw = 0, k
    cdef tcp_conn_t* c
    cdef int j
    cdef uint32_t syn[MAX_LISTENERS]
    cdef uint32_t acc
    for j in range(MAX_LISTENERS):
        syn[j] = 0
    for i in range(st.table_mask + 1):
        c = st.table[i]
        if c == NULL:
            continue
        n += 1
        if c.state == TCPS_CLOSED:
            return 101          # a closed connection is still demultiplexed
        if _lookup(st, c.laddr, c.lport, c.raddr, c.rport, c.thash) != c:
            return 102          # unreachable from its own hash
        if c.owner_flags & SF_TIMEWAIT:
            tw += 1
        if c.owner_flags & SF_SYNQ:
            syn[c.listener - 1] += 1
        if c.heap_idx != 0xffffffffu and (c.heap_idx >= st.heap_len or st.heap[c.heap_idx] != c):
            return 103          # heap index wrong
        if tcp_check(c):
            return 200 + tcp_check(c)
    if n != st.nconns:
        return 104
    if tw != st.ntimewait:
        return 105
    for k in range(st.heap_len):
        if st.heap[k].heap_idx != k:
            return 106
        if k and st.heap[(k - 1) >> 1].deadline > st.heap[k].deadline:
            return 107          # heap order
    for j in range(MAX_LISTENERS):
        if not st.listeners[j].active:
            continue
        if syn[j] != st.listeners[j].syn_count:
            return 108
        acc = 0
        c = st.listeners[j].acc_head
        while c != NULL:
            acc += 1
            if not (c.owner_flags & SF_ACCEPTQ):
                return 109
            c = c.qnext
        if acc != st.listeners[j].acc_count or acc > st.listeners[j].backlog:
            return 110
    return 0


STACK_INVARIANTS = {
    101: "a closed connection is still in the table",
    102: "a connection cannot be found by its own 4-tuple",
    103: "a connection's timer-heap index is wrong",
    104: "the table's connection count is wrong",
    105: "the TIME-WAIT count is wrong",
    106: "a heap entry's index is wrong",
    107: "the timer heap is out of order",
    108: "a listener's SYN-queue count is wrong",
    109: "the accept queue holds a connection not marked as queued",
    110: "the accept-queue count is wrong or above the backlog",
}


# ------------------------------------------------------------------ default device: a frame queue

cdef uint8_t* _q_alloc(void* ctx, uint32_t* cap) noexcept nogil:
    cdef frameq_t* q = <frameq_t*>ctx
    cdef uint32_t i
    if q.count == q.nslots:
        return NULL
    i = (q.head + q.count) % q.nslots
    q.pending = i
    cap[0] = q.slot
    return q.buf + <size_t>i * q.slot


cdef void _q_commit(void* ctx, uint8_t* frame, uint32_t length) noexcept nogil:
    cdef frameq_t* q = <frameq_t*>ctx
    if length == 0:
        return
    q.lens[q.pending] = length
    q.count += 1


# ------------------------------------------------------------------ Python face

def _addr16(addr):
    a = ipaddress.ip_address(addr)
    return (b"\0" * 10 + b"\xff\xff" + a.packed) if a.version == 4 else a.packed


cdef str _addr_str(const uint8_t* p):
    cdef bytes b = PyBytes_FromStringAndSize(<const char*>p, 16)
    if b[:12] == b"\0" * 10 + b"\xff\xff":
        return str(ipaddress.IPv4Address(b[12:]))
    return str(ipaddress.IPv6Address(b))


def _mac(v):
    if isinstance(v, (bytes, bytearray)) and len(v) == 6:
        return bytes(v)
    parts = str(v).replace("-", ":").split(":")
    if len(parts) != 6:
        raise ConfigError(f"a MAC address looks like 02:00:00:00:00:01, not {v!r}")
    return bytes(int(x, 16) for x in parts)


@cython.final
cdef class TcpStack:
    """The TCP of one host: listeners, connections, timers, over real IPv4/IPv6 frames.

    Frames come in through ``input(now, frame)``; frames to send are collected by the stack's
    own bounded transmit queue (``transmit()`` drains it) unless a simulator or device takes
    them directly. ``poll(now)`` runs due timers and pending output; ``poll_at()`` says when.
    ``addresses``: this host's IPv4 and/or IPv6 address. ``ethernet``: None for raw IP frames
    (a TUN device), or (our MAC, the next hop's MAC) for Ethernet frames.
    """
    def __cinit__(self):
        self.st = NULL
        memset(&self.q, 0, sizeof(frameq_t))

    def __init__(self, addresses, config=None, *, max_connections=65536, max_timewait=None,
                 mtu=1500, ethernet=None, seed=None, tx_queue=4096):
        cdef bytes key
        cdef tcp_stack_t* st
        if isinstance(addresses, (str, ipaddress.IPv4Address, ipaddress.IPv6Address)):
            addresses = [addresses]
        addrs = [ipaddress.ip_address(a) for a in addresses]
        v4 = [a for a in addrs if a.version == 4]
        v6 = [a for a in addrs if a.version == 6]
        if not addrs or len(v4) > 1 or len(v6) > 1:
            raise ConfigError("addresses: give one IPv4 and/or one IPv6 address for this host")
        self.config = config if config is not None else TcpConfig()
        mtu = int(mtu)
        if not 576 <= mtu <= 65535:
            raise ConfigError(f"mtu must be 576..65535, not {mtu}")
        max_connections = int(max_connections)
        if not 1 <= max_connections <= (1 << 26):
            raise ConfigError(f"max_connections must be 1..{1 << 26}, not {max_connections}")
        mtw = max_connections if max_timewait is None else int(max_timewait)
        if not 0 <= mtw <= max_connections:
            raise ConfigError("max_timewait must be between 0 and max_connections")
        if not 1 <= int(tx_queue) <= (1 << 20):
            raise ConfigError("tx_queue must be 1..1048576 frames")
        st = <tcp_stack_t*>calloc(1, sizeof(tcp_stack_t))
        if st == NULL:
            raise MemoryError("cannot allocate the TCP stack")
        self.st = st
        config_to_c(self.config, &st.cfg)
        if st.cfg.mss > mtu - 40:
            st.cfg.mss = mtu - 40
        st.cfg6 = st.cfg
        if st.cfg6.mss > mtu - 60:
            st.cfg6.mss = mtu - 60
        if stack_init(st, max_connections, mtw) < 0:
            raise MemoryError(f"cannot allocate a table for {max_connections} connections")
        if seed is None:
            key = os.urandom(64)
        else:
            import hashlib
            key = hashlib.sha512(repr(seed).encode()).digest()
        memcpy(st.secrets.isn_key, PyBytes_AS_STRING(key), 16)
        memcpy(st.secrets.ts_key, PyBytes_AS_STRING(key) + 16, 16)
        memcpy(st.secrets.cookie_key, PyBytes_AS_STRING(key) + 32, 16)
        memcpy(st.secrets.hash_key, PyBytes_AS_STRING(key) + 48, 16)
        st.ttl = 64
        if v4:
            st.has4 = 1
            memcpy(st.addr4, PyBytes_AS_STRING(_addr16(v4[0])), 16)
            memset(&st.ip4, 0, sizeof(st.ip4))
            st.ip4.src = load_be32(st.addr4 + 12)
            st.ip4.ttl = st.ttl
            st.ip4.flags = IPF_DF
            st.ip4.proto = IPPROTO_TCP
        if v6:
            st.has6 = 1
            memcpy(st.addr6, PyBytes_AS_STRING(_addr16(v6[0])), 16)
            memset(&st.ip6, 0, sizeof(st.ip6))
            memcpy(st.ip6.src, st.addr6, 16)
            st.ip6.hop_limit = st.ttl
            st.ip6.next_header = IPPROTO_TCP
        self.addresses = tuple(str(a) for a in addrs)
        st.mtu = mtu
        if ethernet is not None:
            src, dst = ethernet
            memcpy(st.eth.src, PyBytes_AS_STRING(_mac(src)), 6)
            memcpy(st.eth.dst, PyBytes_AS_STRING(_mac(dst)), 6)
            st.eth.vlan_count = 0
            st.use_eth = 1
        # The default device: a bounded queue of frames, drained by transmit().
        self.q.slot = mtu + 64
        self.q.nslots = int(tx_queue)
        self.q.buf = <uint8_t*>malloc(<size_t>self.q.slot * self.q.nslots)
        self.q.lens = <uint32_t*>malloc(sizeof(uint32_t) * self.q.nslots)
        if self.q.buf == NULL or self.q.lens == NULL:
            raise MemoryError("cannot allocate the transmit queue")
        st.tx_alloc = _q_alloc
        st.tx_commit = _q_commit
        st.tx_ctx = <void*>&self.q
        self._listeners = {}

    def __dealloc__(self):
        if self.st != NULL:
            stack_destroy(self.st)
            free(self.st)
            self.st = NULL
        free(self.q.buf)
        free(self.q.lens)

    cdef tcp_stack_t* _st(self) except NULL:
        return self.st

    cdef void set_device(self, tx_alloc_fn alloc, tx_commit_fn commit, void* ctx) noexcept:
        self.st.tx_alloc = alloc
        self.st.tx_commit = commit
        self.st.tx_ctx = ctx

    # -- frames
    def input(self, unsigned long long now, frame):
        """One received frame (raw IP, or Ethernet when the stack was made with ``ethernet``)."""
        cdef const uint8_t[::1] v = frame if isinstance(frame, bytes) else memoryview(frame).cast("B")
        if v.shape[0] == 0:
            self.st.stats.rx_malformed += 1
            return
        stack_input(self.st, now, &v[0], <uint32_t>v.shape[0])

    def transmit(self):
        """Frames the stack sent since the last call (oldest first), as bytes."""
        out = []
        cdef uint32_t i
        while self.q.count:
            i = self.q.head
            out.append(PyBytes_FromStringAndSize(<char*>self.q.buf + <size_t>i * self.q.slot,
                                                 self.q.lens[i]))
            self.q.head = (self.q.head + 1) % self.q.nslots
            self.q.count -= 1
        return out

    def poll(self, unsigned long long now):
        """Run due timers and pending output."""
        stack_poll(self.st, now)

    def poll_at(self):
        """When ``poll`` must run next (microseconds), or None."""
        cdef uint64_t t = stack_poll_at(self.st)
        return None if t == 0 else t

    # -- listen / connect
    def listen(self, int port, int backlog=128):
        """Listen on ``port`` with a bounded ``backlog`` (RFC 9293 3.10.1 passive OPEN)."""
        if not 1 <= port <= 65535:
            raise ConfigError(f"port must be 1..65535, not {port}")
        if not 1 <= backlog <= 65535:
            raise ConfigError(f"backlog must be 1..65535, not {backlog}")
        idx = stack_listen(self.st, <uint16_t>port, <uint32_t>backlog)
        if idx < 0:
            if idx == -TCPE_ADDRINUSE:
                raise ConfigError(f"port {port} is already listened on")
            raise CapacityError(f"at most {MAX_LISTENERS} listeners per stack")
        lst = Listener.__new__(Listener)
        (<Listener>lst).stack = self
        (<Listener>lst).idx = idx
        (<Listener>lst).port = port
        return lst

    def connect(self, unsigned long long now, remote, int local_port=0):
        """Active open to ``remote`` = (address, port). Returns a Connection in SYN-SENT; its
        SYN is already in the transmit queue."""
        cdef int err = 0
        cdef tcp_conn_t* c
        cdef bytes ra
        try:
            host, port = remote
            a = ipaddress.ip_address(host)
            port = int(port)
        except (TypeError, ValueError):
            raise ConfigError(f"remote must be an (address, port) pair, not {remote!r}") from None
        if not 1 <= port <= 65535 or not 0 <= local_port <= 65535:
            raise ConfigError("ports must be 1..65535 (local_port 0 picks an ephemeral one)")
        if (a.version == 4 and not self.st.has4) or (a.version == 6 and not self.st.has6):
            raise ConfigError(f"this stack has no IPv{a.version} address to connect from")
        ra = _addr16(a)
        c = stack_connect(self.st, now, <const uint8_t*>PyBytes_AS_STRING(ra), <uint16_t>port,
                          <uint16_t>local_port, &err)
        if c == NULL:
            raise error_for(err, f"connect to {a}:{port}")
        return _wrap(self, c)

    # -- observation
    def check(self):
        """Raise AssertionError if the table, heap, queues or any connection is inconsistent."""
        code = stack_check(self.st)
        if code:
            msg = STACK_INVARIANTS.get(code) or f"connection invariant {code - 200}"
            raise AssertionError(f"TCP stack invariant {code} violated: {msg}")

    @property
    def stats(self):
        s = self.st.stats
        return dict(s)

    @property
    def connections(self):
        """Connections in the table (every state but CLOSED)."""
        return self.st.nconns

    @property
    def time_wait(self):
        return self.st.ntimewait

    def state_counts(self):
        """{State: count} over the table."""
        out = {}
        cdef uint32_t i
        for i in range(self.st.table_mask + 1):
            if self.st.table[i] != NULL:
                s = State(self.st.table[i].state)
                out[s] = out.get(s, 0) + 1
        return out


cdef object _wrap(TcpStack stack, tcp_conn_t* c):
    cdef Connection conn = Connection.__new__(Connection)
    conn.stack = stack
    conn.cp = c
    conn.local = (_addr_str(c.laddr), c.lport)
    conn.remote = (_addr_str(c.raddr), c.rport)
    return conn


@cython.final
cdef class Listener:
    """A listening port with a bounded backlog."""
    cdef readonly TcpStack stack
    cdef int idx
    cdef readonly int port

    def accept(self):
        """The next established connection, or None when none is waiting."""
        if self.idx < 0:
            raise ConnectionClosed(f"listener on port {self.port} is closed")
        cdef tcp_conn_t* c = stack_accept(self.stack.st, self.idx)
        if c == NULL:
            return None
        return _wrap(self.stack, c)

    @property
    def pending(self):
        """(half-open, established-not-accepted) counts."""
        if self.idx < 0:
            return (0, 0)
        L = &self.stack.st.listeners[self.idx]
        return (L.syn_count, L.acc_count)

    @property
    def backlog(self):
        return self.stack.st.listeners[self.idx].backlog if self.idx >= 0 else 0

    def close(self, unsigned long long now=0):
        """Stop listening: connections nobody accepted are reset."""
        if self.idx >= 0:
            stack_unlisten(self.stack.st, self.idx, now)
            self.idx = -1


@cython.final
cdef class Connection(ConnectionView):
    """A connection owned by a TcpStack (from ``connect`` or ``Listener.accept``)."""
    cdef readonly TcpStack stack
    cdef readonly object local
    cdef readonly object remote

    cdef int _kick(self) except -1:
        if self.cp != NULL:
            stack_touch(self.stack.st, self.cp)
        return 0

    def abort(self, unsigned long long now):
        """RFC 9293 3.10.5: send a RST and close."""
        cdef tcp_conn_t* c = self._c()
        tcp_abort(c, now)
        stack_kick(self.stack.st, c, now)

    def close(self, unsigned long long now=0):
        """Shut down sending and let go of the handle (like close(2)); the connection finishes
        its close on its own, TIME-WAIT included."""
        cdef tcp_conn_t* c = self.cp
        if c == NULL:
            return
        tcp_shutdown(c, now)
        self.cp = NULL
        stack_touch(self.stack.st, c)
        stack_release(self.stack.st, c, now)

    def __dealloc__(self):
        if self.cp != NULL and self.stack is not None and self.stack.st != NULL:
            stack_release(self.stack.st, self.cp, self.cp.last_tx_us)
            self.cp = NULL
