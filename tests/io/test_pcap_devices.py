"""Capture files as devices: replay real captures (pcap, pcapng, gzip) frame for frame, fail on
broken files only after their good frames, loop, pace by timestamps; record what is sent."""
import gzip
import shutil

import pytest

from support import captures_dir
from fastpath.errors import CaptureError, ConfigError
from fastpath.io import FaultInjector, PcapRecordDevice, PcapReplayDevice


def replay_all(dev, max_frames=None):
    frames, ts = [], []
    while True:
        with dev.recv(max_frames=max_frames) as b:
            if not b:
                return frames, ts
            frames += b.frames()
            ts += list(b.timestamps)


def reference(path):
    from fastpath.capture import open_capture
    with open_capture(str(path)) as r:
        buf, index = r.read_all()
    mv = memoryview(buf)
    return ([bytes(mv[int(o):int(o) + int(c)]) for o, c in zip(index["data_off"], index["caplen"])],
            list(index["ts_ns"]))


@pytest.mark.parametrize("name", ["zeek/wikipedia.pcap", "zeek/arp-who-has.pcap"])
def test_replay_gives_every_frame_of_a_real_capture(name):
    path = captures_dir() / name
    with PcapReplayDevice(str(path), max_burst=50) as dev:
        frames, ts = replay_all(dev)
        ref_frames, ref_ts = reference(path)
        assert frames == ref_frames and ts == ref_ts
        assert dev.eof and dev.stats()["rx_packets"] == len(ref_frames)
        assert dev.capabilities.rx_timestamps == "capture"


def test_replay_of_pcapng_and_gzip(tmp_path):
    pcapngs = sorted(captures_dir().rglob("*.pcapng"))
    if not pcapngs:
        pytest.skip("no pcapng capture in the corpus")
    ng = pcapngs[0]
    with PcapReplayDevice(str(ng)) as dev:
        assert replay_all(dev)[0] == reference(ng)[0]
    src = captures_dir() / "zeek/wikipedia.pcap"
    gz = tmp_path / "w.pcap.gz"
    with open(src, "rb") as f, gzip.open(gz, "wb") as g:
        shutil.copyfileobj(f, g)
    with PcapReplayDevice(str(gz)) as dev:
        assert replay_all(dev)[0] == reference(src)[0]


def test_replay_bursts_parse_directly():
    from fastpath.wire.parse import parse_frames
    n = 0
    with PcapReplayDevice(str(captures_dir() / "zeek/wikipedia.pcap"), max_burst=64) as dev:
        with dev.recv() as b:
            recs = parse_frames(b.buffer, b.index)
            n = len(recs)
            assert (recs["error"] == 0).all()
            assert (recs["caplen"] == b.index["caplen"]).all()
    assert n == 64


def test_a_broken_capture_yields_its_good_frames_then_the_error(tmp_path):
    from fastpath.capture import PcapWriter
    path = tmp_path / "cut.pcap"
    with PcapWriter(str(path)) as w:
        for i in range(10):
            w.write(bytes([i]) * 100, 1_000_000_000 * i)
    data = path.read_bytes()
    path.write_bytes(data[:-30])                 # the last record is cut short
    got = []
    with PcapReplayDevice(str(path)) as dev, pytest.raises(CaptureError) as e:
        while True:
            with dev.recv() as b:
                if not b:
                    break
                got += b.frames()
    assert got == [bytes([i]) * 100 for i in range(9)]
    assert e.value.record == 10


def test_replay_loops():
    path = captures_dir() / "zeek/arp-who-has.pcap"
    ref = reference(path)[0]
    got = []
    with PcapReplayDevice(str(path), loop=True) as dev:
        while len(got) < 3 * len(ref):
            with dev.recv() as b:
                got += b.frames()
        assert got[:3 * len(ref)] == ref * 3
        assert dev.stats()["loops"] >= 2


