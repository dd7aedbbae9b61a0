# The two C records every layer above the wire shares, mirrored by numpy dtypes in record.pyx
# (a test and an import-time check hold the two to the same size and offsets):
#
#   FrameRef      where a frame is: what a capture reader or an I/O backend hands the parser.
#   PacketRecord  what the parser found in it: one row per packet, no Python objects.
#
# Change a field here and in record.pyx's field lists together.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t

# ---- link types (pcap LINKTYPE_ values; DLT values seen in the wild map onto them)
cpdef enum:
    LINKTYPE_NULL = 0           # BSD loopback: 4-byte address family in the writer's byte order
    LINKTYPE_ETHERNET = 1
    LINKTYPE_PPP = 9            # PPP, optionally with HDLC address/control bytes
    LINKTYPE_PPP_HDLC = 50
    LINKTYPE_C_HDLC = 104       # Cisco HDLC: address, control, ethertype
    LINKTYPE_RAW_DLT12 = 12     # DLT_RAW on most BSDs
    LINKTYPE_RAW_DLT14 = 14     # DLT_RAW on OpenBSD
    LINKTYPE_RAW = 101
    LINKTYPE_LOOP = 108         # OpenBSD loopback: address family in network byte order
    LINKTYPE_LINUX_SLL = 113
    LINKTYPE_IPV4 = 228
    LINKTYPE_IPV6 = 229
    LINKTYPE_NFLOG = 239        # Linux netfilter log: TLVs, the packet in NFULA_PAYLOAD
    LINKTYPE_LINUX_SLL2 = 276

# ---- ethertypes and IP protocol numbers the parser knows
cpdef enum:
    ETH_P_IPV4 = 0x0800
    ETH_P_ARP = 0x0806
    ETH_P_RARP = 0x8035
    ETH_P_VLAN = 0x8100         # 802.1Q
    ETH_P_QINQ = 0x88a8         # 802.1ad service tag
    ETH_P_QINQ_OLD = 0x9100     # pre-standard QinQ
    ETH_P_IPV6 = 0x86dd
    ETH_P_TEB = 0x6558          # transparent Ethernet bridging (GRE, NVGRE)
    ETH_P_MPLS_UC = 0x8847
    ETH_P_MPLS_MC = 0x8848
    ETH_P_PPPOE_SESSION = 0x8864
    ETH_P_MACSEC = 0x88e5
    ETH_P_CISCO_MD = 0x8909     # Cisco MetaData (security group tag)
    ETH_P_ARISTA = 0xd28b       # Arista vendor header (timestamps)

cpdef enum:
    IPPROTO_HOPOPTS = 0
    IPPROTO_ICMP = 1
    IPPROTO_IPIP = 4
    IPPROTO_TCP = 6
    IPPROTO_UDP = 17
    IPPROTO_IPV6 = 41
    IPPROTO_ROUTING = 43
    IPPROTO_FRAGMENT = 44
    IPPROTO_GRE = 47
    IPPROTO_ESP = 50
    IPPROTO_AH = 51
    IPPROTO_ICMPV6 = 58
    IPPROTO_NONE = 59
    IPPROTO_DSTOPTS = 60
    IPPROTO_PIM = 103
    IPPROTO_ETHERNET = 143
    IPPROTO_MOBILITY = 135

# ---- bounds
cpdef enum:
    MAX_VLAN = 4                # tags stored (and parsed: a fifth tag is ERR_TOO_MANY_TAGS)
    MAX_EXT_HEADERS = 16        # IPv6 extension headers walked before ERR_EXT_CHAIN
    MAX_MPLS_LABELS = 64        # labels walked before ERR_TOO_MANY_TAGS
    OFF_NONE = 0xffff           # offset field value for "layer absent"
    QUOTED_WIRELEN = 0x7fffffff # FrameRef.wirelen marking a packet quoted in an ICMP error
    WSCALE_NONE = 0xff

# ---- PacketRecord.error: the first problem found; every field set before it is valid
cpdef enum:
    ERR_NONE = 0
    ERR_TRUNCATED = 1           # the capture ends inside a header
    ERR_BAD_LENGTH = 2          # a length field is impossible (IHL < 5, TCP offset < 5, UDP length < 8, ...)
    ERR_BAD_VERSION = 3         # IP version disagrees with the link layer's type
    ERR_UNSUPPORTED_LINKTYPE = 4
    ERR_TOO_MANY_TAGS = 5       # more than MAX_VLAN VLAN tags or MAX_MPLS_LABELS labels
    ERR_BAD_OPTION = 6          # malformed TCP or IP option lengths (the headers around them are kept)
    ERR_EXT_CHAIN = 7           # IPv6 extension-header chain longer than MAX_EXT_HEADERS
    ERR_BAD_FRAME = 8           # frame index entry outside the buffer (caller's error, not the packet's)
    ERR_COUNT = 9

# ---- PacketRecord.csum_ip / csum_l4: tshark's *.checksum.status values
cpdef enum:
    CSUM_BAD = 0
    CSUM_GOOD = 1
    CSUM_UNVERIFIED = 2         # not checked: verification off, fragment, or not fully captured
    CSUM_NONE = 3               # the header has no checksum (IPv6, UDP over IPv4 with 0)
    CSUM_ILLEGAL = 4            # a zero UDP checksum over IPv6, which RFC 8200 8.1 forbids

