# The device interface every I/O backend implements, and the pieces they share: memory regions
# exported through the buffer protocol, a fixed-slot arena, and the receive burst.
#
# A backend subclasses Device and overrides the four hooks (_rx, _tx, _release, _shutdown).
# Wrappers (tracer, recorder, fault injector) override _recv_burst / _send_burst instead, so
# they compose with any device, including other wrappers.
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t

from fastpath.wire.record cimport FrameRef


cdef enum:
    DIR_RX = 0
    DIR_TX = 1


cdef struct DeviceCounters:
    uint64_t rx_packets
    uint64_t rx_bytes
    uint64_t rx_bursts
    uint64_t rx_dropped        # lost on the way in (ring full, queue full), as the backend knows it
    uint64_t tx_packets
    uint64_t tx_bytes
    uint64_t tx_bursts
    uint64_t tx_dropped        # accepted by send() but lost afterwards (peer queue full, ...)
    uint64_t tx_busy           # refused by send() because the transmit ring was full
    uint64_t released          # frames handed back with Burst.release()


cdef class Region:
    """Memory owned by a device (anonymous or socket mmap, or malloc), exported read-write or
    read-only through the buffer protocol. Unmapped only when the last reference goes, so a view
    that outlives its device stays valid memory."""
    cdef uint8_t* ptr
    cdef size_t size
    cdef int kind              # 0 malloc, 1 mmap
    cdef bint readonly
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]
    cdef Py_ssize_t exports


cdef Region region_anonymous(size_t size)
cdef Region region_from_mapping(void* ptr, size_t size, bint readonly)


cdef class SlotArena:
    """``nslots`` fixed-size slots in one Region, with a free stack (no allocation per frame)."""
    cdef readonly Region region
    cdef uint32_t slot_size
    cdef uint32_t nslots
    cdef uint32_t nfree
    cdef uint32_t* free_stack

    # Called without the GIL: a None check (debug builds) would need it.
    @cython.nonecheck(False)
    cdef inline int64_t take(self) noexcept nogil:
        if self.nfree == 0:
            return -1
        self.nfree -= 1
        return self.free_stack[self.nfree]

    # Called without the GIL: a None check (debug builds) would need it.
    @cython.nonecheck(False)
    cdef inline void give(self, uint32_t slot) noexcept nogil:
        if self.nfree < self.nslots:
            self.free_stack[self.nfree] = slot
            self.nfree += 1

    # Called without the GIL: a None check (debug builds) would need it.
    @cython.nonecheck(False)
    cdef inline uint8_t* at(self, uint32_t slot) noexcept nogil:
        return self.region.ptr + <size_t>slot * self.slot_size


cdef class Burst:
    cdef readonly object buffer
    cdef readonly object index
    cdef Device device
    cdef readonly uint32_t count
    cdef uint64_t* handles     # backend's per-frame handles (UMEM addresses, slot numbers)
    cdef uint32_t nhandles
    cdef int64_t token         # backend's per-burst handle (ring block)
    cdef int64_t pool_slot     # which of the device's handle arrays ``handles`` is
    cdef readonly bint released
    cdef void _free_handles(self) noexcept
    cdef void _do_release(self) noexcept


cdef class Device:
    cdef readonly str name
    cdef DeviceCounters c
    cdef readonly bint closed
    cdef readonly uint32_t max_burst
    cdef uint32_t held
    cdef readonly uint32_t max_held
    cdef readonly uint16_t linktype
    cdef uint32_t min_frame
    cdef uint32_t max_frame
    cdef bint uses_handles
    cdef FrameRef* scratch
    cdef uint64_t* scratch_handles
    cdef uint64_t* handle_pool         # max_held arrays of max_burst handles, one per held burst
    cdef uint32_t* pool_free
    cdef uint32_t pool_nfree
    cdef Burst spare                   # a Burst object kept from an empty receive
    cdef object spare_index            # an index array kept from an empty receive
    cdef Burst empty                   # the (immutable) burst returned when nothing arrived

    cdef int _setup_burst(self, uint32_t max_burst, uint32_t max_held) except -1
    cdef int _check_open(self) except -1
    cdef void _unreserve(self, int64_t slot) noexcept

    # ---- backend hooks
    cdef int _rx(self, FrameRef* out, uint64_t* handles, uint32_t max_frames, int64_t timeout_ns,
                 Burst b) except -1
    cdef int _tx(self, const uint8_t* base, size_t size, const FrameRef* frames, uint32_t n) except -1
    cdef void _release(self, Burst b) noexcept
    cdef void _shutdown(self) noexcept

    # ---- what recv()/send() call; wrappers override these
    cdef Burst _recv_burst(self, uint32_t max_frames, int64_t timeout_ns)
    cdef int _send_burst(self, const uint8_t* base, size_t size, const FrameRef* frames,
                         uint32_t n) except -1


cdef object new_frame_index(uint32_t n, const FrameRef* src)
cdef tuple compact_frames(const uint8_t* base, const FrameRef* frames, uint32_t n)
cdef int validate_frames(const FrameRef* frames, uint32_t n, size_t size, uint32_t min_frame,
                         uint32_t max_frame, str devname) except -1
cdef int wait_readable(int fd, int64_t timeout_ns, short events) except -2
cdef int64_t deadline_after(int64_t timeout_ns) noexcept nogil
cdef int64_t time_left(int64_t deadline) noexcept nogil
cdef int nap(int64_t ns) except -1
cdef raise_os_error(int err, str what, str devname)
