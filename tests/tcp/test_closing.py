"""CLOSING and simultaneous close (RFC 9293 3.6 figure 13, 3.10.7.4 in CLOSING)."""
from tcpvocab import *


def test_closing_ack_of_fin_enters_time_wait():
    # RFC 9293 3.10.7.4 fifth, CLOSING: our FIN acknowledged -> TIME-WAIT.
    conn = closing()
    nothing(send(conn, seg(R + 1, L + 1)))
    assert conn.state == State.TIME_WAIT


def test_closing_fin_is_retransmitted():
    # RFC 6298 5.4: CLOSING still has our FIN outstanding.
    conn = closing()
    one(recv(conn, conn.timers["retransmit"]), flags=FIN | ACK, seq=L, ack=R + 1)


def test_closing_rst_closes_without_error():
    # RFC 9293 3.10.7.4 second, CLOSING: enter CLOSED.
    conn = closing()
    nothing(send(conn, seg(R + 1, flags=RST)))
    assert conn.state == State.CLOSED and conn.error is None


def test_simultaneous_close_both_sides_end_in_time_wait():
    # RFC 9293 3.6 figure 13: both FINs cross; each side goes FIN-WAIT-1 -> CLOSING ->
    # TIME-WAIT.
    a, b = pair()
    a.shutdown()
    b.shutdown()
    fin_a = one(recv(a), flags=FIN | ACK, seq=L, ack=R)
    fin_b = one(recv(b), flags=FIN | ACK, seq=R, ack=L)
    ack_a = one(send(a, fin_b), flags=ACK, seq=L + 1, ack=R + 1)
    ack_b = one(send(b, fin_a), flags=ACK, seq=R + 1, ack=L + 1)
    assert a.state == State.CLOSING and b.state == State.CLOSING
    nothing(send(a, ack_b))
    nothing(send(b, ack_a))
    assert a.state == State.TIME_WAIT and b.state == State.TIME_WAIT
