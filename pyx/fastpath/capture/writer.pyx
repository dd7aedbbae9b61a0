# cython: freethreading_compatible = False
"""pcap and pcapng writers.

Records are assembled in a C buffer (1 MiB, flushed to the file when full) so that ``write`` costs
one small copy and ``write_batch`` -- a whole FRAME_DTYPE index over one buffer, as a reader chunk
or an I/O burst provides -- runs without the GIL. Every argument is checked before a byte of the
record (or, for ``write_batch``, of the batch) is written, so a rejected call leaves the file as it
was.
"""
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.bytes cimport PyBytes_FromStringAndSize

from fastpath.includes.byteorder cimport store_be16, store_be32, store_le16, store_le32
from fastpath.wire.record cimport FrameRef

import os
import numpy as np

from fastpath import __version__
from fastpath.errors import ConfigError
from fastpath.wire.record import FRAME_DTYPE

_PCAP_MAX_TS = (1 << 32) * 1_000_000_000 - 1   # the last ns of pcap's unsigned 32-bit seconds
_INT64_MAX = (1 << 63) - 1

cdef enum:
    OUT_CAPACITY = 1 << 20
    MAX_SNAPLEN = 262144
    NS_PER_S = 1000000000

# Reasons write_batch rejects a row (checked for the whole batch before anything is written).
cdef enum:
    ROW_OK = 0
    ROW_OUTSIDE = 1
    ROW_TIME = 2
    ROW_LINKTYPE = 3
    ROW_IFACE = 4


cdef inline void st16(uint8_t* p, uint16_t v, bint big) noexcept nogil:
    if big:
        store_be16(p, v)
    else:
        store_le16(p, v)


cdef inline void st32(uint8_t* p, uint32_t v, bint big) noexcept nogil:
    if big:
        store_be32(p, v)
    else:
        store_le32(p, v)


cdef bint _parse_byteorder(object byteorder) except -1:
    if byteorder == "little":
        return False
    if byteorder == "big":
        return True
    if byteorder == "native":
        import sys
        return sys.byteorder == "big"
    raise ConfigError(f"byteorder must be 'little', 'big' or 'native', not {byteorder!r}")


cdef class _Sink:
    """A C byte buffer in front of a binary file object."""
    cdef uint8_t* buf
    cdef size_t len
    cdef object file
    cdef bint owns
    cdef readonly object path
    cdef readonly bint closed
    cdef readonly unsigned long long packets

    def __cinit__(self):
        self.buf = <uint8_t*>malloc(OUT_CAPACITY)
        if self.buf == NULL:
            raise MemoryError("could not allocate the capture writer's 1 MiB buffer")
        self.len = 0
        self.closed = True

    def __dealloc__(self):
        # Best effort for a writer that was never closed: its records still reach the file.
        if not self.closed and self.file is not None and self.len:
            try:
                self.file.write(PyBytes_FromStringAndSize(<char*>self.buf, self.len))
                if self.owns:
                    self.file.close()
            except Exception:
                pass
        free(self.buf)

    cdef _open(self, target):
        if hasattr(target, "write"):
            self.file = target
            self.owns = False
            self.path = getattr(target, "name", None)
        else:
            try:
                self.path = os.fspath(target)
            except TypeError:
                raise ConfigError(f"a capture writer needs a path or a binary file object, not "
                                  f"{type(target).__name__}") from None
            self.file = open(self.path, "wb")
            self.owns = True
        self.closed = False

    cdef int _room(self, size_t n) except -1:
        """Make room for n more bytes (n <= OUT_CAPACITY)."""
        if self.closed:
            raise ValueError("write to a closed capture writer")
        if self.len + n > OUT_CAPACITY:
            self._flush_buffer()
        return 0

    cdef int _flush_buffer(self) except -1:
        cdef size_t n = self.len
        if n:
            self.len = 0
            # The bytes go out even if write raises (disk full): report it, do not retry them.
            self.file.write(PyBytes_FromStringAndSize(<char*>self.buf, n))
        return 0

    def flush(self):
        """Write buffered records to the file and flush it."""
        if self.closed:
            return
        self._flush_buffer()
        if hasattr(self.file, "flush"):
            self.file.flush()

    def close(self):
        """Flush and, when the writer opened the file, close it. Idempotent."""
        if self.closed:
            return
        try:
            self._flush_buffer()
            if hasattr(self.file, "flush"):
                self.file.flush()
        finally:
            self.closed = True
            if self.owns:
                self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


