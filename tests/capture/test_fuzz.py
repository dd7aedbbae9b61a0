"""Property tests: whatever the bytes, the readers never crash or hang, and always either read or
raise CaptureError -- and they read exactly what the reference reader (capfiles.ref_read, written
from the format drafts in plain Python) reads, with the error at the same record and offset.

This is the short run CI does; ``tools/fuzz_capture.py`` runs the same comparison under atheris
for as long as you like.
"""
import gzip
import io
import os

from hypothesis import HealthCheck, assume, example, given, settings, strategies as st

import capfiles
from capfiles import block, epb, idb, opb, option, pcap_header, pcap_record, shb, spb
from fastpath.capture import open_capture
from fastpath.errors import CaptureError

# A few seconds in CI; FASTPATH_FUZZ_EXAMPLES=100000 for a long local run.
EXAMPLES = int(os.environ.get("FASTPATH_FUZZ_EXAMPLES", "400"))
FAST = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

u32 = st.integers(0, 2**32 - 1)
frames = st.binary(max_size=300)


@st.composite
def pcap_files(draw):
    big = draw(st.booleans())
    parts = [pcap_header(linktype=draw(u32), snaplen=draw(u32), ns=draw(st.booleans()), big=big)]
    for _ in range(draw(st.integers(0, 8))):
        data = draw(frames)
        parts.append(pcap_record(data, draw(u32), draw(u32), wirelen=draw(u32), big=big))
    return b"".join(parts)


@st.composite
def pcapng_files(draw):
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        big = draw(st.booleans())
        opts = option(4, draw(st.binary(max_size=20)), big) if draw(st.booleans()) else b""
        parts.append(shb(big, options=opts))
        snaps = []
        for _ in range(draw(st.integers(0, 3))):
            snap = draw(st.sampled_from([0, 64, 1500, 65535, 262144, 2**31]))
            snaps.append(snap)
            parts.append(idb(draw(st.integers(0, 0xFFFF)), snap, big,
                             tsresol=draw(st.none() | st.integers(0, 255)),
                             tsoffset=draw(st.none() | st.integers(-(2**63), 2**63 - 1))))
        for _ in range(draw(st.integers(0, 6))):
            kind = draw(st.sampled_from(["epb", "opb", "spb", "other"]))
            data = draw(frames)
            if kind == "other":
                parts.append(block(draw(st.sampled_from([4, 5, 7, 9, 0xA, 0xBAD, 0x80000000])),
                                   data, big))
            elif not snaps:
                continue
            elif kind == "spb":
                snap = snaps[0]
                caplen = min(len(data), snap) if snap else len(data)
                parts.append(spb(data[:caplen], wirelen=len(data), big=big))
            else:
                ifid = draw(st.integers(0, len(snaps) - 1))
                ticks = draw(st.integers(0, 2**64 - 1))
                if kind == "epb":
                    parts.append(epb(ifid, ticks, data, wirelen=draw(u32), big=big))
                else:
                    parts.append(opb(ifid, ticks, data, wirelen=draw(u32), big=big))
    return b"".join(parts)


captures = pcap_files() | pcapng_files()


def outcome(data, max_packets=65536, max_bytes=1 << 20, **kw):
    """(rows, (offset, record) or None) as fastpath reads ``data``."""
    rows = []
    try:
        with open_capture(data, **kw) as r:
            for chunk in r.chunks(max_packets=max_packets, max_bytes=max_bytes):
                rows.extend(tuple(x[:6]) for x in chunk.index.tolist())
                assert chunk.first_record == len(rows) - len(chunk) + 1
    except CaptureError as e:
        assert e.offset is not None and str(e)
        return rows, (e.offset, e.record)
    return rows, None


def reference(data):
    if not data:
        return [], None
    rows, err = capfiles.ref_read(data)
    return rows, (None if err is None else (err.offset, err.record))


@FAST
@given(captures)
def test_valid_files_read_as_the_reference_reads_them(data):
    rows, err = outcome(data)
    assert err is None
    assert (rows, err) == reference(data)


@FAST
@given(captures, st.integers(1, 9), st.integers(1, 600))
def test_any_chunking_and_any_source_give_the_same_answer(data, max_packets, max_bytes):
    want = outcome(data)
    assert outcome(data, max_packets, max_bytes) == want
    assert outcome(io.BytesIO(data), max_packets, max_bytes) == want


@FAST
@given(captures, st.data())
def test_any_truncation_keeps_the_packets_before_the_cut(data, draw):
    cut = draw.draw(st.integers(0, len(data)))
    got = outcome(data[:cut])
    assert got == reference(data[:cut])
    full_rows = outcome(data)[0]
    assert got[0] == full_rows[:len(got[0])]


@FAST
@given(captures, st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1,
                          max_size=6))
def test_any_corruption_is_read_or_named_like_the_reference(data, edits):
    buf = bytearray(data)
    for pos, value in edits:
        buf[pos % len(buf)] = value
    assume(bytes(buf[:4]) in (data[:4],))      # keep the magic: otherwise it is not a capture
    assert outcome(bytes(buf)) == reference(bytes(buf))


@FAST
@given(st.sampled_from([b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                        b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a"]), st.binary(max_size=400))
@example(b"\x0a\x0d\x0d\x0a", b"")
@example(b"\xd4\xc3\xb2\xa1", b"\x02\x00\x04\x00" + bytes(16))
def test_arbitrary_bytes_after_a_magic(magic, rest):
    data = magic + rest
    assert outcome(data) == reference(data)


@FAST
@given(st.binary(max_size=200))
def test_arbitrary_bytes_read_or_raise(data):
    try:
        with open_capture(data) as r:
            for _ in r.chunks():
                pass
    except CaptureError as e:
        assert e.path == "<buffer>" and e.offset is not None


@settings(max_examples=max(EXAMPLES // 4, 20), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(captures, st.data())
def test_gzip_of_anything_cut_anywhere(data, draw):
    z = gzip.compress(data)
    cut = draw.draw(st.integers(2, len(z)))
    try:
        rows, err = outcome(io.BytesIO(z[:cut]), 3, 100)
    except CaptureError:
        return                  # named at open (e.g. cut inside the gzip header)
    if cut == len(z):
        assert (rows, err) == reference(data)
    else:
        assert rows == reference(data)[0][:len(rows)]
