"""An independent reference dissector for the generator's tests.

Pure Python, written from the RFCs and sharing no code with fastpath: Ethernet with 802.1Q /
802.1ad tags, ARP, IPv4 (options, fragments), IPv6 (hop-by-hop, routing, destination options,
fragment headers), TCP with options, UDP, ICMP and ICMPv6 (with the quoted packet dissected in
turn), IGMP. Every checksum it meets is verified, fragments are reassembled and the transport
checksum verified over the whole datagram.

Checksums use the identity behind RFC 1071: 2**16 = 1 (mod 0xffff), so the ones' complement
sum of a message's 16-bit words is the message read as one big integer, mod 0xffff. A message
that carries its correct checksum sums to 0 mod 0xffff (RFC 1071's "all ones").
"""
import struct
from dataclasses import dataclass, field
from typing import Optional


def ones_ok(data: bytes) -> bool:
    if len(data) % 2:
        data = data + b"\0"
    return int.from_bytes(data, "big") % 0xFFFF == 0


def be16(b, o):
    return (b[o] << 8) | b[o + 1]


def be32(b, o):
    return int.from_bytes(b[o:o + 4], "big")


def pseudo4(src, dst, proto, length):
    return src + dst + bytes((0, proto)) + length.to_bytes(2, "big")


def pseudo6(src, dst, proto, length):
    return src + dst + length.to_bytes(4, "big") + bytes((0, 0, 0, proto))


@dataclass
class Packet:
    tags: list = field(default_factory=list)
    tpids: list = field(default_factory=list)
    ethertype: int = 0
    arp_op: Optional[int] = None
    ip: Optional[int] = None          # 4 or 6
    src: bytes = b""
    dst: bytes = b""
    proto: Optional[int] = None       # upper-layer protocol
    ttl: int = 0
    ip_id: int = 0
    fragment: bool = False
    first_fragment: bool = False
    ext: list = field(default_factory=list)   # IPv6 extension header types, in order
    ip_options: bytes = b""
    sport: Optional[int] = None
    dport: Optional[int] = None
    tcp: Optional[dict] = None
    udp_len: Optional[int] = None
    icmp: Optional[tuple] = None      # (type, code)
    quoted: Optional["Packet"] = None
    payload: bytes = b""
    checks: list = field(default_factory=list)  # (what, ok)

    def protocols(self):
        """The set of header names present, quoted ones included (tshark's names)."""
        out = set()
        p = self
        if p.tags:
            out.add("vlan")
        if len(p.tags) > 1:
            out.add("vlan2")
        while p is not None:
            if p.arp_op is not None:
                out.add("arp")
            if p.ip == 4:
                out.add("ip")
                if p.fragment:
                    out.add("ip.frag")
            elif p.ip == 6:
                out.add("ipv6")
                if 0 in p.ext:
                    out.add("ipv6.hopopts")
                if 44 in p.ext:
                    out.add("ipv6.fraghdr")
            if p.tcp is not None:
                out.add("tcp")
            if p.udp_len is not None:
                out.add("udp")
            if p.icmp is not None:
                out.add("icmpv6" if p.ip == 6 else "icmp")
            if p.proto == 2 and p.ip == 4:
                out.add("igmp")
            p = p.quoted
        return out


