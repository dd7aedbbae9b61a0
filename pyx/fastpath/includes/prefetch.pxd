# Software prefetch (GCC/Clang builtin; a no-op elsewhere): start loading a cache line that a
# later iteration of a batch loop will need, so several memory accesses overlap. The read hint
# (prefetcht0 on x86-64, prfm pldl1keep on arm64) is for data only read, such as a mapped
# capture; the write hint for entries the loop will update.
cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define fastpath_prefetch(p) __builtin_prefetch((const void*)(p), 1, 3)
    #define fastpath_prefetch_read(p) __builtin_prefetch((const void*)(p), 0, 3)
    #else
    #define fastpath_prefetch(p) ((void)(p))
    #define fastpath_prefetch_read(p) ((void)(p))
    #endif
    """
    void fastpath_prefetch(const void* p) nogil        # for writing
    void fastpath_prefetch_read(const void* p) nogil   # for reading only
