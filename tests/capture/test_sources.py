"""Where the bytes come from: mapped files, read buffers, pipes, standard input, gzip, buffers in
memory. Every source gives the same rows and frames; chunk buffers a caller keeps are never
overwritten; memory stays bounded; broken streams keep their good records."""
import gzip
import io
import os
import subprocess
import sys
import textwrap
import shutil
import threading

import numpy as np
import pytest

from capfiles import epb, idb, pcap_file, shb
from fastpath.capture import open_capture
from fastpath.capture.reader import describe_content
from fastpath.errors import CaptureError, ConfigError
from support import PROJECT, is_linux

PY = sys.executable


def make_packets(n, seed=1):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, 1600, n)
    return [(rng.integers(0, 256, int(s), dtype=np.uint8).tobytes(), 1_600_000_000 + i, i * 7)
            for i, s in enumerate(sizes)]


PKTS = make_packets(500)
PCAP = pcap_file(PKTS)
PCAPNG = shb() + idb(1, 0) + idb(101, 0) + b"".join(
    epb(i % 2, (1_600_000_000 + i) * 10**6, d) for i, (d, _, _) in enumerate(PKTS))


def collect(reader, **kw):
    """[(ts_ns, caplen, wirelen, linktype, iface, frame bytes)] and the chunks' first_records."""
    out, firsts = [], []
    for chunk in reader.chunks(**kw):
        firsts.append(chunk.first_record)
        buf = chunk.buffer
        for row in chunk.index.tolist():
            ts, off, caplen, wirelen, lt, iface, _ = row
            start = off - chunk.base
            out.append((ts, caplen, wirelen, lt, iface, bytes(buf[start:start + caplen])))
    return out, firsts


def expected(data):
    with open_capture(data) as r:
        return collect(r)[0]


@pytest.fixture(params=["pcap", "pcapng"])
def capture(request, tmp_path):
    data = PCAP if request.param == "pcap" else PCAPNG
    p = tmp_path / f"c.{request.param}"
    p.write_bytes(data)
    return p, data


def test_mapped_and_read_files_agree(capture):
    path, data = capture
    want = expected(data)
    assert len(want) == 500 and want[0][5] == PKTS[0][0]
    for kw in ({}, {"mmap": True}, {"mmap": False}):
        with open_capture(path, **kw) as r:
            assert collect(r)[0] == want


@pytest.mark.parametrize("max_packets,max_bytes", [(1, 1), (7, 3000), (64, 1 << 20), (1000, 100)])
def test_every_window_size_gives_the_same_rows(capture, max_packets, max_bytes):
    path, data = capture
    want = expected(data)
    for kw in ({"mmap": True}, {"mmap": False}):
        with open_capture(path, **kw) as r:
            got, firsts = collect(r, max_packets=max_packets, max_bytes=max_bytes)
        assert got == want
        assert firsts[0] == 1 and all(b > a for a, b in zip(firsts, firsts[1:]))


def test_gzip_is_detected_by_content_not_name(capture, tmp_path):
    path, data = capture
    gz = tmp_path / "no-suffix"
    gz.write_bytes(gzip.compress(data))
    with open_capture(gz) as r:
        assert r.compression == "gzip" and r.format == capture[0].suffix[1:]
        assert collect(r, max_bytes=5000)[0] == expected(data)
        assert r.position == gz.stat().st_size
    plain = tmp_path / "plain.pcap.gz"
    plain.write_bytes(data)         # named .gz, but not compressed
    with open_capture(plain) as r:
        assert r.compression is None and collect(r)[0] == expected(data)


def test_multi_member_gzip_and_trailing_zeros(tmp_path):
    half = len(PCAP) // 2
    p = tmp_path / "m.gz"
    p.write_bytes(gzip.compress(PCAP[:half]) + gzip.compress(PCAP[half:]) + bytes(100))
    with open_capture(p) as r:
        assert collect(r, max_bytes=4096)[0] == expected(PCAP)


