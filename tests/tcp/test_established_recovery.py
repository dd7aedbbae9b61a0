"""Loss recovery in ESTABLISHED: fast retransmit and NewReno (RFC 5681 3.2, RFC 6582), limited
transmit (RFC 3042), SACK-based recovery (RFC 2018, RFC 6675), the retransmission timer with
backoff and Karn's rule (RFC 6298), and giving up (RFC 1122 4.2.3.5)."""
import pytest

from fastpath.errors import ConnectionTimedOut
from tcpvocab import *


def dupack(conn, ack, n=1, now=T0, **kw):
    out = []
    for _ in range(n):
        out += send(conn, seg(R, ack, window=65535, **kw), now=now)
    return out


def ten_segments_out(cfg=None, extra=0):
    conn = established(cfg or config(nodelay=True))
    conn.send(data(14600 + extra))
    out = recv(conn)
    assert [s.seq for s in out] == [L + 1460 * k for k in range(10)]
    return conn


def test_recovery_limited_transmit_sends_new_data_on_the_first_two_dupacks():
    # RFC 3042: each of the first two duplicate ACKs lets one new segment out.
    conn = ten_segments_out(extra=2920)
    one(dupack(conn, L), seq=L + 14600, payload=data(1460, 14600))
    one(dupack(conn, L), seq=L + 16060)
    assert conn.recovery == "none" and conn.dupacks == 2


def test_recovery_fast_retransmit_on_the_third_dupack():
    # RFC 5681 3.2 steps 2-4: retransmit SND.UNA; ssthresh = max(FlightSize / 2, 2*SMSS);
    # cwnd = ssthresh + 3*SMSS.
    conn = ten_segments_out()
    nothing(dupack(conn, L, 2))
    one(dupack(conn, L), seq=L, payload=data(1460))
    assert conn.recovery == "newreno"
    assert conn.ssthresh == 7300 and conn.cwnd == 7300 + 3 * 1460
    assert conn.recover == L + 14600


def test_recovery_further_dupacks_inflate_not_retransmit():
    # RFC 5681 3.2 step 4 / RFC 6582 3.2 step 4: each further dupack adds one SMSS; SND.UNA is
    # not sent again.
    conn = ten_segments_out(extra=14600)
    dupack(conn, L, 3)
    cwnd = conn.cwnd
    out = dupack(conn, L, 4)
    assert conn.cwnd == cwnd + 4 * 1460
    assert all(s.seq != L for s in out)
    assert all(s.seq >= L + 14600 for s in out)        # only new data, as the window allows


def test_recovery_newreno_partial_ack_retransmits_the_next_hole():
    # RFC 6582 3.2 step 5: a partial ACK retransmits the first unacknowledged segment at once
    # and deflates cwnd by the amount acknowledged, plus one SMSS back.
    conn = ten_segments_out()
    dupack(conn, L, 3)
    cwnd = conn.cwnd
    one(send(conn, seg(R, L + 2920)), seq=L + 2920, payload=data(1460, 2920))
    assert conn.recovery == "newreno"
    assert conn.cwnd == cwnd - 2920 + 1460


def test_recovery_newreno_full_ack_ends_recovery():
    # RFC 6582 3.2 step 6: ACK of everything up to "recover": cwnd = min(ssthresh,
    # max(FlightSize, SMSS) + SMSS), recovery over.
    conn = ten_segments_out()
    dupack(conn, L, 3)
    send(conn, seg(R, L + 14600))
    assert conn.recovery == "none"
    assert conn.cwnd == min(7300, 1460 + 1460)


def test_recovery_no_fast_retransmit_for_data_sent_before_a_timeout():
    # RFC 6582 3.2 step 2 / RFC 6675 5.1: after an RTO, duplicate ACKs below the recovery
    # point (everything sent before the timeout) do not start a fast retransmit.
    conn = ten_segments_out()
    one(recv(conn, T0 + 200_000), seq=L)
    assert conn.recovery == "rto" and conn.recover == L + 14600
    out = send(conn, seg(R, L + 1460), now=T0 + 201_000)
    assert [s.seq for s in out] == [L + 1460, L + 2920]
    out = dupack(conn, L + 1460, 3, now=T0 + 202_000)
    assert all(s.seq != L + 1460 for s in out)
    assert conn.recovery == "rto"


def test_recovery_sack_repairs_several_losses_in_one_window():
    # RFC 6675 5: with SACK, three segments lost from one window are each retransmitted once,
    # within one recovery episode, without a retransmission timeout.
    cfg = config(sack=True, nodelay=True)
    a, b = pair(cfg)
    payload = data(14600)
    a.send(payload)
    lost = {L + 1460, L + 5840, L + 10220}
    sent = []

    def drop(to, s):
        if to == "b" and s.payload:
            sent.append(s.seq)
            if s.seq in lost and sent.count(s.seq) == 1:
                return True
        return False

    exchange(a, b, [("b", s) for s in recv(a)], drop=drop)
    assert b.recv() == payload
    assert sorted(s for s in sent if sent.count(s) > 1) == sorted(list(lost) * 2)
    assert len(sent) == 13                       # ten originals and three retransmissions
    assert a.snd_una == L + 14600 and a.recovery == "none"
    # One reduction for the whole window: ssthresh = FlightSize / 2 at the start (RFC 6675 5).
    assert a.backoff == 0 and a.ssthresh == 13140 // 2


