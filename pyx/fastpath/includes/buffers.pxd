# Borrowing a read-only byte buffer from any Python object that has one (bytes, bytearray,
# memoryview, numpy arrays, mmap), without the cost of a typed memoryview on hot single calls.
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE, PyBUF_WRITABLE
