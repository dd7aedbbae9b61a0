"""The batch parser: one PACKET_DTYPE row per frame, every layer, errors recorded per packet."""
import ipaddress
import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastpath.wire import build
from fastpath.wire import record as R
from fastpath.wire.parse import parse_batch, parse_frames, parse_packet, verify_batch

from guard_page import GuardedBuffer
from wire_golden import TCP_SYN_FRAME

MACS = ("02:00:00:00:00:01", "02:00:00:00:00:02")


def ip4(s):
    return int(ipaddress.IPv4Address(s))


def test_tcp_syn_every_field():
    r = parse_packet(TCP_SYN_FRAME, verify_checksums=True)
    assert r["error"] == R.ERR_NONE
    assert (r["eth_type"], r["l3_type"], r["vlan_count"]) == (0x0800, 0x0800, 0)
    assert (r["l3_off"], r["l4_off"], r["payload_off"], r["payload_len"]) == (14, 34, 74, 5)
    assert (r["ip_version"], r["ip_proto"], r["ip_ttl"]) == (4, 6, 64)
    assert r["ip_flags"] == R.IPF_DF
    assert (r["ip4_src"], r["ip4_dst"]) == (ip4("10.0.0.1"), ip4("10.0.0.2"))
    assert (r["sport"], r["dport"], r["tcp_seq"], r["tcp_ack"]) == (1234, 80, 1, 0)
    assert (r["tcp_flags"], r["tcp_window"], r["tcp_mss"], r["tcp_wscale"]) == (2, 0xFFFF, 1460, 7)
    assert r["tcp_opts"] == R.OPT_MSS | R.OPT_WSCALE | R.OPT_SACK_PERM | R.OPT_TIMESTAMP
    assert (r["tcp_tsval"], r["tcp_tsecr"]) == (1, 0)
    assert (r["csum_ip"], r["csum_l4"]) == (R.CSUM_GOOD, R.CSUM_GOOD)
    assert r["caplen"] == r["wirelen"] == len(TCP_SYN_FRAME)


def test_checksum_status_without_verification_is_unverified():
    r = parse_packet(TCP_SYN_FRAME)
    assert (r["csum_ip"], r["csum_l4"]) == (R.CSUM_UNVERIFIED, R.CSUM_UNVERIFIED)


def test_bad_checksums_are_reported_per_layer():
    f = bytearray(TCP_SYN_FRAME)
    f[-1] ^= 0x01                       # payload byte: TCP checksum breaks, IP header does not
    r = parse_packet(bytes(f), verify_checksums=True)
    assert (r["csum_ip"], r["csum_l4"]) == (R.CSUM_GOOD, R.CSUM_BAD)
    f[14 + 8] ^= 0x01                   # TTL: IPv4 header checksum breaks
    r = parse_packet(bytes(f), verify_checksums=True)
    assert r["csum_ip"] == R.CSUM_BAD


def test_qinq_ipv6_udp():
    eth = build.EthernetRepr(MACS[1], MACS[0], 0, [(0x88A8, 0, 0, 100), (0x8100, 0, 0, 200)])
    f = build.udp_packet("2001:db8::1", "2001:db8::2", 5353, 53, b"q" * 12, ethernet=eth)
    r = parse_packet(f, verify_checksums=True)
    assert r["eth_type"] == 0x88A8 and r["l3_type"] == 0x86DD
    assert list(r["vlan"][: r["vlan_count"]]) == [100, 200]
    assert r["l3_off"] == 22 and r["ip_version"] == 6 and r["ip_proto"] == 17
    assert bytes(r["ip6_src"]) == ipaddress.IPv6Address("2001:db8::1").packed
    assert (r["sport"], r["dport"], r["payload_len"], r["csum_l4"]) == (5353, 53, 12, R.CSUM_GOOD)
    assert r["csum_ip"] == R.CSUM_NONE   # IPv6 has no header checksum


def test_too_many_vlan_tags():
    f = bytes.fromhex("020000000002020000000001") + bytes.fromhex("81000001") * 5 + b"\x08\x00"
    assert parse_packet(f)["error"] == R.ERR_TOO_MANY_TAGS


