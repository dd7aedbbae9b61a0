# Large zeroed allocations for tables: anonymous mmap (pages are zero and only become resident
# when touched), aligned to 2 MiB and, where the kernel offers it, backed by transparent huge
# pages -- random access over a big table then misses the TLB far less. Falls back to calloc
# where mmap is unavailable.
from libc.stdint cimport uintptr_t
from libc.stdlib cimport calloc, free

cdef extern from *:
    """
    #include <stddef.h>
    #if defined(__unix__) || defined(__APPLE__)
    #include <sys/mman.h>
    #define FASTPATH_HAVE_MMAP 1
    #ifndef MAP_ANONYMOUS
    #define MAP_ANONYMOUS MAP_ANON
    #endif
    #ifdef MADV_HUGEPAGE
    #define FASTPATH_MADV_HUGEPAGE MADV_HUGEPAGE
    #else
    #define FASTPATH_MADV_HUGEPAGE 0
    #endif
    static void* fastpath_map_anon(size_t n) {
        void* p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    static int fastpath_unmap(void* p, size_t n) { return munmap(p, n); }
    static int fastpath_advise_huge(void* p, size_t n) {
        return FASTPATH_MADV_HUGEPAGE ? madvise(p, n, FASTPATH_MADV_HUGEPAGE) : 0;
    }
    #else
    #define FASTPATH_HAVE_MMAP 0
    static void* fastpath_map_anon(size_t n) { (void)n; return NULL; }
    static int fastpath_unmap(void* p, size_t n) { (void)p; (void)n; return 0; }
    static int fastpath_advise_huge(void* p, size_t n) { (void)p; (void)n; return 0; }
    #endif
    """
    bint FASTPATH_HAVE_MMAP
    void* fastpath_map_anon(size_t n) nogil
    int fastpath_unmap(void* p, size_t n) nogil
    int fastpath_advise_huge(void* p, size_t n) nogil

cdef enum:
    HUGE_PAGE = 2 * 1024 * 1024
    HUGE_MIN = 4 * 1024 * 1024          # smaller regions are not worth a huge page


ctypedef struct HugeBlock:
    void* base                          # what was mapped (or calloc'ed)
    size_t mapped                       # its length; 0 means calloc was used
    void* ptr                           # the aligned, zeroed memory handed out


cdef inline void* huge_alloc(HugeBlock* b, size_t n) noexcept nogil:
    cdef uintptr_t a
    b.base = NULL
    b.mapped = 0
    b.ptr = NULL
    if n == 0:
        n = 1
    if FASTPATH_HAVE_MMAP and n >= HUGE_MIN:
        b.base = fastpath_map_anon(n + HUGE_PAGE)
        if b.base != NULL:
            b.mapped = n + HUGE_PAGE
            a = (<uintptr_t>b.base + HUGE_PAGE - 1) & ~(<uintptr_t>HUGE_PAGE - 1)
            b.ptr = <void*>a
            fastpath_advise_huge(b.ptr, n)
            return b.ptr
    b.base = calloc(1, n)
    b.ptr = b.base
    return b.ptr


cdef inline void huge_free(HugeBlock* b) noexcept nogil:
    if b.base == NULL:
        return
    if b.mapped:
        fastpath_unmap(b.base, b.mapped)
    else:
        free(b.base)
    b.base = NULL
    b.ptr = NULL
    b.mapped = 0
