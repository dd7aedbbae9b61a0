"""LAST-ACK (RFC 9293 3.10.7.4 in LAST-ACK)."""
from tcpvocab import *


def test_last_ack_ack_of_fin_closes():
    # RFC 9293 3.10.7.4 fifth, LAST-ACK: our FIN acknowledged: delete the TCB, CLOSED.
    conn = last_ack()
    nothing(send(conn, seg(R + 1, L + 1)))
    assert conn.state == State.CLOSED and conn.error is None
    assert conn.poll_at() is None


def test_last_ack_fin_is_retransmitted():
    # RFC 6298 5.4: the unacknowledged FIN goes again when the timer expires.
    conn = last_ack()
    one(recv(conn, conn.timers["retransmit"]), flags=FIN | ACK, seq=L, ack=R + 1)
    assert conn.state == State.LAST_ACK


def test_last_ack_rst_closes_without_error():
    # RFC 9293 3.10.7.4 second, CLOSING / LAST-ACK / TIME-WAIT: enter CLOSED, no error.
    conn = last_ack()
    nothing(send(conn, seg(R + 1, flags=RST)))
    assert conn.state == State.CLOSED and conn.error is None
