/* The plain C sequential parser the "batch parse of a pcap" benchmark compares fastpath with:
 * open the file, mmap it, walk the pcap records one after another and parse every frame into
 * an array of records (ref_parse.h) that grows as it goes. No checksums, one thread.
 *
 * Exported for the benchmark (ctypes):
 *   int64_t ref_parse_pcap(const char *path, ref_record **out)   -> packets, or -errno / -EINVAL
 *   int64_t ref_parse_pcap_into(const char *path, ref_record *out, int64_t cap)
 *   void    ref_free(void *p)
 *   int     ref_record_size(void), ref_nfields(void); ref_field_name/offset/size(i): the layout
 * Also a standalone program when built with -DREF_MAIN: parse_ref FILE prints packets and Mpps.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ref_parse.h"

static inline uint32_t rd32(const uint8_t *p, int swap) { return swap ? be32(p) : le32(p); }

/* Walks the pcap at (m, size). With out_grow, records go to a growing malloc'd array; else to
 * (out, cap). Returns the number of packets parsed, or a negative errno. */
static int64_t walk(const uint8_t *m, size_t size, ref_record **out_grow, ref_record *out, int64_t cap) {
    uint32_t magic;
    int swap, nano;
    uint16_t linktype;
    size_t off = 24;
    int64_t n = 0;
    if (size < 24) return -EINVAL;
    magic = le32(m);
    if (magic == 0xa1b2c3d4u) { swap = 0; nano = 0; }
    else if (magic == 0xa1b23c4du) { swap = 0; nano = 1; }
    else if (magic == 0xd4c3b2a1u) { swap = 1; nano = 0; }
    else if (magic == 0x4d3cb2a1u) { swap = 1; nano = 1; }
    else return -EINVAL;
    /* Junk in the upper bits of the link type field is masked off (FCS length, flags). */
    linktype = (uint16_t)(rd32(m + 20, swap) & 0xffff);
    if (out_grow) {
        cap = 1 << 16;
        out = malloc((size_t)cap * sizeof *out);
        if (!out) return -ENOMEM;
    }
    while (off + 16 <= size) {
        const uint8_t *h = m + off;
        uint32_t sec = rd32(h, swap), frac = rd32(h + 4, swap);
        uint32_t incl = rd32(h + 8, swap), orig = rd32(h + 12, swap);
        ref_record *r;
        if (incl > size - off - 16) break;            /* a record cut short: stop, keep the rest */
        if (n == cap) {
            ref_record *bigger;
            if (!out_grow) break;
            cap *= 2;
            bigger = realloc(out, (size_t)cap * sizeof *out);
            if (!bigger) { free(out); return -ENOMEM; }
            out = bigger;
        }
        r = &out[n++];
        r->ts_ns = (int64_t)sec * 1000000000 + (nano ? frac : (int64_t)frac * 1000);
        r->data_off = off + 16;
        r->wirelen = orig;
        r->iface = 0;
        ref_parse_frame(h + 16, incl, linktype, r);
        off += 16 + (size_t)incl;
    }
    if (out_grow) *out_grow = out;
    return n;
}

static int64_t with_file(const char *path, ref_record **out_grow, ref_record *out, int64_t cap) {
    struct stat st;
    const uint8_t *m;
    int64_t n;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -errno;
    if (fstat(fd, &st) < 0) { n = -errno; close(fd); return n; }
    if (st.st_size == 0) { close(fd); return -EINVAL; }
    m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return -errno;
    madvise((void *)m, (size_t)st.st_size, MADV_SEQUENTIAL);
    n = walk(m, (size_t)st.st_size, out_grow, out, cap);
    munmap((void *)m, (size_t)st.st_size);
    return n;
}

int64_t ref_parse_pcap(const char *path, ref_record **out) { return with_file(path, out, NULL, 0); }

int64_t ref_parse_pcap_into(const char *path, ref_record *out, int64_t cap) {
    return with_file(path, NULL, out, cap);
}

void ref_free(void *p) { free(p); }
int ref_record_size(void) { return (int)sizeof(ref_record); }
int ref_nfields(void) { return REF_NFIELDS; }
const char *ref_field_name(int i) { return REF_FIELDS[i].name; }
long ref_field_offset(int i) { return REF_FIELDS[i].offset; }
long ref_field_size(int i) { return REF_FIELDS[i].size; }

#ifdef REF_MAIN
int main(int argc, char **argv) {
    struct timespec a, b;
    ref_record *recs = NULL;
    int64_t n;
    double s;
    if (argc != 2) { fprintf(stderr, "usage: %s FILE.pcap\n", argv[0]); return 2; }
    clock_gettime(CLOCK_MONOTONIC, &a);
    n = ref_parse_pcap(argv[1], &recs);
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (n < 0) { fprintf(stderr, "%s: error %lld\n", argv[1], (long long)-n); return 1; }
    s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    printf("%lld packets in %.3f s: %.2f Mpps\n", (long long)n, s, n / s / 1e6);
    free(recs);
    return 0;
}
#endif
