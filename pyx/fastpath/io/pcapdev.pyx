"""Capture files as devices: replay a pcap/pcapng (receive side) and record what is sent.

``PcapReplayDevice(path)`` receives the capture's frames in file order, as bursts over the
reader's own buffers (the file's mmap when it can be mapped: no copy). A broken file yields its
good frames, then ``recv`` raises the reader's ``CaptureError``. ``loop=True`` starts over at
the end; ``speed`` paces frames by their capture timestamps (1.0 = as captured, 2.0 = twice as
fast, None = as fast as the caller asks).

``PcapRecordDevice(path)`` writes every frame sent to it to a pcap (nanosecond) or pcapng file.
"""
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.string cimport memcpy
cimport numpy as cnp
import time

from fastpath.includes.posix_net cimport fp_monotonic_ns
from fastpath.io.device cimport Device, Burst, new_frame_index, compact_frames
from fastpath.wire.record cimport FrameRef
from fastpath.io.device import Capabilities
from fastpath.errors import ConfigError

cnp.import_array()


@cython.final
cdef class PcapReplayDevice(Device):
    cdef readonly object path
    cdef object reader
    cdef object chunks
    cdef object chunk_buffer
    cdef cnp.ndarray chunk_index
    cdef uint64_t chunk_base
    cdef uint32_t chunk_pos
    cdef uint32_t chunk_len
    cdef bint loop
    cdef readonly bint eof
    cdef readonly uint64_t loops
    cdef double speed
    cdef int64_t t0_wall
    cdef int64_t t0_capture
    cdef bint started
    cdef uint32_t chunk_packets

    def __init__(self, path, *, loop=False, speed=None, max_burst=256, max_held=64,
                 chunk_packets=65536):
        from fastpath.capture import open_capture
        if speed is not None and not float(speed) > 0:
            raise ConfigError(f"speed must be a positive factor or None, not {speed!r}")
        self.path = path
        self.name = f"pcap:{path}"
        self.loop = bool(loop)
        self.speed = 0.0 if speed is None else float(speed)
        self.chunk_packets = int(chunk_packets)
        self.reader = open_capture(path)
        try:
            ifaces = self.reader.interfaces
            self.linktype = ifaces[0][0] if ifaces else 1
            self.min_frame = 0
            # The largest frame the capture declares (its snaplen), within the readers' limit.
            snaps = [i[1] for i in ifaces if len(i) > 1 and i[1]] if ifaces else []
            self.max_frame = min(max(snaps) if snaps else 262144, 262144)
            self._setup_burst(max_burst, max_held)
            self.chunks = iter(self.reader.chunks(max_packets=self.chunk_packets))
        except BaseException:
            self.close()               # the caller gets no device to close: release the file
            raise
        self.chunk_len = 0
        self.chunk_pos = 0

    cdef int _next_chunk(self) except -1:
        """Load the next chunk; 0 at the end of the file (after a restart when looping)."""
        from fastpath.capture import open_capture
        while True:
            try:
                ch = next(self.chunks)
            except StopIteration:
                if not self.loop:
                    self.eof = True
                    return 0
                self.reader.close()
                self.reader = open_capture(self.path)
                self.chunks = iter(self.reader.chunks(max_packets=self.chunk_packets))
                self.loops += 1
                self.started = False
                ch = next(self.chunks, None)
                if ch is None:         # an empty capture: nothing to loop over
                    self.eof = True
                    return 0
            self.chunk_buffer = ch.buffer
            self.chunk_index = cnp.PyArray_GETCONTIGUOUS(ch.index)
            self.chunk_base = ch.base
            self.chunk_pos = 0
            self.chunk_len = len(ch.index)
            if self.chunk_len:
                return 1

    cdef int _rx(self, FrameRef* out, uint64_t* handles, uint32_t max_frames, int64_t timeout_ns,
                 Burst b) except -1:
        cdef uint32_t n = 0, i
        cdef const FrameRef* rows
        cdef int64_t due, now, wait
        if self.eof:
            return 0
        if self.chunk_pos >= self.chunk_len:
            if not self._next_chunk():
                return 0
        rows = <const FrameRef*>cnp.PyArray_DATA(self.chunk_index) + self.chunk_pos
        n = self.chunk_len - self.chunk_pos
        if n > max_frames:
            n = max_frames
        if self.speed > 0:
            if not self.started:
                self.started = True
                self.t0_wall = fp_monotonic_ns()
                self.t0_capture = rows[0].ts_ns
            # Hand out only frames that are due; wait for the first one if allowed.
            now = fp_monotonic_ns()
            due = self.t0_wall + <int64_t>((rows[0].ts_ns - self.t0_capture) / self.speed)
            if due > now:
                wait = due - now
                if timeout_ns >= 0 and wait > timeout_ns:
                    if timeout_ns:
                        time.sleep(timeout_ns / 1e9)
                    return 0
                time.sleep(wait / 1e9)
                now = fp_monotonic_ns()
            i = 1
            while i < n and self.t0_wall + <int64_t>((rows[i].ts_ns - self.t0_capture) / self.speed) <= now:
                i += 1
            n = i
        memcpy(out, rows, n * sizeof(FrameRef))
        for i in range(n):
            out[i].data_off -= self.chunk_base
        self.chunk_pos += n
        b.buffer = self.chunk_buffer
        return n

    cdef void _shutdown(self) noexcept:
        try:
            self.reader.close()
        except Exception:
            pass
        self.chunks = None

    def _holds_os_resources(self):
        return self.reader is not None

    def _backend_stats(self):
        return {"eof": self.eof, "loops": self.loops}

    def _capabilities(self):
        return Capabilities(kind="pcap-replay", linktype=self.linktype, mtu=0,
                            max_frame=self.max_frame, max_burst=self.max_burst,
                            rx_timestamps="capture", zero_copy=True, can_send=False,
                            details={"path": str(self.path), "loop": self.loop,
                                     "speed": self.speed or None,
                                     "format": self.reader.format})


