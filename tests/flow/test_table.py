"""The flow table: keys, capacity, packet-time expiry, eviction, counters, configuration."""
import numpy as np
import pytest

from fastpath.errors import ConfigError
from fastpath.flow import CONN_DTYPE, CONN_STATE_NAMES, FlowTable, entry_sizes
from fastpath.flow.conntrack import REASON_NAMES, VERDICT_NAMES
from fastpath.flow.table import END_NAMES, RF_ASSURED
from fastpath.wire.record import PACKET_DTYPE
from flowpkt import ACK, FIN, MS, PSH, RST, SEC, SYN, T0, Conv, batch, packet


def verdicts_of(t, recs):
    v = np.zeros(len(recs), np.uint8)
    r = np.zeros(len(recs), np.uint8)
    out = t.track(recs, verdicts=v, reasons=r)
    return [VERDICT_NAMES[x] for x in v], [REASON_NAMES[x] for x in r], out


def syn(ts, i, dst="10.9.9.9", dport=80):
    return packet(ts, f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", 1024 + (i % 60000),
                  dst, dport, 6, flags=SYN, seq=i * 7919)


# ---------------------------------------------------------------- keys

def test_both_directions_are_one_flow():
    t = FlowTable(16, seed=1)
    t.track(batch(packet(T0, "10.0.0.1", 1111, "10.0.0.2", 2222, 17, payload=1),
                  packet(T0 + 1, "10.0.0.2", 2222, "10.0.0.1", 1111, 17, payload=1)))
    assert len(t) == 1
    st = t.stats()
    assert (st["inserts"], st["lookups"], st["hits"]) == (1, 2, 1)


def test_ipv6_and_ipv4_flows_are_distinct():
    # Even an IPv6 packet with IPv4-mapped addresses is not the IPv4 flow.
    t = FlowTable(16, seed=1)
    t.track(batch(packet(T0, "10.0.0.1", 1, "10.0.0.2", 2, 17),
                  packet(T0, "::ffff:10.0.0.1", 1, "::ffff:10.0.0.2", 2, 17),
                  packet(T0, "2001:db8::1", 1, "2001:db8::2", 2, 17)))
    assert len(t) == 3
    assert t.lookup("2001:db8::2", 2, "2001:db8::1", 1, 17) is not None
    recs = t.flush()
    assert sorted(recs["ip_version"]) == [4, 6, 6]


def test_vlan_is_part_of_the_key_only_when_asked():
    pkts = batch(packet(T0, "10.0.0.1", 1, "10.0.0.2", 2, 17, vlan=(10,)),
                 packet(T0, "10.0.0.1", 1, "10.0.0.2", 2, 17, vlan=(20,)),
                 packet(T0, "10.0.0.1", 1, "10.0.0.2", 2, 17, vlan=(10, 7)))
    t = FlowTable(16, seed=1)
    t.track(pkts)
    assert len(t) == 1
    t = FlowTable(16, vlan=True, seed=1)
    t.track(pkts)
    assert len(t) == 3
    recs = t.flush()
    assert sorted(zip(recs["vlan"], recs["inner_vlan"])) == [(10, 0), (10, 7), (20, 0)]


def test_lookup_reports_state_and_direction():
    c = Conv(FlowTable(16, seed=1))
    c.handshake()
    info = c.table.lookup("10.0.0.2", 80, "10.0.0.1", 40000)
    assert info["tcp_state"] == "ESTABLISHED" and info["assured"]
    assert info["packet_is_original"] is False
    assert c.table.lookup("10.0.0.1", 40000, "10.0.0.3", 80) is None


# ---------------------------------------------------------------- what is not tracked

def test_untracked_packets_say_why():
    arp = np.zeros(1, PACKET_DTYPE)[0]
    arp["l3_off"] = 14
    arp["l4_off"] = arp["payload_off"] = arp["inner_off"] = 0xFFFF
    frag = packet(T0, "10.0.0.1", 0, "10.0.0.2", 0, 6)
    frag["ip_flags"] = 0x04 | 0x08
    trunc = packet(T0, "10.0.0.1", 1, "10.0.0.2", 2, 6, flags=SYN)
    trunc["payload_off"] = 0xFFFF
    badip = packet(T0, "10.0.0.1", 1, "10.0.0.2", 2, 17, csum_ip=0)
    v, r, _ = verdicts_of(FlowTable(16, seed=1), batch(arp, frag, trunc, badip))
    assert v == ["untracked"] * 4
    assert r == ["non-ip", "fragment", "parse-error", "bad-ip-checksum"]


