"""The flow table: every packet mapped to its connection, in C memory, without the GIL.

Layout. Flows live in a dense pool of fixed-size ``FlowCore`` entries (96 bytes: key, timer,
TCP window state) allocated once at creation; a separate open-addressing index (linear probing,
32-bit slots holding an 8-bit hash tag and the pool position) finds them. Removing a flow moves
the last pool entry into its place, so the pool stays dense and sweeps are sequential. When
connection records are enabled, a parallel pool of ``ZeekConn`` entries holds what conn.log
needs (counters, history, Zeek's endpoint model).

Time is packet time (``ts_ns``), never the wall clock: a flow expires when a later packet (of
any flow) carries a timestamp past its timer. Expired flows are found when touched, by a short
incremental sweep after every batch, and by ``expire()``.

Eviction. When the pool is full, a few entries are sampled at random; expired ones are reclaimed
first, then the one closest to expiry among those *not protected*. Protected are established
connections: conntrack ASSURED (handshake completed and acknowledged both ways) and not closing.
If every sampled entry is protected the new flow is refused (counted as ``insert_failed``) --
like netfilter's early drop, a flood of new tuples can never push out established connections.
"""
cimport cython
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t, INT64_MAX
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memset

import os

import numpy as np

from fastpath.errors import CapacityError, ConfigError
from fastpath.wire.record import PACKET_DTYPE

from fastpath.wire.record cimport (PacketRecord, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP,
                                   IPPROTO_ICMPV6, IPF_NONFIRST, CSUM_BAD, OFF_NONE, ERR_NONE,
                                   ERR_BAD_OPTION)
from fastpath.flow.key cimport FlowKey, key_from_packet, key_hash, key_eq, key_proto
from fastpath.includes.prefetch cimport fastpath_prefetch
from fastpath.includes.hugemem cimport HugeBlock, huge_alloc, huge_free
from fastpath.flow.conntrack cimport *
from fastpath.flow.zeek cimport (ZeekConn, ZeekCfg, zk_open, zk_is_reuse, zk_packet, zk_conn_state,
                                 zk_size, zk_update_deadline, ZC_OPEN, ZC_ORIG_IS_B, ZC_FLIPPED,
                                 ZC_TRUNCATED, ZC_PARTIAL, HIST_MAX)

from fastpath.flow.conntrack import STATE_NAMES as TCP_STATE_NAMES, VERDICT_NAMES, REASON_NAMES
from fastpath.flow.zeek import CONN_STATE_NAMES

cdef enum:
    OWN_ORIG_IS_B = 0x01        # conntrack's originator is the key's endpoint b
    OWN_CT_ALIVE = 0x02         # the conntrack part holds a live connection
    OWN_V6 = 0x04               # the key's addresses are IPv6 (part of the identity)
    MAX_CAPACITY = 0xFFFFFE     # 24 bits of pool position in an index slot
    QUEUE_CAP = 8192            # finished records buffered in C between drains
    SAMPLE = 8                  # eviction candidates examined

cdef int64_t SEC = 1000000000

ctypedef struct PreKey:         # a packet's key, computed a few packets ahead (see _run)
    FlowKey k
    uint64_t h
    uint8_t why                 # R_NONE if keyed, else why the packet is not tracked
    uint8_t swapped
    uint8_t v6

cdef enum:
    RING = 64                   # power of two > the hash lookahead

# Pipeline distances (packets ahead of the one processed): key + hash + prefetch of the index
# slot, then reading the slot and prefetching the flow's entries. 0 turns a stage off.
cdef int AHEAD_HASH = 16
cdef int AHEAD_ENTRY = 8


def _pipeline(int ahead_hash, int ahead_entry):
    """Set the prefetch distances (for measurements); returns the previous pair."""
    global AHEAD_HASH, AHEAD_ENTRY
    if not (0 <= ahead_entry <= ahead_hash < RING):
        raise ValueError(f"need 0 <= ahead_entry <= ahead_hash < {RING}")
    old = (AHEAD_HASH, AHEAD_ENTRY)
    AHEAD_HASH = ahead_hash
    AHEAD_ENTRY = ahead_entry
    return old

END_NAMES = ("idle", "closed", "reused", "reset", "evicted", "flushed", "active")

CONN_FIELDS = [
    ("ts_ns", "<i8"),
    ("last_ts_ns", "<i8"),
    ("orig_addr", "u1", (16,)),
    ("resp_addr", "u1", (16,)),
    ("orig_pkts", "<u8"),
    ("resp_pkts", "<u8"),
    ("orig_ip_bytes", "<u8"),
    ("resp_ip_bytes", "<u8"),
    ("orig_bytes", "<u8"),
    ("resp_bytes", "<u8"),
    ("missed_bytes", "<u8"),
    ("orig_port", "<u2"),
    ("resp_port", "<u2"),
    ("vlan", "<u2"),
    ("inner_vlan", "<u2"),
    ("orig_flags", "<u2"),
    ("resp_flags", "<u2"),
    ("proto", "u1"),
    ("ip_version", "u1"),
    ("conn_state", "u1"),
    ("tcp_state", "u1"),
    ("end_reason", "u1"),
    ("flags", "u1"),
    ("history", "S24"),
    ("reserved", "u1", (6,)),
]
CONN_DTYPE = np.dtype(CONN_FIELDS, align=True)


