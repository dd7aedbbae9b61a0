"""Reading pcap: golden bytes, both byte orders and timestamp precisions, every quirk the corpus
has (junk link-type bits, absurd snaplens, records longer than the snaplen or the file), and what
happens at each way a file can end."""
import pytest

from capfiles import pcap_file, pcap_header, pcap_record
from fastpath.capture import open_capture
from fastpath.errors import CaptureError
from fastpath.wire.record import FRAME_DTYPE

ARP = bytes.fromhex("ffffffffffff0011223344550806" "0001080006040001" "001122334455c0a80001"
                    "000000000000c0a80002")

# A little-endian microsecond pcap with two records, written out byte by byte.
GOLDEN = bytes.fromhex(
    "d4c3b2a1" "0200" "0400" "00000000" "00000000" "ffff0000" "01000000"   # file header
    "10000000" "20a10700" "2a000000" "2a000000") + ARP + bytes.fromhex(    # t=16.500000 s
    "11000000" "01000000" "0e000000" "3c000000") + ARP[:14]                # t=17.000001, cut to 14


def read(data, **kw):
    with open_capture(data, **kw) as r:
        buf, index = r.read_all()
        return r, bytes(buf), index


def frames(buf, index):
    return [buf[o:o + c] for o, c in zip(index["data_off"].tolist(), index["caplen"].tolist())]


def test_golden_little_endian_microseconds():
    r, buf, ix = read(GOLDEN)
    assert r.format == "pcap" and r.byteorder == "little" and not r.nanosecond
    assert r.version == (2, 4)
    assert r.interfaces == [(1, 65535, 1000.0)]
    assert ix.dtype == FRAME_DTYPE
    assert ix["ts_ns"].tolist() == [16_500_000_000, 17_000_001_000]
    assert ix["data_off"].tolist() == [40, 40 + 42 + 16]
    assert ix["caplen"].tolist() == [42, 14]
    assert ix["wirelen"].tolist() == [42, 60]
    assert ix["linktype"].tolist() == [1, 1]
    assert ix["iface"].tolist() == [0, 0] and ix["reserved"].tolist() == [0, 0]
    assert frames(buf, ix) == [ARP, ARP[:14]]


@pytest.mark.parametrize("big", [False, True], ids=["le", "be"])
@pytest.mark.parametrize("ns", [False, True], ids=["us", "ns"])
def test_byte_orders_and_precisions(big, ns):
    pkts = [(ARP, 1_700_000_000, 123456 if not ns else 123456789), (ARP[:20], 1_700_000_001, 7, 99)]
    r, buf, ix = read(pcap_file(pkts, linktype=113, snaplen=4096, ns=ns, big=big))
    assert r.byteorder == ("big" if big else "little") and r.nanosecond == ns
    unit = 1 if ns else 1000
    assert ix["ts_ns"].tolist() == [1_700_000_000 * 10**9 + pkts[0][2] * unit,
                                    1_700_000_001 * 10**9 + 7 * unit]
    assert ix["caplen"].tolist() == [42, 20] and ix["wirelen"].tolist() == [42, 99]
    assert ix["linktype"].tolist() == [113, 113]
    assert r.interfaces == [(113, 4096, 1.0 if ns else 1000.0)]
    assert frames(buf, ix) == [ARP, ARP[:20]]


def test_linktype_keeps_low_16_bits():
    # The corpus's fuzzed files carry junk such as 0x30000001 (FCS bits) in the field.
    data = pcap_header(linktype=0x30000001) + pcap_record(ARP, 1, 2)
    r, _, ix = read(data)
    assert ix["linktype"].tolist() == [1]
    assert r.linktype == 1 and r.linktype_field == 0x30000001


def test_absurd_snaplen_and_caplen_above_snaplen_are_read_as_tshark_does():
    data = pcap_header(snaplen=0x81050000) + pcap_record(ARP, 1, 0)
    assert read(data)[2]["caplen"].tolist() == [42]
    # caplen above the header's snaplen (31) is taken at its word, and so is caplen > wirelen.
    data = pcap_header(snaplen=31) + pcap_record(ARP, 1, 0, wirelen=32)
    r, buf, ix = read(data)
    assert ix["caplen"].tolist() == [42] and ix["wirelen"].tolist() == [32]
    assert frames(buf, ix) == [ARP]


def test_caplen_at_the_limit_is_read_and_one_more_is_an_error():
    big = bytes(262144)
    data = pcap_header() + pcap_record(big, 5, 0) + pcap_record(ARP, 6, 0)
    assert read(data)[2]["caplen"].tolist() == [262144, 42]
    bad = pcap_header() + pcap_record(ARP, 5, 0) + pcap_record(bytes(262145), 6, 0)
    got = []
    with open_capture(bad) as r:
        with pytest.raises(CaptureError) as e:
            for chunk in r.chunks():
                got.append(chunk.index.copy())
    assert sum(len(c) for c in got) == 1
    assert e.value.record == 2 and e.value.offset == 24 + 16 + 42
    assert "262145" in str(e.value) and "262144-byte maximum" in str(e.value)
    assert "<buffer>" in str(e.value)


