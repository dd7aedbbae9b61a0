"""Whole packets with correct checksums from Python (``tcp_packet``, ``udp_packet``,
``icmp_echo``, ``arp_request``, ...). Addresses decide IPv4 or IPv6. C code builds frames with
the per-protocol ``*_emit`` functions directly (see fastpath.tcp's output path)."""
from fastpath.wire.record cimport IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6, ETH_P_IPV4, ETH_P_IPV6

import ipaddress

from fastpath.wire.ethernet import EthernetRepr
from fastpath.wire.ipv4 import Ipv4Repr
from fastpath.wire.ipv6 import Ipv6Repr
from fastpath.wire.tcp import TcpRepr
from fastpath.wire.udp import UdpRepr
from fastpath.wire.icmp import IcmpRepr
from fastpath.wire.arp import ArpRepr
from fastpath.wire.checksum import pseudo_header_sum


# ---------------------------------------------------------------- Python builders

def _ip_pair(src, dst):
    s = ipaddress.ip_address(src)
    d = ipaddress.ip_address(dst)
    if s.version != d.version:
        raise ValueError(f"source {s} and destination {d} are different IP versions")
    return s, d


def _l2(ethernet, int version):
    """Ethernet header bytes for ``ethernet``: None (raw IP), an EthernetRepr, or a
    (src_mac, dst_mac) pair."""
    if ethernet is None:
        return b""
    if not isinstance(ethernet, EthernetRepr):
        src_mac, dst_mac = ethernet
        ethernet = EthernetRepr(dst_mac, src_mac, 0)
    e = EthernetRepr(ethernet.dst, ethernet.src, ETH_P_IPV4 if version == 4 else ETH_P_IPV6,
                     ethernet.tags)
    return e.to_bytes()


def ip_packet(src, dst, int proto, bytes l4, *, int ttl=64, int ident=0, bint df=False,
              int tos=0, ethernet=None):
    """An IPv4 or IPv6 header (chosen by the addresses) in front of the upper-layer bytes
    ``l4``, optionally in an Ethernet frame."""
    s, d = _ip_pair(src, dst)
    if s.version == 4:
        ip = Ipv4Repr(s, d, proto, len(l4), ttl=ttl, tos=tos, ident=ident, df=df).to_bytes()
    else:
        ip = Ipv6Repr(s, d, proto, len(l4), hop_limit=ttl, traffic_class=tos).to_bytes()
    return _l2(ethernet, s.version) + ip + l4


def tcp_packet(src, dst, int sport, int dport, *, unsigned int seq=0, unsigned int ack=0,
               int flags=0x10, int window=65535, bytes payload=b"", mss=None, wscale=None,
               bint sack_permitted=False, timestamp=None, sack=(), int urgent=0, int ttl=64,
               int ident=0, bint df=True, ethernet=None):
    """A TCP segment in IPv4 or IPv6, checksums filled; bytes of the whole packet/frame."""
    s, d = _ip_pair(src, dst)
    tcp = TcpRepr(sport, dport, seq, ack, flags, window, urgent, mss, wscale, sack_permitted,
                  timestamp, sack)
    seg_len = tcp.buffer_len() + len(payload)
    seg = tcp.to_bytes(payload, pseudo_header_sum(s.packed, d.packed, IPPROTO_TCP, seg_len))
    return ip_packet(s, d, IPPROTO_TCP, seg, ttl=ttl, ident=ident, df=df, ethernet=ethernet)


def udp_packet(src, dst, int sport, int dport, bytes payload=b"", *, int ttl=64, int ident=0,
               bint checksum=True, ethernet=None):
    """A UDP datagram in IPv4 or IPv6 (where the checksum is mandatory)."""
    s, d = _ip_pair(src, dst)
    if not checksum and s.version == 6:
        raise ValueError("UDP over IPv6 must carry a checksum (RFC 8200 8.1)")
    udp = UdpRepr(sport, dport)
    dgram = udp.to_bytes(payload, pseudo_header_sum(s.packed, d.packed, IPPROTO_UDP,
                                                    8 + len(payload)), checksum)
    return ip_packet(s, d, IPPROTO_UDP, dgram, ttl=ttl, ident=ident, ethernet=ethernet)


def icmp_packet(src, dst, int type, int code=0, unsigned int rest=0, bytes payload=b"", *,
                int ttl=64, ethernet=None):
    """An ICMP (IPv4) or ICMPv6 (IPv6) message with the checksum filled."""
    s, d = _ip_pair(src, dst)
    msg = IcmpRepr(type, code, rest)
    if s.version == 4:
        body = msg.to_bytes(payload)
        return ip_packet(s, d, IPPROTO_ICMP, body, ttl=ttl, ethernet=ethernet)
    body = msg.to_bytes(payload, pseudo_header_sum(s.packed, d.packed, IPPROTO_ICMPV6,
                                                   8 + len(payload)))
    return ip_packet(s, d, IPPROTO_ICMPV6, body, ttl=ttl, ethernet=ethernet)


def icmp_echo(src, dst, int ident, int seq, bytes payload=b"", *, bint request=True, int ttl=64,
              ethernet=None):
    """An ICMP or ICMPv6 echo request (or reply)."""
    s, d = _ip_pair(src, dst)
    m = IcmpRepr.echo(ident, seq, request, s.version == 6)
    return icmp_packet(s, d, m.type, 0, m.rest, payload, ttl=ttl, ethernet=ethernet)


def arp_request(sender_mac, sender_ip, target_ip):
    """A broadcast Ethernet frame asking who has ``target_ip``."""
    arp = ArpRepr(1, sender_mac, sender_ip, b"\0" * 6, target_ip).to_bytes()
    return EthernetRepr(b"\xff" * 6, sender_mac, 0x0806).to_bytes() + arp


def arp_reply(sender_mac, sender_ip, target_mac, target_ip):
    """A unicast Ethernet frame answering an ARP request from ``target_mac``/``target_ip``."""
    arp = ArpRepr(2, sender_mac, sender_ip, target_mac, target_ip).to_bytes()
    return EthernetRepr(target_mac, sender_mac, 0x0806).to_bytes() + arp


def ethernet_frame(dst, src, int ethertype, bytes payload, tags=()):
    return EthernetRepr(dst, src, ethertype, tags).to_bytes() + payload