def test_replay_paces_by_capture_time(tmp_path):
    from fastpath.capture import PcapWriter
    path = tmp_path / "paced.pcap"
    with PcapWriter(str(path), nanosecond=True) as w:
        for i in range(5):
            w.write(bytes(60), 1_000_000_000 + i * 100_000_000)     # 100 ms apart
    frames = []
    with PcapReplayDevice(str(path), speed=10.0) as dev:                # 10 ms apart
        while len(frames) < 5:
            with dev.recv(timeout=1.0) as b:
                frames += list(b.timestamps)
    # Pacing holds frames back: never more than are due are handed out at once.
    with PcapReplayDevice(str(path), speed=1.0) as dev2:
        with dev2.recv(timeout=0) as b:
            assert len(b) == 1                  # the first is due at once, the next in 100 ms
        with dev2.recv(timeout=0) as b:
            assert len(b) == 0
        with dev2.recv(timeout=1.0) as b:
            assert len(b) == 1
    with pytest.raises(ConfigError, match="speed"):
        PcapReplayDevice(str(path), speed=0)


def test_replay_through_a_fault_injector():
    path = captures_dir() / "zeek/wikipedia.pcap"
    ref = reference(path)[0]
    got = []
    with FaultInjector(PcapReplayDevice(str(path), max_burst=32), drop=0.5, seed=7) as dev:
        for _ in range(100):
            with dev.recv() as b:
                got += b.frames()
        assert 0 < len(got) < len(ref)
        assert len(got) == len(ref) - dev.stats()["fault_rx_dropped"]
    it = iter(ref)
    assert all(any(g == r for r in it) for g in got)      # a subsequence, in order


def test_record_writes_what_is_sent(tmp_path):
    path = tmp_path / "out.pcapng"
    frames = [bytes([i]) * (60 + i) for i in range(5)]
    with PcapRecordDevice(str(path), format="pcapng") as dev:
        assert dev.send_frames(frames, ts_ns=123) == 5
        assert dev.capabilities.can_recv is False
        with dev.recv() as b:
            assert len(b) == 0
    got, ts = reference(path)
    assert got == frames and ts == [123] * 5
    with pytest.raises(ConfigError, match="format"):
        PcapRecordDevice(str(tmp_path / "x"), format="csv")


def open_fds():
    """This process's open file descriptors (Linux), or None where /proc does not list them.
    Collects garbage first, so that what earlier tests left to the collector is not counted."""
    import gc
    import os
    gc.collect()
    return set(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None


def test_a_device_dropped_without_close_releases_its_files_and_says_so(tmp_path):
    import gc
    before = open_fds()
    dev = PcapReplayDevice(str(captures_dir() / "zeek/wikipedia.pcap"))
    assert before is None or len(open_fds()) > len(before)
    with pytest.warns(ResourceWarning, match="unclosed device <PcapReplayDevice"):
        del dev
        gc.collect()
    assert before is None or open_fds() == before
    # A recording device dropped the same way still writes out everything it was sent.
    frames = [bytes([i]) * 64 for i in range(7)]
    rec = PcapRecordDevice(str(tmp_path / "dropped.pcap"))
    assert rec.send_frames(frames, ts_ns=5) == 7
    with pytest.warns(ResourceWarning, match="unclosed device <PcapRecordDevice"):
        del rec
        gc.collect()
    assert reference(tmp_path / "dropped.pcap") == (frames, [5] * 7)


def test_a_device_that_fails_to_open_leaves_nothing_open(tmp_path):
    import gc
    import warnings
    before = open_fds()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(ConfigError, match="max_burst"):
            PcapReplayDevice(str(captures_dir() / "zeek/wikipedia.pcap"), max_burst=0)
        with pytest.raises(ConfigError, match="max_burst"):
            PcapRecordDevice(str(tmp_path / "never.pcap"), max_burst=0)
        gc.collect()
    assert [w for w in seen if issubclass(w.category, ResourceWarning)] == []
    assert before is None or open_fds() == before
