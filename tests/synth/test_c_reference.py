"""The C references the wire benchmarks compare against (bench/c) do the same work as fastpath:
on generated traffic the C parser fills every field of PACKET_DTYPE exactly as fastpath's parser
does (checksum status aside: neither verifies), and the C checksum agrees on any buffer."""
import importlib.util
import os
import shutil

import numpy as np
import pytest

from fastpath import synth
from fastpath.wire.checksum import internet_checksum
from fastpath.wire.parse import parse_frames
from fastpath.wire.record import PACKET_DTYPE
from support import PROJECT

pytestmark = pytest.mark.skipif(shutil.which(os.environ.get("CC", "gcc")) is None,
                                reason="needs gcc on PATH to build the C references (make setup installs it as root)")


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("fastpath_bench_conftest", PROJECT / "bench" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.DATA = tmp_path_factory.mktemp("cref")
    return mod


@pytest.fixture(scope="module")
def capture(bench):
    path = bench.synth_capture(20_000, seed=31, data_dir=bench.DATA)
    data = np.fromfile(path, dtype=np.uint8)
    return path, data, bench.pcap_index(data)


def assert_same(bench, ours, theirs):
    assert not bench.compare_records(ours, theirs)
    # The C record carries every field fastpath fills (else the comparison would be partial).
    assert bench.fields_c_lacks(theirs.dtype) == []


def test_c_sequential_parser_matches_fastpath(bench, capture):
    path, data, index = capture
    c = bench.CParseRef(bench.compile_c("parse_ref", data_dir=bench.DATA))
    theirs = c.parse(path, len(index) + 10)
    assert c.parse_count(path) == len(index) == 20_000
    assert_same(bench, parse_frames(data, index), theirs)


def test_c_ring_parser_matches_fastpath(bench, capture):
    _, data, index = capture
    c = bench.CRingRef(bench.compile_c("parse_ring_ref", data_dir=bench.DATA))
    out = c.parse(data, index, c.records(len(index)))
    assert_same(bench, parse_frames(data, index), out)


def test_c_ring_parser_flags_frames_outside_the_buffer(bench, capture):
    _, data, index = capture
    c = bench.CRingRef(bench.compile_c("parse_ring_ref", data_dir=bench.DATA))
    idx = index[:3].copy()
    idx["data_off"][1] = len(data) - 10
    out = c.parse(data, idx, c.records(3))
    assert list(out["error"]) == [0, 8, 0]                 # ERR_BAD_FRAME


def test_c_checksum_matches_fastpath(bench):
    c = bench.CCsumRef(bench.compile_c("csum_ref", data_dir=bench.DATA))
    rng = np.random.default_rng(5)
    for n in list(range(0, 130)) + [1499, 1500, 1501, 9000]:
        buf = rng.integers(0, 256, size=n, dtype=np.uint8).tobytes()
        assert c.csum(buf) == internet_checksum(buf), n
    data = rng.integers(0, 256, size=64 * 1500, dtype=np.uint8)
    offs = np.arange(64, dtype=np.int64) * 1500
    lens = np.full(64, 1500, dtype=np.int64) - np.arange(64)
    out = c.batch(data, offs, lens, np.empty(64, dtype=np.uint16))
    assert list(out) == [internet_checksum(data[o:o + n]) for o, n in zip(offs, lens)]


def test_compile_errors_are_reported(bench, tmp_path, monkeypatch):
    (tmp_path / "broken.c").write_text("int f( {\n")
    monkeypatch.setattr(bench, "CSRC", tmp_path)
    with pytest.raises(bench.CompileError, match="broken.c"):
        bench.compile_c("broken", data_dir=tmp_path)
