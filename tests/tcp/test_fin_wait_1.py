"""FIN-WAIT-1 (RFC 9293 3.10.4 CLOSE from ESTABLISHED, 3.10.7.4 in FIN-WAIT-1)."""
from fastpath.errors import ConnectionReset
from tcpvocab import *


def test_fin_wait_1_ack_of_fin_enters_fin_wait_2():
    # RFC 9293 3.10.7.4 fifth, FIN-WAIT-1: our FIN acknowledged -> FIN-WAIT-2.
    conn = fin_wait_1()
    nothing(send(conn, seg(R, L + 1)))
    assert conn.state == State.FIN_WAIT_2 and conn.snd_una == L + 1


def test_fin_wait_1_ack_of_data_only_stays():
    # RFC 9293 3.10.7.4 fifth: an ACK that does not cover the FIN leaves us in FIN-WAIT-1.
    conn = established()
    conn.send(b"abc")
    conn.shutdown()
    one(recv(conn), flags=FIN | PSH | ACK, seq=L)
    nothing(send(conn, seg(R, L + 3)))
    assert conn.state == State.FIN_WAIT_1 and conn.snd_una == L + 3


def test_fin_wait_1_peer_fin_without_our_ack_enters_closing():
    # RFC 9293 3.10.7.4 eighth, FIN-WAIT-1: FIN received, ours not acked -> CLOSING.
    conn = fin_wait_1()
    one(send(conn, seg(R, L, ACK | FIN)), flags=ACK, seq=L + 1, ack=R + 1)
    assert conn.state == State.CLOSING


def test_fin_wait_1_fin_and_ack_together_enter_time_wait():
    # RFC 9293 3.10.7.4 eighth: our FIN acked by the same segment -> TIME-WAIT.
    conn = fin_wait_1()
    one(send(conn, seg(R, L + 1, ACK | FIN)), flags=ACK, seq=L + 1, ack=R + 1)
    assert conn.state == State.TIME_WAIT


def test_fin_wait_1_still_receives_data():
    # RFC 9293 3.10.7.4 seventh: text is processed in FIN-WAIT-1 (half-close).
    conn = fin_wait_1()
    one(send(conn, seg(R, L, payload=b"late data")), flags=ACK, ack=R + 9)
    assert conn.recv() == b"late data"


def test_fin_wait_1_fin_is_retransmitted():
    # RFC 6298 5.4 / RFC 9293 3.8.1: the FIN occupies sequence space and is retransmitted.
    conn = fin_wait_1()
    t = conn.timers["retransmit"]
    nothing(recv(conn, t - 1))
    one(recv(conn, t), flags=FIN | ACK, seq=L)


def test_fin_wait_1_rst_at_rcv_nxt_resets():
    # RFC 9293 3.10.7.4 second / RFC 5961 3.2: connection reset.
    conn = fin_wait_1()
    nothing(send(conn, seg(R, flags=RST)))
    assert conn.state == State.CLOSED and isinstance(conn.error, ConnectionReset)
