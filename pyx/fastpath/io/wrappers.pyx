"""Devices that wrap any other device (smoltcp's phy middleware, for bursts):

* ``Tracer(dev, sink)``        -- shows every burst to ``sink(direction, buffer, index)``;
* ``PcapRecorder(dev, path)``  -- writes every frame received and sent to a capture file;
* ``FaultInjector(dev, ...)``  -- loses, duplicates, reorders and corrupts frames, seeded.

They compose (``FaultInjector(PcapRecorder(Tracer(dev), "x.pcapng"), drop=0.1)``) and pass
``close()`` down to the device they wrap.
"""
cimport cython
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memcpy
cimport numpy as cnp
import sys
import time

from fastpath.io.device cimport (Device, Burst, Region, SlotArena, new_frame_index,
                                 validate_frames, compact_frames)
from fastpath.wire.record cimport FrameRef
from fastpath.io.device import Capabilities
from fastpath.errors import ConfigError

cnp.import_array()


cdef inline const FrameRef* _frames_of(object index):
    return <const FrameRef*>cnp.PyArray_DATA(<cnp.ndarray>index)


cdef class Wrapper(Device):
    """Base of the wrappers: forwards everything to ``inner`` unless overridden."""
    cdef readonly Device inner
    cdef bint close_inner

    def __init__(self, Device inner not None, *, close_inner=True):
        self.inner = inner
        self.close_inner = bool(close_inner)
        self.name = f"{type(self).__name__.lower()}({inner.name})"
        self.linktype = inner.linktype
        self.min_frame = inner.min_frame
        self.max_frame = inner.max_frame
        self.max_burst = inner.max_burst
        self.max_held = inner.max_held

    cdef Burst _recv_burst(self, uint32_t max_frames, int64_t timeout_ns):
        self._check_open()
        return self.inner._recv_burst(max_frames, timeout_ns)

    cdef int _send_burst(self, const uint8_t* base, size_t size, const FrameRef* frames,
                         uint32_t n) except -1:
        self._check_open()
        return self.inner._send_burst(base, size, frames, n)

    def stats(self):
        return self.inner.stats()

    def _capabilities(self):
        import dataclasses
        return dataclasses.replace(self.inner._capabilities(), max_burst=self.max_burst)

    def fileno(self):
        return self.inner.fileno()

    cdef void _shutdown(self) noexcept:
        if self.close_inner:
            try:
                self.inner.close()
            except Exception:
                pass


# ---------------------------------------------------------------- tracer
def _default_sink(name, stream):
    def sink(direction, buffer, index):
        mv = memoryview(buffer)
        for row in index:
            off, n = int(row["data_off"]), int(row["caplen"])
            f = bytes(mv[off:off + min(n, 14)])
            if len(f) >= 14:
                desc = (f"{f[6:12].hex(':')} > {f[0:6].hex(':')} "
                        f"type 0x{int.from_bytes(f[12:14], 'big'):04x}")
            else:
                desc = f.hex()
            stream.write(f"{name} {direction} {n} bytes {desc}\n")
    return sink


@cython.final
cdef class Tracer(Wrapper):
    """Calls ``sink(direction, buffer, index)`` for every burst received ("rx") and sent
    ("tx"); the default sink prints one line per frame to stderr. The buffer of a "tx" call is
    valid only during the call."""
    cdef object sink
    cdef bint trace_rx, trace_tx
    cdef uint64_t traced_rx, traced_tx

    def __init__(self, Device inner not None, sink=None, *, directions=("rx", "tx"),
                 close_inner=True):
        super().__init__(inner, close_inner=close_inner)
        bad = set(directions) - {"rx", "tx"}
        if bad:
            raise ConfigError(f"directions are 'rx' and 'tx', not {sorted(bad)}")
        self.trace_rx = "rx" in directions
        self.trace_tx = "tx" in directions
        self.sink = sink if sink is not None else _default_sink(inner.name, sys.stderr)
        if not callable(self.sink):
            raise ConfigError("sink must be callable as sink(direction, buffer, index)")

    cdef Burst _recv_burst(self, uint32_t max_frames, int64_t timeout_ns):
        cdef Burst b = Wrapper._recv_burst(self, max_frames, timeout_ns)
        if self.trace_rx and b.count:
            self.traced_rx += b.count
            self.sink("rx", b.buffer, b.index)
        return b

    cdef int _send_burst(self, const uint8_t* base, size_t size, const FrameRef* frames,
                         uint32_t n) except -1:
        cdef int sent = Wrapper._send_burst(self, base, size, frames, n)
        if self.trace_tx and sent > 0:
            self.traced_tx += sent
            data, index = compact_frames(base, frames, sent)
            self.sink("tx", data, index)
        return sent

    def stats(self):
        d = self.inner.stats()
        d.update({"traced_rx": self.traced_rx, "traced_tx": self.traced_tx})
        return d


