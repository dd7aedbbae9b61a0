"""Reading pcapng: golden blocks, several sections with their own byte orders and interfaces,
if_tsresol (powers of ten and of two) and if_tsoffset, the three packet blocks, skipped blocks,
and every way a block can be broken."""
import struct

import pytest

from capfiles import (EPB, IDB, SHB, block, end_of_options, epb, idb, opb, option, pad4, ref_read,
                      shb, spb)
from fastpath.capture import open_capture
from fastpath.capture.index import ticks_to_ns_py
from fastpath.errors import CaptureError

ARP = bytes.fromhex("ffffffffffff0011223344550806" "0001080006040001" "001122334455c0a80001"
                    "000000000000c0a80002")
IP4 = bytes.fromhex("4500001c00010000400100007f0000017f000001" "0800f7ff00000000")

# Little-endian section header (no options), an Ethernet interface with if_tsresol = 9 (ns),
# and one enhanced packet block (76 bytes), written out byte by byte.
GOLDEN = bytes.fromhex(
    "0a0d0d0a" "1c000000" "4d3c2b1a" "0100" "0000" "ffffffffffffffff" "1c000000"       # SHB, 28 bytes
    "01000000" "20000000" "0100" "0000" "00000400" "0900" "0100" "09000000"            # IDB, 32
    "00000000" "20000000"
    "06000000" "4c000000" "00000000" "00000000" "e8030000" "2a000000" "2a000000")      # EPB, 88
GOLDEN += ARP + b"\0\0" + bytes.fromhex("4c000000")


def read(data, **kw):
    with open_capture(data, **kw) as r:
        buf, index = r.read_all()
        return r, bytes(buf), index


def frames(buf, index):
    return [buf[o:o + c] for o, c in zip(index["data_off"].tolist(), index["caplen"].tolist())]


def rows(index):
    return [tuple(r) for r in index[["ts_ns", "data_off", "caplen", "wirelen", "linktype",
                                     "iface"]].tolist()]


def test_golden_section_interface_enhanced_packet():
    r, buf, ix = read(GOLDEN)
    assert r.format == "pcapng" and r.byteorder == "little" and r.version == (1, 0)
    assert r.interfaces == [(1, 262144, 1.0)]
    assert rows(ix) == [(1000, 28 + 32 + 28, 42, 42, 1, 0)]
    assert frames(buf, ix) == [ARP]


def test_builders_agree_with_the_golden_bytes():
    built = (shb() + idb(1, 262144, tsresol=9) + epb(0, 1000, ARP))
    assert built == GOLDEN


@pytest.mark.parametrize("big", [False, True], ids=["le", "be"])
def test_byte_orders(big):
    data = shb(big) + idb(1, 1500, big) + epb(0, 5_000_001, ARP, wirelen=60, big=big)
    r, buf, ix = read(data)
    assert r.byteorder == ("big" if big else "little")
    assert rows(ix) == [(5_000_001_000, 28 + 20 + 28, 42, 60, 1, 0)]
    assert ix["ts_ns"].tolist() == [5_000_001_000]
    assert ix["wirelen"].tolist() == [60] and frames(buf, ix) == [ARP]


def test_sections_with_their_own_byte_order_and_interfaces():
    s1 = shb(False) + idb(1, 0) + idb(101, 0, tsresol=9) + epb(1, 7, IP4) + epb(0, 8, ARP)
    s2 = shb(True) + idb(228, 0, True, tsresol=3) + epb(0, 9, IP4, big=True)
    s3 = shb(False) + idb(1, 0) + epb(0, 10, ARP)
    r, buf, ix = read(s1 + s2 + s3)
    assert ix["linktype"].tolist() == [101, 1, 228, 1]
    assert ix["iface"].tolist() == [1, 0, 2, 3]              # numbered across sections
    assert ix["ts_ns"].tolist() == [7, 8000, 9_000_000, 10_000]
    assert frames(buf, ix) == [IP4, ARP, IP4, ARP]
    assert [i[0] for i in r.interfaces] == [1, 101, 228, 1]
    det = r.interface_details
    assert [(d.section, d.section_iface) for d in det] == [(0, 0), (0, 1), (1, 0), (2, 0)]
    assert r.byteorder == "little"          # the first section's, as read when opened


