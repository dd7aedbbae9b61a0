"""ESTABLISHED: data, acknowledgments, windows, and segment validation (RFC 9293 3.10.7.4,
RFC 5961, RFC 1122 4.2.3, RFC 5681 4.2)."""
import pytest

from fastpath.errors import ConnectionReset, ConnectionAborted, ConnectionClosed
from tcpvocab import *


# ---------------------------------------------------------------- receiving

def test_established_in_order_data_is_acknowledged():
    # RFC 9293 3.10.7.4 seventh: deliver the text, advance RCV.NXT, send <ACK=RCV.NXT>.
    conn = established()
    one(send(conn, seg(R, L, payload=data(100))), flags=ACK, seq=L, ack=R + 100, window=32668)
    assert conn.rcv_nxt == R + 100
    assert conn.recv() == data(100)


def test_established_out_of_window_segment_gets_an_ack():
    # RFC 9293 3.10.7.4 first: not acceptable: send <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, drop.
    conn = established()
    one(send(conn, seg(R + 40000, L, payload=b"x" * 10)), flags=ACK, seq=L, ack=R)
    assert conn.recv_buffered == 0 and conn.out_of_order == []


def test_established_old_duplicate_gets_an_ack():
    # RFC 9293 3.10.7.4 first: data entirely below RCV.NXT is a duplicate: ACK and drop.
    conn = established()
    send(conn, seg(R, L, payload=data(100)))
    one(send(conn, seg(R, L, payload=data(50))), flags=ACK, ack=R + 100)
    assert conn.recv() == data(100)


def test_established_partly_old_segment_is_trimmed():
    # RFC 9293 3.10.7.4 first: keep only the part at or beyond RCV.NXT.
    conn = established()
    send(conn, seg(R, L, payload=data(10)))
    one(send(conn, seg(R + 5, L, payload=data(20, 5))), flags=ACK, ack=R + 25)
    assert conn.recv() == data(25)


def test_established_segment_beyond_the_window_is_trimmed():
    # RFC 9293 3.10.7.4 first: only the part inside RCV.WND is kept (memory stays bounded).
    conn = established()
    one(send(conn, seg(R + 32000, L, payload=b"y" * 1000)), flags=ACK, ack=R)
    assert conn.out_of_order == [(R + 32000, R + 32768)]


def test_established_reassembles_out_of_order_segments():
    # RFC 9293 3.10.7.4 seventh with RFC 5681 4.2: out-of-order data is kept and acknowledged
    # at once (a duplicate ACK); filling the gap delivers everything.
    conn = established()
    one(send(conn, seg(R + 200, L, payload=data(100, 200))), flags=ACK, ack=R)
    one(send(conn, seg(R + 100, L, payload=data(100, 100))), flags=ACK, ack=R)
    assert conn.out_of_order == [(R + 100, R + 300)]
    one(send(conn, seg(R, L, payload=data(100))), flags=ACK, ack=R + 300)
    assert conn.out_of_order == [] and conn.recv() == data(300)


def test_established_out_of_order_ranges_are_bounded():
    # RFC 9293 3.10.7.4 seventh ("segments with higher beginning sequence numbers may be held
    # for later processing") with bounded memory: at most 16 separate out-of-order ranges; a
    # segment that would need a 17th is dropped (and still answered with an ACK).
    conn = established()
    for k in range(1, 18):
        one(send(conn, seg(R + 100 * k, L, payload=b"z" * 10)), flags=ACK, ack=R)
    assert len(conn.out_of_order) == 16
    assert (R + 1700, R + 1710) not in conn.out_of_order
    conn.check()


def test_established_out_of_order_fin_waits_for_the_gap():
    # RFC 9293 3.10.7.4 eighth: a FIN counts only in sequence; it is remembered until then.
    conn = established()
    one(send(conn, seg(R + 10, L, ACK | FIN, payload=data(5, 10))), flags=ACK, ack=R)
    assert conn.state == State.ESTABLISHED
    one(send(conn, seg(R, L, payload=data(10))), flags=ACK, ack=R + 16)
    assert conn.state == State.CLOSE_WAIT
    assert conn.recv() == data(15) and conn.eof