def test_llc_snap_carrying_ipv4():
    ip = build.udp_packet("10.0.0.1", "10.0.0.2", 1, 2, b"x")
    length = 8 + len(ip)
    f = (bytes.fromhex("020000000002020000000001") + length.to_bytes(2, "big")
         + bytes.fromhex("aaaa03000000" "0800") + ip)
    r = parse_packet(f, verify_checksums=True)
    assert r["eth_type"] == 0 and r["l3_type"] == 0x0800 and r["l3_off"] == 22
    assert r["dport"] == 2 and r["csum_l4"] == R.CSUM_GOOD


def test_llc_without_snap_has_no_network_layer():
    f = bytes.fromhex("0180c2000000020000000001" "0026" "424203") + b"\0" * 35   # STP
    r = parse_packet(f)
    assert r["error"] == R.ERR_NONE and r["l3_off"] == R.OFF_NONE and r["ip_version"] == 0


def test_arp():
    f = build.arp_request(MACS[0], "10.0.0.1", "10.0.0.2")
    r = parse_packet(f)
    assert (r["l3_type"], r["arp_op"], r["ip_version"], r["error"]) == (0x0806, 1, 0, 0)


@pytest.mark.parametrize("linktype,header", [
    (R.LINKTYPE_LINUX_SLL, bytes.fromhex("0000" "0001" "0006" "020000000001" "0000" "0800")),
    (R.LINKTYPE_LINUX_SLL2, bytes.fromhex("0800" "0000" "00000002" "0001" "00" "06" "020000000001" "0000")),
    (R.LINKTYPE_NULL, struct.pack("<I", 2)),          # written little-endian
    (R.LINKTYPE_NULL, struct.pack(">I", 2)),          # written big-endian
    (R.LINKTYPE_LOOP, struct.pack(">I", 2)),
    (R.LINKTYPE_RAW, b""),
    (R.LINKTYPE_RAW_DLT12, b""),
    (R.LINKTYPE_RAW_DLT14, b""),
    (R.LINKTYPE_IPV4, b""),
])
def test_link_types_reach_ipv4(linktype, header):
    ip = build.tcp_packet("10.0.0.1", "10.0.0.2", 1, 2, flags=0x12, payload=b"abc")
    r = parse_packet(header + ip, linktype, verify_checksums=True)
    assert r["error"] == R.ERR_NONE
    assert r["linktype"] == linktype
    assert r["eth_type"] == 0            # tshark: eth.type only on Ethernet
    assert (r["l3_off"], r["l3_type"], r["ip_version"]) == (len(header), 0x0800, 4)
    assert (r["dport"], r["tcp_flags"], r["payload_len"], r["csum_l4"]) == (2, 0x12, 3, R.CSUM_GOOD)


@pytest.mark.parametrize("family", [10, 23, 24, 28, 30])
def test_null_ipv6_families(family):
    ip = build.udp_packet("::1", "::2", 1, 2, b"x")
    r = parse_packet(struct.pack("<I", family) + ip, R.LINKTYPE_NULL)
    assert r["ip_version"] == 6 and r["dport"] == 2


def test_raw_ipv6_linktype_and_bad_version():
    ip = build.udp_packet("::1", "::2", 1, 2, b"x")
    assert parse_packet(ip, R.LINKTYPE_IPV6)["ip_version"] == 6
    assert parse_packet(b"\x50" + ip[1:], R.LINKTYPE_RAW)["error"] == R.ERR_BAD_VERSION


def test_unsupported_linktype_is_an_error_not_an_exception():
    r = parse_packet(b"\0" * 40, 147)
    assert r["error"] == R.ERR_UNSUPPORTED_LINKTYPE and r["linktype"] == 147


