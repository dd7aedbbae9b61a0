"""Reading captures: ``open_capture`` over pcap, pcapng and gzip-compressed files, pipes and buffers.

The bytes come from one of two kinds of source, and the C walker (``fastpath.capture.index``)
turns them into FRAME_DTYPE rows chunk by chunk:

* mapped -- a regular file mapped with mmap, or a caller's buffer. A chunk's ``buffer`` is a
  zero-copy view of the mapping. Pages behind the reader are dropped (``MADV_DONTNEED``) when the
  next chunk is asked for, so resident memory stays near one chunk whatever the file's size;
  a chunk kept by the caller stays valid (its pages are read back from the file on access).
* streamed -- gzip, pipes, file objects, or a regular file opened with ``mmap=False``. Bytes are
  read (or inflated) into a bounded buffer; a record cut by the buffer's end is carried into the
  next one. Buffers are recycled only when nothing outside the reader refers to them any more, so
  a chunk kept by the caller is never overwritten.

A broken file yields every good record first; the ``CaptureError`` comes after them and names the
file, the 1-based record number and the byte offset.
"""
import io
import mmap as _mmap
import os
import stat
import sys
import zlib
from collections import namedtuple
from typing import IO, Iterator, Optional, Tuple, Union

import numpy as np

from fastpath.errors import CaptureError, ConfigError
from fastpath.wire.record import FRAME_DTYPE
from fastpath.capture import index as _ix

DEFAULT_MAX_PACKETS = 65536
DEFAULT_MAX_BYTES = 16 << 20        # per chunk: bounds resident memory per chunk
MAX_PACKETS_LIMIT = 1 << 24         # rows per chunk (32 bytes each: 512 MiB)
_MIN_RECORD = 16                    # the smallest record (pcap) or packet block (pcapng)
_PEEK = 64 << 10                    # first read of a stream (format detection, headers)
_GZIP_INPUT = 256 << 10             # compressed bytes read per step
_PAGE = _mmap.PAGESIZE

Packet = namedtuple("Packet", "ts_ns caplen wirelen linktype iface data")
Packet.__doc__ = "One packet, for convenience loops (``CaptureReader.packets``); slow next to chunks."
Interface = namedtuple("Interface", "linktype snaplen ts_resolution_ns tsoffset section section_iface")

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("little", False), b"\xa1\xb2\xc3\xd4": ("big", False),
    b"\x4d\x3c\xb2\xa1": ("little", True), b"\xa1\xb2\x3c\x4d": ("big", True),
}
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_GZIP_MAGIC = b"\x1f\x8b"

BLOCK_NAMES = {
    0x0A0D0D0A: "section header", 0x00000001: "interface description",
    0x00000002: "packet (obsolete)", 0x00000003: "simple packet", 0x00000004: "name resolution",
    0x00000005: "interface statistics", 0x00000006: "enhanced packet",
    0x00000009: "systemd journal export", 0x0000000A: "decryption secrets",
    0x00000BAD: "custom", 0x40000BAD: "custom",
}


class Chunk:
    """A run of consecutive frames and the bytes they live in.

    ``buffer``        buffer-protocol object (read-only); ``buffer[0]`` is stream offset ``base``
    ``base``          stream offset of ``buffer[0]``
    ``index``         FRAME_DTYPE rows; frame i is ``buffer[index['data_off'][i] - base:][:caplen]``
    ``first_record``  1-based number of ``index[0]`` in the capture
    """
    __slots__ = ("buffer", "base", "index", "first_record")

    def __init__(self, buffer, base: int, index: np.ndarray, first_record: int):
        self.buffer = buffer
        self.base = base
        self.index = index
        self.first_record = first_record

    def __len__(self):
        return len(self.index)

    def frame(self, i: int) -> bytes:
        """The bytes of frame ``i`` (a copy)."""
        row = self.index[i]
        start = int(row["data_off"]) - self.base
        return bytes(self.buffer[start:start + int(row["caplen"])])

    def __repr__(self):
        return (f"Chunk(records {self.first_record}..{self.first_record + len(self.index) - 1}, "
                f"base={self.base}, bytes={len(self.buffer)})")


