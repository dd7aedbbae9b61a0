"""Internet checksum (RFC 1071) for Python callers: single buffers, pseudo-headers, incremental
update (RFC 1624) and a batch over many frames of one buffer that runs without the GIL.

C callers cimport the inline primitives from ``checksum.pxd`` instead.
"""
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
cimport numpy as cnp
import numpy as np

from fastpath.wire.checksum cimport (csum_partial, csum_fold, csum_finish, native_to_be_value,
                                     csum_add_be16, pseudo_header_v4, pseudo_header_v6,
                                     csum_update16, csum_update32)

cnp.import_array()


# Python callers see partial sums as network-order values (what checksum_sum returns); inside, a
# partial sum is a native-order accumulator. These two convert at the boundary.
cdef uint64_t _from_python_sum(object initial) except? 0:
    cdef unsigned long long v = initial
    while v > 0xffff:
        v = (v & 0xffff) + (v >> 16)
    return csum_add_be16(0, <uint16_t>v)


cdef inline object _to_python_sum(uint64_t acc):
    return native_to_be_value(csum_fold(acc))


def internet_checksum(data, initial=0):
    """Checksum of ``data`` as it goes in a header: the complement of the ones' complement sum.

    ``initial`` is a partial sum to start from, for example from ``pseudo_header_sum``.
    ``data`` is anything with a buffer (bytes, bytearray, memoryview, numpy array).
    """
    cdef Py_buffer view
    cdef uint64_t acc = _from_python_sum(initial) if initial else 0
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        acc = csum_partial(<const uint8_t*>view.buf, <size_t>view.len, acc)
        return csum_finish(acc)
    finally:
        PyBuffer_Release(&view)


def checksum_sum(data, initial=0):
    """The folded ones' complement sum of ``data`` (not complemented), as a 16-bit integer in
    network order. A buffer that carries a correct checksum sums to 0xffff."""
    cdef Py_buffer view
    cdef uint64_t acc = _from_python_sum(initial) if initial else 0
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        acc = csum_partial(<const uint8_t*>view.buf, <size_t>view.len, acc)
        return _to_python_sum(acc)
    finally:
        PyBuffer_Release(&view)


def verify_checksum(data, initial=0):
    """True when ``data`` (a header or segment including its checksum field) sums to 0xffff."""
    return checksum_sum(data, initial) == 0xffff


def pseudo_header_sum(src, dst, int proto, int length):
    """Folded sum of the IPv4 (4-byte addresses or integers) or IPv6 (16-byte addresses)
    pseudo-header, to pass as ``initial`` to ``internet_checksum``. For IPv6, ``dst`` is the
    final destination (the last address of a routing header, RFC 8200 8.1)."""
    cdef bytes s, d
    if isinstance(src, int) and isinstance(dst, int):
        return _to_python_sum(pseudo_header_v4(<uint32_t>src, <uint32_t>dst, <uint8_t>proto,
                                               <uint32_t>length))
    s = bytes(src)
    d = bytes(dst)
    if len(s) == 4 and len(d) == 4:
        return _to_python_sum(pseudo_header_v4(int.from_bytes(s, "big"), int.from_bytes(d, "big"),
                                               <uint8_t>proto, <uint32_t>length))
    if len(s) == 16 and len(d) == 16:
        return _to_python_sum(pseudo_header_v6(<const uint8_t*>s, <const uint8_t*>d,
                                               <uint8_t>proto, <uint32_t>length))
    raise ValueError(f"pseudo_header_sum: addresses must both be 4 or both 16 bytes, "
                     f"got {len(s)} and {len(d)}")


def incremental_update(checksum, old, new, int width=16):
    """New checksum after one field changes from ``old`` to ``new`` (RFC 1624 eqn. 3).

    ``width`` is 16 or 32 bits (a port, or an IPv4 address)."""
    if not 0 <= checksum <= 0xffff:
        raise ValueError(f"checksum {checksum:#x} is not a 16-bit value")
    if width == 16:
        if not (0 <= old <= 0xffff and 0 <= new <= 0xffff):
            raise ValueError("old and new must be 16-bit values with width=16")
        return csum_update16(<uint16_t>checksum, <uint16_t>old, <uint16_t>new)
    if width == 32:
        if not (0 <= old <= 0xffffffff and 0 <= new <= 0xffffffff):
            raise ValueError("old and new must be 32-bit values with width=32")
        return csum_update32(<uint16_t>checksum, <uint32_t>old, <uint32_t>new)
    raise ValueError(f"width must be 16 or 32, not {width}")


def checksum_batch(const uint8_t[::1] buf, offsets, lengths, cnp.ndarray out=None):
    """Internet checksum of many frames of one buffer, without the GIL.

    ``offsets`` and ``lengths`` are integer arrays (one entry per frame) into ``buf``. Returns
    (or fills) a uint16 array of checksum values. A frame that does not fit inside ``buf``
    raises ValueError naming its index before any work is done.
    """
    cdef const int64_t[::1] off = np.ascontiguousarray(offsets, dtype=np.int64)
    cdef const int64_t[::1] ln = np.ascontiguousarray(lengths, dtype=np.int64)
    cdef Py_ssize_t n = off.shape[0], i
    cdef Py_ssize_t size = buf.shape[0]
    if ln.shape[0] != n:
        raise ValueError(f"checksum_batch: {n} offsets but {ln.shape[0]} lengths")
    if out is None:
        out = np.empty(n, dtype=np.uint16)
    elif out.dtype != np.uint16 or out.shape[0] < n or not out.flags.c_contiguous:
        raise ValueError("checksum_batch: out must be a contiguous uint16 array of len >= n")
    cdef uint16_t[::1] res = out
    cdef const uint8_t* base = &buf[0] if size > 0 else NULL
    cdef Py_ssize_t bad = -1
    with nogil:
        for i in range(n):
            if off[i] < 0 or ln[i] < 0 or off[i] + ln[i] > size:
                bad = i
                break
        if bad < 0:
            for i in range(n):
                res[i] = csum_finish(csum_partial(base + off[i], <size_t>ln[i], 0))
    if bad >= 0:
        raise ValueError(f"checksum_batch: frame {bad} (offset {off[bad]}, length {ln[bad]}) "
                         f"does not fit in a buffer of {size} bytes")
    return out
