"""Whatever a peer sends, in any state, the core neither crashes nor leaves an inconsistent
control block (property-based: hypothesis draws segment sequences near the window edges)."""
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

from tcpvocab import *

BUILDERS = {
    "syn_sent": lambda cfg: syn_sent(cfg, now=T0 - RTT),
    "syn_received": lambda cfg: syn_received(cfg, now=T0 - RTT),
    "established": established,
    "fin_wait_1": fin_wait_1,
    "fin_wait_2": fin_wait_2,
    "close_wait": close_wait,
    "closing": closing,
    "last_ack": last_ack,
    "time_wait": time_wait,
}
CFGS = [config(), config(sack=True, timestamps=True, window_scaling=True, rcvbuf=100_000),
        config(delack_us=40_000, congestion_control="cubic")]

near = lambda base: st.integers(-70_000, 70_000).map(lambda d: (base + d) & 0xFFFFFFFF)
segments = st.builds(
    lambda seq, ack, flags, window, n, mss, ws, ts, sack: seg(
        seq, ack, flags, window=window, payload=b"f" * n, mss=mss, wscale=ws, timestamp=ts,
        sack=tuple((l, (l + w) & 0xFFFFFFFF) for l, w in sack)),
    near(R), near(L), st.integers(0, 0x1FF), st.integers(0, 65535), st.integers(0, 3000),
    st.none() | st.integers(0, 65535), st.none() | st.integers(0, 30),
    st.none() | st.tuples(st.integers(0, 2 ** 32 - 1), st.integers(0, 2 ** 32 - 1)),
    st.lists(st.tuples(near(L), st.integers(1, 5000)), max_size=4))
actions = st.lists(st.one_of(
    st.tuples(st.just("seg"), segments),
    st.tuples(st.just("time"), st.integers(1, 3_000_000)),
    st.tuples(st.just("send"), st.integers(1, 20_000)),
    st.tuples(st.just("recv"), st.integers(1, 20_000)),
    st.tuples(st.just("shutdown"), st.just(0)),
), max_size=40)


@pytest.mark.parametrize("state", list(BUILDERS))
@settings(max_examples=int(__import__("os").environ.get("FASTPATH_FUZZ_EXAMPLES", 60)), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=st.sampled_from(CFGS), script=actions)
def test_fuzz_any_input_keeps_the_control_block_consistent(state, cfg, script):
    conn = BUILDERS[state](cfg)
    now = T0
    for kind, arg in script:
        try:
            if kind == "seg":
                out = conn.process(now, arg)
            elif kind == "time":
                now += arg
                out = conn.dispatch(now)
            elif kind == "send":
                conn.send(b"s" * arg)
                out = conn.dispatch(now)
            elif kind == "recv":
                conn.recv(arg)
                out = conn.dispatch(now)
            else:
                conn.shutdown()
                out = conn.dispatch(now)
        except (ConnectionError, OSError) as e:
            # Only the documented errors, with their messages.
            assert str(e)
            out = []
        conn.check()
        for s in out:
            assert 0 <= len(s.payload) <= 1460 and 0 <= s.window <= 65535
            assert not (s.flags & RST and s.payload)


@settings(max_examples=int(__import__("os").environ.get("FASTPATH_FUZZ_EXAMPLES", 60)),
          deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=st.lists(st.tuples(
    st.sampled_from([80, 81, 5000]), st.integers(1, 65535), st.integers(0, 2 ** 32 - 1),
    st.integers(0, 2 ** 32 - 1), st.integers(0, 0x1FF), st.integers(0, 200),
    st.booleans()), max_size=40))
def test_fuzz_stack_survives_well_formed_but_arbitrary_segments(frames):
    # Valid checksums, arbitrary headers, against a listener (80, cookies on, backlog 2) and
    # an open connection: the table, heap and queues stay consistent.
    from fastpath.tcp import TcpStack
    host, peer = "10.6.0.1", "10.6.0.2"
    st_ = TcpStack(host, config(syncookies=True), seed=1)
    other = TcpStack(peer, BASE, seed=2)
    st_.listen(80, backlog=2)
    c = other.connect(T0, (host, 80))
    pump(st_, other)
    now = T0
    for dport, sport, seq, ack, flags, n, opts in frames:
        s = Segment(seq=seq, ack=ack, flags=flags, window=1000, payload=b"p" * n, sport=sport,
                    dport=dport, mss=536 if opts else None, timestamp=(seq, ack) if opts else None)
        st_.input(now, to_frame(peer, host, s))
        now += 50_000
        st_.poll(now)
        st_.transmit()
        st_.check()
