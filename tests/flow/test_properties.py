"""Properties over random packet sequences (hypothesis): whatever arrives, in whatever order,
the table keeps its invariants and every tracked packet is counted in exactly one record."""
import numpy as np
from hypothesis import given, settings, strategies as st

from fastpath.flow import CONN_DTYPE, FlowTable
from flowpkt import T0, batch, packet

HOSTS = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "2001:db8::1", "2001:db8::2"]

segment = st.tuples(
    st.integers(0, 4), st.integers(0, 4),            # src, dst host
    st.sampled_from([80, 443, 40000, 40001]), st.sampled_from([80, 443, 40000, 40001]),
    st.sampled_from([6, 6, 6, 17, 1, 58, 47]),       # mostly TCP
    st.integers(0, 0x3F),                            # any TCP flag combination
    st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
    st.integers(0, 2000),                            # payload
    st.integers(0, 65535),                           # window
    st.integers(0, 400 * 10**9),                     # time step: up to 400 s
)


def build(segs):
    recs, t = [], T0
    for s, d, sp, dp, proto, flags, seq, ack, pay, win, dt in segs:
        t += dt
        src, dst = HOSTS[s], HOSTS[d]
        if (":" in src) != (":" in dst):
            dst = HOSTS[3] if ":" in src else HOSTS[0]
        if proto == 1 and ":" in src:
            proto = 58
        if proto == 58 and ":" not in src:
            proto = 1
        recs.append(packet(t, src, sp, dst, dp, proto, flags=flags, seq=seq, ack=ack,
                           payload=pay, win=win, icmp_type=flags % 20))
    return batch(*recs)


@settings(max_examples=200, deadline=None)
@given(st.lists(segment, min_size=1, max_size=60), st.integers(1, 8), st.booleans())
def test_every_tracked_packet_lands_in_one_record(segs, capacity, loose):
    pkts = build(segs)
    table = FlowTable(capacity, loose=loose, seed=5)
    v = np.zeros(len(pkts), np.uint8)
    out = [table.track(pkts, verdicts=v)]
    assert len(table) <= capacity
    out.append(table.flush())
    recs = np.concatenate(out)
    assert recs.dtype == CONN_DTYPE and len(table) == 0
    tracked = int((v != 4).sum())
    assert int(recs["orig_pkts"].sum() + recs["resp_pkts"].sum()) == tracked
    assert (recs["ts_ns"] <= recs["last_ts_ns"]).all()
    st_ = table.stats()
    assert st_["inserts"] == st_["removed"]
    assert sum(st_["verdicts"].values()) == len(pkts)


@settings(max_examples=100, deadline=None)
@given(st.lists(segment, min_size=1, max_size=40))
def test_batch_boundaries_do_not_change_the_result(segs):
    # Tracking a sequence in one batch or packet by packet gives the same records.
    pkts = build(segs)
    a = FlowTable(64, seed=9)
    one = np.concatenate([a.track(pkts), a.flush()])
    b = FlowTable(64, seed=9)
    parts = [b.track(pkts[i:i + 1]) for i in range(len(pkts))] + [b.flush()]
    many = np.concatenate(parts)
    key = lambda r: (int(r["ts_ns"]), bytes(r["orig_addr"]), int(r["orig_port"]),
                     bytes(r["resp_addr"]), int(r["resp_port"]), int(r["proto"]))
    assert sorted(map(key, one)) == sorted(map(key, many))
    by = {key(r): r for r in one}
    for r in many:
        o = by[key(r)]
        for f in ("orig_pkts", "resp_pkts", "history", "conn_state", "orig_bytes", "resp_bytes"):
            assert o[f] == r[f], f
