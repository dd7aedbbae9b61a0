"""CLOSE-WAIT (RFC 9293 3.10.7.4): the peer has closed; we may still send."""
import pytest

from tcpvocab import *


def test_close_wait_can_still_send():
    # RFC 9293 3.10.2 SEND in CLOSE-WAIT: half-close, data still flows our way out.
    conn = close_wait()
    conn.send(b"reply")
    one(recv(conn), flags=ACK | PSH, seq=L, ack=R + 1, payload=b"reply")


def test_close_wait_shutdown_sends_fin_and_enters_last_ack():
    # RFC 9293 3.10.4 CLOSE in CLOSE-WAIT: queue the FIN, enter LAST-ACK.
    conn = close_wait()
    conn.shutdown()
    one(recv(conn), flags=FIN | ACK, seq=L, ack=R + 1)
    assert conn.state == State.LAST_ACK


def test_close_wait_recv_reports_end_of_data():
    # RFC 9293 3.10.3 RECEIVE in CLOSE-WAIT: remaining text, then "connection closing" (EOF).
    conn = established()
    send(conn, seg(R, L, ACK | FIN, payload=b"tail"))
    assert conn.state == State.CLOSE_WAIT
    assert conn.recv() == b"tail"
    assert conn.recv() == b"" and conn.eof


def test_close_wait_retransmitted_fin_gets_an_ack():
    # RFC 9293 3.10.7.4 first: the FIN again is a duplicate: ACK it.
    conn = close_wait()
    one(send(conn, seg(R, L, ACK | FIN)), flags=ACK, seq=L, ack=R + 1)
    assert conn.state == State.CLOSE_WAIT


def test_close_wait_ignores_text_after_the_fin():
    # RFC 9293 3.10.7.4 seventh, CLOSE-WAIT: "a FIN has been received from the remote side.
    # Ignore the segment text."
    conn = close_wait()
    send(conn, seg(R + 1, L, payload=b"bogus"))
    assert conn.recv_buffered == 0
