"""SYN-SENT (RFC 9293 3.10.1 OPEN, 3.10.7.3 SEGMENT ARRIVES in SYN-SENT)."""
import pytest

from fastpath.errors import ConnectionRefused, ConnectionTimedOut, ConnectionClosed
from tcpvocab import *


def test_syn_sent_connect_sends_syn_with_all_options():
    # RFC 9293 3.10.1 / 3.7.1 MSS; RFC 7323 2.2 window scale and 3.2 timestamps; RFC 2018 2.
    conn = TcpConnection(LOCAL, REMOTE, TcpConfig(rcvbuf=256 * 1024))
    s = one(conn.connect(0, iss=LOCAL_ISS, ts_offset=7), flags=SYN, seq=LOCAL_ISS, ack=0,
            mss=1460, wscale=3, sack_permitted=True, timestamp=(7, 0))
    assert s.window == 65535                    # RFC 7323 2.2: never scaled in a SYN


def test_syn_sent_connect_without_options_sends_mss_only():
    # RFC 9293 3.7.1: MSS is always sent; the other options are off in this configuration.
    conn = TcpConnection(LOCAL, REMOTE, BASE)
    one(conn.connect(0, iss=LOCAL_ISS), flags=SYN, mss=1460, wscale=None, sack_permitted=False,
        timestamp=None, window=32768)


def test_syn_sent_syn_ack_establishes():
    # RFC 9293 3.10.7.3 fourth: SND.UNA advances past our SYN, RCV.NXT = SEG.SEQ + 1, send ACK.
    conn = syn_sent()
    one(send(conn, seg(REMOTE_ISS, L, SYN | ACK, window=4000, mss=1000)),
        flags=ACK, seq=L, ack=R)
    assert conn.state == State.ESTABLISHED
    assert (conn.snd_una, conn.snd_nxt, conn.rcv_nxt, conn.irs) == (L, L, R, REMOTE_ISS)
    assert conn.snd_wnd == 4000
    assert conn.mss == 1000                     # the smaller of the two MSS values


def test_syn_sent_syn_ack_negotiates_options():
    # RFC 7323 2.2 / 3.2, RFC 2018 2: what both SYNs carried is in use; MSS less 12 option bytes.
    conn = syn_sent(TcpConfig(rcvbuf=256 * 1024))
    reply = one(send(conn, seg(REMOTE_ISS, L, SYN | ACK, window=1000, mss=1460, wscale=5,
                               sack_permitted=True, timestamp=(99, 0))), flags=ACK)
    assert conn.options == {"wscale", "timestamps", "sack"}
    assert conn.snd_wscale == 5 and conn.rcv_wscale == 3
    assert conn.snd_wnd == 1000                 # the SYN-ACK's window is not scaled
    assert conn.mss == 1448                     # RFC 6691: timestamps come out of the MSS
    assert reply.timestamp[1] == 99             # TSecr echoes the peer's TSval
    assert reply.window == 256 * 1024 >> 3


def test_syn_sent_syn_ack_without_options_disables_them():
    # RFC 7323 2.2: no window scale unless both SYNs carry it; RFC 9293 3.7.1: MSS 536 by default.
    conn = syn_sent(TcpConfig(rcvbuf=60000))
    reply = one(send(conn, seg(REMOTE_ISS, L, SYN | ACK, window=1000)), flags=ACK)
    assert conn.options == frozenset()
    assert conn.mss == 536
    assert reply.timestamp is None and reply.sack == ()
    assert conn.rcv_wscale == 0 and reply.window == 60000


def test_syn_sent_window_scale_above_14_is_used_as_14():
    # RFC 7323 2.3: a shift above 14 is treated as 14.
    conn = syn_sent(config(window_scaling=True))
    send(conn, seg(REMOTE_ISS, L, SYN | ACK, mss=1460, wscale=20))
    assert conn.snd_wscale == 14


def test_syn_sent_ack_of_iss_gets_reset():
    # RFC 9293 3.10.7.3 first: SEG.ACK =< ISS is unacceptable: <SEQ=SEG.ACK><CTL=RST>.
    conn = syn_sent()
    one(send(conn, seg(REMOTE_ISS, LOCAL_ISS, SYN | ACK)), flags=RST, seq=LOCAL_ISS)
    assert conn.state == State.SYN_SENT


def test_syn_sent_ack_beyond_snd_nxt_gets_reset():
    # RFC 9293 3.10.7.3 first: SEG.ACK > SND.NXT is unacceptable.
    conn = syn_sent()
    one(send(conn, seg(REMOTE_ISS, L + 5, SYN | ACK)), flags=RST, seq=L + 5)
    assert conn.state == State.SYN_SENT


def test_syn_sent_rst_with_acceptable_ack_is_refused():
    # RFC 9293 3.10.7.3 second: "error: connection reset" -> the user sees "refused".
    conn = syn_sent()
    nothing(send(conn, seg(0, L, RST | ACK)))
    assert conn.state == State.CLOSED
    assert isinstance(conn.error, ConnectionRefused)
    with pytest.raises(ConnectionRefused):
        conn.send(b"x")


