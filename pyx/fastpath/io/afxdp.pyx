"""AF_XDP: frames steered by an XDP program arrive in user memory (the UMEM) without passing
through the kernel's network stack.

Layout. The UMEM is one anonymous mapping of ``rx_frames + tx_frames`` chunks of ``frame_size``
bytes. Receive chunks circulate fill ring -> kernel -> RX ring -> burst -> (release) -> fill
ring; the fill ring has room for every receive chunk, so giving chunks back never fails.
Transmit chunks circulate free list -> TX ring -> kernel -> completion ring -> free list.

Ring protocol (Documentation/networking/af_xdp.rst): each ring has a producer and a consumer
index in shared memory; we read the other side's index with acquire ordering and publish ours
with release ordering, after the descriptors are written. With ``XDP_USE_NEED_WAKEUP`` the
kernel sets a flag when it needs a syscall to make progress (poll() for receive, sendto() for
transmit); otherwise we make none, which matters on small machines where a spinning reader
would steal the CPU the kernel needs.

Binding to an interface queue does not make traffic arrive: an XDP program on that interface
must redirect into an XSKMAP holding this socket (``fastpath.xdp.Steering.bind(dev)``).
"""
cimport cython
from libc.errno cimport errno, EAGAIN, EINTR, ENOBUFS, EBUSY, EOPNOTSUPP, EINVAL, ENETDOWN
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memset, memcpy
import os

from fastpath.includes.posix_net cimport (FP_HAVE_LINUX_NETIO, socket, bind, setsockopt,
                                          getsockopt, sendto, recvfrom, sockaddr, socklen_t,
                                          close, mmap, munmap, MAP_FAILED, PROT_READ, PROT_WRITE,
                                          MAP_SHARED, MAP_POPULATE, SOCK_RAW, SOCK_CLOEXEC,
                                          MSG_DONTWAIT, POLLIN, fp_load_acquire_u32,
                                          fp_store_release_u32, fp_realtime_ns)
from fastpath.includes.linux_if_xdp cimport *
from fastpath.io.device cimport (Device, Burst, Region, region_anonymous, wait_readable,
                                 raise_os_error, deadline_after, time_left, nap)
from fastpath.io.netif cimport interface_mtu, interface_index
from fastpath.wire.record cimport FrameRef
from fastpath.io.device import Capabilities
from fastpath.errors import ConfigError, UnavailableError, PrivilegeError


cdef struct Ring:
    uint32_t* producer
    uint32_t* consumer
    uint32_t* flags
    void* descs
    uint32_t size          # power of two
    uint32_t mask
    uint32_t cached_prod
    uint32_t cached_cons
    void* map
    size_t map_len


cdef inline bint ring_needs_wakeup(Ring* r) noexcept nogil:
    return (fp_load_acquire_u32(r.flags) & XDP_RING_NEED_WAKEUP) != 0


