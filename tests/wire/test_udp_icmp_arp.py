"""UDP (RFC 768), ICMP (RFC 792) / ICMPv6 (RFC 4443) and ARP (RFC 826): golden bytes."""
import ipaddress

import pytest

from fastpath.errors import MalformedPacketError
from fastpath.wire.arp import ArpRepr
from fastpath.wire.checksum import internet_checksum, pseudo_header_sum
from fastpath.wire.icmp import IcmpRepr
from fastpath.wire.udp import UdpRepr

A, B = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
# 10.0.0.1:5 -> 10.0.0.2:53, payload "abc" (checksum checked by tshark: good).
UDP_DGRAM = bytes.fromhex("00050035000b" "0000" "616263")


def udp_with_checksum():
    d = bytearray(UDP_DGRAM)
    d[6:8] = internet_checksum(d, pseudo_header_sum(A, B, 17, len(d))).to_bytes(2, "big")
    return bytes(d)


def test_udp_deconstruct_and_verify():
    d = udp_with_checksum()
    u = UdpRepr.parse(d, pseudo_header_sum(A, B, 17, len(d)))
    assert (u.sport, u.dport, u.length) == (5, 53, 11)


def test_udp_construct_into_prefilled_buffer():
    buf = bytearray(b"\xa5" * 14)
    n = UdpRepr(5, 53).emit(buf, b"abc", pseudo_header_sum(A, B, 17, 11))
    assert n == 11 and bytes(buf[:11]) == udp_with_checksum() and buf[11:] == b"\xa5" * 3


def test_udp_zero_checksum_means_none_over_ipv4():
    d = UdpRepr(5, 53).to_bytes(b"abc", with_checksum=False)
    assert d[6:8] == b"\0\0"
    assert UdpRepr.parse(d, pseudo_header_sum(A, B, 17, 11)).checksum == 0   # not "bad"


def test_udp_computed_zero_is_sent_as_ffff():
    # Find a payload whose checksum computes to zero: it must go out as 0xffff (RFC 768).
    for i in range(70000):
        payload = i.to_bytes(3, "big")
        u = UdpRepr(1, 2).to_bytes(payload, pseudo_header_sum(A, B, 17, 11))
        if u[6:8] == b"\xff\xff":
            break
    else:
        pytest.fail("no payload with a zero checksum found")
    assert UdpRepr.parse(u, pseudo_header_sum(A, B, 17, 11)).checksum == 0xFFFF


def test_udp_bad_length_and_truncation():
    with pytest.raises(MalformedPacketError, match="below 8"):
        UdpRepr.parse(bytes.fromhex("000500350007" "0000"))
    with pytest.raises(MalformedPacketError, match="truncated"):
        UdpRepr.parse(UDP_DGRAM[:7])
    bad = bytearray(udp_with_checksum())
    bad[-1] ^= 1
    with pytest.raises(MalformedPacketError, match="bad checksum"):
        UdpRepr.parse(bad, pseudo_header_sum(A, B, 17, 11))


# Echo request id 0x1234 seq 1, payload "ping"; checksum by hand: ~(0800+1234+0001+7069+6e67).
ICMP_ECHO = bytes.fromhex("0800" "06fa" "12340001") + b"ping"


def test_icmp_echo_golden():
    assert internet_checksum(ICMP_ECHO) == 0
    m = IcmpRepr.parse(ICMP_ECHO, verify=True)
    assert (m.type, m.code, m.ident, m.seq) == (8, 0, 0x1234, 1)
    buf = bytearray(b"\xa5" * 14)
    assert IcmpRepr.echo(0x1234, 1).emit(buf, b"ping") == 12
    assert bytes(buf[:12]) == ICMP_ECHO and buf[12:] == b"\xa5\xa5"


def test_icmpv6_checksum_needs_pseudo_header():
    s = ipaddress.IPv6Address("fe80::1").packed
    d = ipaddress.IPv6Address("fe80::2").packed
    ps = pseudo_header_sum(s, d, 58, 12)
    raw = IcmpRepr.echo(7, 9, v6=True).to_bytes(b"ping", ps)
    assert IcmpRepr.parse(raw, ps, verify=True).type == 128
    with pytest.raises(MalformedPacketError, match="bad checksum"):
        IcmpRepr.parse(raw, 0, verify=True)
    with pytest.raises(MalformedPacketError, match="truncated"):
        IcmpRepr.parse(raw[:7])


ARP_REQ = bytes.fromhex("0001" "0800" "06" "04" "0001" "020000000001" "0a000001"
                        "000000000000" "0a000002")


def test_arp_golden():
    a = ArpRepr.parse(ARP_REQ)
    assert a.op == 1 and a.sender_ip == ipaddress.IPv4Address("10.0.0.1")
    assert a.target_ip == ipaddress.IPv4Address("10.0.0.2") and a.target_mac == b"\0" * 6
    buf = bytearray(b"\xa5" * 30)
    assert ArpRepr(1, "02:00:00:00:00:01", "10.0.0.1", b"\0" * 6, "10.0.0.2").emit(buf) == 28
    assert bytes(buf[:28]) == ARP_REQ and buf[28:] == b"\xa5\xa5"


def test_arp_malformed():
    with pytest.raises(MalformedPacketError, match="truncated"):
        ArpRepr.parse(ARP_REQ[:27])
    other = bytearray(ARP_REQ)
    other[4] = 8
    with pytest.raises(MalformedPacketError, match="6-byte"):
        ArpRepr.parse(other)
