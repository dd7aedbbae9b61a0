"""A buffer whose end touches an inaccessible page: reading one byte past it faults.

Parsing a frame placed flush against the guard proves the parser never reads past caplen
(a crash instead of a silent over-read)."""
import ctypes
import ctypes.util
import mmap

import numpy as np

PAGE = mmap.PAGESIZE
PROT_NONE = 0  # POSIX value; the mmap module does not export it
_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


class GuardedBuffer:
    def __init__(self, pages=16):
        self.size = pages * PAGE
        self.mem = mmap.mmap(-1, self.size + PAGE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        self.array = np.frombuffer(self.mem, dtype=np.uint8)
        addr = self.array.ctypes.data
        if _libc.mprotect(addr + self.size, PAGE, PROT_NONE) != 0:
            raise OSError(ctypes.get_errno(), "mprotect failed")
        self.usable = self.array[:self.size]

    def place(self, frame: bytes):
        """Copy frame so that its last byte is the last readable byte; returns its offset."""
        if len(frame) > self.size:
            raise ValueError("frame larger than the guarded buffer")
        off = self.size - len(frame)
        self.usable[off:] = np.frombuffer(frame, dtype=np.uint8)
        return off
