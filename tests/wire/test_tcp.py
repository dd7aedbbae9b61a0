"""TCP header and options (RFC 9293 3.1, RFC 7323, RFC 2018): golden bytes."""
import pytest

from fastpath.errors import MalformedPacketError
from fastpath.wire.checksum import pseudo_header_sum
from fastpath.wire.tcp import TcpRepr

from wire_golden import TCP_SYN_FRAME, TCP_SYN_TCP_OFF

SEG = TCP_SYN_FRAME[TCP_SYN_TCP_OFF:]
PSEUDO = pseudo_header_sum(bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), 6, len(SEG))


def test_deconstruct_syn_with_options():
    t = TcpRepr.parse(SEG, PSEUDO)
    assert (t.sport, t.dport, t.seq, t.ack) == (1234, 80, 1, 0)
    assert t.flag_names() == ["SYN"]
    assert (t.window, t.mss, t.wscale, t.sack_permitted, t.timestamp) == (0xFFFF, 1460, 7, True, (1, 0))
    assert t.header_len == 40 and t.sack == ()


def test_construct_into_prefilled_buffer():
    buf = bytearray(b"\xa5" * (len(SEG) + 3))
    t = TcpRepr(1234, 80, seq=1, flags=0x02, window=0xFFFF, mss=1460, wscale=7,
                sack_permitted=True, timestamp=(1, 0))
    assert t.buffer_len() == 40
    n = t.emit(buf, b"hello", PSEUDO)
    assert n == len(SEG)
    assert bytes(buf[:n]) == SEG
    assert buf[n:] == b"\xa5" * 3


def test_bad_checksum_detected():
    bad = bytearray(SEG)
    bad[-1] ^= 1
    with pytest.raises(MalformedPacketError, match="bad checksum"):
        TcpRepr.parse(bad, PSEUDO)


def test_sack_blocks_round_trip():
    t = TcpRepr(1, 2, seq=5, ack=6, flags=0x10, window=100, timestamp=(9, 8),
                sack=[(1000, 2000), (3000, 4000), (0xFFFFFF00, 0x100)])
    raw = t.to_bytes()
    assert len(raw) == 20 + 12 + 4 + 24
    assert TcpRepr.parse(raw) == t


def test_options_over_40_bytes_are_refused():
    t = TcpRepr(1, 2, mss=1460, timestamp=(1, 1), sack=[(i, i + 1) for i in range(4)])
    with pytest.raises(ValueError, match="40 bytes"):
        t.buffer_len()


def test_unknown_option_kind_is_skipped_by_its_length():
    raw = bytearray(TcpRepr(1, 2, flags=0x10).to_bytes())
    raw[12] = 0x70                      # data offset 7: 8 bytes of options
    opts = bytes([0xFD, 4, 0xAA, 0xBB, 2, 4, 0x05, 0xB4])   # experimental kind 253, then MSS
    t = TcpRepr.parse(bytes(raw) + opts)
    assert t.mss == 1460 and t.option_flags == 0x20          # OPT_UNKNOWN


@pytest.mark.parametrize("opts", [
    bytes([8, 40, 0, 0]),               # timestamp claims 40 bytes in a 4-byte space
    bytes([3, 1, 0, 0]),                # length below 2
    bytes([1, 1, 1, 5]),                # SACK kind with no length byte left
])
def test_malformed_option_lengths_are_detected(opts):
    raw = bytearray(TcpRepr(1, 2, flags=0x10).to_bytes())
    raw[12] = 0x60
    data = bytes(raw) + opts
    with pytest.raises(MalformedPacketError, match="malformed option"):
        TcpRepr.parse(data)


def test_truncated_and_bad_offset():
    with pytest.raises(MalformedPacketError, match="truncated"):
        TcpRepr.parse(SEG[:19])
    with pytest.raises(MalformedPacketError, match="truncated"):
        TcpRepr.parse(SEG[:30])         # options cut short
    raw = bytearray(SEG)
    raw[12] = 0x40                      # data offset 4 < 5
    with pytest.raises(MalformedPacketError, match="below 20"):
        TcpRepr.parse(raw)


def test_all_flag_bits_round_trip():
    t = TcpRepr(1, 2, flags=0x1FF)
    assert TcpRepr.parse(t.to_bytes()).flags == 0x1FF
    assert t.flag_names() == ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "AE"]
