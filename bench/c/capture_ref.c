/* The plain C loop fastpath's capture indexer is measured against (bench/bench_capture.py).
 *
 * It does the same work as fastpath.capture.index's pcap walker and nothing more: walk the
 * records of a classic pcap (either byte order, microsecond or nanosecond magic), check each
 * record's length against the buffer and the 256 KiB limit, and write one 32-byte frame row
 * (the layout of FRAME_DTYPE / FrameRef) per record. No Python, no chunking.
 *
 *   ref_index_pcap(buf, len, out, cap, prefetch)   over bytes already in memory
 *   ref_index_file(path, out, cap, prefetch)        mmap the file (MADV_SEQUENTIAL) and walk it,
 *                                                   as a standalone C program would
 * ``prefetch`` > 0 issues a software prefetch for every cache line up to that many bytes ahead
 * of the record being read (0: none) -- an experiment on whether the walk is latency-bound.
 * Both return the number of rows written, or a negative errno / -1000 for a malformed file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct frame {
    int64_t ts_ns;
    uint64_t data_off;
    uint32_t caplen;
    uint32_t wirelen;
    uint16_t linktype;
    uint16_t iface;
    uint32_t reserved;
};

int64_t ref_frame_size(void) { return (int64_t)sizeof(struct frame); }

static inline uint32_t rd32(const uint8_t *p, int swap) {
    uint32_t v;
    memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}

#define MAX_CAPLEN 262144u

int64_t ref_index_pcap(const uint8_t *buf, int64_t len, struct frame *out, int64_t cap,
                       int64_t prefetch) {
    if (len < 24) return -1000;
    uint32_t magic;
    memcpy(&magic, buf, 4);
    int swap, nano;
    if (magic == 0xa1b2c3d4u || magic == 0xa1b23c4du) {
        swap = 0;
        nano = magic == 0xa1b23c4du;
    } else if (magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u) {
        swap = 1;
        nano = magic == 0x4d3cb2a1u;
    } else {
        return -1000;
    }
    const int64_t mul = nano ? 1 : 1000;
    const uint16_t linktype = (uint16_t)(rd32(buf + 20, swap) & 0xffff);
    uint64_t off = 24, pf = 24;
    const uint64_t n = (uint64_t)len;
    int64_t k = 0;
    while (k < cap && n - off >= 16) {
        if (prefetch) {
            uint64_t end = off + (uint64_t)prefetch;
            if (end > n) end = n;
            for (; pf < end; pf += 64) __builtin_prefetch(buf + pf, 0, 3);
        }
        const uint8_t *h = buf + off;
        uint32_t sec = rd32(h, swap), frac = rd32(h + 4, swap);
        uint32_t caplen = rd32(h + 8, swap), wirelen = rd32(h + 12, swap);
        if (caplen > MAX_CAPLEN || n - off - 16 < caplen) break;
        out[k].ts_ns = (int64_t)sec * 1000000000 + (int64_t)frac * mul;
        out[k].data_off = off + 16;
        out[k].caplen = caplen;
        out[k].wirelen = wirelen;
        out[k].linktype = linktype;
        out[k].iface = 0;
        out[k].reserved = 0;
        k++;
        off += 16 + (uint64_t)caplen;
    }
    return k;
}

int64_t ref_index_file(const char *path, struct frame *out, int64_t cap, int64_t prefetch) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    const uint8_t *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return -errno;
    madvise((void *)m, (size_t)st.st_size, MADV_SEQUENTIAL);
    int64_t k = ref_index_pcap(m, (int64_t)st.st_size, out, cap, prefetch);
    munmap((void *)m, (size_t)st.st_size);
    return k;
}
