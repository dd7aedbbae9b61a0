"""Capture I/O: the index walk against a plain C loop (bench/c/capture_ref.c) in the same run,
memory-mapped against read-into-a-buffer, gzip throughput, and peak RSS on a multi-GB capture.

* index rate, records/s: fastpath's C walker (``fastpath.capture.index.Indexer``) and the C loop
  over the same bytes in memory; then the whole public path (``open_capture(...).chunks()``)
  over the file, mapped and read, against the C loop mmapping the file as a standalone program
  would. Two captures: the benchmark's mixed traffic (~900-byte records: memory-bound) and a
  capture of 64-byte frames (the walk itself).
* peers, for the record: dpkt's and scapy's pcap readers (records only, no decoding).
* gzip: decompressed MB/s through ``open_capture`` against ``zcat`` (C zlib) and Python's gzip.
* streaming peak RSS: a child process reads a multi-GB capture chunk by chunk (mapped, read,
  gzip); its peak is VmHWM (getrusage's ru_maxrss would keep the pytest parent's peak).

Every benchmark checks what it timed (record counts, rows equal to C's). Run:
  .venv/bin/python -m pytest bench/bench_capture.py --benchmark-only \\
      --benchmark-columns=min,median,iqr,rounds
"""
import ctypes
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from fastpath.capture import open_capture
from fastpath.capture import index as ix
from fastpath.wire.record import FRAME_DTYPE

FIGURES = {}            # name -> (median, best, note), printed at the end and saved as JSON


def record(name, median, best=None, note=""):
    FIGURES[name] = (median, best, note)


def stats(benchmark):
    s = benchmark.stats.stats
    return s.median, s.min


class _Reporter:
    """Prints the figures after pytest-benchmark's tables and saves them as JSON."""

    def pytest_terminal_summary(self, terminalreporter):
        if not FIGURES:
            return
        tr = terminalreporter
        tr.section("capture benchmarks: figures and ratios (same run)")
        tr.write_line(f"  {'figure':<34} {'median':>10} {'best':>10}  note")
        for k in sorted(FIGURES):
            m, b, note = FIGURES[k]
            bs = f"{b:10.4g}" if b is not None else " " * 10
            tr.write_line(f"  {k:<34} {m:>10.4g} {bs}  {note}")
        data = Path(__file__).resolve().parent / ".data"
        data.mkdir(exist_ok=True)
        (data / "capture-results.json").write_text(json.dumps(
            {"when": time.strftime("%Y-%m-%d %H:%M:%S"),
             "figures": {k: {"median": v[0], "best": v[1], "note": v[2]}
                         for k, v in FIGURES.items()}}, indent=2) + "\n")


@pytest.fixture(scope="session", autouse=True)
def _report(request):
    pm = request.config.pluginmanager
    if not pm.has_plugin("fastpath-capture-bench-report"):
        pm.register(_Reporter(), "fastpath-capture-bench-report")


# ------------------------------------------------------------------------------ inputs
@pytest.fixture(scope="session")
def small_frames_capture(bench_lib):
    """2,000,000 records of 64-byte frames (~160 MB): what the walk costs when memory is not
    the limit."""
    n = 2_000_000
    path = bench_lib.DATA / f"capture-64B-n{n}.pcap"
    if not path.exists():
        frame = bytes(range(64))
        rec = np.frombuffer(struct.pack("<IIII", 1_700_000_000, 0, 64, 64) + frame, np.uint8)
        recs = np.tile(rec, n).reshape(n, len(rec))
        recs[:, 4:8] = np.arange(n, dtype="<u4").view(np.uint8).reshape(n, 4)   # microseconds
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
            recs.tofile(f)
        os.replace(tmp, path)
    return path


@pytest.fixture(scope="session")
def gz_capture(bench_lib, bench_capture):
    """The first 100,000 packets of the benchmark capture, and the same gzip -6 (gzip's
    default)."""
    head = bench_lib.pcap_head(bench_capture, 100_000)
    gz = head.with_suffix(".pcap.gz")
    if not gz.exists():
        tmp = gz.with_suffix(f".tmp{os.getpid()}")
        with open(head, "rb") as src, gzip.open(tmp, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst, 8 << 20)
        os.replace(tmp, gz)
    return head, gz


