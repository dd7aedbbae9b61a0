"""numpy mirrors of the C records in record.pxd, and the constants that give their fields meaning.

``FRAME_DTYPE``  -- one row per frame: where it is (what capture readers and I/O backends produce)
``PACKET_DTYPE`` -- one row per parsed packet (what ``fastpath.wire.parse`` produces)
"""
from libc.stdint cimport uint8_t
import numpy as np

from fastpath.wire.record cimport *

FRAME_FIELDS = [
    ("ts_ns", "<i8"),
    ("data_off", "<u8"),
    ("caplen", "<u4"),
    ("wirelen", "<u4"),
    ("linktype", "<u2"),
    ("iface", "<u2"),
    ("reserved", "<u4"),
]

PACKET_FIELDS = [
    ("ts_ns", "<i8"),
    ("data_off", "<u8"),
    ("caplen", "<u4"),
    ("wirelen", "<u4"),
    ("ip4_src", "<u4"),
    ("ip4_dst", "<u4"),
    ("tcp_seq", "<u4"),
    ("tcp_ack", "<u4"),
    ("tcp_tsval", "<u4"),
    ("tcp_tsecr", "<u4"),
    ("tcp_sack_max", "<u4"),
    ("payload_len", "<u4"),
    ("ip6_src", "u1", (16,)),
    ("ip6_dst", "u1", (16,)),
    ("linktype", "<u2"),
    ("iface", "<u2"),
    ("eth_type", "<u2"),
    ("l3_type", "<u2"),
    ("vlan", "<u2", (4,)),
    ("l3_off", "<u2"),
    ("l4_off", "<u2"),
    ("payload_off", "<u2"),
    ("inner_off", "<u2"),
    ("sport", "<u2"),
    ("dport", "<u2"),
    ("tcp_flags", "<u2"),
    ("tcp_window", "<u2"),
    ("tcp_mss", "<u2"),
    ("ip_id", "<u2"),
    ("frag_off", "<u2"),
    ("arp_op", "<u2"),
    ("error", "u1"),
    ("vlan_count", "u1"),
    ("ip_version", "u1"),
    ("ip_proto", "u1"),
    ("ip_ttl", "u1"),
    ("ip_flags", "u1"),
    ("tcp_wscale", "u1"),
    ("tcp_opts", "u1"),
    ("icmp_type", "u1"),
    ("icmp_code", "u1"),
    ("csum_ip", "u1"),
    ("csum_l4", "u1"),
    ("inner_kind", "u1"),
    ("l4_avail", "u1"),
    ("vlan_stag", "u1"),
    ("reserved", "u1"),
]

# Little-endian on the wire of the array: the records are native C structs, and fastpath's
# supported hosts (x86-64, arm64) are little-endian. A big-endian host fails the layout check.
FRAME_DTYPE = np.dtype(FRAME_FIELDS, align=True)
PACKET_DTYPE = np.dtype(PACKET_FIELDS, align=True)


cdef size_t _off(void* base, void* field):
    return <size_t>(<char*>field - <char*>base)


def c_layout():
    """(sizeof, {field: offset}) of FrameRef and PacketRecord as the C compiler laid them out."""
    cdef FrameRef f
    cdef PacketRecord p
    frame = {
        "ts_ns": _off(&f, &f.ts_ns), "data_off": _off(&f, &f.data_off),
        "caplen": _off(&f, &f.caplen), "wirelen": _off(&f, &f.wirelen),
        "linktype": _off(&f, &f.linktype), "iface": _off(&f, &f.iface),
        "reserved": _off(&f, &f.reserved),
    }
    pkt = {
        "ts_ns": _off(&p, &p.ts_ns), "data_off": _off(&p, &p.data_off),
        "caplen": _off(&p, &p.caplen), "wirelen": _off(&p, &p.wirelen),
        "ip4_src": _off(&p, &p.ip4_src), "ip4_dst": _off(&p, &p.ip4_dst),
        "tcp_seq": _off(&p, &p.tcp_seq), "tcp_ack": _off(&p, &p.tcp_ack),
        "tcp_tsval": _off(&p, &p.tcp_tsval), "tcp_tsecr": _off(&p, &p.tcp_tsecr),
        "tcp_sack_max": _off(&p, &p.tcp_sack_max), "payload_len": _off(&p, &p.payload_len),
        "ip6_src": _off(&p, &p.ip6_src[0]), "ip6_dst": _off(&p, &p.ip6_dst[0]),
        "linktype": _off(&p, &p.linktype), "iface": _off(&p, &p.iface),
        "eth_type": _off(&p, &p.eth_type), "l3_type": _off(&p, &p.l3_type),
        "vlan": _off(&p, &p.vlan[0]), "l3_off": _off(&p, &p.l3_off),
        "l4_off": _off(&p, &p.l4_off), "payload_off": _off(&p, &p.payload_off),
        "inner_off": _off(&p, &p.inner_off), "sport": _off(&p, &p.sport),
        "dport": _off(&p, &p.dport), "tcp_flags": _off(&p, &p.tcp_flags),
        "tcp_window": _off(&p, &p.tcp_window), "tcp_mss": _off(&p, &p.tcp_mss),
        "ip_id": _off(&p, &p.ip_id), "frag_off": _off(&p, &p.frag_off),
        "arp_op": _off(&p, &p.arp_op), "error": _off(&p, &p.error),
        "vlan_count": _off(&p, &p.vlan_count), "ip_version": _off(&p, &p.ip_version),
        "ip_proto": _off(&p, &p.ip_proto), "ip_ttl": _off(&p, &p.ip_ttl),
        "ip_flags": _off(&p, &p.ip_flags), "tcp_wscale": _off(&p, &p.tcp_wscale),
        "tcp_opts": _off(&p, &p.tcp_opts), "icmp_type": _off(&p, &p.icmp_type),
        "icmp_code": _off(&p, &p.icmp_code), "csum_ip": _off(&p, &p.csum_ip),
        "csum_l4": _off(&p, &p.csum_l4), "inner_kind": _off(&p, &p.inner_kind),
        "l4_avail": _off(&p, &p.l4_avail), "vlan_stag": _off(&p, &p.vlan_stag),
        "reserved": _off(&p, &p.reserved),
    }
    return (sizeof(FrameRef), frame), (sizeof(PacketRecord), pkt)


