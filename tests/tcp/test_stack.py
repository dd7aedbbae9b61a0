"""The stack: real IPv4/IPv6 frames in and out (checksums made by the wire layer's emitters and
verified on receipt), demultiplexing, ports, TIME-WAIT handling, bounded tables."""
import random

import pytest

from fastpath.errors import ConfigError, ConnectionClosed, CapacityError
from fastpath.tcp import TcpStack, pattern_bytes
from tcpvocab import *


def hosts(v6=False, cfg=None, **kw):
    a_addr, b_addr = ("fd00::1", "fd00::2") if v6 else ("10.3.0.1", "10.3.0.2")
    a = TcpStack(a_addr, cfg or BASE, seed=10, **kw)
    b = TcpStack(b_addr, cfg or BASE, seed=11, **kw)
    return a, b, a_addr, b_addr


def connected(v6=False, cfg=None, **kw):
    a, b, aa, ba = hosts(v6, cfg, **kw)
    lst = b.listen(7000)
    c = a.connect(T0, (ba, 7000))
    pump(a, b)
    s = lst.accept()
    assert c.state == State.ESTABLISHED and s.state == State.ESTABLISHED
    return a, b, c, s


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_stack_transfer_and_close_over_real_frames(v6):
    # RFC 9293 end to end, both IP versions: data both ways, orderly close, TIME-WAIT on the
    # side that closed first (RFC 9293 3.6).
    a, b, c, s = connected(v6, TcpConfig(timestamps=True, sack=True))
    up, down = pattern_bytes(0, 50_000), pattern_bytes(7, 30_000)
    got_up, got_down = bytearray(), bytearray()
    now, sent_up, sent_down = T0, 0, 0
    while len(got_up) < len(up) or len(got_down) < len(down):
        now += 1000
        sent_up += c.send(up[sent_up:])
        sent_down += s.send(down[sent_down:])
        a.poll(now)
        b.poll(now)
        pump(a, b, now)
        got_up += s.recv()
        got_down += c.recv()
    assert bytes(got_up) == up and bytes(got_down) == down
    c.close(now)
    a.poll(now)
    pump(a, b, now)
    assert s.eof and s.state == State.CLOSE_WAIT
    s.close(now)
    b.poll(now)
    pump(a, b, now)
    assert a.state_counts() == {State.TIME_WAIT: 1} and b.connections == 0
    a.check()
    b.check()


def test_stack_ipv6_mss_leaves_room_for_the_larger_header():
    # RFC 8200 5 / RFC 9293 3.7.1: MSS = MTU - 60 for IPv6 (1440 at MTU 1500).
    a, b, c, s = connected(v6=True)
    assert c.mss == 1440 and s.mss == 1440
    c.send(b"x" * 5000)
    a.poll(T0)
    frames = a.transmit()
    assert max(len(f) for f in frames) == 1500


def test_stack_corrupted_frames_are_dropped_and_counted():
    # RFC 9293 3.1: a segment with a bad checksum is discarded; the IPv4 header checksum too.
    a, b, c, s = connected()
    c.send(b"payload!")
    a.poll(T0)
    frame = bytearray(a.transmit()[0])
    for pos in (len(frame) - 1, 25, 8):             # payload byte, TCP header, IPv4 TTL
        bad = bytearray(frame)
        bad[pos] ^= 0x40
        b.input(T0, bytes(bad))
    assert b.stats["rx_bad_checksum"] == 3 and s.recv() == b""
    b.input(T0, bytes(frame))
    assert s.recv() == b"payload!"


def test_stack_survives_malformed_and_truncated_frames():
    # Bad input never crashes or corrupts: every truncation of a valid frame, and random bytes.
    a, b, c, s = connected()
    c.send(b"z" * 100)
    a.poll(T0)
    frame = a.transmit()[0]
    for n in range(1, len(frame)):
        b.input(T0, frame[:n])
    rng = random.Random(1)
    for _ in range(2000):
        b.input(T0, bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 80))))
    b.check()
    assert s.state == State.ESTABLISHED and s.recv() == b""
    st = b.stats
    assert st["rx_malformed"] + st["rx_bad_checksum"] + st["rx_not_ours"] >= len(frame) - 1
    b.input(T0, frame)
    assert s.recv() == b"z" * 100


def test_stack_ignores_other_addresses_and_protocols():
    from fastpath.wire.build import udp_packet
    a, b, aa, ba = hosts()
    b.input(T0, to_frame(aa, "10.3.0.99", Segment(seq=1, flags=SYN, sport=1, dport=2)))
    b.input(T0, udp_packet(aa, ba, 1, 2, b"udp"))
    assert b.stats["rx_not_ours"] == 2 and b.transmit() == []


def test_stack_drops_ip_fragments():
    # No reassembly here: fragments are counted and dropped.
    a, b, aa, ba = hosts()
    frame = bytearray(to_frame(aa, ba, Segment(seq=1, flags=SYN, sport=1, dport=2)))
    frame[6] |= 0x20                                # MF
    from fastpath.wire.checksum import internet_checksum
    frame[10:12] = b"\0\0"
    frame[10:12] = internet_checksum(bytes(frame[:20])).to_bytes(2, "big")
    b.input(T0, bytes(frame))
    assert b.stats["rx_fragments"] == 1


