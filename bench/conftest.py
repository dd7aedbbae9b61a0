"""Shared fixtures for the benchmarks.

* The benchmark capture: ``fastpath.synth``'s deterministic mixed traffic, generated once and
  cached under ``bench/.data/`` (git-ignored), keyed by generator version, seed and count.
  ``FASTPATH_BENCH_PACKETS`` (default 1,000,000) and ``FASTPATH_BENCH_SEED`` (default 1)
  change it; smaller counts make a quick run.
* C references: ``compile_c("parse_ref")`` builds ``bench/c/parse_ref.c`` with gcc -O2 into a
  shared library under ``bench/.data/`` (rebuilt when the source or flags change) and
  ``CParseRef`` / ``CRingRef`` / ``CCsumRef`` call it through ctypes, so pytest-benchmark times
  C and fastpath the same way, in the same run.
* A results board: benchmarks report figures with ``wire_board.record(...)``; at the end of the
  session the ratios against the issue's targets are printed and written to
  ``bench/.data/wire-results.json``.

This module is also imported by ``tests/synth`` (by path) to compile the C references for the
agreement test; keep it free of side effects at import.
"""
import ctypes
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent
DATA = BENCH / ".data"
CSRC = BENCH / "c"
CFLAGS = ("-O2",)

DEFAULT_PACKETS = 1_000_000
DEFAULT_SEED = 1


def _env_int(name, default, low):
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = None
    if value is None or value < low:
        raise pytest.UsageError(f"{name}={text!r}: give an integer >= {low} (default {default})")
    return value


def bench_packets():
    return _env_int("FASTPATH_BENCH_PACKETS", DEFAULT_PACKETS, 1)


def bench_seed():
    return _env_int("FASTPATH_BENCH_SEED", DEFAULT_SEED, 0)


# ---------------------------------------------------------------- the benchmark capture
def synth_capture(packets=None, seed=None, fmt="pcap", data_dir=DATA):
    """Path of the generated capture for (generator version, seed, packets, format), made once."""
    from fastpath import synth
    packets = bench_packets() if packets is None else packets
    seed = bench_seed() if seed is None else seed
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"synth-v{synth.GENERATOR_VERSION}-s{seed}-n{packets}.{fmt}"
    if not path.exists():
        t0 = time.monotonic()
        synth.write_capture(path, packets, seed, format=fmt)
        sys.stderr.write(f"\n[bench] generated {path.name} in {time.monotonic() - t0:.1f} s\n")
    return path


def pcap_head(path, packets, data_dir=DATA):
    """A pcap holding the first ``packets`` records of ``path`` (a classic little-endian pcap)."""
    path = Path(path)
    out = Path(data_dir) / f"{path.stem}-head{packets}.pcap"
    if out.exists():
        return out
    with open(path, "rb") as f:
        data = f.read(24)
        parts = [data]
        for _ in range(packets):
            hdr = f.read(16)
            if len(hdr) < 16:
                break
            incl = struct.unpack_from("<I", hdr, 8)[0]
            parts.append(hdr)
            parts.append(f.read(incl))
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(b"".join(parts))
    os.replace(tmp, out)
    return out