def test_two_interfaces_with_different_link_types_interleaved():
    data = shb() + idb(1, 0) + idb(113, 0) + b"".join(
        epb(i % 2, i, ARP if i % 2 == 0 else b"\0" * 16 + IP4) for i in range(6))
    _, buf, ix = read(data)
    assert ix["linktype"].tolist() == [1, 113] * 3 and ix["iface"].tolist() == [0, 1] * 3


@pytest.mark.parametrize("tsresol,ticks,expect", [
    (6, 1_700_000_000_123_456, 1_700_000_000_123_456_000),
    (9, 1_700_000_000_123_456_789, 1_700_000_000_123_456_789),
    (0, 1_700_000_000, 1_700_000_000 * 10**9),
    (3, 1_700_000_000_123, 1_700_000_000_123_000_000),
    (12, 1_700_000_000_123_456_789, 1_700_000_000_123_456),              # picoseconds, floored
    (0x80 | 10, (5 << 10) | 512, 5_500_000_000),                           # 2**-10 s
    (0x80 | 10, (6 << 10) | 1, 6_000_976_562),                             # tshark: 6.000976562
    (0x80 | 20, (1 << 20) * 3 + 1, 3_000_000_953),                         # floor(1e9 / 2**20)
    (0x80 | 40, (7 << 40) | (1 << 39), 7_500_000_000),
    (0x80 | 63, (1 << 63) | (1 << 62), 1_500_000_000),
    (0x80 | 0, 42, 42_000_000_000),
])
def test_if_tsresol(tsresol, ticks, expect):
    data = shb() + idb(1, 0, tsresol=tsresol) + epb(0, ticks, ARP)
    r, _, ix = read(data)
    assert ix["ts_ns"].tolist() == [expect]
    assert ticks_to_ns_py(ticks, tsresol) == expect


def test_resolution_is_reported_per_interface():
    data = shb() + idb(1, 0) + idb(1, 0, tsresol=9) + idb(1, 0, tsresol=0x80 | 10) + epb(2, 0, b"")
    r, _, _ = read(data)
    assert [i[2] for i in r.interfaces] == [1000.0, 1.0, 1e9 / 1024]


def test_absurd_resolutions_are_taken_as_the_finest_64_bit_ticks_count():
    assert ticks_to_ns_py(10**19, 100) == 10**9        # 10**-100 -> 10**-19
    assert ticks_to_ns_py(2**63, 0x80 | 127) == 10**9  # 2**-127 -> 2**-63


def test_if_tsoffset_adds_seconds_both_ways():
    data = (shb() + idb(1, 0, tsoffset=1_000_000) + idb(1, 0, tsoffset=-5, tsresol=9)
            + epb(0, 2_000_000, ARP) + epb(1, 7_000_000_123, ARP))
    _, _, ix = read(data)
    assert ix["ts_ns"].tolist() == [1_000_002 * 10**9, 2 * 10**9 + 123]


def test_timestamps_saturate_at_the_int64_range():
    big_ticks = (1 << 64) - 1
    data = shb() + idb(1, 0) + idb(1, 0, tsoffset=-(2**62)) + epb(0, big_ticks, ARP) + \
        epb(1, 0, ARP)
    _, _, ix = read(data)
    assert ix["ts_ns"].tolist() == [2**63 - 1, -(2**63)]


def test_year_2107_fits():
    # tcpdump's time_2107.pcapng: seconds past the 32-bit pcap limit.
    t = 4323283200 * 10**6
    assert read(shb() + idb(1, 0) + epb(0, t, ARP))[2]["ts_ns"].tolist() == [4323283200 * 10**9]