def _block_name(btype):
    if btype < 0:
        return "block"
    return BLOCK_NAMES.get(btype, f"type 0x{btype:08x}") + " block"


def _error_message(code, a, b, c, fmt):
    name = _block_name(c)
    if code == _ix.E_TRUNC_FILE_HEADER:
        what = "pcap file header" if fmt == "pcap" else "section header block"
        return f"the file ends inside the {what} ({a} of {b} bytes): not a complete capture"
    if code == _ix.E_PCAP_MAGIC:
        return f"unknown pcap magic 0x{a:08x}"
    if code == _ix.E_PCAP_VERSION:
        return (f"pcap version {a}.{b} is not supported (fastpath reads version 2.x; "
                f"convert the file with 'editcap -F pcap IN OUT')")
    if code == _ix.E_TRUNC_RECORD_HEADER:
        return (f"the file ends inside a record header ({a} of {b} bytes): the capture was cut "
                f"short; the packets before it were read")
    if code == _ix.E_TRUNC_RECORD:
        return (f"record cut short: it claims {a} captured bytes but only {b} follow: the capture "
                f"was cut short; the packets before it were read")
    if code == _ix.E_CAPLEN_LIMIT:
        where = "record" if fmt == "pcap" else name
        return (f"{where} claims {a} captured bytes, more than the {b}-byte maximum for a packet: "
                f"the file is corrupt from here on; the packets before it were read")
    if code == _ix.E_BLOCK_LENGTH:
        return f"{name} has length {a}, less than the {b} bytes such a block needs: the file is corrupt"
    if code == _ix.E_BLOCK_ALIGN:
        return f"{name} has length {a}, which is not a multiple of 4: the file is corrupt"
    if code == _ix.E_BLOCK_LIMIT:
        return (f"{name} claims {a} bytes, more than the {b}-byte limit for a block: the file is "
                f"corrupt from here on")
    if code == _ix.E_TRUNC_BLOCK:
        if a < 0:
            return (f"the file ends inside a block header ({b} bytes): the capture was cut short; "
                    f"the packets before it were read")
        return (f"the file ends inside a {name} ({b} of {a} bytes): the capture was cut short; "
                f"the packets before it were read")
    if code == _ix.E_BLOCK_TRAILER:
        return (f"{name}: trailing length {b} differs from the leading length {a}: the file is "
                f"corrupt")
    if code == _ix.E_SHB_BYTE_ORDER:
        return (f"section header block with an unknown byte-order magic (0x{a:08x} read "
                f"little-endian; expected 0x1a2b3c4d in either byte order)")
    if code == _ix.E_SHB_VERSION:
        return (f"pcapng version {a}.{b} is not supported (fastpath reads version 1.x; "
                f"convert the file with 'editcap -F pcapng IN OUT')")
    if code == _ix.E_NOT_SECTION:
        return f"the first block is of type 0x{a:08x}, not a section header: not a pcapng file"
    if code == _ix.E_UNKNOWN_IFACE:
        return (f"{name} refers to interface {a}, but its section describes only {b} interface(s) "
                f"before it: the file is corrupt")
    if code == _ix.E_TOO_MANY_IFACES:
        return f"more than {a} interface description blocks: fastpath numbers interfaces in 16 bits"
    if code == _ix.E_PACKET_CAPLEN:
        return (f"{name} claims {a} captured bytes but the block has room for only {b}: the file "
                f"is corrupt")
    if code == _ix.E_NO_MEMORY:
        return "out of memory while reading interface descriptions"
    return f"capture error {code}"


