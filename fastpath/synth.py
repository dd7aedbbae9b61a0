"""A deterministic generator of realistic mixed traffic, for benchmarks, demos and tests.

Same seed and packet count, same bytes. The traffic is what a tap on a small site's uplink
would see: clients on an untagged LAN, two 802.1Q VLANs (one of them voice, PCP 5) and two
802.1ad QinQ customer VLANs, talking to servers out on the Internet through their gateway.

- TCP connections with a three-way handshake whose options follow the client's stack (Linux:
  MSS, SACK-permitted, timestamps, window scale; Windows: no timestamps; macOS), request and
  response transfers clocked by ACKs (slow start, delayed ACKs, losses with duplicate ACKs that
  carry SACK blocks, fast and timeout retransmission), then FIN or RST teardown, or a refusal;
- UDP: DNS queries and answers (some large enough to be fragmented, over IPv4 and over IPv6
  with a fragment header), voice (RTP-like, every 20 ms), QUIC-like bulk downloads, NTP;
- ICMP and ICMPv6 echo, traceroute with time-exceeded and port-unreachable errors that quote
  the probe, fragmentation-needed / packet-too-big errors quoting a TCP segment;
- ARP, IPv6 neighbour discovery, MLDv2 reports (hop-by-hop Router Alert), IGMPv3 reports (IPv4
  Router Alert option).

Every checksum is correct: IPv4 headers (also in quoted headers), TCP, UDP (over the whole
datagram before fragmentation), ICMP, ICMPv6 and IGMP. Frames shorter than 60 bytes are
padded as on the wire. Timestamps are microseconds from a fixed start, and never go back.

Memory is bounded: packets are produced in time order by merging per-session generators, and
capture files are written chunk by chunk.

    >>> from fastpath.synth import write_capture
    >>> stats = write_capture("mixed.pcap", packets=10_000, seed=1)
    >>> stats.protocols["tcp"]          # packets with a TCP header (quoted ones count too)
"""
from __future__ import annotations

import bisect
import heapq
import math
import os
import random
import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional

import numpy as np

from fastpath.errors import BuildError, ConfigError
from fastpath.wire.checksum import internet_checksum, pseudo_header_sum
from fastpath.wire.record import FRAME_DTYPE

# Bump whenever the bytes for a given (seed, count) change: benchmark caches are keyed on it.
GENERATOR_VERSION = 3
DEFAULT_PACKETS = 1_000_000
DEFAULT_SEED = 1
# 2024-03-12 10:00:00 UTC: a fixed start so that the capture is the same on every run.
START_NS = 1_710_237_600 * 1_000_000_000
SNAPLEN = 262144
LINKTYPE_ETHERNET = 1
MAX_PACKETS = 1 << 40

_MS = 1_000_000
_S = 1_000_000_000
_M32 = 0xFFFFFFFF

# ---------------------------------------------------------------- packing helpers
_U16 = struct.Struct("!H").pack
_U32 = struct.Struct("!I").pack
_TWO32 = struct.Struct("!II").pack
_ETH_TYPE = struct.Struct("!H").pack
_TAG = struct.Struct("!HH").pack
_IP4 = struct.Struct("!BBHHHBBH4s4s").pack
_IP6 = struct.Struct("!IHBB16s16s").pack
_TCP = struct.Struct("!HHIIHHHH").pack
_UDP = struct.Struct("!HHHH").pack
_ICMP = struct.Struct("!BBHHH").pack
_ARP = struct.Struct("!HHBBH6s4s6s4s").pack
_FRAG6 = struct.Struct("!BBHI").pack
_DNS_HDR = struct.Struct("!HHHHHH").pack
_RTP = struct.Struct("!BBHII").pack

ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ETH_IPV6 = 0x86DD
TPID_8021Q = 0x8100
TPID_8021AD = 0x88A8

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10
DF = 0x4000
MF = 0x2000

BROADCAST = b"\xff" * 6


def _pad(frame: bytearray) -> bytearray:
    # Ethernet's minimum frame is 64 bytes with the FCS, so 60 as captured.
    if len(frame) < 60:
        frame += bytes(60 - len(frame))
    return frame


def ipv4_header(src: bytes, dst: bytes, proto: int, ttl: int, ident: int, payload_len: int,
                flags_frag: int = DF, tos: int = 0, options: bytes = b"") -> bytearray:
    """An IPv4 header with its checksum filled in."""
    ihl = 5 + (len(options) >> 2)
    hdr = bytearray(_IP4(0x40 | ihl, tos, ihl * 4 + payload_len, ident & 0xFFFF, flags_frag, ttl,
                         proto, 0, src, dst))
    if options:
        hdr += options
    hdr[10:12] = _U16(internet_checksum(hdr))
    return hdr


def ipv6_header(src: bytes, dst: bytes, next_header: int, hop_limit: int, payload_len: int,
                flow: int = 0, tclass: int = 0) -> bytes:
    return _IP6(0x60000000 | (tclass << 20) | flow, payload_len, next_header, hop_limit, src, dst)


def tcp_segment(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int,
                window: int, options: bytes, payload: bytes) -> bytearray:
    """A TCP header, options and payload, checksummed over the pseudo-header (RFC 9293 3.1)."""
    seg = bytearray(_TCP(sport, dport, seq & _M32, ack & _M32, ((20 + len(options)) << 10) | flags,
                         window, 0, 0))
    seg += options
    seg += payload
    seg[16:18] = _U16(internet_checksum(seg, pseudo_header_sum(src, dst, 6, len(seg))))
    return seg


def udp_datagram(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes) -> bytearray:
    """A UDP datagram with its checksum (RFC 768: a computed zero is sent as 0xffff)."""
    dg = bytearray(_UDP(sport, dport, 8 + len(payload), 0))
    dg += payload
    c = internet_checksum(dg, pseudo_header_sum(src, dst, 17, len(dg)))
    dg[6:8] = _U16(c or 0xFFFF)
    return dg


def icmp_message(icmp_type: int, code: int, rest: bytes, body: bytes) -> bytearray:
    """ICMPv4 (RFC 792): the checksum covers the message only."""
    msg = bytearray(bytes((icmp_type, code, 0, 0)))
    msg += rest
    msg += body
    msg[2:4] = _U16(internet_checksum(msg))
    return msg


def icmpv6_message(src: bytes, dst: bytes, icmp_type: int, code: int, rest: bytes,
                   body: bytes) -> bytearray:
    """ICMPv6 (RFC 4443 2.3): the checksum includes the IPv6 pseudo-header."""
    msg = bytearray(bytes((icmp_type, code, 0, 0)))
    msg += rest
    msg += body
    msg[2:4] = _U16(internet_checksum(msg, pseudo_header_sum(src, dst, 58, len(msg))))
    return msg


def ipv4_fragments(l2: bytes, src: bytes, dst: bytes, proto: int, ttl: int, ident: int,
                   datagram: bytes, mtu: int = 1500) -> list:
    """Frames carrying ``datagram`` (an upper-layer message) in IPv4 fragments (RFC 791)."""
    step = (mtu - 20) // 8 * 8
    out = []
    for off in range(0, len(datagram), step):
        part = datagram[off:off + step]
        more = MF if off + step < len(datagram) else 0
        frame = bytearray(l2)
        frame += ipv4_header(src, dst, proto, ttl, ident, len(part), more | (off >> 3))
        frame += part
        out.append(_pad(frame))
    return out


def ipv6_fragments(l2: bytes, src: bytes, dst: bytes, next_header: int, hop_limit: int, ident: int,
                   datagram: bytes, mtu: int = 1500) -> list:
    """Frames carrying ``datagram`` in IPv6 fragments (RFC 8200 4.5: fragment header, 8-byte units)."""
    step = (mtu - 40 - 8) // 8 * 8
    out = []
    for off in range(0, len(datagram), step):
        part = datagram[off:off + step]
        more = 1 if off + step < len(datagram) else 0
        frame = bytearray(l2)
        frame += ipv6_header(src, dst, 44, hop_limit, 8 + len(part))
        frame += _FRAG6(next_header, 0, off | more, ident)
        frame += part
        out.append(_pad(frame))
    return out


# ---------------------------------------------------------------- the network
@dataclass(eq=False)
class Segment:
    """One broadcast domain seen by the tap: its tags and its gateway."""
    index: int
    name: str
    tags: tuple            # ((tpid, tci), ...), outer first
    gw_mac: bytes
    gw_ip4: bytes
    gw_ip6: bytes
    gw_ll6: bytes
    tag_bytes: bytes = b""
    l2_tokens: tuple = ()

    def __post_init__(self):
        self.tag_bytes = b"".join(_TAG(tpid, tci) for tpid, tci in self.tags)
        self.l2_tokens = (("vlan",) if self.tags else ()) + (("vlan2",) if len(self.tags) > 1 else ())

    def l2(self, dst: bytes, src: bytes, ethertype: int) -> bytes:
        return dst + src + self.tag_bytes + _ETH_TYPE(ethertype)


