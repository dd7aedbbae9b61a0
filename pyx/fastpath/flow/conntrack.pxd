# TCP connection tracking as a middlebox sees it, modelled on netfilter's TCP tracker and the
# window tracking of Guido van Rooij, "Real Stateful TCP Packet Filtering in IP Filter" (2000).
# The table in conntrack.pyx gives the state transitions; ct_tcp_packet() applies them together
# with the sequence/acknowledgement window checks. No Python objects, no GIL.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int64_t
from fastpath.wire.record cimport PacketRecord

# ---- connection states (the numbering is netfilter's, as exposed by ctnetlink)
cpdef enum:
    CT_NONE = 0
    CT_SYN_SENT = 1
    CT_SYN_RECV = 2
    CT_ESTABLISHED = 3
    CT_FIN_WAIT = 4
    CT_CLOSE_WAIT = 5
    CT_LAST_ACK = 6
    CT_TIME_WAIT = 7
    CT_CLOSE = 8
    CT_SYN_SENT2 = 9            # simultaneous open: a SYN came back instead of a SYN/ACK
    CT_NUM_STATES = 10
    CT_INVALID = 10             # transition-table results, never stored
    CT_IGNORE = 11

# ---- what a segment is, for the transition table (RST wins, then SYN, FIN, ACK)
cpdef enum:
    EV_SYN = 0
    EV_SYNACK = 1
    EV_FIN = 2
    EV_ACK = 3
    EV_RST = 4
    EV_NONE = 5
    EV_COUNT = 6

# ---- directions
cpdef enum:
    DIR_ORIGINAL = 0            # the sender of the packet that created the flow
    DIR_REPLY = 1

# ---- per-direction flags (TcpConn.dflags)
cpdef enum:
    TD_WSCALE = 0x01            # window scale option seen in this side's SYN
    TD_SACK_PERM = 0x02         # SACK-permitted seen in this side's SYN
    TD_CLOSE_INIT = 0x04        # this side sent the first FIN
    TD_DATA_UNACK = 0x08        # this side has data the peer has not acknowledged
    TD_MAXACK_SET = 0x10        # maxack holds a value
    TD_LIBERAL = 0x20           # picked up mid-stream: window failures do not make packets invalid

# ---- connection status (TcpConn.status)
cpdef enum:
    ST_SEEN_REPLY = 0x01        # an acceptable packet went in the reply direction
    ST_ASSURED = 0x02           # handshake completed and confirmed both ways: protected from eviction
    ST_SIMULTANEOUS = 0x04      # SYN_SENT2 was passed through
    ST_CHALLENGE_ACK = 0x08     # a SYN was ignored in LAST_ACK: the next ACK may be an RFC 5961 challenge
    ST_LOOSE = 0x10             # created from a mid-stream packet (loose pickup)

# ---- per-packet verdicts
cpdef enum:
    V_ACCEPT = 0                # valid; state updated
    V_NEW = 1                   # valid; created a new flow
    V_IGNORE = 2                # tracked but not used to update state (may be valid, may not)
    V_INVALID = 3               # invalid: state untouched, counted by reason
    V_UNTRACKED = 4             # not trackable (see the reason), or the table had no room

# ---- reasons behind a verdict (counted per table; R_NONE for plain accepts)
cpdef enum:
    R_NONE = 0
    R_BAD_FLAGS = 1             # impossible flag combination (SYN+FIN, no flags, FIN without ACK, ...)
    R_BAD_CHECKSUM = 2          # transport checksum verified bad
    R_BAD_STATE = 3             # the transition table rejects this segment in this state
    R_NOT_NEW = 4               # segment cannot open a connection (SYN/ACK, FIN, RST first; or loose off)
    R_SEQ_OVER = 5              # sequence number beyond the receiver's window
    R_ACK_OVER = 6              # acknowledges data never sent
    R_BAD_RST = 7               # RST whose sequence number is below what the peer already acknowledged
    R_IGNORED_STATE = 8         # state table says ignore (SYN in ESTABLISHED, retransmitted SYN/ACK, ...)
    R_SEQ_UNDER = 9             # retransmission of data the receiver already acknowledged
    R_ACK_UNDER = 10            # acknowledgement far below the window (overly delayed)
    R_OVERSHOOT = 11            # more bytes than the receive window allows (tolerated, not used)
    R_NON_IP = 12               # no IPv4/IPv6 layer (ARP, ...)
    R_FRAGMENT = 13             # non-first IP fragment: no transport header
    R_PARSE_ERROR = 14          # the parser stopped before the transport header
    R_BAD_IP_CHECKSUM = 15      # IPv4 header checksum verified bad
    R_TABLE_FULL = 16           # no room and the eviction policy protected every candidate
    R_REOPENED = 17             # new connection on the tuple of a closed/aborted one
    R_RST_UNCONFIRMED = 18      # RST not exactly at the expected sequence: state kept (RFC 5961 3.2)
    R_NO_TRANSPORT = 19         # IPv6 "no next header" (59): nothing above IP, no connection
    R_COUNT = 20

# ---- what the table must do after a packet (ct_tcp_packet's *action)
cpdef enum:
    ACT_NONE = 0
    ACT_KILL = 1                # remove the flow after this packet (RST answering an unanswered SYN)
    ACT_REOPEN = 2              # remove the flow, then create a new one from this same packet

# ---- timeout classes (index into the table's timeout array)
cpdef enum:
    TO_TCP = 0                  # TO_TCP + state: one per state
    TO_UNACK = 10               # data in flight unacknowledged, or mid-stream pickup without reply
    TO_UDP = 11                 # UDP, no reply seen
    TO_UDP_STREAM = 12          # UDP, both directions seen
    TO_ICMP = 13
    TO_OTHER = 14
    TO_KEEP = 15                # do not refresh the timer (SYN retransmission without a reply)
    TO_COUNT = 15


ctypedef struct TcpConn:
    uint32_t end[2]             # highest seq + len sent, per direction (td_end)
    uint32_t maxend[2]          # highest ack + window the peer offered: upper bound for seq (td_maxend)
    uint32_t maxwin[2]          # largest window this side advertised, scaled (td_maxwin)
    uint32_t maxack[2]          # highest ack this side sent (td_maxack)
    uint32_t last_end           # seq + len of the last accepted or ignored segment
    uint16_t last_win           # its raw window
    uint8_t scale[2]            # window scale shift, per direction (0 unless both sides offered it)
    uint8_t dflags[2]           # TD_* per direction
    uint8_t state               # CT_*
    uint8_t last                # last event (bits 0-2) and its direction (bit 3)
    uint8_t last_flags          # TD_WSCALE / TD_SACK_PERM of an ignored SYN, for resynchronisation
    uint8_t last_wscale
    uint8_t status              # ST_*
    uint8_t owner               # not used by the tracker: free for the flow table's own flags


cdef uint8_t tcp_event(uint16_t flags) noexcept nogil
cdef bint tcp_flags_valid(uint16_t flags) noexcept nogil
cdef uint8_t ct_tcp_new(TcpConn* c, const PacketRecord* r, bint loose, uint8_t* reason) noexcept nogil
cdef uint8_t ct_tcp_packet(TcpConn* c, int dir, const PacketRecord* r, uint8_t* reason,
                           uint8_t* action, uint8_t* timeout_class) noexcept nogil
cdef uint8_t ct_next_state(int dir, int event, int state) noexcept nogil
