"""The helpers the wire benchmarks stand on (bench/conftest.py): the capture cache is keyed by
generator version, seed and count; the small pcap walker, head and repeat tools are exact."""
import importlib.util

import numpy as np
import pytest

from fastpath import synth
from support import PROJECT


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("fastpath_bench_helpers", PROJECT / "bench" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_capture_cache_is_keyed_and_reused(bench, tmp_path):
    a = bench.synth_capture(800, seed=3, data_dir=tmp_path)
    assert a.name == f"synth-v{synth.GENERATOR_VERSION}-s3-n800.pcap"
    stamp = a.stat().st_mtime_ns
    assert bench.synth_capture(800, seed=3, data_dir=tmp_path) == a
    assert a.stat().st_mtime_ns == stamp                    # not generated again
    b = bench.synth_capture(800, seed=4, data_dir=tmp_path)
    c = bench.synth_capture(801, seed=3, data_dir=tmp_path)
    assert len({a, b, c}) == 3
    ng = bench.synth_capture(800, seed=3, fmt="pcapng", data_dir=tmp_path)
    assert ng.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"


def test_pcap_index_matches_the_generator(bench, tmp_path):
    path = bench.synth_capture(1500, seed=6, data_dir=tmp_path)
    chunk, _ = synth.generate(1500, seed=6)
    data = np.fromfile(path, dtype=np.uint8)
    idx = bench.pcap_index(data)
    assert len(idx) == 1500
    assert np.array_equal(idx["ts_ns"], chunk.index["ts_ns"])
    assert np.array_equal(idx["caplen"], chunk.index["caplen"])
    for i in (0, 700, 1499):
        o, n = int(idx["data_off"][i]), int(idx["caplen"][i])
        co = int(chunk.index["data_off"][i])
        assert data[o:o + n].tobytes() == chunk.buffer[co:co + n]


def test_pcap_index_refuses_other_formats(bench):
    with pytest.raises(ValueError, match="little-endian pcap"):
        bench.pcap_index(b"\x0a\x0d\x0d\x0a" + bytes(40))


def test_pcap_head_and_repeat(bench, tmp_path):
    path = bench.synth_capture(1000, seed=2, data_dir=tmp_path)
    whole = bench.pcap_index(path.read_bytes())
    head = bench.pcap_head(path, 250, data_dir=tmp_path)
    hidx = bench.pcap_index(head.read_bytes())
    assert len(hidx) == 250
    assert np.array_equal(hidx[["ts_ns", "caplen", "data_off"]], whole[:250][["ts_ns", "caplen", "data_off"]])
    rep = bench.pcap_repeat(path, 3, data_dir=tmp_path)
    data = rep.read_bytes()
    ridx = bench.pcap_index(data)
    assert len(ridx) == 3000
    assert (np.diff(ridx["ts_ns"]) >= 0).all()               # copies are shifted forward in time
    src = path.read_bytes()
    assert data[24:] == src[24:] or data[24:len(src)] == src[24:]
    for k in range(3):      # each copy carries the same frames
        i = k * 1000 + 517
        o, n = int(ridx["data_off"][i]), int(ridx["caplen"][i])
        so = int(whole["data_off"][517])
        assert data[o:o + n] == src[so:so + n]


def test_paired_ratio_alternates_and_reports_the_median(bench):
    calls = []
    ratio, ratios = bench.paired_ratio(lambda: calls.append("a"), lambda: calls.append("b"), rounds=4)
    assert calls == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert len(ratios) == 4 and ratios == sorted(ratios) and ratio == ratios[2]