def _check_layout():
    cdef ConnRecord c
    cdef size_t base = <size_t>&c
    offs = {
        "ts_ns": <size_t>&c.ts_ns - base, "last_ts_ns": <size_t>&c.last_ts_ns - base,
        "orig_addr": <size_t>&c.orig_addr[0] - base, "resp_addr": <size_t>&c.resp_addr[0] - base,
        "orig_pkts": <size_t>&c.orig_pkts - base, "resp_pkts": <size_t>&c.resp_pkts - base,
        "orig_ip_bytes": <size_t>&c.orig_ip_bytes - base,
        "resp_ip_bytes": <size_t>&c.resp_ip_bytes - base,
        "orig_bytes": <size_t>&c.orig_bytes - base, "resp_bytes": <size_t>&c.resp_bytes - base,
        "missed_bytes": <size_t>&c.missed_bytes - base, "orig_port": <size_t>&c.orig_port - base,
        "resp_port": <size_t>&c.resp_port - base, "vlan": <size_t>&c.vlan - base,
        "inner_vlan": <size_t>&c.inner_vlan - base, "orig_flags": <size_t>&c.orig_flags - base,
        "resp_flags": <size_t>&c.resp_flags - base, "proto": <size_t>&c.proto - base,
        "ip_version": <size_t>&c.ip_version - base, "conn_state": <size_t>&c.conn_state - base,
        "tcp_state": <size_t>&c.tcp_state - base, "end_reason": <size_t>&c.end_reason - base,
        "flags": <size_t>&c.flags - base, "history": <size_t>&c.history[0] - base,
        "reserved": <size_t>&c.reserved[0] - base,
    }
    npoffs = {k: CONN_DTYPE.fields[k][1] for k in CONN_DTYPE.names}
    if CONN_DTYPE.itemsize != sizeof(ConnRecord) or npoffs != offs:
        raise ImportError("fastpath.flow.table: CONN_DTYPE does not match the C ConnRecord "
                          f"(numpy {CONN_DTYPE.itemsize} bytes, C {sizeof(ConnRecord)}); rebuild")


_check_layout()

# Conntrack timers (seconds): netfilter's defaults for TCP; UDP and ICMP no shorter than Zeek's
# inactivity timeouts so that records do not split earlier than Zeek's.
DEFAULT_TIMEOUTS = {
    "tcp_none": 60.0, "tcp_syn_sent": 120.0, "tcp_syn_recv": 60.0, "tcp_established": 432000.0,
    "tcp_fin_wait": 120.0, "tcp_close_wait": 60.0, "tcp_last_ack": 30.0, "tcp_time_wait": 120.0,
    "tcp_close": 10.0, "tcp_syn_sent2": 120.0, "tcp_unack": 300.0,
    "udp": 60.0, "udp_stream": 180.0, "icmp": 60.0, "other": 600.0,
}
_TIMEOUT_INDEX = {
    "tcp_none": TO_TCP + CT_NONE, "tcp_syn_sent": TO_TCP + CT_SYN_SENT,
    "tcp_syn_recv": TO_TCP + CT_SYN_RECV, "tcp_established": TO_TCP + CT_ESTABLISHED,
    "tcp_fin_wait": TO_TCP + CT_FIN_WAIT, "tcp_close_wait": TO_TCP + CT_CLOSE_WAIT,
    "tcp_last_ack": TO_TCP + CT_LAST_ACK, "tcp_time_wait": TO_TCP + CT_TIME_WAIT,
    "tcp_close": TO_TCP + CT_CLOSE, "tcp_syn_sent2": TO_TCP + CT_SYN_SENT2,
    "tcp_unack": TO_UNACK, "udp": TO_UDP, "udp_stream": TO_UDP_STREAM, "icmp": TO_ICMP,
    "other": TO_OTHER,
}

# Zeek's defaults (init-bare.zeek), seconds.
ZEEK_TIMERS = {
    "tcp_inactivity": 300.0, "udp_inactivity": 60.0, "icmp_inactivity": 60.0,
    "other_inactivity": 60.0, "interactive_inactivity": 3600.0, "attempt_delay": 5.0,
    "close_delay": 5.0, "linger": 5.0, "session_timer": 6.0, "syn_timeout": 5.0,
    "dns_session": 10.0,
}

# Zeek's likely_server_ports with all of its base scripts loaded (the ports its protocol
# analyzers register as server ports, plus the tunnel ports of its packet analyzers).
ZEEK_TCP_SERVER_PORTS = frozenset({
    21, 22, 25, 53, 79, 80, 81, 88, 135, 139, 143, 389, 443, 445, 465, 502, 514, 563, 585, 587,
    614, 631, 636, 989, 990, 992, 993, 995, 1080, 1434, 1883, 2811, 3128, 3268, 3306, 3389, 5222,
    5223, 5269, 5432, 6379, 6666, 6667, 6668, 6669, 8000, 8080, 8888, 20000})
# UDP ports where Zeek runs its DNS analyzer, whose own timer ends quiet sessions early.
ZEEK_DNS_PORTS = frozenset({53, 137, 5353, 5355})
ZEEK_UDP_SERVER_PORTS = frozenset({
    53, 67, 88, 123, 137, 161, 162, 389, 443, 514, 1812, 2123, 2152, 3389, 3544, 4011, 4754,
    4789, 5060, 5072, 5353, 5355, 6081, 20000})


cdef inline bint _protected(const FlowCore* c) noexcept nogil:
    return ((c.tcp.owner & OWN_CT_ALIVE) != 0 and (c.tcp.status & ST_ASSURED) != 0 and
            not (key_proto(&c.key) == IPPROTO_TCP and
                 (c.tcp.state == CT_FIN_WAIT or c.tcp.state == CT_CLOSE_WAIT or
                  c.tcp.state == CT_LAST_ACK or c.tcp.state == CT_TIME_WAIT or
                  c.tcp.state == CT_CLOSE)))


def _ports_bitmap(ports, what):
    bm = bytearray(8192)
    for p in ports:
        try:
            p = int(p)
        except (TypeError, ValueError):
            raise ConfigError(f"{what}: {p!r} is not a port number (give integers 0-65535)") from None
        if not 0 <= p <= 65535:
            raise ConfigError(f"{what}: port {p} is outside 0-65535")
        bm[p >> 3] |= 1 << (p & 7)
    return bytes(bm)


