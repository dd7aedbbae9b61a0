"""IPv6 (RFC 8200): fixed header golden bytes and the extension-header walk."""
import ipaddress

import pytest

from fastpath.errors import MalformedPacketError
from fastpath.wire.ipv6 import Ipv6Repr

SRC = ipaddress.IPv6Address("2001:db8::1")
DST = ipaddress.IPv6Address("2001:db8::2")
# Version 6, traffic class 0x12, flow label 0x34567, payload 8, next header UDP (17), hops 64.
FIXED = bytes.fromhex("61234567" "0008" "11" "40") + SRC.packed + DST.packed


def ext(nh, body):
    """An extension header of the 8-octet-unit kind: next header, length, body (padded)."""
    body = body + b"\0" * (-(len(body) + 2) % 8)
    return bytes([nh, (len(body) + 2) // 8 - 1]) + body


def with_payload(next_header, exts, payload):
    plen = len(exts) + len(payload)
    return (bytes.fromhex("60000000") + plen.to_bytes(2, "big") + bytes([next_header, 64])
            + SRC.packed + DST.packed + exts + payload)


def test_deconstruct_fixed():
    ip = Ipv6Repr.parse(FIXED + b"\0" * 8)
    assert (ip.src, ip.dst) == (SRC, DST)
    assert (ip.traffic_class, ip.flow_label, ip.payload_len) == (0x12, 0x34567, 8)
    assert (ip.next_header, ip.hop_limit, ip.upper_proto, ip.upper_offset) == (17, 64, 17, 40)
    assert ip.final_dst == DST and ip.fragment is None


def test_construct_into_prefilled_buffer():
    buf = bytearray(b"\xa5" * 44)
    n = Ipv6Repr(SRC, DST, 17, payload_len=8, hop_limit=64, traffic_class=0x12,
                 flow_label=0x34567).emit(buf)
    assert n == 40 and bytes(buf[:40]) == FIXED and buf[40:] == b"\xa5" * 4


def test_truncated_and_wrong_version():
    with pytest.raises(MalformedPacketError, match="truncated"):
        Ipv6Repr.parse(FIXED[:39])
    with pytest.raises(MalformedPacketError, match="version"):
        Ipv6Repr.parse(b"\x45" + FIXED[1:])


def test_walk_hop_by_hop_destination_options_to_tcp():
    pkt = with_payload(0, ext(60, b"\x01\x04\0\0\0\0") + ext(6, b"\x01\x04\0\0\0\0"), b"\0" * 20)
    ip = Ipv6Repr.parse(pkt)
    assert ip.next_header == 0          # the fixed header's value, as tshark's ipv6.nxt
    assert (ip.upper_proto, ip.upper_offset) == (6, 56)


def test_routing_header_final_destination_rfc8200_8_1():
    final = ipaddress.IPv6Address("2001:db8::99")
    mid = ipaddress.IPv6Address("2001:db8::50")
    # Type 0, 2 segments left, addresses mid then final: the pseudo-header uses the last one.
    rh = bytes([17, 4, 0, 2]) + b"\0" * 4 + mid.packed + final.packed
    ip = Ipv6Repr.parse(with_payload(43, rh, b"\0" * 8))
    assert ip.final_dst == final and ip.upper_proto == 17 and ip.upper_offset == 40 + 40
    # Segments left 0: the packet has arrived, the destination field is final.
    rh0 = bytes([17, 4, 0, 0]) + b"\0" * 4 + mid.packed + final.packed
    assert Ipv6Repr.parse(with_payload(43, rh0, b"\0" * 8)).final_dst == DST


def test_segment_routing_header_final_is_first_in_list_rfc8754():
    final = ipaddress.IPv6Address("2001:db8::99")
    mid = ipaddress.IPv6Address("2001:db8::50")
    srh = bytes([17, 4, 4, 1, 1, 0, 0, 0]) + final.packed + mid.packed
    assert Ipv6Repr.parse(with_payload(43, srh, b"\0" * 8)).final_dst == final


def test_fragment_header():
    first = bytes([17, 0]) + (0 << 3 | 1).to_bytes(2, "big") + (0xDEADBEEF).to_bytes(4, "big")
    ip = Ipv6Repr.parse(with_payload(44, first, b"\0" * 8))
    assert ip.fragment == (0, True, 0xDEADBEEF) and ip.upper_proto == 17
    later = bytes([17, 0]) + (185 << 3).to_bytes(2, "big") + (7).to_bytes(4, "big")
    ip = Ipv6Repr.parse(with_payload(44, later, b"\0" * 8))
    assert ip.fragment == (185, False, 7)
    assert ip.upper_offset == 48        # the walk stops: what follows is mid-payload


def test_esp_and_no_next_header_end_the_walk():
    assert Ipv6Repr.parse(with_payload(50, b"", b"\0" * 16)).upper_proto == 50
    pkt = with_payload(60, ext(59, b"\x01\x04\0\0\0\0"), b"")
    assert Ipv6Repr.parse(pkt).upper_proto == 59


def test_jumbo_payload_option_rfc2675():
    hbh = bytes([17, 0, 0xC2, 4]) + (70000).to_bytes(4, "big")
    pkt = bytearray(with_payload(0, hbh, b"\0" * 8))
    pkt[4:6] = b"\0\0"                  # payload length 0 in a jumbogram
    assert Ipv6Repr.parse(bytes(pkt)).payload_len == 70000


def test_truncated_extension_header():
    pkt = with_payload(0, ext(6, b"\x01\x04\0\0\0\0"), b"")[:44]
    with pytest.raises(MalformedPacketError, match="extension header 0 at offset 40"):
        Ipv6Repr.parse(pkt)


def test_chain_longer_than_bound():
    chain = b"".join(ext(60, b"\x01\x04\0\0\0\0") for _ in range(17))
    with pytest.raises(MalformedPacketError, match="too long"):
        Ipv6Repr.parse(with_payload(60, chain, b""))