def test_simple_packet_block_takes_interface_0_and_is_cut_to_the_snaplen():
    data = shb() + idb(1, 30) + spb(ARP[:30], wirelen=42) + spb(ARP[:20]) + \
        spb(ARP[:9], wirelen=10)
    _, buf, ix = read(data)
    # 9 bytes and their padding hold the 10 the original length asks for (as tshark reads it).
    assert ix["caplen"].tolist() == [30, 20, 10] and ix["wirelen"].tolist() == [42, 20, 10]
    assert ix["ts_ns"].tolist() == [0, 0, 0]        # no timestamp in the block (tshark: none)
    assert frames(buf, ix) == [ARP[:30], ARP[:20], ARP[:9] + b"\0"]


def test_simple_packet_block_too_short_for_its_length():
    # tshark: "total block length 28 of an SPB is too small for 1000 bytes of packet data".
    got, err = broken(shb() + idb(1, 0) + spb(ARP) + spb(ARP[:10], wirelen=1000))
    assert got == [ARP] and "claims 1000 captured bytes but the block has room for only 12" in \
        str(err)


def test_obsolete_packet_block():
    data = shb() + idb(1, 0) + idb(101, 0) + opb(1, 77, IP4, wirelen=100, drops=3)
    _, buf, ix = read(data)
    assert rows(ix) == [(77_000, 28 + 20 + 20 + 28, 28, 100, 101, 1)]
    assert ix["iface"].tolist() == [1] and ix["wirelen"].tolist() == [100]
    assert frames(buf, ix) == [IP4]


@pytest.mark.parametrize("btype", [4, 5, 9, 0x0A, 0xBAD, 0x40000BAD, 0x80000001, 7])
def test_other_blocks_are_skipped_by_their_length(btype):
    data = shb() + idb(1, 0) + block(btype, b"x" * 37) + epb(0, 1, ARP) + block(btype, b"") + \
        epb(0, 2, ARP)
    _, buf, ix = read(data)
    assert frames(buf, ix) == [ARP, ARP]


def test_options_on_packet_blocks_and_sections_are_skipped():
    opts = option(1, b"a comment") + option(2, b"\x00" * 4) + end_of_options()
    data = shb(options=option(4, b"someone") + end_of_options()) + idb(1, 0) + \
        epb(0, 1, ARP, options=opts)
    _, buf, ix = read(data)
    assert frames(buf, ix) == [ARP]


def test_malformed_interface_options_keep_what_was_read():
    # if_tsresol, then an option whose length runs past the block: the walk of options stops.
    body = struct.pack("<HHI", 1, 0, 0) + option(9, b"\x09") + struct.pack("<HH", 2, 200)
    data = shb() + block(IDB, body) + epb(0, 5, ARP)
    assert read(data)[2]["ts_ns"].tolist() == [5]


def test_interfaces_known_at_open_and_as_they_appear():
    data = shb() + idb(1, 0) + epb(0, 1, ARP) + idb(101, 0) + epb(1, 2, IP4)
    with open_capture(data) as r:
        assert r.interfaces == [(1, 0, 1000.0)]
        list(r.chunks())
        assert [i[0] for i in r.interfaces] == [1, 101]


def broken(data, **kw):
    got = []
    with open_capture(data, **kw) as r:
        with pytest.raises(CaptureError) as e:
            for chunk in r.chunks(max_packets=1):
                got.extend(chunk.frame(i) for i in range(len(chunk)))
    ref_rows, ref_err = ref_read(data)
    assert len(got) == len(ref_rows)
    assert (e.value.record, e.value.offset) == (ref_err.record, ref_err.offset)
    return got, e.value


HEAD = shb() + idb(1, 0)


def test_block_cut_short_at_end_of_file():
    good = HEAD + epb(0, 1, ARP) + epb(0, 2, ARP)
    got, err = broken(good + epb(0, 3, ARP)[:50])
    assert got == [ARP, ARP] and err.record == 3 and err.offset == len(good)
    assert "ends inside a enhanced packet block (50 of 76 bytes)" in str(err)


