"""The device interface shared by every I/O backend, and the receive burst.

A device moves bursts of frames and knows nothing about protocols:

* ``recv(max_frames=None, timeout=0.0) -> Burst`` -- up to ``max_frames`` received frames as
  views over the backend's own memory: ``burst.buffer`` (buffer protocol) and ``burst.index``
  (a ``FRAME_DTYPE`` array whose ``data_off`` is relative to ``burst.buffer``, base 0), so
  ``fastpath.wire.parse.parse_frames(burst.buffer, burst.index)`` parses it directly. No Python
  object is made per packet. ``timeout`` is in seconds; ``None`` waits until a frame arrives.
* ``burst.release()`` (or ``with dev.recv() as burst:``) hands the memory back to the backend;
  until then the backend will not reuse it. A device refuses to hold more than ``max_held``
  bursts at once (CapacityError) rather than run out of memory silently.
* ``send(buffer, index) -> int`` -- transmit the frames an index describes (same layout), and
  return how many were accepted (the rest found the transmit ring full: retry them).
* ``capabilities``, ``stats()``, ``close()``, and use as a context manager.
"""
cimport cython
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE, PyBUF_WRITABLE,
                             PyBUF_FORMAT, PyBUF_ND, PyBUF_STRIDES)
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from cpython.exc cimport PyErr_CheckSignals
from cpython.ref cimport Py_INCREF, PyObject
from libc.errno cimport errno, EINTR, EPERM, EACCES, ENODEV, ENXIO, EAFNOSUPPORT, EOPNOTSUPP
from libc.errno cimport EBUSY, ENOMEM, EINVAL, ENOENT, ENOSYS, EPROTONOSUPPORT
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, free, calloc
from posix.time cimport nanosleep, timespec
from libc.string cimport memcpy, memset
cimport numpy as cnp
import os
import warnings as _warnings
import numpy as np

from fastpath.includes.posix_net cimport (mmap, munmap, MAP_FAILED, PROT_READ, PROT_WRITE,
                                          MAP_PRIVATE, MAP_ANONYMOUS, pollfd, poll, POLLIN,
                                          POLLERR, POLLHUP, POLLNVAL, fp_monotonic_ns)
from fastpath.includes.numpy_alloc cimport PyArray_Empty, RawDescr
from fastpath.wire.record cimport FrameRef
from fastpath.wire.record import FRAME_DTYPE
from fastpath.errors import CapacityError, ConfigError, PrivilegeError, UnavailableError

cnp.import_array()

cdef cnp.dtype _FRAME_DESCR = FRAME_DTYPE
if _FRAME_DESCR.itemsize != sizeof(FrameRef):
    raise ImportError("fastpath.io: FRAME_DTYPE does not match the C FrameRef; rebuild the core")

# Longest single wait without the GIL: signals (Ctrl-C, SIGTERM) are looked at in between.
cdef enum:
    WAIT_SLICE_MS = 100


cdef char* _FORMAT_B = b"B"

# ---------------------------------------------------------------- memory regions
@cython.final
cdef class Region:
    def __cinit__(self):
        self.ptr = NULL
        self.size = 0
        self.kind = 0
        self.readonly = False
        self.exports = 0

    def __dealloc__(self):
        if self.ptr != NULL:
            if self.kind == 1:
                munmap(self.ptr, self.size)
            elif self.kind == 0:
                free(self.ptr)
            self.ptr = NULL

    def __len__(self):
        return self.size

    def __getbuffer__(self, Py_buffer* view, int flags):
        if (flags & PyBUF_WRITABLE) and self.readonly:
            raise BufferError("this device memory is read-only")
        self.shape[0] = <Py_ssize_t>self.size
        self.strides[0] = 1
        view.buf = self.ptr
        view.obj = self
        view.len = <Py_ssize_t>self.size
        view.readonly = self.readonly
        view.itemsize = 1
        view.format = _FORMAT_B if (flags & PyBUF_FORMAT) else NULL
        view.ndim = 1
        view.shape = self.shape if (flags & PyBUF_ND) else NULL
        view.strides = self.strides if (flags & PyBUF_STRIDES) == PyBUF_STRIDES else NULL
        view.suboffsets = NULL
        view.internal = NULL
        self.exports += 1

    def __releasebuffer__(self, Py_buffer* view):
        self.exports -= 1

    def __repr__(self):
        return f"<Region {self.size} bytes{' read-only' if self.readonly else ''}>"


