"""The device contract, run against every backend (see conftest.py for the harnesses): the
in-memory pair (bare and under each wrapper), pcap replay and record, TAP, AF_PACKET and AF_XDP.
"""
import numpy as np
import pytest

from iosuite import ETHERTYPE, make_test_frame as make_frame
from fastpath.errors import CapacityError, ConfigError
from fastpath.wire.record import FRAME_DTYPE


SIZES = [60, 61, 64, 100, 128, 255, 256, 512, 1000, 1514]


# ---------------------------------------------------------------- receive
def test_receive_delivers_exact_frames_in_order(rx_backend):
    frames = [make_frame(i, SIZES[i % len(SIZES)]) for i in range(20)]
    rx_backend.inject(frames)
    got = rx_backend.recv_all(len(frames))
    assert got == frames


def test_burst_index_describes_frames_in_buffer(rx_backend):
    frames = [make_frame(i, 60 + 7 * i) for i in range(8)]
    rx_backend.inject(frames)
    b = rx_backend.dev.recv(timeout=2.0)
    try:
        assert b.index.dtype == FRAME_DTYPE
        assert len(b) == len(b.index) >= 1
        mv = memoryview(b.buffer)
        for row in b.index:
            off, n = int(row["data_off"]), int(row["caplen"])
            assert off + n <= len(mv)
            assert row["wirelen"] >= row["caplen"]
            assert row["linktype"] == 1
        ours = [i for i, f in enumerate(b.frames()) if f[12:14] == ETHERTYPE.to_bytes(2, "big")]
        assert ours, "none of our frames in the first burst"
        for i in ours:
            assert b.index["caplen"][i] == len(b.frame(i))
        assert (b.index["ts_ns"] > 0).all()
        assert (np.diff(b.index["ts_ns"].astype(np.int64)) >= 0).all()
    finally:
        b.release()


def test_burst_parses_with_parse_frames(rx_backend):
    from fastpath.wire.build import arp_request, udp_packet
    from fastpath.wire.parse import parse_frames
    mac_a, mac_b = b"\x02\x00\x00\x00\x00\x01", b"\x02\x00\x00\x00\x00\x02"
    udp = udp_packet("192.0.2.1", "192.0.2.2", 4321, 9999, b"payload", ethernet=(mac_a, mac_b))
    arp = arp_request(mac_a, "192.0.2.1", "192.0.2.2")
    rx_backend.inject([udp, arp])
    seen = {}
    import time
    deadline = time.monotonic() + 2
    while len(seen) < 2 and time.monotonic() < deadline:
        with rx_backend.dev.recv(timeout=0.2) as b:
            if not b:
                continue
            recs = parse_frames(b.buffer, b.index)
            for r in recs:
                if r["l3_type"] == 0x0806:
                    seen["arp"] = int(r["arp_op"])
                elif r["ip_proto"] == 17 and r["dport"] == 9999:
                    seen["udp"] = (int(r["sport"]), int(r["payload_len"]))
    assert seen == {"arp": 1, "udp": (4321, 7)}


def test_recv_honours_max_frames(rx_backend):
    frames = [make_frame(i) for i in range(10)]
    rx_backend.inject(frames)
    got = rx_backend.recv_all(10, max_frames=3)
    assert got == frames
    # And no burst was larger than asked for.
    rx_backend.inject(frames)
    with rx_backend.dev.recv(max_frames=3, timeout=2.0) as b:
        assert 1 <= len(b) <= 3


def test_recv_times_out_with_an_empty_burst(live_rx_backend):
    with live_rx_backend.dev.recv(timeout=0.0) as b:
        assert len([f for f in b.frames() if f[12:14] == ETHERTYPE.to_bytes(2, "big")]) == 0
    b = live_rx_backend.dev.recv(timeout=0.05)
    assert len(b.index) == len(b) and b.index.dtype == FRAME_DTYPE
    b.release()