def test_file_ending_inside_a_block_header():
    good = HEAD + epb(0, 1, ARP)
    got, err = broken(good + b"\x06\x00\x00")
    assert got == [ARP] and "block header (3 bytes)" in str(err)


def test_trailing_length_must_match():
    good = HEAD + epb(0, 1, ARP)
    bad = bytearray(epb(0, 2, ARP))
    bad[-4:] = struct.pack("<I", 72)
    got, err = broken(good + bytes(bad) + epb(0, 3, ARP))
    assert got == [ARP] and "trailing length 72 differs from the leading length 76" in str(err)


@pytest.mark.parametrize("length,what", [(8, "less than the 12"), (30, "not a multiple of 4"),
                                         (16, "less than the 32"), (0x7FFFFFF0, "16777216-byte")])
def test_impossible_block_lengths(length, what):
    good = HEAD + epb(0, 1, ARP)
    bad = struct.pack("<II", EPB, length)
    if length < 0x1000:                         # the body and a matching trailer
        bad += b"\0" * (max(length, 12) - 12) + struct.pack("<I", length)
    got, err = broken(good + bad + bytes(64))
    assert got == [ARP] and what in str(err) and err.offset == len(good)


def test_packet_caplen_larger_than_its_block():
    good = HEAD + epb(0, 1, ARP)
    got, err = broken(good + epb(0, 2, ARP, caplen=50))
    assert got == [ARP] and "claims 50 captured bytes but the block has room for only 44" in str(err)


def test_packet_for_an_undefined_interface():
    got, err = broken(HEAD + epb(0, 1, ARP) + epb(1, 2, ARP))
    assert got == [ARP] and "refers to interface 1" in str(err) and "only 1" in str(err)
    # Interfaces belong to their section: a new section starts with none.
    got, err = broken(HEAD + epb(0, 1, ARP) + shb() + epb(0, 2, ARP))
    assert got == [ARP] and err.record == 2


def test_simple_packet_without_any_interface():
    got, err = broken(shb() + spb(ARP))
    assert got == [] and "simple packet block refers to interface 0" in str(err)


def test_bad_byte_order_magic_and_version():
    with pytest.raises(CaptureError, match="unknown byte-order magic"):
        open_capture(b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x11\x22\x33\x44" + b"\0" * 16)
    with pytest.raises(CaptureError, match="pcapng version 2.0 is not supported"):
        open_capture(shb(major=2) + idb())
    # A later section with a bad version: the packets before it are kept.
    got, err = broken(HEAD + epb(0, 1, ARP) + shb(major=3))
    assert got == [ARP] and "version 3.0" in str(err)


def test_oversized_packet_in_a_block():
    data = HEAD + epb(0, 1, bytes(262145))
    got, err = broken(data)
    assert got == [] and "262145 captured bytes, more than the 262144-byte maximum" in str(err)


def test_section_header_alone_and_cut_short():
    r, _, ix = read(shb())
    assert len(ix) == 0 and r.interfaces == []
    with pytest.raises(CaptureError, match="ends inside"):
        open_capture(shb()[:20])


def test_big_blocks_are_read_in_any_window():
    # A skipped block bigger than the chunk window, and a packet bigger than it.
    data = HEAD + block(5, b"s" * 100_000) + epb(0, 1, bytes(200_000)) + epb(0, 2, ARP)
    for max_bytes in (1, 1000, 1 << 20):
        with open_capture(data) as r:
            seen = [c.frame(i) for c in r.chunks(max_bytes=max_bytes) for i in range(len(c))]
        assert seen == [bytes(200_000), ARP]


def test_pad_helper():
    assert pad4(b"abcde") == b"abcde\0\0\0" and block(SHB, b"")[:4] == b"\x0a\x0d\x0d\x0a"
