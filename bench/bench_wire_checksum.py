"""The Internet checksum: fastpath against C (bench/c/csum_ref.c, RFC 1071 with 64-bit
add-with-carry, gcc -O2) and against dpkt's and scapy's checksums, in the same run.

* a batch of 1024 checksums of 1500-byte buffers, data in L1 (16 distinct buffers, 24 KB) and
  in L2 (1024 distinct buffers, 1.5 MB): issue 2 target >= 20 GB/s in cache;
* one call from Python on a 1500-byte buffer (target <= 250 ns) and on a 20-byte IPv4 header;
  the C figure for one call is timed inside C (a Python call into C costs more than the sum).

Every result is checked against the C reference's.
Run: .venv/bin/python -m pytest bench/bench_wire_checksum.py --benchmark-only
"""
import numpy as np
import pytest

from fastpath.wire.checksum import checksum_batch, internet_checksum

SIZE = 1500
BATCH = 1024


def times(benchmark):
    """(median, fastest round) in seconds, or (None, None) when benchmarking is disabled."""
    stats = getattr(benchmark, "stats", None)
    return (None, None) if stats is None else (stats.stats.median, stats.stats.min)


@pytest.fixture(scope="module")
def c_csum(bench_lib):
    return bench_lib.c_reference(bench_lib.CCsumRef)


@pytest.fixture(scope="module")
def data():
    return np.random.default_rng(1071).integers(0, 256, size=BATCH * SIZE, dtype=np.uint8)


def layout(where):
    if where == "l1":
        offsets = np.tile(np.arange(16, dtype=np.int64) * SIZE, BATCH // 16)
    else:
        offsets = np.arange(BATCH, dtype=np.int64) * SIZE
    return offsets, np.full(BATCH, SIZE, dtype=np.int64)


@pytest.mark.parametrize("where", ["l1", "l2"])
def test_csum_batch_c_reference(benchmark, c_csum, data, wire_board, where):
    benchmark.group = f"wire-csum-batch-{where}"
    offsets, lengths = layout(where)
    out = np.empty(BATCH, dtype=np.uint16)
    benchmark(c_csum.batch, data, offsets, lengths, out)
    assert out[0] == internet_checksum(data[:SIZE])
    t, tb = times(benchmark)
    if t:
        wire_board.record(f"csum_batch_{where}_c_gbps", BATCH * SIZE / t / 1e9,
                          "bench/c/csum_ref.c -O2 via ctypes",
                          best=BATCH * SIZE / tb / 1e9)


@pytest.mark.parametrize("where", ["l1", "l2"])
def test_csum_batch_fastpath(benchmark, c_csum, data, wire_board, where):
    benchmark.group = f"wire-csum-batch-{where}"
    offsets, lengths = layout(where)
    out = np.empty(BATCH, dtype=np.uint16)
    res = benchmark(checksum_batch, data, offsets, lengths, out)
    assert np.array_equal(res, c_csum.batch(data, offsets, lengths, np.empty(BATCH, dtype=np.uint16)))
    t, tb = times(benchmark)
    if t:
        wire_board.record(f"csum_batch_{where}_gbps", BATCH * SIZE / t / 1e9,
                          "fastpath.wire.checksum.checksum_batch",
                          best=BATCH * SIZE / tb / 1e9)


@pytest.mark.parametrize("size", [SIZE, 20])
def test_csum_single_fastpath(benchmark, c_csum, data, wire_board, size):
    benchmark.group = "wire-csum-single"
    buf = bytes(data[:size])
    res = benchmark(internet_checksum, buf)
    assert res == c_csum.csum(buf)
    t, tb = times(benchmark)
    if t:
        wire_board.record(f"csum_single_{size}_ns", t * 1e9, "internet_checksum(bytes) from Python",
                          best=tb * 1e9)


def test_csum_single_c_reference(benchmark, c_csum, data, wire_board):
    benchmark.group = "wire-csum-single-c"
    iters = 100_000
    buf = np.ascontiguousarray(data[:SIZE])
    ptr = buf.ctypes.data
    benchmark.pedantic(c_csum.lib.ref_csum_ns_per_call, args=(ptr, SIZE, iters), rounds=9)
    t, tb = times(benchmark)
    if t:
        wire_board.record("csum_single_1500_c_ns", t / iters * 1e9, "one call timed inside C",
                          best=tb / iters * 1e9)


@pytest.mark.parametrize("peer", ["dpkt", "scapy"])
def test_csum_single_peer(benchmark, c_csum, data, wire_board, peer):
    benchmark.group = "wire-csum-single"
    if peer == "dpkt":
        dpkt = pytest.importorskip("dpkt", reason="dpkt is not installed (make setup installs it)")
        fn = dpkt.in_cksum
    else:
        pytest.importorskip("scapy", reason="scapy is not installed (make setup installs it)")
        from scapy.utils import checksum as fn
    buf = bytes(data[:SIZE])
    res = benchmark(fn, buf)
    assert res == c_csum.csum(buf)
    t, tb = times(benchmark)
    if t:
        wire_board.record(f"csum_single_1500_{peer}_ns", t * 1e9, f"{peer} checksum from Python",
                          best=tb * 1e9)
        wire_board.record(f"csum_{peer}_gbps", SIZE / t / 1e9, f"{peer}, 1500-byte buffer",
                          best=SIZE / tb / 1e9)
