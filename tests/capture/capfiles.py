"""Capture bytes built by hand, and a reference reader written straight from the format drafts.

Both are independent of fastpath's C walker and writers: the builders give golden bytes for
the reader tests, and ``ref_read`` is the oracle the property tests hold the walker to.

pcap:   draft-ietf-opsawg-pcap (file header 24 bytes, record header 16 bytes).
pcapng: draft-ietf-opsawg-pcapng (blocks: type, total length, body padded to 32 bits, length).
"""
import collections
import struct

# Filled by test_corpus.py, printed at the end of the run by conftest.py.
CORPUS_STATS = collections.Counter()

MAX_CAPLEN = 262144
MAX_BLOCK = 16 * 1024 * 1024
SHB, IDB, OPB, SPB, NRB, ISB, EPB = 0x0A0D0D0A, 1, 2, 3, 4, 5, 6


def _e(big):
    return ">" if big else "<"


# ------------------------------------------------------------------------------ pcap
def pcap_header(linktype=1, snaplen=65535, ns=False, big=False, major=2, minor=4):
    magic = 0xA1B23C4D if ns else 0xA1B2C3D4
    return struct.pack(_e(big) + "IHHiIII", magic, major, minor, 0, 0, snaplen, linktype)


def pcap_record(data, sec=0, frac=0, caplen=None, wirelen=None, big=False):
    caplen = len(data) if caplen is None else caplen
    wirelen = len(data) if wirelen is None else wirelen
    return struct.pack(_e(big) + "IIII", sec, frac, caplen, wirelen) + bytes(data)


def pcap_file(packets, linktype=1, snaplen=65535, ns=False, big=False):
    """packets: [(data, sec, frac)] or [(data, sec, frac, wirelen)]."""
    out = [pcap_header(linktype, snaplen, ns, big)]
    for p in packets:
        data, sec, frac = p[:3]
        wl = p[3] if len(p) > 3 else None
        out.append(pcap_record(data, sec, frac, wirelen=wl, big=big))
    return b"".join(out)


# ------------------------------------------------------------------------------ pcapng
def pad4(b):
    return bytes(b) + b"\0" * (-len(b) % 4)


def block(btype, body, big=False, length=None, trailer=None):
    body = pad4(body)
    n = 12 + len(body) if length is None else length
    t = n if trailer is None else trailer
    e = _e(big)
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", t)


def option(code, value, big=False):
    return struct.pack(_e(big) + "HH", code, len(value)) + pad4(value)


def end_of_options(big=False):
    return struct.pack(_e(big) + "HH", 0, 0)


def shb(big=False, major=1, minor=0, options=b"", section_length=-1):
    body = struct.pack(_e(big) + "IHHq", 0x1A2B3C4D, major, minor, section_length) + options
    return block(SHB, body, big)


def idb(linktype=1, snaplen=65535, big=False, tsresol=None, tsoffset=None, options=b""):
    opts = options
    if tsresol is not None:
        opts += option(9, bytes([tsresol]), big)
    if tsoffset is not None:
        opts += option(14, struct.pack(_e(big) + "q", tsoffset), big)
    if opts:
        opts += end_of_options(big)
    return block(IDB, struct.pack(_e(big) + "HHI", linktype, 0, snaplen) + opts, big)


def epb(iface, ticks, data, wirelen=None, caplen=None, big=False, options=b""):
    caplen = len(data) if caplen is None else caplen
    wirelen = len(data) if wirelen is None else wirelen
    head = struct.pack(_e(big) + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, caplen, wirelen)
    return block(EPB, head + pad4(data) + options, big)


def opb(iface, ticks, data, wirelen=None, big=False, drops=0):
    wirelen = len(data) if wirelen is None else wirelen
    head = struct.pack(_e(big) + "HHIIII", iface, drops, ticks >> 32, ticks & 0xFFFFFFFF,
                       len(data), wirelen)
    return block(OPB, head + pad4(data), big)


def spb(data, wirelen=None, big=False):
    wirelen = len(data) if wirelen is None else wirelen
    return block(SPB, struct.pack(_e(big) + "I", wirelen) + pad4(data), big)


# ------------------------------------------------------------------------------ reference reader
class RefError(Exception):
    def __init__(self, offset, record):
        super().__init__(f"offset {offset} record {record}")
        self.offset = offset
        self.record = record


INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def _clamp(v):
    return max(INT64_MIN, min(INT64_MAX, v))