def test_invalid_packets_are_counted_by_reason():
    t = FlowTable(16, seed=1)
    c = Conv(t)
    c.handshake()
    assert c.c(SYN | FIN, seq=1001) == ("invalid", "bad-flags")
    assert c.c(PSH | ACK, 10, csum_l4=0) == ("invalid", "bad-checksum")
    assert c.c(ACK, ack=90000) == ("invalid", "ack-over-window")
    st = t.stats()
    assert st["verdicts"]["invalid"] == 3
    assert st["reasons"] == {"bad-flags": 1, "bad-checksum": 1, "ack-over-window": 1}


def test_strict_mode_without_records_does_not_create_flows():
    t = FlowTable(16, loose=False, records=False, seed=1)
    v, r, _ = verdicts_of(t, batch(packet(T0, "10.0.0.1", 1, "10.0.0.2", 2, 6, flags=ACK)))
    assert (v, r) == (["invalid"], ["not-new"])
    assert len(t) == 0


# ---------------------------------------------------------------- time

def test_expiry_follows_packet_time_not_the_wall_clock():
    t = FlowTable(16, seed=1, timeouts={"udp": 30.0}, zeek={"udp_inactivity": 30.0})
    t.track(batch(packet(T0, "10.0.0.1", 1, "10.0.0.2", 2, 17)))
    # A packet of another flow 29 s later: nothing expires, however long the test takes.
    assert len(t.track(batch(packet(T0 + 29 * SEC, "10.0.0.3", 1, "10.0.0.4", 2, 17)))) == 0
    assert len(t) == 2
    out = t.expire(T0 + 31 * SEC)
    assert len(out) == 1 and END_NAMES[out[0]["end_reason"]] == "idle"
    assert len(t) == 1
    assert t.stats()["expiries"] == 1


def test_expired_flow_is_replaced_when_its_tuple_returns():
    t = FlowTable(16, seed=1)
    c = Conv(t)
    c.c(SYN)                          # SYN_SENT: 120 s, Zeek's attempt timer: 5 s
    c.c(SYN, seq=1000, dt=200 * SEC)
    recs = list(c.records) + list(t.flush())
    assert len(recs) == 2
    assert t.stats()["expiries"] == 1


def test_batch_sweep_finds_idle_flows_without_being_asked():
    t = FlowTable(8192, seed=1)
    t.track(batch(*[packet(T0, f"10.0.{i >> 8}.{i & 255}", 1, "10.1.0.1", 2, 17)
                    for i in range(1000)]))
    # Each batch sweeps the pool round-robin, n/4 + pool/32 + 64 live entries at a time (the
    # expired ones met on the way are finished for free): a full pass at least every 32
    # batches, even while new flows keep arriving.
    found = []
    for k in range(32):
        late = batch(*[packet(T0 + 3600 * SEC + i, "10.2.0.1", k * 100 + i, "10.3.0.1", 2, 17)
                       for i in range(100)])
        found.extend(t.track(late))
    assert len(found) == 1000 and {END_NAMES[r["end_reason"]] for r in found} == {"idle"}
    assert len(t) == 3200


def test_conntrack_expiry_keeps_the_record_until_zeek_would_end_it():
    # Conntrack's CLOSE timer (10 s here) ends the middlebox state; the record stays open for
    # the packets Zeek would still count (inactivity 300 s): one record, not two.
    t = FlowTable(16, seed=1, zeek={"close_delay": 60.0, "linger": 60.0, "session_timer": 60.0})
    c = Conv(t)
    c.handshake()
    c.c(RST | ACK)
    assert c.info()["tcp_state"] == "CLOSE"
    # 20 s later conntrack has forgotten the connection: the ACK is picked up afresh.
    assert c.s(ACK, dt=20 * SEC)[0] == "new"
    assert t.stats()["expiries"] == 1
    recs = list(c.records) + list(t.flush())
    assert len(recs) == 1
    assert recs[0]["history"] == b"ShARa"


# ---------------------------------------------------------------- capacity and eviction

