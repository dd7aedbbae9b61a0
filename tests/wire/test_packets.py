"""fastpath.packets: captures to records, whole or chunk by chunk."""
import numpy as np
import pytest

from fastpath.errors import CaptureError
from fastpath.packets import concat_records, iter_parse, parse_capture
from fastpath.wire.record import PACKET_DTYPE

from support import captures_dir


def test_chunking_does_not_change_the_records():
    cap = captures_dir() / "zeek" / "wikipedia.pcap"
    whole = parse_capture(cap, verify_checksums=True)
    pieces = parse_capture(cap, verify_checksums=True, chunk_packets=7)
    assert len(whole) == 136 and whole.dtype == PACKET_DTYPE
    assert whole.tobytes() == pieces.tobytes()
    chunks = list(iter_parse(cap, chunk_packets=50, verify_checksums=True))
    assert [c.first_record for c in chunks] == [1, 51, 101]
    assert concat_records([c.records for c in chunks]).tobytes() == whole.tobytes()


def test_payload_and_frame_of_a_chunk():
    cap = captures_dir() / "zeek" / "wikipedia.pcap"
    chunk = next(iter_parse(cap))
    http = np.flatnonzero((chunk.records["dport"] == 80) & (chunk.records["payload_len"] > 0))[0]
    assert chunk.payload(http).startswith(b"GET ")
    assert len(chunk.frame(http)) == chunk.records["caplen"][http]


def test_broken_capture_keeps_what_was_read(tmp_path):
    cut = tmp_path / "cut.pcap"
    cut.write_bytes((captures_dir() / "zeek" / "wikipedia.pcap").read_bytes()[:-30])
    with pytest.raises(CaptureError) as e:
        parse_capture(cut, chunk_packets=40)
    assert len(e.value.records) == 135 and e.value.record == 136


def test_concat_records_edge_cases():
    assert len(concat_records([])) == 0
    one = np.zeros(3, PACKET_DTYPE)
    assert concat_records([one]) is one
