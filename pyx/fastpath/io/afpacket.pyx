"""AF_PACKET with a TPACKET_V3 memory-mapped receive ring and batched (sendmmsg) transmit.

The kernel fills fixed-size blocks of the ring with variable-size frames and hands a block over
when it is full or its retire timer fires (``retire_ms``). A burst is a run of frames of one
block, read where the kernel wrote them; the block goes back to the kernel once it has been
walked and every burst over it is released (blocks may be released in any order).

VLAN tags that the kernel moved into metadata (``TP_STATUS_VLAN_VALID``) are put back into the
frame in place, in the gap the kernel leaves before each frame, so frames look as on the wire.
Frames longer than the ring's frame size arrive truncated, with ``caplen < wirelen`` (never
silently). Frames whose checksum the sender left to offload (``TP_STATUS_CSUMNOTREADY``, common
for traffic from the local stack over veth) are counted in ``rx_csum_not_ready``.
"""
cimport cython
from libc.errno cimport errno, EAGAIN, EINTR, ENOBUFS
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memset, memmove
import os

from fastpath.includes.byteorder cimport store_be16
from fastpath.includes.posix_net cimport (FP_HAVE_LINUX_NETIO, socket, bind, setsockopt,
                                          getsockopt, sendmmsg, mmsghdr, iovec, sockaddr,
                                          socklen_t, close, mmap, munmap, MAP_FAILED, PROT_READ,
                                          PROT_WRITE, MAP_SHARED, MAP_POPULATE, SOCK_RAW,
                                          SOCK_CLOEXEC, SOCK_NONBLOCK, MSG_DONTWAIT, POLLIN,
                                          if_nametoindex, fp_load_acquire_u32,
                                          fp_store_release_u32, SOL_SOCKET)
from fastpath.includes.linux_if_packet cimport *
from fastpath.io.device cimport (Device, Burst, Region, region_from_mapping, wait_readable,
                                 raise_os_error, deadline_after, time_left, nap)
from fastpath.io.netif cimport interface_mtu, interface_index
from fastpath.wire.record cimport FrameRef
from fastpath.io.device import Capabilities
from fastpath.errors import ConfigError, UnavailableError

cdef enum:
    TX_CHUNK = 256
    # struct tpacket3_hdr (48 bytes, 16-aligned) followed by struct sockaddr_ll (20 bytes): the
    # kernel never puts the MAC header below this offset in a frame (af_packet.c tpacket_rcv).
    TP3_HDRLEN = 68


cdef inline uint16_t htons16(uint16_t v) noexcept nogil:
    return <uint16_t>((v >> 8) | (v << 8))