def _check_layout():
    (fsize, foffs), (psize, poffs) = c_layout()
    for name, dt, size, offs in (("FrameRef", FRAME_DTYPE, fsize, foffs),
                                 ("PacketRecord", PACKET_DTYPE, psize, poffs)):
        npoffs = {k: dt.fields[k][1] for k in dt.names}
        if dt.itemsize != size or npoffs != offs or not np.little_endian:
            raise ImportError(f"fastpath: the numpy mirror of {name} does not match the C struct "
                              f"(numpy {dt.itemsize} bytes, C {size}); rebuild after editing record.pxd")


_check_layout()

# ---- constants, for Python code and for reading the arrays
OFFSET_NONE = OFF_NONE
WSCALE_ABSENT = WSCALE_NONE
MAX_VLAN_TAGS = MAX_VLAN

ERRORS = {
    ERR_NONE: "ok",
    ERR_TRUNCATED: "truncated",
    ERR_BAD_LENGTH: "bad-length",
    ERR_BAD_VERSION: "bad-version",
    ERR_UNSUPPORTED_LINKTYPE: "unsupported-linktype",
    ERR_TOO_MANY_TAGS: "too-many-vlan-tags",
    ERR_BAD_OPTION: "bad-option",
    ERR_EXT_CHAIN: "ipv6-extension-chain-too-long",
    ERR_BAD_FRAME: "frame-outside-buffer",
}

CHECKSUM_STATUS = {CSUM_BAD: "bad", CSUM_GOOD: "good", CSUM_UNVERIFIED: "unverified",
                   CSUM_NONE: "not-present", CSUM_ILLEGAL: "illegal"}

LINKTYPES = {
    LINKTYPE_NULL: "NULL", LINKTYPE_ETHERNET: "ETHERNET", LINKTYPE_RAW_DLT12: "RAW",
    LINKTYPE_RAW_DLT14: "RAW", LINKTYPE_RAW: "RAW", LINKTYPE_LOOP: "LOOP",
    LINKTYPE_LINUX_SLL: "LINUX_SLL", LINKTYPE_IPV4: "IPV4", LINKTYPE_IPV6: "IPV6",
    LINKTYPE_LINUX_SLL2: "LINUX_SLL2", LINKTYPE_PPP: "PPP", LINKTYPE_PPP_HDLC: "PPP_HDLC",
    LINKTYPE_C_HDLC: "C_HDLC", LINKTYPE_NFLOG: "NFLOG",
}

INNER_KINDS = {INNER_NONE: "none", INNER_ICMP_QUOTE: "icmp-quote", INNER_IP_IN_IP: "ip-in-ip",
               INNER_GRE_IP: "gre-ip", INNER_GRE_ETH: "gre-eth", INNER_VXLAN: "vxlan",
               INNER_TEREDO: "teredo", INNER_GENEVE_ETH: "geneve-eth", INNER_GENEVE_IP: "geneve-ip",
               INNER_PIM_REGISTER: "pim-register", INNER_MPLS_IP: "mpls-ip",
               INNER_ETH_IN_IP: "eth-in-ip"}

# Inner packets that start with an Ethernet header (the rest start with an IP header).
INNER_ETHERNET_KINDS = (INNER_GRE_ETH, INNER_VXLAN, INNER_GENEVE_ETH, INNER_ETH_IN_IP)

# Bit names for ip_flags and tcp_opts.
IP_FLAG_BITS = {"DF": IPF_DF, "MF": IPF_MF, "FRAGMENT": IPF_FRAGMENT, "NONFIRST": IPF_NONFIRST,
                "OPTIONS": IPF_OPTIONS, "JUMBO": IPF_JUMBO, "ROUTING": IPF_ROUTING,
                "HOME_ADDR": IPF_HOME_ADDR}
TCP_OPT_BITS = {"MSS": OPT_MSS, "WSCALE": OPT_WSCALE, "SACK_PERM": OPT_SACK_PERM,
                "SACK": OPT_SACK, "TIMESTAMP": OPT_TIMESTAMP, "UNKNOWN": OPT_UNKNOWN,
                "MALFORMED": OPT_MALFORMED}

