/* A plain C AF_PACKET TPACKET_V3 reader: the reference for the AF_PACKET benchmark, in the same
 * run and setup as fastpath's device (same ring geometry). It walks each block the kernel hands
 * over, touches each frame's first byte and gives the block straight back.
 *
 *   io_tpacket_reader NETNS_PATH IFNAME BLOCK_SIZE BLOCK_COUNT FRAME_SIZE RETIRE_MS EXPECTED IDLE_MS
 *
 * Prints "ready" once bound, then "<frames> <ns from first to last frame> <checksum>".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "io_tpacket_reader: %s: %s\n", what, strerror(errno));
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr, "usage: %s NETNS IFNAME BLOCK_SIZE BLOCKS FRAME_SIZE RETIRE_MS EXPECTED IDLE_MS\n",
                argv[0]);
        return 2;
    }
    const char *nspath = argv[1], *ifname = argv[2];
    unsigned bs = atoi(argv[3]), bc = atoi(argv[4]), fs = atoi(argv[5]), tov = atoi(argv[6]);
    uint64_t expected = strtoull(argv[7], NULL, 10);
    int idle_ms = atoi(argv[8]);

    int nsfd = open(nspath, O_RDONLY);
    if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0)
        die("setns");
    int fd = socket(AF_PACKET, SOCK_RAW, 0);
    if (fd < 0)
        die("socket");
    int v = TPACKET_V3;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)))
        die("PACKET_VERSION");
    struct tpacket_req3 req = { .tp_block_size = bs, .tp_block_nr = bc, .tp_frame_size = fs,
                                .tp_frame_nr = (bs / fs) * bc, .tp_retire_blk_tov = tov };
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)))
        die("PACKET_RX_RING");
    uint8_t *ring = mmap(NULL, (size_t)bs * bc, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                         fd, 0);
    if (ring == MAP_FAILED)
        die("mmap");
    struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
                               .sll_ifindex = if_nametoindex(ifname) };
    if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof(sll)))
        die("bind");
    printf("ready\n");
    fflush(stdout);

    uint64_t frames = 0, touched = 0;
    int64_t first = 0, last = 0;
    unsigned cur = 0;
    struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLERR };
    while (frames < expected) {
        struct tpacket_block_desc *bd = (void *)(ring + (size_t)cur * bs);
        if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
            if (poll(&pfd, 1, first ? idle_ms : 10000) == 0)
                break;
            continue;
        }
        uint32_t n = bd->hdr.bh1.num_pkts;
        struct tpacket3_hdr *h = (void *)((uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt);
        for (uint32_t i = 0; i < n; i++) {
            touched += ((uint8_t *)h)[h->tp_mac];
            h = (void *)((uint8_t *)h + h->tp_next_offset);
        }
        __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        cur = (cur + 1) % bc;
        if (n) {
            last = now_ns();
            if (!first)
                first = last;
            frames += n;
        }
    }
    printf("%llu %lld %llu\n", (unsigned long long)frames, (long long)(last - first),
           (unsigned long long)touched);
    return 0;
}
