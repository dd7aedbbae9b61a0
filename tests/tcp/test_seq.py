"""Sequence-number arithmetic modulo 2^32 (RFC 9293 3.4), in isolation and mid-transfer."""
import pytest

from fastpath.tcp import seq
from tcpvocab import *

TOP = 0xFFFFFFFF


def test_compare_across_wrap():
    # RFC 9293 3.4: comparisons are modulo 2^32; 0 follows 2^32 - 1.
    assert seq.lt(TOP, 0)
    assert seq.gt(0, TOP)
    assert seq.le(TOP - 10, 5)
    assert seq.ge(5, TOP - 10)
    assert not seq.lt(5, TOP - 10)


def test_diff_is_signed_distance():
    # RFC 9293 3.4: distances are taken modulo 2^32 and read as signed.
    assert seq.diff(1, TOP) == 2
    assert seq.diff(TOP, 1) == -2
    assert seq.diff(0x8000_0000 - 1, 0) == 0x7FFF_FFFF


def test_window_membership_across_wrap():
    # RFC 9293 3.3 / 3.10.7.4: RCV.NXT =< SEG.SEQ < RCV.NXT + RCV.WND, with the window spanning 0.
    assert seq.within(2, TOP - 5, 10)
    assert seq.within(TOP, TOP - 5, 10)
    assert not seq.within(10, TOP - 5, 10)
    assert not seq.within(TOP - 6, TOP - 5, 10)


def test_transfer_across_the_wrap_in_both_directions():
    # RFC 9293 3.4: a connection whose sequence space wraps mid-transfer keeps going.
    from fastpath.tcp import TcpConnection, ACK
    cfg = config()
    a = TcpConnection(LOCAL, REMOTE, cfg)
    b_syn = a.connect(0, iss=TOP - 3000, ts_offset=0)[0]
    b = TcpConnection.accept(b_syn, 0, REMOTE, LOCAL, cfg, iss=TOP - 100)
    q = [("a", s) for s in b.dispatch(0)]
    payload_a, payload_b = data(20000), data(9000, 3)
    a_sent = b_sent = 0
    got_a, got_b = bytearray(), bytearray()
    now = 0
    for _ in range(400):
        now += 1000
        if a.state.name == "ESTABLISHED" and a_sent < len(payload_a):
            a_sent += a.send(payload_a[a_sent:a_sent + 4000])
        if b.state.name == "ESTABLISHED" and b_sent < len(payload_b):
            b_sent += b.send(payload_b[b_sent:b_sent + 4000])
        q += [("b", s) for s in a.dispatch(now)] + [("a", s) for s in b.dispatch(now)]
        while q:
            to, s = q.pop(0)
            q += [("a" if to == "b" else "b", r) for r in (a if to == "a" else b).process(now, s)]
        got_a += a.recv()
        got_b += b.recv()
        a.check()
        b.check()
        if len(got_b) == len(payload_a) and len(got_a) == len(payload_b):
            break
    assert bytes(got_b) == payload_a and bytes(got_a) == payload_b
    # Both sides really crossed 2^32.
    assert a.snd_nxt < 0x1000_0000 and b.snd_nxt < 0x1000_0000