def test_table_never_holds_more_than_its_capacity():
    t = FlowTable(64, seed=1)
    for k in range(10):
        t.track(batch(*[syn(T0 + k * MS + i, k * 100 + i) for i in range(100)]))
        assert len(t) <= 64
    st = t.stats()
    assert st["inserts"] - st["removed"] == len(t) == 64
    assert st["evictions"] == 1000 - 64


def test_eviction_spares_established_connections():
    t = FlowTable(64, seed=3)
    convs = [Conv(t, client=(f"10.5.0.{i}", 40000), server=("10.9.9.9", 443)) for i in range(16)]
    for c in convs:
        c.handshake()
        c.c(PSH | ACK, 10)
    out = t.track(batch(*[syn(T0 + SEC + i, i) for i in range(5000)]))
    assert len(out) > 4000
    assert set(out["tcp_state"]) == {1}                       # only SYN_SENT flows evicted
    assert {END_NAMES[x] for x in out["end_reason"]} == {"evicted"}
    for c in convs:
        info = c.info()
        assert info["tcp_state"] == "ESTABLISHED" and info["assured"]
        assert c.c(PSH | ACK, 10) == ("accept", "none")


def test_full_table_of_established_connections_refuses_new_flows():
    t = FlowTable(8, seed=1)
    convs = [Conv(t, client=(f"10.5.0.{i}", 40000), server=("10.9.9.9", 443)) for i in range(8)]
    for c in convs:
        c.handshake()
    v, r, out = verdicts_of(t, batch(*[syn(T0 + SEC + i, i) for i in range(100)]))
    assert v == ["untracked"] * 100 and r == ["table-full"] * 100
    assert len(out) == 0
    st = t.stats()
    assert st["insert_failed"] == 100 and st["evictions"] == 0
    assert all(c.info()["tcp_state"] == "ESTABLISHED" for c in convs)


def test_closing_connections_are_not_protected():
    t = FlowTable(2, seed=1)
    a = Conv(t, client=("10.5.0.1", 40000))
    a.handshake()
    a.c(FIN | ACK)                                            # FIN_WAIT: may be evicted
    b = Conv(t, client=("10.5.0.2", 40000))
    b.handshake()
    assert len(t) == 2
    v, r, out = verdicts_of(t, batch(syn(T0 + SEC, 1)))
    assert v == ["new"]
    assert len(out) == 1 and out[0]["orig_port"] == 40000
    assert b.info() is not None and a.info() is None


def test_eviction_is_reproducible_with_a_seed():
    def run():
        t = FlowTable(32, seed=42)
        out = t.track(batch(*[syn(T0 + i, i) for i in range(300)]))
        return sorted(map(bytes, out["orig_addr"]))
    assert run() == run()


def test_memory_is_fixed_at_creation():
    t = FlowTable(1000, seed=1)
    before = t.memory_bytes
    t.track(batch(*[syn(T0 + i, i) for i in range(3000)]))
    assert t.memory_bytes == before
    core, with_records, slot, record = entry_sizes()
    assert core == 96
    # index: next power of two at or above capacity / 0.65 slots of 4 bytes
    assert before == 1000 * with_records + 2048 * slot + 8192 * record


def test_conntrack_only_table_is_smaller_and_writes_no_records():
    a = FlowTable(100_000, records=False)
    b = FlowTable(100_000)
    assert a.memory_bytes < b.memory_bytes / 3
    assert not a.records_enabled
    c = Conv(a)
    c.handshake()
    assert len(a.flush()) == 0 and len(c.records) == 0


# ---------------------------------------------------------------- records API

def test_records_have_the_documented_layout():
    assert CONN_DTYPE.itemsize == entry_sizes()[3]
    c = Conv(FlowTable(16, seed=1))
    c.handshake()
    snap = c.table.snapshot()
    assert len(snap) == 1 and END_NAMES[snap[0]["end_reason"]] == "active"
    assert len(c.table) == 1                          # a snapshot changes nothing
    recs = c.table.flush()
    assert recs.dtype == CONN_DTYPE
    r = recs[0]
    assert bytes(r["orig_addr"][12:]) == bytes([10, 0, 0, 1])
    assert (r["orig_port"], r["resp_port"], r["proto"], r["ip_version"]) == (40000, 80, 6, 4)
    assert r["flags"] & RF_ASSURED
    assert len(c.table) == 0