def test_established_fin_enters_close_wait():
    # RFC 9293 3.10.7.4 eighth: ESTABLISHED -> CLOSE-WAIT, ACK the FIN, signal end of data.
    conn = established()
    one(send(conn, seg(R, L, ACK | FIN, payload=b"bye")), flags=ACK, ack=R + 4)
    assert conn.state == State.CLOSE_WAIT
    assert not conn.eof
    assert conn.recv() == b"bye"
    assert conn.eof


# ---------------------------------------------------------------- sending

def test_established_send_goes_out_with_push():
    # RFC 9293 3.10.2 SEND; 3.8.1 starts the retransmission timer (RFC 6298 5.1).
    conn = established()
    assert conn.send(b"abc") == 3
    one(recv(conn), flags=ACK | PSH, seq=L, ack=R, payload=b"abc")
    assert conn.snd_nxt == L + 3 and conn.timers["retransmit"] == T0 + conn.rto_us


def test_established_ack_releases_sent_data():
    # RFC 9293 3.10.7.4 fifth: SND.UNA advances; RFC 6298 5.2: all acknowledged, timer off.
    conn = established()
    conn.send(b"abc")
    recv(conn)
    nothing(send(conn, seg(R, L + 3)))
    assert conn.snd_una == L + 3 and conn.send_buffered == 0
    assert "retransmit" not in conn.timers


def test_established_data_is_cut_into_mss_segments():
    # RFC 9293 3.7.1: segments carry at most the effective MSS; PSH on the last (3.9.1).
    conn = established(config(nodelay=True))
    conn.send(data(5000))
    out = recv(conn)
    assert [len(s.payload) for s in out] == [1460, 1460, 1460, 620]
    assert [s.seq for s in out] == [L, L + 1460, L + 2920, L + 4380]
    assert [bool(s.flags & PSH) for s in out] == [False, False, False, True]
    assert b"".join(s.payload for s in out) == data(5000)


def test_established_send_buffer_is_bounded():
    # RFC 9293 3.10.2 SEND with a fixed-capacity buffer: it takes what fits and says how much.
    conn = established()
    assert conn.send(b"q" * 100_000) == 65535
    assert conn.send(b"more") == 0


def test_established_nagle_holds_the_tail_of_a_write():
    # RFC 1122 4.2.3.4: the last, partial segment waits while full ones are unacknowledged.
    conn = established()
    conn.send(data(5000))
    assert [len(s.payload) for s in recv(conn)] == [1460, 1460, 1460]
    one(send(conn, seg(R, L + 4380)), seq=L + 4380, payload=data(620, 4380))


def test_established_send_respects_the_peer_window():
    # RFC 9293 3.8.6: never send beyond SND.UNA + SND.WND.
    conn = established(window=2920)
    conn.send(data(5000))
    assert [s.seq for s in recv(conn)] == [L, L + 1460]
    one(send(conn, seg(R, L + 1460, window=2920)), seq=L + 2920, payload=data(1460, 2920))


def test_established_sender_sws_avoidance_holds_a_sliver():
    # RFC 1122 4.2.3.4: with 540 bytes of window left and more queued, wait for a usable window.
    conn = established(window=2000)
    conn.send(data(5000))
    one(recv(conn), seq=L, payload=data(1460))
    nothing(recv(conn))


def test_established_window_update_follows_wl1_wl2():
    # RFC 9293 3.10.7.4 fifth: update SND.WND only from a segment newer than the last update
    # (SND.WL1 < SEG.SEQ, or equal and SND.WL2 =< SEG.ACK).
    conn = established()
    send(conn, seg(R, L, payload=b"ab", window=5000))
    assert conn.snd_wnd == 5000
    send(conn, seg(R + 2, L, window=6000))
    assert conn.snd_wnd == 6000
    send(conn, seg(R, L, window=100))               # older: ignored
    assert conn.snd_wnd == 6000


