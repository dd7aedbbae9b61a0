"""The traffic generator: deterministic, exact counts, correct checksums, the promised mix,
and TCP conversations that make sense. Checked with an independent dissector
(synth_reference.py) and, as a second opinion, fastpath's own parser."""
import os
import struct

import numpy as np
import pytest

from fastpath import synth
from fastpath.errors import ConfigError
from fastpath.wire.record import FRAME_DTYPE, CSUM_BAD, CSUM_GOOD

from synth.synth_reference import Reassembler, dissect

SAMPLE = 30_000


@pytest.fixture(scope="module")
def sample():
    chunk, stats = synth.generate(SAMPLE, seed=11)
    return chunk, stats


@pytest.fixture(scope="module")
def dissected(sample):
    chunk, _ = sample
    reasm = Reassembler()
    buf = chunk.buffer
    pkts = [dissect(buf[o:o + n], reasm)
            for o, n in zip(chunk.index["data_off"].tolist(), chunk.index["caplen"].tolist())]
    return pkts, reasm


def frames(chunk):
    buf = chunk.buffer
    for o, n in zip(chunk.index["data_off"].tolist(), chunk.index["caplen"].tolist()):
        yield buf[o:o + n]


# ---------------------------------------------------------------- determinism and counts
def test_same_seed_same_bytes():
    a, sa = synth.generate(3000, seed=5)
    b, sb = synth.generate(3000, seed=5)
    assert a.buffer == b.buffer
    assert np.array_equal(a.index, b.index)
    assert sa.protocols == sb.protocols


def test_different_seed_different_bytes():
    a, _ = synth.generate(2000, seed=5)
    b, _ = synth.generate(2000, seed=6)
    assert a.buffer != b.buffer


def test_a_shorter_run_is_a_prefix_of_a_longer_one():
    # The count only says where the capture stops: the first n packets never depend on it.
    short, _ = synth.generate(1500, seed=3)
    long, _ = synth.generate(4000, seed=3)
    n = len(short.index)
    assert np.array_equal(short.index, long.index[:n])
    assert short.buffer == long.buffer[:len(short.buffer)]


@pytest.mark.parametrize("count", [0, 1, 2, 17, 4096])
def test_exact_count(count):
    chunk, stats = synth.generate(count, seed=2)
    assert len(chunk.index) == count
    assert stats.packets == count
    assert stats.bytes == len(chunk.buffer) == int(chunk.index["caplen"].sum())


def test_chunks_cover_the_same_packets_as_one_block():
    whole, _ = synth.generate(5000, seed=9)
    g = synth.TrafficGenerator(9)
    parts = list(g.chunks(5000, chunk_packets=1024))
    assert [len(c.index) for c in parts] == [1024] * 4 + [904]
    assert b"".join(c.buffer for c in parts) == whole.buffer
    ts = np.concatenate([c.index["ts_ns"] for c in parts])
    assert np.array_equal(ts, whole.index["ts_ns"])
    for c in parts:      # data_off is relative to each chunk's own buffer (base 0)
        assert c.index["data_off"][0] == 0
        assert int(c.index["data_off"][-1] + c.index["caplen"][-1]) == len(c.buffer)


def test_index_is_a_frame_index(sample):
    chunk, _ = sample
    idx = chunk.index
    assert idx.dtype == FRAME_DTYPE
    assert (idx["linktype"] == 1).all()
    assert (idx["caplen"] == idx["wirelen"]).all()
    assert (idx["caplen"] >= 60).all() and (idx["caplen"] <= 1514 + 8).all()


# ---------------------------------------------------------------- timestamps
def test_timestamps_are_realistic(sample):
    chunk, stats = sample
    ts = chunk.index["ts_ns"]
    assert ts[0] == synth.START_NS
    assert (np.diff(ts) >= 0).all(), "time never goes back"
    assert (ts % 1000 == 0).all(), "microsecond timestamps (pcap's resolution)"
    rate = len(ts) / ((ts[-1] - ts[0]) / 1e9)
    # A busy small-site uplink: thousands of packets per second, not millions, not dozens.
    assert 2_000 < rate < 50_000, rate
    assert stats.first_ns == ts[0] and stats.last_ns == ts[-1]