@cython.final
cdef class AfXdpDevice(Device):
    """``AfXdpDevice(ifname, queue=0, mode="auto", ring_size=4096, frame_size=2048,
    rx_frames=None, tx_frames=None, need_wakeup=True)``.

    ``mode``: "zerocopy", "copy", or "auto" (zero-copy when the driver offers it, else copy;
    ``capabilities.zero_copy`` says which). Needs CAP_NET_RAW (and the XDP program needs
    CAP_BPF / CAP_NET_ADMIN).
    """
    cdef int fd
    cdef readonly str ifname
    cdef readonly int ifindex
    cdef readonly int queue
    cdef readonly str bind_mode
    cdef Region umem
    cdef uint32_t frame_size
    cdef uint32_t headroom
    cdef uint32_t rx_frames
    cdef uint32_t tx_frames
    cdef uint32_t mtu
    cdef Ring rx
    cdef Ring tx
    cdef Ring fill
    cdef Ring comp
    cdef uint64_t* tx_free
    cdef uint32_t tx_nfree
    cdef bint need_wakeup
    cdef bint zero_copy
    cdef uint64_t wakeups_rx, wakeups_tx, tx_kick_errors
    cdef uint64_t fill_ring_short

    def __cinit__(self, *args, **kwargs):
        self.fd = -1
        self.tx_free = NULL
        memset(&self.rx, 0, sizeof(Ring))
        memset(&self.tx, 0, sizeof(Ring))
        memset(&self.fill, 0, sizeof(Ring))
        memset(&self.comp, 0, sizeof(Ring))

    def __init__(self, ifname, queue=0, *, mode="auto", ring_size=4096, frame_size=2048,
                 rx_frames=None, tx_frames=None, headroom=0, need_wakeup=True, max_burst=256,
                 max_held=64):
        if not FP_HAVE_LINUX_NETIO:
            raise UnavailableError("AF_XDP needs Linux 4.18 or later",
                                   fix="use AF_PACKET, TAP, the in-memory pair or pcap replay")
        if mode not in ("auto", "copy", "zerocopy"):
            raise ConfigError(f"mode must be 'auto', 'copy' or 'zerocopy', not {mode!r}")
        rs = int(ring_size)
        if rs < 64 or rs > (1 << 20) or rs & (rs - 1):
            raise ConfigError(f"ring_size must be a power of two from 64 to 1048576, not {rs}")
        fs = int(frame_size)
        if fs not in (2048, 4096):
            raise ConfigError(f"frame_size must be 2048 or 4096 (aligned chunk mode), not {fs}")
        rxf = rs if rx_frames is None else int(rx_frames)
        txf = rs if tx_frames is None else int(tx_frames)
        if rxf < 1 or rxf > rs:
            raise ConfigError(f"rx_frames must be 1..ring_size ({rs}) so the fill ring can "
                              f"always take them back, not {rxf}")
        if txf < 1 or txf > rs:
            raise ConfigError(f"tx_frames must be 1..ring_size ({rs}), not {txf}")
        hr = int(headroom)
        if hr < 0 or hr > fs - 256 or hr % 2:
            raise ConfigError(f"headroom must be an even number of bytes below frame_size - 256")
        q = int(queue)
        if q < 0:
            raise ConfigError(f"queue must be >= 0, not {queue!r}")
        self.ifname = str(ifname)
        self.name = f"afxdp:{self.ifname}:{q}"
        self.ifindex = interface_index(self.ifname)
        self.mtu = interface_mtu(self.ifname)
        self.queue = q
        self.frame_size = fs
        self.headroom = hr
        self.rx_frames = rxf
        self.tx_frames = txf
        self.need_wakeup = bool(need_wakeup)
        self.linktype = 1
        self.min_frame = 14
        # Received frames land XDP_PACKET_HEADROOM (256) + headroom bytes into their chunk;
        # transmitted ones at its start. One limit for both keeps frames round-trippable.
        self.max_frame = fs - 256 - hr
        if self.max_frame > self.mtu + 18:
            self.max_frame = self.mtu + 18
        if int(max_held) > rxf:
            max_held = rxf
        self.umem = region_anonymous(<size_t>(rxf + txf) * fs)
        self.tx_free = <uint64_t*>malloc(txf * sizeof(uint64_t))
        if self.tx_free == NULL:
            raise MemoryError()
        first = "zerocopy" if mode in ("auto", "zerocopy") else "copy"
        try:
            self._open(rs, first)
        except OSError as e:
            if mode != "auto" or e.errno not in (EOPNOTSUPP, EINVAL):
                self._teardown()
                raise
            # The driver has no zero-copy support (veth, most virtual NICs): copy mode.
            self._teardown()
            self._open(rs, "copy")
        except BaseException:
            self._teardown()
            raise
        self.uses_handles = True       # bursts carry their chunks' addresses back to us
        try:
            self._setup_burst(max_burst, max_held)
        except BaseException:
            self._teardown()
            self.closed = True
            raise

    cdef int _map_ring(self, Ring* r, int fd, uint64_t off, xdp_ring_offset* o, uint32_t size,
                       size_t desc_size) except -1:
        cdef void* p
        cdef size_t length = <size_t>(o.desc + size * desc_size)
        p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, off)
        if p == MAP_FAILED:
            raise_os_error(errno, "mmap of an AF_XDP ring", self.name)
        r.map = p
        r.map_len = length
        r.producer = <uint32_t*>(<uint8_t*>p + o.producer)
        r.consumer = <uint32_t*>(<uint8_t*>p + o.consumer)
        r.flags = <uint32_t*>(<uint8_t*>p + o.flags)
        r.descs = <uint8_t*>p + o.desc
        r.size = size
        r.mask = size - 1
        r.cached_prod = r.producer[0]
        r.cached_cons = r.consumer[0]
        return 0

    cdef int _open(self, uint32_t rs, str how) except -1:
        cdef xdp_umem_reg reg
        cdef xdp_mmap_offsets offs
        cdef socklen_t ol = sizeof(offs)
        cdef sockaddr_xdp sxdp
        cdef xdp_options opts
        cdef socklen_t optl = sizeof(opts)
        cdef uint32_t v, i
        cdef uint64_t* fr
        cdef int fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0)
        if fd < 0:
            raise_os_error(errno, "socket(AF_XDP)", self.name)
        self.fd = fd
        memset(&reg, 0, sizeof(reg))
        reg.addr = <uint64_t>self.umem.ptr
        reg.len = self.umem.size
        reg.chunk_size = self.frame_size
        reg.headroom = self.headroom
        if setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)) < 0:
            raise_os_error(errno, "registering the UMEM (XDP_UMEM_REG)", self.name)
        v = rs
        for opt in (XDP_UMEM_FILL_RING, XDP_UMEM_COMPLETION_RING, XDP_RX_RING, XDP_TX_RING):
            if setsockopt(fd, SOL_XDP, opt, &v, sizeof(v)) < 0:
                raise_os_error(errno, f"sizing ring {opt} to {rs}", self.name)
        if getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, &offs, &ol) < 0:
            raise_os_error(errno, "XDP_MMAP_OFFSETS", self.name)
        self._map_ring(&self.fill, fd, XDP_UMEM_PGOFF_FILL_RING, &offs.fr, rs, sizeof(uint64_t))
        self._map_ring(&self.comp, fd, XDP_UMEM_PGOFF_COMPLETION_RING, &offs.cr, rs,
                       sizeof(uint64_t))
        self._map_ring(&self.rx, fd, XDP_PGOFF_RX_RING, &offs.rx, rs, sizeof(xdp_desc))
        self._map_ring(&self.tx, fd, XDP_PGOFF_TX_RING, &offs.tx, rs, sizeof(xdp_desc))
        # Every receive chunk starts on the fill ring (it has room for all of them).
        fr = <uint64_t*>self.fill.descs
        for i in range(self.rx_frames):
            fr[(self.fill.cached_prod + i) & self.fill.mask] = <uint64_t>i * self.frame_size
        self.fill.cached_prod += self.rx_frames
        fp_store_release_u32(self.fill.producer, self.fill.cached_prod)
        self.tx_nfree = 0
        for i in range(self.tx_frames):
            self.tx_free[self.tx_nfree] = <uint64_t>(self.rx_frames + i) * self.frame_size
            self.tx_nfree += 1
        memset(&sxdp, 0, sizeof(sxdp))
        sxdp.sxdp_family = AF_XDP
        sxdp.sxdp_ifindex = self.ifindex
        sxdp.sxdp_queue_id = self.queue
        sxdp.sxdp_flags = (XDP_ZEROCOPY if how == "zerocopy" else XDP_COPY)
        if self.need_wakeup:
            sxdp.sxdp_flags |= XDP_USE_NEED_WAKEUP
        # A socket closed a moment ago releases its queue asynchronously (the kernel defers the
        # UMEM teardown): give it up to a second before calling the queue taken.
        cdef int tries = 0
        cdef int rc = bind(fd, <sockaddr*>&sxdp, sizeof(sxdp))
        while rc < 0 and errno == EBUSY and tries < 100:
            nap(10000000)
            tries += 1
            rc = bind(fd, <sockaddr*>&sxdp, sizeof(sxdp))
        if rc < 0:
            err = errno
            if how == "zerocopy" and err in (EOPNOTSUPP, EINVAL):
                raise OSError(err, f"{self.name}: zero-copy bind refused: {os.strerror(err)}")
            if err == EBUSY:
                raise ConfigError(f"{self.name}: queue {self.queue} of {self.ifname} already has "
                                  f"an AF_XDP socket (or a zero-copy UMEM); use another queue")
            if err == EINVAL and self.queue > 0:
                raise ConfigError(f"{self.name}: {self.ifname} has no queue {self.queue}")
            raise_os_error(err, "bind", self.name)
        memset(&opts, 0, sizeof(opts))
        if getsockopt(fd, SOL_XDP, XDP_OPTIONS, &opts, &optl) == 0:
            self.zero_copy = (opts.flags & XDP_OPTIONS_ZEROCOPY) != 0
        else:
            self.zero_copy = how == "zerocopy"
        self.bind_mode = "zerocopy" if self.zero_copy else "copy"
        return 0

    cdef void _unmap_ring(self, Ring* r) noexcept:
        if r.map != NULL:
            munmap(r.map, r.map_len)
        memset(r, 0, sizeof(Ring))

    cdef void _teardown(self) noexcept:
        self._unmap_ring(&self.rx)
        self._unmap_ring(&self.tx)
        self._unmap_ring(&self.fill)
        self._unmap_ring(&self.comp)
        if self.fd >= 0:
            close(self.fd)
            self.fd = -1

    def _holds_os_resources(self):
        return self.fd >= 0

    def __dealloc__(self):
        self._teardown()
        free(self.tx_free)
        self.tx_free = NULL

    def fileno(self):
        self._check_open()
        return self.fd

    # ---------------------------------------------------------------- receive
    @cython.nonecheck(False)
    cdef inline void _kick_rx(self) noexcept nogil:
        # The kernel asked for a syscall before it fills more frames (need_wakeup).
        recvfrom(self.fd, NULL, 0, MSG_DONTWAIT, NULL, NULL)
        self.wakeups_rx += 1

    @cython.nonecheck(False)
    cdef uint32_t _peek_rx(self, FrameRef* out, uint64_t* handles, uint32_t max_frames) noexcept nogil:
        cdef Ring* r = &self.rx
        cdef uint32_t avail, n, i
        cdef xdp_desc* d
        cdef int64_t now
        cdef uint64_t chunk_mask = ~(<uint64_t>self.frame_size - 1)
        avail = r.cached_prod - r.cached_cons
        if avail == 0:
            r.cached_prod = fp_load_acquire_u32(r.producer)
            avail = r.cached_prod - r.cached_cons
            if avail == 0:
                return 0
        n = avail if avail < max_frames else max_frames
        now = fp_realtime_ns()
        for i in range(n):
            d = &(<xdp_desc*>r.descs)[(r.cached_cons + i) & r.mask]
            out[i].ts_ns = now
            out[i].data_off = d.addr
            out[i].caplen = d.len
            out[i].wirelen = d.len
            out[i].linktype = 1
            out[i].iface = <uint16_t>self.queue
            out[i].reserved = 0
            handles[i] = d.addr & chunk_mask
        r.cached_cons += n
        # The descriptors are copied out: the kernel may reuse those RX ring slots now.
        fp_store_release_u32(r.consumer, r.cached_cons)
        return n

    @cython.nonecheck(False)
    cdef int _rx(self, FrameRef* out, uint64_t* handles, uint32_t max_frames, int64_t timeout_ns,
                 Burst b) except -1:
        cdef uint32_t n
        cdef int64_t deadline = deadline_after(timeout_ns), left
        b.buffer = self.umem
        while True:
            with nogil:
                n = self._peek_rx(out, handles, max_frames)
                if n == 0 and self.need_wakeup and ring_needs_wakeup(&self.fill):
                    self._kick_rx()
                    n = self._peek_rx(out, handles, max_frames)
            if n > 0 or timeout_ns == 0:
                return n
            left = time_left(deadline)
            if left == 0:
                return 0
            if wait_readable(self.fd, left, POLLIN) == 0:
                return 0

    @cython.nonecheck(False)
    cdef void _release(self, Burst b) noexcept:
        cdef Ring* f = &self.fill
        cdef uint32_t i, free_slots
        cdef uint64_t* fr = <uint64_t*>f.descs
        if f.map == NULL:
            return
        with nogil:
            f.cached_cons = fp_load_acquire_u32(f.consumer)
            free_slots = f.size - (f.cached_prod - f.cached_cons)
            if free_slots < b.nhandles:
                # Cannot happen while rx_frames <= ring size; count it rather than corrupt.
                self.fill_ring_short += b.nhandles - free_slots
            for i in range(b.nhandles if b.nhandles < free_slots else free_slots):
                fr[(f.cached_prod + i) & f.mask] = b.handles[i]
            f.cached_prod += (b.nhandles if b.nhandles < free_slots else free_slots)
            fp_store_release_u32(f.producer, f.cached_prod)
            if self.need_wakeup and ring_needs_wakeup(f):
                self._kick_rx()

    # ---------------------------------------------------------------- transmit
    @cython.nonecheck(False)
    cdef void _reclaim_tx(self) noexcept nogil:
        cdef Ring* c = &self.comp
        cdef uint32_t prod = fp_load_acquire_u32(c.producer)
        cdef uint64_t* cr = <uint64_t*>c.descs
        while c.cached_cons != prod and self.tx_nfree < self.tx_frames:
            self.tx_free[self.tx_nfree] = cr[c.cached_cons & c.mask]
            self.tx_nfree += 1
            c.cached_cons += 1
        fp_store_release_u32(c.consumer, c.cached_cons)

    @cython.nonecheck(False)
    cdef int _kick_tx(self) noexcept nogil:
        # Copy mode transmits inside sendto(), a bounded batch per call: call until the kernel
        # has consumed the ring (or says it is busy), reclaiming completions as we go.
        cdef int tries = 0
        cdef int rc, err = 0
        while tries < 64:
            if self.need_wakeup and not ring_needs_wakeup(&self.tx) and self.zero_copy:
                break
            rc = sendto(self.fd, NULL, 0, MSG_DONTWAIT, NULL, 0)
            self.wakeups_tx += 1
            if rc < 0:
                err = errno
                if err != EAGAIN and err != EBUSY and err != ENOBUFS and err != EINTR:
                    self.tx_kick_errors += 1
                    return err
            if fp_load_acquire_u32(self.tx.consumer) == self.tx.cached_prod:
                break
            tries += 1
        return 0

    @cython.nonecheck(False)
    cdef int _tx(self, const uint8_t* base, size_t size, const FrameRef* frames,
                 uint32_t n) except -1:
        cdef Ring* t = &self.tx
        cdef uint32_t i = 0, room
        cdef uint64_t addr
        cdef xdp_desc* d
        cdef int err = 0
        with nogil:
            self._reclaim_tx()
            t.cached_cons = fp_load_acquire_u32(t.consumer)
            room = t.size - (t.cached_prod - t.cached_cons)
            while i < n and i < room and self.tx_nfree > 0:
                self.tx_nfree -= 1
                addr = self.tx_free[self.tx_nfree]
                memcpy(self.umem.ptr + addr, base + frames[i].data_off, frames[i].caplen)
                d = &(<xdp_desc*>t.descs)[(t.cached_prod + i) & t.mask]
                d.addr = addr
                d.len = frames[i].caplen
                d.options = 0
                i += 1
            if i > 0:
                t.cached_prod += i
                fp_store_release_u32(t.producer, t.cached_prod)
                err = self._kick_tx()
                self._reclaim_tx()
        if err != 0 and err != ENETDOWN:
            raise_os_error(err, "sendto (transmit wakeup)", self.name)
        if err == ENETDOWN:
            raise ConfigError(f"{self.name}: {self.ifname} is down; bring it up first")
        return i

    def ring_state(self):
        """The four rings' producer and consumer indices as the kernel last published them:
        {"fill": (prod, cons), "rx": ..., "tx": ..., "completion": ...}. For diagnosis."""
        self._check_open()
        return {"fill": (fp_load_acquire_u32(self.fill.producer),
                         fp_load_acquire_u32(self.fill.consumer)),
                "rx": (fp_load_acquire_u32(self.rx.producer), fp_load_acquire_u32(self.rx.consumer)),
                "tx": (fp_load_acquire_u32(self.tx.producer), fp_load_acquire_u32(self.tx.consumer)),
                "completion": (fp_load_acquire_u32(self.comp.producer),
                               fp_load_acquire_u32(self.comp.consumer))}

    # ---------------------------------------------------------------- the rest
    cdef void _shutdown(self) noexcept:
        self._teardown()

    def _backend_stats(self):
        cdef xdp_statistics st
        cdef socklen_t sl = sizeof(st)
        d = {"wakeups_rx": self.wakeups_rx, "wakeups_tx": self.wakeups_tx,
             "tx_kick_errors": self.tx_kick_errors, "tx_free_frames": self.tx_nfree,
             "fill_ring_short": self.fill_ring_short}
        memset(&st, 0, sizeof(st))
        if self.fd >= 0 and getsockopt(self.fd, SOL_XDP, XDP_STATISTICS, &st, &sl) == 0:
            d.update({"xdp_rx_dropped": st.rx_dropped, "xdp_rx_invalid_descs": st.rx_invalid_descs,
                      "xdp_tx_invalid_descs": st.tx_invalid_descs,
                      "xdp_rx_ring_full": st.rx_ring_full,
                      "xdp_rx_fill_ring_empty": st.rx_fill_ring_empty_descs,
                      "xdp_tx_ring_empty": st.tx_ring_empty_descs})
            # The kernel's drops (ring full, no fill chunks) are this device's receive drops.
            self.c.rx_dropped = st.rx_dropped + st.rx_ring_full
        return d

    def _capabilities(self):
        return Capabilities(kind="afxdp", linktype=1, mtu=self.mtu, max_frame=self.max_frame,
                            max_burst=self.max_burst, rx_timestamps="burst",
                            zero_copy=self.zero_copy, queues=1,
                            details={"ifname": self.ifname, "ifindex": self.ifindex,
                                     "queue": self.queue, "bind_mode": self.bind_mode,
                                     "frame_size": self.frame_size,
                                     "ring_size": self.rx.size, "rx_frames": self.rx_frames,
                                     "tx_frames": self.tx_frames,
                                     "need_wakeup": self.need_wakeup})
