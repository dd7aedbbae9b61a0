# Connection records as Zeek writes them to conn.log: its endpoint model, the history letters,
# conn_state, and when Zeek would consider a connection over. The flow table keeps one ZeekConn
# per flow beside the middlebox state (conntrack.pxd) when records are enabled.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from fastpath.wire.record cimport PacketRecord

# ---- Zeek's TCP endpoint states (its TCP_ENDPOINT_*)
cpdef enum:
    ZS_INACTIVE = 0             # nothing seen from this side
    ZS_SYN_SENT = 1
    ZS_SYN_ACK_SENT = 2         # a SYN/ACK, but no SYN before it
    ZS_PARTIAL = 3              # data seen, but no SYN
    ZS_ESTABLISHED = 4
    ZS_CLOSED = 5               # FIN seen
    ZS_RESET = 6                # RST seen

# ---- conn_state
cpdef enum:
    CS_S0 = 0
    CS_S1 = 1
    CS_SF = 2
    CS_REJ = 3
    CS_S2 = 4
    CS_S3 = 5
    CS_RSTO = 6
    CS_RSTR = 7
    CS_RSTOS0 = 8
    CS_RSTRH = 9
    CS_SH = 10
    CS_SHR = 11
    CS_OTH = 12
    CS_COUNT = 13

# ---- transport classes
cpdef enum:
    PC_TCP = 0
    PC_UDP = 1
    PC_ICMP = 2
    PC_OTHER = 3

# ---- ZeekEnd.eflags
cpdef enum:
    ZE_DID_CLOSE = 0x01
    ZE_FIN = 0x02               # a FIN was seen (FIN_cnt > 0)
    ZE_RST = 0x04
    ZE_OOO = 0x08               # ooo_lo/ooo_hi hold data above the reassembly point
    ZE_ACTIVE = 0x10            # UDP/ICMP: this side sent something

# ---- ZeekConn.cflags
cpdef enum:
    ZC_OPEN = 0x01              # a record is open (Zeek has a connection for this flow)
    ZC_ORIG_IS_B = 0x02         # the originator is the key's endpoint b
    ZC_PARTIAL = 0x04           # Zeek's is_partial
    ZC_SEEN_ORIG = 0x08         # Zeek's first_packet_seen bits
    ZC_SEEN_RESP = 0x10
    ZC_ACTIVE = 0x20            # Zeek's is_active (timers still running)
    ZC_TRUNCATED = 0x40         # history longer than HIST_MAX: later letters dropped
    ZC_FLIPPED = 0x80           # roles were flipped at least once

cpdef enum:
    HIST_MAX = 24
    CNT_CHECKSUM = 0
    CNT_RETRANSMIT = 1
    CNT_ZERO_WINDOW = 2
    CNT_GAP = 3


ctypedef struct ZeekEnd:
    uint64_t ip_bytes           # IP total lengths of the packets this side sent
    uint64_t size               # UDP/ICMP/other: payload bytes sent (TCP sizes come from seqs)
    int64_t start               # TCP: start_seq (ISN, or first seq - 1 when the SYN was missed)
    uint32_t pkts
    uint32_t last               # TCP: highest seq + len sent
    uint32_t ack                # TCP: highest ack the peer sent for this side's data
    uint32_t reassem            # reassembly point, relative: below it all was delivered or a gap
    uint32_t trim               # highest relative ack the reassembler processed
    uint32_t ooo_lo             # relative range of data seen above the reassembly point
    uint32_t ooo_hi
    uint32_t fin_rel            # relative sequence number one past the FIN
    uint16_t last_wraps
    uint16_t ack_wraps
    uint16_t hist_syn           # low 16 bits of the seq of the last SYN/FIN/RST letter
    uint16_t hist_fin
    uint16_t hist_rst
    uint16_t cnt[4]             # CNT_*: for the logarithmic letters C, T, W, G
    uint16_t flags_seen         # union of TCP flags sent
    uint8_t state               # ZS_*
    uint8_t prev_state
    uint8_t eflags              # ZE_*
    uint8_t _pad


ctypedef struct ZeekConn:
    ZeekEnd e[2]                # [0] is Zeek's originator
    int64_t first_ts
    int64_t last_ts             # Zeek's LastTime (not advanced by packets after both sides closed)
    int64_t deadline            # when Zeek would remove the connection if nothing else arrives
    int64_t attempt_ts          # originator's SYN that armed the attempt timer (0: none)
    int64_t close_at            # removal time scheduled by a completed close (0: none)
    int64_t etick               # base of an extra expire-timer chain (0: none)
    uint64_t missed             # bytes in content gaps (conn.log missed_bytes)
    uint32_t hist_seen          # letters already recorded: originator's bits low, responder's << 16
    char hist[HIST_MAX]
    uint8_t hist_len
    uint8_t cflags              # ZC_*
    uint8_t proto_class         # PC_*
    uint8_t timeout_kind        # 0: short (udp timeout), 1: tcp, 2: interactive service (1 h), 3: dns


ctypedef struct ZeekCfg:
    const uint8_t* tcp_ports    # 8192-byte bitmaps: likely server ports (Zeek's likely_server_ports)
    const uint8_t* udp_ports
    const uint8_t* dns_ports    # UDP ports where Zeek's DNS analyzer runs (its own session timer)
    int64_t tcp_inactivity
    int64_t udp_inactivity
    int64_t icmp_inactivity
    int64_t other_inactivity
    int64_t interactive_inactivity
    int64_t attempt_delay
    int64_t close_delay
    int64_t linger
    int64_t session_timer
    int64_t syn_timeout
    int64_t dns_session
    bint report_gaps_for_partial


cdef void zk_open(ZeekConn* z, const PacketRecord* r, int side, int64_t ts,
                  const ZeekCfg* cfg) noexcept nogil
cdef bint zk_is_reuse(const ZeekConn* z, const PacketRecord* r) noexcept nogil
cdef void zk_packet(ZeekConn* z, int side, const PacketRecord* r, int64_t ts,
                    const ZeekCfg* cfg) noexcept nogil
cdef uint8_t zk_conn_state(const ZeekConn* z) noexcept nogil
cdef uint64_t zk_size(const ZeekConn* z, int end) noexcept nogil
cdef uint32_t ip_total_len(const PacketRecord* r) noexcept nogil
cdef void zk_update_deadline(ZeekConn* z, const ZeekCfg* cfg) noexcept nogil
