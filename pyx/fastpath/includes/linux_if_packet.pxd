# <linux/if_packet.h>: AF_PACKET sockets and the TPACKET_V3 memory-mapped receive ring.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

cdef extern from "fastpath_netio.h" nogil:
    enum: AF_PACKET, SOL_PACKET, ETH_P_ALL, ETH_ALEN
    enum: PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC, PACKET_RX_RING, PACKET_STATISTICS
    enum: PACKET_VERSION, PACKET_QDISC_BYPASS, PACKET_IGNORE_OUTGOING, TPACKET_V3
    enum: TP_STATUS_KERNEL, TP_STATUS_USER, TP_STATUS_COPY, TP_STATUS_LOSING
    enum: TP_STATUS_CSUMNOTREADY, TP_STATUS_VLAN_VALID, TP_STATUS_CSUM_VALID, TPACKET_ALIGNMENT

    struct sockaddr_ll:
        unsigned short sll_family
        unsigned short sll_protocol
        int sll_ifindex
        unsigned short sll_hatype
        unsigned char sll_pkttype
        unsigned char sll_halen
        unsigned char sll_addr[8]

    struct packet_mreq:
        int mr_ifindex
        unsigned short mr_type
        unsigned short mr_alen
        unsigned char mr_address[8]

    struct tpacket_req3:
        unsigned int tp_block_size
        unsigned int tp_block_nr
        unsigned int tp_frame_size
        unsigned int tp_frame_nr
        unsigned int tp_retire_blk_tov
        unsigned int tp_sizeof_priv
        unsigned int tp_feature_req_word

    struct tpacket_stats_v3:
        unsigned int tp_packets
        unsigned int tp_drops
        unsigned int tp_freeze_q_cnt

    struct tpacket_hdr_variant1:
        uint32_t tp_rxhash
        uint32_t tp_vlan_tci
        uint16_t tp_vlan_tpid

    struct tpacket3_hdr:
        uint32_t tp_next_offset
        uint32_t tp_sec
        uint32_t tp_nsec
        uint32_t tp_snaplen
        uint32_t tp_len
        uint32_t tp_status
        uint16_t tp_mac
        uint16_t tp_net
        tpacket_hdr_variant1 hv1

    struct tpacket_hdr_v1:
        uint32_t block_status
        uint32_t num_pkts
        uint32_t offset_to_first_pkt
        uint32_t blk_len
        uint64_t seq_num

    union tpacket_bd_header_u:
        tpacket_hdr_v1 bh1

    struct tpacket_block_desc:
        uint32_t version
        uint32_t offset_to_priv
        tpacket_bd_header_u hdr