def describe_content(head: bytes, size: Optional[int] = None) -> str:
    """What a file that is not a readable capture looks like, from its first bytes."""
    if size == 0 or not head:
        return "the file is empty"
    h = bytes(head[:64])
    if h[:4] in (b"\xa1\xb2\xcd\x34", b"\x34\xcd\xb2\xa1"):
        return ("a modified (Kuznetsov) pcap, which fastpath does not read: convert it with "
                "'editcap -F pcap IN OUT'")
    known = [
        (b"PK\x03\x04", "a zip archive: extract the capture from it first"),
        (b"BZh", "bzip2-compressed data: decompress it first (bunzip2)"),
        (b"\xfd7zXZ\x00", "xz-compressed data: decompress it first (unxz)"),
        (b"\x28\xb5\x2f\xfd", "zstd-compressed data: decompress it first (unzstd)"),
        (b"\x04\x22\x4d\x18", "lz4-compressed data: decompress it first (unlz4)"),
        (b"snoop\x00\x00\x00", "a Solaris snoop capture: convert it with 'editcap -F pcap IN OUT'"),
        (b"GMBU", "a Microsoft Network Monitor capture: convert it with 'editcap -F pcap IN OUT'"),
        (b"RTSS", "a Microsoft Network Monitor 1.x capture: convert it with 'editcap -F pcap IN OUT'"),
        (b"XCP\x00", "a NetXRay/Sniffer capture: convert it with 'editcap -F pcap IN OUT'"),
        (b"\x7fELF", "an ELF executable"),
        (b"%PDF", "a PDF document"),
    ]
    for magic, what in known:
        if h.startswith(magic):
            return what
    if h[:4] in (b"\x0a\x0d\x0a\x4d", b"\x0a\x0d\x0a\x1a", b"\x0a\x0a\x0a\x0a") or \
            h.startswith(b"\x0d\x0a\x0d\x0d\x0a"):
        return ("what looks like a pcapng file damaged by a text-mode (ASCII) transfer: copy it "
                "again in binary mode")
    if len(h) < 4:
        return f"only {len(h)} byte(s), too short for any capture header"
    printable = sum(32 <= ch < 127 or ch in (9, 10, 13) for ch in h)
    if printable >= 0.9 * len(h):
        first = h.split(b"\n", 1)[0][:40].decode("ascii", "replace")
        return f"text, not a capture (it begins {first!r})"
    return f"unknown magic number 0x{int.from_bytes(h[:4], 'big'):08x}"


# ------------------------------------------------------------------------------ byte sources
class _RawStream:
    """A readable binary stream with some bytes already read from it put back in front."""

    def __init__(self, raw, prefix=b""):
        self.raw = raw
        self.prefix = memoryview(bytes(prefix))
        self.consumed = 0           # source bytes handed out (for progress)
        self.failure = None         # an exception to raise after the good records

    def readinto(self, mv):
        if len(self.prefix):
            n = min(len(mv), len(self.prefix))
            mv[:n] = self.prefix[:n]
            self.prefix = self.prefix[n:]
            self.consumed += n
            return n
        if hasattr(self.raw, "readinto"):
            n = self.raw.readinto(mv)
        else:
            data = self.raw.read(len(mv))
            n = len(data)
            mv[:n] = data
        if n is None:               # a non-blocking stream with nothing ready
            raise CaptureError("the stream is non-blocking and had no data ready; open_capture "
                               "needs a blocking stream")
        self.consumed += n
        return n

    def read(self, n):
        buf = bytearray(n)
        got = self.readinto(memoryview(buf))
        return bytes(buf[:got])


class _MemoryStream:
    """A read-only stream over a buffer in memory (gzip data handed over as bytes)."""

    def __init__(self, mv):
        self.mv = mv
        self.pos = 0

    def readinto(self, out):
        n = min(len(out), len(self.mv) - self.pos)
        out[:n] = self.mv[self.pos:self.pos + n]
        self.pos += n
        return n