# ---- PacketRecord.ip_flags
cpdef enum:
    IPF_DF = 0x01               # IPv4 don't fragment
    IPF_MF = 0x02               # more fragments (IPv4 flag or IPv6 fragment header M bit)
    IPF_FRAGMENT = 0x04         # a fragment (MF or offset > 0; not an atomic IPv6 fragment)
    IPF_NONFIRST = 0x08         # fragment offset > 0: no transport header here (never parsed)
    IPF_OPTIONS = 0x10          # IPv4 options or IPv6 extension headers present
    IPF_JUMBO = 0x20            # IPv6 jumbogram (RFC 2675)
    IPF_ROUTING = 0x40          # routing header: the final destination is not ip6_dst
    IPF_HOME_ADDR = 0x80        # destination option Home Address (RFC 6275): source is replaced for checksums

# ---- PacketRecord.tcp_opts
cpdef enum:
    OPT_MSS = 0x01
    OPT_WSCALE = 0x02
    OPT_SACK_PERM = 0x04
    OPT_SACK = 0x08
    OPT_TIMESTAMP = 0x10
    OPT_UNKNOWN = 0x20          # an option kind the parser skipped by its length
    OPT_MALFORMED = 0x40        # an option length ran past the header or was < 2

# ---- PacketRecord.inner_kind: what inner_off points at
cpdef enum:
    INNER_NONE = 0
    INNER_ICMP_QUOTE = 1        # IP header quoted in an ICMP or ICMPv6 error (parse as raw IP)
    INNER_IP_IN_IP = 2          # IPv4/IPv6 inside IPv4/IPv6, protocols 4 and 41 (raw IP)
    INNER_GRE_IP = 3            # IP carried by GRE (raw IP)
    INNER_GRE_ETH = 4           # Ethernet carried by GRE (transparent bridging)
    INNER_VXLAN = 5             # Ethernet carried by VXLAN (UDP 4789)
    INNER_TEREDO = 6            # IPv6 carried by Teredo (UDP 3544)
    INNER_GENEVE_ETH = 7        # Ethernet carried by Geneve (UDP 6081, RFC 8926)
    INNER_GENEVE_IP = 8         # IP carried by Geneve
    INNER_PIM_REGISTER = 9      # IP carried by a PIM Register message (RFC 7761 4.9)
    INNER_MPLS_IP = 10          # IP after an MPLS label stack in GRE or UDP (RFC 4023, RFC 7510)
    INNER_ETH_IN_IP = 11        # Ethernet as an IP payload (protocol 143, RFC 8986)


ctypedef struct FrameRef:
    int64_t ts_ns               # capture time, ns since the Unix epoch
    uint64_t data_off           # offset of the frame's first byte in its source (file or buffer)
    uint32_t caplen             # bytes captured
    uint32_t wirelen            # bytes on the wire
    uint16_t linktype           # LINKTYPE_* (low 16 bits of the capture's field)
    uint16_t iface              # pcapng interface id, backend queue, 0 otherwise
    uint32_t reserved


ctypedef struct PacketRecord:
    int64_t ts_ns
    uint64_t data_off
    uint32_t caplen
    uint32_t wirelen
    uint32_t ip4_src            # IPv4 addresses as host-order integers (ip_version == 4)
    uint32_t ip4_dst
    uint32_t tcp_seq
    uint32_t tcp_ack
    uint32_t tcp_tsval          # valid when OPT_TIMESTAMP
    uint32_t tcp_tsecr
    uint32_t tcp_sack_max       # highest SACK right edge, valid when OPT_SACK
    uint32_t payload_len        # transport payload length per the headers (may exceed what was captured)
    uint8_t ip6_src[16]
    uint8_t ip6_dst[16]         # the fixed header's destination
    uint16_t linktype
    uint16_t iface
    uint16_t eth_type           # link header type field as on the wire (tshark eth.type); 0 if none
    uint16_t l3_type            # ethertype of the network layer after tags (also for SLL, NULL, raw)
    uint16_t vlan[4]            # VLAN IDs, outer first; vlan_count of them
    uint16_t l3_off             # offsets from the frame start; OFF_NONE when the layer is absent
    uint16_t l4_off
    uint16_t payload_off
    uint16_t inner_off          # see inner_kind
    uint16_t sport              # TCP/UDP ports; ICMP echo identifier in sport
    uint16_t dport
    uint16_t tcp_flags          # the 12 flag bits (tshark tcp.flags)
    uint16_t tcp_window         # raw, unscaled
    uint16_t tcp_mss            # valid when OPT_MSS
    uint16_t ip_id              # IPv4 identification; low 16 bits of an IPv6 fragment identification
    uint16_t frag_off           # fragment offset in 8-byte units
    uint16_t arp_op
    uint8_t error               # ERR_*
    uint8_t vlan_count
    uint8_t ip_version          # 4, 6, or 0 when there is no IP layer
    uint8_t ip_proto            # upper-layer protocol (after IPv6 extension headers)
    uint8_t ip_ttl              # TTL / hop limit
    uint8_t ip_flags            # IPF_*
    uint8_t tcp_wscale          # raw shift (even above 14), valid when OPT_WSCALE
    uint8_t tcp_opts            # OPT_*
    uint8_t icmp_type           # ICMP or ICMPv6
    uint8_t icmp_code
    uint8_t csum_ip             # CSUM_* for the IPv4 header checksum
    uint8_t csum_l4             # CSUM_* for TCP, UDP, ICMP or ICMPv6
    uint8_t inner_kind          # INNER_*
    uint8_t l4_avail            # transport-header bytes present (captured, within the IP
                                # length), capped at 255: which header fields exist at all
    uint8_t vlan_stag           # bit i set: tag i is an 802.1ad service tag (0x88a8 / 0x9100)
    uint8_t reserved