def test_stack_ethernet_framing():
    # The same stack over Ethernet: frames carry our MAC and the next hop's, type 0x0800.
    eth_a = ("02:00:00:00:00:01", "02:00:00:00:00:02")
    eth_b = ("02:00:00:00:00:02", "02:00:00:00:00:01")
    a = TcpStack("10.4.0.1", BASE, ethernet=eth_a, seed=1)
    b = TcpStack("10.4.0.2", BASE, ethernet=eth_b, seed=2)
    lst = b.listen(80)
    c = a.connect(T0, ("10.4.0.2", 80))
    syn_frame = a.transmit()[0]
    assert syn_frame[:6] == bytes.fromhex("020000000002") and syn_frame[12:14] == b"\x08\x00"
    b.input(T0, syn_frame)
    pump(a, b)
    assert lst.accept().state == State.ESTABLISHED and c.state == State.ESTABLISHED


def test_stack_ephemeral_ports_are_distinct_and_in_range():
    # RFC 6056 / RFC 6335: local ports from 49152-65535, a different one per connection.
    a, b, aa, ba = hosts()
    ports = {a.connect(T0, (ba, 80)).local_port for _ in range(200)}
    assert len(ports) == 200 and all(49152 <= p <= 65535 for p in ports)


def test_stack_same_four_tuple_twice_is_refused():
    a, b, aa, ba = hosts()
    a.connect(T0, (ba, 80), local_port=5555)
    with pytest.raises(ConnectionClosed, match="address in use"):
        a.connect(T0, (ba, 80), local_port=5555)


def test_stack_connection_table_is_bounded():
    a, b, aa, ba = hosts(max_connections=4)
    for _ in range(4):
        a.connect(T0, (ba, 80))
    with pytest.raises(CapacityError):
        a.connect(T0, (ba, 80))
    a.check()


def test_stack_time_wait_is_reopened_by_a_newer_syn():
    # RFC 6191 / RFC 9293 3.10.7.4: a SYN with a higher sequence number (no timestamps) may
    # reuse a 4-tuple in TIME-WAIT when a listener is there.
    a, b, c, s = connected()
    cport, old_end = c.local_port, c.snd_max
    s.close(T0)                                     # the server closes first: TIME-WAIT on b
    b.poll(T0)
    pump(a, b)
    c.close(T0)
    a.poll(T0)
    pump(a, b)
    assert b.state_counts() == {State.TIME_WAIT: 1}
    b.input(T0 + 2000, to_frame("10.3.0.1", "10.3.0.2",
                                Segment(seq=old_end + 1_000_000, flags=SYN, mss=1460,
                                        sport=cport, dport=7000)))
    one(segments(b), flags=SYN | ACK, ack=old_end + 1_000_001, dport=cport)
    assert b.stats["timewait_reused"] == 1
    assert b.state_counts() == {State.SYN_RECEIVED: 1}
    b.check()


def test_stack_time_wait_rejects_an_older_syn():
    # RFC 9293 3.10.7.4 / RFC 5961 4.2: an old SYN in TIME-WAIT only earns an ACK.
    a, b, c, s = connected()
    cport, old_start = c.local_port, c.iss
    s.close(T0)
    b.poll(T0)
    pump(a, b)
    c.close(T0)
    a.poll(T0)
    pump(a, b)
    b.input(T0 + 2000, to_frame("10.3.0.1", "10.3.0.2",
                                Segment(seq=old_start, flags=SYN, sport=cport, dport=7000)))
    one(segments(b), flags=ACK)
    assert b.stats["timewait_reused"] == 0 and b.state_counts() == {State.TIME_WAIT: 1}


def test_stack_time_wait_population_is_bounded():
    # Like Linux's tcp_max_tw_buckets: beyond max_timewait, TIME-WAIT ends at once.
    a, b, aa, ba = hosts(max_timewait=2)
    lst = b.listen(7000)
    for _ in range(4):
        c = a.connect(T0, (ba, 7000))
        pump(a, b)
        s = lst.accept()
        c.close(T0)
        a.poll(T0)
        pump(a, b)
        s.close(T0)
        b.poll(T0)
        pump(a, b)
    assert a.time_wait == 2 and a.stats["timewait_overflow"] == 2
    a.check()


def test_stack_closed_handle_lets_the_connection_finish():
    # close() is shutdown + release (like close(2)): the handle is dead, the FIN still goes out.
    a, b, c, s = connected()
    c.close(T0)
    with pytest.raises(ConnectionClosed):
        c.send(b"x")
    a.poll(T0)
    pump(a, b)
    assert s.eof


def test_stack_full_device_is_retried():
    # A device that refuses a frame (its queue is full) loses nothing: output retries.
    a = TcpStack("10.5.0.1", config(nodelay=True), seed=1, tx_queue=1)
    b = TcpStack("10.5.0.2", BASE, seed=2)
    lst = b.listen(80)
    c = a.connect(T0, ("10.5.0.2", 80))
    pump(a, b)
    s = lst.accept()
    c.send(b"q" * 4000)
    a.poll(T0)
    assert len(a.transmit()) == 1 and a.stats["tx_busy"] >= 1
    now = T0
    got = bytearray()
    while len(got) < 4000:
        now += 2000
        a.poll(now)
        b.poll(now)
        pump(a, b, now)
        got += s.recv()
    assert bytes(got) == b"q" * 4000
    a.check()


def test_stack_config_errors_name_the_problem():
    with pytest.raises(ConfigError, match="IPv4 and/or one IPv6"):
        TcpStack(["10.0.0.1", "10.0.0.2"])
    with pytest.raises(ConfigError, match="mtu"):
        TcpStack("10.0.0.1", mtu=100)
    st = TcpStack("10.0.0.1")
    with pytest.raises(ConfigError, match="no IPv6 address"):
        st.connect(0, ("fd00::1", 80))
    with pytest.raises(ConfigError, match="TcpConfig.rcvbuf"):
        TcpConfig(rcvbuf=100_000, window_scaling=False)
    with pytest.raises(ConfigError, match="newreno, cubic"):
        TcpConfig(congestion_control="bbr")