def _ticks_to_ns(ticks, tsresol, tsoffset):
    """Exact floor(ticks / ticks-per-second) in ns, saturated to int64 before and after adding
    if_tsoffset (a resolution finer than 10**-19 or 2**-63 counts as that)."""
    v = tsresol & 0x7F
    per_sec = 2 ** min(v, 63) if tsresol & 0x80 else 10 ** min(v, 19)
    ns = min(ticks * 10**9 // per_sec, INT64_MAX)
    if tsoffset:
        ns = _clamp(ns + _clamp(tsoffset * 10**9))
    return ns


def ref_read(data):
    """(rows, error): rows are (ts_ns, data_off, caplen, wirelen, linktype, iface) tuples; error is
    None or a RefError with the byte offset and 1-based record number of the first problem.
    Expects data to start with a pcap or pcapng magic."""
    data = bytes(data)
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        return _ref_pcapng(data)
    return _ref_pcap(data)


def _ref_pcap(data):
    rows = []
    if len(data) < 24:
        return rows, RefError(0, None)
    for e in "<>":
        magic = struct.unpack(e + "I", data[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            break
    else:
        return rows, RefError(0, None)
    mult = 1 if magic == 0xA1B23C4D else 1000
    major = struct.unpack(e + "H", data[4:6])[0]
    if major != 2:
        return rows, RefError(4, None)
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0xFFFF
    off = 24
    while off < len(data):
        if len(data) - off < 16:
            return rows, RefError(off, len(rows) + 1)
        sec, frac, caplen, wirelen = struct.unpack(e + "IIII", data[off:off + 16])
        if caplen > MAX_CAPLEN or len(data) - off - 16 < caplen:
            return rows, RefError(off, len(rows) + 1)
        rows.append((sec * 10**9 + frac * mult, off + 16, caplen, wirelen, linktype, 0))
        off += 16 + caplen
    return rows, None


def _ref_pcapng(data):
    rows = []
    ifaces = []          # (linktype, snaplen, tsresol, tsoffset) across sections
    first = 0            # global index of the current section's interface 0
    e = "<"
    started = False
    off = 0
    while off < len(data):
        rec = len(rows) + 1
        if len(data) - off < 12:
            return rows, RefError(off, rec)
        btype = struct.unpack(e + "I", data[off:off + 4])[0]
        if btype == SHB:
            bom = data[off + 8:off + 12]
            if bom == b"\x4d\x3c\x2b\x1a":
                se = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                se = ">"
            else:
                return rows, RefError(off, rec)
        elif not started:
            return rows, RefError(off, None)
        else:
            se = e
        blen = struct.unpack(se + "I", data[off + 4:off + 8])[0]
        if blen < 12 or blen % 4 or blen > MAX_BLOCK:
            return rows, RefError(off, rec)
        if len(data) - off < blen:
            return rows, RefError(off, rec)
        if struct.unpack(se + "I", data[off + blen - 4:off + blen])[0] != blen:
            return rows, RefError(off, rec)
        body = data[off + 8:off + blen - 4]
        if btype == SHB:
            if blen < 28 or struct.unpack(se + "H", body[4:6])[0] != 1:
                return rows, RefError(off + (12 if blen >= 28 else 0), rec)
            e = se
            started = True
            first = len(ifaces)
        elif btype == IDB:
            if blen < 20:
                return rows, RefError(off, rec)
            if len(ifaces) >= 65536:
                return rows, RefError(off, rec)
            lt, _, snap = struct.unpack(e + "HHI", body[:8])
            tsresol, tsoffset = 6, 0
            o = 8
            while o + 4 <= len(body):
                code, olen = struct.unpack(e + "HH", body[o:o + 4])
                if code == 0 or o + 4 + olen > len(body):
                    break
                if code == 9 and olen >= 1:
                    tsresol = body[o + 4]
                elif code == 14 and olen >= 8:
                    tsoffset = struct.unpack(e + "q", body[o + 4:o + 12])[0]
                o += 4 + (olen + 3) // 4 * 4
            ifaces.append((lt, snap, tsresol, tsoffset))
        elif btype in (EPB, OPB):
            if blen < 32:
                return rows, RefError(off, rec)
            if btype == EPB:
                ifid, hi, lo, caplen, wirelen = struct.unpack(e + "IIIII", body[:20])
            else:
                ifid, _drops, hi, lo, caplen, wirelen = struct.unpack(e + "HHIIII", body[:20])
            if ifid >= len(ifaces) - first:
                return rows, RefError(off, rec)
            if caplen > len(body) - 20 or caplen > MAX_CAPLEN:
                return rows, RefError(off, rec)
            lt, snap, tsresol, tsoffset = ifaces[first + ifid]
            ts = _ticks_to_ns((hi << 32) | lo, tsresol, tsoffset)
            rows.append((ts, off + 28, caplen, wirelen, lt, first + ifid))
        elif btype == SPB:
            if blen < 16:
                return rows, RefError(off, rec)
            if len(ifaces) == first:
                return rows, RefError(off, rec)
            lt, snap, _, _ = ifaces[first]
            wirelen = struct.unpack(e + "I", body[:4])[0]
            caplen = min(wirelen, snap) if snap else wirelen
            if caplen > len(body) - 4 or caplen > MAX_CAPLEN:
                return rows, RefError(off, rec)
            rows.append((0, off + 12, caplen, wirelen, lt, first))
        off += blen
    if not started:
        return rows, RefError(0, None)
    return rows, None