def test_truncated_gzip_keeps_the_records_before_the_cut(tmp_path):
    z = gzip.compress(PCAP)
    p = tmp_path / "t.gz"
    p.write_bytes(z[: len(z) * 2 // 3])
    got = []
    with open_capture(p) as r:
        with pytest.raises(CaptureError) as e:
            for chunk in r.chunks(max_bytes=2048):
                got.extend(chunk.frame(i) for i in range(len(chunk)))
    assert "gzip data ends early" in str(e.value) and str(p) in str(e.value)
    assert 0 < len(got) < 500 and got == [d for d, _, _ in PKTS[:len(got)]]


def test_corrupt_gzip_is_named(tmp_path):
    z = bytearray(gzip.compress(PCAP))
    z[len(z) // 2:len(z) // 2 + 8] = b"\xff" * 8
    p = tmp_path / "c.gz"
    p.write_bytes(bytes(z))
    got = []
    with open_capture(p) as r:
        with pytest.raises(CaptureError) as e:
            for chunk in r.chunks(max_bytes=2048):
                got.extend(chunk.frame(i) for i in range(len(chunk)))
    # gzip checks its CRC at the end of the member: the error names the gzip corruption even
    # when the garbage it inflated to broke a record first. Frames well before it are intact.
    assert "gzip data is corrupt" in str(e.value)
    assert len(got) > 100 and got[:100] == [d for d, _, _ in PKTS[:100]]


def test_garbage_after_the_gzip_stream(tmp_path):
    p = tmp_path / "g.gz"
    p.write_bytes(gzip.compress(PCAP) + b"not gzip at all")
    with open_capture(p) as r:
        with pytest.raises(CaptureError, match="not gzip follows"):
            collect(r)


def test_gzip_in_memory(capture):
    _, data = capture
    z = gzip.compress(data)
    for src in (z, bytearray(z), memoryview(z)):
        with open_capture(src) as r:
            assert r.compression == "gzip" and collect(r, max_bytes=5000)[0] == expected(data)


def test_gzip_of_nothing_is_an_empty_capture(tmp_path):
    p = tmp_path / "e.gz"
    p.write_bytes(gzip.compress(b""))
    with open_capture(p) as r:
        assert r.format == "empty" and r.compression == "gzip" and collect(r)[0] == []


def test_file_objects_and_buffers(capture):
    path, data = capture
    want = expected(data)
    for src in (io.BytesIO(data), open(path, "rb"), open(path, "rb", buffering=0),
                bytearray(data), memoryview(data), np.frombuffer(data, np.uint8)):
        with open_capture(src) as r:
            assert collect(r, max_bytes=10000)[0] == want
        if hasattr(src, "close"):
            src.close()


def test_pipe_from_another_process(capture):
    path, data = capture
    proc = subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE)
    with proc.stdout, open_capture(proc.stdout, name="cat") as r:
        assert r.size is None and collect(r, max_bytes=8192)[0] == expected(data)
    proc.wait()


@pytest.mark.skipif(not is_linux(), reason="uses /dev/fd and mkfifo semantics of Linux")
def test_named_pipe(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "wb") as f:
            for i in range(0, len(PCAP), 777):
                f.write(PCAP[i:i + 777])

    t = threading.Thread(target=feed)
    t.start()
    with open_capture(fifo) as r:
        got = collect(r)[0]
    t.join()
    assert got == expected(PCAP)


def test_standard_input_as_dash(tmp_path):
    gz = tmp_path / "in.gz"
    gz.write_bytes(gzip.compress(PCAPNG))
    code = textwrap.dedent("""
        from fastpath.capture import open_capture
        with open_capture("-") as r:
            n = sum(len(c) for c in r.chunks(max_bytes=4096))
            print(r.path, r.format, r.compression, n)
    """)
    with open(gz, "rb") as f:
        out = subprocess.run([PY, "-c", code], stdin=f, capture_output=True, text=True,
                             cwd=PROJECT, check=True).stdout.split()
    assert out == ["<stdin>", "pcapng", "gzip", "500"]


def test_kept_chunks_are_never_overwritten(capture):
    path, data = capture
    want = expected(data)
    for kw in ({"mmap": False}, {"mmap": True}):
        with open_capture(path, **kw) as r:
            kept = list(r.chunks(max_packets=16, max_bytes=4096))
        got = []
        for chunk in kept:
            for i in range(len(chunk)):
                got.append(chunk.frame(i))
        assert got == [w[5] for w in want]


def test_read_buffers_are_recycled_when_chunks_are_dropped(capture):
    path, data = capture
    with open_capture(path, mmap=False) as r:
        owners = set()
        n = 0
        for chunk in r.chunks(max_packets=8, max_bytes=2048):
            owners.add(id(chunk.buffer.obj))
            n += 1
    assert n > 50 and len(owners) <= 3


def test_read_all_of_every_source_agrees(capture, tmp_path):
    path, data = capture
    want = expected(data)
    gz = tmp_path / "x.gz"
    gz.write_bytes(gzip.compress(data))
    for src, kw in ((path, {}), (path, {"mmap": False}), (gz, {}), (io.BytesIO(data), {})):
        with open_capture(src, **kw) as r:
            buf, ix = r.read_all(max_bytes=3000)
        got = [bytes(buf[o:o + c]) for o, c in zip(ix["data_off"].tolist(),
                                                     ix["caplen"].tolist())]
        assert got == [w[5] for w in want]
        assert ix["ts_ns"].tolist() == [w[0] for w in want]


def test_closing_keeps_chunks_the_caller_holds(capture):
    path, data = capture
    r = open_capture(path)
    first = next(iter(r.chunks(max_packets=4)))
    r.close()
    assert first.frame(0) == PKTS[0][0]
    with pytest.raises(ValueError, match="closed"):
        r.chunks()


def test_closing_in_the_middle_stops_the_iteration(capture):
    path, _ = capture
    r = open_capture(path, mmap=False)
    it = r.chunks(max_packets=4, max_bytes=100)
    next(it)
    r.close()
    with pytest.raises(ValueError, match="closed"):
        next(it)


@pytest.mark.parametrize("head,what", [
    (b"", "empty"), (b"PK\x03\x04xxxx", "zip archive"), (b"BZh91AY", "bzip2"),
    (b"\xfd7zXZ\x00\x00", "xz"), (b"\x28\xb5\x2f\xfd\x00", "zstd"),
    (b"\xa1\xb2\xcd\x34" + bytes(20), "Kuznetsov"), (b"snoop\0\0\0\0\0\0\2", "snoop"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n", "text"), (b"\x7fELF\x02\x01", "ELF"),
    (b"\x0a\x0d\x0a\x4d\x3c\x2b\x1a", "text-mode"), (b"\x01\x02", "only 2 byte"),
    (b"\x00\x11\x22\x33\x44\x55\x66", "unknown magic number 0x00112233"),
])
def test_what_a_non_capture_looks_like(head, what):
    assert what in describe_content(head, len(head))


@pytest.mark.parametrize("data,what", [
    (b"PK\x03\x04" + bytes(100), "zip archive"),
    (b"<html><body>not found</body></html>\n", "text"),
    (b"\x1f\x8b" + b"garbage" * 10, "gzip data is corrupt"),
    (gzip.compress(b"hello world, not a capture"), "after gzip decompression"),
    (b"\xd4\xc3", "ends inside the capture header"),
])
def test_not_a_capture_is_a_clear_error_at_open(tmp_path, data, what):
    p = tmp_path / "x.pcap"
    p.write_bytes(data)
    with pytest.raises(CaptureError) as e:
        open_capture(p)
    assert what in str(e.value) and str(p) in str(e.value)


def test_missing_file_directory_and_bad_arguments(tmp_path):
    with pytest.raises(CaptureError, match="no such file"):
        open_capture(tmp_path / "missing.pcap")
    with pytest.raises(CaptureError, match="is a directory"):
        open_capture(tmp_path)
    with pytest.raises(ConfigError, match="needs a path"):
        open_capture(12)
    (tmp_path / "t.pcap").write_bytes(PCAP)
    with open(tmp_path / "t.pcap") as text:
        with pytest.raises(ConfigError, match="binary mode"):
            open_capture(text)
    with open_capture(PCAP) as r:
        with pytest.raises(ConfigError, match="max_packets"):
            r.chunks(max_packets=0)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path):
    p = tmp_path / "secret.pcap"
    p.write_bytes(PCAP)
    p.chmod(0)
    with pytest.raises(CaptureError, match="permission denied"):
        open_capture(p)


def test_interrupted_stream_keeps_the_good_records():
    class Flaky(io.RawIOBase):
        def __init__(self):
            self.left = len(PCAP) // 2
            self.pos = 0

        def readable(self):
            return True

        def readinto(self, b):
            if self.left <= 0:
                raise OSError(5, "Input/output error")
            n = min(len(b), self.left, 1000)
            b[:n] = PCAP[self.pos:self.pos + n]
            self.pos += n
            self.left -= n
            return n

    got = []
    with open_capture(Flaky(), name="flaky") as r:
        with pytest.raises(CaptureError) as e:
            for chunk in r.chunks(max_bytes=2000):
                got.extend(chunk.frame(i) for i in range(len(chunk)))
    assert "read error" in str(e.value) and "Input/output error" in str(e.value)
    assert 0 < len(got) and got == [d for d, _, _ in PKTS[:len(got)]]


# ------------------------------------------------------------------------------ bounded memory
# The peak is the child's VmHWM: unlike getrusage's ru_maxrss, which keeps the high-water mark of
# the (large) pytest process the child was forked from, it starts afresh at exec.
_RSS_SCRIPT = textwrap.dedent("""
    import sys, numpy as np
    from fastpath.capture import open_capture, reader
    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024
    path, mode = sys.argv[1], sys.argv[2]
    if mode == "mmap-nodrop":        # the same read without dropping pages: must grow
        del reader._mmap.MADV_DONTNEED
    start = status("VmRSS")
    n = 0
    total = 0
    with open_capture(path, mmap=mode.startswith("mmap")) as r:
        for chunk in r.chunks(max_bytes=8 << 20):
            # Touch the frame bytes, as a parser would.
            total += int(np.frombuffer(chunk.buffer, np.uint8)[::512].sum())
            n += len(chunk)
    print(n, status("VmHWM") - start)
""")


@pytest.fixture(scope="module")
def big_capture(tmp_path_factory):
    """A 192 MiB pcap made by repeating 1514-byte frames (written once per test module)."""
    p = tmp_path_factory.mktemp("big") / "big.pcap"
    rec = pcap_file([(bytes(range(256)) * 5 + bytes(234), 1_600_000_000, 0)])[24:]
    block = rec * 4096
    reps = (192 << 20) // len(block)
    with open(p, "wb") as f:
        f.write(pcap_file([]))
        for _ in range(reps):
            f.write(block)
    return p, reps * 4096


@pytest.mark.skipif(not os.path.exists("/proc/self/status"),
                    reason="reads the child's peak from /proc/self/status (VmHWM), Linux only")
@pytest.mark.parametrize("mode", ["mmap", "read", "gzip"])
def test_peak_memory_is_bounded_by_the_chunk_not_the_file(big_capture, mode, tmp_path):
    path, count = big_capture
    if mode == "gzip":
        gz = tmp_path / "big.pcap.gz"
        with open(path, "rb") as src, gzip.open(gz, "wb", compresslevel=1) as dst:
            shutil.copyfileobj(src, dst, 8 << 20)
        path = gz

    def peak_growth(m):
        out = subprocess.run([PY, "-c", _RSS_SCRIPT, str(path), m], capture_output=True,
                             text=True, cwd=PROJECT, check=True).stdout.split()
        assert int(out[0]) == count
        return int(out[1])

    grown = peak_growth(mode)
    # A 192 MiB file read in 8 MiB chunks: resident memory grows by a few chunks at most.
    assert grown < 64, f"peak RSS grew by {grown} MiB reading a 192 MiB capture ({mode})"
    if mode == "mmap":
        # The measurement can tell: without dropping pages the mapping stays resident.
        assert peak_growth("mmap-nodrop") > 150
