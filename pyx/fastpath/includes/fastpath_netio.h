/* System interfaces used by fastpath.io, gathered in one place.
 *
 * On Linux this only includes the real headers. Elsewhere it declares just enough (the same
 * field names, harmless constant values, and functions failing with ENOSYS) for the Linux-only
 * backends to compile; their constructors then fail with a clear "needs Linux" error, and the
 * portable backends (in-memory pair, pcap replay/record, wrappers) work as usual.
 */
#ifndef FASTPATH_NETIO_H
#define FASTPATH_NETIO_H

#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <net/if.h>

#if defined(__linux__) && !defined(FASTPATH_FORCE_PORTABLE)
#define FP_HAVE_LINUX_NETIO 1
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_xdp.h>
#include <linux/if_tun.h>
#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif
#ifndef XDP_USE_NEED_WAKEUP
#define XDP_USE_NEED_WAKEUP (1 << 3)
#endif
#else  /* not Linux: placeholders so the Linux backends compile and refuse to run */
#define FP_HAVE_LINUX_NETIO 0
#define FP_ENOSYS_FN(decl) static inline decl { errno = ENOSYS; return -1; }
#ifndef MAP_POPULATE
#define MAP_POPULATE 0
#endif
#define AF_PACKET (-1)
#define AF_XDP (-1)
#define SOL_PACKET 263
#define SOL_XDP 283
#define ETH_P_ALL 3
#define ETH_ALEN 6
#define PACKET_ADD_MEMBERSHIP 1
#define PACKET_MR_PROMISC 1
#define PACKET_RX_RING 5
#define PACKET_STATISTICS 6
#define PACKET_VERSION 10
#define PACKET_QDISC_BYPASS 20
#define PACKET_IGNORE_OUTGOING 23
#define TPACKET_V3 2
#define TP_STATUS_KERNEL 0
#define TP_STATUS_USER 1
#define TP_STATUS_COPY 2
#define TP_STATUS_LOSING 4
#define TP_STATUS_CSUMNOTREADY 8
#define TP_STATUS_VLAN_VALID 16
#define TP_STATUS_CSUM_VALID 128
#define TPACKET_ALIGNMENT 16
#define XDP_SHARED_UMEM 1
#define XDP_COPY 2
#define XDP_ZEROCOPY 4
#define XDP_USE_NEED_WAKEUP 8
#define XDP_RING_NEED_WAKEUP 1
#define XDP_MMAP_OFFSETS 1
#define XDP_RX_RING 2
#define XDP_TX_RING 3
#define XDP_UMEM_REG 4
#define XDP_UMEM_FILL_RING 5
#define XDP_UMEM_COMPLETION_RING 6
#define XDP_STATISTICS 7
#define XDP_OPTIONS 8
#define XDP_OPTIONS_ZEROCOPY 1
#define XDP_PGOFF_RX_RING 0
#define XDP_PGOFF_TX_RING 0x80000000
#define XDP_UMEM_PGOFF_FILL_RING 0x100000000ULL
#define XDP_UMEM_PGOFF_COMPLETION_RING 0x180000000ULL
#define IFF_TUN 0x0001
#define IFF_TAP 0x0002
#define IFF_NO_PI 0x1000
#define TUNSETIFF 0
struct sockaddr_ll { unsigned short sll_family; unsigned short sll_protocol; int sll_ifindex;
                     unsigned short sll_hatype; unsigned char sll_pkttype; unsigned char sll_halen;
                     unsigned char sll_addr[8]; };
struct packet_mreq { int mr_ifindex; unsigned short mr_type; unsigned short mr_alen;
                     unsigned char mr_address[8]; };
struct tpacket_req3 { unsigned int tp_block_size, tp_block_nr, tp_frame_size, tp_frame_nr,
                      tp_retire_blk_tov, tp_sizeof_priv, tp_feature_req_word; };
struct tpacket_stats_v3 { unsigned int tp_packets, tp_drops, tp_freeze_q_cnt; };
struct tpacket_hdr_variant1 { uint32_t tp_rxhash, tp_vlan_tci; uint16_t tp_vlan_tpid, tp_padding; };
struct tpacket3_hdr { uint32_t tp_next_offset, tp_sec, tp_nsec, tp_snaplen, tp_len, tp_status;
                      uint16_t tp_mac, tp_net; struct tpacket_hdr_variant1 hv1; uint8_t tp_padding[8]; };
struct tpacket_bd_ts { unsigned int ts_sec; unsigned int ts_nsec; };
struct tpacket_hdr_v1 { uint32_t block_status, num_pkts, offset_to_first_pkt, blk_len;
                        uint64_t seq_num; struct tpacket_bd_ts ts_first_pkt, ts_last_pkt; };
union tpacket_bd_header_u { struct tpacket_hdr_v1 bh1; };
struct tpacket_block_desc { uint32_t version, offset_to_priv; union tpacket_bd_header_u hdr; };
struct sockaddr_xdp { uint16_t sxdp_family, sxdp_flags; uint32_t sxdp_ifindex, sxdp_queue_id,
                      sxdp_shared_umem_fd; };
struct xdp_ring_offset { uint64_t producer, consumer, desc, flags; };
struct xdp_mmap_offsets { struct xdp_ring_offset rx, tx, fr, cr; };
struct xdp_umem_reg { uint64_t addr, len; uint32_t chunk_size, headroom, flags; };
struct xdp_statistics { uint64_t rx_dropped, rx_invalid_descs, tx_invalid_descs, rx_ring_full,
                        rx_fill_ring_empty_descs, tx_ring_empty_descs; };
struct xdp_options { uint32_t flags; };
struct xdp_desc { uint64_t addr; uint32_t len, options; };
#endif

#if !defined(__linux__) || defined(FASTPATH_FORCE_PORTABLE)
struct fp_mmsghdr { struct msghdr msg_hdr; unsigned int msg_len; };
#define mmsghdr fp_mmsghdr
FP_ENOSYS_FN(int fp_sendmmsg(int fd, struct fp_mmsghdr *v, unsigned int n, int flags))
#define sendmmsg fp_sendmmsg
#endif

/* Ring indices shared with the kernel (AF_XDP producer/consumer words, TPACKET_V3 block
 * status): loads that later reads must not pass, stores that earlier writes must not pass.
 * These are the orderings the kernel's side pairs with (see Documentation/networking/af_xdp.rst). */
static inline uint32_t fp_load_acquire_u32(const uint32_t *p) {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void fp_store_release_u32(uint32_t *p, uint32_t v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static inline uint32_t fp_load_relaxed_u32(const uint32_t *p) {
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}
static inline void fp_full_barrier(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

static inline int64_t fp_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
static inline int64_t fp_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#endif
