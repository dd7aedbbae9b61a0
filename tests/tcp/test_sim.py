"""The simulated network: its link model on a seeded virtual clock, and the matrix that moves
data both ways across loss, reordering, duplication and corruption (every byte exactly once,
in order, then a clean close -- or the right error)."""
import random

import pytest

from fastpath.errors import ConnectionTimedOut, ConfigError
from fastpath.tcp import Simulation, TcpConfig, State, pattern_bytes

FAST = TcpConfig(rto_min_us=200_000)


def test_sim_delay_sets_the_round_trip_time():
    # One-way delay d: the handshake's RTT sample is 2d (RFC 6298 2.2 first sample).
    sim = Simulation(FAST, delay_us=3000, trace=100)
    lst = sim.b.listen(80)
    c = sim.a.connect(sim.now, (sim.addr_b, 80))
    sim.run(until=lambda: c.state == State.ESTABLISHED)
    assert c.srtt_us == 6000 and sim.now == 6000
    times = [t for t, d, _ in sim.trace_frames()]
    assert times[:2] == [0, 3000]                   # SYN sent at 0, SYN-ACK when it arrived


def test_sim_bandwidth_limits_the_transfer_rate():
    # Serialisation at 8 Mbit/s: 1 MB cannot arrive in less than about a second.
    sim = Simulation(FAST, delay_us=1000, bandwidth_bps=8_000_000)
    r = sim.transfer(1_000_000)
    assert r["b_received"] == 1_000_000
    assert 1.0 < sim.ab.stats["bytes_delivered"] * 8 / 8e6 < r["time_us"] / 1e6 < 2.0


def test_sim_is_deterministic_for_a_seed():
    runs = []
    for seed in (5, 5, 6):
        sim = Simulation(FAST, seed=seed, loss=0.1, reorder=0.1, duplicate=0.05, trace=100_000)
        r = sim.transfer(200_000, 100_000)
        runs.append((r["time_us"], sim.ab.stats, sim.ba.stats, sim.trace_frames()))
    assert runs[0] == runs[1]
    assert runs[0][:3] != runs[2][:3]


def test_sim_loss_rate_matches_the_setting():
    sim = Simulation(FAST, seed=3, loss=0.2)
    sim.transfer(2_000_000, 0)
    st = sim.ab.stats
    assert st["sent"] > 1000
    assert abs(st["lost"] / st["sent"] - 0.2) < 0.04


def test_sim_every_corrupted_frame_is_caught_by_a_checksum():
    # One flipped bit per corrupted frame: the IPv4 header checksum or the TCP checksum (or
    # the header checks before them) reject every one; nothing corrupt reaches the data.
    sim = Simulation(FAST, seed=4, corrupt=0.2)
    r = sim.transfer(300_000, 300_000)
    assert r["a_mismatches"] == r["b_mismatches"] == 0
    assert r["b_received"] == r["a_received"] == 300_000
    for link, stack in ((sim.ab, sim.b), (sim.ba, sim.a)):
        st = stack.stats
        assert link.stats["corrupted"] > 20
        assert link.stats["corrupted"] == (st["rx_bad_checksum"] + st["rx_malformed"] +
                                           st["rx_not_ours"])


def test_sim_duplication_and_reordering_happen():
    sim = Simulation(FAST, seed=8, duplicate=0.1, reorder=0.2, reorder_delay_us=300)
    r = sim.transfer(500_000, 0)
    assert r["b_received"] == 500_000 and r["b_mismatches"] == 0
    assert sim.ab.stats["duplicated"] > 10 and sim.ab.stats["reordered"] > 10


def test_sim_python_driven_transfer_with_random_data():
    # The same network driven step by step from Python with arbitrary bytes, compared exactly.
    rng = random.Random(9)
    up = bytes(rng.getrandbits(8) for _ in range(120_000))
    sim = Simulation(FAST, seed=9, loss=0.05, reorder=0.05, ipv6=True)
    lst = sim.b.listen(443)
    c = sim.a.connect(sim.now, (sim.addr_b, 443))
    s, sent, got = None, 0, bytearray()
    while not (s is not None and s.eof):
        s = s or lst.accept()
        if c.state == State.ESTABLISHED:
            sent += c.send(up[sent:])
            if sent == len(up):
                c.shutdown()
        if s is not None:
            got += s.recv()
        assert sim.step()
    assert bytes(got) == up
    sim.a.check()
    sim.b.check()


MATRIX = [
    dict(),
    dict(loss=0.01),
    dict(loss=0.1),
    dict(loss=0.3),
    dict(reorder=0.3, reorder_delay_us=500),
    dict(duplicate=0.3),
    dict(corrupt=0.1),
    dict(loss=0.1, reorder=0.1, duplicate=0.1, corrupt=0.05),
    dict(loss=0.3, reorder=0.2, duplicate=0.1, corrupt=0.1),
]
CONFIGS = {
    "all-options": TcpConfig(rto_min_us=200_000),
    "no-options": TcpConfig(rto_min_us=200_000, sack=False, timestamps=False,
                            window_scaling=False, rcvbuf=65535, congestion_control="newreno"),
    "small-buffers": TcpConfig(rto_min_us=200_000, sndbuf=8192, rcvbuf=4096),
}


