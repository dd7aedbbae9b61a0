# Send and receive buffers with fixed capacities (rings), and the receive side's out-of-order
# reassembly ranges. Memory is bounded whatever a peer sends: data is only ever stored inside
# the receive window, which never exceeds the free space of the ring, and the number of
# out-of-order ranges is capped (a segment that would need one more range is dropped and the
# peer retransmits it).
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int64_t

cdef enum:
    OOO_MAX = 16            # out-of-order ranges tracked per connection

ctypedef struct tcp_sndbuf_t:
    uint8_t* data
    uint32_t cap
    uint32_t head           # ring offset of the oldest byte (the one at the send buffer's start)
    uint32_t len            # bytes held: sent-but-unacknowledged plus not yet sent

ctypedef struct tcp_rcvbuf_t:
    uint8_t* data
    uint32_t cap
    uint32_t head           # ring offset of the next byte the application reads
    uint32_t len            # in-order bytes ready for the application
    uint32_t ooo_left[OOO_MAX]      # out-of-order ranges [left, right) above RCV.NXT, sorted
    uint32_t ooo_right[OOO_MAX]
    uint16_t ooo_stamp[OOO_MAX]     # recency, for the order of SACK blocks (RFC 2018 4)
    uint16_t ooo_clock
    uint8_t ooo_count

cdef int sndbuf_init(tcp_sndbuf_t* b, uint32_t cap) noexcept nogil
cdef void sndbuf_free(tcp_sndbuf_t* b) noexcept nogil
cdef uint32_t sndbuf_write(tcp_sndbuf_t* b, const uint8_t* p, uint32_t n) noexcept nogil
cdef void sndbuf_consume(tcp_sndbuf_t* b, uint32_t n) noexcept nogil

cdef int rcvbuf_init(tcp_rcvbuf_t* b, uint32_t cap) noexcept nogil
cdef void rcvbuf_free(tcp_rcvbuf_t* b) noexcept nogil
# Store n bytes at sequence seq (rcv_nxt <= seq, and seq + n - rcv_nxt <= free space, which the
# caller ensures by trimming to the window). Returns how far RCV.NXT advances (0 for data that
# went out of order), or -1 when a new out-of-order range was needed but could not be had.
cdef int64_t rcvbuf_insert(tcp_rcvbuf_t* b, uint32_t rcv_nxt, uint32_t seq, const uint8_t* p,
                           uint32_t n) noexcept nogil
cdef uint32_t rcvbuf_read(tcp_rcvbuf_t* b, uint8_t* out, uint32_t n) noexcept nogil
cdef void rcvbuf_consume(tcp_rcvbuf_t* b, uint32_t n) noexcept nogil
# Up to max SACK blocks, the most recently changed range first (RFC 2018 4).
cdef int rcvbuf_sack_blocks(tcp_rcvbuf_t* b, uint32_t* left, uint32_t* right, int max) noexcept nogil
# Drop out-of-order ranges (used when the connection stops accepting data).
cdef void rcvbuf_clear_ooo(tcp_rcvbuf_t* b) noexcept nogil


cdef inline uint32_t sndbuf_free_space(const tcp_sndbuf_t* b) noexcept nogil:
    return b.cap - b.len


cdef inline void sndbuf_peek(const tcp_sndbuf_t* b, uint32_t off, uint32_t n,
                             const uint8_t** p1, uint32_t* n1,
                             const uint8_t** p2, uint32_t* n2) noexcept nogil:
    # Bytes [off, off + n) of the buffer as at most two contiguous pieces (the ring may wrap).
    cdef uint32_t pos = b.head + off
    if pos >= b.cap:
        pos -= b.cap
    p1[0] = b.data + pos
    if pos + n <= b.cap:
        n1[0] = n
        p2[0] = NULL
        n2[0] = 0
    else:
        n1[0] = b.cap - pos
        p2[0] = b.data
        n2[0] = n - (b.cap - pos)


cdef inline uint32_t rcvbuf_free_space(const tcp_rcvbuf_t* b) noexcept nogil:
    return b.cap - b.len


cdef inline void rcvbuf_peek(const tcp_rcvbuf_t* b, const uint8_t** p1, uint32_t* n1,
                             const uint8_t** p2, uint32_t* n2) noexcept nogil:
    # The readable bytes as at most two contiguous pieces.
    p1[0] = b.data + b.head
    if b.head + b.len <= b.cap:
        n1[0] = b.len
        p2[0] = NULL
        n2[0] = 0
    else:
        n1[0] = b.cap - b.head
        p2[0] = b.data
        n2[0] = b.len - (b.cap - b.head)
