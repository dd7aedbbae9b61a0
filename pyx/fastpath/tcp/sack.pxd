# The sender's SACK scoreboard (RFC 2018, RFC 6675 section 3): which sequence ranges above
# SND.UNA the peer has reported holding, and the loss-recovery questions asked of it: IsLost,
# the pipe estimate (SetPipe) and the next segment to retransmit (NextSeg rules 1, 3, 4).
from libc.stdint cimport uint8_t, uint32_t

cdef enum:
    SB_MAX = 16             # ranges tracked; a block that needs one more is ignored

ctypedef struct tcp_sackboard_t:
    uint32_t left[SB_MAX]   # sorted, disjoint, non-adjacent [left, right), all above SND.UNA
    uint32_t right[SB_MAX]
    uint8_t count

# Merge the n reported blocks into the board. Blocks outside (snd_una, snd_max] (D-SACK,
# stale or bogus) are ignored (RFC 6675 5, RFC 2883). Returns the bytes newly SACKed.
cdef uint32_t sb_add(tcp_sackboard_t* sb, uint32_t snd_una, uint32_t snd_max,
                     const uint32_t* left, const uint32_t* right, int n) noexcept nogil
# SND.UNA advanced: forget what it covers.
cdef void sb_ack(tcp_sackboard_t* sb, uint32_t snd_una) noexcept nogil
cdef uint32_t sb_sacked_bytes(const tcp_sackboard_t* sb) noexcept nogil
# RFC 6675 4, IsLost(seq).
cdef bint sb_is_lost(const tcp_sackboard_t* sb, uint32_t seq, uint32_t mss,
                     uint32_t dupthresh) noexcept nogil
# RFC 6675 4, SetPipe: octets believed in flight. high_rxt is exclusive (octets below it were
# retransmitted in this recovery).
cdef uint32_t sb_pipe(const tcp_sackboard_t* sb, uint32_t snd_una, uint32_t snd_max,
                      uint32_t high_rxt, uint32_t mss, uint32_t dupthresh) noexcept nogil
# RFC 6675 4, NextSeg rule 1 (lost_only) or rule 3: the first unSACKed octet at or above
# high_rxt and below the highest SACKed octet. Returns 1 with seq/len set, or 0.
cdef int sb_next_hole(const tcp_sackboard_t* sb, uint32_t snd_una, uint32_t high_rxt,
                      uint32_t mss, uint32_t dupthresh, bint lost_only,
                      uint32_t* seq, uint32_t* length) noexcept nogil


cdef inline void sb_clear(tcp_sackboard_t* sb) noexcept nogil:
    sb.count = 0


cdef inline uint32_t sb_high_sacked(const tcp_sackboard_t* sb, uint32_t dflt) noexcept nogil:
    return sb.right[sb.count - 1] if sb.count else dflt
