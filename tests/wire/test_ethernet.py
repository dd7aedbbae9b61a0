"""Ethernet II and 802.1Q / 802.1ad tags (IEEE 802.1Q): golden bytes."""
import pytest

from fastpath.errors import MalformedPacketError
from fastpath.wire.ethernet import EthernetRepr

from wire_golden import ETH_DST, ETH_SRC

PLAIN = ETH_DST + ETH_SRC + b"\x08\x00"
# QinQ: 802.1ad S-tag VID 100, then 802.1Q C-tag PCP 3 VID 200, then IPv6.
QINQ = ETH_DST + ETH_SRC + bytes.fromhex("88a8" "0064" "8100" "60c8" "86dd")


def test_deconstruct_plain():
    e = EthernetRepr.parse(PLAIN + b"payload")
    assert (e.dst, e.src, e.ethertype, e.tags) == (ETH_DST, ETH_SRC, 0x0800, ())
    assert e.buffer_len() == 14


def test_deconstruct_qinq_outer_first():
    e = EthernetRepr.parse(QINQ)
    assert e.ethertype == 0x86DD
    assert e.tags == ((0x88A8, 0, 0, 100), (0x8100, 3, 0, 200))
    assert e.buffer_len() == 22


def test_construct_into_prefilled_buffer():
    buf = bytearray(b"\xa5" * 30)
    n = EthernetRepr(ETH_DST, ETH_SRC, 0x86DD, [(0x88A8, 0, 0, 100), (0x8100, 3, 0, 200)]).emit(buf)
    assert n == 22
    assert bytes(buf[:22]) == QINQ
    assert buf[22:] == b"\xa5" * 8          # nothing written past the header


def test_truncated_header():
    with pytest.raises(MalformedPacketError, match="truncated"):
        EthernetRepr.parse(PLAIN[:13])
    with pytest.raises(MalformedPacketError, match="truncated"):
        EthernetRepr.parse(QINQ[:19])       # inside the second tag


def test_too_many_tags():
    tag = bytes.fromhex("81000001")
    frame = ETH_DST + ETH_SRC + tag * 5 + b"\x08\x00"
    with pytest.raises(MalformedPacketError, match="more than 4"):
        EthernetRepr.parse(frame)


def test_emit_into_short_buffer_refuses():
    with pytest.raises(ValueError, match="too small"):
        EthernetRepr(ETH_DST, ETH_SRC, 0x0800).emit(bytearray(13))


def test_mac_text_form():
    e = EthernetRepr("02:00:00:00:00:02", "02-00-00-00-00-01", 0x0806)
    assert e.to_bytes() == ETH_DST + ETH_SRC + b"\x08\x06"
    with pytest.raises(ValueError, match="6 bytes"):
        EthernetRepr("02:00", ETH_SRC, 0x0800)