@dataclass(eq=False)
class Client:
    mac: bytes
    ip4: bytes
    ip6: Optional[bytes]
    ll6: bytes
    seg: Segment
    stack: str             # linux, windows, macos
    ip_id: int


@dataclass(eq=False)
class Server:
    ip4: bytes
    ip6: bytes
    hops: int
    ttl: int               # initial TTL of its stack
    sack: bool
    ts: bool
    ws: int                # window scale it offers, -1 for none
    mss4: int


_STACKS = {
    # initial TTL, SYN window, window scale, timestamps, SYN option order
    "linux": (64, 64240, 7, True),
    "windows": (128, 64240, 8, False),
    "macos": (64, 65535, 6, True),
}

_WORDS = ("alpha", "bravo", "cloud", "delta", "echo", "fabric", "garden", "harbor", "index",
          "jungle", "kite", "lumen", "metro", "nova", "orbit", "pixel", "quartz", "river",
          "solar", "tango", "umbra", "vector", "willow", "xenon", "yonder", "zephyr", "static",
          "media", "mail", "shop", "news", "video", "maps", "store", "api", "auth", "cdn")
_TLDS = (b"com", b"net", b"org", b"io", b"de", b"fr", b"co", b"dev")


def _public_ip4(rng: random.Random) -> bytes:
    while True:
        a = rng.randrange(1, 224)
        if a in (10, 100, 127, 169, 172, 192, 198, 203):
            continue
        return bytes((a, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)))


def _mac(rng: random.Random, oui: bytes) -> bytes:
    return oui + bytes(rng.randrange(256) for _ in range(3))


_OUIS = (b"\x00\x1b\x21", b"\x3c\x22\xfb", b"\xa4\x83\xe7", b"\xf0\x18\x98", b"\x00\x50\x56",
         b"\xb8\x27\xeb", b"\xdc\xa6\x32", b"\x8c\x85\x90", b"\x00\x0c\x29", b"\x48\x4d\x7e")


class Network:
    """Segments, clients, servers, resolvers and routers, all derived from the seed."""

    def __init__(self, rng: random.Random):
        seg_specs = [
            (0, "lan", ()),
            (10, "vlan10", ((TPID_8021Q, 10),)),
            (20, "voice", ((TPID_8021Q, (5 << 13) | 20),)),
            (30, "qinq-a", ((TPID_8021AD, 100), (TPID_8021Q, 30))),
            (31, "qinq-b", ((TPID_8021AD, 100), (TPID_8021Q, (3 << 13) | 31))),
        ]
        self.segments = []
        for idx, name, tags in seg_specs:
            self.segments.append(Segment(
                idx, name, tags, gw_mac=_mac(rng, b"\x00\x00\x5e"),
                gw_ip4=bytes((10, idx, 0, 1)),
                gw_ip6=b"\x20\x01\x0d\xb8" + _U16(idx) + bytes(9) + b"\x01",
                gw_ll6=b"\xfe\x80" + bytes(13) + b"\x01"))
        seg_weights = (50, 20, 10, 12, 8)
        self.clients = []
        for i in range(320):
            seg = rng.choices(self.segments, seg_weights)[0]
            iid = bytes(rng.randrange(256) for _ in range(8))
            stack = rng.choices(("linux", "windows", "macos"), (45, 35, 20))[0]
            self.clients.append(Client(
                mac=_mac(rng, rng.choice(_OUIS)),
                ip4=bytes((10, seg.index, rng.randrange(1, 16), rng.randrange(2, 255))),
                ip6=(b"\x20\x01\x0d\xb8" + _U16(seg.index) + b"\0\0" + iid) if rng.random() < 0.6 else None,
                ll6=b"\xfe\x80" + bytes(6) + iid,
                seg=seg, stack=stack, ip_id=rng.randrange(65536)))
        self.servers = []
        for i in range(4000):
            hops = rng.randrange(6, 24)
            kind = rng.random()
            if kind < 0.75:      # Linux
                srv = Server(_public_ip4(rng), self._ip6(rng), hops, 64, True, True, rng.choice((7, 9, 10)),
                             rng.choice((1460, 1460, 1460, 1400, 1380)))
            elif kind < 0.9:     # Windows / IIS
                srv = Server(_public_ip4(rng), self._ip6(rng), hops, 128, True, False, 8, 1460)
            else:                # an old or minimal stack: no SACK, timestamps or scaling
                srv = Server(_public_ip4(rng), self._ip6(rng), hops, 255, False, False, -1,
                             rng.choice((1460, 1360, 536)))
            self.servers.append(srv)
        # Zipf-like popularity: a few servers get most connections.
        self.server_cum = list(np.cumsum([1.0 / (r + 1) ** 0.9 for r in range(len(self.servers))]))
        self.resolvers = [Server(bytes((9, 9, 9, 9)), b"\x26\x20\x00\xfe" + bytes(10) + b"\x00\xfe", 8, 64,
                                 True, True, 7, 1460),
                          Server(bytes((1, 1, 1, 1)), b"\x26\x06\x47\x00\x47\x00" + bytes(8) + b"\x11\x11", 7, 64,
                                 True, True, 7, 1460)]
        self.routers4 = [_public_ip4(rng) for _ in range(40)]
        self.routers6 = [self._ip6(rng) for _ in range(40)]
        self.names = []
        for i in range(600):
            w = rng.choice(_WORDS).encode() + rng.choice(_WORDS).encode()
            first = rng.choice((b"www", b"api", b"cdn", b"static", b"img", b"mail", b"login"))
            self.names.append((first, w, rng.choice(_TLDS)))

    @staticmethod
    def _ip6(rng: random.Random) -> bytes:
        return (b"\x20\x01\x0d\xb8" + _U16(rng.randrange(0x1000, 0xFFFF)) + _U16(rng.randrange(1 << 16))
                + bytes(6) + _U16(rng.randrange(1, 0x200)))

    def server(self, rng: random.Random) -> Server:
        x = rng.random() * self.server_cum[-1]
        return self.servers[min(bisect.bisect_left(self.server_cum, x), len(self.servers) - 1)]


# ---------------------------------------------------------------- payload content
_POOL_SPAN = 1 << 20
_POOL_TEXT = 1 << 19


def _make_pool(rng: random.Random) -> bytes:
    """1 MiB of content: half opaque (TLS-like), half markup-like text; plus a wrap-around tail."""
    opaque = rng.randbytes(_POOL_TEXT)
    words = [w.encode() for w in _WORDS] + [b"<div>", b"</div>", b"<p>", b"</p>", b"class=\"x\"",
                                             b"\n", b"<a href=\"/", b"\">", b"</a>", b"the", b"and"]
    parts = []
    n = 0
    while n < _POOL_SPAN - _POOL_TEXT:
        w = rng.choice(words)
        parts.append(w)
        parts.append(b" ")
        n += len(w) + 1
    text = b"".join(parts)[:_POOL_SPAN - _POOL_TEXT]
    pool = opaque + text
    return pool + pool[:65536]


# ---------------------------------------------------------------- stats
@dataclass
class SynthStats:
    """What was generated. ``protocols`` counts packets by the headers they contain, anywhere in
    the frame (headers quoted in ICMP errors count), using tshark's protocol names: eth, vlan,
    ip, ipv6, tcp, udp, icmp, icmpv6, arp, igmp, ipv6.hopopts, ipv6.fraghdr; plus ``vlan2``
    (two or more tags) and ``ip.frag`` (an IPv4 fragment: MF set or a fragment offset)."""
    seed: int
    packets: int = 0
    bytes: int = 0
    first_ns: int = 0
    last_ns: int = 0
    sessions: Counter = field(default_factory=Counter)
    protocols: Counter = field(default_factory=Counter)

    def duration_s(self) -> float:
        return (self.last_ns - self.first_ns) / 1e9 if self.packets else 0.0


# ---------------------------------------------------------------- sessions
class _Ctx:
    """What every session needs: the network, the content pool, the common parameters."""

    def __init__(self, seed: int):
        rng = random.Random(seed)
        self.net = Network(rng)
        self.pool = _make_pool(rng)


def _lognormal_ns(rng, median_ns, sigma, lo, hi):
    return int(min(hi, max(lo, median_ns * math.exp(rng.gauss(0.0, sigma)))))


