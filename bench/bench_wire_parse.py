"""Batch parsing: fastpath against the plain C parsers (bench/c), in the same run.

* a pcap file, walked and parsed: fastpath's whole-capture parse vs bench/c/parse_ref.c
  (issue 2 target: fastpath >= 0.8x C);
* frames in memory at known offsets (ring-buffer style): parse_frames vs bench/c/parse_ring_ref.c
  (target >= 25 Mpps), over the whole capture and over a 1024-frame burst that stays in cache;
* streaming (chunked) parse end to end in a subprocess, peak RSS from getrusage (target
  <= 512 MB whatever the capture's size), for the capture and a 4x larger one.

Every benchmark also checks that what it timed is right (packet counts, agreement with C).
Run: make bench PYTEST_ARGS='-k wire'  (or .venv/bin/python -m pytest bench/bench_wire_parse.py
--benchmark-only); FASTPATH_BENCH_PACKETS=100000 for a quick run.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastpath.wire.parse import parse_frames
from fastpath.wire.record import PACKET_DTYPE


def chunk_parser_source():
    """Python source of a child that parses a capture in chunks, for the memory measurement."""
    return textwrap.dedent("""
        import json, re, resource, sys, time
        path, chunk = sys.argv[1], int(sys.argv[2])
        try:
            from fastpath.packets import iter_parse
            label = "fastpath.packets.iter_parse"
            def chunks():
                for c in iter_parse(path, chunk_packets=chunk):
                    yield c.records
        except ImportError:
            from fastpath.capture import open_capture
            from fastpath.wire.parse import parse_frames
            label = "open_capture().chunks() + parse_frames()"
            def chunks():
                with open_capture(path) as r:
                    for c in r.chunks(max_packets=chunk):
                        yield parse_frames(c.buffer, c.index, base=c.base)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        n = tcp = 0
        for recs in chunks():
            n += len(recs)
            tcp += int((recs["ip_proto"] == 6).sum())
        dt = time.perf_counter() - t0
        try:        # this process's own high-water mark (Linux)
            hwm = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
        except OSError:
            hwm = None
        print(json.dumps({"label": label, "packets": n, "tcp": tcp, "seconds": dt,
                          "maxrss_at_start_kb": before, "vmhwm_kb": hwm,
                          "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
    """)


# ---------------------------------------------------------------- whole capture
@pytest.fixture(scope="module")
def c_parse(bench_lib):
    return bench_lib.c_reference(bench_lib.CParseRef)


@pytest.fixture(scope="module")
def c_ring(bench_lib):
    return bench_lib.c_reference(bench_lib.CRingRef)


def times(benchmark):
    """(median, fastest round) in seconds, or (None, None) when benchmarking is disabled."""
    stats = getattr(benchmark, "stats", None)
    return (None, None) if stats is None else (stats.stats.median, stats.stats.min)


def test_parse_pcap_c_reference(benchmark, bench_capture, c_parse, wire_board):
    benchmark.group = "wire-parse-pcap"
    n = benchmark.pedantic(c_parse.parse_count, args=(bench_capture,), rounds=9, warmup_rounds=1)
    assert n > 0
    t, tb = times(benchmark)
    if t:
        wire_board.record("parse_pcap_c_mpps", n / t / 1e6, f"bench/c/parse_ref.c -O2, {n} packets",
                          best=n / tb / 1e6)


def test_parse_pcap_fastpath(benchmark, bench_lib, bench_capture, c_parse, wire_board):
    benchmark.group = "wire-parse-pcap"
    label, parse_capture = bench_lib.capture_parser()
    recs = benchmark.pedantic(parse_capture, args=(bench_capture,), rounds=9, warmup_rounds=1)
    assert recs.dtype == PACKET_DTYPE
    # Same file, same packets, same fields as the C walker (checksum status aside).
    ref = c_parse.parse(bench_capture, len(recs) + 1)
    assert not bench_lib.compare_records(recs, ref)
    t, tb = times(benchmark)
    if t:
        wire_board.record("parse_pcap_fastpath_mpps", len(recs) / t / 1e6, label,
                          best=len(recs) / tb / 1e6)


def stream_count(path, chunk_packets=65536):
    """Parse the capture chunk by chunk and drop the records (what a streaming consumer does)."""
    try:
        from fastpath.packets import iter_parse
    except ImportError:
        pytest.skip("fastpath.packets.iter_parse is not available in this build")
    n = 0
    for chunk in iter_parse(path, chunk_packets=chunk_packets):
        n += len(chunk.records)
    return n


def test_parse_pcap_fastpath_streaming(benchmark, bench_capture, c_parse, wire_board):
    benchmark.group = "wire-parse-pcap"
    n = benchmark.pedantic(stream_count, args=(bench_capture,), rounds=9, warmup_rounds=1)
    assert n == c_parse.parse_count(bench_capture)
    t, tb = times(benchmark)
    if t:
        wire_board.record("parse_pcap_stream_mpps", n / t / 1e6,
                          "fastpath.packets.iter_parse, 65536-packet chunks, records dropped",
                          best=n / tb / 1e6)


def test_parse_pcap_paired(benchmark, bench_lib, bench_capture, c_parse, wire_board):
    """fastpath and C in alternating rounds; the ratio per pair (see conftest.paired_ratio)."""
    benchmark.group = "wire-parse-paired"
    _, parse_capture = bench_lib.capture_parser()

    def pairs():
        return (bench_lib.paired_ratio(lambda: parse_capture(bench_capture),
                                       lambda: c_parse.parse_count(bench_capture)),
                bench_lib.paired_ratio(lambda: stream_count(bench_capture),
                                       lambda: c_parse.parse_count(bench_capture)))
    (whole, wr), (stream, sr) = benchmark.pedantic(pairs, rounds=1, iterations=1)
    benchmark.extra_info.update({"parse_capture_vs_c": wr, "iter_parse_vs_c": sr})
    wire_board.record("paired_pcap_vs_c", whole, f"median of 11 ABBA pairs, range {wr[0]:.2f}-{wr[-1]:.2f}")
    wire_board.record("paired_stream_vs_c", stream, f"median of 11 ABBA pairs, range {sr[0]:.2f}-{sr[-1]:.2f}")


# ---------------------------------------------------------------- frames at known offsets
def test_parse_ring_c_reference(benchmark, bench_frames, c_ring, wire_board):
    benchmark.group = "wire-parse-ring"
    data, index = bench_frames
    out = c_ring.records(len(index))
    benchmark.pedantic(c_ring.parse, args=(data, index, out), rounds=15, warmup_rounds=2)
    assert (out["caplen"] == index["caplen"]).all()
    t, tb = times(benchmark)
    if t:
        wire_board.record("ring_c_mpps", len(index) / t / 1e6, "bench/c/parse_ring_ref.c -O2, whole capture in memory",
                          best=len(index) / tb / 1e6)


def test_parse_ring_c_prefetch(benchmark, bench_lib, bench_frames, c_ring, wire_board):
    """Not a target: the plain C loop plus a software prefetch 8 frames ahead, to show how much
    of the whole-capture figure is waiting for memory."""
    benchmark.group = "wire-parse-ring"
    data, index = bench_frames
    try:
        pf = bench_lib.CRingRef(bench_lib.compile_c("parse_ring_ref", flags=("-O2", "-DREF_PREFETCH=8")))
    except FileNotFoundError as e:
        pytest.skip(str(e))
    out = pf.records(len(index))
    benchmark.pedantic(pf.parse, args=(data, index, out), rounds=15, warmup_rounds=2)
    assert not bench_lib.compare_records(out, c_ring.parse(data, index, c_ring.records(len(index))), skip=())
    t, tb = times(benchmark)
    if t:
        wire_board.record("ring_c_prefetch_mpps", len(index) / t / 1e6,
                          "parse_ring_ref.c -O2 -DREF_PREFETCH=8 (not the reference)",
                          best=len(index) / tb / 1e6)


def test_parse_ring_fastpath(benchmark, bench_lib, bench_frames, c_ring, wire_board):
    benchmark.group = "wire-parse-ring"
    data, index = bench_frames
    out = np.zeros(len(index), dtype=PACKET_DTYPE)
    recs = benchmark.pedantic(parse_frames, args=(data, index), kwargs={"out": out},
                              rounds=15, warmup_rounds=2)
    # Field for field what the C reference found (checksum status aside: neither verifies).
    ref = c_ring.parse(data, index, c_ring.records(len(index)))
    assert not bench_lib.compare_records(recs, ref)
    lacks = bench_lib.fields_c_lacks(ref.dtype)
    if lacks:
        wire_board.record("c_lacks_fields", len(lacks), "PACKET_DTYPE fields the C reference does not fill: " + ", ".join(lacks))
    t, tb = times(benchmark)
    if t:
        wire_board.record("ring_fastpath_mpps", len(index) / t / 1e6,
                          "parse_frames(buf, index, out=...), whole capture in memory",
                          best=len(index) / tb / 1e6)


def test_parse_ring_paired(benchmark, bench_lib, bench_frames, c_ring, wire_board):
    benchmark.group = "wire-parse-paired"
    data, index = bench_frames
    out = np.zeros(len(index), dtype=PACKET_DTYPE)
    cout = c_ring.records(len(index))
    ratio, rs = benchmark.pedantic(
        bench_lib.paired_ratio, args=(lambda: parse_frames(data, index, out=out),
                                      lambda: c_ring.parse(data, index, cout)),
        kwargs={"rounds": 15}, rounds=1, iterations=1)
    benchmark.extra_info["parse_frames_vs_c"] = rs
    wire_board.record("paired_ring_vs_c", ratio, f"median of 15 ABBA pairs, range {rs[0]:.2f}-{rs[-1]:.2f}")


@pytest.fixture(scope="module")
def burst(bench_frames):
    """1024 consecutive frames copied into their own buffer (~1 MB): a ring burst in cache."""
    data, index = bench_frames
    start = len(index) // 3
    sel = index[start:start + 1024].copy()
    parts, offs, pos = [], [], 0
    for off, ln in zip(sel["data_off"].tolist(), sel["caplen"].tolist()):
        parts.append(data[off:off + ln])
        offs.append(pos)
        pos += ln
    sel["data_off"] = offs
    return np.concatenate(parts), sel


def test_parse_burst_c_reference(benchmark, burst, c_ring, wire_board):
    benchmark.group = "wire-parse-burst"
    data, index = burst
    out = c_ring.records(len(index))
    benchmark(c_ring.parse, data, index, out)
    assert (out["error"] == 0).all()
    t, tb = times(benchmark)
    if t:
        wire_board.record("burst_c_mpps", len(index) / t / 1e6, "1024-frame burst, C via ctypes",
                          best=len(index) / tb / 1e6)


def test_parse_burst_fastpath(benchmark, burst, wire_board):
    benchmark.group = "wire-parse-burst"
    data, index = burst
    out = np.zeros(len(index), dtype=PACKET_DTYPE)
    recs = benchmark(parse_frames, data, index, out=out)
    assert (recs["error"] == 0).all() and (recs["l3_off"] != 0xFFFF).sum() > 1000 * 0.9
    t, tb = times(benchmark)
    if t:
        wire_board.record("burst_fastpath_mpps", len(index) / t / 1e6,
                          "1024-frame burst, parse_frames(out=...), Python call included",
                          best=len(index) / tb / 1e6)


# ---------------------------------------------------------------- streaming memory
# A child forked from this (large) pytest process inherits its high-water mark: Linux keeps the
# pre-exec peak in ru_maxrss. A small launcher runs the measuring child instead, so the child's
# getrusage starts from the launcher's ~10 MB and reports its own peak.
_LAUNCHER = textwrap.dedent("""
    import json, resource, subprocess, sys
    res = subprocess.run([sys.executable, "-c", sys.argv[1]] + sys.argv[2:], capture_output=True, text=True)
    if res.returncode != 0:
        sys.stderr.write(res.stderr)
        sys.exit(res.returncode)
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["children_maxrss_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps(out))
""")


def _stream_child(path, chunk=65536):
    res = subprocess.run([sys.executable, "-c", _LAUNCHER, chunk_parser_source(), str(path), str(chunk)],
                         capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("times", [1, 4])
def test_stream_parse_peak_rss(benchmark, bench_lib, bench_capture, c_parse, wire_board, times):
    """Peak RSS of a whole streaming parse in a fresh process (not a timing: one round)."""
    benchmark.group = "wire-stream-rss"
    path = bench_capture if times == 1 else bench_lib.pcap_repeat(bench_capture, times)
    out = benchmark.pedantic(_stream_child, args=(path,), rounds=1, iterations=1)
    expected = c_parse.parse_count(bench_capture) * times
    assert out["packets"] == expected
    # The peak is getrusage's ru_maxrss of the measuring child (started from a small launcher),
    # cross-checked with its VmHWM where /proc has it; the larger of the two is reported.
    assert out["maxrss_at_start_kb"] < 64 * 1024, "the child inherited a large high-water mark"
    peak_kb = max(out["maxrss_kb"], out["vmhwm_kb"] or 0)
    rss_mb = peak_kb / 1024
    benchmark.extra_info.update(out)
    size_mb = os.path.getsize(path) / 2**20
    wire_board.record(f"stream_rss_x{times}_mb", rss_mb,
                      f"{out['label']}, {out['packets']} packets, file {size_mb:.0f} MB, "
                      f"{out['packets'] / out['seconds'] / 1e6:.2f} Mpps (getrusage ru_maxrss "
                      f"{out['maxrss_kb'] / 1024:.0f} MB, VmHWM {(out['vmhwm_kb'] or 0) / 1024:.0f} MB)")
    prev = wire_board.get("stream_rss_max_mb") or 0
    wire_board.record("stream_rss_max_mb", max(prev, rss_mb), "largest peak RSS of the streaming runs")
