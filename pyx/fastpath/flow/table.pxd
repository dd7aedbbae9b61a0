# The flow table's C records, for modules that cimport them (the numpy mirror of ConnRecord is
# CONN_DTYPE in fastpath.flow.table).
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from fastpath.flow.key cimport FlowKey
from fastpath.flow.conntrack cimport TcpConn

# ---- why a record was written
cpdef enum:
    END_IDLE = 0                # inactivity (conntrack timeout, or Zeek's inactivity rules)
    END_CLOSED = 1              # Zeek's close delay after FIN/RST exchange elapsed
    END_REUSED = 2              # a new connection started on the same tuple
    END_RESET = 3               # removed after a RST answered an unanswered SYN (conntrack)
    END_EVICTED = 4             # the table was full and the policy chose this flow
    END_FLUSHED = 5             # end of input (flush)
    END_ACTIVE = 6              # still running: a snapshot, the flow stays in the table

# ---- ConnRecord.flags
cpdef enum:
    RF_ASSURED = 0x01           # conntrack saw a completed, confirmed handshake
    RF_FLIPPED = 0x02           # Zeek's heuristics swapped originator and responder
    RF_LOOSE = 0x04             # conntrack picked the connection up mid-stream
    RF_HISTORY_TRUNCATED = 0x08 # history longer than the field; later letters dropped
    RF_PARTIAL = 0x10           # Zeek's is_partial: no initial SYN from the originator

ctypedef struct FlowCore:       # 96 bytes: the middlebox state of one flow
    FlowKey key
    int64_t expires             # conntrack timer (ns, packet time)
    TcpConn tcp                 # TCP window tracking; other protocols use status and owner only

ctypedef struct ConnRecord:     # one conn.log line
    int64_t ts_ns               # first packet
    int64_t last_ts_ns          # last packet that counts for Zeek's duration
    uint8_t orig_addr[16]       # IPv6, or IPv4-mapped (::ffff:a.b.c.d) when ip_version == 4
    uint8_t resp_addr[16]
    uint64_t orig_pkts
    uint64_t resp_pkts
    uint64_t orig_ip_bytes
    uint64_t resp_ip_bytes
    uint64_t orig_bytes         # payload: from sequence numbers for TCP (as Zeek)
    uint64_t resp_bytes
    uint64_t missed_bytes       # bytes in content gaps (acknowledged but never seen)
    uint16_t orig_port          # ICMP: message type
    uint16_t resp_port          # ICMP: counterpart type, or code for one-way messages
    uint16_t vlan               # outer VLAN ID when VLANs are part of the key, else 0
    uint16_t inner_vlan
    uint16_t orig_flags         # union of TCP flags each side sent
    uint16_t resp_flags
    uint8_t proto               # IP protocol number
    uint8_t ip_version
    uint8_t conn_state          # CS_* (fastpath.flow.zeek.CONN_STATE_NAMES)
    uint8_t tcp_state           # conntrack state when written (CT_*)
    uint8_t end_reason          # END_*
    uint8_t flags               # RF_*
    char history[24]
    uint8_t reserved[6]
