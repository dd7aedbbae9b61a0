# Software prefetch (GCC/Clang builtin; a no-op elsewhere): start loading a cache line that a
# later iteration of a batch loop will need, so several memory accesses overlap. The read hint
# (prefetcht0 on x86-64, prfm pldl1keep on arm64) is for data only read, such as a mapped
# capture; the write hint for entries the loop will update.
#
# The empty volatile asm after each prefetch is load-bearing. GCC treats __builtin_prefetch as
# free of side effects, so a small helper whose only work is prefetching (FlowTable's
# _prefetch_slot/_prefetch_entry) is found "const" by its IPA pure-const pass once partially
# inlined, and every call to it is then deleted as dead code: gcc 12 -O2/-O3 emitted no
# prefetch at all in the flow tracker's loop. A volatile asm is a side effect the compiler must
# keep, so the helper and its prefetches stay; it emits no instruction.
# (tests/flow/test_prefetch_codegen.py checks the compiled loop still prefetches.)
cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define fastpath_prefetch(p) \\
        do { __builtin_prefetch((const void*)(p), 1, 3); __asm__ __volatile__(""); } while (0)
    #define fastpath_prefetch_read(p) \\
        do { __builtin_prefetch((const void*)(p), 0, 3); __asm__ __volatile__(""); } while (0)
    #else
    #define fastpath_prefetch(p) ((void)(p))
    #define fastpath_prefetch_read(p) ((void)(p))
    #endif
    """
    void fastpath_prefetch(const void* p) nogil        # for writing
    void fastpath_prefetch_read(const void* p) nogil   # for reading only