def test_established_nagle_holds_a_small_segment_while_data_is_unacked():
    # RFC 896 / RFC 1122 4.2.3.4: one small segment in flight at a time.
    conn = established()
    conn.send(b"a")
    one(recv(conn), payload=b"a")
    conn.send(b"b")
    nothing(recv(conn))
    one(send(conn, seg(R, L + 1)), flags=ACK | PSH, seq=L + 1, payload=b"b")


def test_established_nodelay_sends_small_segments_at_once():
    # RFC 1122 4.2.3.4: an application may turn the Nagle algorithm off.
    conn = established(config(nodelay=True))
    conn.send(b"a")
    one(recv(conn), payload=b"a")
    conn.send(b"b")
    one(recv(conn), seq=L + 1, payload=b"b")


def test_established_shutdown_piggybacks_the_fin_on_data():
    # RFC 9293 3.10.4 CLOSE: the FIN follows the queued data (same segment when it fits).
    conn = established()
    conn.send(b"xyz")
    conn.shutdown()
    one(recv(conn), flags=FIN | PSH | ACK, seq=L, payload=b"xyz")
    assert conn.state == State.FIN_WAIT_1 and conn.snd_nxt == L + 4


def test_established_send_after_shutdown_is_an_error():
    # RFC 9293 3.10.2 SEND after CLOSE: "error: connection closing".
    conn = established()
    conn.shutdown()
    with pytest.raises(ConnectionClosed):
        conn.send(b"late")


def test_established_abort_sends_rst():
    # RFC 9293 3.10.5 ABORT: <SEQ=SND.NXT><CTL=RST>, then CLOSED.
    conn = established()
    one(conn.abort(T0), flags=RST, seq=L)
    assert conn.state == State.CLOSED
    assert isinstance(conn.error, ConnectionAborted)


# ---------------------------------------------------------------- RFC 5961

def test_established_rst_exactly_at_rcv_nxt_resets():
    # RFC 5961 3.2: an RST with SEG.SEQ = RCV.NXT resets the connection.
    conn = established()
    nothing(send(conn, seg(R, flags=RST)))
    assert conn.state == State.CLOSED
    assert isinstance(conn.error, ConnectionReset)
    with pytest.raises(ConnectionReset):
        conn.recv()


def test_established_rst_in_window_gets_a_challenge_ack():
    # RFC 5961 3.2: in the window but not exact: challenge ACK, connection unchanged.
    conn = established()
    one(send(conn, seg(R + 100, flags=RST)), flags=ACK, seq=L, ack=R)
    assert conn.state == State.ESTABLISHED


def test_established_rst_out_of_window_is_ignored():
    # RFC 5961 3.2 / RFC 9293 3.10.7.4 first: silently dropped.
    conn = established()
    nothing(send(conn, seg(R + 100_000, flags=RST)))
    nothing(send(conn, seg(R - 1, flags=RST)))
    assert conn.state == State.ESTABLISHED


def test_established_syn_gets_a_challenge_ack():
    # RFC 5961 4.2: a SYN in a synchronized state, in the window or not, gets a challenge ACK.
    conn = established()
    one(send(conn, seg(R + 5, flags=SYN)), flags=ACK, seq=L, ack=R)
    one(send(conn, seg(R + 10_000_000, flags=SYN)), flags=ACK, seq=L, ack=R)
    assert conn.state == State.ESTABLISHED