@pytest.fixture(scope="session")
def head_count(gz_capture, c_index):
    head, _ = gz_capture
    return c_index.index_file(head, np.zeros(os.path.getsize(head) // 16, FRAME_DTYPE))


class CIndexRef:
    def __init__(self, bench_lib):
        self.lib = ctypes.CDLL(str(bench_lib.compile_c("capture_ref")))
        self.lib.ref_index_pcap.restype = ctypes.c_int64
        self.lib.ref_index_pcap.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p,
                                            ctypes.c_int64, ctypes.c_int64]
        self.lib.ref_index_file.restype = ctypes.c_int64
        self.lib.ref_index_file.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int64,
                                            ctypes.c_int64]
        assert self.lib.ref_frame_size() == FRAME_DTYPE.itemsize

    def index(self, data, out, prefetch=0):
        return self.lib.ref_index_pcap(data.ctypes.data, len(data), out.ctypes.data, len(out),
                                       prefetch)

    def index_file(self, path, out, prefetch=0):
        n = self.lib.ref_index_file(os.fsencode(path), out.ctypes.data, len(out), prefetch)
        if n < 0:
            raise OSError(-n, os.strerror(-n), str(path))
        return n


@pytest.fixture(scope="session")
def c_index(bench_lib):
    try:
        return CIndexRef(bench_lib)
    except FileNotFoundError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="session", params=["mixed", "64B"])
def capture(request, bench_capture, small_frames_capture):
    """(label, path, bytes in memory, expected count from the C loop)."""
    path = bench_capture if request.param == "mixed" else small_frames_capture
    return request.param, path




