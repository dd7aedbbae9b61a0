"""A SYN flood of millions of random tuples against a small table.

The policy (table.pyx): when the table is full, sampled entries that have expired are reclaimed
first, then the unprotected one closest to expiry is evicted; established connections
(conntrack ASSURED, not closing) are protected and never evicted. So memory stays at the
configured capacity, the flood's half-open flows evict each other, and the established
connections keep working and keep their records whole.
"""
import os

import numpy as np
import pytest

from fastpath.flow import CONN_STATE_NAMES, FlowTable
from fastpath.flow.table import END_NAMES
from fastpath.wire.record import CSUM_UNVERIFIED, PACKET_DTYPE
from flowpkt import ACK, PSH, SYN, T0

CAPACITY = 4096
ESTABLISHED = 1000
FLOOD = 2_000_000
BATCH = 65536
SERVER = (10 << 24) | (9 << 16) | (9 << 8) | 9          # 10.9.9.9:80


def _blank(n):
    p = np.zeros(n, PACKET_DTYPE)
    p["linktype"] = 1
    p["l3_type"] = 0x0800
    p["ip_version"] = 4
    p["ip_proto"] = 6
    p["l3_off"] = 14
    p["l4_off"] = 34
    p["payload_off"] = 54
    p["inner_off"] = 0xFFFF
    p["tcp_window"] = 29200
    p["csum_ip"] = CSUM_UNVERIFIED
    p["csum_l4"] = CSUM_UNVERIFIED
    return p


def flood(rng, n, t0):
    p = _blank(n)
    p["ts_ns"] = t0 + np.arange(n, dtype=np.int64) * 500          # 2 Mpps of packet time
    p["ip4_src"] = rng.integers(1 << 24, 224 << 24, n, dtype=np.uint32)
    p["ip4_dst"] = SERVER
    p["sport"] = rng.integers(1024, 65536, n, dtype=np.uint16)
    p["dport"] = 80
    p["tcp_flags"] = SYN
    p["tcp_seq"] = rng.integers(0, 1 << 32, n, dtype=np.uint32)
    p["caplen"] = p["wirelen"] = 54
    return p


def clients():
    return (172 << 24) | (16 << 16) | np.arange(ESTABLISHED, dtype=np.uint32)


def handshake(t0):
    """SYN, SYN/ACK, ACK for every established client (ISN 1000, server ISN 50000)."""
    c = clients()
    p = _blank(3 * ESTABLISHED)
    p["ts_ns"] = t0 + np.arange(3 * ESTABLISHED, dtype=np.int64) * 1000
    for k, (flags, fwd) in enumerate(((SYN, True), (SYN | ACK, False), (ACK, True))):
        s = p[k * ESTABLISHED:(k + 1) * ESTABLISHED]
        s["ip4_src"], s["ip4_dst"] = (c, SERVER) if fwd else (SERVER, c)
        s["sport"], s["dport"] = (40000, 443) if fwd else (443, 40000)
        s["tcp_flags"] = flags
        s["tcp_seq"] = 1000 + (k == 2) if fwd else 50000
        s["tcp_ack"] = 0 if k == 0 else (1001 if k == 1 else 50001)
    p["caplen"] = p["wirelen"] = 54
    return p


