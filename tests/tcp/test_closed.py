"""CLOSED: a segment for which no connection or listener exists (RFC 9293 3.10.7.1), through
a TcpStack on real IPv4 frames."""
import pytest

from fastpath.errors import ConnectionRefused
from fastpath.tcp import TcpStack
from tcpvocab import *

HOST, PEER = "10.1.0.1", "10.1.0.2"


def closed_port_reply(s):
    st = TcpStack(HOST, BASE, seed=1)
    st.input(T0, to_frame(PEER, HOST, s))
    return st, segments(st)


def test_closed_syn_gets_rst_ack():
    # RFC 9293 3.10.7.1: no ACK bit: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; SYN counts 1.
    st, out = closed_port_reply(Segment(seq=700, flags=SYN, sport=4000, dport=81))
    one(out, flags=RST | ACK, seq=0, ack=701, sport=81, dport=4000)
    assert st.stats["rx_no_socket"] == 1 and st.stats["rst_sent"] == 1


def test_closed_ack_gets_rst_at_its_ack():
    # RFC 9293 3.10.7.1: ACK bit on: <SEQ=SEG.ACK><CTL=RST>.
    _, out = closed_port_reply(Segment(seq=700, ack=9999, flags=ACK, sport=4000, dport=81,
                                       payload=b"abc"))
    one(out, flags=RST, seq=9999)


def test_closed_data_without_ack_counts_its_length():
    # RFC 9293 3.10.7.1: SEG.LEN counts data and FIN.
    _, out = closed_port_reply(Segment(seq=700, flags=FIN | PSH, sport=4000, dport=81,
                                       payload=b"abcd"))
    one(out, flags=RST | ACK, seq=0, ack=705)


def test_closed_rst_is_not_answered():
    # RFC 9293 3.10.7.1: "An incoming segment containing a RST is discarded."
    st, out = closed_port_reply(Segment(seq=700, flags=RST, sport=4000, dport=81))
    nothing(out)
    assert st.stats["rst_sent"] == 0


def test_closed_connect_to_a_closed_port_is_refused():
    # RFC 9293 3.10.7.3: the RST that answers our SYN means "connection refused".
    a, b = TcpStack(HOST, BASE, seed=1), TcpStack(PEER, BASE, seed=2)
    conn = a.connect(0, (PEER, 9))
    pump(a, b)
    assert conn.state == State.CLOSED
    with pytest.raises(ConnectionRefused):
        conn.send(b"hello")
    a.check()
    assert a.connections == 0                       # the 4-tuple is free again
