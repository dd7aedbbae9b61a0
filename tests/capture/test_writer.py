"""Writing pcap and pcapng: golden bytes, round trips through the reader for every variant,
write_batch from a reader's chunks, argument checks that leave the file untouched, and files that
tshark and tcpdump read back with the same packets, timestamps and bytes."""
import io
import json
import re
import subprocess

import numpy as np
import pytest

from capfiles import idb, ref_read, shb
from fastpath.capture import PcapngWriter, PcapWriter, open_capture
from fastpath.errors import ConfigError
from fastpath.wire.record import FRAME_DTYPE
from support import needs_tool

ARP = bytes.fromhex("ffffffffffff0011223344550806" "0001080006040001" "001122334455c0a80001"
                    "000000000000c0a80002")
T0 = 1_700_000_000_123_456_789

FRAMES = [ARP, ARP[:14] + bytes(range(100)), bytes(60), ARP[:30]]
TIMES = [T0, T0 + 1, T0 + 1_000_000_007, T0 + 86_400 * 10**9]


def written(cls, *args, **kw):
    f = io.BytesIO()
    with cls(f, *args, **kw) as w:
        for frame, ts in zip(FRAMES, TIMES):
            w.write(frame, ts)
    return f.getvalue(), w


def read_back(data):
    with open_capture(data) as r:
        buf, ix = r.read_all()
        return r, [bytes(buf[o:o + c]) for o, c in zip(ix["data_off"].tolist(),
                                                         ix["caplen"].tolist())], ix


# ------------------------------------------------------------------------------ golden bytes
def test_pcap_golden_bytes():
    f = io.BytesIO()
    with PcapWriter(f, linktype=1, snaplen=65535) as w:
        w.write(ARP[:4], 16_500_000_999)            # microseconds: the ns remainder is dropped
    assert f.getvalue() == bytes.fromhex(
        "d4c3b2a1" "0200" "0400" "00000000" "00000000" "ffff0000" "01000000"
        "10000000" "20a10700" "04000000" "04000000" "ffffffff")


def test_pcap_golden_bytes_big_endian_nanoseconds():
    f = io.BytesIO()
    with PcapWriter(f, linktype=101, snaplen=1500, nanosecond=True, byteorder="big") as w:
        w.write(b"\x45", 16_500_000_999, wirelen=20)
    assert f.getvalue() == bytes.fromhex(
        "a1b23c4d" "0002" "0004" "00000000" "00000000" "000005dc" "00000065"
        "00000010" "1dcd68e7" "00000001" "00000014" "45")


def test_pcapng_golden_bytes():
    f = io.BytesIO()
    with PcapngWriter(f, interfaces=[(1, 65535)], application="x") as w:
        w.write(ARP[:5], 1000)
    shb = bytes.fromhex("0a0d0d0a" "28000000" "4d3c2b1a" "0100" "0000" "ffffffffffffffff"
                        "0400" "0100" "78000000" "00000000" "28000000")     # shb_userappl "x"
    idb = bytes.fromhex("01000000" "20000000" "0100" "0000" "ffff0000"
                        "0900" "0100" "09000000" "00000000" "20000000")     # if_tsresol 9
    epb = bytes.fromhex("06000000" "28000000" "00000000" "00000000" "e8030000" "05000000"
                        "05000000") + ARP[:5] + b"\0\0\0" + bytes.fromhex("28000000")
    assert f.getvalue() == shb + idb + epb


def test_pcapng_writer_blocks_match_the_hand_built_ones():
    f = io.BytesIO()
    with PcapngWriter(f, interfaces=[(113, 0, 1000)], byteorder="big", application="") as w:
        pass
    expect_shb_len = 28 + 4 + 4          # an empty shb_userappl option, then opt_endofopt
    data = f.getvalue()
    assert data[expect_shb_len:] == idb(113, 0, big=True, tsresol=6)


