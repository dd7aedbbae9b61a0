"""TAP (and TUN) devices through ``/dev/net/tun``: the kernel sees an interface, fastpath reads
and writes its frames.

The interface exists only while the device is open (not persistent), so a crash leaves nothing
behind. Frames are read into a bounded arena of slots; a frame larger than a slot (the MTU was
raised behind our back) is dropped and counted as ``rx_oversize``, never truncated silently.
"""
cimport cython
from libc.errno cimport errno, EAGAIN, EINTR, EIO, ENOBUFS
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memset, strncpy, strlen
import os

from fastpath.includes.posix_net cimport (FP_HAVE_LINUX_NETIO, open, close, read, write,
                                          ioctl, socket, ifreq, iovec, AF_INET, SOCK_DGRAM,
                                          SOCK_CLOEXEC, O_RDWR, O_NONBLOCK, O_CLOEXEC, IFF_UP,
                                          SIOCGIFFLAGS, SIOCSIFFLAGS, SIOCGIFMTU, POLLIN,
                                          fp_realtime_ns, IFNAMSIZ)
from fastpath.includes.linux_if_tun cimport IFF_TUN, IFF_TAP, IFF_NO_PI, TUNSETIFF
from posix.uio cimport readv
from fastpath.io.device cimport (Device, Burst, SlotArena, wait_readable, raise_os_error,
                                 deadline_after, time_left)
from fastpath.io.netif cimport set_link_up, interface_mtu
from fastpath.wire.record cimport FrameRef
from fastpath.io.device import Capabilities
from fastpath.errors import ConfigError, UnavailableError

cdef enum:
    OVERFLOW_BYTES = 65536


