# cython: freethreading_compatible = False
"""Index building for capture files: walk pcap records and pcapng blocks in C, without the GIL,
and write one ``FrameRef`` per packet.

The walker is incremental. It is handed a window of the byte stream (a slice of an mmap, or a
reusable read buffer) together with that window's stream offset, and it reports how far it got:
up to the end of the last whole record (``consumed``), and why it stopped -- the frame array is
full, the window ends inside a record (``need`` says how many bytes, counted from ``consumed``,
the next window must hold), the stream ended cleanly, or the file is broken (then the error code,
byte offset and record number describe where, and every frame before it has been written).

Formats (byte orders are per file for pcap and per section for pcapng):
  pcap    -- magic 0xa1b2c3d4 (microseconds) or 0xa1b23c4d (nanoseconds), version 2.x
             (draft-ietf-opsawg-pcap). The link-type field keeps the low 16 bits (the upper bits
             carry FCS information or, in fuzzed files, junk).
  pcapng  -- section header, interface description (if_tsresol incl. powers of two, if_tsoffset),
             enhanced, simple and the obsolete packet block; every other block is skipped by its
             length (draft-ietf-opsawg-pcapng). Interface ids are numbered across sections in file
             order, so ``FrameRef.iface`` indexes the reader's ``interfaces`` list.
"""
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t, INT64_MAX, INT64_MIN
from libc.stdlib cimport malloc, realloc, free
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE, PyBUF_WRITABLE

from fastpath.includes.byteorder cimport load_be16, load_be32, load_le16, load_le32
from fastpath.wire.record cimport FrameRef
from fastpath.includes.prefetch cimport fastpath_prefetch_read

import numpy as np
from fastpath.wire.record import FRAME_DTYPE

# ---------------------------------------------------------------------------- limits
cdef enum:
    # Record headers are a data-dependent chain (each one's length says where the next is), so
    # from memory the walk waits a full miss per record. The records lie in file order, though:
    # prefetching every cache line up to this far ahead overlaps those misses (in C on this
    # machine kind: 5.9 -> 8.1 M records/s for ~900-byte records, bench/c/capture_ref.c).
    PREFETCH_AHEAD = 2048

cpdef enum:
    MAX_CAPLEN = 262144             # 256 KiB: the largest record tshark and libpcap accept
    MAX_BLOCK = 16 * 1024 * 1024    # largest pcapng block fastpath reads (a packet block is far smaller)
    MAX_IFACES = 65536              # FrameRef.iface is 16 bits
    PCAP_FILE_HEADER = 24
    PCAP_RECORD_HEADER = 16

# ---------------------------------------------------------------------------- walker results
cpdef enum:
    ST_MORE = 0     # the window ends inside a record: call again with `need` bytes from `consumed`
    ST_FULL = 1     # the frame array is full
    ST_END = 2      # at end of stream, on a record boundary
    ST_ERROR = 3    # the file is broken at error_offset; frames before it were written

cpdef enum:
    FMT_PCAP = 1
    FMT_PCAPNG = 2

# Error codes; a, b, c are the numbers each message quotes (see fastpath.capture.reader).
cpdef enum:
    E_NONE = 0
    E_TRUNC_FILE_HEADER = 1     # a = bytes present, b = header size
    E_PCAP_MAGIC = 2            # a = magic as read little-endian
    E_PCAP_VERSION = 3          # a = major, b = minor
    E_TRUNC_RECORD_HEADER = 4   # a = bytes present, b = header size
    E_TRUNC_RECORD = 5          # a = caplen, b = data bytes present
    E_CAPLEN_LIMIT = 6          # a = caplen, b = MAX_CAPLEN
    E_BLOCK_LENGTH = 7          # a = block length, b = minimum for the type, c = block type
    E_BLOCK_ALIGN = 8           # a = block length, c = block type
    E_BLOCK_LIMIT = 9           # a = block length, b = MAX_BLOCK, c = block type
    E_TRUNC_BLOCK = 10          # a = block length, b = bytes present, c = block type (or -1 if unknown)
    E_BLOCK_TRAILER = 11        # a = leading length, b = trailing length, c = block type
    E_SHB_BYTE_ORDER = 12       # a = byte-order magic as read little-endian
    E_SHB_VERSION = 13          # a = major, b = minor
    E_NOT_SECTION = 14          # a = first block type
    E_UNKNOWN_IFACE = 15        # a = interface id, b = interfaces in the section, c = block type
    E_TOO_MANY_IFACES = 16      # a = MAX_IFACES
    E_PACKET_CAPLEN = 17        # a = caplen, b = room in the block, c = block type
    E_NO_MEMORY = 18

