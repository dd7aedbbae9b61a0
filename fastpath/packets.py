"""Captures to parsed records: the capture readers and the batch parser, composed.

    from fastpath.packets import parse_capture, iter_parse
    recs = parse_capture("trace.pcap")                  # one PACKET_DTYPE array, whole file
    for chunk in iter_parse("huge.pcap.gz"):            # bounded memory, any size
        chunk.records, chunk.buffer, chunk.base

Field meanings are in ``fastpath.wire.record`` (and ``pyx/fastpath/wire/record.pxd``).
"""
import numpy as np

from fastpath.capture import DEFAULT_MAX_PACKETS, CaptureReader, open_capture
from fastpath.errors import CaptureError
from fastpath.wire.parse import parse_frames
from fastpath.wire.record import PACKET_DTYPE


class ParsedChunk:
    """Records of one chunk of a capture, with the bytes they point into.

    ``records``       PACKET_DTYPE rows; ``data_off`` is the stream offset of each frame
    ``buffer``        the chunk's bytes (buffer protocol); ``buffer[0]`` is at ``base``
    ``index``         the FRAME_DTYPE rows the records were parsed from
    ``first_record``  1-based number of the first record in the capture
    """

    __slots__ = ("records", "buffer", "base", "index", "first_record")

    def __init__(self, records, buffer, base, index, first_record):
        self.records = records
        self.buffer = buffer
        self.base = base
        self.index = index
        self.first_record = first_record

    def __len__(self):
        return len(self.records)

    def frame(self, i):
        """The bytes of frame ``i`` (a copy)."""
        start = int(self.records["data_off"][i]) - self.base
        return bytes(memoryview(self.buffer)[start:start + int(self.records["caplen"][i])])

    def payload(self, i):
        """Transport payload bytes of packet ``i`` that were captured (a copy; b"" if none)."""
        r = self.records[i]
        if r["payload_off"] == 0xFFFF:
            return b""
        start = int(r["data_off"]) - self.base + int(r["payload_off"])
        end = min(int(r["data_off"]) - self.base + int(r["caplen"]), start + int(r["payload_len"]))
        return bytes(memoryview(self.buffer)[start:max(start, end)])


def iter_parse(source, chunk_packets=DEFAULT_MAX_PACKETS, verify_checksums=False):
    """Parse a capture (path, binary file object, or an open ``CaptureReader``; pcap, pcapng,
    gzip) chunk by chunk.

    Memory stays bounded by the chunk size whatever the capture's size. On a broken file every
    good chunk is yielded first, then the ``CaptureError`` (naming the file, record and byte
    offset) is raised."""
    if isinstance(source, CaptureReader):
        yield from _parse_chunks(source, chunk_packets, verify_checksums)
        return
    with open_capture(source) as reader:
        yield from _parse_chunks(reader, chunk_packets, verify_checksums)


def _parse_chunks(reader, chunk_packets, verify_checksums):
    for ch in reader.chunks(max_packets=chunk_packets):
        recs = parse_frames(ch.buffer, ch.index, ch.base, verify_checksums)
        yield ParsedChunk(recs, ch.buffer, ch.base, ch.index, ch.first_record)


def concat_records(parts):
    """One PACKET_DTYPE array from several. Joined as raw bytes: numpy's structured-array
    concatenate copies field by field, about four times slower."""
    if not parts:
        return np.empty(0, PACKET_DTYPE)
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([np.ascontiguousarray(p).view(np.uint8) for p in parts]).view(PACKET_DTYPE)


def parse_capture(source, verify_checksums=False, chunk_packets=DEFAULT_MAX_PACKETS):
    """The whole capture as one PACKET_DTYPE array.

    A broken file raises ``CaptureError``; its ``records`` attribute holds every packet parsed
    before the fault, so nothing that could be read is lost."""
    parts = []
    try:
        for chunk in iter_parse(source, chunk_packets, verify_checksums):
            parts.append(chunk.records)
    except CaptureError as e:
        e.records = concat_records(parts)
        raise
    return concat_records(parts)