cdef Region region_anonymous(size_t size):
    """Page-aligned zeroed memory from an anonymous mapping (what UMEM and arenas need)."""
    cdef Region r = Region.__new__(Region)
    cdef void* p
    if size == 0:
        size = 1
    with nogil:
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    if p == MAP_FAILED:
        raise MemoryError(f"cannot map {size} bytes of device memory: {os.strerror(errno)}")
    r.ptr = <uint8_t*>p
    r.size = size
    r.kind = 1
    return r


cdef Region region_from_mapping(void* ptr, size_t size, bint readonly):
    """Take ownership of an existing mmap (a socket's ring): unmapped with the Region."""
    cdef Region r = Region.__new__(Region)
    r.ptr = <uint8_t*>ptr
    r.size = size
    r.kind = 1
    r.readonly = readonly
    return r


@cython.final
cdef class SlotArena:
    def __cinit__(self, uint32_t nslots, uint32_t slot_size):
        cdef uint32_t i
        if nslots == 0 or slot_size == 0:
            raise ConfigError("an arena needs at least one slot of at least one byte")
        self.slot_size = slot_size
        self.nslots = nslots
        self.region = region_anonymous(<size_t>nslots * slot_size)
        self.free_stack = <uint32_t*>malloc(nslots * sizeof(uint32_t))
        if self.free_stack == NULL:
            raise MemoryError()
        # Lowest slot numbers come out first (a stack, so push them in reverse).
        for i in range(nslots):
            self.free_stack[i] = nslots - 1 - i
        self.nfree = nslots

    def __dealloc__(self):
        free(self.free_stack)
        self.free_stack = NULL

    @property
    def free_slots(self):
        return self.nfree


# ---------------------------------------------------------------- helpers
cdef object new_frame_index(uint32_t n, const FrameRef* src):
    """A fresh FRAME_DTYPE array of n rows, copied from src unless src is NULL."""
    cdef cnp.npy_intp dims[1]
    dims[0] = n
    Py_INCREF(_FRAME_DESCR)   # PyArray_Empty steals a reference to the descriptor
    arr = PyArray_Empty(1, dims, <RawDescr*><PyObject*>_FRAME_DESCR, 0)
    if n and src != NULL:
        memcpy(cnp.PyArray_DATA(<cnp.ndarray>arr), src, n * sizeof(FrameRef))
    return arr


cdef tuple compact_frames(const uint8_t* base, const FrameRef* frames, uint32_t n):
    """Copies of n frames packed into one bytes object, with an index over it: what a sink
    may keep after the call (the caller's buffer may not live that long)."""
    cdef uint32_t i
    cdef size_t total = 0, off = 0
    cdef FrameRef* rows
    for i in range(n):
        total += frames[i].caplen
    data = PyBytes_FromStringAndSize(NULL, total)
    cdef char* dst = PyBytes_AS_STRING(data)
    index = new_frame_index(n, frames)
    rows = <FrameRef*>cnp.PyArray_DATA(<cnp.ndarray>index)
    for i in range(n):
        memcpy(dst + off, base + frames[i].data_off, frames[i].caplen)
        rows[i].data_off = off
        off += frames[i].caplen
    return data, index