class _GzipStream:
    """Inflate gzip (RFC 1952, several members allowed) through zlib, a bounded piece at a time."""

    def __init__(self, raw, path):
        self.raw = raw
        self.path = path
        self.dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.out = 0                # decompressed bytes produced
        self.failure = None

    @property
    def consumed(self):
        return self.raw.consumed

    def readinto(self, mv):
        want = len(mv)
        while True:
            # At the end of a member zlib reports what follows as unused_data (and, after a
            # bounded call, as unconsumed_tail too): test eof first.
            if self.dec.eof:
                data = self.dec.unused_data or self.raw.read(_GZIP_INPUT)
                if not data:
                    return 0
                if not data.startswith(_GZIP_MAGIC[:len(data)]) or len(data) < 2:
                    rest = data + self.raw.read(_GZIP_INPUT)
                    if rest.strip(b"\0") == b"" and not self._more_nonzero():
                        return 0        # zero padding after the last member, as gzip(1) allows
                    raise CaptureError(f"data that is not gzip follows the end of the gzip stream "
                                       f"(after {self.out} decompressed bytes)", self.path,
                                       offset=self.raw.consumed - len(rest))
                self.dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
            elif self.dec.unconsumed_tail:
                data = self.dec.unconsumed_tail
            else:
                data = self.raw.read(_GZIP_INPUT)
                if not data:
                    raise CaptureError(f"the gzip data ends early, after {self.out} decompressed "
                                       f"bytes: the .gz file is truncated", self.path,
                                       offset=self.raw.consumed)
            try:
                out = self.dec.decompress(data, want)
            except zlib.error as e:
                raise CaptureError(f"the gzip data is corrupt ({e}) after {self.out} decompressed "
                                   f"bytes (the offset is that of the compressed data read so "
                                   f"far)", self.path, offset=self.raw.consumed) from None
            if out:
                n = len(out)
                mv[:n] = out
                self.out += n
                return n

    def check_rest(self):
        """Inflate (and discard) the rest of the stream: gzip checks its CRC only at the end of
        a member, so a capture error found in corrupt data is better explained by this one."""
        if self.failure is not None:
            return self.failure
        scratch = bytearray(1 << 20)
        mv = memoryview(scratch)
        try:
            while self.readinto(mv):
                pass
        except CaptureError as e:
            return e
        return None

    def _more_nonzero(self):
        while True:
            data = self.raw.read(_GZIP_INPUT)
            if not data:
                return False
            if data.strip(b"\0"):
                return True


def _fill(src, buf, fill):
    """Read from src into buf[fill:] until it is full or the stream ends. Returns (fill, eof).
    A read error is kept in src.failure and ends the stream: the records before it still count."""
    mv = memoryview(buf)
    try:
        while fill < len(buf):
            n = src.readinto(mv[fill:])
            if not n:
                return fill, True
            fill += n
    except (CaptureError, OSError) as e:
        src.failure = e
        return fill, True
    finally:
        mv.release()
    return fill, False


def _refs(pool, i):
    return sys.getrefcount(pool[i])


# How many references a pooled buffer has when nothing but the pool refers to it (measured the
# same way as in use, so that it holds on any CPython version).
_FREE_REFS = _refs([np.empty(1, np.uint8)], 0)


