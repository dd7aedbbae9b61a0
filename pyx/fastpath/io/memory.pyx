"""An in-memory pair of devices: what one sends, the other receives. For tests and simulations.

Each end owns a bounded arena of frame slots and a receive queue; a frame sent while the peer's
arena is full is dropped and counted (``rx_dropped`` on the peer, ``tx_dropped`` here), like a
link into a full NIC ring. The pair never blocks: a receive returns what is queued.
Timestamps come from ``clock`` (a callable returning nanoseconds, read once per send) so tests
can run on deterministic time; by default the real-time clock.
"""
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy

from fastpath.includes.posix_net cimport fp_realtime_ns
from fastpath.io.device cimport Device, Burst, SlotArena
from fastpath.wire.record cimport FrameRef
from fastpath.io.device import Capabilities
from fastpath.errors import ConfigError


@cython.final
cdef class MemoryDevice(Device):
    """One end of an in-memory link. Make them with ``MemoryDevice.pair()``."""
    cdef SlotArena arena
    cdef FrameRef* queue
    cdef uint32_t qhead
    cdef uint32_t qlen
    cdef MemoryDevice peer
    cdef object clock
    cdef uint32_t mtu

    def __init__(self, *, capacity=1024, mtu=1500, max_burst=64, max_held=16, name="mem0",
                 clock=None):
        cap = int(capacity)
        mtu = int(mtu)
        if cap < 1 or cap > (1 << 24):
            raise ConfigError(f"capacity must be 1..16777216 frames, not {capacity!r}")
        if mtu < 68 or mtu > 65521:
            raise ConfigError(f"mtu must be 68..65521, not {mtu!r}")
        if clock is not None and not callable(clock):
            raise ConfigError("clock must be a callable returning nanoseconds, or None")
        self.name = str(name)
        self.mtu = mtu
        self.max_frame = mtu + 18      # Ethernet header and one VLAN tag
        self.min_frame = 14
        self.arena = SlotArena(cap, (self.max_frame + 63) & ~63)
        self.queue = <FrameRef*>malloc(cap * sizeof(FrameRef))
        if self.queue == NULL:
            raise MemoryError()
        self.qhead = 0
        self.qlen = 0
        self.clock = clock
        self.uses_handles = True
        self._setup_burst(max_burst, max_held)

    def __dealloc__(self):
        free(self.queue)
        self.queue = NULL

    @staticmethod
    def pair(*, capacity=1024, mtu=1500, max_burst=64, max_held=16, names=("mem0", "mem1"),
             clock=None):
        """Two connected ends: ``a.send(...)`` arrives at ``b.recv()`` and vice versa."""
        cdef MemoryDevice a = MemoryDevice(capacity=capacity, mtu=mtu, max_burst=max_burst,
                                           max_held=max_held, name=names[0], clock=clock)
        cdef MemoryDevice b = MemoryDevice(capacity=capacity, mtu=mtu, max_burst=max_burst,
                                           max_held=max_held, name=names[1], clock=clock)
        a.peer = b
        b.peer = a
        return a, b

    @property
    def peer(self):
        return self.peer

    @property
    def queued(self):
        """Frames waiting to be received at this end."""
        return self.qlen

    cdef int _rx(self, FrameRef* out, uint64_t* handles, uint32_t max_frames, int64_t timeout_ns,
                 Burst b) except -1:
        cdef uint32_t n = 0
        cdef uint32_t cap = self.arena.nslots
        cdef uint32_t slot_size = self.arena.slot_size
        while n < max_frames and self.qlen > 0:
            out[n] = self.queue[self.qhead]
            handles[n] = out[n].data_off // slot_size
            self.qhead += 1
            if self.qhead == cap:
                self.qhead = 0
            self.qlen -= 1
            n += 1
        b.buffer = self.arena.region
        return n

    cdef int _tx(self, const uint8_t* base, size_t size, const FrameRef* frames,
                 uint32_t n) except -1:
        cdef MemoryDevice p = self.peer
        cdef int64_t ts, slot
        cdef uint32_t i, tail
        if p is None or p.closed:
            # The other end is gone: the frames leave and are lost, as on an unplugged cable.
            self.c.tx_dropped += n
            return n
        ts = self.clock() if self.clock is not None else fp_realtime_ns()
        cdef SlotArena ar = p.arena
        for i in range(n):
            slot = ar.take()
            if slot < 0:
                p.c.rx_dropped += 1
                self.c.tx_dropped += 1
                continue
            memcpy(ar.at(<uint32_t>slot), base + frames[i].data_off, frames[i].caplen)
            tail = (p.qhead + p.qlen) % ar.nslots
            p.queue[tail].ts_ns = ts
            p.queue[tail].data_off = <uint64_t>slot * ar.slot_size
            p.queue[tail].caplen = frames[i].caplen
            p.queue[tail].wirelen = frames[i].caplen if frames[i].wirelen < frames[i].caplen else frames[i].wirelen
            p.queue[tail].linktype = p.linktype
            p.queue[tail].iface = 0
            p.queue[tail].reserved = 0
            p.qlen += 1
        return n

    cdef void _release(self, Burst b) noexcept:
        cdef uint32_t i
        for i in range(b.nhandles):
            self.arena.give(<uint32_t>b.handles[i])

    cdef void _shutdown(self) noexcept:
        # Queued frames are discarded with the device; count them so nothing vanishes unseen.
        self.c.rx_dropped += self.qlen
        self.qlen = 0

    def _backend_stats(self):
        return {"queued": self.qlen, "free_slots": self.arena.nfree}

    def _capabilities(self):
        return Capabilities(kind="memory", linktype=self.linktype, mtu=self.mtu,
                            max_frame=self.max_frame, max_burst=self.max_burst,
                            rx_timestamps="burst",
                            details={"capacity": self.arena.nslots})