cdef int validate_frames(const FrameRef* frames, uint32_t n, size_t size, uint32_t min_frame,
                         uint32_t max_frame, str devname) except -1:
    cdef uint32_t i
    cdef int64_t bad = -1
    cdef int why = 0
    with nogil:
        for i in range(n):
            if frames[i].caplen < min_frame or frames[i].caplen > max_frame:
                bad = i
                why = 1
                break
            if frames[i].data_off > size or frames[i].caplen > size - frames[i].data_off:
                bad = i
                why = 2
                break
    if bad < 0:
        return 0
    if why == 1:
        raise ConfigError(
            f"{devname}: frame {bad} of the burst is {frames[bad].caplen} bytes; this device sends "
            f"frames of {min_frame} to {max_frame} bytes (nothing in this burst was sent)")
    raise ConfigError(
        f"{devname}: frame {bad} of the burst (data_off {frames[bad].data_off}, caplen "
        f"{frames[bad].caplen}) lies outside the {size}-byte buffer (nothing in this burst was sent)")


cdef int wait_readable(int fd, int64_t timeout_ns, short events) except -2:
    """poll() one fd without the GIL; 1 when ready, 0 on timeout. timeout_ns < 0 waits forever.
    Waits in slices so that signals reach Python (KeyboardInterrupt, SIGTERM handlers)."""
    cdef pollfd p
    cdef int rc, ms
    cdef int64_t deadline = fp_monotonic_ns() + timeout_ns if timeout_ns >= 0 else -1
    cdef int64_t left
    while True:
        if deadline < 0:
            ms = WAIT_SLICE_MS
        else:
            left = deadline - fp_monotonic_ns()
            if left <= 0:
                ms = 0
            else:
                ms = <int>((left + 999999) // 1000000)
                if ms > WAIT_SLICE_MS:
                    ms = WAIT_SLICE_MS
        p.fd = fd
        p.events = events
        p.revents = 0
        with nogil:
            rc = poll(&p, 1, ms)
        if rc > 0:
            if p.revents & POLLNVAL:
                raise ConfigError("the device's file descriptor is no longer valid (closed?)")
            return 1
        if rc < 0 and errno != EINTR:
            raise OSError(errno, f"poll: {os.strerror(errno)}")
        if PyErr_CheckSignals() != 0:
            return -2
        if deadline >= 0 and fp_monotonic_ns() >= deadline:
            return 0


cdef int64_t deadline_after(int64_t timeout_ns) noexcept nogil:
    return -1 if timeout_ns < 0 else fp_monotonic_ns() + timeout_ns


cdef int64_t time_left(int64_t deadline) noexcept nogil:
    """Nanoseconds until deadline (0 when passed); -1 for no deadline."""
    cdef int64_t left
    if deadline < 0:
        return -1
    left = deadline - fp_monotonic_ns()
    return left if left > 0 else 0


cdef int nap(int64_t ns) except -1:
    """Sleep without the GIL, then let signals through. For readiness a poll() cannot report
    (AF_PACKET keeps reporting readable while the application holds ring blocks)."""
    cdef timespec ts
    ts.tv_sec = ns // 1000000000
    ts.tv_nsec = ns % 1000000000
    with nogil:
        nanosleep(&ts, NULL)
    if PyErr_CheckSignals() != 0:
        return -1
    return 0


cdef raise_os_error(int err, str what, str devname):
    msg = f"{devname}: {what} failed: {os.strerror(err)}"
    if err in (EPERM, EACCES):
        raise PrivilegeError(msg, fix="run as root or grant CAP_NET_RAW and CAP_NET_ADMIN "
                                      "(and CAP_BPF for AF_XDP)")
    if err in (ENODEV, ENXIO):
        raise ConfigError(f"{msg}: no such network interface (see 'ip link')")
    if err in (EAFNOSUPPORT, EPROTONOSUPPORT, ENOSYS):
        raise UnavailableError(msg, fix="this kernel or system lacks the socket family; "
                                        "'fastpath doctor' says what is missing")
    if err == ENOMEM:
        raise MemoryError(f"{msg} (locked-memory limit? raise 'ulimit -l')")
    raise OSError(err, msg)


# ---------------------------------------------------------------- bursts
@cython.final
cdef class Burst:
    """Frames received in one call: ``buffer`` and ``index`` (``FRAME_DTYPE``, base 0).

    Valid until ``release()``; after that the backend may overwrite ``buffer`` with new frames
    (the ``index`` array stays yours). Dropping the last reference releases it too.
    """

    def __cinit__(self):
        self.handles = NULL
        self.nhandles = 0
        self.count = 0
        self.token = -1
        self.pool_slot = -1
        self.released = False

    def __dealloc__(self):
        if not self.released and self.device is not None:
            self._do_release()
        self._free_handles()

    cdef void _free_handles(self) noexcept:
        cdef Device dev = self.device
        if self.pool_slot >= 0:
            if dev is not None and dev.pool_nfree < dev.max_held:
                dev.pool_free[dev.pool_nfree] = <uint32_t>self.pool_slot
                dev.pool_nfree += 1
            self.pool_slot = -1
        elif self.handles != NULL:
            free(self.handles)
        self.handles = NULL
        self.nhandles = 0

    cdef void _do_release(self) noexcept:
        cdef Device dev = self.device
        self.released = True
        if dev is None:
            return
        if not dev.closed:
            dev._release(self)
        if dev.held > 0:
            dev.held -= 1
        dev.c.released += self.count
        self._free_handles()

    def release(self):
        """Hand the frames' memory back to the device (idempotent)."""
        if not self.released:
            self._do_release()

    def __len__(self):
        return self.count

    def __bool__(self):
        return self.count != 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        return False

    @property
    def lengths(self):
        return self.index["caplen"]

    @property
    def timestamps(self):
        return self.index["ts_ns"]

    def frame(self, Py_ssize_t i):
        """Frame ``i`` as a memoryview over the device memory (for inspection, not hot loops)."""
        if self.released:
            raise ConfigError("this burst was released; its frames may have been overwritten")
        if i < 0:
            i += self.count
        if i < 0 or i >= self.count:
            raise IndexError(f"frame {i} of a {self.count}-frame burst")
        row = self.index[i]
        off = int(row["data_off"])
        return memoryview(self.buffer)[off:off + int(row["caplen"])]

    def frames(self):
        """Every frame as bytes (a copy; convenient in tests and tools)."""
        return [bytes(self.frame(i)) for i in range(self.count)]

    def __repr__(self):
        return f"<Burst {self.count} frames{' released' if self.released else ''}>"


# ---------------------------------------------------------------- the device base
cdef class Device:
    """Base class of every backend and wrapper. See the module docstring for the interface."""

    def __cinit__(self, *args, **kwargs):
        self.name = "device"
        self.closed = False
        self.max_burst = 0
        self.held = 0
        self.max_held = 16
        self.linktype = 1
        self.min_frame = 14
        self.max_frame = 1514
        self.uses_handles = False
        self.scratch = NULL
        self.scratch_handles = NULL
        self.handle_pool = NULL
        self.pool_free = NULL
        self.pool_nfree = 0
        memset(&self.c, 0, sizeof(DeviceCounters))

    def __dealloc__(self):
        # Bursts hold a reference to their device, so none is alive here to use the pool.
        free(self.scratch)
        free(self.scratch_handles)
        free(self.handle_pool)
        free(self.pool_free)
        self.scratch = NULL
        self.scratch_handles = NULL
        self.handle_pool = NULL
        self.pool_free = NULL

    cdef int _setup_burst(self, uint32_t max_burst, uint32_t max_held) except -1:
        if max_burst < 1 or max_burst > 65536:
            raise ConfigError(f"max_burst must be 1..65536, not {max_burst}")
        if max_held < 1:
            raise ConfigError("max_held must be at least 1")
        if self.handle_pool != NULL:
            raise ConfigError(f"{self.name}: burst sizes are fixed once set")
        cdef uint32_t i
        self.scratch = <FrameRef*>calloc(max_burst, sizeof(FrameRef))
        self.scratch_handles = <uint64_t*>calloc(max_burst, sizeof(uint64_t))
        # Handles of held bursts live in a pool (no allocation per burst): the held-burst limit
        # guarantees a free array for every burst handed out.
        self.handle_pool = <uint64_t*>malloc(<size_t>max_held * max_burst * sizeof(uint64_t))
        self.pool_free = <uint32_t*>malloc(max_held * sizeof(uint32_t))
        if (self.scratch == NULL or self.scratch_handles == NULL or self.handle_pool == NULL
                or self.pool_free == NULL):
            raise MemoryError()
        for i in range(max_held):
            self.pool_free[i] = max_held - 1 - i
        self.pool_nfree = max_held
        self.max_burst = max_burst
        self.max_held = max_held
        self.empty = Burst.__new__(Burst)
        self.empty.device = None
        self.empty.released = True
        self.empty.buffer = b""
        self.empty.index = new_frame_index(0, NULL)
        return 0

    cdef int _check_open(self) except -1:
        if self.closed:
            raise ConfigError(f"{self.name}: the device is closed")
        return 0

    # ---- hooks (backends override)
    cdef int _rx(self, FrameRef* out, uint64_t* handles, uint32_t max_frames, int64_t timeout_ns,
                 Burst b) except -1:
        raise UnavailableError(f"{self.name}: this device does not receive")

    cdef int _tx(self, const uint8_t* base, size_t size, const FrameRef* frames,
                 uint32_t n) except -1:
        raise UnavailableError(f"{self.name}: this device does not transmit")

    cdef void _release(self, Burst b) noexcept:
        pass

    cdef void _shutdown(self) noexcept:
        pass

    # ---- the burst paths
    cdef void _unreserve(self, int64_t slot) noexcept:
        if slot >= 0 and self.pool_nfree < self.max_held:
            self.pool_free[self.pool_nfree] = <uint32_t>slot
            self.pool_nfree += 1

    cdef Burst _recv_burst(self, uint32_t max_frames, int64_t timeout_ns):
        cdef Burst b
        cdef int n
        cdef uint32_t i
        cdef uint64_t nbytes = 0
        cdef cnp.ndarray arr
        cdef FrameRef* out
        cdef cnp.npy_intp dims[1]
        cdef cnp.PyArray_Dims shape
        self._check_open()
        if self.held >= self.max_held:
            raise CapacityError(
                f"{self.name}: {self.held} bursts are held; release them (burst.release() or "
                f"'with dev.recv() as burst:') before receiving more")
        if max_frames == 0 or max_frames > self.max_burst:
            max_frames = self.max_burst
        # Nothing arrived is the common answer of a polling loop: it costs no allocation.
        if self.spare is not None:
            b = self.spare
            self.spare = None
        else:
            b = Burst.__new__(Burst)
        b.device = self
        # The backend writes straight into the burst's own index array (sized for a full burst,
        # then shrunk in place) and its handle array from the pool: no copies.
        if self.spare_index is not None:
            arr = self.spare_index
            self.spare_index = None
        else:
            arr = new_frame_index(self.max_burst, NULL)
        out = <FrameRef*>cnp.PyArray_DATA(arr)
        cdef uint64_t* handles = self.scratch_handles
        cdef int64_t slot = -1
        if self.uses_handles:
            self.pool_nfree -= 1
            slot = self.pool_free[self.pool_nfree]
            handles = self.handle_pool + <size_t>slot * self.max_burst
        try:
            n = self._rx(out, handles, max_frames, timeout_ns, b)
        except BaseException:
            self._unreserve(slot)
            self.spare_index = arr
            b.device = None
            raise
        if n == 0:
            self._unreserve(slot)
            self.spare_index = arr
            b.buffer = None
            b.token = -1
            b.device = None            # no cycle through the kept object
            self.spare = b
            return self.empty
        if <uint32_t>n < self.max_burst:
            dims[0] = n
            shape.ptr = dims
            shape.len = 1
            cnp.PyArray_Resize(arr, &shape, 0, cnp.NPY_CORDER)
        b.count = n
        b.index = arr
        if slot >= 0:
            b.pool_slot = slot
            b.handles = handles
            b.nhandles = n
        for i in range(<uint32_t>n):
            nbytes += out[i].caplen
        self.held += 1
        self.c.rx_packets += n
        self.c.rx_bytes += nbytes
        self.c.rx_bursts += 1
        return b

    cdef int _send_burst(self, const uint8_t* base, size_t size, const FrameRef* frames,
                         uint32_t n) except -1:
        cdef int sent
        cdef uint32_t i
        cdef uint64_t nbytes = 0
        self._check_open()
        if n == 0:
            return 0
        validate_frames(frames, n, size, self.min_frame, self.max_frame, self.name)
        sent = self._tx(base, size, frames, n)
        for i in range(<uint32_t>sent):
            nbytes += frames[i].caplen
        self.c.tx_packets += sent
        self.c.tx_bytes += nbytes
        self.c.tx_bursts += 1
        self.c.tx_busy += n - sent
        return sent

    # ---- Python interface
    def recv(self, max_frames=None, timeout=0.0):
        """Receive up to ``max_frames`` frames (default: the device's burst size) as a Burst.

        ``timeout``: seconds to wait for the first frame (0 = do not wait, None = until one
        arrives). An empty burst means nothing arrived in time."""
        cdef uint32_t m = 0 if max_frames is None else _as_count(max_frames, "max_frames")
        cdef int64_t tns = -1 if timeout is None else _as_timeout_ns(timeout)
        return self._recv_burst(m, tns)

    def send(self, buffer, index):
        """Transmit the frames ``index`` (a FRAME_DTYPE array, data_off into ``buffer``)
        describes; return how many were accepted. The rest found the ring full: retry them."""
        cdef Py_buffer view
        cdef cnp.ndarray arr = _frame_array(index)
        cdef uint32_t n = <uint32_t>cnp.PyArray_DIM(arr, 0)
        PyObject_GetBuffer(buffer, &view, PyBUF_SIMPLE)
        try:
            return self._send_burst(<const uint8_t*>view.buf, <size_t>view.len,
                                    <const FrameRef*>cnp.PyArray_DATA(arr), n)
        finally:
            PyBuffer_Release(&view)

    def send_frames(self, frames, ts_ns=0):
        """Transmit a sequence of bytes-like frames (a convenience over ``send``)."""
        buf, index = pack_frames(frames, ts_ns, self.linktype)
        return self.send(buf, index)

    def release(self, Burst burst not None):
        burst.release()

    def stats(self):
        """Counters as a dict: rx_packets, rx_bytes, rx_bursts, rx_dropped, tx_packets,
        tx_bytes, tx_bursts, tx_dropped, tx_busy, released, held, plus the backend's own."""
        d = {
            "rx_packets": self.c.rx_packets, "rx_bytes": self.c.rx_bytes,
            "rx_bursts": self.c.rx_bursts, "rx_dropped": self.c.rx_dropped,
            "tx_packets": self.c.tx_packets, "tx_bytes": self.c.tx_bytes,
            "tx_bursts": self.c.tx_bursts, "tx_dropped": self.c.tx_dropped,
            "tx_busy": self.c.tx_busy, "released": self.c.released, "held": self.held,
        }
        if not self.closed:
            d.update(self._backend_stats())
        return d

    def _backend_stats(self):
        return {}

    @property
    def capabilities(self):
        return self._capabilities()

    def _capabilities(self):
        return Capabilities(kind="device", linktype=self.linktype, mtu=self.max_frame - 14,
                            max_frame=self.max_frame, max_burst=self.max_burst)

    def fileno(self):
        raise UnavailableError(f"{self.name}: this device has no file descriptor to poll")

    def close(self):
        """Release the backend's resources (idempotent). Bursts still held keep their memory
        readable; their release() becomes a no-op."""
        if not self.closed:
            self.closed = True
            self._shutdown()

    def _holds_os_resources(self):
        """True while the backend holds something of the operating system's (a file
        descriptor, an open capture file): what a device dropped without close() must give
        back. Backends that hold one override this."""
        return False

    def __del__(self):
        # tp_finalize (PEP 442), not __dealloc__: the device is still whole here and Python code
        # (closing a capture reader, flushing a writer) may run; an exception is reported as
        # unraisable, never propagated. A device dropped while it still holds an fd releases
        # it, and says so, as files and sockets do.
        if self.closed or not self._holds_os_resources():
            return
        try:
            _warnings.warn(f"unclosed device {self!r}", ResourceWarning, source=self)
        finally:
            self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}{' closed' if self.closed else ''}>"


