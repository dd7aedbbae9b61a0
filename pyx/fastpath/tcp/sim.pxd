# The simulated network: two TCP stacks joined by two one-way links on a virtual clock with
# seeded randomness. Frames are real IPv4/IPv6 packets: a corrupted bit must be caught by the
# receiver's checksum like on a wire.
from libc.stdint cimport uint8_t, uint32_t, uint64_t

ctypedef struct sim_frame_t:
    uint64_t at             # arrival time
    uint64_t order          # tie-break: FIFO among equal arrival times
    uint32_t slot
    uint32_t length

ctypedef struct sim_link_stats_t:
    uint64_t sent
    uint64_t delivered
    uint64_t bytes_delivered
    uint64_t lost
    uint64_t queue_drops
    uint64_t duplicated
    uint64_t corrupted
    uint64_t reordered

ctypedef struct sim_link_t:
    double loss
    double reorder
    double duplicate
    double corrupt
    uint64_t delay_us
    uint64_t reorder_delay_us   # extra delay (uniform up to this) of a reordered frame
    uint64_t bandwidth_bps      # 0: unlimited
    uint32_t queue_limit        # frames on the link at once
    uint32_t slot_size
    uint32_t nslots
    uint32_t nfree
    uint32_t heap_len
    uint32_t pending
    uint8_t* slots
    uint32_t* free_stack
    sim_frame_t* heap           # frames that arrive out of sending order (reordered, duplicated)
    sim_frame_t* fifo           # frames in sending order: the common case needs no heap
    uint32_t fifo_head
    uint32_t fifo_len
    uint64_t fifo_last_at
    uint64_t busy_until
    uint64_t order
    uint64_t rng[4]
    const uint64_t* clock
    sim_link_stats_t stats