def test_released_memory_is_reused_beyond_capacity(live_rx_backend):
    total = 0
    rounds = 3
    per_round = max(8, live_rx_backend.capacity // 2)
    for r in range(rounds):
        frames = [make_frame(1000 * r + i, 100) for i in range(per_round)]
        live_rx_backend.inject(frames)
        got = live_rx_backend.recv_all(per_round, timeout=3.0)
        assert got == frames, f"round {r}: {len(got)} of {per_round} frames"
        total += len(got)
    assert total == rounds * per_round > live_rx_backend.capacity
    assert live_rx_backend.dev.stats()["held"] == 0


def test_held_bursts_are_bounded(live_rx_backend):
    dev = live_rx_backend.dev
    held = []
    for i in range(dev.max_held):
        live_rx_backend.inject([make_frame(i)])
        b = dev.recv(max_frames=1, timeout=2.0)
        assert len(b) == 1
        held.append(b)
    with pytest.raises(CapacityError, match="release"):
        dev.recv(timeout=0)
    held.pop().release()
    live_rx_backend.inject([make_frame(99)])
    with dev.recv(timeout=2.0) as b:
        assert len(b) >= 1
    for b in held:
        b.release()
    assert dev.stats()["held"] == 0


def test_release_is_idempotent_and_frames_stop_after_it(rx_backend):
    rx_backend.inject([make_frame(7)])
    b = rx_backend.dev.recv(timeout=2.0)
    assert len(b) >= 1
    b.release()
    b.release()
    assert b.released
    with pytest.raises(ConfigError, match="released"):
        b.frame(0)


def test_receive_counters(rx_backend):
    frames = [make_frame(i, 100) for i in range(12)]
    before = rx_backend.dev.stats()
    rx_backend.inject(frames)
    got = rx_backend.recv_all(12)
    after = rx_backend.dev.stats()
    assert len(got) == 12
    # Only our traffic is on these links: the counts are exact.
    assert after["rx_packets"] - before["rx_packets"] == 12
    assert after["rx_bytes"] - before["rx_bytes"] == 1200
    assert after["released"] - before["released"] == 12


# ---------------------------------------------------------------- transmit
def test_send_delivers_exact_frames(tx_backend):
    frames = [make_frame(i, SIZES[i % len(SIZES)]) for i in range(20)]
    assert tx_backend.dev.send_frames(frames) == 20
    assert tx_backend.collect(20) == frames


def test_send_takes_a_frame_index_over_one_buffer(tx_backend):
    frames = [make_frame(i, 80) for i in range(5)]
    buf = bytearray(b"\xee" * 16 + b"".join(frames))     # some bytes before the first frame
    index = np.zeros(5, FRAME_DTYPE)
    index["data_off"] = [16 + 80 * i for i in range(5)][::-1]   # out of order on purpose
    index["caplen"] = 80
    index["wirelen"] = 80
    assert tx_backend.dev.send(buf, index) == 5
    assert tx_backend.collect(5) == frames[::-1]


def test_send_counters(tx_backend):
    before = tx_backend.dev.stats()
    assert tx_backend.dev.send_frames([make_frame(i, 90) for i in range(6)]) == 6
    assert len(tx_backend.collect(6)) == 6
    after = tx_backend.dev.stats()
    assert after["tx_packets"] - before["tx_packets"] == 6
    assert after["tx_bytes"] - before["tx_bytes"] == 540


def test_send_rejects_oversize_frames_and_sends_nothing(tx_backend):
    too_big = tx_backend.dev.capabilities.max_frame + 1
    with pytest.raises(ConfigError, match=f"frame 1 .* {too_big} bytes"):
        tx_backend.dev.send_frames([make_frame(1, 100), make_frame(2, too_big)])
    assert tx_backend.collect(1, timeout=0.3) == []


def test_send_rejects_frames_outside_the_buffer(tx_backend):
    index = np.zeros(2, FRAME_DTYPE)
    index["data_off"] = [0, 100]
    index["caplen"] = [64, 64]
    with pytest.raises(ConfigError, match="outside the 128-byte buffer"):
        tx_backend.dev.send(bytes(128), index)
    assert tx_backend.collect(1, timeout=0.3) == []


def test_send_rejects_a_foreign_index(tx_backend):
    with pytest.raises(ConfigError, match="FRAME_DTYPE"):
        tx_backend.dev.send(bytes(64), np.zeros(1, np.uint64))
    with pytest.raises(ConfigError, match="FRAME_DTYPE"):
        tx_backend.dev.send(bytes(64), [(0, 0, 64)])


def test_send_of_nothing_sends_nothing(tx_backend):
    assert tx_backend.dev.send(b"", np.zeros(0, FRAME_DTYPE)) == 0
    assert tx_backend.dev.send_frames([]) == 0


# ---------------------------------------------------------------- the rest of the contract
def test_capabilities_describe_the_device(backend):
    caps = backend.dev.capabilities
    assert caps.linktype == 1
    assert caps.max_burst == backend.dev.max_burst >= 1
    assert caps.can_recv == backend.can_rx and caps.can_send == backend.can_tx
    if backend.can_tx:
        assert caps.max_frame >= 1514
    if backend.kind in ("tap", "afpacket", "afxdp"):
        assert caps.mtu == 1500
        assert caps.details["ifname"]
    assert caps.rx_timestamps in ("kernel", "read", "burst", "capture", "none")


def test_close_is_idempotent_and_final(backend):
    dev = backend.dev
    dev.close()
    dev.close()
    assert dev.closed
    with pytest.raises(ConfigError, match="closed"):
        dev.recv(timeout=0)
    with pytest.raises(ConfigError, match="closed"):
        dev.send_frames([make_frame(1)])


def test_a_burst_outlives_its_device(rx_backend):
    frames = [make_frame(i, 200) for i in range(3)]
    rx_backend.inject(frames)
    got = []
    import time
    deadline = time.monotonic() + 2
    b = None
    while time.monotonic() < deadline:
        b = rx_backend.dev.recv(timeout=0.2)
        got = [f for f in b.frames() if f[12:14] == ETHERTYPE.to_bytes(2, "big")]
        if got:
            break
        b.release()
    assert got
    rx_backend.dev.close()
    # The memory stays mapped while the burst refers to it; release is then a no-op.
    assert [f for f in b.frames() if f[12:14] == ETHERTYPE.to_bytes(2, "big")] == got
    b.release()


def test_context_manager_closes(backend):
    with backend.dev as d:
        assert not d.closed
    assert backend.dev.closed
