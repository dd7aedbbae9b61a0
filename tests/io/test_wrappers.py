"""The device wrappers on the in-memory pair: the fault injector's faults (rates, determinism,
what each fault does to frames), the tracer's calls, the recorder's file."""
import math

import numpy as np
import pytest

from fastpath.errors import ConfigError
from fastpath.io import FaultInjector, MemoryDevice, PcapRecorder, Tracer


def numbered(n, size=64):
    return [i.to_bytes(4, "big") + bytes([i & 0xFF]) * (size - 4) for i in range(n)]


def run_through(fi, a, frames, per_call=32):
    """Send frames from a through the injector-wrapped b; return what b's user received."""
    got = []
    for k in range(0, len(frames), per_call):
        assert a.send_frames(frames[k:k + per_call]) == len(frames[k:k + per_call])
        with fi.recv() as b:
            got += b.frames()
    for _ in range(3):                      # frames held back for reordering come out too
        with fi.recv() as b:
            got += b.frames()
    return got


def pair(capacity=8192, **kw):
    a, b = MemoryDevice.pair(capacity=capacity, max_burst=64, **kw)
    return a, b


def test_zero_probabilities_change_nothing():
    a, b = pair()
    fi = FaultInjector(b, seed=3)
    frames = numbered(500)
    assert run_through(fi, a, frames) == frames
    st = fi.stats()
    assert st["fault_rx_seen"] == 500
    assert st["fault_rx_dropped"] == st["fault_rx_duplicated"] == 0
    assert st["fault_rx_reordered"] == st["fault_rx_corrupted"] == 0


@pytest.mark.parametrize("p", [0.05, 0.3])
def test_drop_rate_is_within_binomial_bounds_and_counted(p):
    n = 5000
    a, b = pair()
    fi = FaultInjector(b, drop=p, seed=11)
    got = run_through(fi, a, numbered(n))
    dropped = fi.stats()["fault_rx_dropped"]
    assert len(got) == n - dropped
    assert abs(dropped - n * p) <= 5 * math.sqrt(n * p * (1 - p))
    # Survivors keep their order and content.
    idx = [int.from_bytes(f[:4], "big") for f in got]
    assert idx == sorted(idx)
    assert all(f == numbered(n)[i] for f, i in zip(got, idx))


def test_duplicates_are_exact_copies_next_to_the_original():
    n = 2000
    a, b = pair()
    fi = FaultInjector(b, duplicate=0.2, seed=5)
    got = run_through(fi, a, numbered(n))
    dups = fi.stats()["fault_rx_duplicated"]
    assert len(got) == n + dups
    assert abs(dups - 0.2 * n) <= 5 * math.sqrt(n * 0.2 * 0.8)
    idx = [int.from_bytes(f[:4], "big") for f in got]
    assert sorted(set(idx)) == list(range(n))
    repeated = [i for i in range(1, len(idx)) if idx[i] == idx[i - 1]]
    assert len(repeated) == dups


def test_reordered_frames_arrive_later_and_none_are_lost():
    n = 2000
    a, b = pair()
    fi = FaultInjector(b, reorder=0.1, seed=9)
    got = run_through(fi, a, numbered(n))
    idx = [int.from_bytes(f[:4], "big") for f in got]
    assert sorted(idx) == list(range(n))            # nothing lost, nothing invented
    late = sum(1 for i in range(1, len(idx)) if idx[i] < idx[i - 1])
    assert late > 0
    assert fi.stats()["fault_rx_reordered"] > 0
    assert fi.stats()["fault_rx_pending"] == 0


def test_corruption_flips_one_bit_at_or_after_corrupt_from():
    n = 1000
    frames = numbered(n, 100)
    a, b = pair()
    fi = FaultInjector(b, corrupt=0.5, corrupt_from=14, seed=21)
    got = run_through(fi, a, frames)
    assert len(got) == n
    changed = 0
    for f in got:
        orig = frames[int.from_bytes(f[:4], "big")]          # bytes 0..13 are never touched
        diff = [i for i in range(len(f)) if f[i] != orig[i]]
        if diff:
            changed += 1
            assert len(diff) == 1 and diff[0] >= 14
            assert bin(f[diff[0]] ^ orig[diff[0]]).count("1") == 1
    assert changed == fi.stats()["fault_rx_corrupted"]
    assert abs(changed - 0.5 * n) <= 5 * math.sqrt(n * 0.25)


