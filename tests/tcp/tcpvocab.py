"""A test vocabulary for the TCP state machine, in the style of smoltcp's socket tests.

Build a connection directly in a state (``established()``, ``fin_wait_1()``, ...), ``send`` it
a segment as the peer would, and check what comes back with ``one(...)`` / ``nothing(...)``
and the connection's variables. Sequence numbers are fixed: we start at LOCAL_ISS, the peer at
REMOTE_ISS, so after the handshake our next octet is L and the peer's is R.
"""
from fastpath.tcp import (TcpConfig, TcpConnection, Segment, State, SYN, ACK, FIN, RST, PSH)

LOCAL = ("192.168.1.1", 49500)
REMOTE = ("192.168.1.2", 80)
LOCAL_ISS = 10_000
REMOTE_ISS = 50_000
L = LOCAL_ISS + 1           # our first data octet
R = REMOTE_ISS + 1          # the peer's first data octet
T0 = 1_000_000              # the builders leave the clock here (microseconds)
RTT = 10_000                # the handshake of the builders takes this long: SRTT 10 ms, RTO 200 ms
MSS = 1460

# No options, no delayed ACK, NewReno: every reply is predictable. Tests that need an option
# turn it on with config(...).
BASE = TcpConfig(timestamps=False, sack=False, window_scaling=False, sndbuf=65535,
                 rcvbuf=32768, delack_us=0, rto_initial_us=1_000_000, rto_min_us=200_000,
                 congestion_control="newreno", initial_window=10)


def config(**changes):
    return BASE.replace(**changes)


def seg(seq, ack=None, flags=None, window=65535, payload=b"", **options):
    """A segment from the peer. ``flags`` defaults to ACK when ``ack`` is given."""
    if flags is None:
        flags = ACK if ack is not None else 0
    return Segment(seq=seq, ack=ack or 0, flags=flags, window=window, payload=payload,
                   sport=REMOTE[1], dport=LOCAL[1], **options)


def send(conn, segment, now=T0):
    """The peer's segment arrives; returns our replies."""
    return conn.process(now, segment)


def recv(conn, now=T0):
    """Run due timers and output; returns what we send."""
    return conn.dispatch(now)


def one(replies, **expected):
    """Exactly one reply, whose fields equal ``expected`` (flags compared exactly)."""
    assert len(replies) == 1, f"expected one segment, got {replies}"
    return match(replies[0], **expected)


def match(s, **expected):
    for k, v in expected.items():
        got = getattr(s, k)
        assert got == v, f"{k}: expected {v!r}, got {got!r} in {s}"
    return s


def nothing(replies):
    assert replies == [], f"expected no segment, got {replies}"


# ------------------------------------------------------------------ builders by state

def syn_sent(cfg=None, now=0):
    conn = TcpConnection(LOCAL, REMOTE, cfg or BASE)
    out = conn.connect(now, iss=LOCAL_ISS, ts_offset=0)
    one(out, flags=SYN, seq=LOCAL_ISS)
    assert conn.state == State.SYN_SENT
    return conn


def established(cfg=None, window=65535, now=T0, **synack_options):
    """Active open completed at ``now``: SND.UNA = SND.NXT = L, RCV.NXT = R."""
    conn = syn_sent(cfg, now=now - RTT)
    synack_options.setdefault("mss", MSS)
    out = send(conn, seg(REMOTE_ISS, L, SYN | ACK, window=window, **synack_options), now=now)
    one(out, flags=ACK, seq=L, ack=R)
    assert conn.state == State.ESTABLISHED
    return conn


def syn_received(cfg=None, now=0, **syn_options):
    """Passive open: the peer's SYN arrived, our SYN-ACK went out."""
    syn_options.setdefault("mss", MSS)
    conn = TcpConnection.accept(seg(REMOTE_ISS, flags=SYN, **syn_options), now, LOCAL, REMOTE,
                                cfg or BASE, iss=LOCAL_ISS)
    one(recv(conn, now), flags=SYN | ACK, seq=LOCAL_ISS, ack=R)
    assert conn.state == State.SYN_RECEIVED
    return conn


def established_passive(cfg=None, now=T0, window=65535, **syn_options):
    conn = syn_received(cfg, now=now - RTT, **syn_options)
    nothing(send(conn, seg(R, L, window=window), now=now))
    assert conn.state == State.ESTABLISHED
    return conn


def fin_wait_1(cfg=None, now=T0):
    """Established, then we shut down: our FIN (seq L) is out, unacknowledged."""
    conn = established(cfg, now=now)
    conn.shutdown()
    one(recv(conn, now), flags=FIN | ACK, seq=L, ack=R)
    assert conn.state == State.FIN_WAIT_1
    return conn


def fin_wait_2(cfg=None, now=T0):
    conn = fin_wait_1(cfg, now)
    nothing(send(conn, seg(R, L + 1), now=now))
    assert conn.state == State.FIN_WAIT_2
    return conn


def close_wait(cfg=None, now=T0):
    """Established, then the peer's FIN (seq R) arrived and was acknowledged."""
    conn = established(cfg, now=now)
    one(send(conn, seg(R, L, ACK | FIN), now=now), flags=ACK, seq=L, ack=R + 1)
    assert conn.state == State.CLOSE_WAIT
    return conn