# ---------------------------------------------------------------- pcap recorder
@cython.final
cdef class PcapRecorder(Wrapper):
    """Writes every frame received and sent to ``path``: pcapng with interface 0 for received
    and 1 for sent frames (the default), or pcap with both interleaved in time order."""
    cdef object writer
    cdef bint rec_rx, rec_tx, is_ng
    cdef readonly object path
    cdef uint64_t recorded_rx, recorded_tx

    def __init__(self, Device inner not None, path, *, format="pcapng", directions=("rx", "tx"),
                 snaplen=262144, close_inner=True):
        super().__init__(inner, close_inner=close_inner)
        from fastpath.capture import PcapWriter, PcapngWriter
        if format not in ("pcap", "pcapng"):
            raise ConfigError(f"format must be 'pcap' or 'pcapng', not {format!r}")
        bad = set(directions) - {"rx", "tx"}
        if bad:
            raise ConfigError(f"directions are 'rx' and 'tx', not {sorted(bad)}")
        self.rec_rx = "rx" in directions
        self.rec_tx = "tx" in directions
        self.is_ng = format == "pcapng"
        self.path = path
        if self.is_ng:
            self.writer = PcapngWriter(path, interfaces=[(inner.linktype, snaplen),
                                                         (inner.linktype, snaplen)])
        else:
            self.writer = PcapWriter(path, linktype=inner.linktype, snaplen=snaplen,
                                     nanosecond=True)

    cdef _write(self, object buffer, object index, uint16_t iface):
        index = index.copy()
        index["linktype"] = self.inner.linktype
        if self.is_ng:
            index["iface"] = iface
        self.writer.write_batch(buffer, index)

    cdef Burst _recv_burst(self, uint32_t max_frames, int64_t timeout_ns):
        cdef Burst b = Wrapper._recv_burst(self, max_frames, timeout_ns)
        if self.rec_rx and b.count:
            self._write(b.buffer, b.index, 0)
            self.recorded_rx += b.count
        return b

    cdef int _send_burst(self, const uint8_t* base, size_t size, const FrameRef* frames,
                         uint32_t n) except -1:
        cdef int sent = Wrapper._send_burst(self, base, size, frames, n)
        if self.rec_tx and sent > 0:
            data, index = compact_frames(base, frames, sent)
            # Frames handed to send() rarely carry a time: stamp them with the time of sending.
            unset = index["ts_ns"] == 0
            if unset.any():
                index["ts_ns"][unset] = time.time_ns()
            self._write(data, index, 1)
            self.recorded_tx += sent
        return sent

    def flush(self):
        self.writer.flush()

    def _holds_os_resources(self):
        return self.writer is not None

    cdef void _shutdown(self) noexcept:
        try:
            self.writer.close()
        except Exception:
            pass
        Wrapper._shutdown(self)

    def stats(self):
        d = self.inner.stats()
        d.update({"recorded_rx": self.recorded_rx, "recorded_tx": self.recorded_tx})
        return d


# ---------------------------------------------------------------- fault injector
cdef inline uint64_t _rotl(uint64_t x, int k) noexcept nogil:
    return (x << k) | (x >> (64 - k))


cdef struct Rng:
    uint64_t s[4]


cdef void rng_seed(Rng* r, uint64_t seed) noexcept nogil:
    # splitmix64 expands the seed into xoshiro256**'s state (Blackman & Vigna).
    cdef int i
    cdef uint64_t z
    for i in range(4):
        seed += 0x9E3779B97F4A7C15ULL
        z = seed
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
        r.s[i] = z ^ (z >> 31)


cdef inline uint64_t rng_next(Rng* r) noexcept nogil:
    cdef uint64_t result = _rotl(r.s[1] * 5, 7) * 9
    cdef uint64_t t = r.s[1] << 17
    r.s[2] ^= r.s[0]
    r.s[3] ^= r.s[1]
    r.s[1] ^= r.s[2]
    r.s[0] ^= r.s[3]
    r.s[2] ^= t
    r.s[3] = _rotl(r.s[3], 45)
    return result


cdef inline bint rng_chance(Rng* r, double p) noexcept nogil:
    # 53 random bits as a double in [0, 1): p = 0 never, p = 1 always.
    return (rng_next(r) >> 11) * (1.0 / 9007199254740992.0) < p