cpdef enum:
    BT_SECTION = 0x0A0D0D0A
    BT_INTERFACE = 0x00000001
    BT_OBSOLETE_PACKET = 0x00000002
    BT_SIMPLE_PACKET = 0x00000003
    BT_ENHANCED_PACKET = 0x00000006

cdef enum:
    PCAP_MAGIC_US = 0xa1b2c3d4
    PCAP_MAGIC_NS = 0xa1b23c4d
    BYTE_ORDER_MAGIC = 0x1A2B3C4D
    OPT_ENDOFOPT = 0
    OPT_IF_TSRESOL = 9
    OPT_IF_TSOFFSET = 14


cdef struct Iface:
    uint32_t snaplen
    uint16_t linktype
    uint8_t tsresol             # as stored (after clamping absurd exponents)
    int shift                   # power-of-two resolution: ticks per second = 2**shift; else -1
    uint64_t mul                # decimal: ns = ticks * mul / div
    uint64_t div
    int64_t tsoffset            # seconds added to every timestamp (if_tsoffset)
    uint32_t section            # 0-based section number
    uint32_t local              # interface id within its section (what the blocks carry)


cdef struct Walk:
    int fmt
    bint started                # pcap file header / first section header seen
    bint big                    # byte order of the file (pcap) or current section (pcapng)
    # pcap
    uint32_t ts_mul             # 1000 for microsecond files, 1 for nanosecond files
    uint32_t snaplen
    uint32_t linktype_field     # the whole 32-bit field, junk bits included
    uint16_t linktype
    uint16_t major
    uint16_t minor
    # pcapng
    Iface* ifaces               # every interface of every section, in file order
    uint32_t n_ifaces
    uint32_t cap_ifaces
    uint32_t sect_first         # global index of the current section's interface 0
    uint32_t sect_count         # interfaces defined so far in the current section
    uint32_t n_sections
    # progress
    uint64_t packets            # frames written so far (the next one is packets + 1)
    uint64_t blocks             # pcapng blocks read so far
    size_t need                 # ST_MORE: bytes the next window needs from `consumed`
    # error (sticky)
    int err
    uint64_t err_offset
    int64_t a
    int64_t b
    int64_t c


# ---------------------------------------------------------------------------- helpers
cdef inline uint32_t ld32(const uint8_t* p, bint big) noexcept nogil:
    return load_be32(p) if big else load_le32(p)


cdef inline uint16_t ld16(const uint8_t* p, bint big) noexcept nogil:
    return load_be16(p) if big else load_le16(p)


cdef inline uint64_t ld64(const uint8_t* p, bint big) noexcept nogil:
    # pcapng stores 64-bit option values in the section's byte order.
    if big:
        return (<uint64_t>load_be32(p) << 32) | load_be32(p + 4)
    return (<uint64_t>load_le32(p + 4) << 32) | load_le32(p)


cdef inline size_t prefetch_to(const uint8_t* p, size_t pf, size_t upto, size_t n) noexcept nogil:
    """Prefetch the cache lines from offset pf to min(upto, n); returns where it stopped."""
    if upto > n:
        upto = n
    while pf < upto:
        fastpath_prefetch_read(p + pf)
        pf += 64
    return pf


cdef inline int fail(Walk* w, int code, uint64_t offset, int64_t a, int64_t b, int64_t c) noexcept nogil:
    w.err = code
    w.err_offset = offset
    w.a = a
    w.b = b
    w.c = c
    return ST_ERROR


