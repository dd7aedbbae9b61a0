"""LISTEN: passive open, the bounded backlog, SYN cookies (RFC 9293 3.10.7.2, RFC 4987 3.6),
through a TcpStack on real IPv4 frames."""
import pytest

from fastpath.errors import ConfigError, ConnectionReset
from fastpath.tcp import TcpStack
from tcpvocab import *

HOST, PEER = "10.2.0.1", "10.2.0.2"
PORT = 8080


def listener(cfg=None, backlog=8):
    st = TcpStack(HOST, cfg or BASE, seed=3)
    return st, st.listen(PORT, backlog=backlog)


def syn(sport=40000, seq=REMOTE_ISS, **opts):
    opts.setdefault("mss", 1460)
    return to_frame(PEER, HOST, Segment(seq=seq, flags=SYN, window=65535, sport=sport,
                                        dport=PORT, **opts))


def ack(sport, seq, ack, flags=ACK, payload=b"", **opts):
    return to_frame(PEER, HOST, Segment(seq=seq, ack=ack, flags=flags, window=65535,
                                        payload=payload, sport=sport, dport=PORT, **opts))


def test_listen_syn_gets_syn_ack():
    # RFC 9293 3.10.7.2 third: SYN: new connection in SYN-RECEIVED, <SEQ=ISS><ACK=RCV.NXT><SYN,ACK>.
    st, lst = listener()
    st.input(T0, syn())
    s = one(segments(st), flags=SYN | ACK, ack=R, sport=PORT, dport=40000, mss=1460)
    assert lst.pending == (1, 0)
    assert lst.accept() is None                     # not established yet
    st.check()


def test_listen_final_ack_makes_an_acceptable_connection():
    # RFC 9293 3.10.7.4 fifth, SYN-RECEIVED -> ESTABLISHED; the listener hands it over.
    st, lst = listener()
    st.input(T0, syn())
    iss = segments(st)[0].seq
    st.input(T0 + 10, ack(40000, R, iss + 1))
    assert lst.pending == (0, 1)
    conn = lst.accept()
    assert conn.state == State.ESTABLISHED and conn.remote == (PEER, 40000)
    assert lst.pending == (0, 0) and st.stats["conns_accepted"] == 1
    st.check()


def test_listen_rst_is_ignored():
    # RFC 9293 3.10.7.2 first: an incoming RST is ignored.
    st, lst = listener()
    st.input(T0, ack(40000, 1, 0, flags=RST))
    nothing(segments(st))


def test_listen_syn_ack_gets_a_reset():
    # RFC 9293 3.10.7.2 second: an ACK in LISTEN: <SEQ=SEG.ACK><CTL=RST>.
    st, lst = listener()
    st.input(T0, ack(40000, REMOTE_ISS, 777, flags=SYN | ACK))
    one(segments(st), flags=RST, seq=777)


def test_listen_bare_ack_without_a_valid_cookie_gets_a_reset():
    # RFC 9293 3.10.7.2 second / RFC 4987 3.6: an ACK that returns no valid cookie is reset.
    st, lst = listener()
    st.input(T0, ack(40000, R, 12345))
    one(segments(st), flags=RST, seq=12345)
    assert st.stats["cookies_rejected"] == 1 and st.connections == 0


def test_listen_backlog_bounds_the_syn_queue():
    # RFC 9293 3.10.7.2 with a bounded backlog (RFC 4987 2.2): with cookies off, SYNs beyond
    # it are dropped (the peer retries).
    st, lst = listener(config(syncookies=False), backlog=2)
    for port in (40001, 40002, 40003):
        st.input(T0, syn(port))
    assert len(segments(st)) == 2
    assert lst.pending == (2, 0) and st.stats["syn_dropped"] == 1 and st.connections == 2


def test_listen_syn_cookie_when_the_syn_queue_is_full():
    # RFC 4987 3.6: when the queue is full, answer statelessly with a cookie as our ISS.
    st, lst = listener(backlog=1)
    st.input(T0, syn(40001))
    st.input(T0, syn(40002, seq=90_000))
    first, cookie = segments(st)
    match(cookie, flags=SYN | ACK, ack=90_001, dport=40002, mss=1460)
    assert st.connections == 1 and st.stats["cookies_sent"] == 1


def test_listen_cookie_ack_establishes_a_connection():
    # RFC 4987 3.6: the ACK carrying cookie + 1 rebuilds the connection, ESTABLISHED, with the
    # MSS the cookie encodes.
    st, lst = listener(backlog=1)
    st.input(T0, syn(40001))
    st.input(T0, syn(40002, seq=90_000, mss=1400))
    cookie = segments(st)[1].seq
    st.input(T0 + 100, ack(40002, 90_001, cookie + 1, payload=b"GET /"))
    acked = one(segments(st), flags=ACK, ack=90_001 + 5)
    assert acked.seq == cookie + 1
    conn = lst.accept()                             # the first connection never completed
    assert conn.remote == (PEER, 40002) and conn.state == State.ESTABLISHED
    assert conn.mss == 1400 and conn.recv() == b"GET /"
    assert st.stats["cookies_accepted"] == 1
    st.check()