def pcap_repeat(path, times, data_dir=DATA):
    """A pcap whose records are those of ``path`` repeated ``times`` times, timestamps shifted
    forward each time: a bigger capture for the streaming-memory measurement."""
    path = Path(path)
    out = Path(data_dir) / f"{path.stem}-x{times}.pcap"
    if out.exists():
        return out
    body = path.read_bytes()
    header, records = body[:24], body[24:]
    # Find the span of the capture to shift each copy after the previous one.
    idx = pcap_index(body)
    span_s = int((idx["ts_ns"][-1] - idx["ts_ns"][0]) // 1_000_000_000) + 1 if len(idx) else 1
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(header)
        for k in range(times):
            if k == 0:
                f.write(records)
                continue
            rec = bytearray(records)
            for o in (idx["data_off"] - 16 - 24).tolist():
                s = struct.unpack_from("<I", rec, o)[0]
                struct.pack_into("<I", rec, o, s + k * span_s)
            f.write(rec)
    os.replace(tmp, out)
    return out


def pcap_index(data):
    """FRAME_DTYPE index of a little-endian pcap held in memory (data_off = file offset).

    A small independent walker, so the ring-buffer benchmark does not depend on the capture
    reader it is not measuring."""
    from fastpath.wire.record import FRAME_DTYPE
    mv = memoryview(data)
    magic = bytes(mv[:4])
    if magic not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        raise ValueError("pcap_index reads little-endian pcap files only")
    nano = magic == b"\x4d\x3c\xb2\xa1"
    linktype = struct.unpack_from("<I", mv, 20)[0] & 0xFFFF
    unpack = struct.Struct("<IIII").unpack_from
    off = 24
    size = len(mv)
    ts, offs, incls, origs = [], [], [], []
    while off + 16 <= size:
        sec, frac, incl, orig = unpack(mv, off)
        if off + 16 + incl > size:
            break
        ts.append(sec * 1_000_000_000 + (frac if nano else frac * 1000))
        offs.append(off + 16)
        incls.append(incl)
        origs.append(orig)
        off += 16 + incl
    idx = np.zeros(len(ts), dtype=FRAME_DTYPE)
    idx["ts_ns"] = ts
    idx["data_off"] = offs
    idx["caplen"] = incls
    idx["wirelen"] = origs
    idx["linktype"] = linktype
    return idx


def capture_parser():
    """(label, function path -> PACKET_DTYPE array) for fastpath's whole-capture parse.

    The public entry point is fastpath.packets.parse_capture; until it exists, the same work
    composed from the capture reader and the batch parser."""
    try:
        from fastpath.packets import parse_capture
        return "fastpath.packets.parse_capture", parse_capture
    except ImportError:
        pass
    try:
        from fastpath.capture import open_capture
        from fastpath.wire.parse import parse_frames
    except ImportError:
        pytest.skip("neither fastpath.packets.parse_capture nor fastpath.capture exists in this build")

    def parse_capture(path):
        with open_capture(path) as r:
            buf, index = r.read_all()
            return parse_frames(buf, index)
    return "open_capture().read_all() + parse_frames()", parse_capture


# ---------------------------------------------------------------- C references
class CompileError(RuntimeError):
    pass


def compile_c(name, flags=CFLAGS, data_dir=DATA):
    """Build ``bench/c/<name>.c`` as a shared library with gcc; returns its path.

    Cached by a hash of the sources (the .c and every header in bench/c), the flags and the
    compiler's version. Raises CompileError (with gcc's message) if gcc fails, and
    FileNotFoundError if there is no gcc (callers turn that into a skip with the reason)."""
    gcc = shutil.which(os.environ.get("CC", "gcc"))
    if gcc is None:
        raise FileNotFoundError("gcc is not on PATH (make setup installs it as root)")
    src = CSRC / f"{name}.c"
    h = hashlib.sha256()
    for p in [src] + sorted(CSRC.glob("*.h")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    h.update(" ".join(flags).encode())
    version = subprocess.run([gcc, "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    h.update("".join(version).encode())
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    out = data_dir / f"{name}-{h.hexdigest()[:12]}.so"
    if not out.exists():
        tmp = out.with_suffix(f".tmp{os.getpid()}.so")
        cmd = [gcc, *flags, "-Wall", "-shared", "-fPIC", "-o", str(tmp), str(src)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise CompileError(f"{' '.join(cmd)} failed:\n{res.stderr}")
        os.replace(tmp, out)
    return out


def _ptr(arr):
    return ctypes.c_void_p(arr.ctypes.data)


def c_record_dtype(lib):
    """numpy dtype of the C reference's record, from the layout it reports by field name.
    Field types follow PACKET_DTYPE where the name exists there."""
    from fastpath.wire.record import PACKET_DTYPE
    lib.ref_field_name.restype = ctypes.c_char_p
    lib.ref_field_offset.restype = ctypes.c_long
    lib.ref_field_size.restype = ctypes.c_long
    names, formats, offsets = [], [], []
    for i in range(lib.ref_nfields()):
        name = lib.ref_field_name(i).decode()
        size = lib.ref_field_size(i)
        fmt = PACKET_DTYPE.fields[name][0] if name in PACKET_DTYPE.names else np.dtype((np.uint8, size))
        if fmt.itemsize != size:
            raise CompileError(f"bench/c/ref_parse.h: field {name} is {size} bytes in C but "
                               f"{fmt.itemsize} in PACKET_DTYPE; update ref_record")
        names.append(name)
        formats.append(fmt)
        offsets.append(lib.ref_field_offset(i))
    return np.dtype({"names": names, "formats": formats, "offsets": offsets,
                     "itemsize": lib.ref_record_size()})


def compare_records(ours, theirs, skip=("csum_ip", "csum_l4")):
    """Names of the fields (present in both) on which two record arrays differ."""
    assert len(ours) == len(theirs), (len(ours), len(theirs))
    bad = []
    for name in theirs.dtype.names:
        if name in skip or name not in ours.dtype.names:
            continue
        diff = ours[name] != theirs[name]
        if diff.ndim > 1:
            diff = diff.any(axis=tuple(range(1, diff.ndim)))
        if diff.any():
            bad.append(f"{name} ({int(diff.sum())} packets, first at {int(np.argmax(diff))})")
    return bad


def fields_c_lacks(dtype):
    """PACKET_DTYPE fields the C reference does not fill (new work it does not do)."""
    from fastpath.wire.record import PACKET_DTYPE
    return [n for n in PACKET_DTYPE.names if n not in dtype.names and n != "reserved"]


class CParseRef:
    """The sequential C parser (bench/c/parse_ref.c): mmap a pcap, walk it, parse every frame."""

    def __init__(self, path=None):
        self.lib = ctypes.CDLL(str(path or compile_c("parse_ref")))
        self.lib.ref_parse_pcap.restype = ctypes.c_int64
        self.lib.ref_parse_pcap.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        self.lib.ref_parse_pcap_into.restype = ctypes.c_int64
        self.lib.ref_parse_pcap_into.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int64]
        self.lib.ref_free.argtypes = [ctypes.c_void_p]
        self.dtype = c_record_dtype(self.lib)

    def parse_count(self, path):
        """Parse the file the way a standalone C program would (its own growing array, freed
        afterwards); returns the number of packets."""
        out = ctypes.c_void_p()
        n = self.lib.ref_parse_pcap(os.fsencode(path), ctypes.byref(out))
        self.lib.ref_free(out)
        if n < 0:
            raise OSError(-n, os.strerror(-n), str(path))
        return n

    def parse(self, path, capacity):
        """Parse into a new array of the C record (for comparisons, by field name)."""
        out = np.zeros(capacity, dtype=self.dtype)
        n = self.lib.ref_parse_pcap_into(os.fsencode(path), _ptr(out), capacity)
        if n < 0:
            raise OSError(-n, os.strerror(-n), str(path))
        return out[:n]


class CRingRef:
    """The C parser over frames at known offsets (bench/c/parse_ring_ref.c)."""

    def __init__(self, path=None):
        from fastpath.wire.record import FRAME_DTYPE
        self.lib = ctypes.CDLL(str(path or compile_c("parse_ring_ref")))
        self.lib.ref_parse_ring.restype = None
        self.lib.ref_parse_ring.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p,
                                            ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
        self.dtype = c_record_dtype(self.lib)
        if self.lib.ref_frame_size() != FRAME_DTYPE.itemsize:
            raise CompileError("bench/c/ref_parse.h ref_frame no longer matches FRAME_DTYPE")

    def records(self, n):
        return np.zeros(n, dtype=self.dtype)

    def parse(self, buf, index, out, base=0):
        """Parse ``index`` (FRAME_DTYPE) frames of ``buf`` (a uint8 numpy array) into ``out``
        (an array from ``records(n)``)."""
        assert buf.dtype == np.uint8 and buf.flags.c_contiguous
        assert out.dtype == self.dtype and out.shape[0] >= index.shape[0]
        self.lib.ref_parse_ring(_ptr(buf), buf.shape[0], _ptr(index), index.shape[0], base, _ptr(out))
        return out


class CCsumRef:
    """The C RFC 1071 checksum (bench/c/csum_ref.c)."""

    def __init__(self, path=None):
        self.lib = ctypes.CDLL(str(path or compile_c("csum_ref")))
        self.lib.ref_csum.restype = ctypes.c_uint16
        self.lib.ref_csum.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        self.lib.ref_csum_batch.restype = None
        self.lib.ref_csum_batch.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                            ctypes.c_int64, ctypes.c_void_p]
        self.lib.ref_csum_ns_per_call.restype = ctypes.c_double
        self.lib.ref_csum_ns_per_call.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int64]

    def csum(self, data):
        arr = np.frombuffer(data, dtype=np.uint8)
        return self.lib.ref_csum(_ptr(arr), arr.shape[0])

    def batch(self, buf, offsets, lengths, out):
        self.lib.ref_csum_batch(_ptr(buf), _ptr(offsets), _ptr(lengths), offsets.shape[0], _ptr(out))
        return out


def c_reference(cls):
    """An instance of a C reference class, or a skip that says why it cannot be built."""
    try:
        return cls()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    except CompileError as e:
        pytest.fail(str(e))


# ---------------------------------------------------------------- results board
TARGETS = {
    # key: (description, target, unit, higher is better)
    "parse_pcap_vs_c": ("batch parse of the pcap, fastpath / plain C", 0.8, "x", True),
    "parse_stream_vs_c": ("same, streaming (iter_parse, records dropped) / plain C", 0.8, "x", True),
    "parse_pcap_vs_dpkt": ("batch parse, fastpath / dpkt decoding to L4", 100.0, "x", True),
    "paired_pcap_vs_c": ("  paired rounds: parse_capture / plain C", 0.8, "x", True),
    "paired_stream_vs_c": ("  paired rounds: iter_parse / plain C", 0.8, "x", True),
    "paired_vs_dpkt": ("  paired rounds: parse_capture / dpkt", 100.0, "x", True),
    "ring_mpps": ("in-memory frames, offsets known, fastpath", 25.0, "Mpps", True),
    "paired_ring_vs_c": ("  paired rounds: parse_frames / C, offsets known", 1.0, "x", True),
    "csum_batch_gbps": ("checksum of 1500-byte buffers in a batch, in cache", 20.0, "GB/s", True),
    "csum_single_ns": ("one checksum call from Python, 1500 bytes", 250.0, "ns", False),
    "stream_rss_mb": ("streaming parse, peak RSS (largest capture)", 512.0, "MB", False),
}


class WireBoard:
    """Figures the wire benchmarks measured in this run, to compare at the end.

    Each timing figure is kept twice: from the median round (what RESULTS.md quotes) and from
    the fastest round (``best``), which on a shared, noisy machine is the closer estimate of
    the undisturbed speed. Ratios are formed median/median and best/best, never mixed."""

    def __init__(self):
        self.figures = {}

    def record(self, key, value, note="", best=None):
        self.figures[key] = (value, note, best)

    def get(self, key, best=False):
        v = self.figures.get(key)
        if v is None:
            return None
        return v[2] if best and v[2] is not None else v[0]

    def derived(self, best=False):
        out = {}

        def f(k):
            return self.get(k, best)

        if f("parse_pcap_fastpath_mpps") and f("parse_pcap_c_mpps"):
            out["parse_pcap_vs_c"] = f("parse_pcap_fastpath_mpps") / f("parse_pcap_c_mpps")
        if f("parse_pcap_stream_mpps") and f("parse_pcap_c_mpps"):
            out["parse_stream_vs_c"] = f("parse_pcap_stream_mpps") / f("parse_pcap_c_mpps")
        if f("parse_head_fastpath_kpps") and f("dpkt_kpps"):
            out["parse_pcap_vs_dpkt"] = f("parse_head_fastpath_kpps") / f("dpkt_kpps")
        if f("ring_fastpath_mpps"):
            out["ring_mpps"] = f("ring_fastpath_mpps")
        if f("csum_batch_l1_gbps") or f("csum_batch_l2_gbps"):
            out["csum_batch_gbps"] = max(f("csum_batch_l1_gbps") or 0, f("csum_batch_l2_gbps") or 0)
        if f("csum_single_1500_ns"):
            out["csum_single_ns"] = f("csum_single_1500_ns")
        if f("stream_rss_max_mb"):
            out["stream_rss_mb"] = f("stream_rss_max_mb")
        for k in ("paired_pcap_vs_c", "paired_stream_vs_c", "paired_ring_vs_c", "paired_vs_dpkt"):
            if f(k):
                out[k] = f(k)
        return out

    def lines(self):
        lines = [f"  {'figure':<32} {'median':>12} {'best':>12}  note"]
        for key in sorted(self.figures):
            value, note, best = self.figures[key]
            b = f"{best:12.4g}" if best is not None else " " * 12
            lines.append(f"  {key:<32} {value:>12.4g} {b}  {note}")
        med, best = self.derived(), self.derived(best=True)
        if med:
            lines.append("  targets (issue 2): median rounds [fastest rounds]")
            for key, (desc, target, unit, higher) in TARGETS.items():
                if key not in med:
                    lines.append(f"    {desc:<58} not measured")
                    continue
                v, vb = med[key], best.get(key, med[key])
                ok = v >= target if higher else v <= target
                okb = vb >= target if higher else vb <= target
                cmp = ">=" if higher else "<="
                lines.append(f"    {desc:<58} {v:9.3g} [{vb:9.3g}] {unit:<4} (target {cmp} {target:g}) "
                             f"{'MET' if ok else 'MISSED'} [{'MET' if okb else 'MISSED'}]")
        return lines


_BOARD = WireBoard()


@pytest.fixture(scope="session")
def wire_board():
    return _BOARD


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _BOARD.figures:
        return
    terminalreporter.section("wire benchmarks: figures and ratios (same run)")
    for line in _BOARD.lines():
        terminalreporter.write_line(line)
    DATA.mkdir(parents=True, exist_ok=True)
    payload = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "packets": bench_packets(),
        "seed": bench_seed(),
        "figures": {k: v[0] for k, v in _BOARD.figures.items()},
        "best": {k: v[2] for k, v in _BOARD.figures.items() if v[2] is not None},
        "notes": {k: v[1] for k, v in _BOARD.figures.items() if v[1]},
        "derived": _BOARD.derived(),
        "derived_best": _BOARD.derived(best=True),
    }
    (DATA / "wire-results.json").write_text(json.dumps(payload, indent=2) + "\n")


def paired_ratio(fast, ref, rounds=11):
    """Median over rounds of time(ref) / time(fast), the two run back to back in ABBA order.

    On a shared machine the load drifts between a benchmark of A and a later benchmark of B;
    timing them in alternation and taking the ratio per pair cancels most of that drift.
    Returns (median ratio, list of ratios)."""
    ratios = []
    for i in range(rounds):
        order = (fast, ref) if i % 2 == 0 else (ref, fast)
        t = {}
        for fn in order:
            t0 = time.perf_counter()
            fn()
            t[fn] = time.perf_counter() - t0
        ratios.append(t[ref] / t[fast])
    ratios.sort()
    return ratios[len(ratios) // 2], ratios


# ---------------------------------------------------------------- collection
def pytest_collect_file(file_path, parent):
    # Benchmark files are named bench_*.py (pytest's default pattern is test_*.py).
    # Files named on the command line, or matched by a python_files pattern, are collected by
    # pytest itself.
    import fnmatch
    if parent.session.isinitpath(file_path):
        return None
    if any(fnmatch.fnmatch(file_path.name, pat) for pat in parent.config.getini("python_files")):
        return None
    if file_path.suffix == ".py" and file_path.name.startswith("bench_") and BENCH in file_path.parents:
        return pytest.Module.from_parent(parent, path=file_path)
    return None


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def bench_lib():
    """This module, for benchmark files: pytest imports conftest files under their own names
    (``--import-mode=importlib``), so ``from conftest import ...`` would not find it."""
    return sys.modules[__name__]


@pytest.fixture(scope="session")
def bench_capture():
    """The cached benchmark capture (pcap), FASTPATH_BENCH_PACKETS packets."""
    return synth_capture()


@pytest.fixture(scope="session")
def bench_frames(bench_capture):
    """The benchmark capture in memory: (uint8 array of the whole file, FRAME_DTYPE index with
    data_off = offset in that array). What a ring-buffer backend would hand the parser."""
    data = np.fromfile(bench_capture, dtype=np.uint8)
    return data, pcap_index(data)