class _Ip:
    """Addressing of one client<->remote conversation in both directions (0 = from the client)."""

    __slots__ = ("v6", "src", "dst", "l2", "ttl", "ident", "tokens")

    def __init__(self, client: Client, remote_ip: bytes, remote_ttl: int, v6: bool, ethertype=None):
        seg = client.seg
        self.v6 = v6
        et = ETH_IPV6 if v6 else ETH_IPV4
        self.src = (client.ip6 if v6 else client.ip4, remote_ip)
        self.dst = (remote_ip, client.ip6 if v6 else client.ip4)
        self.l2 = (seg.l2(seg.gw_mac, client.mac, et), seg.l2(client.mac, seg.gw_mac, et))
        self.ttl = (_STACKS[client.stack][0], remote_ttl)
        self.ident = [client.ip_id, (remote_ip[-1] * 257 + remote_ip[-2]) & 0xFFFF]
        self.tokens = seg.l2_tokens + (("ipv6",) if v6 else ("ip",))

    def frame(self, d: int, proto: int, l4: bytes, df: int = DF) -> bytearray:
        frame = bytearray(self.l2[d])
        if self.v6:
            frame += ipv6_header(self.src[d], self.dst[d], proto, self.ttl[d], len(l4))
        else:
            self.ident[d] += 1
            frame += ipv4_header(self.src[d], self.dst[d], proto, self.ttl[d], self.ident[d], len(l4), df)
        frame += l4
        return _pad(frame)