def tcp_options(opts: bytes) -> dict:
    out = {}
    i = 0
    while i < len(opts):
        kind = opts[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        ln = opts[i + 1]
        assert ln >= 2 and i + ln <= len(opts), f"malformed TCP option {kind} length {ln}"
        body = opts[i + 2:i + ln]
        if kind == 2:
            out["mss"] = be16(body, 0)
        elif kind == 3:
            out["wscale"] = body[0]
        elif kind == 4:
            out["sack_perm"] = True
        elif kind == 5:
            out["sack"] = [(be32(body, k), be32(body, k + 4)) for k in range(0, len(body), 8)]
        elif kind == 8:
            out["ts"] = (be32(body, 0), be32(body, 4))
        else:
            out.setdefault("unknown", []).append(kind)
        i += ln
    return out


class Reassembler:
    """Collects fragments by (version, src, dst, id, proto); verifies each complete datagram."""

    def __init__(self):
        self.parts = {}
        self.verified = 0
        self.failed = []

    def add(self, key, offset, more, data, pseudo_fn):
        entry = self.parts.setdefault(key, {"pieces": {}, "total": None, "pseudo": pseudo_fn})
        entry["pieces"][offset] = data
        if not more:
            entry["total"] = offset + len(data)
        if entry["total"] is not None:
            buf = bytearray()
            pos = 0
            while pos < entry["total"]:
                piece = entry["pieces"].get(pos)
                if piece is None:
                    return
                buf += piece
                pos += len(piece)
            proto = key[-1]
            ok = ones_ok(entry["pseudo"](len(buf)) + bytes(buf)) if proto != 1 else ones_ok(bytes(buf))
            if ok:
                self.verified += 1
            else:
                self.failed.append(key)
            del self.parts[key]


def dissect(frame: bytes, reasm: Optional[Reassembler] = None) -> Packet:
    p = Packet()
    et = be16(frame, 12)
    off = 14
    while et in (0x8100, 0x88A8):
        p.tpids.append(et)
        p.tags.append(be16(frame, off) & 0x0FFF)
        et = be16(frame, off + 2)
        off += 4
    p.ethertype = et
    if et == 0x0806:
        p.arp_op = be16(frame, off + 6)
    elif et == 0x0800:
        _ipv4(frame[off:], p, reasm, quoted=False)
    elif et == 0x86DD:
        _ipv6(frame[off:], p, reasm, quoted=False)
    return p


def _ipv4(b, p, reasm, quoted):
    assert b[0] >> 4 == 4
    p.ip = 4
    ihl = (b[0] & 15) * 4
    total = be16(b, 2)
    p.ip_id = be16(b, 4)
    ff = be16(b, 6)
    p.ttl = b[8]
    p.proto = b[9]
    p.src, p.dst = bytes(b[12:16]), bytes(b[16:20])
    p.ip_options = bytes(b[20:ihl])
    p.checks.append(("ipv4 header" + (" (quoted)" if quoted else ""), ones_ok(bytes(b[:ihl]))))
    body = bytes(b[ihl:total])              # Ethernet padding and ICMP quote limits cut here
    complete = len(b) >= total
    frag_off = (ff & 0x1FFF) * 8
    more = bool(ff & 0x2000)
    if more or frag_off:
        p.fragment = True
        p.first_fragment = frag_off == 0
        if reasm is not None and not quoted:
            src, dst, proto = p.src, p.dst, p.proto
            reasm.add((4, src, dst, p.ip_id, proto), frag_off, more, body,
                      lambda n: pseudo4(src, dst, proto, n))
        if frag_off:
            return
    verify = complete and not p.fragment
    _l4(body, p, lambda n: pseudo4(p.src, p.dst, p.proto, n), verify, reasm, quoted)


def _ipv6(b, p, reasm, quoted):
    assert b[0] >> 4 == 6
    p.ip = 6
    plen = be16(b, 4)
    nh = b[6]
    p.ttl = b[7]
    p.src, p.dst = bytes(b[8:24]), bytes(b[24:40])
    off = 40
    end = 40 + plen
    complete = len(b) >= end
    frag = None
    while nh in (0, 43, 44, 60):
        p.ext.append(nh)
        if nh == 44:
            fo = be16(b, off + 2)
            frag = ((fo >> 3) * 8, bool(fo & 1), be32(b, off + 4))
            nh = b[off]
            off += 8
            break
        hlen = (b[off + 1] + 1) * 8
        nh = b[off]
        off += hlen
    p.proto = nh
    body = bytes(b[off:end])
    src, dst = p.src, p.dst
    if frag is not None:
        p.fragment = True
        p.first_fragment = frag[0] == 0
        p.ip_id = frag[2]
        if reasm is not None and not quoted:
            reasm.add((6, src, dst, frag[2], nh), frag[0], frag[1], body,
                      lambda n: pseudo6(src, dst, nh, n))
        if frag[0]:
            return
    _l4(body, p, lambda n: pseudo6(src, dst, nh, n), complete and frag is None, reasm, quoted)


def _l4(seg, p, pseudo, verify, reasm, quoted):
    tag = " (quoted)" if quoted else ""
    if p.proto == 6 and len(seg) >= 20:
        doff = (seg[12] >> 4) * 4
        p.sport, p.dport = be16(seg, 0), be16(seg, 2)
        p.tcp = {"seq": be32(seg, 4), "ack": be32(seg, 8), "flags": be16(seg, 12) & 0x0FFF,
                 "window": be16(seg, 14), "len": len(seg) - doff,
                 "options": tcp_options(bytes(seg[20:doff])) if len(seg) >= doff else {}}
        p.payload = seg[doff:]
        if verify:
            p.checks.append(("tcp" + tag, ones_ok(pseudo(len(seg)) + seg)))
    elif p.proto == 17 and len(seg) >= 8:
        p.sport, p.dport = be16(seg, 0), be16(seg, 2)
        p.udp_len = be16(seg, 4)
        p.payload = seg[8:p.udp_len]
        if verify:
            p.checks.append(("udp nonzero" + tag, be16(seg, 6) != 0))
            p.checks.append(("udp" + tag, ones_ok(pseudo(p.udp_len) + seg[:p.udp_len])))
    elif p.proto in (1, 58) and len(seg) >= 8:
        t, code = seg[0], seg[1]
        p.icmp = (t, code)
        if verify:
            msg_ok = ones_ok(seg) if p.proto == 1 else ones_ok(pseudo(len(seg)) + seg)
            p.checks.append(("icmp" + tag, msg_ok))
        if p.proto == 1 and t in (3, 4, 5, 11, 12) or p.proto == 58 and 1 <= t <= 4:
            q = Packet()
            inner = seg[8:]
            if inner and inner[0] >> 4 == 4:
                _ipv4(inner, q, reasm, quoted=True)
            elif inner and inner[0] >> 4 == 6:
                _ipv6(inner, q, reasm, quoted=True)
            p.quoted = q
            p.checks.extend(q.checks)
        elif (p.proto == 1 and t in (0, 8)) or (p.proto == 58 and t in (128, 129)):
            p.sport = be16(seg, 4)
    elif p.proto == 2:
        if verify:
            p.checks.append(("igmp", ones_ok(seg)))