# ---------------------------------------------------------------- checksums
def test_every_checksum_verifies(dissected):
    pkts, _ = dissected
    checked = 0
    for i, p in enumerate(pkts):
        for what, ok in p.checks:
            assert ok, f"packet {i + 1}: {what} checksum does not verify"
            checked += 1
    assert checked > len(pkts)          # IP header and transport, at least, for most packets


def test_fragments_reassemble_and_their_datagrams_verify(dissected):
    pkts, reasm = dissected
    assert not reasm.failed, f"reassembled datagrams with a bad checksum: {reasm.failed[:3]}"
    assert reasm.verified >= 5
    # Only datagrams whose last fragments fall after the end of the sample may stay incomplete.
    assert len(reasm.parts) <= 2


def test_fastpath_parser_agrees_every_checksum_is_good(sample):
    from fastpath.wire.parse import parse_frames
    chunk, _ = sample
    recs = parse_frames(chunk.buffer, chunk.index, verify_checksums=True)
    assert not (recs["csum_ip"] == CSUM_BAD).any()
    assert not (recs["csum_l4"] == CSUM_BAD).any()
    assert (recs["csum_l4"] == CSUM_GOOD).sum() > 0.95 * len(recs) - (recs["ip_version"] == 0).sum() - 200


# ---------------------------------------------------------------- the mix
def test_stats_count_what_is_in_the_frames(sample, dissected):
    _, stats = sample
    pkts, _ = dissected
    from collections import Counter
    counted = Counter()
    for p in pkts:
        counted["eth"] += 1
        for name in p.protocols():
            counted[name] += 1
    assert counted == stats.protocols


def test_the_mix_has_everything_the_benchmarks_need(dissected):
    pkts, _ = dissected
    seen = set()
    for p in pkts:
        if len(p.tags) == 1:
            seen.add("vlan")
        if len(p.tags) == 2 and p.tpids == [0x88A8, 0x8100]:
            seen.add("qinq")
        if p.arp_op == 1:
            seen.add("arp request")
        if p.arp_op == 2:
            seen.add("arp reply")
        if p.ip == 4 and p.fragment:
            seen.add("ipv4 first fragment" if p.first_fragment else "ipv4 later fragment")
        if p.ip == 4 and p.ip_options:
            seen.add("ipv4 options")
        if p.ip == 6 and 0 in p.ext:
            seen.add("ipv6 hop-by-hop")
        if p.ip == 6 and 44 in p.ext:
            seen.add("ipv6 fragment")
        if p.ip == 6 and p.tcp is not None:
            seen.add("tcp over ipv6")
        if p.tcp is not None:
            t = p.tcp
            o = t["options"]
            if t["flags"] & 0x02 and {"mss", "wscale", "sack_perm", "ts"} <= set(o):
                seen.add("syn with mss, wscale, sack-permitted, timestamps")
            if t["flags"] & 0x02 and "mss" in o and "ts" not in o:
                seen.add("syn without timestamps")
            if "sack" in o:
                seen.add("sack blocks")
            if t["flags"] & 0x01:
                seen.add("fin")
            if t["flags"] & 0x04:
                seen.add("rst")
            if t["len"] >= 1400:
                seen.add("full-sized segment")
            if 0 < t["len"] < 200:
                seen.add("small segment")
        if p.udp_len is not None and 53 in (p.sport, p.dport):
            seen.add("dns")
        if p.udp_len is not None and p.udp_len > 1000 and 443 in (p.sport, p.dport):
            seen.add("bulk udp")
        if p.icmp in ((8, 0), (0, 0)) and p.ip == 4:
            seen.add("icmp echo")
        if p.icmp in ((128, 0), (129, 0)):
            seen.add("icmpv6 echo")
        if p.quoted is not None and p.quoted.ip == 4 and p.quoted.udp_len is not None:
            seen.add("icmp error quoting udp")
        if p.quoted is not None and p.quoted.tcp is not None:
            seen.add("icmp error quoting tcp")
        if p.quoted is not None and p.quoted.ip == 6:
            seen.add("icmpv6 error")
        if p.icmp and p.icmp[0] == 135:
            seen.add("neighbour solicitation")
    wanted = {"vlan", "qinq", "arp request", "arp reply", "ipv4 first fragment",
              "ipv4 later fragment", "ipv4 options", "ipv6 hop-by-hop", "ipv6 fragment",
              "tcp over ipv6", "syn with mss, wscale, sack-permitted, timestamps",
              "syn without timestamps", "sack blocks", "fin", "rst", "full-sized segment",
              "small segment", "dns", "bulk udp", "icmp echo", "icmpv6 echo",
              "icmp error quoting udp", "icmp error quoting tcp", "icmpv6 error",
              "neighbour solicitation"}
    assert wanted <= seen, f"missing from the mix: {sorted(wanted - seen)}"