def check_outcome(r, impair, detail):
    """Every byte exactly once and in order, then a clean close -- or, on a link bad enough
    that fifteen retransmissions in a row can all be lost, the right error: timed out (and,
    for the other side, the reset its peer's stack answers once it has given up)."""
    assert r["a_mismatches"] == 0 and r["b_mismatches"] == 0, detail
    errors = [e for e in (r["a_error"], r["b_error"]) if e is not None]
    if errors:
        assert impair.get("loss", 0) >= 0.1, detail
        assert any(isinstance(e, ConnectionTimedOut) for e in errors), detail
        assert all(isinstance(e, (ConnectionTimedOut, ConnectionResetError)) for e in errors), detail
        return False
    assert r["a_eof"] and r["b_eof"], detail
    assert {r["a_state"], r["b_state"]} <= {State.CLOSED, State.TIME_WAIT}, detail
    return True


@pytest.mark.parametrize("impair", MATRIX, ids=lambda d: ",".join(f"{k}={v}" for k, v in d.items()) or "clean")
@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
@pytest.mark.parametrize("ipv6", [False, True], ids=["v4", "v6"])
def test_sim_matrix_delivers_every_byte_once_in_order(impair, cfg, ipv6):
    # RFC 9293 3.4 / 3.10: whatever the network does, each side gets exactly the other's
    # byte stream, then both close cleanly (one in TIME-WAIT, RFC 9293 3.6).
    for seed in range(5):
        sim = Simulation(CONFIGS[cfg], seed=seed, ipv6=ipv6, **impair)
        r = sim.transfer(150_000, 60_000, max_time_us=4 * 3600 * 1_000_000)
        detail = f"seed {seed}: {r}"
        if check_outcome(r, impair, detail):
            assert r["b_received"] == 150_000 and r["a_received"] == 60_000, detail
        sim.a.check()
        sim.b.check()


@pytest.mark.parametrize("ipv6", [False, True], ids=["v4", "v6"])
def test_sim_vanishing_peer_ends_in_timed_out(ipv6):
    # RFC 1122 4.2.3.5: when the network stops delivering, both sides give up with "timed
    # out" -- and what was delivered before is still a correct prefix.
    sim = Simulation(TcpConfig(rto_min_us=200_000, max_retries=6), seed=1, ipv6=ipv6,
                     bandwidth_bps=10_000_000)
    r = sim.transfer(5_000_000, 5_000_000, cut_at_us=1_000_000)
    assert isinstance(r["a_error"], ConnectionTimedOut)
    assert isinstance(r["b_error"], ConnectionTimedOut)
    assert r["a_mismatches"] == r["b_mismatches"] == 0
    assert 0 < r["b_received"] < 5_000_000


def test_sim_slow_reader_exercises_zero_windows():
    # RFC 9293 3.8.6: the receiver does not read for 2 s; the sender probes a zero window
    # and resumes when the window opens.
    sim = Simulation(TcpConfig(rto_min_us=200_000, rcvbuf=16384), seed=2)
    r = sim.transfer(200_000, 0, b_read_from_us=2_000_000)
    assert r["b_received"] == 200_000 and r["b_mismatches"] == 0
    assert r["time_us"] > 2_000_000


def test_sim_link_settings_are_validated():
    with pytest.raises(ConfigError, match="probability"):
        Simulation(loss=1.5)
    sim = Simulation()
    with pytest.raises(ConfigError, match="unknown link setting"):
        sim.ab.configure(jitter=3)


@pytest.mark.slow
@pytest.mark.parametrize("impair", MATRIX[1:], ids=lambda d: ",".join(f"{k}={v}" for k, v in d.items()))
def test_sim_matrix_many_seeds(impair):
    # The matrix again over many seeds and configurations (make test runs it; -m "not slow"
    # skips it). Timeouts are allowed only on the 30 %-loss links, and must stay rare.
    timeouts = 0
    for seed in range(100):
        for name, cfg in CONFIGS.items():
            sim = Simulation(cfg, seed=1000 + seed, ipv6=bool(seed & 1), **impair)
            r = sim.transfer(100_000, 100_000, max_time_us=4 * 3600 * 1_000_000)
            if check_outcome(r, impair, (name, seed, r)):
                assert (r["b_received"], r["a_received"]) == (100_000, 100_000), (name, seed, r)
            else:
                timeouts += 1
                assert impair.get("loss", 0) >= 0.3, (name, seed, r)
            sim.a.check()
            sim.b.check()
    assert timeouts <= 3
