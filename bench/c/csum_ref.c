/* The Internet checksum (RFC 1071) in plain C: the reference for fastpath's checksum benchmark.
 * 64-bit accumulation with add-with-carry (RFC 1071 2(B), 2(C)): four independent 64-bit
 * accumulators, 64 bytes per step, the carry recovered with a compare (gcc emits adc for it).
 * Portable C, built with -O2 and no -march flags, like fastpath itself. (This beat one adc
 * chain in inline assembly and the two-accumulator form on this machine kind.)
 *
 * Exported (ctypes):
 *   uint16_t ref_csum(const uint8_t *p, size_t n)                 checksum field value (host int)
 *   void     ref_csum_batch(const uint8_t *buf, const int64_t *off, const int64_t *len,
 *                           int64_t n, uint16_t *out)
 *   double   ref_csum_ns_per_call(const uint8_t *p, size_t n, int64_t iters)   timed inside C
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

static inline uint64_t add_carry(uint64_t a, uint64_t b) {
    uint64_t s = a + b;
    return s + (s < b);                               /* end-around carry (RFC 1071 2(C)) */
}

static inline uint64_t sum64(const uint8_t *p, size_t n) {
    /* Four independent carry chains so the adds overlap; eight 64-bit words per step. */
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, w0, w1, w2, w3;
    while (n >= 64) {
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        memcpy(&w2, p + 16, 8);
        memcpy(&w3, p + 24, 8);
        s0 = add_carry(s0, w0);
        s1 = add_carry(s1, w1);
        s2 = add_carry(s2, w2);
        s3 = add_carry(s3, w3);
        memcpy(&w0, p + 32, 8);
        memcpy(&w1, p + 40, 8);
        memcpy(&w2, p + 48, 8);
        memcpy(&w3, p + 56, 8);
        s0 = add_carry(s0, w0);
        s1 = add_carry(s1, w1);
        s2 = add_carry(s2, w2);
        s3 = add_carry(s3, w3);
        p += 64;
        n -= 64;
    }
    s0 = add_carry(add_carry(s0, s1), add_carry(s2, s3));
    while (n >= 8) {
        memcpy(&w0, p, 8);
        s0 = add_carry(s0, w0);
        p += 8;
        n -= 8;
    }
    if (n) {                                          /* the tail, zero-padded on the right */
        uint64_t t = 0;
        memcpy(&t, p, n);
        s0 = add_carry(s0, t);
    }
    return s0;
}

static inline uint16_t fold(uint64_t s) {
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffu) + (s >> 16);
    s = (s & 0xffffu) + (s >> 16);
    return (uint16_t)s;
}

uint16_t ref_csum(const uint8_t *p, size_t n) {
    /* The sum is in native (little-endian) word order; swap to the field's network value. */
    uint16_t c = (uint16_t)~fold(sum64(p, n));
    return (uint16_t)((c >> 8) | (c << 8));
}

void ref_csum_batch(const uint8_t *buf, const int64_t *off, const int64_t *len, int64_t n,
                    uint16_t *out) {
    int64_t i;
    for (i = 0; i < n; i++) out[i] = ref_csum(buf + off[i], (size_t)len[i]);
}

double ref_csum_ns_per_call(const uint8_t *p, size_t n, int64_t iters) {
    struct timespec a, b;
    volatile uint16_t sink = 0;
    int64_t i;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (i = 0; i < iters; i++) {
        sink ^= ref_csum(p, n);
        __asm__ __volatile__("" ::: "memory");        /* keep every call */
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    (void)sink;
    return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)iters;
}
