"""FIN-WAIT-2 (RFC 9293 3.10.7.4 in FIN-WAIT-2): our side is closed, the peer's is open."""
from fastpath.errors import ConnectionReset
from tcpvocab import *


def test_fin_wait_2_peer_fin_enters_time_wait():
    # RFC 9293 3.10.7.4 eighth, FIN-WAIT-2: enter TIME-WAIT, start the 2 MSL timer.
    conn = fin_wait_2()
    one(send(conn, seg(R, L + 1, ACK | FIN)), flags=ACK, seq=L + 1, ack=R + 1)
    assert conn.state == State.TIME_WAIT
    assert conn.timers == {"time_wait": T0 + 2 * BASE.msl_us}


def test_fin_wait_2_receives_data_after_our_close():
    # RFC 9293 3.10.7.4 seventh: half-close; the peer may keep sending.
    conn = fin_wait_2()
    one(send(conn, seg(R, L + 1, payload=data(500))), flags=ACK, seq=L + 1, ack=R + 500)
    assert conn.recv() == data(500)


def test_fin_wait_2_waits_without_a_timer():
    # RFC 9293 3.10.7.4: nothing to retransmit; the application may wait for the peer.
    conn = fin_wait_2()
    assert conn.poll_at() is None
    nothing(recv(conn, T0 + 10 ** 9))
    assert conn.state == State.FIN_WAIT_2


def test_fin_wait_2_rst_resets():
    # RFC 9293 3.10.7.4 second / RFC 5961 3.2.
    conn = fin_wait_2()
    nothing(send(conn, seg(R, flags=RST)))
    assert conn.state == State.CLOSED and isinstance(conn.error, ConnectionReset)
