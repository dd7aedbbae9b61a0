# Software prefetch for reading (GCC/Clang builtin; a no-op elsewhere): start loading a cache line
# that the loop will read soon. Unlike prefetch.pxd's, the hint is "read" (prefetcht0 on x86-64,
# prfm pldl1keep on arm64), for data that is only read, such as a memory-mapped capture file.
cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define fastpath_prefetch_read(p) __builtin_prefetch((const void*)(p), 0, 3)
    #else
    #define fastpath_prefetch_read(p) ((void)(p))
    #endif
    """
    void fastpath_prefetch_read(const void* p) nogil
