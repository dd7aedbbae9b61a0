"""RFC 1071 checksum, pseudo-headers and RFC 1624 incremental update."""
import struct

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from fastpath.wire import checksum as cs


def reference_sum(data: bytes) -> int:
    """Straight from RFC 1071: add 16-bit big-endian words with end-around carry."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for (w,) in struct.iter_unpack("!H", data):
        total += w
        total = (total & 0xFFFF) + (total >> 16)
    return total


def test_rfc1071_numeric_example():
    # RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
    data = bytes.fromhex("0001f203f4f5f6f7")
    assert cs.checksum_sum(data) == 0xDDF2
    assert cs.internet_checksum(data) == 0xDDF2 ^ 0xFFFF


def test_ipv4_header_example():
    hdr = bytearray.fromhex("4500003c1c4640004006" "0000" "ac100a63ac100a0c")
    c = cs.internet_checksum(hdr)
    assert c == 0xB1E6
    hdr[10:12] = c.to_bytes(2, "big")
    assert cs.verify_checksum(hdr)
    hdr[0] ^= 1
    assert not cs.verify_checksum(hdr)


def test_odd_length_pads_with_zero_on_the_right():
    assert cs.checksum_sum(b"\x12") == 0x1200
    assert cs.checksum_sum(b"\x12\x34\x56") == 0x1234 + 0x5600


def test_empty_buffer():
    assert cs.checksum_sum(b"") == 0
    assert cs.internet_checksum(b"") == 0xFFFF


@settings(max_examples=400)
@given(st.binary(max_size=3000))
def test_matches_reference_on_any_length(data):
    assert cs.checksum_sum(data) == reference_sum(data)


@given(st.binary(min_size=1, max_size=200), st.integers(0, 0xFFFF))
def test_initial_partial_sum_is_added(data, initial):
    expected = reference_sum(data) + initial
    expected = (expected & 0xFFFF) + (expected >> 16)
    got = cs.checksum_sum(data, initial)
    # 0x0000 and 0xffff are both zero in ones' complement.
    assert got % 0xFFFF == expected % 0xFFFF


@settings(max_examples=300)
@given(st.binary(min_size=20, max_size=60).filter(lambda b: len(b) % 2 == 0),
       st.integers(0, 9), st.integers(0, 0xFFFF))
def test_incremental_update16_equals_recomputation(data, word_index, new_word):
    buf = bytearray(data)
    buf[10:12] = b"\0\0"
    buf[10:12] = cs.internet_checksum(buf).to_bytes(2, "big")
    pos = word_index * 2 if word_index != 5 else 0  # never the checksum field itself
    old_word = int.from_bytes(buf[pos:pos + 2], "big")
    old_csum = int.from_bytes(buf[10:12], "big")
    buf[pos:pos + 2] = new_word.to_bytes(2, "big")
    updated = cs.incremental_update(old_csum, old_word, new_word)
    buf[10:12] = b"\0\0"
    # RFC 1624 section 3: the two agree whenever the data is not all zeros (only an all-zero
    # buffer sums to +0); see test_incremental_update_all_zero_corner.
    assume(any(buf))
    assert updated == cs.internet_checksum(buf)


@settings(max_examples=300)
@given(st.binary(min_size=20, max_size=20), st.integers(0, 0xFFFFFFFF))
def test_incremental_update32_equals_recomputation(hdr, new_addr):
    buf = bytearray(hdr)
    buf[10:12] = b"\0\0"
    buf[10:12] = cs.internet_checksum(buf).to_bytes(2, "big")
    old_addr = int.from_bytes(buf[12:16], "big")
    old_csum = int.from_bytes(buf[10:12], "big")
    buf[12:16] = new_addr.to_bytes(4, "big")
    updated = cs.incremental_update(old_csum, old_addr, new_addr, width=32)
    buf[10:12] = b"\0\0"
    assume(any(buf))
    assert updated == cs.internet_checksum(buf)


def test_incremental_update_all_zero_corner():
    # The one case eqn. 3 and recomputation differ: every data word zero. Recomputation gives
    # 0xffff, eqn. 3 gives 0x0000; both verify, since 0 and 0xffff are both zero in ones' complement.
    assert cs.incremental_update(0xFFFF, 0, 0) == 0x0000
    assert cs.internet_checksum(bytes(20)) == 0xFFFF


def test_incremental_update_rfc1624_example():
    # RFC 1624 section 4 (eqn. 3): HC = 0xdd2f, m = 0x5555 changes to m' = 0x3285 -> 0x0000.
    assert cs.incremental_update(0xDD2F, 0x5555, 0x3285) == 0x0000


def test_incremental_update_rejects_bad_width():
    with pytest.raises(ValueError, match="width"):
        cs.incremental_update(0, 1, 2, width=8)
    with pytest.raises(ValueError, match="16-bit"):
        cs.incremental_update(0x10000, 1, 2)


def test_pseudo_header_v4_matches_manual_layout():
    src, dst = bytes([10, 0, 0, 1]), bytes([192, 168, 1, 2])
    manual = src + dst + bytes([0, 6]) + (40).to_bytes(2, "big")
    assert cs.checksum_sum(b"", cs.pseudo_header_sum(src, dst, 6, 40)) == reference_sum(manual)
    as_ints = cs.pseudo_header_sum(int.from_bytes(src, "big"), int.from_bytes(dst, "big"), 6, 40)
    assert cs.checksum_sum(b"", as_ints) == reference_sum(manual)


def test_pseudo_header_v6_uses_32bit_length():
    src = bytes(range(16))
    dst = bytes(range(16, 32))
    length = 70000  # a jumbogram length does not fit 16 bits (RFC 8200 8.1)
    manual = src + dst + length.to_bytes(4, "big") + b"\0\0\0" + bytes([17])
    assert cs.checksum_sum(b"", cs.pseudo_header_sum(src, dst, 17, length)) == reference_sum(manual)


def test_pseudo_header_rejects_mixed_address_sizes():
    with pytest.raises(ValueError, match="4 or both 16"):
        cs.pseudo_header_sum(b"\0" * 4, b"\0" * 16, 6, 20)


def test_udp_segment_round_trip_with_pseudo_header():
    # A UDP datagram 10.0.0.1:1234 -> 10.0.0.2:53 with 4 bytes of payload.
    src, dst = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    seg = bytearray(struct.pack("!HHHH", 1234, 53, 12, 0) + b"abcd")
    c = cs.internet_checksum(seg, cs.pseudo_header_sum(src, dst, 17, len(seg)))
    seg[6:8] = c.to_bytes(2, "big")
    assert cs.verify_checksum(seg, cs.pseudo_header_sum(src, dst, 17, len(seg)))


def test_accepts_any_buffer_type():
    data = bytes(range(256)) * 3
    expected = cs.internet_checksum(data)
    assert cs.internet_checksum(bytearray(data)) == expected
    assert cs.internet_checksum(memoryview(data)) == expected
    assert cs.internet_checksum(np.frombuffer(data, dtype=np.uint8)) == expected


@given(st.lists(st.binary(max_size=300), min_size=0, max_size=20))
def test_batch_equals_single_calls(frames):
    buf = b"".join(frames)
    lengths = np.array([len(f) for f in frames], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if frames else lengths
    out = cs.checksum_batch(buf if buf else b"\0", offsets, lengths)
    assert out.dtype == np.uint16
    assert list(out) == [cs.internet_checksum(f) for f in frames]


def test_batch_rejects_frame_outside_buffer():
    with pytest.raises(ValueError, match="frame 1 .* does not fit"):
        cs.checksum_batch(b"x" * 100, [0, 90], [10, 20])
    with pytest.raises(ValueError, match="2 offsets but 1 lengths"):
        cs.checksum_batch(b"x" * 100, [0, 1], [10])
