"""Capture I/O: read pcap, pcapng and gzip-compressed captures into FRAME_DTYPE indexes in C, and
write pcap and pcapng files.

    from fastpath.capture import open_capture, PcapWriter, PcapngWriter
    with open_capture(path) as r:               # format detected from the content
        for chunk in r.chunks():                # chunk.buffer, .base, .index, .first_record
            ...
"""
from fastpath.capture.reader import (  # noqa: F401
    DEFAULT_MAX_BYTES, DEFAULT_MAX_PACKETS, CaptureReader, Chunk, Interface, Packet,
    describe_content, open_capture)
from fastpath.capture.writer import PcapWriter, PcapngWriter  # noqa: F401
from fastpath.capture.index import MAX_BLOCK, MAX_CAPLEN  # noqa: F401

__all__ = ["open_capture", "CaptureReader", "Chunk", "Interface", "Packet", "PcapWriter",
           "PcapngWriter", "describe_content", "MAX_CAPLEN", "MAX_BLOCK", "DEFAULT_MAX_PACKETS",
           "DEFAULT_MAX_BYTES"]
