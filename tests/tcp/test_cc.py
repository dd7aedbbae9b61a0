"""Congestion control: the pluggable registry, NewReno's growth (RFC 5681 3.1, RFC 3465) and
CUBIC (RFC 9438)."""
import pytest

from fastpath.errors import ConfigError
from fastpath.tcp import congestion_control_algorithms
from tcpvocab import *


def test_cc_registry_names_the_algorithms():
    assert congestion_control_algorithms() == ["newreno", "cubic"]
    assert TcpConfig().congestion_control == "cubic"
    assert established(config(congestion_control="cubic")).congestion_control == "cubic"
    with pytest.raises(ConfigError, match="newreno, cubic"):
        config(congestion_control="vegas")


def test_cc_newreno_slow_start_counts_bytes():
    # RFC 5681 3.1 with RFC 3465 2.2 (L = 2 SMSS): cwnd += min(acked, 2*SMSS) per ACK.
    conn = established(config(nodelay=True))
    conn.send(data(14600))
    recv(conn)
    send(conn, seg(R, L + 1460))
    assert conn.cwnd == 14600 + 1460
    send(conn, seg(R, L + 1460 + 5840))
    assert conn.cwnd == 14600 + 1460 + 2920


def test_cc_newreno_congestion_avoidance_adds_one_mss_per_window():
    # RFC 5681 3.1 eq. (3) by byte counting (RFC 3465 2.1): one SMSS per cwnd acknowledged.
    conn = established(config(nodelay=True))
    conn.send(data(14600))
    recv(conn)
    dupack = seg(R, L)
    for _ in range(3):
        send(conn, dupack)
    send(conn, seg(R, L + 14600))                   # recovery ends: cwnd = 2920, ssthresh 7300
    conn.send(data(60000))
    now, acked = T0, L + 14600
    while conn.cwnd < 7300:                         # slow start up to ssthresh
        now += 10_000
        recv(conn, now)
        acked = conn.snd_max
        send(conn, seg(R, acked), now=now)
    start = conn.cwnd
    recv(conn, now)
    sent_window = conn.snd_max - acked
    send(conn, seg(R, conn.snd_max), now=now + 10_000)
    assert conn.cwnd == start + 1460 or sent_window < start


def test_cc_cubic_multiplicative_decrease_is_beta_0_7():
    # RFC 9438 4.6: on a loss, ssthresh = flight_size * beta_cubic (0.7) -- NewReno halves.
    for algo, beta in (("cubic", 0.7), ("newreno", 0.5)):
        conn = established(config(congestion_control=algo, nodelay=True))
        conn.send(data(14600))
        recv(conn)
        for _ in range(3):
            send(conn, seg(R, L))
        assert conn.ssthresh == int(14600 * beta)


def test_cc_recovery_end_leaves_at_most_ssthresh():
    # RFC 6582 3.2 step 6 (option 1): cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS); with
    # nothing left in flight that is two segments, and slow start climbs back to ssthresh.
    conn = established(config(congestion_control="cubic", nodelay=True))
    conn.send(data(14600))
    recv(conn)
    for _ in range(3):
        send(conn, seg(R, L))
    send(conn, seg(R, L + 14600))
    assert conn.recovery == "none" and conn.cwnd == 2920 and conn.ssthresh == 10220


def test_cc_cubic_returns_to_w_max_at_k():
    # RFC 9438 4.2: W_cubic(t) = C (t - K)^3 + W_max with K = cbrt(W_max (1 - beta) / C): from
    # 100 segments the window is back near 100 at t = K = 4.22 s.
    from fastpath.tcp.cc import trace
    tr = {round(t / 1e5): c / 1460 for t, c, _ in trace("cubic", window_segments=100,
                                                        rtt_us=100_000, duration_s=10)}
    k = (100 * 0.3 / 0.4) ** (1 / 3)
    assert tr[0] == 70
    assert 98 <= tr[round(k * 10)] <= 101


def test_cc_cubic_is_concave_then_convex():
    # RFC 9438 4.4 / 4.5: fast growth right after the reduction, a plateau around W_max, then
    # accelerating growth to probe for more.
    from fastpath.tcp.cc import trace
    w = {round(t / 1e5): c / 1460 for t, c, _ in trace("cubic", window_segments=100,
                                                       rtt_us=100_000, duration_s=10)}
    early, plateau, late = w[10] - w[0], w[50] - w[40], w[100] - w[90]
    assert early > 10 * plateau and late > 10 * plateau
    assert w[100] - w[95] > w[95] - w[90]            # convex: the growth accelerates


def test_cc_cubic_is_reno_friendly_at_short_rtt():
    # RFC 9438 4.3: where Reno would grow faster (short RTT, small window), CUBIC follows
    # the Reno-friendly estimate W_est instead of the cubic curve.
    from fastpath.tcp.cc import trace
    cubic = trace("cubic", window_segments=10, rtt_us=1000, duration_s=0.2)
    assert cubic[-1][1] / 1460 > 10 + 100                  # ~1 segment per RTT once past 10


def test_cc_newreno_grows_one_segment_per_rtt():
    # RFC 5681 3.1: congestion avoidance adds one SMSS per RTT after the halving.
    from fastpath.tcp.cc import trace
    tr = trace("newreno", window_segments=100, rtt_us=100_000, duration_s=3)
    assert [c // 1460 for _, c, _ in tr[:4]] == [50, 51, 52, 53]


def test_cc_timeout_collapses_the_window():
    # RFC 5681 3.1 / RFC 9438 4.8: after an RTO, cwnd = 1 SMSS with ssthresh from the
    # algorithm's decrease (0.5 NewReno, 0.7 CUBIC); then slow start.
    from fastpath.tcp.cc import trace
    for algo, beta in (("newreno", 0.5), ("cubic", 0.7)):
        tr = trace(algo, window_segments=100, timeout=True, duration_s=0.3)
        assert tr[0][1] == 1460 and tr[0][2] == int(100 * 1460 * beta)
        assert tr[1][1] == 2 * 1460                  # slow start: + min(acked, 2 SMSS)