def test_ipv4_fragments():
    payload = build.udp_packet("10.0.0.1", "10.0.0.2", 7, 9, b"z" * 40)[20:]
    first = bytearray(build.ip_packet("10.0.0.1", "10.0.0.2", 17, payload[:24], ident=77))
    first[6:8] = (0x2000).to_bytes(2, "big")          # MF
    later = bytearray(build.ip_packet("10.0.0.1", "10.0.0.2", 17, payload[24:], ident=77))
    later[6:8] = (3).to_bytes(2, "big")               # offset 3 * 8 = 24
    for f in (first, later):                           # fix the header checksums
        f[10:12] = b"\0\0"
        from fastpath.wire.checksum import internet_checksum
        f[10:12] = internet_checksum(bytes(f[:20])).to_bytes(2, "big")
    r1 = parse_packet(bytes(first), R.LINKTYPE_RAW, verify_checksums=True)
    assert r1["ip_flags"] & R.IPF_FRAGMENT and r1["ip_flags"] & R.IPF_MF
    assert r1["dport"] == 9 and r1["csum_l4"] == R.CSUM_UNVERIFIED   # cannot check a fragment
    assert r1["csum_ip"] == R.CSUM_GOOD and r1["ip_id"] == 77
    r2 = parse_packet(bytes(later), R.LINKTYPE_RAW, verify_checksums=True)
    assert r2["ip_flags"] & R.IPF_NONFIRST and r2["frag_off"] == 3
    assert r2["l4_off"] == R.OFF_NONE and r2["dport"] == 0          # never parse mid-payload
    assert (r2["payload_off"], r2["payload_len"]) == (20, 24)


def test_ipv4_total_length_zero_uses_captured_length():
    f = bytearray(build.tcp_packet("10.0.0.1", "10.0.0.2", 1, 2, payload=b"abcdef"))
    f[2:4] = b"\0\0"
    r = parse_packet(bytes(f), R.LINKTYPE_RAW)
    assert r["error"] == R.ERR_NONE and r["payload_len"] == 6


def test_ethernet_padding_is_not_payload():
    f = build.tcp_packet("10.0.0.1", "10.0.0.2", 1, 2, flags=0x10, ethernet=MACS)
    r = parse_packet(f + b"\0" * 6, verify_checksums=True)          # padded to 60 bytes
    assert r["payload_len"] == 0 and r["csum_l4"] == R.CSUM_GOOD


def test_ipv6_extension_chain_and_fragment():
    frag = bytes([17, 0, 0, 1]) + (99).to_bytes(4, "big")          # first fragment, M=1
    dst_opts = bytes([44, 0, 1, 4, 0, 0, 0, 0])
    udp = build.udp_packet("2001:db8::1", "2001:db8::2", 1, 2, b"x" * 8)[40:]
    hdr = bytearray(build.ip_packet("2001:db8::1", "2001:db8::2", 60, dst_opts + frag + udp))
    r = parse_packet(bytes(hdr), R.LINKTYPE_RAW, verify_checksums=True)
    assert r["ip_proto"] == 17 and r["l4_off"] == 40 + 16
    assert r["ip_flags"] & R.IPF_FRAGMENT and r["ip_flags"] & R.IPF_OPTIONS
    assert r["ip_id"] == 99 and r["dport"] == 2 and r["csum_l4"] == R.CSUM_UNVERIFIED


def test_ipv6_routing_header_checksum_uses_final_destination():
    final = ipaddress.IPv6Address("2001:db8::99")
    seg = build.udp_packet("2001:db8::1", final, 1, 2, b"hello")[40:]   # checksum vs final
    rh = bytes([17, 2, 0, 1]) + b"\0" * 4 + final.packed
    pkt = build.ip_packet("2001:db8::1", "2001:db8::50", 43, rh + seg)
    r = parse_packet(pkt, R.LINKTYPE_RAW, verify_checksums=True)
    assert r["ip_flags"] & R.IPF_ROUTING and r["csum_l4"] == R.CSUM_GOOD
    assert bytes(r["ip6_dst"]) == ipaddress.IPv6Address("2001:db8::50").packed


