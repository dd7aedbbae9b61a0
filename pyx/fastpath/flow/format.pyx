"""conn.log TSV lines for CONN_DTYPE records, formatted in C (the same text as
``fastpath.flow.records.iter_tsv``, which is the readable reference; a test holds them equal)."""
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint64_t, int64_t
from libc.stdio cimport snprintf
from libc.string cimport memcpy, strlen

import numpy as np

from fastpath.includes.posix_inet cimport inet_ntop, AF_INET, AF_INET6
from fastpath.flow.table cimport ConnRecord
from fastpath.flow.table import CONN_DTYPE, END_NAMES
from fastpath.flow.zeek import CONN_STATE_NAMES
from fastpath.flow.conntrack import STATE_NAMES as TCP_STATE_NAMES

cdef enum:
    LINE_MAX = 512                # longest line: two IPv6 addresses and every counter at 2**64

cdef char* _conn_state[13]
cdef char* _tcp_state[10]
cdef char* _end[7]
cdef list _keep = []


cdef _table(names, char** out):
    for i, n in enumerate(names):
        b = n.encode()
        _keep.append(b)
        out[i] = <char*>b


_table(CONN_STATE_NAMES, _conn_state)
_table(TCP_STATE_NAMES, _tcp_state)
_table(END_NAMES, _end)


cdef inline int put_str(char* p, const char* s) noexcept nogil:
    cdef int n = <int>strlen(s)
    memcpy(p, s, n)
    return n


cdef inline int put_u64(char* p, uint64_t v) noexcept nogil:
    cdef char tmp[24]
    cdef int n = 0, i
    if v == 0:
        p[0] = 48
        return 1
    while v:
        tmp[n] = <char>(48 + v % 10)
        v //= 10
        n += 1
    for i in range(n):
        p[i] = tmp[n - 1 - i]
    return n


cdef inline int put_micro(char* p, int64_t ns) noexcept nogil:
    # Six decimals, rounded to the microsecond (as Zeek prints times).
    cdef int64_t us = (ns + 500) // 1000 if ns >= 0 else -((-ns + 500) // 1000)
    cdef int n = 0
    if us < 0:
        p[0] = 45
        n = 1
        us = -us
    n += put_u64(p + n, <uint64_t>(us // 1000000))
    return n + snprintf(p + n, 8, ".%06d", <int>(us % 1000000))


cdef inline int put_addr(char* p, const uint8_t* a, int v6) noexcept nogil:
    if v6:
        inet_ntop(AF_INET6, a, p, 64)
    else:
        inet_ntop(AF_INET, a + 12, p, 64)
    return <int>strlen(p)


cdef int format_line(const ConnRecord* r, char* p) noexcept nogil:
    cdef int n = 0, i
    cdef int64_t dur = r.last_ts_ns - r.ts_ns
    cdef bint productive = dur > 0
    n += put_micro(p + n, r.ts_ns)
    p[n] = 9; n += 1
    n += put_addr(p + n, r.orig_addr, r.ip_version == 6)
    p[n] = 9; n += 1
    n += put_u64(p + n, r.orig_port)
    p[n] = 9; n += 1
    n += put_addr(p + n, r.resp_addr, r.ip_version == 6)
    p[n] = 9; n += 1
    n += put_u64(p + n, r.resp_port)
    p[n] = 9; n += 1
    if r.proto == 6:
        n += put_str(p + n, "tcp")
    elif r.proto == 17:
        n += put_str(p + n, "udp")
    elif r.proto == 1 or r.proto == 58:
        n += put_str(p + n, "icmp")
    else:
        n += put_str(p + n, "unknown_transport")
    p[n] = 9; n += 1
    if productive:
        n += put_micro(p + n, dur)
        p[n] = 9; n += 1
        n += put_u64(p + n, r.orig_bytes)
        p[n] = 9; n += 1
        n += put_u64(p + n, r.resp_bytes)
    else:
        n += put_str(p + n, "-\t-\t-")
    p[n] = 9; n += 1
    n += put_str(p + n, _conn_state[r.conn_state if r.conn_state < 13 else 12])
    p[n] = 9; n += 1
    n += put_u64(p + n, r.missed_bytes)
    p[n] = 9; n += 1
    if r.history[0] == 0:
        p[n] = 45; n += 1
    else:
        for i in range(24):
            if r.history[i] == 0:
                break
            p[n] = r.history[i]
            n += 1
    p[n] = 9; n += 1
    n += put_u64(p + n, r.orig_pkts)
    p[n] = 9; n += 1
    n += put_u64(p + n, r.orig_ip_bytes)
    p[n] = 9; n += 1
    n += put_u64(p + n, r.resp_pkts)
    p[n] = 9; n += 1
    n += put_u64(p + n, r.resp_ip_bytes)
    p[n] = 9; n += 1
    n += put_u64(p + n, r.proto)
    p[n] = 9; n += 1
    if r.vlan:
        n += put_u64(p + n, r.vlan)
    else:
        p[n] = 45; n += 1
    p[n] = 9; n += 1
    if r.inner_vlan:
        n += put_u64(p + n, r.inner_vlan)
    else:
        p[n] = 45; n += 1
    p[n] = 9; n += 1
    if r.proto == 6:
        n += put_str(p + n, _tcp_state[r.tcp_state if r.tcp_state < 10 else 0])
    else:
        p[n] = 45; n += 1
    p[n] = 9; n += 1
    n += put_str(p + n, _end[r.end_reason if r.end_reason < 7 else 6])
    p[n] = 10; n += 1
    return n


@cython.boundscheck(False)
def tsv_bytes(records):
    """All lines for ``records`` as one bytes object (each ends with a newline)."""
    cdef const uint8_t[::1] raw
    cdef const ConnRecord* r
    cdef Py_ssize_t n, i, pos = 0
    cdef bytearray out
    cdef char* p
    if not isinstance(records, np.ndarray) or records.dtype != CONN_DTYPE:
        raise TypeError("expected a CONN_DTYPE array")
    records = np.ascontiguousarray(records)
    n = len(records)
    if n == 0:
        return b""
    raw = records.view(np.uint8).reshape(-1)
    r = <const ConnRecord*>&raw[0]
    out = bytearray(n * LINE_MAX)
    p = out
    with nogil:
        for i in range(n):
            pos += format_line(&r[i], p + pos)
    del out[pos:]
    return bytes(out)
