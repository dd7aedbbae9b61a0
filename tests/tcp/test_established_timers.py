"""Keepalive (RFC 1122 4.2.3.6) and the timer interface (poll_at) in ESTABLISHED."""
from fastpath.errors import ConnectionTimedOut
from tcpvocab import *

KA = config(keepalive=True, keepalive_idle_us=10_000_000, keepalive_intvl_us=1_000_000,
            keepalive_probes=3)


def test_timers_keepalive_is_off_by_default():
    # RFC 1122 4.2.3.6: keepalives MUST default to off.
    conn = established()
    assert conn.poll_at() is None
    nothing(recv(conn, T0 + 10 ** 10))


def test_timers_keepalive_probes_after_idle():
    # RFC 1122 4.2.3.6: after the idle interval send <SEQ=SND.NXT-1> with no data.
    conn = established(KA)
    assert conn.timers == {"keepalive": T0 + 10_000_000}
    nothing(recv(conn, T0 + 9_999_999))
    one(recv(conn, T0 + 10_000_000), flags=ACK, seq=L - 1, ack=R, payload=b"")


def test_timers_answered_keepalive_keeps_the_connection():
    # RFC 1122 4.2.3.6: any answer shows the peer alive; probing restarts after idle.
    conn = established(KA)
    recv(conn, T0 + 10_000_000)
    nothing(send(conn, seg(R, L), now=T0 + 10_000_500))
    nothing(recv(conn, T0 + 11_000_000))
    assert conn.state == State.ESTABLISHED
    one(recv(conn, T0 + 20_000_500), seq=L - 1)


def test_timers_unanswered_keepalives_time_out():
    # RFC 1122 4.2.3.6: give up after the configured number of unanswered probes.
    conn = established(KA)
    for k in range(3):
        one(recv(conn, T0 + 10_000_000 + k * 1_000_000), seq=L - 1)
    nothing(recv(conn, T0 + 13_000_000))
    assert isinstance(conn.error, ConnectionTimedOut)


def test_timers_poll_at_is_the_earliest_deadline():
    # RFC 9293 3.8.1 / RFC 1122 4.2.3.2 timers as deadlines: the core never reads a clock, and
    # poll_at tells the caller when to come back.
    conn = established(config(delack_us=40_000, keepalive=True, keepalive_idle_us=5_000_000))
    send(conn, seg(R, L, payload=b"q"))
    assert conn.poll_at() == T0 + 40_000
    conn.send(b"r")
    recv(conn)
    assert conn.poll_at() == T0 + conn.rto_us