def test_icmp_error_quotes_the_offending_header():
    orig = build.tcp_packet("10.0.0.2", "10.0.0.1", 4321, 80, seq=0xABCDEF01, flags=0x02)
    err = build.icmp_packet("192.0.2.1", "10.0.0.2", 3, 3, 0, orig[:28], ethernet=MACS)
    r = parse_packet(err, verify_checksums=True)
    assert (r["icmp_type"], r["icmp_code"], r["csum_l4"]) == (3, 3, R.CSUM_GOOD)
    assert r["inner_kind"] == R.INNER_ICMP_QUOTE and r["inner_off"] == 14 + 20 + 8
    inner = parse_packet(err[r["inner_off"]:], R.LINKTYPE_RAW)
    # 8 bytes of TCP were quoted: ports and sequence number are there, the rest is not.
    assert (inner["sport"], inner["dport"], inner["tcp_seq"]) == (4321, 80, 0xABCDEF01)
    assert inner["error"] == R.ERR_TRUNCATED


def test_ip_in_ip_and_gre_inner_offsets():
    inner = build.udp_packet("192.168.0.1", "192.168.0.2", 1, 2, b"x")
    r = parse_packet(build.ip_packet("10.0.0.1", "10.0.0.2", 4, inner), R.LINKTYPE_RAW)
    assert (r["inner_kind"], r["inner_off"]) == (R.INNER_IP_IN_IP, 20)
    gre = bytes.fromhex("2000" "0800") + (5).to_bytes(4, "big") + inner     # key present
    r = parse_packet(build.ip_packet("10.0.0.1", "10.0.0.2", 47, gre), R.LINKTYPE_RAW)
    assert (r["inner_kind"], r["inner_off"]) == (R.INNER_GRE_IP, 28)


def test_echo_identifier_lands_in_sport():
    r = parse_packet(build.icmp_echo("10.0.0.1", "10.0.0.2", 0x4242, 7, b"hi"), R.LINKTYPE_RAW,
                     verify_checksums=True)
    assert (r["icmp_type"], r["sport"], r["csum_l4"]) == (8, 0x4242, R.CSUM_GOOD)


@pytest.mark.parametrize("cut", [0, 5, 13, 14, 20, 33, 34, 40, 53, 60, 73])
def test_snaplen_truncation_at_every_layer_is_recorded(cut):
    r = parse_packet(TCP_SYN_FRAME[:cut], verify_checksums=True, wirelen=len(TCP_SYN_FRAME))
    assert r["error"] == R.ERR_TRUNCATED
    assert (r["caplen"], r["wirelen"]) == (cut, len(TCP_SYN_FRAME))


def test_truncated_ipv4_header_keeps_the_fields_that_were_captured():
    r = parse_packet(TCP_SYN_FRAME[:14 + 16], wirelen=len(TCP_SYN_FRAME))
    assert r["ip_version"] == 4 and r["ip_proto"] == 6 and r["ip4_src"] == ip4("10.0.0.1")
    assert r["ip4_dst"] == 0 and r["l4_off"] == R.OFF_NONE


def test_snaplen_cut_payload_is_not_an_error_but_checksum_is_unverified():
    r = parse_packet(TCP_SYN_FRAME[:-2], verify_checksums=True, wirelen=len(TCP_SYN_FRAME))
    assert r["error"] == R.ERR_NONE and r["payload_len"] == 5 and r["l4_avail"] == 43
    assert r["csum_l4"] == R.CSUM_UNVERIFIED


def test_frame_shorter_than_its_ip_length_is_checked_over_what_it_has():
    # Not cut by a snapshot length: the packet itself is short. Like tshark, the IP length is
    # bounded by the frame, and the checksum over the bytes that exist comes out bad.
    r = parse_packet(TCP_SYN_FRAME[:-2], verify_checksums=True)
    assert r["error"] == R.ERR_NONE and r["payload_len"] == 3
    assert r["csum_l4"] == R.CSUM_BAD
    r = parse_packet(TCP_SYN_FRAME[:60])    # the TCP options run past the packet's end
    assert r["error"] == R.ERR_BAD_LENGTH


def test_bogus_ipv4_header_length_yields_no_ip_fields():
    f = bytearray(TCP_SYN_FRAME)
    f[14] = 0x43
    r = parse_packet(bytes(f))
    assert r["error"] == R.ERR_BAD_LENGTH and r["ip_version"] == 0 and r["ip4_src"] == 0


