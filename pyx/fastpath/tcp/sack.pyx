"""SACK scoreboard and RFC 6675 loss-recovery queries (see sack.pxd)."""
from libc.stdint cimport uint8_t, uint32_t, uint64_t

from fastpath.tcp.seq cimport seq_lt, seq_le, seq_gt, seq_ge, seq_max, seq_min
from fastpath.tcp.failpoint cimport fp_state_t, fp_state, fp_check, FP_SACK_INSERT

cdef fp_state_t* _fp = fp_state()


cdef inline uint32_t _covered(const tcp_sackboard_t* sb, int i, int j, uint32_t l,
                              uint32_t r) noexcept nogil:
    # Bytes of [l, r) already covered by ranges i .. j-1.
    cdef uint32_t n = 0, a, b
    cdef int k
    for k in range(i, j):
        a = seq_max(l, sb.left[k])
        b = seq_min(r, sb.right[k])
        if seq_lt(a, b):
            n += b - a
    return n


cdef uint32_t sb_add(tcp_sackboard_t* sb, uint32_t snd_una, uint32_t snd_max,
                     const uint32_t* left, const uint32_t* right, int n) noexcept nogil:
    cdef uint32_t added = 0, l, r
    cdef int b, i, j, k, extra
    for b in range(n):
        l = left[b]
        r = right[b]
        # RFC 2018 / RFC 6675: only blocks strictly above SND.UNA and not beyond what was
        # sent carry information; anything else is D-SACK, stale or forged.
        if not (seq_lt(snd_una, l) and seq_lt(l, r) and seq_le(r, snd_max)):
            continue
        i = 0
        while i < sb.count and seq_lt(sb.right[i], l):
            i += 1
        j = i
        while j < sb.count and seq_le(sb.left[j], r):
            j += 1
        if j == i:
            if sb.count == SB_MAX or fp_check(_fp, FP_SACK_INSERT):
                continue
            k = sb.count
            while k > i:
                sb.left[k] = sb.left[k - 1]
                sb.right[k] = sb.right[k - 1]
                k -= 1
            sb.left[i] = l
            sb.right[i] = r
            sb.count += 1
            added += r - l
        else:
            added += (r - l) - _covered(sb, i, j, l, r)
            sb.left[i] = seq_min(l, sb.left[i])
            sb.right[i] = seq_max(r, sb.right[j - 1])
            extra = j - i - 1
            if extra:
                for k in range(i + 1, sb.count - extra):
                    sb.left[k] = sb.left[k + extra]
                    sb.right[k] = sb.right[k + extra]
                sb.count -= extra
    return added


cdef void sb_ack(tcp_sackboard_t* sb, uint32_t snd_una) noexcept nogil:
    cdef int drop = 0, k
    while drop < sb.count and seq_le(sb.right[drop], snd_una):
        drop += 1
    if drop:
        for k in range(sb.count - drop):
            sb.left[k] = sb.left[k + drop]
            sb.right[k] = sb.right[k + drop]
        sb.count -= drop
    if sb.count and seq_lt(sb.left[0], snd_una):
        sb.left[0] = snd_una


cdef uint32_t sb_sacked_bytes(const tcp_sackboard_t* sb) noexcept nogil:
    cdef uint32_t n = 0
    cdef int k
    for k in range(sb.count):
        n += sb.right[k] - sb.left[k]
    return n


cdef bint sb_is_lost(const tcp_sackboard_t* sb, uint32_t seq, uint32_t mss,
                     uint32_t dupthresh) noexcept nogil:
    # DupThresh discontiguous SACKed ranges above seq, or more than (DupThresh - 1) * SMSS
    # SACKed bytes above it.
    cdef uint32_t bytes_above = 0, ranges_above = 0
    cdef int k = sb.count - 1
    while k >= 0 and seq_gt(sb.right[k], seq + 1):
        bytes_above += sb.right[k] - seq_max(sb.left[k], seq + 1)
        ranges_above += 1
        if ranges_above >= dupthresh or bytes_above > (dupthresh - 1) * mss:
            return True
        k -= 1
    return False


cdef inline bint _hole_lost(const tcp_sackboard_t* sb, int k, uint32_t mss,
                            uint32_t dupthresh) noexcept nogil:
    # The hole just below range k: every octet in it has ranges k .. count-1 above it.
    cdef uint32_t bytes_above = 0
    cdef int i
    if <uint32_t>(sb.count - k) >= dupthresh:
        return True
    for i in range(k, sb.count):
        bytes_above += sb.right[i] - sb.left[i]
    return bytes_above > (dupthresh - 1) * mss


cdef inline uint32_t _below(uint32_t a, uint32_t b, uint32_t limit) noexcept nogil:
    # Octets of [a, b) below limit.
    if seq_le(limit, a):
        return 0
    return seq_min(b, limit) - a


cdef uint32_t sb_pipe(const tcp_sackboard_t* sb, uint32_t snd_una, uint32_t snd_max,
                      uint32_t high_rxt, uint32_t mss, uint32_t dupthresh) noexcept nogil:
    cdef uint64_t pipe = 0
    cdef uint32_t a = snd_una, b
    cdef int k
    for k in range(sb.count + 1):
        b = sb.left[k] if k < sb.count else snd_max
        if seq_lt(a, b):
            # The tail above the highest SACKed octet is never "lost" (nothing above it).
            if k == sb.count or not _hole_lost(sb, k, mss, dupthresh):
                pipe += b - a
            pipe += _below(a, b, high_rxt)
        if k < sb.count:
            a = sb.right[k]
    return <uint32_t>pipe if pipe < 0xffffffffu else 0xffffffffu


cdef int sb_next_hole(const tcp_sackboard_t* sb, uint32_t snd_una, uint32_t high_rxt,
                      uint32_t mss, uint32_t dupthresh, bint lost_only,
                      uint32_t* seq, uint32_t* length) noexcept nogil:
    cdef uint32_t a = snd_una, b, start
    cdef int k
    for k in range(sb.count):
        b = sb.left[k]
        if seq_lt(a, b) and (not lost_only or _hole_lost(sb, k, mss, dupthresh)):
            start = seq_max(a, high_rxt)
            if seq_lt(start, b):
                seq[0] = start
                length[0] = b - start if b - start < mss else mss
                return 1
        a = sb.right[k]
    return 0