@cython.final
@cython.nonecheck(False)            # self is never None in its own methods (and they run nogil)
cdef class FlowTable:
    """A bounded table of bidirectional flows with TCP connection tracking.

    ``FlowTable(capacity, records=True, vlan=False, loose=True, timeouts=None, zeek=None,
    server_ports=None, seed=None)``

    * ``capacity`` -- flows held at most (memory is allocated once, up front).
    * ``records`` -- keep Zeek-comparable connection records (counters, history, conn_state);
      without them the table holds only the middlebox state (96 bytes per flow).
    * ``vlan`` -- make the outer and inner VLAN IDs part of the key.
    * ``loose`` -- pick up TCP connections mid-stream (without having seen the SYN).
    * ``timeouts`` -- conntrack timers in seconds, keys as in ``DEFAULT_TIMEOUTS``.
    * ``zeek`` -- Zeek's timers in seconds, keys as in ``ZEEK_TIMERS``.
    * ``server_ports`` -- ``{"tcp": ports, "udp": ports, "dns": ports}``: Zeek's
      likely_server_ports for its originator heuristics, and the UDP ports of its DNS analyzer
      (default: Zeek with its base scripts).
    * ``seed`` -- hash seed (random by default; fix it for reproducible eviction).

    A table is used by one thread at a time (``track`` releases the GIL while it works; a call
    from another thread meanwhile raises ``RuntimeError``). Use one table per thread.
    """
    cdef char* pool             # capacity entries of `stride` bytes: FlowCore, then ZeekConn
    cdef size_t stride
    cdef bint records
    cdef uint32_t* index
    cdef HugeBlock pool_mem, index_mem
    cdef uint64_t index_mask
    cdef uint32_t index_size
    cdef uint32_t cap
    cdef uint32_t count
    cdef uint64_t seed
    cdef uint64_t rng
    cdef int64_t now
    cdef int64_t timeouts[15]
    cdef ZeekCfg zcfg
    cdef bytes tcp_bm
    cdef bytes udp_bm
    cdef bytes dns_bm
    cdef bint use_vlan
    cdef bint loose
    cdef ConnRecord* queue
    cdef uint32_t qlen
    cdef uint32_t sweep_pos
    cdef bint busy              # a method is running without the GIL (one thread at a time)
    # counters
    cdef uint64_t n_packets, n_lookups, n_hits, n_inserts, n_evictions, n_expiries
    cdef uint64_t n_insert_failed, n_removed, n_records, n_zeek_splits
    cdef uint64_t verdicts[5]
    cdef uint64_t reasons[R_COUNT]

    def __cinit__(self):
        self.pool = NULL
        self.index = NULL
        self.queue = NULL

    def __init__(self, capacity, *, records=True, vlan=False, loose=True, timeouts=None,
                 zeek=None, server_ports=None, seed=None):
        cdef uint64_t isz
        try:
            capacity = int(capacity)
        except (TypeError, ValueError):
            raise ConfigError(f"capacity must be an integer number of flows, not {capacity!r}") from None
        if capacity < 1 or capacity > MAX_CAPACITY:
            raise ConfigError(f"capacity {capacity} is out of range: give 1 to {MAX_CAPACITY} flows")
        self.cap = capacity
        # Index at most ~65% full: the next power of two >= capacity / 0.65.
        isz = 16
        while isz * 65 < <uint64_t>capacity * 100:
            isz <<= 1
        self.index_size = <uint32_t>isz
        self.index_mask = isz - 1
        # One entry per flow: the middlebox state, then (with records) the Zeek record, side by
        # side so that one flow's state is one contiguous run of cache lines.
        self.records = bool(records)
        self.stride = sizeof(FlowCore) + (sizeof(ZeekConn) if self.records else 0)
        self.pool = <char*>huge_alloc(&self.pool_mem, capacity * self.stride)
        self.index = <uint32_t*>huge_alloc(&self.index_mem, isz * sizeof(uint32_t))
        self.queue = <ConnRecord*>calloc(QUEUE_CAP, sizeof(ConnRecord))
        if self.pool == NULL or self.index == NULL or self.queue == NULL:
            raise MemoryError(f"cannot allocate a flow table for {capacity} flows "
                              f"({self._bytes_for(capacity, records, isz) >> 20} MiB): lower the capacity")
        self.use_vlan = bool(vlan)
        self.loose = bool(loose)
        if seed is None:
            seed = int.from_bytes(os.urandom(8), "little")
        self.seed = <uint64_t>(int(seed) & 0xFFFFFFFFFFFFFFFF)
        self.rng = self.seed ^ <uint64_t>0x9E3779B97F4A7C15
        if self.rng == 0:
            self.rng = 1
        self.now = 0
        self._set_timeouts(timeouts)
        self._set_zeek(zeek, server_ports)

    def __dealloc__(self):
        huge_free(&self.pool_mem)
        huge_free(&self.index_mem)
        free(self.queue)

    @staticmethod
    def _bytes_for(capacity, records, isz):
        return (capacity * (sizeof(FlowCore) + (sizeof(ZeekConn) if records else 0)) +
                isz * sizeof(uint32_t) + QUEUE_CAP * sizeof(ConnRecord))

    cdef _set_timeouts(self, timeouts):
        values = dict(DEFAULT_TIMEOUTS)
        for k, v in (timeouts or {}).items():
            if k not in values:
                raise ConfigError(f"unknown timeout {k!r}: known are {', '.join(sorted(values))}")
            values[k] = v
        for k, v in values.items():
            try:
                v = float(v)
            except (TypeError, ValueError):
                raise ConfigError(f"timeout {k} must be a number of seconds, not {v!r}") from None
            if not (v > 0):
                raise ConfigError(f"timeout {k} must be positive seconds, not {v}")
            self.timeouts[_TIMEOUT_INDEX[k]] = <int64_t>(v * 1e9)

    cdef _set_zeek(self, zeek, server_ports):
        values = dict(ZEEK_TIMERS)
        for k, v in (zeek or {}).items():
            if k not in values and k != "report_gaps_for_partial":
                raise ConfigError(f"unknown Zeek setting {k!r}: known are "
                                  f"{', '.join(sorted(values))}, report_gaps_for_partial")
            values[k] = v
        ns = {}
        for k, v in values.items():
            if k == "report_gaps_for_partial":
                continue
            try:
                v = float(v)
            except (TypeError, ValueError):
                raise ConfigError(f"Zeek timer {k} must be a number of seconds, not {v!r}") from None
            if not (v > 0):
                raise ConfigError(f"Zeek timer {k} must be positive seconds, not {v}")
            ns[k] = <int64_t>(v * 1e9)
        if server_ports is None:
            server_ports = {"tcp": ZEEK_TCP_SERVER_PORTS, "udp": ZEEK_UDP_SERVER_PORTS,
                            "dns": ZEEK_DNS_PORTS}
        if not isinstance(server_ports, dict) or set(server_ports) - {"tcp", "udp", "dns"}:
            raise ConfigError("server_ports must be a dict with keys 'tcp', 'udp' and/or 'dns' "
                              "mapping to port numbers")
        self.tcp_bm = _ports_bitmap(server_ports.get("tcp", ()), "server_ports['tcp']")
        self.udp_bm = _ports_bitmap(server_ports.get("udp", ()), "server_ports['udp']")
        self.dns_bm = _ports_bitmap(server_ports.get("dns", ()), "server_ports['dns']")
        self.zcfg.tcp_ports = <const uint8_t*>self.tcp_bm
        self.zcfg.udp_ports = <const uint8_t*>self.udp_bm
        self.zcfg.dns_ports = <const uint8_t*>self.dns_bm
        self.zcfg.dns_session = ns["dns_session"]
        self.zcfg.tcp_inactivity = ns["tcp_inactivity"]
        self.zcfg.udp_inactivity = ns["udp_inactivity"]
        self.zcfg.icmp_inactivity = ns["icmp_inactivity"]
        self.zcfg.other_inactivity = ns["other_inactivity"]
        self.zcfg.interactive_inactivity = ns["interactive_inactivity"]
        self.zcfg.attempt_delay = ns["attempt_delay"]
        self.zcfg.close_delay = ns["close_delay"]
        self.zcfg.linger = ns["linger"]
        self.zcfg.session_timer = ns["session_timer"]
        self.zcfg.syn_timeout = ns["syn_timeout"]
        self.zcfg.report_gaps_for_partial = bool(values.get("report_gaps_for_partial", False))

    # ------------------------------------------------------------ entries and index

    cdef inline FlowCore* _c(self, size_t i) noexcept nogil:
        return <FlowCore*>(self.pool + i * self.stride)

    cdef inline ZeekConn* _z(self, size_t i) noexcept nogil:
        return <ZeekConn*>(self.pool + i * self.stride + sizeof(FlowCore))

    cdef inline int64_t _find(self, const FlowKey* k, uint64_t h, bint v6) noexcept nogil:
        cdef uint64_t i = h & self.index_mask
        cdef uint32_t tag = <uint32_t>(h >> 56), v
        cdef const FlowCore* c
        while True:
            v = self.index[i]
            if v == 0:
                return -1
            if (v >> 24) == tag:
                c = self._c((v & 0xFFFFFF) - 1)
                if key_eq(&c.key, k) and ((c.tcp.owner & OWN_V6) != 0) == v6:
                    return (v & 0xFFFFFF) - 1
            i = (i + 1) & self.index_mask

    cdef inline uint64_t _hash_of(self, uint32_t idx) noexcept nogil:
        return key_hash(&self._c(idx).key, self.seed, (self._c(idx).tcp.owner & OWN_V6) != 0)

    cdef inline uint64_t _slot_of(self, uint32_t idx) noexcept nogil:
        # Where the index points at pool entry ``idx`` (it must be there).
        cdef uint64_t h = self._hash_of(idx)
        cdef uint64_t i = h & self.index_mask
        while (self.index[i] & 0xFFFFFF) != idx + 1:
            i = (i + 1) & self.index_mask
        return i

    cdef void _unlink(self, uint64_t i) noexcept nogil:
        # Backward-shift deletion (no tombstones): pull later entries of the probe run into
        # the hole unless that would move them before their home slot.
        cdef uint64_t j = i, home, m = self.index_mask
        cdef uint32_t v
        while True:
            j = (j + 1) & m
            v = self.index[j]
            if v == 0:
                break
            home = self._hash_of((v & 0xFFFFFF) - 1) & m
            if ((j - home) & m) >= ((j - i) & m):
                self.index[i] = v
                i = j
        self.index[i] = 0

    cdef void _remove(self, uint32_t idx) noexcept nogil:
        """Drop pool entry ``idx``: unlink it and move the last entry into its place."""
        cdef uint32_t last = self.count - 1
        cdef uint64_t s
        self._unlink(self._slot_of(idx))
        if idx != last:
            s = self._slot_of(last)
            self.index[s] = (self.index[s] & <uint32_t>0xFF000000U) | (idx + 1)
            memcpy(self._c(idx), self._c(last), self.stride)
        self.count = last
        self.n_removed += 1

    cdef inline uint64_t _rand(self) noexcept nogil:
        cdef uint64_t x = self.rng
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        self.rng = x
        return x

    # ------------------------------------------------------------ records

    cdef void _emit(self, uint32_t idx, uint8_t why) noexcept nogil:
        """Write the open Zeek record of flow ``idx`` to the queue and close it."""
        cdef FlowCore* c = self._c(idx)
        cdef ZeekConn* z = self._z(idx)
        cdef ConnRecord* o = &self.queue[self.qlen]
        cdef int b = (z.cflags & ZC_ORIG_IS_B) != 0
        cdef uint8_t proto = key_proto(&c.key)
        self.qlen += 1
        self.n_records += 1
        memset(o, 0, sizeof(ConnRecord))
        o.ts_ns = z.first_ts
        o.last_ts_ns = z.last_ts
        memcpy(o.orig_addr, c.key.addr[b], 16)
        memcpy(o.resp_addr, c.key.addr[1 - b], 16)
        o.orig_port = c.key.port[b]
        o.resp_port = c.key.port[1 - b]
        o.vlan = (c.key.meta >> 12) & 0xFFF
        o.inner_vlan = c.key.meta & 0xFFF
        o.proto = proto
        o.ip_version = 6 if c.tcp.owner & OWN_V6 else 4
        o.orig_pkts = z.e[0].pkts
        o.resp_pkts = z.e[1].pkts
        o.orig_ip_bytes = z.e[0].ip_bytes
        o.resp_ip_bytes = z.e[1].ip_bytes
        o.orig_bytes = zk_size(z, 0)
        o.resp_bytes = zk_size(z, 1)
        o.missed_bytes = z.missed
        o.orig_flags = z.e[0].flags_seen
        o.resp_flags = z.e[1].flags_seen
        o.conn_state = zk_conn_state(z)
        o.tcp_state = c.tcp.state if proto == IPPROTO_TCP else 0
        o.end_reason = why
        if c.tcp.status & ST_ASSURED:
            o.flags |= RF_ASSURED
        if c.tcp.status & ST_LOOSE:
            o.flags |= RF_LOOSE
        if z.cflags & ZC_FLIPPED:
            o.flags |= RF_FLIPPED
        if z.cflags & ZC_TRUNCATED:
            o.flags |= RF_HISTORY_TRUNCATED
        if z.cflags & ZC_PARTIAL:
            o.flags |= RF_PARTIAL
        memcpy(o.history, z.hist, z.hist_len)
        if why != END_ACTIVE:
            z.cflags = 0

    cdef inline bint _alive(self, uint32_t idx) noexcept nogil:
        return ((self._c(idx).tcp.owner & OWN_CT_ALIVE) != 0 or
                (self.records and (self._z(idx).cflags & ZC_OPEN) != 0))

    cdef bint _age(self, uint32_t idx, int64_t t) noexcept nogil:
        """Apply the timers due at time ``t``; True if the flow is gone (removed)."""
        cdef FlowCore* c = self._c(idx)
        cdef ZeekConn* z
        if (c.tcp.owner & OWN_CT_ALIVE) and t >= c.expires:
            # The conntrack entry timed out; with records, the flow stays until Zeek would
            # also let go, and a later packet starts a fresh conntrack entry.
            c.tcp.owner &= ~OWN_CT_ALIVE
            c.tcp.state = CT_NONE
            c.tcp.status = 0
            self.n_expiries += 1
        if self.records:
            z = self._z(idx)
            if (z.cflags & ZC_OPEN) and t >= z.deadline:
                self._emit(idx, END_CLOSED if (z.close_at != 0 and t >= z.close_at) else END_IDLE)
                self.n_zeek_splits += 1
        if not self._alive(idx):
            self._remove(idx)
            return True
        return False

    cdef void _finish(self, uint32_t idx, uint8_t why) noexcept nogil:
        """Write the record (if any) and drop the flow."""
        if self.records and (self._z(idx).cflags & ZC_OPEN):
            self._emit(idx, why)
        self._remove(idx)

    cdef bint _make_room(self, int64_t t) noexcept nogil:
        cdef int i
        cdef uint32_t cand
        cdef int64_t best = -1, best_exp = 0
        cdef FlowCore* c
        for i in range(SAMPLE):
            cand = <uint32_t>(((self._rand() >> 32) * <uint64_t>self.count) >> 32)
            if self._age(cand, t):
                return True     # it had expired: its slot is free now
            c = self._c(cand)
            if _protected(c):
                continue
            if best < 0 or c.expires < best_exp or not (c.tcp.owner & OWN_CT_ALIVE):
                best = cand
                best_exp = c.expires if (c.tcp.owner & OWN_CT_ALIVE) else -1
        if best < 0:
            self.n_insert_failed += 1
            return False
        self._finish(<uint32_t>best, END_EVICTED)
        self.n_evictions += 1
        return True

    cdef int64_t _insert(self, const FlowKey* k, uint64_t h, int64_t t, bint v6) noexcept nogil:
        cdef uint64_t i
        cdef uint32_t idx
        if self.count >= self.cap:
            if not self._make_room(t):
                return -1
        i = h & self.index_mask
        while self.index[i] != 0:
            i = (i + 1) & self.index_mask
        idx = self.count
        self.count += 1
        self.index[i] = (<uint32_t>(h >> 56) << 24) | (idx + 1)
        memset(self._c(idx), 0, sizeof(FlowCore))
        memcpy(&self._c(idx).key, k, sizeof(FlowKey))
        if v6:
            self._c(idx).tcp.owner = OWN_V6
        if self.records:
            self._z(idx).cflags = 0
        self.n_inserts += 1
        return idx

    # ------------------------------------------------------------ the per-packet path

    cdef inline void _set_timer(self, FlowCore* c, int64_t t, uint8_t to) noexcept nogil:
        cdef int64_t d
        if to == TO_KEEP:
            return
        d = self.timeouts[to & 0x7F]
        if (to & 0x80) and self.timeouts[TO_UNACK] < d:
            d = self.timeouts[TO_UNACK]
        c.expires = t + d if t <= INT64_MAX - d else INT64_MAX

    cdef inline void _key(self, const PacketRecord* r, PreKey* pk) noexcept nogil:
        """Classify a packet and compute its key and hash (no table access)."""
        cdef uint8_t proto = r.ip_proto
        cdef bint swapped
        pk.why = R_NONE
        if r.ip_version != 4 and r.ip_version != 6:
            pk.why = R_NON_IP
            return
        if r.ip_flags & IPF_NONFIRST:
            pk.why = R_FRAGMENT
            return
        if r.csum_ip == CSUM_BAD:
            pk.why = R_BAD_IP_CHECKSUM
            return
        if (proto == IPPROTO_TCP or proto == IPPROTO_UDP or proto == IPPROTO_ICMP or
                proto == IPPROTO_ICMPV6):
            if r.payload_off == OFF_NONE:
                # The transport header is incomplete: no ports, flags or sequence numbers.
                pk.why = R_PARSE_ERROR
                return
        elif r.l3_off == OFF_NONE:
            pk.why = R_PARSE_ERROR
            return
        elif proto == 59:
            # IPv6 "No Next Header" (RFC 8200 4.7): e.g. Teredo bubbles. Nothing to track.
            pk.why = R_NO_TRANSPORT
            return
        if not key_from_packet(r, &pk.k, self.use_vlan, &swapped):
            pk.why = R_NON_IP
            return
        pk.swapped = swapped
        pk.v6 = r.ip_version == 6
        pk.h = key_hash(&pk.k, self.seed, pk.v6)

    cdef inline void _prefetch_slot(self, const PreKey* pk) noexcept nogil:
        if pk.why == R_NONE:
            fastpath_prefetch(&self.index[pk.h & self.index_mask])

    cdef inline void _prefetch_entry(self, const PreKey* pk) noexcept nogil:
        # The slot was prefetched a few packets ago; if it (probably) names this flow, start
        # loading the flow's entries. Only a hint: the lookup itself is done when processing.
        cdef uint32_t v, idx
        cdef size_t off
        cdef const char* e
        if pk.why != R_NONE:
            return
        v = self.index[pk.h & self.index_mask]
        if v == 0 or (v >> 24) != <uint32_t>(pk.h >> 56):
            return
        idx = (v & 0xFFFFFF) - 1
        e = <const char*>self._c(idx)
        off = 0
        while off < self.stride:
            fastpath_prefetch(e + off)
            off += 64
        fastpath_prefetch(e + self.stride - 1)

    cdef uint8_t _packet(self, const PacketRecord* r, const PreKey* pk, uint8_t* why) noexcept nogil:
        cdef bint swapped = pk.swapped
        cdef bint v6 = pk.v6
        cdef uint64_t h = pk.h
        cdef const FlowKey* kp = &pk.k
        cdef int64_t idx, t = r.ts_ns
        cdef uint8_t proto = r.ip_proto, v = V_ACCEPT, reason = R_NONE, action = ACT_NONE
        cdef uint8_t to = TO_KEEP, ns
        cdef int d
        cdef bint track_ct
        cdef FlowCore* c
        cdef ZeekConn* z
        cdef TcpConn fresh
        why[0] = R_NONE
        if t > self.now:
            self.now = t
        if pk.why != R_NONE:
            why[0] = pk.why
            return V_UNTRACKED
        self.n_lookups += 1
        idx = self._find(kp, h, v6)
        if idx >= 0:
            self.n_hits += 1
            c = self._c(idx)
            # Any timer due? (The common case is no: check inline, act out of line.)
            if (((c.tcp.owner & OWN_CT_ALIVE) and t >= c.expires) or
                    (self.records and (self._z(idx).cflags & ZC_OPEN) and
                     t >= self._z(idx).deadline)):
                if self._age(<uint32_t>idx, t):
                    idx = -1

        # ---- conntrack: decide the verdict (and whether a flow may be created)
        track_ct = True
        if proto == IPPROTO_TCP:
            if not tcp_flags_valid(r.tcp_flags):
                v = V_INVALID
                reason = R_BAD_FLAGS
                track_ct = False
            elif r.csum_l4 == CSUM_BAD:
                v = V_INVALID
                reason = R_BAD_CHECKSUM
                track_ct = False
        elif r.csum_l4 == CSUM_BAD:
            v = V_INVALID
            reason = R_BAD_CHECKSUM
            track_ct = False

        if proto == IPPROTO_TCP and track_ct:
            if idx >= 0 and (self._c(idx).tcp.owner & OWN_CT_ALIVE):
                c = self._c(idx)
                d = swapped ^ ((c.tcp.owner & OWN_ORIG_IS_B) != 0)
                v = ct_tcp_packet(&c.tcp, d, r, &reason, &action, &to)
                if action == ACT_REOPEN:
                    # A new connection on a closed tuple: conntrack starts afresh (the record
                    # boundary is Zeek's business, below).
                    c.tcp.owner &= ~OWN_CT_ALIVE
                    c.tcp.state = CT_NONE
                    self.reasons[R_REOPENED] += 1
                    reason = R_NONE
                    action = ACT_NONE
            if idx < 0 or not (self._c(idx).tcp.owner & OWN_CT_ALIVE):
                ns = ct_tcp_new(&fresh, r, self.loose, &reason)
                if ns == CT_INVALID:
                    v = V_INVALID
                    if not self.records:
                        why[0] = reason
                        return v           # nothing to keep without records
                    if idx < 0:
                        idx = self._insert(kp, h, t, v6)
                        if idx < 0:
                            why[0] = R_TABLE_FULL
                            return V_UNTRACKED
                else:
                    if idx < 0:
                        idx = self._insert(kp, h, t, v6)
                        if idx < 0:
                            why[0] = R_TABLE_FULL
                            return V_UNTRACKED
                    c = self._c(idx)
                    fresh.owner = (c.tcp.owner & OWN_V6) | OWN_CT_ALIVE | (OWN_ORIG_IS_B if swapped else 0)
                    memcpy(&c.tcp, &fresh, sizeof(TcpConn))
                    v = ct_tcp_packet(&c.tcp, DIR_ORIGINAL, r, &reason, &action, &to)
                    if v == V_ACCEPT:
                        v = V_NEW
        else:
            if idx < 0:
                if not track_ct and not self.records:
                    why[0] = reason
                    return v
                idx = self._insert(kp, h, t, v6)
                if idx < 0:
                    why[0] = R_TABLE_FULL
                    return V_UNTRACKED
            c = self._c(idx)
            if track_ct and proto != IPPROTO_TCP:
                if not (c.tcp.owner & OWN_CT_ALIVE):
                    c.tcp.owner = (c.tcp.owner & OWN_V6) | OWN_CT_ALIVE | (OWN_ORIG_IS_B if swapped else 0)
                    c.tcp.status = 0
                    v = V_NEW
                d = swapped ^ ((c.tcp.owner & OWN_ORIG_IS_B) != 0)
                if d == DIR_REPLY:
                    # Traffic both ways: a UDP "stream", an answered ICMP request.
                    c.tcp.status |= ST_SEEN_REPLY | ST_ASSURED
                if proto == IPPROTO_UDP:
                    to = TO_UDP_STREAM if c.tcp.status & ST_SEEN_REPLY else TO_UDP
                elif proto == IPPROTO_ICMP or proto == IPPROTO_ICMPV6:
                    to = TO_ICMP
                else:
                    to = TO_OTHER

        if idx < 0:
            why[0] = reason
            return v
        c = self._c(idx)
        if v == V_ACCEPT or v == V_NEW or v == V_IGNORE:
            self._set_timer(c, self.now, to)   # out-of-order timestamps never shorten a timer

        # ---- the connection record, with Zeek's boundaries
        if self.records:
            z = self._z(idx)
            if (z.cflags & ZC_OPEN) and proto == IPPROTO_TCP and zk_is_reuse(z, r):
                self._emit(<uint32_t>idx, END_REUSED)
                self.n_zeek_splits += 1
            if not (z.cflags & ZC_OPEN):
                zk_open(z, r, swapped, t, &self.zcfg)
            zk_packet(z, swapped, r, t, &self.zcfg)

        if action == ACT_KILL:
            # The only answer to a SYN was a RST: the connection is gone (conntrack), the
            # record stays until Zeek would close it.
            c.tcp.owner &= ~OWN_CT_ALIVE
            c.tcp.state = CT_NONE
            c.tcp.status = 0
            if not self._alive(<uint32_t>idx):
                self._remove(<uint32_t>idx)
        why[0] = reason
        return v

    cdef Py_ssize_t _run(self, const PacketRecord* p, Py_ssize_t n, uint8_t* vout,
                         uint8_t* rout) noexcept nogil:
        # A software pipeline: while packet i is processed, packet i + AHEAD_ENTRY's flow entry
        # and packet i + AHEAD_HASH's index slot are being loaded, so the cache misses of
        # several packets overlap instead of following one another (a random memory access
        # costs hundreds of nanoseconds once the table outgrows the caches).
        cdef Py_ssize_t i, j
        cdef int ah = AHEAD_HASH, ae = AHEAD_ENTRY
        cdef uint8_t v, why
        cdef PreKey ring[RING]
        for j in range(ah if ah < n else n):
            self._key(&p[j], &ring[j & (RING - 1)])
            self._prefetch_slot(&ring[j & (RING - 1)])
        for j in range(ae if ae < n else n):
            self._prefetch_entry(&ring[j & (RING - 1)])
        for i in range(n):
            if self.qlen + SAMPLE + 8 > QUEUE_CAP:
                self.n_packets += i
                return i
            j = i + ah
            if j < n:
                self._key(&p[j], &ring[j & (RING - 1)])
                self._prefetch_slot(&ring[j & (RING - 1)])
            elif ah == 0:
                self._key(&p[i], &ring[i & (RING - 1)])
            j = i + ae
            if ae and j < n:
                self._prefetch_entry(&ring[j & (RING - 1)])
            v = self._packet(&p[i], &ring[i & (RING - 1)], &why)
            self.verdicts[v] += 1
            self.reasons[why] += 1
            if vout != NULL:
                vout[i] = v
            if rout != NULL:
                rout[i] = why
        self.n_packets += n
        return n

    cdef Py_ssize_t _sweep(self, Py_ssize_t budget, int64_t t, bint* full) noexcept nogil:
        # Look at pool entries from where the last sweep stopped until ``budget`` of them were
        # found alive; the expired ones found on the way are finished (their work is owed
        # anyway). Stops early when the record queue needs draining (``full``).
        cdef Py_ssize_t kept = 0
        full[0] = False
        while kept < budget and self.count > 0:
            if self.qlen + 2 > QUEUE_CAP:
                full[0] = True
                break
            if self.sweep_pos >= self.count:
                self.sweep_pos = 0
            if not self._age(self.sweep_pos, t):
                self.sweep_pos += 1
                kept += 1
        return kept

    cdef object _drain(self, list out):
        cdef object arr
        cdef uint8_t[::1] raw
        if self.qlen == 0:
            return
        arr = np.empty(self.qlen, dtype=CONN_DTYPE)
        raw = arr.view(np.uint8).reshape(-1)
        memcpy(&raw[0], self.queue, self.qlen * sizeof(ConnRecord))
        self.qlen = 0
        out.append(arr)

    cdef object _result(self, list out):
        if not out:
            return np.empty(0, dtype=CONN_DTYPE)
        if len(out) == 1:
            return out[0]
        return np.concatenate(out)

    # ------------------------------------------------------------ Python API

    cdef _enter(self):
        if self.busy:
            raise RuntimeError("this FlowTable is in use by another thread: use one table per "
                               "thread")
        self.busy = True

    def track(self, packets, verdicts=None, reasons=None):
        """Track a batch of parsed packets (a ``PACKET_DTYPE`` array, in capture order).

        Returns the connection records finished by this batch (``CONN_DTYPE``; empty without
        records). ``verdicts``/``reasons``, if given, are uint8 arrays of the batch's length
        that receive each packet's verdict (``V_*``) and reason (``R_*``)."""
        cdef Py_ssize_t n
        cdef list out = []
        if not isinstance(packets, np.ndarray) or packets.dtype != PACKET_DTYPE:
            raise ConfigError("track() takes a numpy array of PACKET_DTYPE records (from "
                              "fastpath.wire.parse or fastpath.packets), got "
                              f"{type(packets).__name__}"
                              f"{' of ' + str(packets.dtype) if isinstance(packets, np.ndarray) else ''}")
        packets = np.ascontiguousarray(packets)
        n = packets.shape[0]
        if n == 0:
            return self._result(out)
        self._enter()
        try:
            return self._track(packets, n, verdicts, reasons, out)
        finally:
            self.busy = False

    cdef object _track(self, object packets, Py_ssize_t n, object verdicts, object reasons,
                       list out):
        cdef const uint8_t[::1] raw
        cdef uint8_t[::1] vv
        cdef uint8_t[::1] rv
        cdef const PacketRecord* p
        cdef uint8_t* vp = NULL
        cdef uint8_t* rp = NULL
        cdef Py_ssize_t done = 0, k, budget
        cdef bint full = False
        raw = packets.view(np.uint8).reshape(-1)
        p = <const PacketRecord*>&raw[0]
        if verdicts is not None:
            if not isinstance(verdicts, np.ndarray) or verdicts.dtype != np.uint8 or verdicts.shape != (n,):
                raise ConfigError(f"verdicts must be a uint8 array of length {n}")
            vv = verdicts
            vp = &vv[0]
        if reasons is not None:
            if not isinstance(reasons, np.ndarray) or reasons.dtype != np.uint8 or reasons.shape != (n,):
                raise ConfigError(f"reasons must be a uint8 array of length {n}")
            rv = reasons
            rp = &rv[0]
        while done < n:
            with nogil:
                k = self._run(p + done, n - done, vp + done if vp != NULL else NULL,
                              rp + done if rp != NULL else NULL)
            done += k
            if done < n:
                self._drain(out)
        # Keep the pool clean: a short round-robin sweep, proportional to the batch and to the
        # pool (a full pass at least every 32 batches, however fast flows are created), and
        # never more than one pass per batch.
        budget = n // 16 + self.count // 32 + 64
        if budget > self.count:
            budget = self.count
        while True:
            with nogil:
                k = self._sweep(budget, self.now, &full)
            budget -= k
            self._drain(out)
            if not full or budget <= 0:
                break
        return self._result(out)

    def expire(self, now_ns=None):
        """Apply every timer due at ``now_ns`` (default: the newest packet time seen).

        Returns the records this finished."""
        if self.busy:
            self._enter()                   # raises: another thread is tracking
        cdef int64_t t = self.now if now_ns is None else int(now_ns)
        cdef uint32_t i = 0
        cdef list out = []
        if t > self.now:
            self.now = t
        while i < self.count:
            if self.qlen + 2 > QUEUE_CAP:
                self._drain(out)
            if not self._age(i, t):
                i += 1
        self._drain(out)
        return self._result(out)

    def flush(self):
        """End of input: write a record for every open connection and empty the table."""
        if self.busy:
            self._enter()                   # raises: another thread is tracking
        cdef list out = []
        while self.count > 0:
            if self.qlen + 2 > QUEUE_CAP:
                self._drain(out)
            self._finish(self.count - 1, END_FLUSHED)
        self._drain(out)
        return self._result(out)

    def snapshot(self):
        """Records of the connections open right now (``end_reason`` 'active'); nothing changes."""
        if self.busy:
            self._enter()                   # raises: another thread is tracking
        cdef list out = []
        cdef uint32_t i
        if not self.records:
            return self._result(out)
        for i in range(self.count):
            if self._z(i).cflags & ZC_OPEN:
                if self.qlen + 1 > QUEUE_CAP:
                    self._drain(out)
                self._emit(i, END_ACTIVE)
                self.n_records -= 1
        self._drain(out)
        return self._result(out)

    def lookup(self, src, sport, dst, dport, proto=6, vlan=(), icmp_code=0):
        """The state of the flow a packet src:sport -> dst:dport would belong to, or None.

        For ICMP give the type as ``sport`` (``dport`` and ``icmp_code`` as in the packet)."""
        if self.busy:
            self._enter()                   # raises: another thread is tracking
        import ipaddress
        cdef PacketRecord r
        cdef FlowKey k
        cdef bint swapped
        cdef int64_t idx
        cdef FlowCore* c
        cdef ZeekConn* z
        memset(&r, 0, sizeof(PacketRecord))
        s = ipaddress.ip_address(src)
        d = ipaddress.ip_address(dst)
        if s.version != d.version:
            raise ConfigError(f"addresses of different families: {src} and {dst}")
        r.ip_version = s.version
        if s.version == 4:
            r.ip4_src = int(s)
            r.ip4_dst = int(d)
        else:
            sb = s.packed
            db = d.packed
            memcpy(r.ip6_src, <const char*>sb, 16)
            memcpy(r.ip6_dst, <const char*>db, 16)
        r.ip_proto = proto
        r.sport = sport
        r.dport = dport
        r.icmp_type = sport & 0xFF
        r.icmp_code = icmp_code
        vlan = tuple(vlan)
        r.vlan_count = len(vlan)
        for i, tag in enumerate(vlan[:4]):
            r.vlan[i] = tag
        if not key_from_packet(&r, &k, self.use_vlan, &swapped):
            return None
        idx = self._find(&k, key_hash(&k, self.seed, s.version == 6), s.version == 6)
        if idx < 0:
            return None
        c = self._c(idx)
        info = {
            "conntrack": bool(c.tcp.owner & OWN_CT_ALIVE),
            "tcp_state": TCP_STATE_NAMES[c.tcp.state] if proto == IPPROTO_TCP else None,
            "assured": bool(c.tcp.status & ST_ASSURED),
            "seen_reply": bool(c.tcp.status & ST_SEEN_REPLY),
            "packet_is_original": bool((c.tcp.owner & OWN_CT_ALIVE) and
                                       (swapped == ((c.tcp.owner & OWN_ORIG_IS_B) != 0))),
            "expires_ns": c.expires,
        }
        if self.records:
            z = self._z(idx)
            info["record_open"] = bool(z.cflags & ZC_OPEN)
            info["history"] = bytes(z.hist[:z.hist_len]).decode("ascii")
            info["conn_state"] = CONN_STATE_NAMES[zk_conn_state(z)]
        return info

    def __len__(self):
        return self.count

    @property
    def capacity(self):
        return self.cap

    @property
    def records_enabled(self):
        return self.records

    @property
    def memory_bytes(self):
        """Bytes allocated for flows, index and record queue (fixed at creation)."""
        return self._bytes_for(self.cap, self.records, self.index_size)

    @property
    def now_ns(self):
        return self.now

    def stats(self):
        """Counters since creation."""
        return {
            "active": self.count, "capacity": self.cap, "packets": self.n_packets,
            "lookups": self.n_lookups, "hits": self.n_hits, "inserts": self.n_inserts,
            "evictions": self.n_evictions, "expiries": self.n_expiries,
            "insert_failed": self.n_insert_failed, "removed": self.n_removed,
            "records": self.n_records, "record_splits": self.n_zeek_splits,
            "verdicts": {VERDICT_NAMES[i]: self.verdicts[i] for i in range(5)},
            "reasons": {REASON_NAMES[i]: self.reasons[i] for i in range(1, R_COUNT)
                        if self.reasons[i]},
            "memory_bytes": self.memory_bytes,
        }


def entry_sizes():
    """(bytes per flow without records, with records, per index slot, per record)."""
    return (sizeof(FlowCore), sizeof(FlowCore) + sizeof(ZeekConn), sizeof(uint32_t),
            sizeof(ConnRecord))
