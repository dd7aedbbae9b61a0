"""One pass over a parsed chunk for tunnel decapsulation (used by fastpath.flow.capture).

``scan(buffer, base, records)`` finds, without the GIL:

* UDP packets on any port whose payload is a Teredo-encapsulated IPv6 packet (RFC 4380 5.1),
  as Zeek's protocol detection recognises them: an IPv6 header with a Teredo (2001:0::/32)
  source or destination, or any IPv6 header after an origin indication (and authentication)
  header -- the parser itself only looks at port 3544;
* how many packets carry a tunnel that flows decapsulate.
"""
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int64_t

import numpy as np

from fastpath.wire.record import PACKET_DTYPE

from fastpath.wire.record cimport (PacketRecord, OFF_NONE, IPPROTO_UDP, INNER_NONE,
                                   INNER_IP_IN_IP, INNER_GRE_IP, INNER_GRE_ETH, INNER_VXLAN,
                                   INNER_TEREDO, INNER_GENEVE_ETH, INNER_GENEVE_IP,
                                   INNER_ETH_IN_IP)


cdef inline bint is_decap(uint8_t k) noexcept nogil:
    return (k == INNER_IP_IN_IP or k == INNER_GRE_IP or k == INNER_GRE_ETH or k == INNER_VXLAN or
            k == INNER_TEREDO or k == INNER_GENEVE_ETH or k == INNER_GENEVE_IP or
            k == INNER_ETH_IN_IP)


cdef inline bint teredo_prefix(const uint8_t* a) noexcept nogil:
    return a[0] == 0x20 and a[1] == 0x01 and a[2] == 0 and a[3] == 0


cdef int64_t teredo_inner(const uint8_t* p, int64_t n) noexcept nogil:
    """Offset of the IPv6 packet in a UDP payload of ``n`` captured bytes, or -1."""
    cdef int64_t off = 0
    if n < 40:
        return -1
    if (p[0] >> 4) == 6:
        if teredo_prefix(p + 8) or teredo_prefix(p + 24):
            return 0
        return -1
    if p[0] != 0:
        return -1
    if p[1] == 1:
        # Authentication header: client id and authentication value, then nonce and
        # confirmation byte (9); an origin indication must follow.
        off = 13 + <int64_t>p[2] + p[3]
        if off + 2 > n or p[off] != 0 or p[off + 1] != 0:
            return -1
    elif p[1] != 0:
        return -1
    off += 8                        # origin indication
    if off + 40 <= n and (p[off] >> 4) == 6:
        return off
    return -1


@cython.boundscheck(False)
@cython.wraparound(False)
def scan(buffer, Py_ssize_t base, records):
    """(rows, inner offsets) of the Teredo packets the parser did not mark, and the number of
    packets that carry a tunnel once they are."""
    cdef const uint8_t[::1] buf = memoryview(buffer).cast("B") if not isinstance(buffer, np.ndarray) \
        else buffer.view(np.uint8).reshape(-1)
    cdef const uint8_t[::1] raw
    cdef const PacketRecord* r
    cdef Py_ssize_t n = len(records), i, found = 0, tunnels = 0
    cdef int64_t start, end, size = buf.shape[0], off
    cdef int64_t[::1] rows
    cdef uint16_t[::1] offs
    if n == 0:
        return np.empty(0, np.int64), np.empty(0, np.uint16), 0
    if records.dtype != PACKET_DTYPE or not records.flags.c_contiguous:
        raise ValueError("scan() needs a contiguous PACKET_DTYPE array")
    raw = records.view(np.uint8).reshape(-1)
    r = <const PacketRecord*>&raw[0]
    out_rows = np.empty(n, np.int64)
    out_offs = np.empty(n, np.uint16)
    rows = out_rows
    offs = out_offs
    with nogil:
        for i in range(n):
            if is_decap(r[i].inner_kind):
                tunnels += 1
                continue
            if (r[i].inner_kind != INNER_NONE or r[i].ip_proto != IPPROTO_UDP or
                    r[i].payload_off == OFF_NONE or r[i].payload_len < 40):
                continue
            start = <int64_t>r[i].data_off - base + r[i].payload_off
            end = <int64_t>r[i].data_off - base + r[i].caplen
            if start < 0 or end > size or end - start < 40:
                continue
            off = teredo_inner(&buf[start], end - start)
            if off >= 0 and r[i].payload_off + off <= 0xFFFE:
                rows[found] = i
                offs[found] = <uint16_t>(r[i].payload_off + off)
                found += 1
    return out_rows[:found], out_offs[:found], tunnels + found