def test_same_seed_same_faults_different_seed_different_faults():
    def once(seed):
        a, b = pair()
        fi = FaultInjector(b, drop=0.1, duplicate=0.1, reorder=0.1, corrupt=0.1, seed=seed)
        return run_through(fi, a, numbered(1000))
    assert once(1234) == once(1234)
    assert once(1234) != once(4321)


def test_transmit_side_faults():
    a, b = pair()
    fi = FaultInjector(a, drop=1.0, directions=("tx",), seed=1)
    assert fi.send_frames(numbered(10)) == 10
    with b.recv() as got:
        assert len(got) == 0
    assert fi.stats()["fault_tx_dropped"] == 10
    fi2 = FaultInjector(a, duplicate=1.0, directions=("tx",), seed=1)
    fi2.send_frames(numbered(5))
    with b.recv() as got:
        assert got.frames() == [f for f in numbered(5) for _ in (0, 1)]


def test_transmit_reorder_is_flushed():
    a, b = pair()
    fi = FaultInjector(a, reorder=1.0, directions=("tx",), seed=1)
    fi.send_frames(numbered(3))
    with b.recv() as got:
        assert len(got) == 0                        # all held back
    fi.flush()
    with b.recv() as got:
        assert sorted(got.frames()) == sorted(numbered(3))


def test_fault_injector_validates_what_it_is_given():
    a, b = pair()
    with pytest.raises(ConfigError, match="drop is a probability"):
        FaultInjector(b, drop=1.5)
    with pytest.raises(ConfigError, match="directions"):
        FaultInjector(b, directions=("sideways",))
    fi = FaultInjector(a, directions=("tx",))
    idx = np.zeros(1, dtype=__import__("fastpath.wire.record", fromlist=["x"]).FRAME_DTYPE)
    idx["data_off"] = 10
    idx["caplen"] = 64
    with pytest.raises(ConfigError, match="outside"):
        fi.send(bytes(32), idx)


def test_wrappers_compose_and_close_what_they_wrap(tmp_path):
    a, b = pair()
    calls = []
    dev = FaultInjector(PcapRecorder(Tracer(b, lambda d, buf, idx: calls.append((d, len(idx)))),
                                     str(tmp_path / "x.pcapng")), seed=1)
    a.send_frames(numbered(4))
    with dev.recv() as got:
        assert len(got) == 4
    dev.send_frames(numbered(2))
    dev.close()
    assert b.closed
    assert calls == [("rx", 4), ("tx", 2)]
    from fastpath.capture import open_capture
    with open_capture(str(tmp_path / "x.pcapng")) as r:
        buf, index = r.read_all()
    assert list(index["iface"]) == [0, 0, 0, 0, 1, 1]          # received on 0, sent on 1


def test_tracer_default_sink_prints_one_line_per_frame(capsys):
    a, b = pair()
    t = Tracer(b)
    a.send_frames([b"\xff" * 6 + b"\x02" * 6 + b"\x08\x06" + bytes(46)])
    with t.recv():
        pass
    err = capsys.readouterr().err
    assert "mem1 rx 60 bytes 02:02:02:02:02:02 > ff:ff:ff:ff:ff:ff type 0x0806" in err


def test_tracer_tx_buffer_may_be_kept():
    a, b = pair()
    kept = []
    t = Tracer(a, lambda d, buf, idx: kept.append((buf, idx.copy())))
    t.send_frames(numbered(3))
    buf, idx = kept[0]
    mv = memoryview(buf)
    assert [bytes(mv[int(o):int(o) + int(c)]) for o, c in zip(idx["data_off"], idx["caplen"])] \
        == numbered(3)


def test_recorder_pcap_stamps_unstamped_sent_frames(tmp_path):
    a, b = pair()
    r = PcapRecorder(a, str(tmp_path / "tx.pcap"), format="pcap", directions=("tx",))
    r.send_frames(numbered(3))
    r.close()
    from fastpath.capture import open_capture
    with open_capture(str(tmp_path / "tx.pcap")) as rd:
        buf, index = rd.read_all()
    assert len(index) == 3 and (index["ts_ns"] > 0).all()
    mv = memoryview(buf)
    assert [bytes(mv[int(o):int(o) + int(c)]) for o, c in zip(index["data_off"], index["caplen"])] \
        == numbered(3)