def data_round(r, t0):
    """One 100-byte request from every client and the server's ACK of it."""
    c = clients()
    p = _blank(2 * ESTABLISHED)
    p["ts_ns"] = t0 + np.arange(2 * ESTABLISHED, dtype=np.int64) * 100
    req, ack = p[:ESTABLISHED], p[ESTABLISHED:]
    req["ip4_src"], req["ip4_dst"], req["sport"], req["dport"] = c, SERVER, 40000, 443
    req["tcp_flags"] = PSH | ACK
    req["tcp_seq"] = 1001 + 100 * r
    req["tcp_ack"] = 50001
    req["payload_len"] = 100
    req["caplen"] = req["wirelen"] = 154
    ack["ip4_src"], ack["ip4_dst"], ack["sport"], ack["dport"] = SERVER, c, 443, 40000
    ack["tcp_flags"] = ACK
    ack["tcp_seq"] = 50001
    ack["tcp_ack"] = 1001 + 100 * (r + 1)
    ack["caplen"] = ack["wirelen"] = 54
    return p


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc to read the RSS")
def test_syn_flood_keeps_capacity_and_spares_established_connections():
    rng = np.random.default_rng(2024)
    table = FlowTable(CAPACITY, seed=99)
    mem = table.memory_bytes
    v = np.zeros(3 * ESTABLISHED, np.uint8)
    table.track(handshake(T0), verdicts=v)
    assert (v == 1).sum() == ESTABLISHED and (v == 0).sum() == 2 * ESTABLISHED  # new / accept

    rss0 = rss_bytes()
    evicted = 0
    t = T0 + 10**9
    rounds = 0
    sent = 0
    while sent < FLOOD:
        n = min(BATCH, FLOOD - sent)
        out = table.track(flood(rng, n, t))
        sent += n
        t += n * 500
        # Only the flood's half-open flows are ever evicted.
        assert set(out["tcp_state"].tolist()) <= {1}
        assert set(out["history"].tolist()) <= {b"S"}
        assert {END_NAMES[e] for e in out["end_reason"]} <= {"evicted"}
        evicted += len(out)
        assert len(table) <= CAPACITY
        # The established connections keep talking through the flood: every segment valid.
        dv = np.zeros(2 * ESTABLISHED, np.uint8)
        assert len(table.track(data_round(rounds, t), verdicts=dv)) == 0
        assert (dv == 0).all(), "an established connection's segment was not accepted"
        rounds += 1
        t += 10**6
    growth = rss_bytes() - rss0

    st = table.stats()
    assert table.memory_bytes == mem
    assert len(table) == CAPACITY
    # Every flood packet was inserted (evicting another), refused, or -- should a random tuple
    # repeat while its flow is still held -- found.
    est_hits = 2 * ESTABLISHED + 2 * ESTABLISHED * rounds
    flood_hits = st["hits"] - est_hits
    assert 0 <= flood_hits < 10
    assert st["inserts"] == ESTABLISHED + FLOOD - st["insert_failed"] - flood_hits
    assert st["evictions"] == evicted
    assert st["evictions"] == st["inserts"] - CAPACITY
    # Sampling 8 entries of which a quarter are protected rarely finds no victim.
    assert st["insert_failed"] < FLOOD // 10000
    assert growth < 64 << 20, f"RSS grew by {growth >> 20} MiB during the flood"

    for i in range(0, ESTABLISHED, 97):
        info = table.lookup(f"172.16.{i >> 8}.{i & 255}", 40000, "10.9.9.9", 443)
        assert info["tcp_state"] == "ESTABLISHED" and info["assured"] and info["record_open"]

    recs = table.flush()
    est = recs[recs["resp_port"] == 443]
    assert len(est) == ESTABLISHED                           # one whole record each
    assert set(est["history"].tolist()) == {b"ShADa"}
    assert set(est["orig_pkts"].tolist()) == {2 + rounds}
    assert set(est["orig_bytes"].tolist()) == {100 * rounds}
    assert {CONN_STATE_NAMES[s] for s in est["conn_state"]} == {"S1"}


def test_table_full_of_established_connections_refuses_the_flood():
    rng = np.random.default_rng(7)
    table = FlowTable(ESTABLISHED, seed=5)
    table.track(handshake(T0))
    assert len(table) == ESTABLISHED
    v = np.zeros(BATCH, np.uint8)
    out = table.track(flood(rng, BATCH, T0 + 10**9), verdicts=v)
    assert len(out) == 0
    assert (v == 4).all()                                   # untracked: table full
    st = table.stats()
    assert st["insert_failed"] == BATCH and st["evictions"] == 0
    dv = np.zeros(2 * ESTABLISHED, np.uint8)
    table.track(data_round(0, T0 + 2 * 10**9), verdicts=dv)
    assert (dv == 0).all()