@cython.final
cdef class TapDevice(Device):
    """A TAP (Ethernet frames) or TUN (IP packets) interface created for this process.

    ``TapDevice(name=None, mode="tap", up=True, slots=1024)``: ``name`` may be a pattern such as
    ``"fp%d"`` or None (the kernel picks ``tapN``/``tunN``); the chosen name is ``dev.ifname``.
    Needs CAP_NET_ADMIN and ``/dev/net/tun``.
    """
    cdef int fd
    cdef SlotArena arena
    cdef readonly str ifname
    cdef readonly str mode
    cdef uint32_t mtu
    cdef uint8_t* overflow
    cdef uint64_t rx_oversize
    cdef uint64_t tx_errors

    def __cinit__(self, *args, **kwargs):
        self.fd = -1
        self.overflow = NULL

    def __init__(self, name=None, *, mode="tap", up=True, slots=1024, max_burst=64, max_held=16,
                 path="/dev/net/tun"):
        cdef ifreq req
        cdef int fd
        cdef uint32_t slot_size
        if not FP_HAVE_LINUX_NETIO:
            raise UnavailableError("TAP devices need Linux",
                                   fix="use the in-memory pair or pcap replay on this system")
        if mode not in ("tap", "tun"):
            raise ConfigError(f"mode must be 'tap' (Ethernet) or 'tun' (IP), not {mode!r}")
        if name is not None and (not name or len(name.encode()) >= IFNAMSIZ):
            raise ConfigError(f"interface name {name!r} must be 1..{IFNAMSIZ - 1} bytes")
        pathb = os.fsencode(path)
        fd = open(pathb, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        if fd < 0:
            err = errno
            if err == 2:   # ENOENT
                raise UnavailableError(f"{path} does not exist",
                                       fix="load the tun module or create the node: "
                                           "mknod /dev/net/tun c 10 200")
            raise_os_error(err, f"open {path}", name or mode)
        self.fd = fd
        try:
            memset(&req, 0, sizeof(req))
            if name:
                nb = name.encode()
                strncpy(req.ifr_name, nb, IFNAMSIZ - 1)
            req.ifr_flags = (IFF_TAP if mode == "tap" else IFF_TUN) | IFF_NO_PI
            if ioctl(fd, TUNSETIFF, &req) < 0:
                err = errno
                self._shutdown()
                if err == 16:   # EBUSY
                    raise ConfigError(f"interface {name!r} exists and is not a free {mode} device; "
                                      f"pick another name")
                raise_os_error(err, "TUNSETIFF (creating the interface)", name or mode)
            self.ifname = (<bytes>req.ifr_name[:strlen(req.ifr_name)]).decode()
            self.name = f"{mode}:{self.ifname}"
            self.mode = mode
            if up:
                set_link_up(self.ifname)
            self.mtu = interface_mtu(self.ifname)
            if mode == "tap":
                self.linktype = 1
                self.min_frame = 14
                self.max_frame = self.mtu + 18
            else:
                self.linktype = 101        # LINKTYPE_RAW: IPv4 or IPv6 packets
                self.min_frame = 20
                self.max_frame = self.mtu
            slot_size = (self.max_frame + 63) & ~63
            if slot_size < 2048:
                slot_size = 2048
            nslots = int(slots)
            if nslots < 1:
                raise ConfigError("slots must be at least 1")
            self.arena = SlotArena(nslots, slot_size)
            self.overflow = <uint8_t*>malloc(OVERFLOW_BYTES)
            if self.overflow == NULL:
                raise MemoryError()
            self.uses_handles = True
            self._setup_burst(max_burst, max_held)
        except BaseException:
            self._shutdown()           # the caller gets no device to close
            self.closed = True
            raise

    def _holds_os_resources(self):
        return self.fd >= 0

    def __dealloc__(self):
        if self.fd >= 0:
            close(self.fd)
            self.fd = -1
        free(self.overflow)
        self.overflow = NULL

    def fileno(self):
        self._check_open()
        return self.fd

    @cython.nonecheck(False)
    cdef int _rx(self, FrameRef* out, uint64_t* handles, uint32_t max_frames, int64_t timeout_ns,
                 Burst b) except -1:
        cdef uint32_t n = 0
        cdef int64_t slot
        cdef ssize_t got
        cdef iovec iov[2]
        cdef int err = 0
        cdef int ready
        cdef SlotArena ar = self.arena
        cdef int64_t deadline = deadline_after(timeout_ns), left
        b.buffer = ar.region
        while True:
            with nogil:
                while n < max_frames:
                    slot = ar.take()
                    if slot < 0:
                        break          # every slot is held by bursts: leave frames in the kernel
                    iov[0].iov_base = ar.at(<uint32_t>slot)
                    iov[0].iov_len = ar.slot_size
                    iov[1].iov_base = self.overflow
                    iov[1].iov_len = OVERFLOW_BYTES
                    got = readv(self.fd, <const iovec*>iov, 2)
                    if got < 0:
                        err = errno
                        ar.give(<uint32_t>slot)
                        break
                    if got > ar.slot_size or got == 0:
                        ar.give(<uint32_t>slot)
                        self.rx_oversize += 1
                        self.c.rx_dropped += 1
                        continue
                    out[n].ts_ns = fp_realtime_ns()
                    out[n].data_off = <uint64_t>slot * ar.slot_size
                    out[n].caplen = <uint32_t>got
                    out[n].wirelen = <uint32_t>got
                    out[n].linktype = self.linktype
                    out[n].iface = 0
                    out[n].reserved = 0
                    handles[n] = <uint64_t>slot
                    n += 1
            if err != 0 and err != EAGAIN and err != EINTR:
                self._give_back(handles, n)
                raise_os_error(err, "read", self.name)
            if n > 0 or timeout_ns == 0:
                return n
            err = 0
            left = time_left(deadline)
            if left == 0:
                return 0
            ready = wait_readable(self.fd, left, POLLIN)
            if ready == 0:
                return 0

    cdef void _give_back(self, uint64_t* handles, uint32_t n) noexcept:
        cdef uint32_t i
        for i in range(n):
            self.arena.give(<uint32_t>handles[i])

    @cython.nonecheck(False)
    cdef int _tx(self, const uint8_t* base, size_t size, const FrameRef* frames,
                 uint32_t n) except -1:
        cdef uint32_t i = 0
        cdef ssize_t put
        cdef int err = 0
        with nogil:
            while i < n:
                put = write(self.fd, base + frames[i].data_off, frames[i].caplen)
                if put < 0:
                    err = errno
                    if err == EINTR:
                        continue
                    break
                i += 1
        if err == 0 or err == EAGAIN or err == ENOBUFS:
            return i
        self.tx_errors += 1
        # Count what did go out before reporting the error.
        self.c.tx_packets += i
        if err == EIO:
            raise ConfigError(f"{self.name}: the kernel refused the frame ({os.strerror(err)}); "
                              f"is the interface up? (ip link set {self.ifname} up). "
                              f"{i} of {n} frames were sent")
        raise OSError(err, f"{self.name}: write failed after {i} of {n} frames: {os.strerror(err)}")

    cdef void _release(self, Burst b) noexcept:
        cdef uint32_t i
        for i in range(b.nhandles):
            self.arena.give(<uint32_t>b.handles[i])

    cdef void _shutdown(self) noexcept:
        if self.fd >= 0:
            close(self.fd)     # the (non-persistent) interface disappears with its last fd
            self.fd = -1

    def _backend_stats(self):
        return {"rx_oversize": self.rx_oversize, "tx_errors": self.tx_errors,
                "free_slots": self.arena.nfree}

    def _capabilities(self):
        return Capabilities(kind=self.mode, linktype=self.linktype, mtu=self.mtu,
                            max_frame=self.max_frame, max_burst=self.max_burst,
                            rx_timestamps="read",
                            details={"ifname": self.ifname, "slots": self.arena.nslots})