def test_version_6_behind_ipv4_ethertype_is_parsed_as_ipv6():
    ip6 = build.udp_packet("2001:db8::1", "2001:db8::2", 1, 2, b"x")
    f = bytes.fromhex("020000000002020000000001" "0800") + ip6
    r = parse_packet(f)
    assert r["l3_type"] == 0x0800 and r["ip_version"] == 6 and r["dport"] == 2


def test_bad_header_lengths():
    f = bytearray(TCP_SYN_FRAME)
    f[14] = 0x44                                        # IHL 4
    assert parse_packet(bytes(f))["error"] == R.ERR_BAD_LENGTH
    f = bytearray(TCP_SYN_FRAME)
    f[16:18] = (19).to_bytes(2, "big")                  # total length below the header
    assert parse_packet(bytes(f))["error"] == R.ERR_BAD_LENGTH
    f = bytearray(TCP_SYN_FRAME)
    f[34 + 12] = 0x40                                   # TCP data offset 4
    assert parse_packet(bytes(f))["error"] == R.ERR_BAD_LENGTH
    f = bytearray(TCP_SYN_FRAME)
    f[34 + 20 + 1] = 40                                 # MSS option length runs past options
    r = parse_packet(bytes(f))
    assert r["error"] == R.ERR_BAD_OPTION and r["tcp_opts"] & R.OPT_MALFORMED
    assert r["dport"] == 80                             # the fixed header is still there


def test_parse_frames_uses_index_and_base_and_flags_bad_frames():
    frames = [TCP_SYN_FRAME, build.arp_request(MACS[0], "10.0.0.1", "10.0.0.2")]
    buf = b"JUNK" + b"".join(frames)
    idx = np.zeros(3, dtype=R.FRAME_DTYPE)
    idx["data_off"] = [1004, 1004 + len(frames[0]), 10**6]
    idx["caplen"] = [len(frames[0]), len(frames[1]), 10]
    idx["wirelen"] = idx["caplen"]
    idx["linktype"] = 1
    idx["ts_ns"] = [5, 6, 7]
    recs = parse_frames(buf, idx, base=1000)
    assert list(recs["error"]) == [0, 0, R.ERR_BAD_FRAME]
    assert list(recs["ts_ns"]) == [5, 6, 7]
    assert recs["dport"][0] == 80 and recs["arp_op"][1] == 1
    assert list(recs["data_off"]) == list(idx["data_off"])


def test_parse_batch_equals_parse_packet():
    frames = [TCP_SYN_FRAME, build.udp_packet("::1", "::2", 1, 2, b"x", ethernet=MACS),
              build.icmp_echo("10.0.0.1", "10.0.0.2", 1, 1, ethernet=MACS)]
    buf = b"".join(frames)
    lens = [len(f) for f in frames]
    offs = np.cumsum([0] + lens[:-1])
    recs = parse_batch(buf, offs, lens, verify_checksums=True)
    for i, f in enumerate(frames):
        one = parse_packet(f, verify_checksums=True)
        for name in R.PACKET_DTYPE.names:
            if name != "data_off":
                assert np.array_equal(recs[i][name], one[name]), name


def test_verify_batch():
    frames = [TCP_SYN_FRAME, bytes(TCP_SYN_FRAME[:-1]) + b"X"]
    ip, l4 = verify_batch(b"".join(frames), [0, len(frames[0])], [len(f) for f in frames])
    assert list(ip) == [R.CSUM_GOOD, R.CSUM_GOOD] and list(l4) == [R.CSUM_GOOD, R.CSUM_BAD]


def test_argument_errors_are_clear():
    with pytest.raises(TypeError, match="FRAME_DTYPE"):
        parse_frames(b"", np.zeros(1, dtype=np.int64))
    with pytest.raises(ValueError, match="one length"):
        parse_batch(b"", [0, 1], [1])
    with pytest.raises(ValueError, match="negative"):
        parse_batch(b"xx", [-1], [1])