class _TcpConn:
    """One TCP connection's wire state and its frame builder.

    Times are capture times (the tap sits next to the clients): a packet from the client is
    answered by the server one RTT later as seen at the tap, and the client answers a server
    packet after ``eps``.
    """

    def __init__(self, ctx: _Ctx, rng: random.Random, client: Client, server: Server, v6: bool,
                 sport: int, dport: int):
        self.ctx = ctx
        self.rng = rng
        self.ip = _Ip(client, server.ip6 if v6 else server.ip4, server.ttl - server.hops, v6)
        self.ports = ((sport, dport), (dport, sport))
        self.isn = (rng.getrandbits(32), rng.getrandbits(32))
        self.off = [0, 0]              # bytes (and FIN) each side has sent after its SYN
        ctl_ttl, syn_win, cws, cts = _STACKS[client.stack]
        self.stack = client.stack
        self.ts = cts and server.ts
        self.sack = server.sack
        self.ws_ok = server.ws >= 0
        self.ws = (cws, server.ws) if self.ws_ok else (0, 0)
        self.mss_opt = ((1440 if v6 else 1460), (server.mss4 - 20 if v6 else server.mss4))
        # Payload per full segment: the peer's MSS less the timestamp option (RFC 7323 / Linux).
        opt = 12 if self.ts else 0
        self.seg = (self.mss_opt[1] - opt, self.mss_opt[0] - opt)
        self.syn_win = (syn_win, 65535 if server.ttl == 128 else 64240 if server.ttl == 64 else 8192)
        self.rwnd0 = (rng.choice((131072, 262144, 65536)), rng.choice((65536, 131072, 262144)))
        self.rwnd_max = (6 << 20, 3 << 20)
        self.tsbase = (rng.getrandbits(32), rng.getrandbits(32))
        self.rtt = _lognormal_ns(rng, 25 * _MS, 0.9, 300_000, 400 * _MS)
        self.eps = rng.randrange(15_000, 250_000)
        rate_mbps = rng.choice((10, 50, 100, 100, 200, 500, 1000))
        self.ns_per_byte = 8000 // rate_mbps
        r = rng.random()
        self.p_loss = 0.0 if r < 0.7 else 0.004 if r < 0.95 else 0.03
        self.pbase = [rng.randrange(_POOL_SPAN), rng.randrange(_POOL_SPAN)]
        self.prefix = [(0, b""), (0, b"")]
        self.records = [None, None]    # (start offset, length) of a transfer framed as TLS records
        self.tokens = self.ip.tokens + ("tcp",)

    # -- content
    def payload(self, d: int, off: int, n: int) -> bytes:
        data = self._content(d, off, n)
        rec = self.records[d]
        if rec is not None:
            data = _tls_frame(data, off, rec[0], rec[1])
        return data

    def _content(self, d: int, off: int, n: int) -> bytes:
        ps, pb = self.prefix[d]
        if ps <= off < ps + len(pb):
            head = pb[off - ps:off - ps + n]
            if len(head) == n:
                return head
            return head + self._content(d, off + len(head), n - len(head))
        p = (self.pbase[d] + off) % _POOL_SPAN
        return self.ctx.pool[p:p + n]

    def tsval(self, d: int, t: int) -> int:
        return (self.tsbase[d] + t // _MS) & _M32

    # -- frames
    def syn_options(self, d: int, t: int, peer_offered: tuple) -> bytes:
        mss = _U16(self.mss_opt[d])
        if d == 1:
            offers_ts, offers_sack, offers_ws = peer_offered
            o = b"\x02\x04" + mss
            if offers_sack and self.sack:
                o += b"\x04\x02"
            if self.ts:
                o += b"\x08\x0a" + _TWO32(self.tsval(1, t), self.tsval(0, t - self.rtt))
            elif offers_sack and self.sack:
                o += b"\x01\x01"
            if self.ws_ok and offers_ws:
                o += b"\x01\x03\x03" + bytes((self.ws[1],))
            return o + b"\x00" * (-len(o) % 4)
        ws = bytes((_STACKS[self.stack][2],))
        if self.stack == "linux":
            return b"\x02\x04" + mss + b"\x04\x02\x08\x0a" + _TWO32(self.tsval(0, t), 0) + b"\x01\x03\x03" + ws
        if self.stack == "windows":
            return b"\x02\x04" + mss + b"\x01\x03\x03" + ws + b"\x01\x01\x04\x02"
        return (b"\x02\x04" + mss + b"\x01\x03\x03" + ws + b"\x01\x01\x08\x0a" + _TWO32(self.tsval(0, t), 0)
                + b"\x04\x02\x00\x00")

    def frame(self, t: int, d: int, flags: int, seq_off: int, ack_off: int, plen: int,
              sack=None) -> bytearray:
        o = b""
        if self.ts:
            tsecr = self.tsval(1, t) if d == 0 else self.tsval(0, t - self.rtt)
            o = b"\x01\x01\x08\x0a" + _TWO32(self.tsval(d, t), tsecr)
        if sack:
            base = self.isn[1 - d] + 1
            o += b"\x01\x01\x05" + bytes((2 + 8 * len(sack),)) + b"".join(
                _TWO32((base + lo) & _M32, (base + hi) & _M32) for lo, hi in sack)
        # Receive window: grows with what this side has received (autotuning), sent scaled.
        rwnd = min(self.rwnd_max[d], self.rwnd0[d] + 2 * ack_off)
        win = min(65535, rwnd >> self.ws[d])
        payload = self.payload(d, seq_off, plen) if plen else b""
        sp, dp = self.ports[d]
        l4 = tcp_segment(self.ip.src[d], self.ip.dst[d], sp, dp, self.isn[d] + 1 + seq_off,
                         self.isn[1 - d] + 1 + ack_off if flags & TCP_ACK else 0, flags, win, o, payload)
        return self.ip.frame(d, 6, l4)

    # -- a transfer clocked by ACKs
    def transfer(self, t0: int, s: int, n: int) -> tuple:
        """Events of ``s`` sending ``n`` bytes from capture time ``t0``, with the receiver's ACKs.

        A small discrete-event simulation: slow start from an initial window of 10 segments
        (RFC 6928), delayed ACKs every second segment or after 40 ms (RFC 9293 3.8.6.3),
        duplicate ACKs with SACK blocks on a hole (RFC 2018), fast retransmit on the third
        duplicate and NewReno partial ACKs (RFC 6582), a retransmission timeout as the last
        resort. Returns (events sorted by time, time of the last data segment seen).
        """
        rng = self.rng
        r = 1 - s
        seg = self.seg[s]
        base = self.off[s]
        ackd = self.off[r]
        nseg = max(1, -(-n // seg))
        last_len = n - seg * (nseg - 1)
        if s == 0:
            d_ack, d_react = self.rtt, self.eps
        else:
            d_ack, d_react = self.eps, self.rtt
        npb = self.ns_per_byte
        p_loss = self.p_loss
        max_blocks = 3 if self.ts else 4
        out = []
        q = []
        qn = 0
        link = t0
        # sender
        nxt = 0
        una = 0
        cwnd = 10.0
        ssth = 1e9
        dup = 0
        rec = -1
        last_data = t0
        # receiver
        got = bytearray(nseg)
        rcv = 0
        hi = 0
        pend = 0
        delack_gen = 0
        last_got = 0

        def xmit(i, t, again):
            nonlocal link, qn, last_data
            ln = seg if i < nseg - 1 else last_len
            ts = t if t > link else link
            link = ts + (ln + 66) * npb
            lost = (not again) and p_loss and rng.random() < p_loss
            if not (lost and s == 1):        # a server segment lost upstream never reaches the tap
                out.append((ts, s, TCP_ACK | (TCP_PSH if i == nseg - 1 else 0), base + i * seg, ackd, ln, None))
                last_data = ts
            if not lost:
                qn += 1
                heapq.heappush(q, (ts + d_ack, qn, 0, i))

        def sack_blocks():
            blocks = []
            j = rcv
            while j < hi:
                if got[j]:
                    k = j
                    while k < hi and got[k]:
                        k += 1
                    blocks.append((j, k))
                    j = k
                else:
                    j += 1
            # RFC 2018 4: the block holding the most recently received segment comes first.
            blocks.sort(key=lambda b: not (b[0] <= last_got < b[1]))
            return tuple((base + b * seg, base + min(n, e * seg)) for b, e in blocks[:max_blocks])

        def send_ack(t, with_sack):
            nonlocal qn
            out.append((t, r, TCP_ACK, ackd, base + min(n, rcv * seg), 0,
                        sack_blocks() if with_sack and self.sack else None))
            qn += 1
            heapq.heappush(q, (t + d_react, qn, 1, rcv))

        def window(acked_bytes):
            # What the receiver advertised with that ACK (as frame() writes it), in segments:
            # the sender never has more than this in flight (RFC 9293 3.8.6), whatever cwnd.
            rwnd = min(self.rwnd_max[r], self.rwnd0[r] + 2 * acked_bytes)
            return max(1, (min(65535, rwnd >> self.ws[r]) << self.ws[r]) // seg)

        wnd = window(base)
        for i in range(min(nseg, 10, wnd)):
            xmit(i, t0, False)
        nxt = min(nseg, 10, wnd)
        t = t0
        while True:
            if not q:
                if una >= nseg:
                    break
                # Retransmission timeout (RFC 6298): resend the first unacknowledged segment.
                rto = max(200 * _MS, 2 * self.rtt)
                cwnd = 1.0
                ssth = max(2.0, (nxt - una) / 2)
                rec = -1
                dup = 0
                xmit(una, max(t, link) + rto, True)
                continue
            t, _, kind, v = heapq.heappop(q)
            if kind == 0:                      # segment v reaches the receiver; t = its ACK time
                if got[v]:
                    send_ack(t, True)          # a duplicate: ACK at once (RFC 9293 3.10.7.4)
                    continue
                got[v] = 1
                last_got = v
                if v + 1 > hi:
                    hi = v + 1
                if v == rcv:
                    had_hole = hi > rcv + 1
                    while rcv < nseg and got[rcv]:
                        rcv += 1
                    pend += 1
                    if had_hole or pend >= 2 or rcv == nseg:
                        pend = 0
                        send_ack(t, hi > rcv)
                    else:
                        delack_gen += 1
                        qn += 1
                        heapq.heappush(q, (t + 40 * _MS, qn, 2, delack_gen))
                else:
                    pend = 0
                    send_ack(t, True)
            elif kind == 2:                    # delayed-ACK timer
                if v == delack_gen and pend:
                    pend = 0
                    send_ack(t, False)
            else:                              # an ACK for v segments reaches the sender
                wnd = window(base + min(n, v * seg))
                if v > una:
                    newly = v - una
                    una = v
                    dup = 0
                    if rec >= 0:
                        if una >= rec:
                            rec = -1
                            cwnd = ssth
                        else:
                            xmit(una, t, True)
                    elif cwnd < ssth:
                        cwnd = min(cwnd + newly, 400.0)
                    else:
                        cwnd = min(cwnd + newly / cwnd, 400.0)
                elif v == una and una < nseg:
                    dup += 1
                    if dup == 3 and rec < 0:
                        ssth = max(2.0, cwnd / 2)
                        cwnd = ssth + 3
                        rec = nxt
                        xmit(una, t, True)
                while nxt < nseg and nxt - una < cwnd and nxt - una < wnd:
                    xmit(nxt, t, False)
                    nxt += 1
        out.sort(key=lambda e: e[0])
        self.off[s] += n
        return out, last_data


_HTTP_AGENTS = (b"Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
                b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0",
                b"curl/7.88.1", b"Debian APT-HTTP/1.3 (2.6.1)")
_CTYPES = (b"text/html; charset=utf-8", b"text/css", b"text/plain")


def _http_request(rng, host: bytes, size: int) -> bytes:
    path = b"/" + b"/".join(rng.choice(_WORDS).encode() for _ in range(rng.randrange(1, 4)))
    req = (b"GET " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\nUser-Agent: " + rng.choice(_HTTP_AGENTS)
           + b"\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n")
    if len(req) + 16 < size:
        req += b"Cookie: sid=" + rng.randbytes(size).hex().encode()[:size - len(req) - 16] + b"\r\n"
    return req + b"\r\n"


def _http_response_head(rng, body: int) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: " + rng.choice(_CTYPES)
            + b"\r\nContent-Length: " + str(body).encode() + b"\r\nCache-Control: max-age=3600\r\n\r\n")


_TLS_RECORD_MAX = 5 + 16384 + 17      # header, largest plaintext, AEAD tag (RFC 8446 5.2)


def _tls_frame(data: bytes, off: int, start: int, total: int) -> bytes:
    """``data`` (stream bytes from ``off``) with TLS application-data record headers written in,
    for a transfer of ``total`` bytes at ``start`` cut into equal records of at most
    _TLS_RECORD_MAX bytes: the body stays opaque, as encrypted records are."""
    k = -(-total // _TLS_RECORD_MAX)
    q, r = divmod(total, k)
    end = off + len(data)
    # Record i starts at start + i*q + min(i, r); begin one record before the one holding off.
    i = max(0, (off - start) // (q + 1) - 1)
    out = None
    while i < k:
        rs = start + i * q + min(i, r)
        if rs >= end:
            break
        if rs + 5 > off:
            size = q + 1 if i < r else q
            hdr = b"\x17\x03\x03" + _U16(size - 5)
            if out is None:
                out = bytearray(data)
            for j in range(max(rs, off), min(rs + 5, end)):
                out[j - off] = hdr[j - rs]
        i += 1
    return data if out is None else bytes(out)


def tcp_session(ctx: _Ctx, rng: random.Random, t0: int, kind: str) -> Iterator:
    net = ctx.net
    client = rng.choice(net.clients)
    server = net.server(rng)
    v6 = client.ip6 is not None and rng.random() < 0.45
    dport = {"web": rng.choice((443, 443, 443, 80)), "bulk": 443, "upload": 443, "ssh": 22,
             "refused": rng.choice((23, 25, 8080, 3389, 445))}.get(kind, 443)
    sport = rng.randrange(32768, 61000) if client.stack == "linux" else rng.randrange(49152, 65536)
    c = _TcpConn(ctx, rng, client, server, v6, sport, dport)
    tok = c.tokens
    host = b".".join(rng.choice(net.names))
    t = t0
    offered = (c.stack != "windows", True, True)
    # Handshake (RFC 9293 3.5). Now and then the SYN is lost and resent after 1 s (RFC 6298 2.1).
    yield t, _syn(c, t, 0, TCP_SYN, offered), tok
    if kind != "refused" and rng.random() < 0.015:
        t += _S
        yield t, _syn(c, t, 0, TCP_SYN, offered), tok
    if kind == "refused":
        t += c.rtt
        # RST/ACK for the refused SYN: seq 0, ACK of the SYN (RFC 9293 3.10.7.1).
        l4 = tcp_segment(c.ip.src[1], c.ip.dst[1], dport, sport, 0, c.isn[0] + 1, TCP_RST | TCP_ACK, 0, b"", b"")
        yield t, c.ip.frame(1, 6, l4), tok
        return
    t += c.rtt
    yield t, _syn(c, t, 1, TCP_SYN | TCP_ACK, offered), tok
    t += c.eps
    yield t, c.frame(t, 0, TCP_ACK, 0, 0, 0), tok
    if kind == "ssh":
        rounds = rng.randrange(8, 120)
    elif kind in ("bulk", "upload"):
        rounds = 1
    else:
        rounds = min(12, 1 + int(rng.expovariate(0.6)))
    for rnd in range(rounds):
        # Request from the client.
        t += rng.randrange(100_000, 3 * _MS) if rnd == 0 else (
            _lognormal_ns(rng, 300 * _MS, 1.0, 20 * _MS, 4 * _S) if kind == "ssh" else
            _lognormal_ns(rng, 150 * _MS, 1.5, 1 * _MS, 8 * _S))
        if kind == "ssh":
            req = rng.randrange(36, 120)
            resp = rng.choice((rng.randrange(36, 200), rng.randrange(200, 3000)))
        elif kind == "upload":
            req = _lognormal_ns(rng, 400_000, 1.0, 20_000, 6 << 20)
            resp = rng.randrange(200, 600)
        elif kind == "bulk":
            req = rng.randrange(300, 900)
            resp = _lognormal_ns(rng, 1_500_000, 0.8, 200_000, 8 << 20)
        else:
            req = rng.randrange(150, 1400) if dport == 443 else rng.randrange(200, 800)
            resp = _lognormal_ns(rng, 6000, 1.8, 90, 3 << 20)
        if dport == 80:
            c.prefix[0] = (c.off[0], _http_request(rng, host, req))
            req = len(c.prefix[0][1])
            c.prefix[1] = (c.off[1], _http_response_head(rng, resp))
            resp += len(c.prefix[1][1])
            c.pbase[1] = _POOL_TEXT + rng.randrange(_POOL_SPAN - _POOL_TEXT)
        elif dport == 22:
            # Banners first (RFC 4253 4.2), then binary packets with a clear length (aes-gcm).
            for d, (n, banner) in enumerate(((req, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"),
                                             (resp, b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\r\n"))):
                c.prefix[d] = (c.off[d], banner if rnd == 0 else _U32(n - 4 - 16) + bytes((4 + n % 8,)))
            if rnd == 0:
                req, resp = len(c.prefix[0][1]), len(c.prefix[1][1])
        else:
            c.prefix = [(0, b""), (0, b"")]
            c.records = [(c.off[0], req), (c.off[1], resp)]
        events, t_data = c.transfer(t, 0, req)
        for e in events:
            yield e[0], c.frame(*e), tok
        t = max(events[-1][0], t_data + c.rtt + rng.randrange(50_000, 20 * _MS))
        events, t_data = c.transfer(t, 1, resp)
        for e in events:
            yield e[0], c.frame(*e), tok
        t = events[-1][0]
    # Teardown (RFC 9293 3.6): FIN from either side, or an abortive RST, or still open at the end.
    end = rng.random()
    t += _lognormal_ns(rng, 200 * _MS, 1.5, 1 * _MS, 20 * _S)
    if end < 0.55:
        yield t, c.frame(t, 0, TCP_FIN | TCP_ACK, c.off[0], c.off[1], 0), tok
        c.off[0] += 1
        t += c.rtt
        yield t, c.frame(t, 1, TCP_FIN | TCP_ACK, c.off[1], c.off[0], 0), tok
        c.off[1] += 1
        t += c.eps
        yield t, c.frame(t, 0, TCP_ACK, c.off[0], c.off[1], 0), tok
    elif end < 0.8:
        yield t, c.frame(t, 1, TCP_FIN | TCP_ACK, c.off[1], c.off[0], 0), tok
        c.off[1] += 1
        t += c.eps
        yield t, c.frame(t, 0, TCP_ACK, c.off[0], c.off[1], 0), tok
        t += rng.randrange(100_000, 50 * _MS)
        yield t, c.frame(t, 0, TCP_FIN | TCP_ACK, c.off[0], c.off[1], 0), tok
        c.off[0] += 1
        t += c.rtt
        yield t, c.frame(t, 1, TCP_ACK, c.off[1], c.off[0], 0), tok
    elif end < 0.95:
        yield t, c.frame(t, 0, TCP_RST | TCP_ACK, c.off[0], c.off[1], 0), tok


def _syn(c: _TcpConn, t: int, d: int, flags: int, offered: tuple) -> bytearray:
    o = c.syn_options(d, t, offered)
    sp, dp = c.ports[d]
    l4 = tcp_segment(c.ip.src[d], c.ip.dst[d], sp, dp, c.isn[d], c.isn[0] + 1 if d else 0, flags,
                     c.syn_win[d], o, b"")
    return c.ip.frame(d, 6, l4)


def _dns_name(name: tuple) -> bytes:
    return b"".join(bytes((len(p),)) + p for p in name) + b"\0"


def _dns_query(ident: int, name: tuple, qtype: int, edns: bool) -> bytes:
    q = _DNS_HDR(ident, 0x0100, 1, 0, 0, 1 if edns else 0) + _dns_name(name) + _U16(qtype) + _U16(1)
    if edns:
        q += b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
    return q


def _dns_answer(rng, query: bytes, qtype: int, rcode: int, big: bool) -> bytes:
    hdr_flags = 0x8180 | rcode
    body = query[12:]
    edns = query[-11:-9] == b"\x00\x00" and query[-9:-7] == b"\x29\x04"
    if edns:
        body = body[:-11]
    answers = []
    if rcode == 0:
        if big:          # a signed TXT answer: large enough to need fragments
            for _ in range(rng.randrange(4, 10)):
                txt = rng.randbytes(rng.randrange(200, 255))
                answers.append(b"\xc0\x0c\x00\x10\x00\x01" + _U32(300) + _U16(len(txt) + 1)
                               + bytes((len(txt),)) + txt)
        else:
            for _ in range(rng.randrange(1, 5)):
                if qtype == 28:
                    answers.append(b"\xc0\x0c\x00\x1c\x00\x01" + _U32(rng.randrange(30, 3600)) + b"\x00\x10"
                                   + b"\x20\x01\x0d\xb8" + rng.randbytes(12))
                else:
                    answers.append(b"\xc0\x0c\x00\x01\x00\x01" + _U32(rng.randrange(30, 3600)) + b"\x00\x04"
                                   + _public_ip4(rng))
    msg = _DNS_HDR(int.from_bytes(query[:2], "big"), hdr_flags, 1, len(answers), 0, 1 if edns else 0)
    msg += body + b"".join(answers)
    if edns:
        msg += b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
    return msg


def dns_session(ctx: _Ctx, rng: random.Random, t0: int, kind: str) -> Iterator:
    """A lookup (A, or A and AAAA) to the gateway's resolver or a public one. Some answers are
    NXDOMAIN, some large enough to be fragmented; some resolvers are down (port unreachable)."""
    # A fast local answer can come back before the second query goes out: sort the few events.
    yield from sorted(_dns_events(ctx, rng, t0, kind), key=lambda e: e[0])


def _dns_events(ctx: _Ctx, rng: random.Random, t0: int, kind: str) -> Iterator:
    net = ctx.net
    client = rng.choice(net.clients)
    seg = client.seg
    local = rng.random() < 0.5
    v6 = client.ip6 is not None and rng.random() < 0.35
    if local:
        res_ip = seg.gw_ip6 if v6 else seg.gw_ip4
        ttl, rtt = 64, rng.randrange(150_000, 2 * _MS)
    else:
        res = rng.choice(net.resolvers)
        res_ip = res.ip6 if v6 else res.ip4
        ttl, rtt = 64 - res.hops, _lognormal_ns(rng, 12 * _MS, 0.6, 1 * _MS, 150 * _MS)
    ip = _Ip(client, res_ip, ttl, v6)
    sport = rng.randrange(1024, 65536)
    name = rng.choice(net.names)
    big = kind == "dns-big"
    qtypes = (16,) if big else ((1, 28) if rng.random() < 0.5 else (1,))
    tok = ip.tokens + ("udp",)
    t = t0
    pending = []
    for qt in qtypes:
        q = _dns_query(rng.getrandbits(16), name, qt, big or rng.random() < 0.5)
        dg = udp_datagram(ip.src[0], ip.dst[0], sport, 53, q)
        f = ip.frame(0, 17, dg)
        yield t, f, tok
        pending.append((t, q, qt, f))
        t += rng.randrange(20_000, 200_000)
    for tq, q, qt, qf in pending:
        ta = tq + rtt
        if kind == "dns-unreach":
            # The resolver is down: ICMP port unreachable quoting the query (RFC 792, RFC 1812 4.3.2.3).
            l2n = len(ip.l2[0])
            quote = bytes(qf[l2n:l2n + (40 if v6 else 20) + 8 + len(q)])
            yield ta, _icmp_error_frame(ip, 1, 3, 1, 4 if v6 else 3, quote), \
                ip.tokens + (("icmpv6", "ipv6", "udp") if v6 else ("icmp", "ip", "udp"))
            continue
        rcode = 3 if rng.random() < 0.04 else 0
        a = _dns_answer(rng, q, qt, rcode, big)
        dg = udp_datagram(ip.src[1], ip.dst[1], 53, sport, a)
        if len(dg) + (40 if v6 else 20) > 1500:
            if v6:
                frames = ipv6_fragments(ip.l2[1], ip.src[1], ip.dst[1], 17, ip.ttl[1], rng.getrandbits(32), dg)
                toks = [ip.tokens + ("ipv6.fraghdr", "udp")] + [ip.tokens + ("ipv6.fraghdr",)] * (len(frames) - 1)
            else:
                ip.ident[1] += 1
                frames = ipv4_fragments(ip.l2[1], ip.src[1], ip.dst[1], 17, ip.ttl[1], ip.ident[1], dg)
                toks = [ip.tokens + ("ip.frag", "udp")] + [ip.tokens + ("ip.frag",)] * (len(frames) - 1)
            for i, (f, tk) in enumerate(zip(frames, toks)):
                yield ta + i * 12_000, f, tk
        else:
            yield ta, ip.frame(1, 17, dg, df=0), tok


def _icmp_error_frame(ip: _Ip, d: int, v4type: int, v6type: int, code: int, quote: bytes,
                      rest: bytes = b"\0\0\0\0", src: Optional[bytes] = None,
                      ttl: Optional[int] = None) -> bytearray:
    """An ICMP(v6) error sent towards direction ``d``'s destination, quoting ``quote``."""
    s = src if src is not None else ip.src[d]
    ttl = ip.ttl[d] if ttl is None else ttl
    if ip.v6:
        quote = quote[:1232]          # the error fits the IPv6 minimum MTU (RFC 4443 2.4 (c))
        msg = icmpv6_message(s, ip.dst[d], v6type, code, rest, quote)
        frame = bytearray(ip.l2[d])
        frame += ipv6_header(s, ip.dst[d], 58, ttl, len(msg))
    else:
        quote = quote[:548]           # at most 576 bytes in all (RFC 1812 4.3.2.3)
        msg = icmp_message(v4type, code, rest, quote)
        ip.ident[d] += 1
        frame = bytearray(ip.l2[d])
        frame += ipv4_header(s, ip.dst[d], 1, ttl, ip.ident[d], len(msg), 0)
    frame += msg
    return _pad(frame)


def ping_session(ctx: _Ctx, rng: random.Random, t0: int, kind: str) -> Iterator:
    """ping: echo requests once a second, replies one RTT later (now and then one is lost);
    "ping-big" sends payloads that need fragments."""
    net = ctx.net
    client = rng.choice(net.clients)
    server = net.server(rng)
    v6 = client.ip6 is not None and rng.random() < 0.4
    ip = _Ip(client, server.ip6 if v6 else server.ip4, server.ttl - server.hops, v6)
    rtt = _lognormal_ns(rng, 25 * _MS, 0.8, 300_000, 300 * _MS)
    ident = rng.getrandbits(16)
    big = kind == "ping-big"
    size = rng.choice((1472, 2000, 3000, 4000)) if big else 56
    count = rng.randrange(3, 12)
    t = t0
    for seq in range(1, count + 1):
        # Linux ping: 8 bytes of send time, then bytes counting up from 0x10.
        data = _TWO32((t // _S) & _M32, (t // 1000) % 1_000_000) + bytes((i + 0x10) & 0xFF for i in range(size - 8))
        lost = rng.random() < 0.03      # no reply: the next request follows all the same
        for d, (t4, t6) in ((0, (8, 128)), (1, (0, 129))):
            if d == 1 and lost:
                continue
            ts = t + (rtt if d else 0)
            if v6:
                msg = icmpv6_message(ip.src[d], ip.dst[d], t6, 0, _U16(ident) + _U16(seq), data)
                if 40 + len(msg) > 1500:
                    frames = ipv6_fragments(ip.l2[d], ip.src[d], ip.dst[d], 58, ip.ttl[d],
                                            rng.getrandbits(32), bytes(msg))
                    toks = [ip.tokens + ("ipv6.fraghdr", "icmpv6")] + [ip.tokens + ("ipv6.fraghdr",)] * (len(frames) - 1)
                else:
                    frames, toks = [ip.frame(d, 58, msg)], [ip.tokens + ("icmpv6",)]
            else:
                msg = icmp_message(t4, 0, _U16(ident) + _U16(seq), data)
                if 20 + len(msg) > 1500:
                    ip.ident[d] += 1
                    frames = ipv4_fragments(ip.l2[d], ip.src[d], ip.dst[d], 1, ip.ttl[d], ip.ident[d], bytes(msg))
                    toks = [ip.tokens + ("ip.frag", "icmp")] + [ip.tokens + ("ip.frag",)] * (len(frames) - 1)
                else:
                    frames, toks = [ip.frame(d, 1, msg)], [ip.tokens + ("icmp",)]
            for i, (f, tk) in enumerate(zip(frames, toks)):
                yield ts + i * 15_000, f, tk
        t += _S + rng.randrange(-2000, 2000)


def traceroute_session(ctx: _Ctx, rng: random.Random, t0: int, kind: str) -> Iterator:
    """UDP traceroute (ports from 33434, three probes per TTL); routers answer time exceeded,
    the destination answers port unreachable, both quoting the probe as it arrived."""
    net = ctx.net
    client = rng.choice(net.clients)
    server = net.server(rng)
    v6 = client.ip6 is not None and rng.random() < 0.4
    ip = _Ip(client, server.ip6 if v6 else server.ip4, 64 - server.hops, v6)
    hops = server.hops
    routers = net.routers6 if v6 else net.routers4
    path = [rng.choice(routers) for i in range(hops - 1)]
    silent = {h for h in range(1, hops) if rng.random() < 0.12}
    sport = rng.randrange(40000, 60000)
    l2 = ip.l2
    t = t0
    port = 33434
    base_rtt = rng.randrange(300_000, 2 * _MS)
    per_hop = rng.randrange(500_000, 4 * _MS)
    for ttl in range(1, hops + 1):
        for probe in range(3):
            payload = bytes(range(0x40, 0x60))
            dg = udp_datagram(ip.src[0], ip.dst[0], sport, port, payload)
            ip.ident[0] += 1
            ident = ip.ident[0]
            frame = bytearray(l2[0])
            if v6:
                frame += ipv6_header(ip.src[0], ip.dst[0], 17, ttl, len(dg))
            else:
                frame += ipv4_header(ip.src[0], ip.dst[0], 17, ttl, ident, len(dg), 0)
            frame += dg
            yield t, _pad(frame), ip.tokens + ("udp",)
            # The quoted header is the probe as it reached the responder: with TTL 1, and
            # (IPv4) the header checksum the last router recomputed for that TTL.
            last = ttl == hops
            if v6:
                quote = ipv6_header(ip.src[0], ip.dst[0], 17, 1, len(dg)) + dg
            else:
                quote = bytes(ipv4_header(ip.src[0], ip.dst[0], 17, 1, ident, len(dg), 0)) + bytes(dg)
            if last:
                t_r = t + base_rtt + per_hop * ttl
                err = _icmp_error_frame(ip, 1, 3, 1, 3 if not v6 else 4, quote)
                yield t_r, err, ip.tokens + (("icmpv6", "ipv6", "udp") if v6 else ("icmp", "ip", "udp"))
            elif ttl not in silent:
                t_r = t + base_rtt + per_hop * ttl
                # Many routers quote just the IP header and 8 bytes; others as much as fits.
                q = quote[:(40 if v6 else 20) + 8] if rng.random() < 0.4 else quote
                err = _icmp_error_frame(ip, 1, 11, 3, 0, q, src=path[ttl - 1], ttl=256 - ttl)
                yield t_r, err, ip.tokens + (("icmpv6", "ipv6", "udp") if v6 else ("icmp", "ip", "udp"))
            port += 1
            t += (base_rtt + per_hop * ttl + rng.randrange(10_000, 100_000)) if ttl not in silent or last else 5 * _S // 3
        if ttl == hops:
            return


def pmtu_session(ctx: _Ctx, rng: random.Random, t0: int, kind: str) -> Iterator:
    """A tunnel on the path: ICMP fragmentation needed (RFC 1191) or ICMPv6 packet too big
    (RFC 8201) quoting a full-sized TCP segment the client sent."""
    net = ctx.net
    client = rng.choice(net.clients)
    server = net.server(rng)
    v6 = client.ip6 is not None and rng.random() < 0.4
    c = _TcpConn(ctx, rng, client, server, v6, rng.randrange(32768, 61000), 443)
    c.off = [rng.randrange(1, 100_000), rng.randrange(1, 100_000)]
    c.seg = (1448, 1448) if not v6 else (1428, 1428)
    c.records = [(c.off[0], 1 << 30), (c.off[1], 1 << 30)]
    f = c.frame(t0, 0, TCP_ACK | TCP_PSH, c.off[0], c.off[1], c.seg[0])
    yield t0, f, c.tokens
    l2n = len(c.ip.l2[0])
    quote = bytes(f[l2n:])
    mtu = rng.choice((1400, 1420, 1280 if v6 else 1476))
    router = rng.choice(net.routers6 if v6 else net.routers4)
    rest = _U32(mtu) if v6 else b"\0\0" + _U16(mtu)
    err = _icmp_error_frame(c.ip, 1, 3, 2, 4 if not v6 else 0, quote, rest=rest, src=router)
    yield t0 + rng.randrange(1 * _MS, 30 * _MS), err, c.ip.tokens + (("icmpv6", "ipv6", "tcp") if v6 else ("icmp", "ip", "tcp"))


def voice_session(ctx: _Ctx, rng: random.Random, t0: int, kind: str) -> Iterator:
    """A call: RTP-like packets every 20 ms each way (G.711, 160-byte payloads)."""
    net = ctx.net
    voice = [c for c in net.clients if c.seg.name == "voice"] or net.clients
    client = rng.choice(voice)
    server = net.server(rng)
    ip = _Ip(client, server.ip4, server.ttl - server.hops, False)
    ports = (rng.randrange(16384, 32768) & ~1, rng.randrange(16384, 32768) & ~1)
    pt = rng.choice((0, 8))
    n = rng.randrange(150, 2500)
    tok = ip.tokens + ("udp",)

    def one_way(d, skew, jitter):
        # Jitter below the 20 ms period keeps each direction in time order.
        ssrc, seq, ts = rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(32)
        sp, dp = ports if d == 0 else ports[::-1]
        jit = [rng.randrange(0, jitter) for _ in range(n)]
        for i in range(n):
            rtp = _RTP(0x80, (0x80 if i == 0 else 0) | pt, (seq + i) & 0xFFFF, (ts + 160 * i) & _M32, ssrc)
            p = (i * 160) % _POOL_TEXT
            dg = udp_datagram(ip.src[d], ip.dst[d], sp, dp, rtp + ctx.pool[p:p + 160])
            yield t0 + skew + i * 20 * _MS + jit[i], ip.frame(d, 17, dg), tok

    skew = rng.randrange(0, 17 * _MS)
    yield from heapq.merge(one_way(0, 0, 200_000), one_way(1, skew, 3 * _MS), key=lambda x: x[0])


def quic_session(ctx: _Ctx, rng: random.Random, t0: int, kind: str) -> Iterator:
    """A QUIC-like download over UDP 443: full-sized server datagrams paced at the path rate,
    small client acknowledgements every few packets."""
    net = ctx.net
    client = rng.choice(net.clients)
    server = net.server(rng)
    v6 = client.ip6 is not None and rng.random() < 0.5
    ip = _Ip(client, server.ip6 if v6 else server.ip4, server.ttl - server.hops, v6)
    sport = rng.randrange(32768, 61000)
    dcid = rng.randbytes(8)
    scid = rng.randbytes(8)
    rtt = _lognormal_ns(rng, 20 * _MS, 0.7, 1 * _MS, 200 * _MS)
    gap = 8000 // rng.choice((20, 50, 100, 200)) * 1292
    tok = ip.tokens + ("udp",)
    # Handshake: a padded Initial each way, then the download.
    size = 1252 if v6 else 1272
    # Long header, version 1, token length 0, then the length of the rest (RFC 9000 17.2.2).
    init = b"\xc3\x00\x00\x00\x01\x08" + dcid + b"\x08" + scid + b"\x00"
    init += _U16(0x4000 | (size - len(init) - 2))
    t = t0
    yield t, ip.frame(0, 17, udp_datagram(ip.src[0], ip.dst[0], sport, 443, init + ctx.pool[:size - len(init)])), tok
    t += rtt
    yield t, ip.frame(1, 17, udp_datagram(ip.src[1], ip.dst[1], 443, sport, init + ctx.pool[64:64 + size - len(init)])), tok
    n = _lognormal_ns(rng, 800, 1.0, 40, 12000)
    off = rng.randrange(_POOL_TEXT)
    every = rng.choice((2, 4, 10))
    t += rng.randrange(100_000, 2 * _MS)
    for i in range(n):
        body = b"\x40" + dcid + ctx.pool[(off + i * 97) % _POOL_TEXT:(off + i * 97) % _POOL_TEXT + size - 9]
        yield t, ip.frame(1, 17, udp_datagram(ip.src[1], ip.dst[1], 443, sport, body)), tok
        if i % every == every - 1:
            ack = b"\x40" + scid + ctx.pool[(off + i) % _POOL_TEXT:(off + i) % _POOL_TEXT + rng.randrange(24, 48)]
            yield t + rng.randrange(20_000, 150_000), ip.frame(0, 17, udp_datagram(ip.src[0], ip.dst[0], sport, 443, ack)), tok
            t += 150_000
        t += gap + rng.randrange(0, gap // 4 + 1)


def ntp_session(ctx: _Ctx, rng: random.Random, t0: int, kind: str) -> Iterator:
    net = ctx.net
    client = rng.choice(net.clients)
    server = net.server(rng)
    ip = _Ip(client, server.ip4, server.ttl - server.hops, False)
    tok = ip.tokens + ("udp",)
    rtt = _lognormal_ns(rng, 20 * _MS, 0.6, 1 * _MS, 200 * _MS)
    sport = rng.choice((123, rng.randrange(32768, 61000)))
    ntp_secs = ((t0 // _S) + 2_208_988_800) & _M32
    req = bytes((0x23, 0, 6, 0xEC)) + bytes(36) + _TWO32(ntp_secs, rng.getrandbits(32))
    yield t0, ip.frame(0, 17, udp_datagram(ip.src[0], ip.dst[0], sport, 123, req), df=DF), tok
    rsp = (bytes((0x24, 2, 6, 0xE9)) + _U32(0x100) + _U32(0x200) + rng.randbytes(4)
           + _TWO32(ntp_secs - 100, 0) + req[40:48] + _TWO32(ntp_secs, 1) + _TWO32(ntp_secs, 2))
    yield t0 + rtt, ip.frame(1, 17, udp_datagram(ip.src[1], ip.dst[1], 123, sport, rsp), df=DF), tok


def arp_session(ctx: _Ctx, rng: random.Random, t0: int, kind: str) -> Iterator:
    """A host asks for its gateway (or the gateway for a host), the other answers; sometimes a
    gratuitous ARP instead (RFC 826, RFC 5227)."""
    net = ctx.net
    client = rng.choice(net.clients)
    seg = client.seg
    tok = seg.l2_tokens + ("arp",)
    r = rng.random()
    if r < 0.1:
        pkt = _ARP(1, ETH_IPV4, 6, 4, 1, client.mac, client.ip4, bytes(6), client.ip4)
        yield t0, _pad(bytearray(seg.l2(BROADCAST, client.mac, ETH_ARP) + pkt)), tok
        return
    if r < 0.6:
        asker, amac, aip, tmac, tip = client, client.mac, client.ip4, seg.gw_mac, seg.gw_ip4
    else:
        asker, amac, aip, tmac, tip = None, seg.gw_mac, seg.gw_ip4, client.mac, client.ip4
    req = _ARP(1, ETH_IPV4, 6, 4, 1, amac, aip, bytes(6), tip)
    yield t0, _pad(bytearray(seg.l2(BROADCAST, amac, ETH_ARP) + req)), tok
    rep = _ARP(1, ETH_IPV4, 6, 4, 2, tmac, tip, amac, aip)
    yield t0 + rng.randrange(50_000, 1 * _MS), _pad(bytearray(seg.l2(amac, tmac, ETH_ARP) + rep)), tok


def nd_session(ctx: _Ctx, rng: random.Random, t0: int, kind: str) -> Iterator:
    """IPv6 on the LAN: neighbour solicitation and advertisement for the gateway (RFC 4861), or
    an MLDv2 report behind a hop-by-hop Router Alert (RFC 3810 5.2, RFC 2711)."""
    net = ctx.net
    v6clients = [c for c in net.clients if c.ip6 is not None]
    client = rng.choice(v6clients)
    seg = client.seg
    if kind == "mld":
        group = b"\xff\x02" + bytes(9) + b"\x01\xff" + client.ip6[-3:]
        record = bytes((4, 0)) + _U16(0) + group        # CHANGE_TO_EXCLUDE, no sources
        dst = b"\xff\x02" + bytes(13) + b"\x16"
        msg = icmpv6_message(client.ll6, dst, 143, 0, b"\0\0" + _U16(1), record)
        hbh = bytes((58, 0)) + b"\x05\x02\x00\x00" + b"\x01\x00"   # Router Alert (MLD), PadN
        frame = bytearray(seg.l2(b"\x33\x33\x00\x00\x00\x16", client.mac, ETH_IPV6))
        frame += ipv6_header(client.ll6, dst, 0, 1, len(hbh) + len(msg))
        frame += hbh
        frame += msg
        yield t0, _pad(frame), seg.l2_tokens + ("ipv6", "ipv6.hopopts", "icmpv6")
        return
    target = seg.gw_ll6
    sn = b"\xff\x02" + bytes(9) + b"\x01\xff" + target[-3:]
    ns = icmpv6_message(client.ll6, sn, 135, 0, bytes(4), target + b"\x01\x01" + client.mac)
    frame = bytearray(seg.l2(b"\x33\x33\xff" + target[-3:], client.mac, ETH_IPV6))
    frame += ipv6_header(client.ll6, sn, 58, 255, len(ns))
    frame += ns
    tok = seg.l2_tokens + ("ipv6", "icmpv6")
    yield t0, _pad(frame), tok
    na = icmpv6_message(target, client.ll6, 136, 0, b"\xe0\0\0\0", target + b"\x02\x01" + seg.gw_mac)
    frame = bytearray(seg.l2(client.mac, seg.gw_mac, ETH_IPV6))
    frame += ipv6_header(target, client.ll6, 58, 255, len(na))
    frame += na
    yield t0 + rng.randrange(30_000, 900_000), _pad(frame), tok


def igmp_session(ctx: _Ctx, rng: random.Random, t0: int, kind: str) -> Iterator:
    """An IGMPv3 membership report (RFC 3376 4.2) with the Router Alert IP option (RFC 2113)."""
    client = rng.choice(ctx.net.clients)
    seg = client.seg
    group = bytes((239, 255, 255, 250)) if rng.random() < 0.6 else bytes((224, 0, 0, 251))
    body = bytes((0x22, 0)) + b"\0\0" + b"\0\0" + _U16(1) + bytes((4, 0)) + _U16(0) + group
    body = bytearray(body)
    body[2:4] = _U16(internet_checksum(body))
    dst = bytes((224, 0, 0, 22))
    client.ip_id = (client.ip_id + 1) & 0xFFFF
    frame = bytearray(seg.l2(b"\x01\x00\x5e\x00\x00\x16", client.mac, ETH_IPV4))
    frame += ipv4_header(client.ip4, dst, 2, 1, client.ip_id, len(body), DF, tos=0xC0,
                         options=b"\x94\x04\x00\x00")
    frame += body
    yield t0, _pad(frame), seg.l2_tokens + ("ip", "igmp")


# (session kind, factory, relative arrival rate per second)
_SESSION_MIX = (
    ("web", tcp_session, 62.0),
    ("bulk", tcp_session, 1.3),
    ("upload", tcp_session, 0.6),
    ("ssh", tcp_session, 0.5),
    ("refused", tcp_session, 2.5),
    ("dns", dns_session, 120.0),
    ("dns-big", dns_session, 8.0),
    ("dns-unreach", dns_session, 1.5),
    ("voice", voice_session, 0.2),
    ("quic", quic_session, 1.2),
    ("ntp", ntp_session, 3.0),
    ("ping", ping_session, 5.0),
    ("ping-big", ping_session, 1.0),
    ("traceroute", traceroute_session, 0.4),
    ("pmtu", pmtu_session, 1.5),
    ("arp", arp_session, 20.0),
    ("nd", nd_session, 6.0),
    ("mld", nd_session, 1.0),
    ("igmp", igmp_session, 0.5),
)


@dataclass
class FrameChunk:
    """Frames packed back to back in ``buffer``, with a FRAME_DTYPE ``index`` whose ``data_off``
    is relative to ``buffer`` (base 0): ``parse_frames(chunk.buffer, chunk.index)`` works on it."""
    buffer: bytes
    index: np.ndarray
    base: int = 0


class TrafficGenerator:
    """Mixed traffic for one seed. ``packets(n)`` yields (ts_ns, frame) in time order."""

    def __init__(self, seed: int = DEFAULT_SEED):
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 1 << 63:
            raise ConfigError(f"seed must be an integer in [0, 2**63), not {seed!r}")
        self.seed = seed
        self.stats = SynthStats(seed=seed)
        self._ctx = _Ctx(seed)

    def packets(self, count: int = DEFAULT_PACKETS) -> Iterator:
        """Yield ``count`` (ts_ns, frame) pairs; frames are bytearrays."""
        _check_count(count)
        if count == 0:
            return
        ctx = self._ctx
        master = random.Random(self.seed ^ 0x5EED_F00D)
        kinds = [k for k, _, _ in _SESSION_MIX]
        factories = [f for _, f, _ in _SESSION_MIX]
        cum = list(np.cumsum([w for _, _, w in _SESSION_MIX]))
        total_rate = cum[-1]
        stats = self.stats
        proto_keys = Counter()
        sessions = stats.sessions
        heap = []
        hpush, hpop = heapq.heappush, heapq.heappop
        n = 0
        session_no = 0
        t_next = START_NS
        emitted = 0
        nbytes = 0
        t = 0
        try:
            while emitted < count:
                if not heap or t_next <= heap[0][0]:
                    # Start a session: Poisson arrivals, the kind drawn by rate.
                    i = bisect.bisect_right(cum, master.random() * total_rate)
                    kind = kinds[min(i, len(kinds) - 1)]
                    session_no += 1
                    rng = random.Random((self.seed << 24) ^ session_no)
                    gen = factories[min(i, len(kinds) - 1)](ctx, rng, t_next // 1000 * 1000, kind)
                    sessions[kind] += 1
                    t_next += int(master.expovariate(total_rate) * _S) + 1
                    item = next(gen, None)
                    if item is not None:
                        n += 1
                        hpush(heap, (item[0], n, item[1], item[2], gen))
                    continue
                t, _, frame, key, gen = hpop(heap)
                proto_keys[key] += 1
                t = t // 1000 * 1000
                if not emitted:
                    stats.first_ns = t
                emitted += 1
                nbytes += len(frame)
                yield t, frame
                item = next(gen, None)
                if item is not None:
                    n += 1
                    hpush(heap, (item[0], n, item[1], item[2], gen))
        finally:
            stats.packets += emitted
            stats.bytes += nbytes
            if emitted:
                stats.last_ns = t
            for key, k in proto_keys.items():
                stats.protocols["eth"] += k
                for tok in set(key):
                    stats.protocols[tok] += k

    def chunks(self, count: int = DEFAULT_PACKETS, chunk_packets: int = 65536) -> Iterator[FrameChunk]:
        """The same packets as ``packets(count)``, packed into chunks of ``chunk_packets`` frames."""
        _check_count(count)
        if not isinstance(chunk_packets, int) or chunk_packets < 1:
            raise ConfigError(f"chunk_packets must be a positive integer, not {chunk_packets!r}")
        buf = bytearray()
        ts, offs, lens = [], [], []
        for t, frame in self.packets(count):
            offs.append(len(buf))
            lens.append(len(frame))
            ts.append(t)
            buf += frame
            if len(ts) == chunk_packets:
                yield _chunk(buf, ts, offs, lens)
                buf = bytearray()
                ts, offs, lens = [], [], []
        if ts:
            yield _chunk(buf, ts, offs, lens)


def _check_count(count):
    if not isinstance(count, (int, np.integer)) or isinstance(count, bool) or not 0 <= count <= MAX_PACKETS:
        raise ConfigError(f"the packet count must be an integer in [0, {MAX_PACKETS}], not {count!r}")


def _chunk(buf, ts, offs, lens) -> FrameChunk:
    index = np.zeros(len(ts), dtype=FRAME_DTYPE)
    index["ts_ns"] = ts
    index["data_off"] = offs
    index["caplen"] = lens
    index["wirelen"] = lens
    index["linktype"] = LINKTYPE_ETHERNET
    return FrameChunk(bytes(buf), index)


def generate(packets: int = 10_000, seed: int = DEFAULT_SEED) -> tuple:
    """All frames in one chunk, in memory: (FrameChunk, SynthStats). For modest counts."""
    _check_count(packets)
    g = TrafficGenerator(seed)
    chunks = list(g.chunks(packets, chunk_packets=max(1, packets)))
    if not chunks:
        return FrameChunk(b"", np.zeros(0, dtype=FRAME_DTYPE)), g.stats
    return chunks[0], g.stats


# ---------------------------------------------------------------- capture files
FORMATS = ("pcap", "pcapng")


def write_capture(path, packets: int = DEFAULT_PACKETS, seed: int = DEFAULT_SEED,
                  format: str = "pcap", chunk_packets: int = 65536,
                  progress: Optional[Callable[[int], None]] = None) -> SynthStats:
    """Write the generated traffic to ``path`` as a pcap or pcapng file (microsecond
    timestamps, Ethernet, snaplen 262144), with fastpath.capture's writers.

    The file is written to a temporary name beside ``path`` and renamed when complete, so an
    interrupted run never leaves a truncated capture under the final name. ``progress`` is
    called with the number of packets written after each chunk.
    Returns the SynthStats of what was written.
    """
    if format not in FORMATS:
        raise ConfigError(f"unknown capture format {format!r}: use one of {', '.join(FORMATS)}")
    _check_count(packets)
    try:
        from fastpath.capture import PcapWriter, PcapngWriter
    except ModuleNotFoundError as e:
        raise BuildError(f"writing a capture needs the compiled module {e.name}: build the core "
                         f"with 'make setup' (or 'python setup.py build_ext --inplace')") from e
    path = os.fspath(path)
    gen = TrafficGenerator(seed)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        if format == "pcap":
            writer = PcapWriter(tmp, linktype=LINKTYPE_ETHERNET, snaplen=SNAPLEN)
        else:
            writer = PcapngWriter(tmp, interfaces=((LINKTYPE_ETHERNET, SNAPLEN, 1000),),
                                  application="fastpath synth")
        with writer:
            done = 0
            for chunk in gen.chunks(packets, chunk_packets):
                writer.write_batch(chunk.buffer, chunk.index)
                done += len(chunk.index)
                if progress is not None:
                    progress(done)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return gen.stats