@cython.final
cdef class PcapRecordDevice(Device):
    """Every frame sent is written to ``path`` (pcap with nanosecond timestamps, or pcapng);
    frames without a timestamp get the time they were sent."""
    cdef readonly object path
    cdef object writer

    def __init__(self, path, *, linktype=1, format="pcap", snaplen=262144, mtu=65535,
                 max_burst=256):
        from fastpath.capture import PcapWriter, PcapngWriter
        if format not in ("pcap", "pcapng"):
            raise ConfigError(f"format must be 'pcap' or 'pcapng', not {format!r}")
        self.path = path
        self.name = f"pcap-record:{path}"
        self.linktype = int(linktype)
        self.min_frame = 1
        self.max_frame = int(mtu) + 18
        if format == "pcap":
            self.writer = PcapWriter(path, linktype=self.linktype, snaplen=snaplen,
                                     nanosecond=True)
        else:
            self.writer = PcapngWriter(path, interfaces=[(self.linktype, snaplen)])
        try:
            self._setup_burst(max_burst, 1)
        except BaseException:
            self.close()               # the caller gets no device to close: release the file
            raise

    def _holds_os_resources(self):
        return self.writer is not None

    cdef int _rx(self, FrameRef* out, uint64_t* handles, uint32_t max_frames, int64_t timeout_ns,
                 Burst b) except -1:
        b.buffer = b""
        return 0

    cdef int _tx(self, const uint8_t* base, size_t size, const FrameRef* frames,
                 uint32_t n) except -1:
        data, index = compact_frames(base, frames, n)
        unset = index["ts_ns"] == 0
        if unset.any():
            index["ts_ns"][unset] = time.time_ns()
        index["iface"] = 0
        index["linktype"] = self.linktype
        self.writer.write_batch(data, index)
        return n

    def flush(self):
        self.writer.flush()

    cdef void _shutdown(self) noexcept:
        try:
            self.writer.close()
        except Exception:
            pass

    def _capabilities(self):
        return Capabilities(kind="pcap-record", linktype=self.linktype, mtu=self.max_frame - 18,
                            max_frame=self.max_frame, max_burst=self.max_burst,
                            can_recv=False, details={"path": str(self.path)})