LINKTYPES = [1, 0, 12, 14, 101, 108, 113, 228, 229, 276, 9999]


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(LINKTYPES), st.booleans())
def test_arbitrary_bytes_never_read_past_the_frame(data, linktype, verify):
    # The frame ends flush against an inaccessible page: an over-read would crash the run.
    g = _guard()
    off = g.place(data)
    rec = parse_batch(g.usable, [off], [len(data)], linktype, verify_checksums=verify)[0]
    assert rec["error"] < R.ERR_COUNT
    for field in ("l3_off", "l4_off", "payload_off", "inner_off"):
        assert rec[field] == R.OFF_NONE or rec[field] <= len(data)


@settings(max_examples=1500, deadline=None)
@given(st.data())
def test_mutated_real_frames_never_read_past_the_frame(data):
    base = data.draw(st.sampled_from(_seed_frames()))
    f = bytearray(base)
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(f) - 1))
        f[i] = data.draw(st.integers(0, 255))
    f = bytes(f[: data.draw(st.integers(0, len(f)))])
    g = _guard()
    off = g.place(f)
    rec = parse_batch(g.usable, [off], [len(f)], verify_checksums=True)[0]
    assert rec["error"] < R.ERR_COUNT


_GUARD = []


def _guard():
    if not _GUARD:
        _GUARD.append(GuardedBuffer())
    return _GUARD[0]


def _seed_frames():
    return [
        TCP_SYN_FRAME,
        build.udp_packet("2001:db8::1", "2001:db8::2", 1, 4789, b"\x08" + b"\0" * 40, ethernet=MACS),
        build.icmp_packet("192.0.2.1", "10.0.0.2", 3, 3, 0, TCP_SYN_FRAME[14:42], ethernet=MACS),
        build.ip_packet("10.0.0.1", "10.0.0.2", 47, bytes.fromhex("a000" "6558") + b"\0" * 40, ethernet=MACS),
        build.arp_request(MACS[0], "10.0.0.1", "10.0.0.2"),
    ]


def _break_checksums(frame, offsets):
    f = bytearray(frame)
    for o in offsets:
        f[o] ^= 0x5A
    return f


@pytest.mark.parametrize("frame,csum_offsets", [
    (TCP_SYN_FRAME, (14 + 10, 34 + 16)),
    (build.udp_packet("2001:db8::1", "2001:db8::2", 1, 2, b"abc", ethernet=MACS), (14 + 40 + 6,)),
    (build.icmp_echo("10.0.0.1", "10.0.0.2", 1, 2, b"ping", ethernet=MACS), (14 + 10, 34 + 2)),
    (build.icmp_echo("fe80::1", "fe80::2", 1, 2, b"ping", ethernet=MACS), (14 + 40 + 2,)),
])
def test_fill_checksums_restores_every_checksum(frame, csum_offsets):
    from fastpath.wire.parse import fill_checksums
    broken = _break_checksums(frame, csum_offsets)
    r = parse_packet(bytes(broken), verify_checksums=True)
    assert R.CSUM_BAD in (r["csum_ip"], r["csum_l4"])
    assert fill_checksums(broken) == (2 if frame[12:14] == b"\x08\x00" else 1)
    assert bytes(broken) == frame            # exactly what a correct sender would have sent


def test_fill_checksums_batch_and_leaves_fragments_alone():
    from fastpath.wire.parse import fill_checksums_batch
    frames = [bytearray(_break_checksums(TCP_SYN_FRAME, (34 + 16,))) for _ in range(3)]
    buf = bytearray(b"".join(frames))
    lens = [len(f) for f in frames]
    assert fill_checksums_batch(buf, np.cumsum([0] + lens[:-1]), lens) == 6
    assert bytes(buf) == TCP_SYN_FRAME * 3
    frag = bytearray(TCP_SYN_FRAME)
    frag[14 + 6] |= 0x20                     # MF: the segment is incomplete
    assert fill_checksums_batch(frag, [0], [len(frag)]) == 1   # IPv4 header only
    with pytest.raises(ValueError, match="does not fit"):
        fill_checksums_batch(buf, [0], [len(buf) + 1])
