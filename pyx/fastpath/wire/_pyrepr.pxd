# Helpers shared by the Python-facing Repr classes of the wire modules (not on any hot path).
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE, PyBUF_WRITABLE
from libc.stdint cimport uint8_t


cdef inline int borrow_readable(object data, Py_buffer* view) except -1:
    PyObject_GetBuffer(data, view, PyBUF_SIMPLE)
    return 0


cdef inline int borrow_writable(object data, Py_buffer* view) except -1:
    PyObject_GetBuffer(data, view, PyBUF_WRITABLE)
    return 0


cdef inline void release(Py_buffer* view) noexcept:
    PyBuffer_Release(view)


cdef inline bytes mac_bytes(const uint8_t* p):
    return (<const char*>p)[:6]


cdef inline bytes parse_mac(object v):
    """A MAC address from 6 bytes or 'aa:bb:cc:dd:ee:ff'."""
    if isinstance(v, str):
        b = bytes.fromhex(v.replace(":", "").replace("-", ""))
    else:
        b = bytes(v)
    if len(b) != 6:
        raise ValueError(f"a MAC address has 6 bytes, got {v!r}")
    return b
