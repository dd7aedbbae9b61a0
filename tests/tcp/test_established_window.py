"""Flow control in ESTABLISHED: zero windows and the persist timer (RFC 9293 3.8.6.1, RFC 1122
4.2.2.17), the receiver's window (RFC 9293 3.8.6.2), window scaling (RFC 7323 2)."""
from fastpath.errors import ConnectionTimedOut
from tcpvocab import *


def zero_window():
    conn = established()
    nothing(send(conn, seg(R, L, window=0)))
    assert conn.snd_wnd == 0
    conn.send(b"p" * 3000)
    nothing(recv(conn))
    return conn


def test_window_zero_window_holds_data_and_arms_persist():
    # RFC 9293 3.8.6.1: nothing is sent into a zero window; the persist timer runs.
    conn = zero_window()
    assert conn.timers == {"persist": T0 + 200_000}


def test_window_probe_is_sent_and_backs_off():
    # RFC 1122 4.2.2.17: probe the zero window, with exponentially growing intervals. The
    # probe sits one below SND.UNA, so any receiver must answer it with its window.
    conn = zero_window()
    one(recv(conn, T0 + 200_000), flags=ACK, seq=L - 1, payload=b"")
    assert conn.timers == {"persist": T0 + 200_000 + 400_000}
    one(recv(conn, T0 + 600_000), seq=L - 1)
    assert conn.timers == {"persist": T0 + 600_000 + 800_000}


def test_window_probe_answer_with_an_open_window_resumes_sending():
    # RFC 9293 3.8.6.1: once the window opens, data flows again.
    conn = zero_window()
    recv(conn, T0 + 200_000)
    out = send(conn, seg(R, L, window=2000), now=T0 + 201_000)
    assert [(s.seq, len(s.payload)) for s in out] == [(L, 1460)]
    assert "persist" not in conn.timers


def test_window_answered_probes_never_time_out():
    # RFC 1122 4.2.2.17: a zero window may persist indefinitely while the receiver answers.
    conn = zero_window()
    for _ in range(BASE.max_retries + 5):
        now = conn.poll_at()
        one(recv(conn, now), seq=L - 1)
        nothing(send(conn, seg(R, L, window=0), now=now + 1000))
    assert conn.state == State.ESTABLISHED


def test_window_unanswered_probes_time_out():
    # RFC 1122 4.2.3.5: a peer that stops answering entirely is given up.
    conn = zero_window()
    for _ in range(BASE.max_retries):
        one(recv(conn, conn.poll_at()), seq=L - 1)
    nothing(recv(conn, conn.poll_at()))
    assert isinstance(conn.error, ConnectionTimedOut)


def test_window_small_window_is_probed_when_nothing_is_in_flight():
    # RFC 1122 4.2.3.4 (d): data waits behind a window too small to use (the update that
    # opened it may be lost); the persist timer asks again instead of waiting forever.
    conn = established()
    nothing(send(conn, seg(R, L, window=500)))
    conn.send(b"s" * 3000)
    nothing(recv(conn))
    assert "persist" in conn.timers
    one(recv(conn, conn.timers["persist"]), seq=L - 1)
    out = send(conn, seg(R, L, window=30000), now=T0 + 300_000)
    assert [len(s.payload) for s in out] == [1460, 1460]     # the 80-byte tail waits (Nagle)


def test_window_full_receive_buffer_advertises_zero():
    # RFC 9293 3.8.6.2: the window is what the receive buffer can still take.
    conn = established()
    for k in range(0, 32768, 1024):
        send(conn, seg(R + k, L, payload=b"f" * 1024))
    assert conn.rcv_wnd == 0
    one(send(conn, seg(R + 32768, L, payload=b"x")), flags=ACK, ack=R + 32768, window=0)
    assert conn.recv_buffered == 32768


def test_window_zero_window_probe_is_answered():
    # RFC 9293 3.10.7.4 first: a probe outside the (zero) window gets an ACK with our window.
    conn = established()
    for k in range(0, 32768, 1024):
        send(conn, seg(R + k, L, payload=b"f" * 1024))
    one(send(conn, seg(R + 32767, L)), flags=ACK, ack=R + 32768, window=0)


def test_window_reading_a_full_buffer_sends_an_update():
    # RFC 9293 3.8.6.2.2: when the window reopens, tell the sender.
    conn = established()
    for k in range(0, 32768, 1024):
        send(conn, seg(R + k, L, payload=b"f" * 1024))
    conn.recv(10_000)
    one(recv(conn), flags=ACK, ack=R + 32768, window=10_000)


def test_window_right_edge_never_moves_left():
    # RFC 9293 3.8.6.2.1 / RFC 7323 2.4: the receiver does not shrink the window.
    conn = established(config(window_scaling=True, rcvbuf=100_000), wscale=0)
    edge = conn.rcv_nxt + conn.rcv_wnd
    for k in range(0, 20_000, 1000):
        one(send(conn, seg(R + k, L, payload=b"e" * 1000)))
        assert conn.rcv_nxt + conn.rcv_wnd >= edge
        edge = conn.rcv_nxt + conn.rcv_wnd


def test_window_scale_applies_to_both_directions():
    # RFC 7323 2.3: windows are sent as (window >> our shift) and read as (field << peer shift).
    conn = established(config(window_scaling=True, rcvbuf=256 * 1024), wscale=2)
    out = one(send(conn, seg(R, L, window=1000, payload=b"x")), flags=ACK)
    # 262143 bytes free, in units of 8: rounding down would pull the right edge back by one
    # byte, so it is rounded up (as Linux does) rather than shrink the window.
    assert out.window == 262144 >> 3
    assert conn.snd_wnd == 4000