def test_syn_sent_rst_without_ack_is_ignored():
    # RFC 9293 3.10.7.3 second: an RST without an ACK is dropped (RFC 5961 3: blind reset).
    conn = syn_sent()
    nothing(send(conn, seg(12345, flags=RST)))
    assert conn.state == State.SYN_SENT


def test_syn_sent_rst_with_bad_ack_is_answered_not_obeyed():
    # RFC 9293 3.10.7.3 first: the unacceptable ACK is checked before the RST bit.
    conn = syn_sent()
    nothing(send(conn, seg(0, L + 100, RST | ACK)))
    assert conn.state == State.SYN_SENT


def test_syn_sent_plain_ack_is_dropped():
    # RFC 9293 3.10.7.3 fifth: neither SYN nor RST: drop.
    conn = syn_sent()
    nothing(send(conn, seg(REMOTE_ISS, L)))
    assert conn.state == State.SYN_SENT


def test_syn_sent_simultaneous_open_enters_syn_received():
    # RFC 9293 3.5 figure 8 / 3.10.7.3 fourth: a SYN without ACK: SYN-RECEIVED, send SYN,ACK.
    conn = syn_sent()
    one(send(conn, seg(REMOTE_ISS, flags=SYN, mss=1460)), flags=SYN | ACK, seq=LOCAL_ISS, ack=R)
    assert conn.state == State.SYN_RECEIVED
    # ... and the peer's SYN,ACK (figure 8 line 6) completes it, with nothing more to send.
    nothing(send(conn, seg(REMOTE_ISS, L, SYN | ACK, mss=1460)))
    assert conn.state == State.ESTABLISHED
    assert (conn.snd_una, conn.rcv_nxt) == (L, R)


def test_syn_sent_syn_is_retransmitted_with_backoff():
    # RFC 6298 5.4-5.6 (and 2.1: initial RTO 1 s): resend at 1 s, then the timer doubles.
    conn = syn_sent()
    nothing(recv(conn, 999_999))
    one(recv(conn, 1_000_000), flags=SYN, seq=LOCAL_ISS)
    assert conn.rto_us == 2_000_000
    nothing(recv(conn, 2_999_999))
    one(recv(conn, 3_000_000), flags=SYN, seq=LOCAL_ISS)


def test_syn_sent_times_out_after_syn_retries():
    # RFC 1122 4.2.3.5 R2 for a SYN: give up, "connection timed out".
    conn = syn_sent(config(syn_retries=2))
    now = 0
    for _ in range(2):
        now = conn.poll_at()
        one(recv(conn, now), flags=SYN)
    now = conn.poll_at()
    nothing(recv(conn, now))
    assert conn.state == State.CLOSED
    assert isinstance(conn.error, ConnectionTimedOut)
    with pytest.raises(ConnectionTimedOut):
        conn.recv()


def test_syn_sent_rto_is_3s_after_a_lost_syn():
    # RFC 6298 5.7: the SYN was retransmitted and gave no RTT sample: RTO 3 s for the data.
    conn = syn_sent()
    recv(conn, 1_000_000)
    send(conn, seg(REMOTE_ISS, L, SYN | ACK, mss=1460), now=1_050_000)
    assert conn.state == State.ESTABLISHED
    assert conn.srtt_us == 0 and conn.rto_us == 3_000_000


def test_syn_sent_initial_window_is_one_segment_after_a_lost_syn():
    # RFC 5681 3.1: if the SYN was lost, the initial window is one segment.
    conn = syn_sent()
    recv(conn, 1_000_000)
    send(conn, seg(REMOTE_ISS, L, SYN | ACK, mss=1460), now=1_050_000)
    assert conn.cwnd == 1460


def test_syn_sent_handshake_gives_an_rtt_sample():
    # RFC 6298 2.2: the first sample sets SRTT = R, RTTVAR = R/2; RTO bounded below (2.4).
    conn = syn_sent()
    send(conn, seg(REMOTE_ISS, L, SYN | ACK, mss=1460), now=50_000)
    assert conn.srtt_us == 50_000 and conn.rttvar_us == 25_000
    assert conn.rto_us == 200_000               # 50 ms + 4 * 25 ms, raised to the minimum
    assert conn.cwnd == 10 * 1460               # RFC 6928 initial window of 10


def test_syn_sent_data_queued_before_the_handshake_goes_after_it():
    # RFC 9293 3.10.2: SEND in SYN-SENT queues the data.
    conn = syn_sent()
    assert conn.send(b"early") == 5
    nothing(recv(conn, 10))
    one(send(conn, seg(REMOTE_ISS, L, SYN | ACK, mss=1460)), flags=ACK | PSH, seq=L, ack=R,
        payload=b"early")


def test_syn_sent_close_deletes_the_connection():
    # RFC 9293 3.10.4: CLOSE in SYN-SENT deletes the TCB; nothing is sent.
    conn = syn_sent()
    conn.shutdown()
    assert conn.state == State.CLOSED and conn.error is None
    nothing(recv(conn, 5_000_000))
    with pytest.raises(ConnectionClosed):
        conn.send(b"x")


def test_syn_sent_abort_sends_nothing():
    # RFC 9293 3.10.5: ABORT in SYN-SENT: no RST (nothing is synchronized).
    conn = syn_sent()
    nothing(conn.abort(10))
    assert conn.state == State.CLOSED