def test_established_challenge_acks_are_rate_limited():
    # RFC 5961 7: challenge ACKs are limited (here 3 per second).
    conn = established(config(challenge_ack_limit=3))
    for _ in range(3):
        one(send(conn, seg(R + 100, flags=RST), now=T0 + 10), flags=ACK)
    nothing(send(conn, seg(R + 100, flags=RST), now=T0 + 20))
    one(send(conn, seg(R + 100, flags=RST), now=T0 + 1_100_000), flags=ACK)


def test_established_ack_of_unsent_data_is_answered_and_dropped():
    # RFC 5961 5.2 / RFC 9293 3.10.7.4 fifth: SEG.ACK > SND.NXT: send an ACK, drop the segment.
    conn = established()
    one(send(conn, seg(R, L + 100, payload=b"data")), flags=ACK, seq=L, ack=R)
    assert conn.recv_buffered == 0 and conn.snd_una == L


def test_established_ack_older_than_max_window_is_dropped():
    # RFC 5961 5.2: acceptable only if SND.UNA - MAX.SND.WND =< SEG.ACK.
    conn = established()
    one(send(conn, seg(R, L - 70_000, payload=b"data")), flags=ACK, ack=R)
    assert conn.recv_buffered == 0


def test_established_old_ack_within_max_window_is_accepted():
    # RFC 5961 5.2: an old ACK inside [SND.UNA - MAX.SND.WND, SND.UNA] is acceptable: the
    # segment's data is taken.
    conn = established()
    one(send(conn, seg(R, L - 10, payload=b"data")), flags=ACK, ack=R + 4)
    assert conn.recv() == b"data"


# ---------------------------------------------------------------- windows and ACK timing

def test_established_reading_opens_the_window_with_an_update():
    # RFC 9293 3.8.6.2.2 / RFC 1122 4.2.3.3: once the window can move by at least
    # min(buffer / 2, MSS) ... here 20000 bytes were read: send a window update.
    conn = established()
    for k in range(0, 20000, 1000):
        send(conn, seg(R + k, L, payload=b"w" * 1000))
    assert conn.rcv_wnd == 32768 - 20000
    assert len(conn.recv()) == 20000
    one(recv(conn), flags=ACK, ack=R + 20000, window=32768)


def test_established_small_read_sends_no_window_update():
    # RFC 1122 4.2.3.3 receiver SWS avoidance: a small opening is not advertised.
    conn = established()
    send(conn, seg(R, L, payload=b"s" * 100))
    conn.recv()
    nothing(recv(conn))


def test_established_delayed_ack_for_every_second_segment():
    # RFC 1122 4.2.3.2 / RFC 5681 4.2: ACK at least every second full-sized segment, and
    # otherwise within the delayed-ACK time.
    conn = established(config(delack_us=40_000))
    nothing(send(conn, seg(R, L, payload=b"a" * 1460)))
    one(send(conn, seg(R + 1460, L, payload=b"b" * 1460)), flags=ACK, ack=R + 2920)
    nothing(send(conn, seg(R + 2920, L, payload=b"c" * 100), now=T0 + 10))
    nothing(recv(conn, T0 + 40_009))
    one(recv(conn, T0 + 40_010), flags=ACK, ack=R + 3020)


def test_established_out_of_order_and_gap_filling_are_acked_at_once():
    # RFC 5681 4.2: immediate ACK for out-of-order data and for data that fills a gap.
    conn = established(config(delack_us=40_000))
    one(send(conn, seg(R + 1460, L, payload=b"b" * 1460)), flags=ACK, ack=R)
    one(send(conn, seg(R, L, payload=b"a" * 1460)), flags=ACK, ack=R + 2920)


def test_established_data_with_the_ack_piggybacks():
    # RFC 9293 3.8.1: an ACK rides on outgoing data when there is some.
    conn = established(config(delack_us=40_000))
    nothing(send(conn, seg(R, L, payload=b"q" * 10)))
    conn.send(b"answer")
    one(recv(conn), flags=ACK | PSH, ack=R + 10, payload=b"answer")
    assert "delayed_ack" not in conn.timers