def test_listen_cookie_keeps_options_in_the_timestamp():
    # RFC 4987 3.6 leaves the options to the implementation: window scale and SACK-permitted
    # travel in the low bits of our TSval and come back in the peer's TSecr.
    st, lst = listener(TcpConfig(rcvbuf=256 * 1024), backlog=1)
    st.input(T0, syn(40001))
    st.input(T0, syn(40002, seq=90_000, wscale=7, sack_permitted=True, timestamp=(5000, 0)))
    c = segments(st)[1]
    assert c.wscale == 3 and c.sack_permitted and c.timestamp[1] == 5000
    st.input(T0 + 100, ack(40002, 90_001, c.seq + 1, timestamp=(5001, c.timestamp[0])))
    conn = lst.accept()
    assert conn.options == {"wscale", "timestamps", "sack"} and conn.snd_wscale == 7


def test_listen_cookie_without_timestamps_offers_no_scaling():
    # RFC 7323 2.2 / RFC 4987 3.6: without timestamps there is nowhere to keep the peer's
    # shift, and a SYN-ACK must not offer scaling it cannot honour: no window scale, no SACK.
    st, lst = listener(TcpConfig(rcvbuf=256 * 1024), backlog=1)
    st.input(T0, syn(40001))
    st.input(T0, syn(40002, seq=90_000, wscale=7, sack_permitted=True))
    c = segments(st)[1]
    assert c.wscale is None and not c.sack_permitted and c.timestamp is None


def test_listen_forged_cookie_is_reset():
    # RFC 4987 3.6: a cookie that does not check (wrong hash) is refused.
    st, lst = listener(backlog=1)
    st.input(T0, syn(40001))
    st.input(T0, syn(40002, seq=90_000))
    cookie = segments(st)[1].seq
    st.input(T0 + 100, ack(40002, 90_001, (cookie ^ 0x10) + 1))
    one(segments(st), flags=RST)
    assert st.stats["cookies_rejected"] == 1


def test_listen_old_cookie_is_reset():
    # RFC 4987 3.6: cookies expire (here after two 64 s periods).
    st, lst = listener(backlog=1)
    st.input(T0, syn(40001))
    st.input(T0, syn(40002, seq=90_000))
    cookie = segments(st)[1].seq
    st.input(T0 + 200_000_000, ack(40002, 90_001, cookie + 1))
    one(segments(st), flags=RST)


def test_listen_full_accept_queue_drops_the_final_ack():
    # RFC 9293 3.10.7.2 with a bounded accept queue (RFC 4987 2.2): at its bound the
    # handshake's ACK is dropped; the SYN-ACK is retransmitted (RFC 6298), and once the
    # application accepts, the peer's next ACK gets in.
    st, lst = listener(backlog=1)
    st.input(T0, syn(40001))
    iss1 = segments(st)[0].seq
    st.input(T0, ack(40001, R, iss1 + 1))
    assert lst.pending == (0, 1)
    st.input(T0, syn(40002))
    nothing(segments(st))                           # queue full: not even a cookie
    assert st.stats["syn_dropped"] == 1
    assert lst.accept() is not None
    st.input(T0 + 10, syn(40002))
    iss2 = segments(st)[0].seq
    st.input(T0 + 10, ack(40001 + 1, R, iss2 + 1))
    assert lst.pending == (0, 1)
    st.check()


def test_listen_close_resets_unaccepted_connections():
    # RFC 9293 3.10.4 CLOSE in LISTEN, and 3.10.5 ABORT for what nobody accepted: their
    # connections are reset (as close(2) on a listening socket does).
    st, lst = listener()
    st.input(T0, syn(40001))
    iss = segments(st)[0].seq
    st.input(T0, ack(40001, R, iss + 1))
    lst.close(T0 + 5)
    one(segments(st), flags=RST, seq=iss + 1)
    assert st.connections == 0
    st.check()


def test_listen_twice_on_a_port_is_a_config_error():
    # RFC 9293 3.10.1 OPEN: a second passive OPEN of the same local socket is refused.
    st, lst = listener()
    with pytest.raises(ConfigError, match="already listened"):
        st.listen(PORT)


def test_listen_syn_flood_stays_bounded_and_service_continues():
    # RFC 4987 3.6: under a flood of SYNs from 10,000 ports the listener keeps at most its
    # backlog of half-open connections and answers the rest with cookies; a real client that
    # completes the handshake through a cookie still gets its connection.
    st, lst = listener(backlog=16)
    out = []
    for port in range(20000, 30000):
        st.input(T0, syn(port, seq=port * 7))
        if port % 1000 == 999:
            out += segments(st)                     # drain the (bounded) transmit queue
    assert len(out) == 10_000 and all(s.flags == SYN | ACK for s in out)
    assert st.connections == 16 and lst.pending == (16, 0)
    assert st.stats["cookies_sent"] == 10_000 - 16
    cookie = next(s for s in out if s.dport == 29999).seq
    st.input(T0 + 1000, ack(29999, 29999 * 7 + 1, cookie + 1))
    conn = lst.accept()
    assert conn is not None and conn.remote == (PEER, 29999)
    st.check()