def last_ack(cfg=None, now=T0):
    conn = close_wait(cfg, now)
    conn.shutdown()
    one(recv(conn, now), flags=FIN | ACK, seq=L, ack=R + 1)
    assert conn.state == State.LAST_ACK
    return conn


def closing(cfg=None, now=T0):
    """Simultaneous close: our FIN is out, the peer's FIN arrives without acknowledging it."""
    conn = fin_wait_1(cfg, now)
    one(send(conn, seg(R, L, ACK | FIN), now=now), flags=ACK, seq=L + 1, ack=R + 1)
    assert conn.state == State.CLOSING
    return conn


def time_wait(cfg=None, now=T0):
    conn = fin_wait_2(cfg, now)
    one(send(conn, seg(R, L + 1, ACK | FIN), now=now), flags=ACK, seq=L + 1, ack=R + 1)
    assert conn.state == State.TIME_WAIT
    return conn


def data(n, start=0):
    """n bytes with a recognisable pattern."""
    return bytes((start + i) * 7 % 251 for i in range(n))


def pair(cfg=None, now=T0):
    """Two connections that did a real handshake with each other: a (active, ISS LOCAL_ISS)
    and b (passive, ISS REMOTE_ISS). Segments go between them with ``exchange``."""
    a = TcpConnection(LOCAL, REMOTE, cfg or BASE)
    syn = one(a.connect(now, iss=LOCAL_ISS, ts_offset=0), flags=SYN)
    b = TcpConnection.accept(syn, now, REMOTE, LOCAL, cfg or BASE, iss=REMOTE_ISS, ts_offset=0)
    exchange(a, b, [("a", s) for s in b.dispatch(now)], now)
    assert a.state == State.ESTABLISHED and b.state == State.ESTABLISHED
    return a, b


def exchange(a, b, queue, now=T0, drop=lambda to, s: False):
    """Deliver [(to, segment)] and every reply until nothing is left; returns what was
    delivered as [(to, segment)]. ``drop(to, s)`` may discard segments on the way."""
    delivered = []
    queue = list(queue)
    while queue:
        to, s = queue.pop(0)
        if drop(to, s):
            continue
        delivered.append((to, s))
        target, other = (a, "b") if to == "a" else (b, "a")
        queue += [(other, r) for r in target.process(now, s)]
    return delivered


# ------------------------------------------------------------------ frames (stack tests)

def to_frame(src, dst, s):
    """A raw IP packet carrying Segment s, every checksum right (the wire layer's builder)."""
    from fastpath.wire.build import tcp_packet
    return tcp_packet(src, dst, s.sport, s.dport, seq=s.seq & 0xFFFFFFFF,
                      ack=s.ack & 0xFFFFFFFF, flags=s.flags, window=s.window, payload=s.payload,
                      mss=s.mss, wscale=s.wscale, sack_permitted=s.sack_permitted,
                      timestamp=s.timestamp, sack=s.sack)


def from_frame(frame):
    """(src, dst, Segment) of a raw IP packet; raises if a checksum is wrong."""
    import ipaddress
    from fastpath.wire.ipv4 import Ipv4Repr
    from fastpath.wire.ipv6 import Ipv6Repr
    from fastpath.wire.tcp import TcpRepr
    from fastpath.wire.checksum import pseudo_header_sum
    if frame[0] >> 4 == 4:
        ip = Ipv4Repr.parse(frame)                  # verifies the header checksum
        tcp = bytes(frame[ip.header_len:ip.header_len + ip.payload_len])
        src, dst = ip.src, ip.dst
        pseudo = pseudo_header_sum(src.packed, dst.packed, 6, len(tcp))
    else:
        ip = Ipv6Repr.parse(frame)
        tcp = bytes(frame[ip.upper_offset:40 + ip.payload_len])
        src, dst = ip.src, ip.dst
        pseudo = pseudo_header_sum(src.packed, dst.packed, 6, len(tcp))
    t = TcpRepr.parse(tcp, pseudo)                  # verifies the TCP checksum
    s = Segment(seq=t.seq, ack=t.ack, flags=t.flags, window=t.window,
                payload=tcp[t.header_len:], mss=t.mss, wscale=t.wscale,
                sack_permitted=t.sack_permitted, timestamp=t.timestamp, sack=t.sack,
                sport=t.sport, dport=t.dport)
    return str(src), str(dst), s


def segments(stack):
    """The segments a TcpStack sent since the last call (decoded, checksums verified)."""
    return [from_frame(f)[2] for f in stack.transmit()]


def pump(a, b, now=T0, rounds=1000):
    """Move frames between two stacks until both are quiet; returns the number moved."""
    moved = 0
    for _ in range(rounds):
        fa, fb = a.transmit(), b.transmit()
        if not fa and not fb:
            return moved
        for f in fa:
            b.input(now, f)
        for f in fb:
            a.input(now, f)
        moved += len(fa) + len(fb)
    raise AssertionError("the stacks never went quiet")
