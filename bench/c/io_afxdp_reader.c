/* A plain C AF_XDP reader: the reference the AF_XDP benchmark compares fastpath's burst loop
 * against, in the same run and the same setup. Copy or zero-copy as the driver allows,
 * XDP_USE_NEED_WAKEUP with poll(), rings of RING entries, UMEM of RING chunks of 2048 bytes.
 * It receives a batch, touches each frame's first byte, and gives the chunks straight back to
 * the fill ring -- the least work a reader can do.
 *
 *   io_afxdp_reader NETNS_PATH IFNAME QUEUE XSKMAP_FD RING EXPECTED IDLE_MS
 *
 * It enters the namespace, binds, puts its socket into the XSKMAP (an fd inherited from the
 * benchmark), prints "ready", and stops after EXPECTED frames or IDLE_MS without one (after the
 * first). Then it prints "<frames> <ns from first to last frame> <bytes touched checksum>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef AF_XDP
#define AF_XDP 44
#endif
#define FRAME 2048u
#define BATCH 256u

struct ring {
    uint32_t *prod, *cons, *flags;
    void *descs;
    uint32_t mask, size;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "io_afxdp_reader: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void map_ring(int fd, struct ring *r, uint64_t pgoff, struct xdp_ring_offset *o,
                     uint32_t size, size_t desc)
{
    void *p = mmap(NULL, o->desc + size * desc, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_POPULATE, fd, pgoff);
    if (p == MAP_FAILED)
        die("mmap ring");
    r->prod = (uint32_t *)((char *)p + o->producer);
    r->cons = (uint32_t *)((char *)p + o->consumer);
    r->flags = (uint32_t *)((char *)p + o->flags);
    r->descs = (char *)p + o->desc;
    r->size = size;
    r->mask = size - 1;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: %s NETNS_PATH IFNAME QUEUE XSKMAP_FD RING EXPECTED IDLE_MS\n",
                argv[0]);
        return 2;
    }
    const char *nspath = argv[1], *ifname = argv[2];
    uint32_t queue = atoi(argv[3]);
    int map_fd = atoi(argv[4]);
    uint32_t ring = atoi(argv[5]);
    uint64_t expected = strtoull(argv[6], NULL, 10);
    int idle_ms = atoi(argv[7]);

    int nsfd = open(nspath, O_RDONLY);
    if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0)
        die("setns");
    unsigned ifindex = if_nametoindex(ifname);
    if (!ifindex)
        die("if_nametoindex");

    int fd = socket(AF_XDP, SOCK_RAW, 0);
    if (fd < 0)
        die("socket");
    size_t umem_len = (size_t)ring * FRAME;
    void *umem = mmap(NULL, umem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (umem == MAP_FAILED)
        die("mmap umem");
    struct xdp_umem_reg reg = { .addr = (uint64_t)(uintptr_t)umem, .len = umem_len,
                                .chunk_size = FRAME, .headroom = 0 };
    if (setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)))
        die("XDP_UMEM_REG");
    int opts[] = { XDP_UMEM_FILL_RING, XDP_UMEM_COMPLETION_RING, XDP_RX_RING };
    for (int i = 0; i < 3; i++)
        if (setsockopt(fd, SOL_XDP, opts[i], &ring, sizeof(ring)))
            die("ring size");
    struct xdp_mmap_offsets off;
    socklen_t ol = sizeof(off);
    if (getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &ol))
        die("XDP_MMAP_OFFSETS");
    struct ring fq, rx, cq;
    map_ring(fd, &fq, XDP_UMEM_PGOFF_FILL_RING, &off.fr, ring, sizeof(uint64_t));
    map_ring(fd, &cq, XDP_UMEM_PGOFF_COMPLETION_RING, &off.cr, ring, sizeof(uint64_t));
    map_ring(fd, &rx, XDP_PGOFF_RX_RING, &off.rx, ring, sizeof(struct xdp_desc));
    uint64_t *fill = fq.descs;
    for (uint32_t i = 0; i < ring; i++)
        fill[i] = (uint64_t)i * FRAME;
    __atomic_store_n(fq.prod, ring, __ATOMIC_RELEASE);

    struct sockaddr_xdp sxdp = { .sxdp_family = AF_XDP, .sxdp_ifindex = ifindex,
                                 .sxdp_queue_id = queue,
                                 .sxdp_flags = XDP_USE_NEED_WAKEUP | XDP_COPY };
    /* A socket closed just before (the previous round's) releases its queue a moment later. */
    for (int tries = 0; bind(fd, (struct sockaddr *)&sxdp, sizeof(sxdp)); tries++) {
        if (errno != EBUSY || tries == 200)
            die("bind");
        usleep(10000);
    }
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    int key = queue, val = fd;
    attr.map_fd = map_fd;
    attr.key = (uint64_t)(uintptr_t)&key;
    attr.value = (uint64_t)(uintptr_t)&val;
    if (syscall(SYS_bpf, BPF_MAP_UPDATE_ELEM, &attr, sizeof(attr)))
        die("XSKMAP update");
    printf("ready\n");
    fflush(stdout);

    uint32_t rx_cons = 0, fq_prod = ring;
    uint64_t frames = 0, touched = 0;
    int64_t first = 0, last = 0;
    struct xdp_desc *descs = rx.descs;
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    while (frames < expected) {
        uint32_t avail = __atomic_load_n(rx.prod, __ATOMIC_ACQUIRE) - rx_cons;
        if (avail == 0) {
            if (__atomic_load_n(fq.flags, __ATOMIC_ACQUIRE) & XDP_RING_NEED_WAKEUP)
                recvfrom(fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
            int r = poll(&pfd, 1, first ? idle_ms : 10000);
            if (r == 0)
                break;
            continue;
        }
        if (avail > BATCH)
            avail = BATCH;
        for (uint32_t i = 0; i < avail; i++) {
            struct xdp_desc *d = &descs[(rx_cons + i) & rx.mask];
            touched += ((uint8_t *)umem)[d->addr];
            fill[(fq_prod + i) & fq.mask] = d->addr & ~(uint64_t)(FRAME - 1);
        }
        rx_cons += avail;
        __atomic_store_n(rx.cons, rx_cons, __ATOMIC_RELEASE);
        fq_prod += avail;
        __atomic_store_n(fq.prod, fq_prod, __ATOMIC_RELEASE);
        if (__atomic_load_n(fq.flags, __ATOMIC_ACQUIRE) & XDP_RING_NEED_WAKEUP)
            recvfrom(fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
        last = now_ns();
        if (!first)
            first = last;
        frames += avail;
    }
    printf("%llu %lld %llu\n", (unsigned long long)frames, (long long)(last - first),
           (unsigned long long)touched);
    return 0;
}