cdef void iface_set_resolution(Iface* f, uint8_t tsresol) noexcept nogil:
    # if_tsresol: high bit clear -> 10**-v seconds per tick, set -> 2**-v. A resolution finer
    # than a 64-bit tick counter can express (10**-19, 2**-63) is taken as that limit (tshark 4.0
    # shows such packets at time 0).
    cdef uint8_t v = tsresol & 0x7f
    cdef int i
    if tsresol & 0x80:
        if v > 63:
            v = 63
        f.shift = v
        f.mul = 1
        f.div = 1
        f.tsresol = 0x80 | v
        return
    if v > 19:
        v = 19
    f.shift = -1
    f.tsresol = v
    f.mul = 1
    f.div = 1
    if v <= 9:
        for i in range(9 - v):
            f.mul *= 10
    else:
        for i in range(v - 9):
            f.div *= 10


cdef inline int64_t sat_add(int64_t x, int64_t y) noexcept nogil:
    if y > 0 and x > INT64_MAX - y:
        return INT64_MAX
    if y < 0 and x < INT64_MIN - y:
        return INT64_MIN
    return x + y


cdef int64_t ticks_to_ns(const Iface* f, uint64_t t) noexcept nogil:
    """Nanoseconds since the epoch; saturates at the int64 range (the year 2262)."""
    cdef uint64_t ns, sec, frac, hi, lo, cc
    cdef int64_t off
    if f.shift >= 0:
        sec = t >> f.shift
        frac = t & ((<uint64_t>1 << f.shift) - 1)
        if f.shift < 32:
            frac = (frac * 1000000000) >> f.shift
        else:
            # floor(frac * 1e9 / 2**shift) without 128-bit arithmetic: frac = hi * 2**32 + lo.
            hi = frac >> 32
            lo = frac & <uint64_t>0xffffffffU
            cc = hi * 1000000000 + ((lo * 1000000000) >> 32)
            frac = cc >> (f.shift - 32)
        if sec > <uint64_t>(INT64_MAX // 1000000000):
            ns = <uint64_t>INT64_MAX
        else:
            ns = sec * 1000000000 + frac
    elif f.div > 1:
        ns = t // f.div
    else:
        if f.mul > 1 and t > <uint64_t>INT64_MAX // f.mul:
            ns = <uint64_t>INT64_MAX
        else:
            ns = t * f.mul
    if ns > <uint64_t>INT64_MAX:
        ns = <uint64_t>INT64_MAX
    if f.tsoffset == 0:
        return <int64_t>ns
    if f.tsoffset > INT64_MAX // 1000000000:
        off = INT64_MAX
    elif f.tsoffset < INT64_MIN // 1000000000:
        off = INT64_MIN
    else:
        off = f.tsoffset * 1000000000
    return sat_add(<int64_t>ns, off)


# ---------------------------------------------------------------------------- pcap
cdef int walk_pcap(Walk* w, const uint8_t* p, size_t n, uint64_t base, bint at_eof,
                   FrameRef* out, size_t cap, size_t* nout, size_t* consumed) noexcept nogil:
    cdef size_t off = 0, k = 0, avail
    cdef uint32_t magic, caplen, wirelen, sec, frac
    cdef bint big
    cdef uint32_t ts_mul
    cdef uint16_t linktype
    cdef int status = ST_MORE
    cdef const uint8_t* h
    if not w.started:
        if n < PCAP_FILE_HEADER:
            nout[0] = 0
            consumed[0] = 0
            if at_eof:
                return fail(w, E_TRUNC_FILE_HEADER, base, n, PCAP_FILE_HEADER, 0)
            w.need = PCAP_FILE_HEADER
            return ST_MORE
        magic = load_le32(p)
        if magic == PCAP_MAGIC_US or magic == PCAP_MAGIC_NS:
            w.big = False
        else:
            magic = load_be32(p)
            if magic != PCAP_MAGIC_US and magic != PCAP_MAGIC_NS:
                nout[0] = 0
                consumed[0] = 0
                return fail(w, E_PCAP_MAGIC, base, load_le32(p), 0, 0)
            w.big = True
        w.ts_mul = 1 if magic == PCAP_MAGIC_NS else 1000
        w.major = ld16(p + 4, w.big)
        w.minor = ld16(p + 6, w.big)
        if w.major != 2:
            nout[0] = 0
            consumed[0] = 0
            return fail(w, E_PCAP_VERSION, base + 4, w.major, w.minor, 0)
        w.snaplen = ld32(p + 16, w.big)
        w.linktype_field = ld32(p + 20, w.big)
        w.linktype = <uint16_t>(w.linktype_field & 0xffff)
        w.started = True
        off = PCAP_FILE_HEADER
    big = w.big
    ts_mul = w.ts_mul
    linktype = w.linktype
    cdef size_t pf = off
    while True:
        if k == cap:
            status = ST_FULL
            break
        pf = prefetch_to(p, pf, off + PREFETCH_AHEAD, n)
        avail = n - off
        if avail < PCAP_RECORD_HEADER:
            if at_eof:
                if avail == 0:
                    status = ST_END
                else:
                    status = fail(w, E_TRUNC_RECORD_HEADER, base + off, avail, PCAP_RECORD_HEADER, 0)
            else:
                w.need = PCAP_RECORD_HEADER
            break
        h = p + off
        if big:
            sec = load_be32(h)
            frac = load_be32(h + 4)
            caplen = load_be32(h + 8)
            wirelen = load_be32(h + 12)
        else:
            sec = load_le32(h)
            frac = load_le32(h + 4)
            caplen = load_le32(h + 8)
            wirelen = load_le32(h + 12)
        if caplen > MAX_CAPLEN:
            status = fail(w, E_CAPLEN_LIMIT, base + off, caplen, MAX_CAPLEN, 0)
            break
        if avail - PCAP_RECORD_HEADER < caplen:
            if at_eof:
                status = fail(w, E_TRUNC_RECORD, base + off, caplen, avail - PCAP_RECORD_HEADER, 0)
            else:
                w.need = PCAP_RECORD_HEADER + caplen
            break
        # Seconds are unsigned (the format ends in 2106); a fraction of a second >= 1 s, which
        # fuzzed files carry, simply adds on: the result always fits in int64.
        out[k].ts_ns = <int64_t>sec * 1000000000 + <int64_t>frac * ts_mul
        out[k].data_off = base + off + PCAP_RECORD_HEADER
        out[k].caplen = caplen
        out[k].wirelen = wirelen
        out[k].linktype = linktype
        out[k].iface = 0
        out[k].reserved = 0
        k += 1
        off += PCAP_RECORD_HEADER + caplen
    w.packets += k
    nout[0] = k
    consumed[0] = off
    return status


# ---------------------------------------------------------------------------- pcapng
cdef int add_iface(Walk* w, const uint8_t* body, size_t body_len, bint big) noexcept nogil:
    cdef Iface* f
    cdef Iface* grown
    cdef size_t o, olen
    cdef uint16_t code
    cdef uint32_t newcap
    if w.n_ifaces >= MAX_IFACES:
        return E_TOO_MANY_IFACES
    if w.n_ifaces == w.cap_ifaces:
        newcap = 8 if w.cap_ifaces == 0 else w.cap_ifaces * 2
        if newcap > MAX_IFACES:
            newcap = MAX_IFACES
        grown = <Iface*>realloc(w.ifaces, newcap * sizeof(Iface))
        if grown == NULL:
            return E_NO_MEMORY
        w.ifaces = grown
        w.cap_ifaces = newcap
    f = &w.ifaces[w.n_ifaces]
    f.linktype = ld16(body, big)
    f.snaplen = ld32(body + 4, big)
    f.tsoffset = 0
    f.section = w.n_sections - 1
    f.local = w.sect_count
    iface_set_resolution(f, 6)      # the default: microseconds
    # Options: code, length, value padded to 32 bits. A malformed length ends the walk of the
    # options (the block itself is sound: its lengths were checked), keeping what was read.
    o = 8
    while o + 4 <= body_len:
        code = ld16(body + o, big)
        olen = ld16(body + o + 2, big)
        if code == OPT_ENDOFOPT or o + 4 + olen > body_len:
            break
        if code == OPT_IF_TSRESOL and olen >= 1:
            iface_set_resolution(f, body[o + 4])
        elif code == OPT_IF_TSOFFSET and olen >= 8:
            f.tsoffset = <int64_t>ld64(body + o + 4, big)
        o += 4 + ((olen + 3) & ~(<size_t>3))
    w.n_ifaces += 1
    w.sect_count += 1
    return E_NONE


cdef int walk_pcapng(Walk* w, const uint8_t* p, size_t n, uint64_t base, bint at_eof,
                     FrameRef* out, size_t cap, size_t* nout, size_t* consumed) noexcept nogil:
    cdef size_t off = 0, k = 0, avail, body_len
    cdef uint32_t btype, blen, trailer, bom, ifid, caplen, wirelen, room
    cdef uint64_t ticks
    cdef bint big = w.big, sbig
    cdef int status = ST_MORE, e
    cdef const uint8_t* blk
    cdef const uint8_t* body
    cdef Iface* f
    cdef size_t pf = 0
    while True:
        pf = prefetch_to(p, pf, off + PREFETCH_AHEAD, n)
        avail = n - off
        if avail < 12:
            if at_eof:
                if avail == 0 and w.started:
                    status = ST_END
                elif avail == 0:
                    status = fail(w, E_TRUNC_FILE_HEADER, base + off, 0, 28, BT_SECTION)
                else:
                    status = fail(w, E_TRUNC_BLOCK, base + off, -1, avail, -1)
            else:
                w.need = 12
            break
        blk = p + off
        btype = ld32(blk, big)
        if btype == BT_SECTION:
            # The section header's byte-order magic decides how this block and its whole section
            # are read; the block type itself reads the same either way.
            bom = load_le32(blk + 8)
            if bom == BYTE_ORDER_MAGIC:
                sbig = False
            elif load_be32(blk + 8) == BYTE_ORDER_MAGIC:
                sbig = True
            else:
                status = fail(w, E_SHB_BYTE_ORDER, base + off, bom, 0, 0)
                break
            blen = ld32(blk + 4, sbig)
        elif not w.started:
            status = fail(w, E_NOT_SECTION, base + off, btype, 0, 0)
            break
        else:
            sbig = big
            blen = ld32(blk + 4, big)
        if blen < 12:
            status = fail(w, E_BLOCK_LENGTH, base + off, blen, 12, btype)
            break
        if blen & 3:
            status = fail(w, E_BLOCK_ALIGN, base + off, blen, 0, btype)
            break
        if blen > MAX_BLOCK:
            status = fail(w, E_BLOCK_LIMIT, base + off, blen, MAX_BLOCK, btype)
            break
        if (btype == BT_ENHANCED_PACKET or btype == BT_SIMPLE_PACKET
                or btype == BT_OBSOLETE_PACKET) and k == cap:
            status = ST_FULL
            break
        if avail < blen:
            if at_eof:
                status = fail(w, E_TRUNC_BLOCK, base + off, blen, avail, btype)
            else:
                w.need = blen
            break
        trailer = ld32(blk + blen - 4, sbig)
        if trailer != blen:
            status = fail(w, E_BLOCK_TRAILER, base + off, blen, trailer, btype)
            break
        body = blk + 8
        body_len = blen - 12
        if btype == BT_SECTION:
            if blen < 28:
                status = fail(w, E_BLOCK_LENGTH, base + off, blen, 28, btype)
                break
            w.major = ld16(body + 4, sbig)
            w.minor = ld16(body + 6, sbig)
            if w.major != 1:
                status = fail(w, E_SHB_VERSION, base + off + 12, w.major, w.minor, 0)
                break
            big = sbig
            w.big = sbig
            w.started = True
            w.sect_first = w.n_ifaces
            w.sect_count = 0
            w.n_sections += 1
        elif btype == BT_INTERFACE:
            if blen < 20:
                status = fail(w, E_BLOCK_LENGTH, base + off, blen, 20, btype)
                break
            e = add_iface(w, body, body_len, big)
            if e != E_NONE:
                status = fail(w, e, base + off, MAX_IFACES, 0, btype)
                break
        elif btype == BT_ENHANCED_PACKET or btype == BT_OBSOLETE_PACKET:
            if blen < 32:
                status = fail(w, E_BLOCK_LENGTH, base + off, blen, 32, btype)
                break
            if btype == BT_ENHANCED_PACKET:
                ifid = ld32(body, big)
            else:
                ifid = ld16(body, big)      # followed by a 16-bit drops count
            if ifid >= w.sect_count:
                status = fail(w, E_UNKNOWN_IFACE, base + off, ifid, w.sect_count, btype)
                break
            ticks = (<uint64_t>ld32(body + 4, big) << 32) | ld32(body + 8, big)
            caplen = ld32(body + 12, big)
            wirelen = ld32(body + 16, big)
            room = <uint32_t>(body_len - 20)
            if caplen > room:
                status = fail(w, E_PACKET_CAPLEN, base + off, caplen, room, btype)
                break
            if caplen > MAX_CAPLEN:
                status = fail(w, E_CAPLEN_LIMIT, base + off, caplen, MAX_CAPLEN, btype)
                break
            f = &w.ifaces[w.sect_first + ifid]
            out[k].ts_ns = ticks_to_ns(f, ticks)
            out[k].data_off = base + off + 28
            out[k].caplen = caplen
            out[k].wirelen = wirelen
            out[k].linktype = f.linktype
            out[k].iface = <uint16_t>(w.sect_first + ifid)
            out[k].reserved = 0
            k += 1
        elif btype == BT_SIMPLE_PACKET:
            if blen < 16:
                status = fail(w, E_BLOCK_LENGTH, base + off, blen, 16, btype)
                break
            if w.sect_count == 0:
                status = fail(w, E_UNKNOWN_IFACE, base + off, 0, 0, btype)
                break
            f = &w.ifaces[w.sect_first]
            wirelen = ld32(body, big)
            # The captured length is not stored: it is the original length cut to the snap
            # length (draft-ietf-opsawg-pcapng, simple packet block). A block too short to hold
            # that is corrupt, as tshark also finds.
            room = <uint32_t>(body_len - 4)
            caplen = wirelen
            if f.snaplen != 0 and caplen > f.snaplen:
                caplen = f.snaplen
            if caplen > room:
                status = fail(w, E_PACKET_CAPLEN, base + off, caplen, room, btype)
                break
            if caplen > MAX_CAPLEN:
                status = fail(w, E_CAPLEN_LIMIT, base + off, caplen, MAX_CAPLEN, btype)
                break
            out[k].ts_ns = 0                # a simple packet block has no timestamp
            out[k].data_off = base + off + 12
            out[k].caplen = caplen
            out[k].wirelen = wirelen
            out[k].linktype = f.linktype
            out[k].iface = <uint16_t>w.sect_first
            out[k].reserved = 0
            k += 1
        # every other block type is skipped by its length
        w.blocks += 1
        off += blen
    w.packets += k
    nout[0] = k
    consumed[0] = off
    return status


# ---------------------------------------------------------------------------- Python face
@cython.final
cdef class Indexer:
    """Incremental index builder for one capture stream (pcap or pcapng).

    ``run(buffer, start, end, base, at_eof, out)`` walks ``buffer[start:end]`` -- which begins at
    stream offset ``base`` -- and fills ``out`` (a FRAME_DTYPE array) from its first row. It
    returns ``(status, frames, consumed)``; ``data_off`` in the rows is the absolute stream offset.
    Not thread-safe: one indexer belongs to one reader.
    """
    cdef Walk w
    cdef bint busy
    cdef list _ifaces

    def __cinit__(self, int fmt):
        if fmt != FMT_PCAP and fmt != FMT_PCAPNG:
            raise ValueError(f"unknown capture format code {fmt}")
        self.w.fmt = fmt
        self.w.ifaces = NULL
        self._ifaces = []

    def __dealloc__(self):
        free(self.w.ifaces)
        self.w.ifaces = NULL

    def run(self, buffer, Py_ssize_t start, Py_ssize_t end, unsigned long long base,
            bint at_eof, out):
        cdef Py_buffer src
        cdef Py_buffer dst
        cdef size_t nout = 0, consumed = 0, cap
        cdef int status
        cdef const uint8_t* p
        if self.busy:
            raise RuntimeError("this capture indexer is already running in another thread")
        if getattr(out, "dtype", None) != FRAME_DTYPE:
            raise TypeError("out must be a numpy array of FRAME_DTYPE")
        PyObject_GetBuffer(buffer, &src, PyBUF_SIMPLE)
        try:
            if start < 0 or end < start or end > src.len:
                raise ValueError(f"window [{start}, {end}) is outside the buffer of {src.len} bytes")
            PyObject_GetBuffer(out, &dst, PyBUF_WRITABLE)
            try:
                if dst.len % sizeof(FrameRef):
                    raise TypeError("out must be a C-contiguous FRAME_DTYPE array")
                cap = <size_t>dst.len // sizeof(FrameRef)
                p = <const uint8_t*>src.buf + start
                self.busy = True
                if self.w.err != E_NONE:
                    status = ST_ERROR
                elif self.w.fmt == FMT_PCAP:
                    with nogil:
                        status = walk_pcap(&self.w, p, <size_t>(end - start), base, at_eof,
                                           <FrameRef*>dst.buf, cap, &nout, &consumed)
                else:
                    with nogil:
                        status = walk_pcapng(&self.w, p, <size_t>(end - start), base, at_eof,
                                             <FrameRef*>dst.buf, cap, &nout, &consumed)
                self.busy = False
            finally:
                PyBuffer_Release(&dst)
        finally:
            PyBuffer_Release(&src)
        return status, nout, consumed

    @property
    def need(self):
        """After ST_MORE: how many bytes, from ``consumed``, the next window must hold."""
        return self.w.need

    @property
    def packets(self):
        return self.w.packets

    @property
    def started(self):
        return self.w.started

    @property
    def error(self):
        """None, or (code, byte offset, a, b, c) of the first problem found (it is sticky)."""
        if self.w.err == E_NONE:
            return None
        return (self.w.err, self.w.err_offset, self.w.a, self.w.b, self.w.c)

    @property
    def big_endian(self):
        return bool(self.w.big)

    @property
    def version(self):
        return (self.w.major, self.w.minor)

    @property
    def nanosecond(self):
        return self.w.fmt == FMT_PCAP and self.w.ts_mul == 1

    @property
    def linktype_field(self):
        """pcap: the header's whole 32-bit link-type field (FCS bits or junk included)."""
        return self.w.linktype_field

    @property
    def sections(self):
        return self.w.n_sections

    @property
    def interfaces(self):
        """[(linktype, snaplen, ts_resolution_ns, tsoffset_s, section, id_in_section)] for every
        interface seen so far (sections count from 0)."""
        cdef uint32_t i
        cdef Iface* f
        if self.w.fmt == FMT_PCAP:
            if not self.w.started:
                return []
            return [(self.w.linktype, self.w.snaplen, 1.0 if self.w.ts_mul == 1 else 1000.0, 0,
                     0, 0)]
        for i in range(len(self._ifaces), self.w.n_ifaces):
            f = &self.w.ifaces[i]
            if f.shift >= 0:
                res = 1e9 / (2.0 ** f.shift)
            else:
                res = float(f.mul) / float(f.div)
            self._ifaces.append((f.linktype, f.snaplen, res, f.tsoffset, f.section, f.local))
        return list(self._ifaces)


def ticks_to_ns_py(uint64_t ticks, uint8_t tsresol, int64_t tsoffset=0):
    """Convert a pcapng timestamp the way the walker does (for tests and tools)."""
    cdef Iface f
    f.tsoffset = tsoffset
    iface_set_resolution(&f, tsresol)
    return ticks_to_ns(&f, ticks)