cdef uint32_t _as_count(object v, str what) except? 0:
    cdef long long x = v
    if x < 1 or x > 0xffffffff:
        raise ConfigError(f"{what} must be a positive count, not {v!r}")
    return <uint32_t>x


cdef int64_t _as_timeout_ns(object timeout) except? -7:
    t = float(timeout)
    if not (t >= 0.0):
        raise ConfigError(f"timeout must be >= 0 seconds or None (wait), not {timeout!r}")
    if t > 1e9:
        return -1
    return <int64_t>(t * 1e9)


cdef cnp.ndarray _frame_array(object index):
    if not isinstance(index, np.ndarray) or (<cnp.ndarray>index).dtype != FRAME_DTYPE:
        raise ConfigError("the frame index must be a numpy array of fastpath.wire.record.FRAME_DTYPE")
    cdef cnp.ndarray arr = <cnp.ndarray>index
    if cnp.PyArray_NDIM(arr) != 1:
        raise ConfigError("the frame index must be one-dimensional")
    if not cnp.PyArray_IS_C_CONTIGUOUS(arr):
        arr = np.ascontiguousarray(arr)
    return arr


def pack_frames(frames, ts_ns=0, linktype=1):
    """Concatenate bytes-like frames into (bytes, FRAME_DTYPE index): the shape send() takes."""
    frames = [memoryview(f).cast("B") for f in frames]
    index = np.zeros(len(frames), FRAME_DTYPE)
    off = 0
    offs = []
    for f in frames:
        offs.append(off)
        off += len(f)
    if frames:
        index["data_off"] = offs
        lens = [len(f) for f in frames]
        index["caplen"] = lens
        index["wirelen"] = lens
    index["ts_ns"] = ts_ns
    index["linktype"] = linktype
    return b"".join(frames), index


from dataclasses import dataclass, field as _field


@dataclass(frozen=True)
class Capabilities:
    """What a device is and does. ``offloads`` names the work the device does for you; fastpath
    backends use none (frames carry complete checksums, no segmentation offload), except where
    the kernel strips VLAN tags into metadata (``"rx_vlan_strip"``)."""
    kind: str
    linktype: int = 1
    mtu: int = 1500
    max_frame: int = 1514
    max_burst: int = 64
    # "kernel" (stamped by the kernel per frame), "read" (taken as each frame is read),
    # "burst" (one time per burst), "capture" (from the file), "none"
    rx_timestamps: str = "none"
    zero_copy: bool = False          # frames are read where the NIC/kernel wrote them
    can_recv: bool = True
    can_send: bool = True
    queues: int = 1
    offloads: tuple = ()
    details: dict = _field(default_factory=dict)
