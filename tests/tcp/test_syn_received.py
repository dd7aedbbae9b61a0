"""SYN-RECEIVED (RFC 9293 3.10.7.2 passive open, 3.10.7.4 in SYN-RECEIVED)."""
import pytest

from tcpvocab import *


def test_syn_received_syn_ack_answers_the_offered_options():
    # RFC 7323 2.2 / 3.2, RFC 2018 2: a SYN-ACK carries an option only if the SYN did.
    conn = TcpConnection.accept(seg(REMOTE_ISS, flags=SYN, mss=1400, wscale=2, sack_permitted=True,
                                    timestamp=(777, 0)), 0, LOCAL, REMOTE,
                                TcpConfig(rcvbuf=256 * 1024), iss=LOCAL_ISS, ts_offset=5)
    s = one(recv(conn, 0), flags=SYN | ACK, seq=LOCAL_ISS, ack=R, mss=1460, wscale=3,
            sack_permitted=True, timestamp=(5, 777))
    assert s.window == 65535
    assert conn.options == {"wscale", "timestamps", "sack"} and conn.mss == 1388


def test_syn_received_syn_ack_without_options_for_a_bare_syn():
    # RFC 7323 2.2: no window scale in the SYN-ACK unless the SYN had one.
    conn = TcpConnection.accept(seg(REMOTE_ISS, flags=SYN), 0, LOCAL, REMOTE,
                                TcpConfig(rcvbuf=60000), iss=LOCAL_ISS)
    one(recv(conn, 0), flags=SYN | ACK, wscale=None, sack_permitted=False, timestamp=None,
        window=60000)
    assert conn.mss == 536                      # RFC 9293 3.7.1 default


def test_syn_received_ack_establishes():
    # RFC 9293 3.10.7.4 fifth: SND.UNA < SEG.ACK =< SND.NXT: ESTABLISHED, take the window.
    conn = syn_received()
    nothing(send(conn, seg(R, L, window=3000)))
    assert conn.state == State.ESTABLISHED
    assert (conn.snd_una, conn.snd_wnd, conn.snd_nxt) == (L, 3000, L)


def test_syn_received_ack_window_is_scaled():
    # RFC 7323 2.2: the window of a non-SYN segment is shifted by the peer's scale.
    conn = syn_received(TcpConfig(rcvbuf=256 * 1024, timestamps=False, sack=False), wscale=4)
    send(conn, seg(R, L, window=100))
    assert conn.snd_wnd == 1600


def test_syn_received_unacceptable_ack_gets_reset():
    # RFC 9293 3.10.7.4 fifth, SYN-RECEIVED: <SEQ=SEG.ACK><CTL=RST>, state unchanged.
    conn = syn_received()
    one(send(conn, seg(R, LOCAL_ISS)), flags=RST, seq=LOCAL_ISS)
    one(send(conn, seg(R, L + 10)), flags=RST, seq=L + 10)
    assert conn.state == State.SYN_RECEIVED


def test_syn_received_retransmitted_syn_gets_the_syn_ack_again():
    # RFC 9293 3.10.7.4 first and fourth: our SYN-ACK was lost and the peer's SYN comes again
    # (same sequence number, a retransmission, not a new connection): send the SYN-ACK again.
    conn = syn_received()
    one(send(conn, seg(REMOTE_ISS, flags=SYN, mss=MSS), now=10), flags=SYN | ACK,
        seq=LOCAL_ISS, ack=R)
    assert conn.state == State.SYN_RECEIVED


def test_syn_received_syn_ack_is_retransmitted_then_given_up():
    # RFC 6298 5.4-5.5 for the SYN-ACK; after syn_retries the half-open connection goes.
    conn = syn_received(config(syn_retries=1))
    nothing(recv(conn, 999_999))
    one(recv(conn, 1_000_000), flags=SYN | ACK, seq=LOCAL_ISS)
    nothing(recv(conn, 2_999_999))
    nothing(recv(conn, 3_000_000))
    assert conn.state == State.CLOSED


def test_syn_received_rst_returns_a_passive_open_to_listen():
    # RFC 9293 3.10.7.4 second, SYN-RECEIVED: from a passive OPEN, back to LISTEN (here: the
    # half-open connection is dropped without an error for any user).
    conn = syn_received()
    nothing(send(conn, seg(R, flags=RST)))
    assert conn.state == State.CLOSED and conn.error is None


def test_syn_received_in_window_rst_gets_a_challenge_ack():
    # RFC 5961 3.2: an RST not exactly at RCV.NXT but in the window earns a challenge ACK.
    conn = syn_received()
    one(send(conn, seg(R + 100, flags=RST)), flags=ACK, seq=L, ack=R)
    assert conn.state == State.SYN_RECEIVED


def test_syn_received_final_ack_may_carry_data():
    # RFC 9293 3.10.7.4: after the ACK establishes, the text in the same segment is taken.
    conn = syn_received()
    one(send(conn, seg(R, L, ACK | PSH, payload=b"hello")), flags=ACK, seq=L, ack=R + 5)
    assert conn.state == State.ESTABLISHED and conn.recv() == b"hello"


def test_syn_received_close_sends_fin_once_established():
    # RFC 9293 3.10.4 CLOSE in SYN-RECEIVED: the FIN waits for ESTABLISHED, then FIN-WAIT-1.
    conn = syn_received()
    conn.shutdown()
    nothing(recv(conn, 10))
    one(send(conn, seg(R, L)), flags=FIN | ACK, seq=L, ack=R)
    assert conn.state == State.FIN_WAIT_1


def test_syn_received_new_syn_abandons_a_passive_open():
    # RFC 9293 3.10.7.4 fourth: a SYN (other than a retransmission) in a passive SYN-RECEIVED
    # returns the connection to LISTEN.
    conn = syn_received()
    nothing(send(conn, seg(REMOTE_ISS + 5000, flags=SYN)))
    assert conn.state == State.CLOSED


def test_syn_received_segment_without_ack_is_dropped():
    # RFC 9293 3.10.7.4 fifth: "if the ACK bit is off drop the segment".
    conn = syn_received()
    nothing(send(conn, seg(R, flags=PSH, payload=b"zz")))
    assert conn.state == State.SYN_RECEIVED and conn.recv_buffered == 0