def test_recovery_sack_blocks_report_the_newest_range_first():
    # RFC 2018 4: the first SACK block holds the most recently received segment; at most
    # four blocks without timestamps.
    conn = established(config(sack=True), sack_permitted=True)
    one(send(conn, seg(R + 1000, L, payload=b"a" * 100)), ack=R, sack=((R + 1000, R + 1100),))
    s = one(send(conn, seg(R + 3000, L, payload=b"b" * 100)), ack=R)
    assert s.sack == ((R + 3000, R + 3100), (R + 1000, R + 1100))
    for k in range(5):
        s = one(send(conn, seg(R + 5000 + 1000 * k, L, payload=b"c" * 10)), ack=R)
    assert len(s.sack) == 4 and s.sack[0] == (R + 9000, R + 9010)


def test_recovery_sack_blocks_are_three_beside_timestamps():
    # RFC 2018 3: with the 10-byte timestamp option, three blocks fit in the option space.
    conn = established(config(sack=True, timestamps=True), sack_permitted=True, timestamp=(1, 0))
    for k in range(5):
        s = one(send(conn, seg(R + 1000 * (k + 1), L, payload=b"c" * 10, timestamp=(2, 0))), ack=R)
    assert len(s.sack) == 3


def test_recovery_rto_retransmits_with_exponential_backoff():
    # RFC 6298 5.4-5.6: on expiry retransmit the earliest unacknowledged segment, double the
    # RTO and restart the timer.
    conn = established()
    conn.send(b"x" * 100)
    recv(conn)
    assert conn.rto_us == 200_000
    one(recv(conn, T0 + 200_000), seq=L, payload=b"x" * 100)
    assert conn.rto_us == 400_000 and conn.backoff == 1
    nothing(recv(conn, T0 + 599_999))
    one(recv(conn, T0 + 600_000), seq=L)
    assert conn.rto_us == 800_000 and conn.backoff == 2


def test_recovery_karn_no_rtt_sample_from_a_retransmission():
    # RFC 6298 3 (Karn): an ACK for retransmitted data gives no RTT sample, and the backed-off
    # RTO stays until a segment that was not retransmitted is acknowledged.
    conn = established()
    srtt = conn.srtt_us
    conn.send(b"x" * 100)
    recv(conn)
    recv(conn, T0 + 200_000)
    recv(conn, T0 + 600_000)
    send(conn, seg(R, L + 100), now=T0 + 650_000)
    assert conn.srtt_us == srtt and conn.rto_us == 800_000 and conn.backoff == 0
    conn.send(b"y" * 100)
    recv(conn, T0 + 700_000)
    send(conn, seg(R, L + 200), now=T0 + 720_000)
    assert conn.srtt_us == (7 * srtt + 20_000) // 8
    assert conn.rto_us == 200_000


def test_recovery_rto_collapses_cwnd_and_goes_back():
    # RFC 5681 3.1 / 4.3: after a timeout cwnd = 1 SMSS and ssthresh = max(FlightSize/2,
    # 2*SMSS); slow start then resends the rest.
    conn = established(config(nodelay=True))
    conn.send(data(7300))
    recv(conn)
    one(recv(conn, T0 + 200_000), seq=L)
    assert conn.cwnd == 1460 and conn.ssthresh == 3650 and conn.recovery == "rto"
    out = send(conn, seg(R, L + 1460), now=T0 + 210_000)
    assert [s.seq for s in out] == [L + 1460, L + 2920]
    assert conn.cwnd == 2920


def test_recovery_retransmissions_exhausted_time_out():
    # RFC 1122 4.2.3.5 R2: after max_retries expiries the connection is given up.
    conn = established(config(max_retries=3))
    conn.send(b"x")
    recv(conn)
    for _ in range(3):
        one(recv(conn, conn.poll_at()), seq=L)
    nothing(recv(conn, conn.poll_at()))
    assert conn.state == State.CLOSED
    assert isinstance(conn.error, ConnectionTimedOut)
    with pytest.raises(ConnectionTimedOut):
        conn.send(b"more")


def test_recovery_user_timeout_gives_up_early():
    # RFC 5482 / RFC 9293 3.10.3 USER TIMEOUT: data unacknowledged for that long: give up.
    conn = established(config(user_timeout_us=500_000, max_retries=50))
    conn.send(b"x")
    recv(conn)
    recv(conn, T0 + 200_000)                     # first retransmission
    recv(conn, T0 + 600_000)                     # second
    recv(conn, T0 + 1_400_000)                   # 1.2 s after the first: over the timeout
    assert conn.state == State.CLOSED and isinstance(conn.error, ConnectionTimedOut)