cdef inline uint32_t _u32(object v, str what) except? 0xffffffff:
    if v < 0 or v > 0xffffffff:
        raise ConfigError(f"{what} {v} does not fit the format's 32-bit field (0..4294967295)")
    return <uint32_t>v


# ------------------------------------------------------------------------------------ pcap
@cython.final
cdef class PcapWriter(_Sink):
    """Write a pcap file (draft-ietf-opsawg-pcap, version 2.4).

    ``PcapWriter(path_or_file, linktype=1, snaplen=262144, nanosecond=False, byteorder="little")``;
    frames longer than ``snaplen`` are cut to it (their wire length is kept).
    """
    cdef readonly int linktype
    cdef readonly uint32_t snaplen
    cdef readonly bint nanosecond
    cdef readonly str byteorder
    cdef bint big

    def __init__(self, path, int linktype=1, long long snaplen=MAX_SNAPLEN, bint nanosecond=False,
                 byteorder="little"):
        if linktype < 0 or linktype > 0xffff:
            raise ConfigError(f"linktype {linktype} is not a 16-bit LINKTYPE_ value (0..65535)")
        if snaplen < 1 or snaplen > MAX_SNAPLEN:
            raise ConfigError(f"snaplen {snaplen} is outside 1..{MAX_SNAPLEN} (readers refuse records "
                              f"longer than {MAX_SNAPLEN} bytes)")
        self.big = _parse_byteorder(byteorder)
        self.byteorder = "big" if self.big else "little"
        self.linktype = linktype
        self.snaplen = <uint32_t>snaplen
        self.nanosecond = nanosecond
        self._open(path)
        cdef uint8_t* h = self.buf
        st32(h, 0xa1b23c4d if nanosecond else 0xa1b2c3d4, self.big)
        st16(h + 4, 2, self.big)
        st16(h + 6, 4, self.big)
        st32(h + 8, 0, self.big)       # thiszone: always 0 (timestamps are UTC)
        st32(h + 12, 0, self.big)      # sigfigs
        st32(h + 16, self.snaplen, self.big)
        st32(h + 20, <uint32_t>linktype, self.big)
        self.len = 24

    @cython.nonecheck(False)
    cdef inline bint _time_ok(self, int64_t ts) noexcept nogil:
        return 0 <= ts and ts // NS_PER_S <= <int64_t>0xffffffffU

    @cython.nonecheck(False)
    cdef inline void _record(self, const uint8_t* data, uint32_t caplen, uint32_t wirelen,
                             int64_t ts) noexcept nogil:
        cdef uint8_t* h = self.buf + self.len
        cdef int64_t frac = ts % NS_PER_S
        st32(h, <uint32_t>(ts // NS_PER_S), self.big)
        st32(h + 4, <uint32_t>(frac if self.nanosecond else frac // 1000), self.big)
        st32(h + 8, caplen, self.big)
        st32(h + 12, wirelen, self.big)
        memcpy(h + 16, data, caplen)
        self.len += 16 + caplen

    def write(self, frame, ts_ns, wirelen=None):
        """Append one record: ``frame`` (any buffer) captured at ``ts_ns`` (ns since the epoch)."""
        cdef Py_buffer view
        cdef int64_t ts
        cdef uint32_t caplen, wl
        if not (0 <= ts_ns <= _PCAP_MAX_TS):
            raise ConfigError(f"timestamp {ts_ns} ns is outside what pcap stores (1970 to 2106, "
                              f"unsigned 32-bit seconds); use PcapngWriter for other times")
        ts = ts_ns
        PyObject_GetBuffer(frame, &view, PyBUF_SIMPLE)
        try:
            if view.len > 0xffffffff:
                raise ConfigError(f"a frame of {view.len} bytes is too long for a capture record")
            wl = <uint32_t>view.len if wirelen is None else _u32(wirelen, "wirelen")
            caplen = <uint32_t>view.len if <size_t>view.len < self.snaplen else self.snaplen
            self._room(16 + caplen)
            self._record(<const uint8_t*>view.buf, caplen, wl, ts)
            self.packets += 1
        finally:
            PyBuffer_Release(&view)

    def write_batch(self, buf, index, unsigned long long base=0):
        """Append every frame of ``index`` (FRAME_DTYPE; frame i is ``buf[data_off - base:][:caplen]``).

        Rows must carry this file's link type. Nothing is written if any row is invalid.
        """
        cdef Py_buffer view, iv
        cdef const FrameRef* rows
        cdef Py_ssize_t n, i, bad = -1
        cdef int why = ROW_OK
        cdef const uint8_t* data
        cdef uint64_t size
        cdef uint32_t caplen
        cdef uint16_t lt = <uint16_t>self.linktype
        arr = _index_array(index)
        PyObject_GetBuffer(arr, &iv, PyBUF_SIMPLE)
        try:
            PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE)
        except BaseException:
            PyBuffer_Release(&iv)
            raise
        try:
            rows = <const FrameRef*>iv.buf
            n = iv.len // <Py_ssize_t>sizeof(FrameRef)
            data = <const uint8_t*>view.buf
            size = <uint64_t>view.len
            with nogil:
                for i in range(n):
                    why = _check_row(&rows[i], base, size)
                    if why == ROW_OK and not self._time_ok(rows[i].ts_ns):
                        why = ROW_TIME
                    if why == ROW_OK and rows[i].linktype != lt:
                        why = ROW_LINKTYPE
                    if why != ROW_OK:
                        bad = i
                        break
            if bad >= 0:
                raise ConfigError(_row_problem(why, bad, rows[bad], base, size,
                                               f"this pcap file's link type {self.linktype}"))
            i = 0
            while i < n:
                self._room(16 + MAX_SNAPLEN)
                with nogil:
                    while i < n:
                        caplen = rows[i].caplen if rows[i].caplen < self.snaplen else self.snaplen
                        if self.len + 16 + caplen > OUT_CAPACITY:
                            break
                        self._record(data + (rows[i].data_off - base), caplen, rows[i].wirelen,
                                     rows[i].ts_ns)
                        i += 1
            self.packets += n
        finally:
            PyBuffer_Release(&view)
            PyBuffer_Release(&iv)


cdef object _index_array(index):
    if getattr(index, "dtype", None) != FRAME_DTYPE or getattr(index, "ndim", 0) != 1:
        raise ConfigError("index must be a one-dimensional numpy array of FRAME_DTYPE "
                          "(fastpath.wire.record.FRAME_DTYPE)")
    return np.ascontiguousarray(index)


cdef inline int _check_row(const FrameRef* r, uint64_t base, uint64_t size) noexcept nogil:
    if r.data_off < base or r.data_off - base > size or r.caplen > size - (r.data_off - base):
        return ROW_OUTSIDE
    return ROW_OK


cdef str _row_problem(int why, Py_ssize_t i, FrameRef r, uint64_t base, uint64_t size, str link):
    if why == ROW_OUTSIDE:
        return (f"index row {i}: frame at data_off {r.data_off} (base {base}) with caplen {r.caplen} "
                f"lies outside the buffer of {size} bytes; nothing was written")
    if why == ROW_TIME:
        return (f"index row {i}: timestamp {r.ts_ns} ns cannot be stored in this format "
                f"(pcap: 1970 to 2106; pcapng: not before 1970); nothing was written")
    if why == ROW_LINKTYPE:
        return (f"index row {i}: link type {r.linktype} differs from {link}; write it to a file "
                f"or interface of that link type; nothing was written")
    return (f"index row {i}: interface {r.iface} is not defined in this section ({link}); "
            f"nothing was written")


# ------------------------------------------------------------------------------------ pcapng
cdef enum:
    BT_SHB = 0x0A0D0D0A
    BT_IDB = 0x00000001
    BT_EPB = 0x00000006


@cython.final
cdef class PcapngWriter(_Sink):
    """Write a pcapng file (draft-ietf-opsawg-pcapng): a section header, one interface description
    per ``interfaces`` entry, then enhanced packet blocks.

    ``interfaces`` holds ``(linktype, snaplen)`` or ``(linktype, snaplen, ts_resolution_ns)``
    tuples; the resolution is a power of ten from 1 ns (the default) to 1 s. ``new_section`` starts
    another section (its own byte order and interfaces); ``add_interface`` adds one to the current
    section. ``iface`` arguments and index rows number the current section's interfaces from 0.
    """
    cdef readonly str byteorder
    cdef readonly list interfaces        # the current section's (linktype, snaplen, ts_resolution_ns)
    cdef readonly int sections
    cdef bint big
    cdef uint16_t* lt
    cdef uint32_t* snap
    cdef int64_t* div                    # ns per tick
    cdef Py_ssize_t n_if

    def __cinit__(self):
        self.lt = NULL
        self.snap = NULL
        self.div = NULL

    def __dealloc__(self):
        free(self.lt)
        free(self.snap)
        free(self.div)

    def __init__(self, path, interfaces=((1, MAX_SNAPLEN),), byteorder="little", application=None):
        self.big = _parse_byteorder(byteorder)
        self.byteorder = "big" if self.big else "little"
        self.interfaces = []
        self.sections = 0
        self._open(path)
        self._section(interfaces, application)

    def new_section(self, interfaces=((1, MAX_SNAPLEN),), byteorder=None, application=None):
        """Start a new section; ``byteorder`` defaults to the current one."""
        if self.closed:
            raise ValueError("write to a closed capture writer")
        big = _parse_byteorder(byteorder) if byteorder is not None else self.big
        for spec in _iface_list(interfaces):
            self._check_iface(spec)
        self.big = big
        self.byteorder = "big" if self.big else "little"
        self._section(interfaces, application)

    cdef _section(self, interfaces, application):
        ifs = [self._check_iface(spec) for spec in _iface_list(interfaces)]
        app = (application if application is not None else f"fastpath {__version__}").encode()
        if len(app) > 4096:
            raise ConfigError("application name longer than 4096 bytes")
        cdef size_t opt = 4 + ((len(app) + 3) & ~3) + 4
        cdef size_t blen = 28 + opt
        self._room(blen)
        cdef uint8_t* b = self.buf + self.len
        memset(b, 0, blen)
        st32(b, BT_SHB, self.big)
        st32(b + 4, <uint32_t>blen, self.big)
        st32(b + 8, 0x1A2B3C4D, self.big)
        st16(b + 12, 1, self.big)
        st16(b + 14, 0, self.big)
        st32(b + 16, 0xffffffff, self.big)      # section length: not specified (-1)
        st32(b + 20, 0xffffffff, self.big)
        st16(b + 24, 4, self.big)                # shb_userappl
        st16(b + 26, <uint16_t>len(app), self.big)
        memcpy(b + 28, <const char*>app, len(app))
        # opt_endofopt is the 4 zero bytes already there
        st32(b + blen - 4, <uint32_t>blen, self.big)
        self.len += blen
        self.sections += 1
        self.interfaces = []
        self.n_if = 0
        for spec in ifs:
            self._idb(spec[0], spec[1], spec[2], spec[3])

    cdef tuple _check_iface(self, spec):
        if len(spec) not in (2, 3):
            raise ConfigError(f"interface {spec!r} must be (linktype, snaplen) or "
                              f"(linktype, snaplen, ts_resolution_ns)")
        linktype, snaplen = int(spec[0]), int(spec[1])
        res = 1 if len(spec) == 2 else spec[2]
        if linktype < 0 or linktype > 0xffff:
            raise ConfigError(f"linktype {linktype} is not a 16-bit LINKTYPE_ value (0..65535)")
        if snaplen < 0 or snaplen > MAX_SNAPLEN:
            raise ConfigError(f"snaplen {snaplen} is outside 0..{MAX_SNAPLEN} (0 means no limit, "
                              f"which this writer applies as {MAX_SNAPLEN})")
        exps = {10 ** (9 - e): e for e in range(10)}
        if res not in exps:
            raise ConfigError(f"ts_resolution_ns {res!r} must be a power of ten from 1 ns to 1 s "
                              f"({sorted(exps)})")
        return (linktype, snaplen, int(res), exps[res])

    def add_interface(self, int linktype, long long snaplen=MAX_SNAPLEN, ts_resolution_ns=1):
        """Describe one more interface in the current section; returns its id."""
        spec = self._check_iface((linktype, snaplen, ts_resolution_ns))
        self._idb(spec[0], spec[1], spec[2], spec[3])
        return self.n_if - 1

    cdef _idb(self, int linktype, long long snaplen, long long res, int tsresol):
        cdef size_t blen = 20 + 8 + 4
        self._room(blen)
        cdef uint8_t* b = self.buf + self.len
        n = self.n_if + 1
        cdef uint16_t* lt = <uint16_t*>malloc(n * sizeof(uint16_t))
        cdef uint32_t* sn = <uint32_t*>malloc(n * sizeof(uint32_t))
        cdef int64_t* dv = <int64_t*>malloc(n * sizeof(int64_t))
        if lt == NULL or sn == NULL or dv == NULL:
            free(lt); free(sn); free(dv)
            raise MemoryError()
        if self.n_if:
            memcpy(lt, self.lt, self.n_if * sizeof(uint16_t))
            memcpy(sn, self.snap, self.n_if * sizeof(uint32_t))
            memcpy(dv, self.div, self.n_if * sizeof(int64_t))
        free(self.lt); free(self.snap); free(self.div)
        self.lt, self.snap, self.div = lt, sn, dv
        lt[self.n_if] = <uint16_t>linktype
        sn[self.n_if] = <uint32_t>(snaplen if snaplen else MAX_SNAPLEN)
        dv[self.n_if] = res
        self.n_if = n
        memset(b, 0, blen)
        st32(b, BT_IDB, self.big)
        st32(b + 4, <uint32_t>blen, self.big)
        st16(b + 8, <uint16_t>linktype, self.big)
        st32(b + 12, <uint32_t>snaplen, self.big)
        st16(b + 16, 9, self.big)          # if_tsresol: 10**-tsresol seconds per tick
        st16(b + 18, 1, self.big)
        b[20] = <uint8_t>tsresol
        # opt_endofopt: 4 zero bytes at 24
        st32(b + blen - 4, <uint32_t>blen, self.big)
        self.len += blen
        self.interfaces.append((linktype, snaplen, float(res)))

    @cython.nonecheck(False)
    cdef inline void _epb(self, const uint8_t* data, uint32_t caplen, uint32_t wirelen,
                          int64_t ts, uint32_t iface) noexcept nogil:
        cdef uint32_t padded = (caplen + 3) & ~(<uint32_t>3)
        cdef uint32_t blen = 32 + padded
        cdef uint64_t ticks = <uint64_t>ts // <uint64_t>self.div[iface]
        cdef uint8_t* b = self.buf + self.len
        st32(b, BT_EPB, self.big)
        st32(b + 4, blen, self.big)
        st32(b + 8, iface, self.big)
        st32(b + 12, <uint32_t>(ticks >> 32), self.big)
        st32(b + 16, <uint32_t>ticks, self.big)
        st32(b + 20, caplen, self.big)
        st32(b + 24, wirelen, self.big)
        memcpy(b + 28, data, caplen)
        memset(b + 28 + caplen, 0, padded - caplen)
        st32(b + blen - 4, blen, self.big)
        self.len += blen

    @cython.nonecheck(False)
    cdef inline uint32_t _caplen(self, size_t n, uint32_t iface) noexcept nogil:
        return <uint32_t>n if n < self.snap[iface] else self.snap[iface]

    def write(self, frame, ts_ns, iface=0, wirelen=None):
        """Append one enhanced packet block for interface ``iface`` of the current section."""
        cdef Py_buffer view
        cdef uint32_t caplen, wl, ifc
        if not 0 <= iface < self.n_if:
            raise ConfigError(f"interface {iface} is not defined: this section has {self.n_if} "
                              f"(add one with add_interface)")
        ifc = iface
        if not (0 <= ts_ns <= _INT64_MAX):
            raise ConfigError(f"timestamp {ts_ns} ns is outside 1970..2262 (int64 ns), which this "
                              f"writer stores")
        PyObject_GetBuffer(frame, &view, PyBUF_SIMPLE)
        try:
            if view.len > 0xffffffff:
                raise ConfigError(f"a frame of {view.len} bytes is too long for a capture record")
            wl = <uint32_t>view.len if wirelen is None else _u32(wirelen, "wirelen")
            caplen = self._caplen(<size_t>view.len, ifc)
            self._room(32 + caplen + 3)
            self._epb(<const uint8_t*>view.buf, caplen, wl, <int64_t>ts_ns, ifc)
            self.packets += 1
        finally:
            PyBuffer_Release(&view)

    def write_batch(self, buf, index, unsigned long long base=0):
        """Append every frame of ``index`` (FRAME_DTYPE) as enhanced packet blocks; ``iface`` in
        each row is an interface of the current section and its link type must match the row's.
        Nothing is written if any row is invalid."""
        cdef Py_buffer view, iv
        cdef const FrameRef* rows
        cdef Py_ssize_t n, i, bad = -1
        cdef int why = ROW_OK
        cdef const uint8_t* data
        cdef uint64_t size
        cdef uint32_t caplen
        arr = _index_array(index)
        PyObject_GetBuffer(arr, &iv, PyBUF_SIMPLE)
        try:
            PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE)
        except BaseException:
            PyBuffer_Release(&iv)
            raise
        try:
            rows = <const FrameRef*>iv.buf
            n = iv.len // <Py_ssize_t>sizeof(FrameRef)
            data = <const uint8_t*>view.buf
            size = <uint64_t>view.len
            with nogil:
                for i in range(n):
                    why = _check_row(&rows[i], base, size)
                    if why == ROW_OK and rows[i].ts_ns < 0:
                        why = ROW_TIME
                    if why == ROW_OK and rows[i].iface >= self.n_if:
                        why = ROW_IFACE
                    if why == ROW_OK and rows[i].linktype != self.lt[rows[i].iface]:
                        why = ROW_LINKTYPE
                    if why != ROW_OK:
                        bad = i
                        break
            if bad >= 0:
                if why == ROW_LINKTYPE:
                    link = (f"interface {rows[bad].iface}'s link type "
                            f"{self.lt[rows[bad].iface]}")
                else:
                    link = f"{self.n_if} interfaces"
                raise ConfigError(_row_problem(why, bad, rows[bad], base, size, link))
            i = 0
            while i < n:
                self._room(32 + MAX_SNAPLEN + 3)
                with nogil:
                    while i < n:
                        caplen = self._caplen(rows[i].caplen, rows[i].iface)
                        if self.len + 35 + caplen > OUT_CAPACITY:
                            break
                        self._epb(data + (rows[i].data_off - base), caplen, rows[i].wirelen,
                                  rows[i].ts_ns, rows[i].iface)
                        i += 1
            self.packets += n
        finally:
            PyBuffer_Release(&view)
            PyBuffer_Release(&iv)


cdef list _iface_list(interfaces):
    try:
        out = [tuple(spec) for spec in interfaces]
    except TypeError:
        raise ConfigError("interfaces must be a list of (linktype, snaplen) tuples") from None
    if not out:
        raise ConfigError("a pcapng section needs at least one interface, e.g. [(1, 262144)]")
    return out