# ------------------------------------------------------------------------------ round trips
@pytest.mark.parametrize("byteorder", ["little", "big"])
@pytest.mark.parametrize("ns", [False, True], ids=["us", "ns"])
def test_pcap_round_trip(byteorder, ns):
    data, w = written(PcapWriter, linktype=1, nanosecond=ns, byteorder=byteorder)
    r, frames, ix = read_back(data)
    assert r.format == "pcap" and r.byteorder == byteorder and r.nanosecond == ns
    assert frames == FRAMES and w.packets == 4
    unit = 1 if ns else 1000
    assert ix["ts_ns"].tolist() == [t // unit * unit for t in TIMES]
    assert ix["wirelen"].tolist() == [len(f) for f in FRAMES]


@pytest.mark.parametrize("byteorder", ["little", "big"])
@pytest.mark.parametrize("res", [1, 1000, 10**6, 10**9])
def test_pcapng_round_trip(byteorder, res):
    data, w = written(PcapngWriter, interfaces=[(1, 0, res)], byteorder=byteorder)
    r, frames, ix = read_back(data)
    assert r.format == "pcapng" and r.byteorder == byteorder
    assert r.interfaces == [(1, 0, float(res))]
    assert frames == FRAMES
    assert ix["ts_ns"].tolist() == [t // res * res for t in TIMES]


def test_pcapng_sections_interfaces_and_link_types():
    f = io.BytesIO()
    with PcapngWriter(f, interfaces=[(1, 0), (101, 0)]) as w:
        w.write(ARP, 1, iface=0)
        w.write(ARP[14:], 2, iface=1)
        assert w.add_interface(113, 200, 1000) == 2
        w.write(ARP, 3_000, iface=2, wirelen=99)
        w.new_section([(228, 0)], byteorder="big")
        w.write(ARP[14:], 4, iface=0)
        assert w.sections == 2 and w.interfaces == [(228, 0, 1.0)]
    data = f.getvalue()
    r, frames, ix = read_back(data)
    assert ix["linktype"].tolist() == [1, 101, 113, 228]
    assert ix["iface"].tolist() == [0, 1, 2, 3]
    assert ix["ts_ns"].tolist() == [1, 2, 3000, 4]
    assert ix["wirelen"].tolist() == [42, 28, 99, 28]
    assert frames == [ARP, ARP[14:], ARP, ARP[14:]]
    # The independent reference reader agrees on every row.
    rows, err = ref_read(data)
    assert err is None and [r[0] for r in rows] == [1, 2, 3000, 4]


def test_snaplen_cuts_frames_and_keeps_the_wire_length():
    f = io.BytesIO()
    with PcapWriter(f, snaplen=20) as w:
        w.write(ARP, 5)
        w.write(ARP[:10], 6)
    _, frames, ix = read_back(f.getvalue())
    assert frames == [ARP[:20], ARP[:10]] and ix["wirelen"].tolist() == [42, 10]
    g = io.BytesIO()
    with PcapngWriter(g, interfaces=[(1, 20)]) as w:
        w.write(ARP, 5)
    _, frames, ix = read_back(g.getvalue())
    assert frames == [ARP[:20]] and ix["wirelen"].tolist() == [42]


def test_write_batch_copies_a_chunk(tmp_path):
    pkts = [(bytes([i % 256]) * (20 + i), T0 + i * 977) for i in range(300)]
    src = tmp_path / "src.pcap"
    with PcapWriter(src, nanosecond=True) as w:
        for frame, ts in pkts:
            w.write(frame, ts)
    for cls, kw in ((PcapWriter, {"nanosecond": True}), (PcapngWriter, {"interfaces": [(1, 0)]})):
        dst = tmp_path / f"dst-{cls.__name__}"
        with open_capture(src) as r, cls(dst, **kw) as w:
            for chunk in r.chunks(max_packets=64):
                w.write_batch(chunk.buffer, chunk.index, chunk.base)
        assert w.packets == 300
        with open_capture(dst) as r:
            got = [(p.data, p.ts_ns) for p in r.packets()]
        assert got == pkts


def test_write_batch_of_a_burst_with_base_zero():
    buf = bytearray(ARP + bytes(18) + ARP[::-1])
    ix = np.zeros(2, FRAME_DTYPE)
    ix["data_off"] = [0, 60]
    ix["caplen"] = [42, 42]
    ix["wirelen"] = [42, 64]
    ix["ts_ns"] = [10, 20]
    ix["linktype"] = 1
    f = io.BytesIO()
    with PcapWriter(f, nanosecond=True) as w:
        w.write_batch(buf, ix)
        w.write_batch(buf, ix[:0])
    _, frames, got = read_back(f.getvalue())
    assert frames == [ARP, ARP[::-1]] and got["wirelen"].tolist() == [42, 64]


def test_large_batches_cross_the_output_buffer():
    frame = bytes(range(256)) * 6
    n = 3000                         # ~4.6 MB: several flushes of the 1 MiB buffer
    buf = frame * n
    ix = np.zeros(n, FRAME_DTYPE)
    ix["data_off"] = np.arange(n) * len(frame)
    ix["caplen"] = ix["wirelen"] = len(frame)
    ix["ts_ns"] = np.arange(n) * 1000
    ix["linktype"] = 1
    for cls in (PcapWriter, PcapngWriter):
        f = io.BytesIO()
        with cls(f) as w:
            w.write_batch(buf, ix)
        _, frames, got = read_back(f.getvalue())
        assert len(frames) == n and all(fr == frame for fr in frames)
        assert got["ts_ns"].tolist() == ix["ts_ns"].tolist()


# ------------------------------------------------------------------------------ argument checks
@pytest.mark.parametrize("kw,what", [
    ({"linktype": 70000}, "16-bit"), ({"linktype": -1}, "16-bit"),
    ({"snaplen": 0}, "snaplen 0"), ({"snaplen": 262145}, "262145"),
    ({"byteorder": "middle"}, "byteorder"),
])
def test_pcap_writer_rejects_bad_configuration(kw, what, tmp_path):
    with pytest.raises(ConfigError, match=what):
        PcapWriter(tmp_path / "x.pcap", **kw)
    assert not (tmp_path / "x.pcap").exists()


def test_pcap_timestamps_outside_the_format_are_refused():
    f = io.BytesIO()
    with PcapWriter(f) as w:
        with pytest.raises(ConfigError, match="1970 to 2106"):
            w.write(ARP, -1)
        with pytest.raises(ConfigError, match="1970 to 2106"):
            w.write(ARP, 2**32 * 10**9)
        w.write(ARP, 2**32 * 10**9 - 1)
        with pytest.raises(ConfigError, match="wirelen"):
            w.write(ARP, 0, wirelen=2**32)
    assert len(read_back(f.getvalue())[1]) == 1


def test_pcapng_writer_checks():
    f = io.BytesIO()
    with pytest.raises(ConfigError, match="power of ten"):
        PcapngWriter(f, interfaces=[(1, 0, 3)])
    with pytest.raises(ConfigError, match="at least one interface"):
        PcapngWriter(f, interfaces=[])
    with pytest.raises(ConfigError, match=r"\(linktype, snaplen\)"):
        PcapngWriter(f, interfaces=[(1,)])
    with PcapngWriter(f) as w:
        with pytest.raises(ConfigError, match="interface 1 is not defined"):
            w.write(ARP, 0, iface=1)
        with pytest.raises(ConfigError, match="1970"):
            w.write(ARP, -5)


def test_write_batch_rejects_bad_rows_and_writes_nothing():
    buf = ARP * 2
    ix = np.zeros(2, FRAME_DTYPE)
    ix["data_off"] = [0, 42]
    ix["caplen"] = 42
    ix["linktype"] = 1
    f = io.BytesIO()
    with PcapWriter(f) as w:
        w.flush()
        size = len(f.getvalue())
        bad = ix.copy()
        bad["data_off"][1] = 43
        with pytest.raises(ConfigError, match="index row 1: .* outside the buffer of 84 bytes"):
            w.write_batch(buf, bad)
        bad = ix.copy()
        bad["linktype"][1] = 113
        with pytest.raises(ConfigError, match="link type 113 differs"):
            w.write_batch(buf, bad)
        with pytest.raises(ConfigError, match="data_off 0 \\(base 5\\)"):
            w.write_batch(buf, ix, base=5)
        with pytest.raises(ConfigError, match="FRAME_DTYPE"):
            w.write_batch(buf, np.zeros(2))
        w.flush()
        assert len(f.getvalue()) == size and w.packets == 0
    g = io.BytesIO()
    with PcapngWriter(g, interfaces=[(1, 0)]) as w:
        bad = ix.copy()
        bad["iface"][0] = 3
        with pytest.raises(ConfigError, match="interface 3 is not defined"):
            w.write_batch(buf, bad)


def test_closed_writer_refuses_writes_and_close_is_idempotent(tmp_path):
    w = PcapWriter(tmp_path / "c.pcap")
    w.write(ARP, 1)
    w.close()
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.write(ARP, 2)
    assert read_back((tmp_path / "c.pcap").read_bytes())[1] == [ARP]


def test_writer_into_a_caller_file_does_not_close_it():
    f = io.BytesIO()
    with PcapWriter(f) as w:
        w.write(ARP, 1)
    assert not f.closed and len(f.getvalue()) == 24 + 16 + 42


# ------------------------------------------------------------------------------ tshark, tcpdump
def _tshark_packets(path):
    """(ts_ns, frame.len, frame.cap_len, bytes, interface id, section number) per packet."""
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-T", "json", "-x", "-j", "frame"],
                         capture_output=True, text=True, check=True)
    rows = []
    for pkt in json.loads(out.stdout):
        layers = pkt["_source"]["layers"]
        fr = layers["frame"]
        sec, frac = fr["frame.time_epoch"].split(".")
        rows.append((int(sec) * 10**9 + int(frac.ljust(9, "0")), int(fr["frame.len"]),
                     int(fr["frame.cap_len"]), bytes.fromhex(layers["frame_raw"][0]),
                     int(fr.get("frame.interface_id", "0")),
                     int(fr.get("frame.section_number", "1"))))
    return rows


def _tcpdump_packets(path):
    out = subprocess.run(["tcpdump", "-r", str(path), "-n", "-tt", "-xx",
                          "--time-stamp-precision=nano"],
                         capture_output=True, text=True, check=True)
    pkts = []
    for line in out.stdout.splitlines():
        hexline = re.match(r"\t0x[0-9a-f]{4}:  ([0-9a-f ]+)$", line)
        if hexline:
            pkts[-1][1] += bytes.fromhex(hexline.group(1).replace(" ", ""))
        elif re.match(r"\d+\.\d{9} ", line):
            sec, frac = line.split()[0].split(".")
            pkts.append([int(sec) * 10**9 + int(frac), b""])
    return [tuple(p) for p in pkts]


UDP4 = bytes.fromhex("0200000000010200000000020800" "4500059c00010000401100000a0000010a000002"
                     "303901bb05880000") + bytes(1400)
UDP6 = bytes.fromhex("02000000000102000000000286dd" "60000000012c1140" + "fe80" + "00" * 13 + "01"
                     + "fe80" + "00" * 13 + "02" + "303901bb012c0000") + bytes(292)


def _mixed_frames():
    # Frames tcpdump decodes without dumping payload, and times it can print (it takes seconds
    # as signed 32-bit: 2038 is its limit, 2106 pcap's).
    frames = [ARP, UDP4, ARP[:13], UDP6]
    times = [T0, T0 + 999, T0 + 10**9 + 1, 2**31 * 10**9 - 1]
    return frames, times


@needs_tool("tshark")
def test_tshark_reads_the_last_pcap_second(tmp_path):
    p = tmp_path / "2106.pcap"
    with PcapWriter(p, nanosecond=True) as w:
        w.write(ARP, 2**32 * 10**9 - 1)
    assert [r[0] for r in _tshark_packets(p)] == [2**32 * 10**9 - 1]


@needs_tool("tshark")
@needs_tool("tcpdump")
@pytest.mark.parametrize("byteorder", ["little", "big"])
@pytest.mark.parametrize("ns", [False, True], ids=["us", "ns"])
def test_tshark_and_tcpdump_read_written_pcap(tmp_path, byteorder, ns):
    frames, times = _mixed_frames()
    p = tmp_path / "w.pcap"
    with PcapWriter(p, nanosecond=ns, byteorder=byteorder) as w:
        for i, (fr, ts) in enumerate(zip(frames, times)):
            w.write(fr, ts, wirelen=len(fr) + i)
    unit = 1 if ns else 1000
    expect = [(ts // unit * unit, len(fr) + i, len(fr), fr)
              for i, (fr, ts) in enumerate(zip(frames, times))]
    assert [r[:4] for r in _tshark_packets(p)] == expect
    assert _tcpdump_packets(p) == [(e[0], e[3]) for e in expect]


@needs_tool("tshark")
@needs_tool("tcpdump")
@pytest.mark.parametrize("byteorder", ["little", "big"])
def test_tshark_and_tcpdump_read_written_pcapng(tmp_path, byteorder):
    frames, times = _mixed_frames()
    p = tmp_path / "w.pcapng"
    with PcapngWriter(p, interfaces=[(1, 0), (1, 0, 1000)], byteorder=byteorder) as w:
        for i, (fr, ts) in enumerate(zip(frames, times)):
            w.write(fr, ts, iface=i % 2)
    expect = [(ts // (1 if i % 2 == 0 else 1000) * (1 if i % 2 == 0 else 1000), len(fr), len(fr),
               fr, i % 2, 1) for i, (fr, ts) in enumerate(zip(frames, times))]
    assert _tshark_packets(p) == expect
    assert _tcpdump_packets(p) == [(e[0], e[3]) for e in expect]


@needs_tool("tshark")
def test_tshark_reads_written_sections_in_both_byte_orders(tmp_path):
    # libpcap (tcpdump) does not follow a change of byte order between sections; tshark does.
    p = tmp_path / "s.pcapng"
    with PcapngWriter(p, interfaces=[(1, 0)]) as w:
        w.write(ARP, 5)
        w.new_section([(101, 0), (1, 0, 1000)], byteorder="big")
        w.write(ARP[14:], 6, iface=0)
        w.write(ARP, 7000, iface=1)
    got = _tshark_packets(p)
    assert [(g[0], g[3], g[4], g[5]) for g in got] == [
        (5, ARP, 0, 1), (6, ARP[14:], 0, 2), (7000, ARP, 1, 2)]
    with open_capture(p) as r:
        ix = r.read_all()[1]
        det = r.interface_details
    # fastpath numbers interfaces across sections; tshark per section (with a section number).
    assert [(det[i].section + 1, det[i].section_iface) for i in ix["iface"].tolist()] == \
        [(g[5], g[4]) for g in got]


@needs_tool("tshark")
def test_handmade_blocks_read_as_tshark_reads_them(tmp_path):
    from capfiles import epb, opb, spb
    data = (shb() + idb(1, 100, tsresol=0x80 | 10, tsoffset=1000) + epb(0, (5 << 10) + 512, ARP)
            + opb(0, (6 << 10) + 1, ARP) + spb(ARP) + idb(113, 0, tsresol=3)
            + epb(1, 123456789, bytes(16) + ARP[12:])
            + shb(big=True) + idb(101, 65535, big=True) + epb(0, 77, ARP[14:], big=True))
    p = tmp_path / "h.pcapng"
    p.write_bytes(data)
    out = subprocess.run(["tshark", "-n", "-r", str(p), "-T", "fields", "-e", "frame.time_epoch",
                          "-e", "frame.len", "-e", "frame.cap_len"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    with open_capture(p) as r:
        ix = r.read_all()[1]
    expect = []
    for line in out:
        t, flen, clen = line.split("\t")
        sec, _, frac = t.partition(".")
        expect.append((int(sec) * 10**9 + int(frac) if t else 0, int(flen), int(clen)))
    assert list(zip(ix["ts_ns"].tolist(), ix["wirelen"].tolist(), ix["caplen"].tolist())) == expect