def test_protocol_shares_are_plausible():
    # A larger sample, for shares (the first seconds are dominated by whichever long flows
    # start early).
    g = synth.TrafficGenerator(1)
    for _ in g.packets(150_000):
        pass
    share = {k: v / g.stats.packets for k, v in g.stats.protocols.items()}
    assert 0.55 < share["tcp"] < 0.9
    assert 0.08 < share["udp"] < 0.4
    assert 0.15 < share["ipv6"] < 0.45
    assert 0.2 < share["vlan"] < 0.7 and 0.05 < share["vlan2"] < 0.3
    for rare in ("arp", "icmp", "icmpv6", "ip.frag", "ipv6.fraghdr"):
        assert 0.0005 < share[rare] < 0.03, (rare, share[rare])


# ---------------------------------------------------------------- TCP makes sense
def test_tcp_conversations_are_consistent(dissected):
    """Per connection and direction: the handshake numbers match, and nobody acknowledges (or
    SACKs) bytes the other side has not been seen sending. Server segments lost upstream of
    the tap are never seen, but the client cannot acknowledge those before the retransmission
    arrives, so the rule holds exactly."""
    pkts, _ = dissected
    M = 1 << 32
    conns = {}

    def sdiff(a, b):      # a - b in sequence space (RFC 1982)
        d = (a - b) % M
        return d - M if d >= M // 2 else d

    syn_seen = acks_checked = 0
    for i, p in enumerate(pkts):
        if p.tcp is None or p.quoted is not None or p.fragment:
            continue
        t = p.tcp
        key = (p.src, p.sport, p.dst, p.dport)
        rkey = (p.dst, p.dport, p.src, p.sport)
        me = conns.setdefault(key, {"isn": None, "max_end": None})
        peer = conns.setdefault(rkey, {"isn": None, "max_end": None})
        if t["flags"] & 0x02:
            syn_seen += 1
            me["isn"] = t["seq"]
            end = (t["seq"] + 1) % M
            if t["flags"] & 0x10:       # SYN-ACK acknowledges the SYN
                assert peer["isn"] is not None and t["ack"] == (peer["isn"] + 1) % M, f"packet {i + 1}"
        else:
            end = (t["seq"] + t["len"] + (1 if t["flags"] & 0x01 else 0)) % M
        if me["max_end"] is None or sdiff(end, me["max_end"]) > 0:
            me["max_end"] = end
        if t["flags"] & 0x10 and peer["max_end"] is not None and not t["flags"] & 0x04:
            assert sdiff(t["ack"], peer["max_end"]) <= 0, f"packet {i + 1} acknowledges unseen data"
            acks_checked += 1
            for left, right in t["options"].get("sack", []):
                assert sdiff(left, t["ack"]) > 0 and sdiff(right, left) > 0, f"packet {i + 1}"
                assert sdiff(right, peer["max_end"]) <= 0, f"packet {i + 1} SACKs unseen data"
    assert syn_seen > 50 and acks_checked > 5000


def test_segments_respect_the_negotiated_mss(dissected):
    pkts, _ = dissected
    mss = {}
    for p in pkts:
        if p.tcp is None or p.quoted is not None:
            continue
        key = (p.src, p.sport, p.dst, p.dport)
        if p.tcp["flags"] & 0x02 and "mss" in p.tcp["options"]:
            mss[(p.dst, p.dport, p.src, p.sport)] = p.tcp["options"]["mss"]   # what the peer may send
        elif key in mss:
            # Payload plus options beyond the 20-byte header never exceed the peer's MSS.
            opt_len = 12 if "ts" in p.tcp["options"] else 0
            assert p.tcp["len"] + opt_len <= mss[key]