cdef struct FaultCounters:
    uint64_t seen
    uint64_t dropped
    uint64_t duplicated
    uint64_t reordered
    uint64_t corrupted
    uint64_t overflow          # copies that found the injector's own arena full
    uint64_t oversize          # frames longer than the injector's slots (dropped)


@cython.final
cdef class FaultInjector(Wrapper):
    """Loses, duplicates, delays (reorders) and corrupts frames of any device, reproducibly:
    the same seed and the same traffic give the same faults.

    ``drop``, ``duplicate``, ``reorder``, ``corrupt`` are probabilities per frame, applied in
    that order. A reordered frame is held back and delivered after the frames of the next
    receive (or send) call -- or alone, if nothing else comes. Corruption flips one random bit
    of one byte at or after ``corrupt_from``. ``directions`` picks "rx", "tx" or both.
    Received frames are copied into the injector's own arena (``slots`` frames).
    """
    cdef Rng rng
    cdef readonly double p_drop, p_duplicate, p_reorder, p_corrupt
    cdef readonly uint64_t seed
    cdef uint32_t corrupt_from
    cdef bint on_rx, on_tx
    cdef SlotArena arena
    cdef FrameRef* pending_rx
    cdef uint64_t* pending_rx_slot
    cdef uint32_t n_pending_rx
    cdef FrameRef* pending_tx
    cdef uint64_t* pending_tx_slot
    cdef uint32_t n_pending_tx
    cdef uint32_t max_pending
    cdef FrameRef* txbuf
    cdef uint64_t* txslots
    cdef FaultCounters rxc, txc

    def __cinit__(self, *args, **kwargs):
        self.pending_rx = NULL
        self.pending_rx_slot = NULL
        self.pending_tx = NULL
        self.pending_tx_slot = NULL
        self.txbuf = NULL
        self.txslots = NULL

    def __init__(self, Device inner not None, *, drop=0.0, duplicate=0.0, reorder=0.0,
                 corrupt=0.0, seed=0, corrupt_from=0, directions=("rx",), slots=None,
                 max_pending=64, max_frame=None, close_inner=True):
        super().__init__(inner, close_inner=close_inner)
        for name, p in (("drop", drop), ("duplicate", duplicate), ("reorder", reorder),
                        ("corrupt", corrupt)):
            if not (0.0 <= float(p) <= 1.0):
                raise ConfigError(f"{name} is a probability in [0, 1], not {p!r}")
        bad = set(directions) - {"rx", "tx"}
        if bad or not directions:
            raise ConfigError(f"directions are 'rx' and/or 'tx', not {list(directions)}")
        if not 0 <= int(max_pending) <= 256:
            raise ConfigError(f"max_pending must be 0..256, not {max_pending!r}")
        if slots is None:
            slots = max(1024, 4 * inner.max_burst) + int(max_pending)
        if int(slots) < 2 * inner.max_burst + int(max_pending):
            slots = 2 * inner.max_burst + int(max_pending)
        # Copies go into slots of the inner device's largest frame (at most 64 KiB unless
        # max_frame says otherwise); a longer frame is dropped and counted as oversize.
        mf = int(max_frame) if max_frame is not None else min(inner.max_frame, 65536)
        if mf < 14:
            raise ConfigError(f"max_frame must be at least 14 bytes, not {mf}")
        self.p_drop, self.p_duplicate = float(drop), float(duplicate)
        self.p_reorder, self.p_corrupt = float(reorder), float(corrupt)
        self.seed = int(seed) & 0xFFFFFFFFFFFFFFFF
        rng_seed(&self.rng, self.seed)
        self.corrupt_from = int(corrupt_from)
        self.on_rx = "rx" in directions
        self.on_tx = "tx" in directions
        self.max_pending = int(max_pending)
        self.arena = SlotArena(int(slots), (mf + 63) & ~63)
        mp = self.max_pending if self.max_pending > 0 else 1
        self.pending_rx = <FrameRef*>calloc(mp, sizeof(FrameRef))
        self.pending_rx_slot = <uint64_t*>calloc(mp, sizeof(uint64_t))
        self.pending_tx = <FrameRef*>calloc(mp, sizeof(FrameRef))
        self.pending_tx_slot = <uint64_t*>calloc(mp, sizeof(uint64_t))
        if (self.pending_rx == NULL or self.pending_rx_slot == NULL or self.pending_tx == NULL
                or self.pending_tx_slot == NULL):
            raise MemoryError()
        self.uses_handles = True
        # Duplicates and released reorders can make a burst up to twice the inner one.
        self._setup_burst(2 * inner.max_burst + self.max_pending, inner.max_held)
        self.txbuf = <FrameRef*>calloc(self.max_burst, sizeof(FrameRef))
        self.txslots = <uint64_t*>calloc(self.max_burst, sizeof(uint64_t))
        if self.txbuf == NULL or self.txslots == NULL:
            raise MemoryError()

    def __dealloc__(self):
        free(self.pending_rx)
        free(self.pending_rx_slot)
        free(self.pending_tx)
        free(self.pending_tx_slot)
        free(self.txbuf)
        free(self.txslots)

    @cython.nonecheck(False)
    cdef uint32_t _apply(self, FaultCounters* fc, const uint8_t* base, const FrameRef* src,
                         uint32_t n, FrameRef* out, uint64_t* handles, uint32_t cap,
                         FrameRef* pend, uint64_t* pend_slot, uint32_t* npend) noexcept nogil:
        """Copy frames src[0:n] into the arena, applying faults. Writes up to cap rows into
        out/handles, then appends frames that were pending from before. Returns rows written."""
        cdef uint32_t i, c, copies, m = 0, old_pending = npend[0], k
        cdef int64_t slot
        cdef uint8_t* dst
        cdef uint32_t length, pos
        cdef FrameRef held[256]
        cdef uint64_t held_slot[256]
        cdef uint32_t nheld = 0
        # Frames delayed by the previous call go out after this call's frames.
        if old_pending > 256:
            old_pending = 256
        for k in range(old_pending):
            held[k] = pend[k]
            held_slot[k] = pend_slot[k]
        nheld = old_pending
        npend[0] = 0
        for i in range(n):
            fc.seen += 1
            if rng_chance(&self.rng, self.p_drop):
                fc.dropped += 1
                continue
            copies = 1
            if rng_chance(&self.rng, self.p_duplicate):
                copies = 2
                fc.duplicated += 1
            for c in range(copies):
                slot = self.arena.take()
                if slot < 0:
                    fc.overflow += 1
                    continue
                dst = self.arena.at(<uint32_t>slot)
                length = src[i].caplen
                if length > self.arena.slot_size:
                    self.arena.give(<uint32_t>slot)
                    fc.oversize += 1
                    continue
                memcpy(dst, base + src[i].data_off, length)
                if length > self.corrupt_from and rng_chance(&self.rng, self.p_corrupt):
                    pos = self.corrupt_from + <uint32_t>(rng_next(&self.rng) % (length - self.corrupt_from))
                    dst[pos] ^= <uint8_t>(1 << (rng_next(&self.rng) & 7))
                    fc.corrupted += 1
                if npend[0] < self.max_pending and rng_chance(&self.rng, self.p_reorder):
                    pend[npend[0]] = src[i]
                    pend[npend[0]].data_off = <uint64_t>slot * self.arena.slot_size
                    pend[npend[0]].caplen = length
                    pend_slot[npend[0]] = <uint64_t>slot
                    npend[0] += 1
                    fc.reordered += 1
                    continue
                if m < cap:
                    out[m] = src[i]
                    out[m].data_off = <uint64_t>slot * self.arena.slot_size
                    out[m].caplen = length
                    handles[m] = <uint64_t>slot
                    m += 1
                else:
                    self.arena.give(<uint32_t>slot)
                    fc.overflow += 1
        for k in range(nheld):
            if m < cap:
                out[m] = held[k]
                handles[m] = held_slot[k]
                m += 1
            elif npend[0] < self.max_pending:
                pend[npend[0]] = held[k]
                pend_slot[npend[0]] = held_slot[k]
                npend[0] += 1
            else:
                self.arena.give(<uint32_t>held_slot[k])
                fc.overflow += 1
        return m

    cdef int _rx(self, FrameRef* out, uint64_t* handles, uint32_t max_frames, int64_t timeout_ns,
                 Burst b) except -1:
        cdef Burst ib
        cdef Py_buffer view
        cdef uint32_t m, ask
        b.buffer = self.arena.region
        if not self.on_rx:
            # Pass through, still copying (a burst has one buffer and it must be ours).
            ask = max_frames
        else:
            ask = max_frames // 2 if max_frames > 1 else 1
            if ask > self.inner.max_burst:
                ask = self.inner.max_burst
        # With frames held back, do not wait: they are due now.
        ib = self.inner._recv_burst(ask, 0 if self.n_pending_rx else timeout_ns)
        if ib.count == 0:
            if not self.on_rx or self.n_pending_rx == 0:
                return 0
            # Nothing new: the frames held back are due now.
            return self._apply(&self.rxc, NULL, NULL, 0, out, handles, max_frames,
                               self.pending_rx, self.pending_rx_slot, &self.n_pending_rx)
        try:
            PyObject_GetBuffer(ib.buffer, &view, PyBUF_SIMPLE)
            try:
                if self.on_rx:
                    m = self._apply(&self.rxc, <const uint8_t*>view.buf, _frames_of(ib.index),
                                    ib.count, out, handles, max_frames, self.pending_rx,
                                    self.pending_rx_slot, &self.n_pending_rx)
                else:
                    m = self._copy_through(<const uint8_t*>view.buf, _frames_of(ib.index),
                                           ib.count, out, handles, max_frames)
            finally:
                PyBuffer_Release(&view)
        finally:
            ib.release()
        return m

    cdef uint32_t _copy_through(self, const uint8_t* base, const FrameRef* src, uint32_t n,
                                FrameRef* out, uint64_t* handles, uint32_t cap) noexcept:
        cdef uint32_t i, m = 0
        cdef int64_t slot
        for i in range(n):
            if src[i].caplen > self.arena.slot_size:
                self.rxc.oversize += 1
                continue
            slot = self.arena.take()
            if slot < 0 or m >= cap:
                if slot >= 0:
                    self.arena.give(<uint32_t>slot)
                self.rxc.overflow += 1
                continue
            memcpy(self.arena.at(<uint32_t>slot), base + src[i].data_off, src[i].caplen)
            out[m] = src[i]
            out[m].data_off = <uint64_t>slot * self.arena.slot_size
            handles[m] = <uint64_t>slot
            m += 1
        return m

    cdef Burst _recv_burst(self, uint32_t max_frames, int64_t timeout_ns):
        # Device's burst path (held limits, counters) around our _rx, not the inner's.
        return Device._recv_burst(self, max_frames, timeout_ns)

    cdef void _release(self, Burst b) noexcept:
        cdef uint32_t i
        for i in range(b.nhandles):
            self.arena.give(<uint32_t>b.handles[i])

    cdef int _send_burst(self, const uint8_t* base, size_t size, const FrameRef* frames,
                         uint32_t n) except -1:
        cdef uint32_t m, i, done = 0, chunk
        cdef int sent
        self._check_open()
        if not self.on_tx:
            return self.inner._send_burst(base, size, frames, n)
        validate_frames(frames, n, size, self.min_frame, self.max_frame, self.name)
        while done < n or (n == 0 and self.n_pending_tx and done == 0):
            chunk = n - done
            if chunk > self.max_burst // 2:
                chunk = self.max_burst // 2
            m = self._apply(&self.txc, base, frames + done, chunk, self.txbuf, self.txslots,
                            self.max_burst, self.pending_tx, self.pending_tx_slot,
                            &self.n_pending_tx)
            try:
                sent = self.inner._send_burst(self.arena.region.ptr, self.arena.region.size,
                                              self.txbuf, m) if m else 0
            finally:
                for i in range(m):
                    self.arena.give(<uint32_t>self.txslots[i])
            if sent < <int>m:
                # The inner ring was full: those frames are lost here (counted, like a link).
                self.c.tx_dropped += m - sent
            done += chunk
            if n == 0:
                break
        self.c.tx_packets += n
        return n

    def flush(self):
        """Send frames held back for reordering on the transmit side now."""
        cdef uint8_t dummy = 0
        if self.n_pending_tx:
            self._send_burst(&dummy, 0, NULL, 0)

    cdef void _shutdown(self) noexcept:
        # Frames still held back are discarded with the injector: count them as dropped.
        self.rxc.dropped += self.n_pending_rx
        self.txc.dropped += self.n_pending_tx
        self.n_pending_rx = 0
        self.n_pending_tx = 0
        Wrapper._shutdown(self)

    def stats(self):
        d = self.inner.stats()
        for tag, fc in (("rx", self.rxc), ("tx", self.txc)):
            d.update({f"fault_{tag}_seen": fc.seen, f"fault_{tag}_dropped": fc.dropped,
                      f"fault_{tag}_duplicated": fc.duplicated,
                      f"fault_{tag}_reordered": fc.reordered,
                      f"fault_{tag}_corrupted": fc.corrupted,
                      f"fault_{tag}_overflow": fc.overflow,
                      f"fault_{tag}_oversize": fc.oversize})
        d["fault_rx_pending"] = self.n_pending_rx
        d["fault_tx_pending"] = self.n_pending_tx
        d["fault_held"] = self.held
        d["fault_tx_lost_inner_full"] = self.c.tx_dropped
        return d