def test_many_records_from_one_batch_all_arrive():
    # More finished connections than the C queue holds between drains.
    t = FlowTable(30000, seed=1)
    t.track(batch(*[packet(T0, f"10.0.{i >> 8}.{i & 255}", i, "10.1.0.1", 2, 17)
                    for i in range(20000)]))
    out = t.expire(T0 + 3600 * SEC)
    assert len(out) == 20000
    assert len({bytes(a) + bytes(b) for a, b in zip(out["orig_addr"], out["resp_addr"])}) == 20000


# ---------------------------------------------------------------- configuration errors

@pytest.mark.parametrize("cap", [0, -5, 1 << 30, "many", None])
def test_bad_capacity_is_a_clear_error(cap):
    with pytest.raises(ConfigError, match="capacity"):
        FlowTable(cap)


@pytest.mark.parametrize("kw, match", [
    ({"timeouts": {"tcp_establishd": 5}}, "unknown timeout"),
    ({"timeouts": {"udp": -1}}, "positive"),
    ({"timeouts": {"udp": "soon"}}, "number of seconds"),
    ({"zeek": {"tcp_inactivity": 0}}, "positive"),
    ({"zeek": {"no_such": 1}}, "unknown Zeek setting"),
    ({"server_ports": {"sctp": [1]}}, "server_ports"),
    ({"server_ports": {"tcp": [70000]}}, "outside"),
    ({"server_ports": [80]}, "server_ports"),
])
def test_bad_settings_are_clear_errors(kw, match):
    with pytest.raises(ConfigError, match=match):
        FlowTable(16, **kw)


def test_track_checks_its_input():
    t = FlowTable(16)
    with pytest.raises(ConfigError, match="PACKET_DTYPE"):
        t.track(np.zeros(3, np.uint8))
    with pytest.raises(ConfigError, match="PACKET_DTYPE"):
        t.track([1, 2, 3])
    with pytest.raises(ConfigError, match="verdicts"):
        t.track(batch(syn(T0, 1)), verdicts=np.zeros(5, np.uint8))
    assert len(t.track(np.zeros(0, PACKET_DTYPE))) == 0


def test_one_thread_at_a_time():
    # track() releases the GIL; another thread using the same table meanwhile gets an error
    # instead of corrupting it.
    # The main thread polls with a short sleep, not a busy loop: a spinning thread holding
    # the GIL starves the worker wherever it needs the GIL back (in a debug build, line
    # tracing takes it for every traced line inside the nogil loop).
    import threading
    import time
    t = FlowTable(1 << 16, seed=1)
    big = batch(*[syn(T0 + i, i) for i in range(20000)])
    errors, done = [], threading.Event()

    def worker():
        try:
            for _ in range(20):
                t.track(big)
        finally:
            done.set()

    th = threading.Thread(target=worker)
    th.start()
    while not done.is_set():
        try:
            t.flush()
        except RuntimeError as e:
            if len(errors) < 1000:
                errors.append(str(e))
        time.sleep(0.0002)
    th.join()
    assert errors, "flush() never ran while track() held the table"
    assert all("another thread" in e for e in errors)
    st = t.stats()
    assert st["inserts"] - st["removed"] == len(t)


def test_absurd_timestamps_do_not_wrap_timers():
    # Fuzzed captures carry timestamps near the ends of int64: timers saturate instead of
    # wrapping into the past, and nothing is lost.
    t = FlowTable(8, seed=1)
    far = 2**63 - 10
    out = list(t.track(batch(packet(2**62, "10.0.0.1", 1, "10.0.0.2", 2, 17),
                             packet(-5, "10.0.0.1", 1, "10.0.0.2", 2, 17),
                             packet(far, "10.0.0.1", 1, "10.0.0.2", 2, 17))))
    info = t.lookup("10.0.0.1", 1, "10.0.0.2", 2, 17)
    assert info is not None and info["expires_ns"] == 2**63 - 1
    out += list(t.flush())
    assert len(out) == 2                              # split by the 2**62-ns silence, not lost
    assert sum(int(r["orig_pkts"]) for r in out) == 3
    assert all(r["ts_ns"] <= r["last_ts_ns"] for r in out)