# ---------------------------------------------------------------- files
def read_pcap(path):
    with open(path, "rb") as fh:
        data = fh.read()
    magic, vmaj, vmin, _, _, snaplen, linktype = struct.unpack_from("<IHHiIII", data)
    assert magic == 0xA1B2C3D4 and (vmaj, vmin) == (2, 4) and linktype == 1
    out, off = [], 24
    while off < len(data):
        sec, usec, incl, orig = struct.unpack_from("<IIII", data, off)
        out.append((sec * 10**9 + usec * 1000, data[off + 16:off + 16 + incl], orig))
        off += 16 + incl
    assert off == len(data)
    return out


def read_pcapng(path):
    with open(path, "rb") as fh:
        data = fh.read()
    out, off, iface_seen = [], 0, False
    while off < len(data):
        btype, blen = struct.unpack_from("<II", data, off)
        assert blen % 4 == 0 and struct.unpack_from("<I", data, off + blen - 4)[0] == blen
        if btype == 0x0A0D0D0A:
            assert struct.unpack_from("<I", data, off + 8)[0] == 0x1A2B3C4D
        elif btype == 1:
            assert struct.unpack_from("<H", data, off + 8)[0] == 1
            iface_seen = True
        elif btype == 6:
            iface, hi, lo, cap, orig = struct.unpack_from("<IIIII", data, off + 8)
            assert iface == 0
            out.append((((hi << 32) | lo) * 1000, data[off + 28:off + 28 + cap], orig))
        off += blen
    assert iface_seen
    return out


def test_pcap_and_pcapng_files_hold_the_same_packets(tmp_path):
    chunk, _ = synth.generate(2500, seed=4)
    s1 = synth.write_capture(tmp_path / "a.pcap", 2500, seed=4)
    s2 = synth.write_capture(tmp_path / "a.pcapng", 2500, seed=4, format="pcapng", chunk_packets=700)
    assert s1.protocols == s2.protocols and s1.packets == s2.packets == 2500
    expected = [(int(t), bytes(f), len(f)) for t, f in zip(chunk.index["ts_ns"], frames(chunk))]
    assert read_pcap(tmp_path / "a.pcap") == expected
    assert read_pcapng(tmp_path / "a.pcapng") == expected


def test_file_bytes_are_deterministic(tmp_path):
    synth.write_capture(tmp_path / "a.pcap", 1200, seed=8)
    synth.write_capture(tmp_path / "b.pcap", 1200, seed=8, chunk_packets=100)
    assert (tmp_path / "a.pcap").read_bytes() == (tmp_path / "b.pcap").read_bytes()


def test_empty_capture_is_a_valid_file(tmp_path):
    stats = synth.write_capture(tmp_path / "empty.pcap", 0)
    assert stats.packets == 0
    assert read_pcap(tmp_path / "empty.pcap") == []
    synth.write_capture(tmp_path / "empty.pcapng", 0, format="pcapng")
    assert read_pcapng(tmp_path / "empty.pcapng") == []


# ---------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("seed", [-1, 1.5, "7", None, True, 1 << 63])
def test_bad_seed_is_a_config_error(seed):
    with pytest.raises(ConfigError, match="seed"):
        synth.TrafficGenerator(seed)


@pytest.mark.parametrize("count", [-1, 2.0, "10", None])
def test_bad_count_is_a_config_error(count, tmp_path):
    with pytest.raises(ConfigError, match="packet count"):
        synth.generate(count)
    with pytest.raises(ConfigError, match="packet count"):
        synth.write_capture(tmp_path / "x.pcap", count)
    assert not (tmp_path / "x.pcap").exists()


def test_bad_format_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown capture format 'pcapx'.*pcap, pcapng"):
        synth.write_capture(tmp_path / "x.pcap", 10, format="pcapx")


def test_bad_chunk_size_is_a_config_error():
    with pytest.raises(ConfigError, match="chunk_packets"):
        list(synth.TrafficGenerator(1).chunks(10, chunk_packets=0))


def test_an_interrupted_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "x.pcap"
    target.write_bytes(b"old contents")

    def boom(done):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        synth.write_capture(target, 5000, chunk_packets=1000, progress=boom)
    assert target.read_bytes() == b"old contents"      # the old file is untouched
    assert sorted(os.listdir(tmp_path)) == ["x.pcap"]  # and no temporary file remains


def test_unwritable_path_raises_oserror_naming_it(tmp_path):
    with pytest.raises(OSError) as e:
        synth.write_capture(tmp_path / "no" / "such" / "dir.pcap", 10)
    assert "dir.pcap" in str(e.value)
