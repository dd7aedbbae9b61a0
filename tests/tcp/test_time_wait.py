"""TIME-WAIT (RFC 9293 3.4.2, 3.10.7.4 in TIME-WAIT)."""
from tcpvocab import *


def test_time_wait_closes_after_two_msl():
    # RFC 9293 3.10.8 timeouts: when the time-wait timeout expires, delete the TCB.
    conn = time_wait(config(msl_us=5_000_000))
    deadline = T0 + 10_000_000
    assert conn.poll_at() == deadline
    nothing(recv(conn, deadline - 1))
    assert conn.state == State.TIME_WAIT
    nothing(recv(conn, deadline))
    assert conn.state == State.CLOSED and conn.error is None


def test_time_wait_retransmitted_fin_is_acked_and_restarts_the_timer():
    # RFC 9293 3.10.7.4 eighth, TIME-WAIT: the FIN again (our ACK was lost): acknowledge it
    # and restart the 2 MSL timeout.
    conn = time_wait(config(msl_us=5_000_000))
    later = T0 + 3_000_000
    one(send(conn, seg(R, L + 1, ACK | FIN), now=later), flags=ACK, seq=L + 1, ack=R + 1)
    assert conn.poll_at() == later + 10_000_000
    nothing(recv(conn, T0 + 10_000_000))
    assert conn.state == State.TIME_WAIT


def test_time_wait_rst_closes():
    # RFC 9293 3.10.7.4 second, TIME-WAIT: enter CLOSED.
    conn = time_wait()
    nothing(send(conn, seg(R + 1, flags=RST)))
    assert conn.state == State.CLOSED and conn.error is None


def test_time_wait_syn_gets_a_challenge_ack():
    # RFC 5961 4.2: a SYN in a synchronized state; reuse of the 4-tuple is the stack's call
    # (RFC 6191, see test_stack.py).
    conn = time_wait()
    one(send(conn, seg(R + 100, flags=SYN)), flags=ACK, seq=L + 1, ack=R + 1)
    assert conn.state == State.TIME_WAIT


def test_time_wait_data_is_not_accepted():
    # RFC 9293 3.10.7.4 seventh: no text after the peer's FIN.
    conn = time_wait()
    send(conn, seg(R + 1, L + 1, payload=b"late"))
    assert conn.recv_buffered == 0 and conn.state == State.TIME_WAIT