# ------------------------------------------------------------------------------ the reader
class CaptureReader:
    """An open capture. Use ``open_capture``; read it once with ``chunks()``, ``read_all()`` or
    ``packets()``.

    ``path``        the file's path (or a description of the stream)
    ``format``      "pcap", "pcapng", or "empty" for a zero-byte file
    ``compression`` None or "gzip"
    ``interfaces``  [(linktype, snaplen, ts_resolution_ns)] -- one for pcap; for pcapng every
                    interface description seen so far, numbered across sections (FrameRef.iface)
    ``size``        bytes in the source when known (compressed size for gzip), else None
    ``position``    source bytes consumed so far (for progress bars)
    """

    def __init__(self, source, *, mmap=None, name=None):
        self._file = None
        self._mm = None
        self._mv = None
        self._src = None
        self._ix = None
        self._started = False
        self._closed = False
        self._pos = 0               # mapped: offset of the next unread byte
        self._stream_buf = None     # streamed: (buffer, pos, fill, eof) after the header
        self.compression = None
        self.size = None
        self.format = None
        self.byteorder = None
        self.nanosecond = False
        self.version = None
        self.linktype_field = None
        try:
            self._open(source, mmap, name)
        except BaseException:
            self.close()
            raise

    # ---------------------------------------------------------------- opening
    def _open(self, source, use_mmap, name):
        if isinstance(source, (bytes, bytearray, memoryview, np.ndarray, _mmap.mmap)):
            self.path = name or "<buffer>"
            mv = memoryview(source)
            if not mv.c_contiguous:
                raise ConfigError("the capture buffer must be C-contiguous")
            if mv.format != "B" or mv.ndim != 1:
                mv = mv.cast("B")
            self._mv = mv.toreadonly()
            self.size = len(self._mv)
            if bytes(self._mv[:2]) == _GZIP_MAGIC:
                mv, self._mv = self._mv, None
                return self._open_stream(_RawStream(_MemoryStream(mv)))
            return self._open_mapped()
        if isinstance(source, io.TextIOBase):
            raise ConfigError(f"{getattr(source, 'name', 'the stream')} is open in text mode: "
                              f"open captures in binary mode ('rb')")
        if hasattr(source, "read") or hasattr(source, "readinto"):
            self.path = name or getattr(source, "name", None) or "<stream>"
            return self._open_stream(_RawStream(source))
        if source == "-":
            self.path = "<stdin>"
            return self._open_stream(_RawStream(sys.stdin.buffer))
        try:
            self.path = os.fspath(source)
        except TypeError:
            raise ConfigError(f"open_capture needs a path, a binary file object or a buffer, not "
                              f"{type(source).__name__}") from None
        try:
            f = open(self.path, "rb", buffering=0)
        except FileNotFoundError:
            raise CaptureError("no such file", self.path) from None
        except IsADirectoryError:
            raise CaptureError("is a directory, not a capture file", self.path) from None
        except PermissionError:
            raise CaptureError("permission denied: the file cannot be read by this user",
                               self.path) from None
        self._file = f
        st = os.fstat(f.fileno())
        regular = stat.S_ISREG(st.st_mode)
        if regular:
            self.size = st.st_size
        head = f.read(4) if regular else b""
        if regular and (use_mmap is None or use_mmap) and self.size > 0 \
                and not head.startswith(_GZIP_MAGIC):
            try:
                self._mm = _mmap.mmap(f.fileno(), 0, access=_mmap.ACCESS_READ)
            except (OSError, ValueError) as e:
                if use_mmap:
                    raise CaptureError(f"cannot map the file into memory ({e}); open it with "
                                       f"mmap=False to read it instead", self.path) from None
                self._mm = None
            if self._mm is not None:
                if hasattr(self._mm, "madvise") and hasattr(_mmap, "MADV_SEQUENTIAL"):
                    self._mm.madvise(_mmap.MADV_SEQUENTIAL)
                self._mv = memoryview(self._mm)
                return self._open_mapped()
        if regular and hasattr(os, "posix_fadvise"):
            try:
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
            except OSError:
                pass
        return self._open_stream(_RawStream(f, head))

    def _detect(self, head, size_hint):
        """Set self.format from the first bytes; raise CaptureError for anything else."""
        if len(head) == 0:
            self.format = "empty"
            return None
        if head[:4] in _PCAP_MAGICS:
            self.format = "pcap"
            self.byteorder, self.nanosecond = _PCAP_MAGICS[head[:4]]
            return _ix.FMT_PCAP
        if head[:4] == _PCAPNG_MAGIC:
            self.format = "pcapng"
            return _ix.FMT_PCAPNG
        if len(head) < 4 and any(m.startswith(head) for m in (*_PCAP_MAGICS, _PCAPNG_MAGIC)):
            raise CaptureError(f"the file ends inside the capture header (only {len(head)} bytes)",
                               self.path, None, 0)
        what = describe_content(head, size_hint)
        comp = " after gzip decompression" if self.compression else ""
        raise CaptureError(f"not a capture file fastpath reads (pcap, pcapng, or either "
                           f"gzip-compressed){comp}: it is {what}", self.path, None, 0)

    def _open_mapped(self):
        mv = self._mv
        fmt = self._detect(bytes(mv[:16]), self.size)
        if fmt is None:
            return
        self._ix = _ix.Indexer(fmt)
        # Read the file / section header and the interface descriptions before the first packet.
        end = min(self.size, _PEEK)
        status, n, consumed = self._ix.run(mv, 0, end, 0, end == self.size,
                                           np.empty(0, FRAME_DTYPE))
        if status == _ix.ST_ERROR:
            raise self._capture_error()
        self._pos = consumed
        self._after_header()

    def _open_stream(self, raw):
        buf = np.empty(_PEEK, np.uint8)
        fill, eof = _fill(raw, buf, 0)
        src = raw
        if fill >= 2 and bytes(buf[:2]) == _GZIP_MAGIC:
            self.compression = "gzip"
            raw.prefix = memoryview(bytes(buf[:fill])) if not len(raw.prefix) else \
                memoryview(bytes(buf[:fill]) + bytes(raw.prefix))
            raw.consumed -= fill
            src = _GzipStream(raw, self.path)
            fill, eof = _fill(src, buf, 0)
        if src.failure is not None and fill == 0:
            raise self._wrap_failure(src.failure)
        self._src = src
        fmt = self._detect(bytes(buf[:min(fill, 16)]), None if not eof else fill)
        if fmt is None:
            if src.failure is not None:
                raise self._wrap_failure(src.failure)
            self._stream_buf = (buf, 0, 0, True)
            return
        self._ix = _ix.Indexer(fmt)
        status, n, consumed = self._ix.run(buf, 0, fill, 0, eof, np.empty(0, FRAME_DTYPE))
        if status == _ix.ST_ERROR:
            if src.failure is not None:
                raise self._wrap_failure(src.failure)
            raise self._capture_error()
        self._stream_buf = (buf, consumed, fill, eof)
        self._after_header()

    def _after_header(self):
        ix = self._ix
        if ix.started:
            self.version = ix.version
            if self.format == "pcap":
                self.linktype_field = ix.linktype_field
            else:
                self.byteorder = "big" if ix.big_endian else "little"

    def _wrap_failure(self, e):
        """A read or decompression failure, located at the record that was being read."""
        record = None if self._ix is None else self._ix.packets + 1
        if isinstance(e, CaptureError):
            return CaptureError(e.reason, e.path or self.path, record,
                                e.offset if e.offset is not None else self.position)
        return CaptureError(f"read error: {e}", self.path, record, self.position)

    def _capture_error(self, record=None):
        code, offset, a, b, c = self._ix.error
        msg = _error_message(code, a, b, c, self.format)
        if self.compression:
            msg += " (the offset counts decompressed bytes)"
        header_errors = (_ix.E_TRUNC_FILE_HEADER, _ix.E_PCAP_MAGIC, _ix.E_PCAP_VERSION,
                         _ix.E_NOT_SECTION)
        if record is None and code not in header_errors:
            record = self._ix.packets + 1
        return CaptureError(msg, self.path, record, offset)

    # ---------------------------------------------------------------- properties
    @property
    def interfaces(self):
        if self._ix is None:
            return []
        return [(lt, snap, res) for (lt, snap, res, *_rest) in self._ix.interfaces]

    @property
    def interface_details(self):
        """``Interface`` tuples: ``interfaces`` plus if_tsoffset, the 0-based section number and
        the id the section's blocks use (FrameRef.iface numbers interfaces across sections)."""
        return [] if self._ix is None else [Interface(*t) for t in self._ix.interfaces]

    @property
    def linktype(self):
        """The link type of a pcap file, or of a pcapng file's first interface (None if none)."""
        ifs = self.interfaces
        return ifs[0][0] if ifs else None

    @property
    def position(self):
        if self._src is not None:
            return self._src.consumed
        return self._pos

    @property
    def packets_read(self):
        return 0 if self._ix is None else self._ix.packets

    # ---------------------------------------------------------------- reading
    def chunks(self, max_packets: int = DEFAULT_MAX_PACKETS,
               max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Chunk]:
        """Yield ``Chunk`` objects of at most ``max_packets`` frames and (unless one record is
        larger) ``max_bytes`` bytes, in file order. A reader is read once."""
        max_packets = int(max_packets)
        max_bytes = int(max_bytes)
        if not 1 <= max_packets <= MAX_PACKETS_LIMIT:
            raise ConfigError(f"max_packets must be between 1 and {MAX_PACKETS_LIMIT}, not "
                              f"{max_packets}")
        if max_bytes < 1:
            raise ConfigError(f"max_bytes must be at least 1, not {max_bytes}")
        if self._closed:
            raise ValueError(f"{self.path}: the capture reader is closed")
        if self._started:
            raise ValueError(f"{self.path}: a capture reader is read once; open the file again "
                             f"to read it again")
        self._started = True
        if self._ix is None:
            return iter(())
        if self._src is None:
            return self._chunks_mapped(max_packets, max_bytes)
        return self._chunks_stream(max_packets, max_bytes)

    def __iter__(self):
        return self.chunks()

    def _check_open(self):
        if self._closed:
            raise ValueError(f"{self.path}: the capture reader was closed while being read")

    def _chunks_mapped(self, max_packets, max_bytes):
        ix = self._ix
        size = self.size
        pos = self._pos
        first = ix.packets + 1
        dropped = 0
        need = 0
        mm = self._mm
        can_drop = mm is not None and hasattr(mm, "madvise") and hasattr(_mmap, "MADV_DONTNEED")
        while True:
            self._check_open()
            self._check_size()
            end = min(size, pos + max(max_bytes, need))
            at_eof = end == size
            # No more rows than records can fit in the window.
            out = np.empty(min(max_packets, (end - pos) // _MIN_RECORD + 1), FRAME_DTYPE)
            status, n, consumed = ix.run(self._mv, pos, end, pos, at_eof, out)
            chunk_start = pos
            pos += consumed
            self._pos = pos
            if n:
                yield Chunk(self._mv[chunk_start:pos], chunk_start, out[:n], first)
                first += n
                # The caller asked for the next chunk: the pages behind it can go.
                if can_drop and not self._closed:
                    upto = (pos // _PAGE) * _PAGE
                    if upto > dropped:
                        mm.madvise(_mmap.MADV_DONTNEED, dropped, upto - dropped)
                        dropped = upto
            if status == _ix.ST_END:
                return
            if status == _ix.ST_ERROR:
                raise self._capture_error()
            need = ix.need if status == _ix.ST_MORE else 0
            if status == _ix.ST_MORE and n == 0 and consumed == 0 and end - pos >= need:
                raise RuntimeError(f"{self.path}: capture walker made no progress at offset {pos}")

    def _check_size(self):
        # A mapped file that shrinks under the reader would fault (SIGBUS) on the missing pages.
        if self._file is not None and self._mm is not None:
            if os.fstat(self._file.fileno()).st_size < self.size:
                raise CaptureError("the file shrank while it was being read (another program is "
                                   "truncating it); copy it before reading", self.path)

    def _chunks_stream(self, max_packets, max_bytes):
        ix = self._ix
        src = self._src
        buf, pos, fill, eof = self._stream_buf
        self._stream_buf = None
        base = 0                    # stream offset of buf[0]
        first = ix.packets + 1
        pool = []
        while True:
            self._check_open()
            out = np.empty(min(max_packets, (fill - pos) // _MIN_RECORD + 1), FRAME_DTYPE)
            status, n, consumed = ix.run(buf, pos, fill, base + pos, eof, out)
            if n:
                view = memoryview(buf)[pos:pos + consumed].toreadonly()
                yield Chunk(view, base + pos, out[:n], first)
                del view
                first += n
            pos += consumed
            if status == _ix.ST_END or status == _ix.ST_ERROR:
                if status == _ix.ST_ERROR and self.compression and src.failure is None:
                    src.failure = src.check_rest()
                if src.failure is not None:
                    raise self._wrap_failure(src.failure)
                if status == _ix.ST_END:
                    return
                raise self._capture_error()
            if status == _ix.ST_FULL:
                continue
            # ST_MORE: carry the unread tail into a buffer nobody else holds, then read on.
            need = ix.need
            if n == 0 and consumed == 0 and fill - pos >= need:
                raise RuntimeError(f"{self.path}: capture walker made no progress at offset "
                                   f"{base + pos}")
            cap = max(max_bytes, need, _PEEK)
            left = fill - pos
            nxt = None
            for i in range(len(pool)):
                if len(pool[i]) >= cap and _refs(pool, i) <= _FREE_REFS:
                    nxt = pool.pop(i)
                    break
            if nxt is None:
                nxt = np.empty(cap, np.uint8)
            nxt[:left] = buf[pos:fill]
            # Keep a free buffer for reuse; forget those the caller still holds.
            free = [i for i in range(len(pool)) if _refs(pool, i) <= _FREE_REFS]
            pool = [pool[i] for i in free[:1]]
            pool.append(buf)
            base += pos
            buf = nxt
            pos = 0
            fill, eof = _fill(src, buf, left)

    def read_all(self, max_bytes: int = DEFAULT_MAX_BYTES) -> Tuple[memoryview, np.ndarray]:
        """``(buffer, index)`` for the whole capture: frame i is
        ``buffer[index['data_off'][i]:][:caplen]`` (base 0). A mapped file is not copied; a
        stream (gzip, pipe) is read into memory whole. On a broken file the ``CaptureError``
        carries the good part as ``error.partial = (buffer, index)``."""
        if self._ix is None:
            self._started = True
            return memoryview(b""), np.empty(0, FRAME_DTYPE)
        parts = []
        mapped = self._src is None
        pieces = []
        try:
            for chunk in self.chunks(max_bytes=max_bytes):
                parts.append(chunk.index)
                if not mapped:
                    pieces.append((chunk.base, chunk.buffer))
        except CaptureError as e:
            e.partial = self._assemble(parts, pieces, mapped)
            raise
        return self._assemble(parts, pieces, mapped)

    def _assemble(self, parts, pieces, mapped):
        # Joined as bytes: numpy concatenates structured arrays field by field, several times
        # slower.
        index = np.concatenate([p.view(np.uint8) for p in parts]).view(FRAME_DTYPE) if parts \
            else np.empty(0, FRAME_DTYPE)
        if mapped:
            return self._mv[:], index
        # Streamed: lay the chunks' bytes out at their stream offsets (the gaps between them are
        # headers and skipped blocks, left zero).
        total = pieces[-1][0] + len(pieces[-1][1]) if pieces else 0
        out = np.zeros(total, np.uint8)
        for base, data in pieces:
            out[base:base + len(data)] = np.frombuffer(data, np.uint8)
        return memoryview(out).toreadonly(), index

    def packets(self) -> Iterator[Packet]:
        """Yield ``Packet(ts_ns, caplen, wirelen, linktype, iface, data)`` one by one (a
        convenience: chunks are the fast path)."""
        for chunk in self.chunks():
            buf = chunk.buffer
            base = chunk.base
            for row in chunk.index.tolist():
                ts, off, caplen, wirelen, lt, iface, _ = row
                start = off - base
                yield Packet(ts, caplen, wirelen, lt, iface, bytes(buf[start:start + caplen]))

    # ---------------------------------------------------------------- closing
    def close(self):
        """Release the file and the mapping. Chunks still held by the caller stay valid."""
        if self._closed:
            return
        self._closed = True
        mv, self._mv = self._mv, None
        if mv is not None:
            try:
                mv.release()
            except (BufferError, ValueError):
                pass
        mm, self._mm = self._mm, None
        if mm is not None:
            try:
                mm.close()
            except BufferError:
                pass                # the caller still holds chunk buffers: freed with them
        f, self._file = self._file, None
        if f is not None:
            f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        comp = f", {self.compression}" if self.compression else ""
        return f"<CaptureReader {self.path!r} {self.format}{comp}>"


Source = Union[str, "os.PathLike[str]", IO[bytes], bytes, bytearray, memoryview, np.ndarray]


def open_capture(source: Source, *, mmap: Optional[bool] = None,
                 name: Optional[str] = None) -> CaptureReader:
    """Open a capture for reading; the format is detected from the content, never the name.

    ``source`` is a path (``str`` or ``os.PathLike``; ``"-"`` is standard input), a binary file
    object (pipes, sockets), or capture data in memory (``bytes``, ``bytearray``, ``memoryview``,
    numpy array, ``mmap``), read in place. Regular files are memory-mapped unless ``mmap=False``;
    gzip input is inflated as it is read. ``name`` labels a stream or buffer in error messages.
    """
    return CaptureReader(source, mmap=mmap, name=name)