# ------------------------------------------------------------------------------ index in memory
@pytest.fixture(scope="session")
def in_memory(capture, c_index):
    label, path = capture
    data = np.fromfile(path, np.uint8)
    ref = np.zeros(len(data) // 80 + 16, FRAME_DTYPE)
    n = c_index.index(data, ref)
    return label, data, ref[:n]


def fastpath_index(data, out):
    w = ix.Indexer(ix.FMT_PCAP)
    status, n, _ = w.run(data, 0, len(data), 0, True, out)
    assert status == ix.ST_END
    return n


def test_index_memory_c(benchmark, in_memory, c_index):
    label, data, ref = in_memory
    benchmark.group = f"capture-index-memory-{label}"
    out = np.zeros(len(ref) + 1, FRAME_DTYPE)
    n = benchmark.pedantic(c_index.index, args=(data, out), rounds=9, warmup_rounds=1)
    assert n == len(ref)
    m, b = stats(benchmark)
    record(f"index_mem_{label}_c_mrps", n / m / 1e6, n / b / 1e6, "C loop, bytes in memory")


def test_index_memory_c_prefetch(benchmark, in_memory, c_index):
    label, data, ref = in_memory
    benchmark.group = f"capture-index-memory-{label}"
    out = np.zeros(len(ref) + 1, FRAME_DTYPE)
    n = benchmark.pedantic(c_index.index, args=(data, out, 2048), rounds=9, warmup_rounds=1)
    assert n == len(ref)
    m, b = stats(benchmark)
    record(f"index_mem_{label}_c_prefetch_mrps", n / m / 1e6, n / b / 1e6,
           "C loop with fastpath's stream prefetch (2 KiB ahead)")


def test_index_memory_fastpath(benchmark, in_memory):
    label, data, ref = in_memory
    benchmark.group = f"capture-index-memory-{label}"
    out = np.zeros(len(ref) + 1, FRAME_DTYPE)
    n = benchmark.pedantic(fastpath_index, args=(data, out), rounds=9, warmup_rounds=1)
    assert n == len(ref) and (out[:n] == ref).all()
    m, b = stats(benchmark)
    record(f"index_mem_{label}_fastpath_mrps", n / m / 1e6, n / b / 1e6,
           "Indexer.run over the whole buffer (one call)")
    c = FIGURES.get(f"index_mem_{label}_c_mrps")
    if c:
        record(f"index_mem_{label}_vs_c", n / m / 1e6 / c[0], n / b / 1e6 / c[1],
               "fastpath / C loop (no prefetch)")


def test_index_memory_paired(benchmark, bench_lib, in_memory, c_index):
    """fastpath and C in alternating rounds (ABBA): the ratio with the load drift cancelled."""
    label, data, ref = in_memory
    benchmark.group = f"capture-index-memory-{label}"
    out_f = np.zeros(len(ref) + 1, FRAME_DTYPE)
    out_c = np.zeros(len(ref) + 1, FRAME_DTYPE)
    ratio, _ = benchmark.pedantic(
        bench_lib.paired_ratio, args=(lambda: fastpath_index(data, out_f),
                                      lambda: c_index.index(data, out_c)),
        kwargs={"rounds": 11}, rounds=1, iterations=1)
    record(f"index_mem_{label}_paired_vs_c", ratio, None, "median of ABBA pair ratios")


# ------------------------------------------------------------------------------ index from a file
def chunks_count(path, **kw):
    n = 0
    with open_capture(path, **kw) as r:
        for chunk in r.chunks():
            n += len(chunk)
    return n


def test_index_file_c(benchmark, capture, c_index):
    label, path = capture
    benchmark.group = f"capture-index-file-{label}"
    out = np.zeros(os.path.getsize(path) // 80 + 16, FRAME_DTYPE)
    n = benchmark.pedantic(c_index.index_file, args=(path, out), rounds=7, warmup_rounds=1)
    m, b = stats(benchmark)
    record(f"index_file_{label}_c_mrps", n / m / 1e6, n / b / 1e6,
           "C: mmap (MADV_SEQUENTIAL) + walk, page cache warm")


@pytest.mark.parametrize("mode", ["mmap", "read"])
def test_index_file_fastpath(benchmark, capture, c_index, mode):
    label, path = capture
    benchmark.group = f"capture-index-file-{label}"
    n = benchmark.pedantic(chunks_count, args=(path,), kwargs={"mmap": mode == "mmap"},
                           rounds=7, warmup_rounds=1)
    out = np.zeros(os.path.getsize(path) // 80 + 16, FRAME_DTYPE)
    assert n == c_index.index_file(path, out)
    m, b = stats(benchmark)
    record(f"index_file_{label}_{mode}_mrps", n / m / 1e6, n / b / 1e6,
           f"open_capture(mmap={mode == 'mmap'}).chunks(), default chunks")
    c = FIGURES.get(f"index_file_{label}_c_mrps")
    if c:
        record(f"index_file_{label}_{mode}_vs_c", n / m / 1e6 / c[0], n / b / 1e6 / c[1],
               "fastpath chunks / C mmap walk")


# ------------------------------------------------------------------------------ peers
def test_index_dpkt(benchmark, gz_capture, head_count):
    dpkt = pytest.importorskip("dpkt")
    head, _ = gz_capture
    benchmark.group = "capture-peers"

    def run():
        n = 0
        with open(head, "rb") as f:
            for _ts, _buf in dpkt.pcap.Reader(f):
                n += 1
        return n

    n = benchmark.pedantic(run, rounds=3, warmup_rounds=0)
    assert n == head_count
    m, b = stats(benchmark)
    record("peer_dpkt_reader_mrps", n / m / 1e6, n / b / 1e6, "dpkt.pcap.Reader, records only")


def test_index_scapy(benchmark, gz_capture):
    pytest.importorskip("scapy")
    from scapy.utils import RawPcapReader
    head, _ = gz_capture
    benchmark.group = "capture-peers"

    def run():
        n = 0
        with RawPcapReader(str(head)) as r:
            for _ in r:
                n += 1
                if n == 20_000:
                    break
        return n

    n = benchmark.pedantic(run, rounds=3, warmup_rounds=0)
    m, b = stats(benchmark)
    record("peer_scapy_rawreader_mrps", n / m / 1e6, n / b / 1e6,
           "scapy RawPcapReader, records only (first 20,000)")


def test_index_fastpath_on_the_peers_file(benchmark, gz_capture, head_count):
    head, _ = gz_capture
    benchmark.group = "capture-peers"
    n = benchmark.pedantic(chunks_count, args=(head,), rounds=7, warmup_rounds=1)
    assert n == head_count
    m, b = stats(benchmark)
    record("peer_fastpath_chunks_mrps", n / m / 1e6, n / b / 1e6,
           "open_capture().chunks() on the same 100,000-packet file")
    d = FIGURES.get("peer_dpkt_reader_mrps")
    if d:
        record("peer_fastpath_vs_dpkt", n / m / 1e6 / d[0], None, "fastpath / dpkt.pcap.Reader")


# ------------------------------------------------------------------------------ gzip
def test_gzip_fastpath(benchmark, gz_capture, head_count):
    head, gz = gz_capture
    benchmark.group = "capture-gzip"
    size = os.path.getsize(head)
    n = benchmark.pedantic(chunks_count, args=(gz,), rounds=5, warmup_rounds=1)
    assert n == head_count
    m, b = stats(benchmark)
    record("gzip_fastpath_mbps", size / m / 1e6, size / b / 1e6,
           f"open_capture(gz).chunks(): decompressed MB/s ({n / m / 1e6:.2f} M records/s)")


def test_gzip_zcat(benchmark, gz_capture):
    head, gz = gz_capture
    if shutil.which("zcat") is None:
        pytest.skip("needs zcat")
    benchmark.group = "capture-gzip"
    size = os.path.getsize(head)

    def run():
        subprocess.run(["zcat", str(gz)], stdout=subprocess.DEVNULL, check=True)

    benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    m, b = stats(benchmark)
    record("gzip_zcat_mbps", size / m / 1e6, size / b / 1e6, "zcat > /dev/null (C zlib)")
    f = FIGURES.get("gzip_fastpath_mbps")
    if f:
        record("gzip_fastpath_vs_zcat", f[0] / (size / m / 1e6), None, "fastpath / zcat")


def test_gzip_python(benchmark, gz_capture):
    head, gz = gz_capture
    benchmark.group = "capture-gzip"
    size = os.path.getsize(head)

    def run():
        with gzip.open(gz, "rb") as f:
            while f.read(1 << 20):
                pass

    benchmark.pedantic(run, rounds=3, warmup_rounds=0)
    m, b = stats(benchmark)
    record("gzip_python_mbps", size / m / 1e6, size / b / 1e6, "gzip.open().read(1 MiB) loop")


# ------------------------------------------------------------------------------ peak RSS
_RSS_CHILD = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np
    from fastpath.capture import open_capture
    def status(key):
        try:
            for line in open("/proc/self/status"):
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        except OSError:
            return None
    path, mode = sys.argv[1], sys.argv[2]
    start = status("VmRSS")
    t0 = time.perf_counter()
    n = 0
    touched = 0
    with open_capture(path, mmap=(mode == "mmap")) as r:
        for chunk in r.chunks():
            touched += int(np.frombuffer(chunk.buffer, np.uint8)[::4096].sum() & 1)
            n += len(chunk)
    print(json.dumps({"packets": n, "seconds": time.perf_counter() - t0,
                      "vmrss_start_kb": start, "vmhwm_kb": status("VmHWM")}))
""")


@pytest.fixture(scope="session")
def big_capture(bench_lib, bench_capture):
    """The benchmark capture four times over (~3.6 GB)."""
    return bench_lib.pcap_repeat(bench_capture, 4)


@pytest.fixture(scope="session")
def big_gz(bench_lib, big_capture):
    """The 4x capture, gzip -1 (~3.6 GB decompressed)."""
    gz = bench_lib.DATA / (Path(big_capture).stem + "-1.pcap.gz")
    if not gz.exists():
        tmp = gz.with_suffix(f".tmp{os.getpid()}")
        with open(big_capture, "rb") as src, gzip.open(tmp, "wb", compresslevel=1) as dst:
            shutil.copyfileobj(src, dst, 8 << 20)
        os.replace(tmp, gz)
    return gz


@pytest.fixture(scope="session")
def sparse_10g(bench_lib):
    """A 10 GiB pcap that takes no disk space: a file header, then a hole. Read back, a hole is
    zeros, and 16 zero bytes are a valid record (caplen 0): 671 million records."""
    path = bench_lib.DATA / "sparse-10GiB.pcap"
    if not path.exists():
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
            f.truncate(24 + (10 << 30))
    return path


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmHWM from /proc")
@pytest.mark.parametrize("mode", ["mmap", "read", "gzip", "mmap-10GiB", "read-10GiB"])
def test_streaming_peak_rss(benchmark, request, mode):
    """Peak RSS of a child reading the whole capture in default chunks (one round, not a
    timing); it touches one byte per page of every chunk, as a parser would."""
    benchmark.group = "capture-rss"
    if mode.endswith("10GiB"):
        path = request.getfixturevalue("sparse_10g")
        mode = mode.split("-")[0]
        label = f"{mode}_10gib"
    else:
        path = request.getfixturevalue("big_gz" if mode == "gzip" else "big_capture")
        label = mode

    def run():
        res = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(path), mode],
                             capture_output=True, text=True, timeout=3600)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout.strip().splitlines()[-1])

    out = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(out)
    peak_mb = out["vmhwm_kb"] / 1024
    size_gb = os.path.getsize(path) / 1e9
    rate = out["packets"] / out["seconds"] / 1e6
    record(f"rss_{label}_peak_mb", peak_mb, None,
           f"{out['packets']} packets, file {size_gb:.2f} GB, {rate:.2f} M records/s, "
           f"VmRSS after imports {out['vmrss_start_kb'] / 1024:.0f} MB")
    assert peak_mb < 512