@cython.final
cdef class AfPacketDevice(Device):
    """``AfPacketDevice(ifname, block_size=262144, block_count=64, frame_size=2048,
    retire_ms=4, promisc=False, qdisc_bypass=False)`` on an existing interface.

    Needs CAP_NET_RAW. Frames this socket sends are not received back (PACKET_IGNORE_OUTGOING).
    """
    cdef int fd
    cdef readonly str ifname
    cdef int ifindex
    cdef Region ring
    cdef uint32_t block_size
    cdef uint32_t block_count
    cdef uint32_t frame_size
    cdef uint32_t mtu
    cdef uint32_t* block_refs
    cdef uint32_t cur_block        # the block being walked (or next to look at)
    cdef uint32_t pkts_left        # frames of cur_block not yet handed out; 0 = not in a block
    cdef uint8_t* pkt              # next frame header of cur_block
    cdef bint walking
    cdef uint64_t k_packets, k_drops, k_freezes, csum_not_ready, vlan_restored
    cdef bint qdisc_bypass
    cdef bint promisc
    cdef mmsghdr* msgs
    cdef iovec* iovs

    def __cinit__(self, *args, **kwargs):
        self.fd = -1
        self.block_refs = NULL
        self.msgs = NULL
        self.iovs = NULL

    def __init__(self, ifname, *, block_size=1 << 18, block_count=64, frame_size=2048,
                 retire_ms=4, promisc=False, qdisc_bypass=False, max_burst=256, max_held=64):
        cdef tpacket_req3 req
        cdef sockaddr_ll sll
        cdef packet_mreq mreq
        cdef int fd, v
        cdef void* p
        cdef size_t ringlen
        if not FP_HAVE_LINUX_NETIO:
            raise UnavailableError("AF_PACKET devices need Linux",
                                   fix="use the in-memory pair or pcap replay on this system")
        if not isinstance(ifname, str) or not ifname:
            raise ConfigError(f"an interface name is needed, not {ifname!r}")
        bs, bc, fs = int(block_size), int(block_count), int(frame_size)
        if bs < 4096 or bs % 4096 or bs > (1 << 30):
            raise ConfigError(f"block_size must be a multiple of the 4096-byte page, not {bs}")
        if fs < 128 or fs % 16 or bs % fs:
            raise ConfigError(f"frame_size must be a multiple of 16 that divides block_size "
                              f"({bs}), not {fs}")
        if bc < 2 or bc > 65536:
            raise ConfigError(f"block_count must be 2..65536, not {bc}")
        if int(max_held) > bc:
            max_held = bc
        self.ifname = ifname
        self.name = f"afpacket:{ifname}"
        self.ifindex = interface_index(ifname)
        self.mtu = interface_mtu(ifname)
        self.block_size, self.block_count, self.frame_size = bs, bc, fs
        self.promisc = bool(promisc)
        self.qdisc_bypass = bool(qdisc_bypass)

        # Protocol 0 until the ring exists, so nothing queues on the plain socket meanwhile.
        fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)
        if fd < 0:
            raise_os_error(errno, "socket(AF_PACKET)", self.name)
        self.fd = fd
        try:
            v = TPACKET_V3
            if setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0:
                raise_os_error(errno, "PACKET_VERSION=TPACKET_V3", self.name)
            v = 1
            # Our own transmissions are not echoed into the ring (Linux 4.20+; older kernels
            # fail this and we carry on, counting on the caller to filter).
            setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &v, sizeof(v))
            if self.qdisc_bypass:
                setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &v, sizeof(v))
            memset(&req, 0, sizeof(req))
            req.tp_block_size = bs
            req.tp_block_nr = bc
            req.tp_frame_size = fs
            req.tp_frame_nr = (bs // fs) * bc
            req.tp_retire_blk_tov = int(retire_ms)
            if setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0:
                raise_os_error(errno, "PACKET_RX_RING", self.name)
            ringlen = <size_t>bs * bc
            with nogil:
                p = mmap(NULL, ringlen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0)
            if p == MAP_FAILED:
                raise_os_error(errno, "mmap of the receive ring", self.name)
            self.ring = region_from_mapping(p, ringlen, False)
            self.block_refs = <uint32_t*>calloc(bc, sizeof(uint32_t))
            self.msgs = <mmsghdr*>calloc(TX_CHUNK, sizeof(mmsghdr))
            self.iovs = <iovec*>calloc(TX_CHUNK, sizeof(iovec))
            if self.block_refs == NULL or self.msgs == NULL or self.iovs == NULL:
                raise MemoryError()
            memset(&sll, 0, sizeof(sll))
            sll.sll_family = AF_PACKET
            sll.sll_protocol = htons16(ETH_P_ALL)
            sll.sll_ifindex = self.ifindex
            if bind(fd, <sockaddr*>&sll, sizeof(sll)) < 0:
                raise_os_error(errno, "bind", self.name)
            if self.promisc:
                memset(&mreq, 0, sizeof(mreq))
                mreq.mr_ifindex = self.ifindex
                mreq.mr_type = PACKET_MR_PROMISC
                # Dropped by the kernel with the socket: a crash cannot leave promisc on.
                if setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) < 0:
                    raise_os_error(errno, "PACKET_ADD_MEMBERSHIP (promiscuous)", self.name)
            self.cur_block = 0
            self.pkts_left = 0
            self.walking = False
            self.linktype = 1
            self.min_frame = 14
            self.max_frame = self.mtu + 18
            self._setup_burst(max_burst, max_held)
        except BaseException:
            self._shutdown()
            self.closed = True
            raise

    def _holds_os_resources(self):
        return self.fd >= 0

    def __dealloc__(self):
        if self.fd >= 0:
            close(self.fd)
            self.fd = -1
        free(self.block_refs)
        free(self.msgs)
        free(self.iovs)
        self.block_refs = NULL
        self.msgs = NULL
        self.iovs = NULL

    def fileno(self):
        self._check_open()
        return self.fd

    @cython.nonecheck(False)
    cdef inline tpacket_block_desc* _block(self, uint32_t k) noexcept nogil:
        return <tpacket_block_desc*>(self.ring.ptr + <size_t>k * self.block_size)

    @cython.nonecheck(False)
    cdef inline void _return_block(self, uint32_t k) noexcept nogil:
        fp_store_release_u32(&self._block(k).hdr.bh1.block_status, TP_STATUS_KERNEL)

    @cython.nonecheck(False)
    cdef uint32_t _take(self, FrameRef* out, uint32_t max_frames) noexcept nogil:
        """Hand out up to max_frames frames of the current (or next ready) block."""
        cdef tpacket_block_desc* bd
        cdef tpacket3_hdr* h
        cdef uint32_t n = 0, st
        cdef uint8_t* frame
        cdef uint8_t* base = self.ring.ptr
        cdef uint16_t tpid
        while not self.walking:
            bd = self._block(self.cur_block)
            if (fp_load_acquire_u32(&bd.hdr.bh1.block_status) & TP_STATUS_USER) == 0:
                return 0
            if bd.hdr.bh1.num_pkts == 0:
                # A block retired empty by the timer: give it straight back.
                self._return_block(self.cur_block)
                self.cur_block = (self.cur_block + 1) % self.block_count
                continue
            self.walking = True
            self.pkts_left = bd.hdr.bh1.num_pkts
            self.pkt = <uint8_t*>bd + bd.hdr.bh1.offset_to_first_pkt
        while n < max_frames and self.pkts_left > 0:
            h = <tpacket3_hdr*>self.pkt
            st = h.tp_status
            frame = self.pkt + h.tp_mac
            out[n].ts_ns = <int64_t>h.tp_sec * 1000000000 + h.tp_nsec
            out[n].caplen = h.tp_snaplen
            out[n].wirelen = h.tp_len
            out[n].linktype = 1
            out[n].iface = 0
            out[n].reserved = 0
            if (st & TP_STATUS_VLAN_VALID) and h.tp_mac >= TP3_HDRLEN + 4 and h.tp_snaplen >= 12:
                # Re-insert the tag the kernel stripped: move the two MAC addresses 4 bytes
                # down and write TPID + TCI after them (IEEE 802.1Q frame format).
                tpid = h.hv1.tp_vlan_tpid if h.hv1.tp_vlan_tpid else 0x8100
                memmove(frame - 4, frame, 12)
                frame -= 4
                store_be16(frame + 12, tpid)
                store_be16(frame + 14, <uint16_t>h.hv1.tp_vlan_tci)
                out[n].caplen += 4
                out[n].wirelen += 4
                self.vlan_restored += 1
            if st & TP_STATUS_CSUMNOTREADY:
                self.csum_not_ready += 1
            out[n].data_off = <uint64_t>(frame - base)
            n += 1
            self.pkts_left -= 1
            if self.pkts_left > 0:
                self.pkt += h.tp_next_offset
        return n

    @cython.nonecheck(False)
    cdef int _rx(self, FrameRef* out, uint64_t* handles, uint32_t max_frames, int64_t timeout_ns,
                 Burst b) except -1:
        cdef uint32_t n
        cdef uint32_t blk
        cdef int64_t deadline = deadline_after(timeout_ns), left
        cdef bint woke = False
        b.buffer = self.ring
        while True:
            with nogil:
                blk = self.cur_block
                n = self._take(out, max_frames)
                if n > 0:
                    self.block_refs[blk] += 1
                    if self.pkts_left == 0:
                        # Walked to the end: the block goes back once its bursts are released.
                        self.walking = False
                        self.cur_block = (self.cur_block + 1) % self.block_count
            if n > 0:
                b.token = blk
                return n
            left = time_left(deadline)
            if left == 0:
                return 0
            if woke:
                # poll() reports readable while we hold blocks, whether or not a new one is
                # ready: look again shortly instead of spinning on it.
                nap(200000 if left < 0 or left > 200000 else left)
            if wait_readable(self.fd, left, POLLIN) == 0:
                return 0
            woke = True

    cdef void _release(self, Burst b) noexcept:
        cdef uint32_t k
        if b.token < 0:
            return
        k = <uint32_t>b.token
        if self.block_refs[k] > 0:
            self.block_refs[k] -= 1
        if self.block_refs[k] == 0 and not (self.walking and k == self.cur_block):
            self._return_block(k)

    @cython.nonecheck(False)
    cdef int _tx(self, const uint8_t* base, size_t size, const FrameRef* frames,
                 uint32_t n) except -1:
        cdef uint32_t done = 0, m, i
        cdef int rc
        cdef int err = 0
        with nogil:
            while done < n:
                m = n - done
                if m > TX_CHUNK:
                    m = TX_CHUNK
                for i in range(m):
                    self.iovs[i].iov_base = <void*>(base + frames[done + i].data_off)
                    self.iovs[i].iov_len = frames[done + i].caplen
                    memset(&self.msgs[i], 0, sizeof(mmsghdr))
                    self.msgs[i].msg_hdr.msg_iov = &self.iovs[i]
                    self.msgs[i].msg_hdr.msg_iovlen = 1
                rc = sendmmsg(self.fd, self.msgs, m, MSG_DONTWAIT)
                if rc < 0:
                    err = errno
                    if err == EINTR:
                        continue
                    break
                done += <uint32_t>rc
                if <uint32_t>rc < m:
                    break
        if err == 0 or err == EAGAIN or err == ENOBUFS:
            return done
        self.c.tx_packets += done
        raise_os_error(err, f"sendmmsg (after {done} of {n} frames)", self.name)

    cdef void _shutdown(self) noexcept:
        cdef sockaddr_ll sll
        if self.fd >= 0:
            self._read_kernel_stats()
            # The ring mapping lives on while bursts refer to it, and a mapping keeps its socket
            # alive. Protocol 0 in bind() means "unchanged", so rebind to the reserved ethertype
            # 0xFFFF: the socket leaves the all-protocols list and receives nothing more.
            memset(&sll, 0, sizeof(sll))
            sll.sll_family = AF_PACKET
            sll.sll_protocol = 0xFFFF
            sll.sll_ifindex = self.ifindex
            bind(self.fd, <sockaddr*>&sll, sizeof(sll))
            close(self.fd)
            self.fd = -1

    cdef void _read_kernel_stats(self) noexcept:
        # Reading PACKET_STATISTICS resets the kernel's counters: accumulate.
        cdef tpacket_stats_v3 st
        cdef socklen_t sl = sizeof(st)
        if self.fd < 0:
            return
        if getsockopt(self.fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl) == 0:
            self.k_packets += st.tp_packets
            self.k_drops += st.tp_drops
            self.k_freezes += st.tp_freeze_q_cnt
            self.c.rx_dropped += st.tp_drops

    def _backend_stats(self):
        self._read_kernel_stats()
        return {"kernel_packets": self.k_packets, "kernel_drops": self.k_drops,
                "queue_freezes": self.k_freezes, "rx_csum_not_ready": self.csum_not_ready,
                "vlan_restored": self.vlan_restored}

    def _capabilities(self):
        return Capabilities(kind="afpacket", linktype=1, mtu=self.mtu, max_frame=self.max_frame,
                            max_burst=self.max_burst, rx_timestamps="kernel", zero_copy=True,
                            offloads=(),
                            details={"ifname": self.ifname, "ifindex": self.ifindex,
                                     "block_size": self.block_size,
                                     "block_count": self.block_count,
                                     "frame_size": self.frame_size,
                                     "snaplen": self.frame_size - 82,
                                     "promisc": self.promisc,
                                     "qdisc_bypass": self.qdisc_bypass})
