/* The Internet checksum (RFC 1071) in plain C: the reference for fastpath's checksum benchmark.
 * 64-bit accumulation with add-with-carry, eight bytes per step, unrolled four times; portable
 * C (the carry is recovered with a compare, which gcc turns into adc), built with -O2 and no
 * -march flags, like fastpath itself.
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
    uint64_t s0 = 0, s1 = 0, w0, w1, w2, w3;
    while (n >= 32) {
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        memcpy(&w2, p + 16, 8);
        memcpy(&w3, p + 24, 8);
        s0 = add_carry(s0, w0);
        s1 = add_carry(s1, w1);
        s0 = add_carry(s0, w2);
        s1 = add_carry(s1, w3);
        p += 32;
        n -= 32;
    }
    s0 = add_carry(s0, s1);
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