def test_unnormalised_fractions_carry_into_seconds():
    # tcpdump's timestamp_invalid_micro.pcap has 1000000 and 2**31 microseconds.
    data = pcap_file([(ARP, 10, 999_999), (ARP, 10, 1_000_000), (ARP, 10, 2**31),
                      (ARP, 2**32 - 1, 2**32 - 1)])
    ts = read(data)[2]["ts_ns"].tolist()
    assert ts == [10_999_999_000, 11_000_000_000, 10 * 10**9 + 2**31 * 1000,
                  (2**32 - 1) * 10**9 + (2**32 - 1) * 1000]
    ns = read(pcap_file([(ARP, 3, 2**32 - 1)], ns=True))[2]["ts_ns"].tolist()
    assert ns == [3 * 10**9 + 2**32 - 1]


def test_seconds_are_unsigned():
    assert read(pcap_file([(ARP, 0x80000000, 0)]))[2]["ts_ns"].tolist() == [2**31 * 10**9]


def test_zero_length_records():
    data = pcap_file([(b"", 1, 0), (ARP, 2, 0), (b"", 3, 0, 262144)])
    r, buf, ix = read(data)
    assert ix["caplen"].tolist() == [0, 42, 0] and ix["wirelen"].tolist() == [0, 42, 262144]


def test_empty_file_has_no_packets(tmp_path):
    p = tmp_path / "empty.pcap"
    p.write_bytes(b"")
    with open_capture(p) as r:
        assert r.format == "empty" and r.interfaces == []
        assert list(r.chunks()) == []
    with open_capture(p) as r:
        buf, ix = r.read_all()
        assert len(buf) == 0 and len(ix) == 0 and ix.dtype == FRAME_DTYPE


def test_header_only_file_has_no_packets_and_its_interface():
    r, buf, ix = read(pcap_header(linktype=101, snaplen=1500))
    assert len(ix) == 0 and r.interfaces == [(101, 1500, 1000.0)]


@pytest.mark.parametrize("n", [1, 4, 10, 23])
def test_file_ending_inside_the_file_header(n):
    with pytest.raises(CaptureError) as e:
        open_capture(pcap_header()[:n])
    assert e.value.offset == 0 and e.value.record is None
    assert "ends inside" in str(e.value)


def _broken_reads(data, **kw):
    """(frames read before the error, the error)."""
    got = []
    with open_capture(data, **kw) as r:
        with pytest.raises(CaptureError) as e:
            for chunk in r.chunks(max_packets=2):
                got.extend(chunk.frame(i) for i in range(len(chunk)))
    return got, e.value


def test_record_cut_short_keeps_the_packets_before_it():
    good = pcap_file([(ARP, i, 0) for i in range(5)])
    data = good + pcap_record(ARP, 9, 0)[:16 + 10]
    got, err = _broken_reads(data)
    assert got == [ARP] * 5
    assert err.record == 6 and err.offset == len(good)
    assert "cut short" in str(err) and "42 captured bytes but only 10 follow" in str(err)


def test_file_ending_inside_a_record_header():
    good = pcap_file([(ARP, i, 0) for i in range(3)])
    got, err = _broken_reads(good + b"\x01\x02\x03")
    assert got == [ARP] * 3
    assert err.record == 4 and err.offset == len(good) and "record header (3 of 16" in str(err)


def test_read_all_on_a_broken_file_keeps_the_good_part():
    good = pcap_file([(ARP, i, 0) for i in range(3)])
    with open_capture(good + b"\x00" * 10) as r:
        with pytest.raises(CaptureError) as e:
            r.read_all()
    buf, ix = e.value.partial
    assert len(ix) == 3 and frames(bytes(buf), ix) == [ARP] * 3


def test_unsupported_version_is_named():
    with pytest.raises(CaptureError) as e:
        open_capture(pcap_header(major=1, minor=0) + pcap_record(ARP, 1, 0))
    assert "pcap version 1.0 is not supported" in str(e.value) and e.value.offset == 4


@pytest.mark.parametrize("max_packets,max_bytes", [(1, 1), (2, 50), (3, 100), (65536, 7)])
def test_chunks_cover_the_file_in_order(max_packets, max_bytes):
    pkts = [(ARP[: 14 + i], 100 + i, i) for i in range(9)]
    data = pcap_file(pkts)
    _, _, whole = read(data)
    seen = []
    with open_capture(data) as r:
        for chunk in r.chunks(max_packets=max_packets, max_bytes=max_bytes):
            assert 1 <= len(chunk) <= max_packets
            assert chunk.first_record == len(seen) + 1
            for i in range(len(chunk)):
                seen.append(chunk.frame(i))
            rel = chunk.index["data_off"] - chunk.base
            assert (rel >= 0).all() and (rel + chunk.index["caplen"] <= len(chunk.buffer)).all()
    assert seen == [p[0] for p in pkts]


def test_packets_convenience_iterator():
    with open_capture(GOLDEN) as r:
        pk = list(r.packets())
    assert [p.data for p in pk] == [ARP, ARP[:14]]
    assert pk[1].ts_ns == 17_000_001_000 and pk[1].wirelen == 60 and pk[1].linktype == 1


def test_a_reader_is_read_once():
    with open_capture(GOLDEN) as r:
        list(r.chunks())
        with pytest.raises(ValueError, match="read once"):
            list(r.chunks())
