"""Build PACKET_DTYPE records directly (what the parser would produce), for tracker tests."""
import ipaddress

import numpy as np

from fastpath.wire.record import PACKET_DTYPE, CSUM_UNVERIFIED, OFFSET_NONE

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80
T0 = 1_700_000_000 * 10**9          # an arbitrary epoch for test timestamps (ns)
MS = 10**6
SEC = 10**9


def _ip(rec, src, dst):
    s = ipaddress.ip_address(src)
    d = ipaddress.ip_address(dst)
    assert s.version == d.version
    rec["ip_version"] = s.version
    if s.version == 4:
        rec["ip4_src"] = int(s)
        rec["ip4_dst"] = int(d)
        rec["l3_type"] = 0x0800
        return 20
    rec["ip6_src"] = np.frombuffer(s.packed, np.uint8)
    rec["ip6_dst"] = np.frombuffer(d.packed, np.uint8)
    rec["l3_type"] = 0x86DD
    return 40


def packet(ts, src, sport, dst, dport, proto=6, *, flags=0, seq=0, ack=0, win=65535, payload=0,
           wscale=None, sack_perm=False, sack=None, vlan=(), csum_l4=CSUM_UNVERIFIED,
           csum_ip=CSUM_UNVERIFIED, truncated=False, icmp_type=0, icmp_code=0):
    rec = np.zeros(1, PACKET_DTYPE)[0]
    rec["ts_ns"] = ts
    rec["linktype"] = 1
    rec["eth_type"] = 0x8100 if vlan else 0
    l2 = 14 + 4 * len(vlan)
    rec["vlan_count"] = len(vlan)
    for i, v in enumerate(vlan):
        rec["vlan"][i] = v
    iphl = _ip(rec, src, dst)
    rec["ip_proto"] = proto
    rec["ip_ttl"] = 64
    rec["l3_off"] = l2
    rec["l4_off"] = l2 + iphl
    if proto == 6:
        opts = 0
        if wscale is not None:
            rec["tcp_opts"] |= 0x02
            rec["tcp_wscale"] = wscale
            opts = 12
        if sack_perm:
            rec["tcp_opts"] |= 0x04
            opts = 12
        if sack is not None:
            rec["tcp_opts"] |= 0x08
            rec["tcp_sack_max"] = sack
            opts = 12
        hl = 20 + opts
        rec["sport"], rec["dport"] = sport, dport
        rec["tcp_flags"] = flags
        rec["tcp_seq"] = seq & 0xFFFFFFFF
        rec["tcp_ack"] = ack & 0xFFFFFFFF
        rec["tcp_window"] = win
    elif proto == 17:
        hl = 8
        rec["sport"], rec["dport"] = sport, dport
    elif proto in (1, 58):
        hl = 8
        rec["icmp_type"] = icmp_type
        rec["icmp_code"] = icmp_code
        rec["sport"] = sport
    else:
        hl = 0
    rec["payload_off"] = l2 + iphl + hl
    rec["payload_len"] = payload
    rec["wirelen"] = l2 + iphl + hl + payload
    rec["caplen"] = l2 + iphl + hl + (0 if truncated else payload)
    rec["csum_l4"] = csum_l4
    rec["csum_ip"] = csum_ip
    rec["inner_off"] = OFFSET_NONE
    return rec


def batch(*recs):
    out = np.zeros(len(recs), PACKET_DTYPE)
    for i, r in enumerate(recs):
        out[i] = r
    return out


class Conv:
    """One TCP conversation between a client and a server, with automatic sequence numbers.

    ``c(flags, ...)`` sends from the client, ``s(flags, ...)`` from the server; each returns
    ``(verdict, reason)`` names. Finished records collect in ``records``."""

    def __init__(self, table, client=("10.0.0.1", 40000), server=("10.0.0.2", 80), t0=T0,
                 isn_c=1000, isn_s=50000, step=MS):
        self.table = table
        self.ends = [client, server]
        self.next = [isn_c, isn_s]
        self.t = t0
        self.step = step
        self.records = []

    def send(self, side, flags, payload=0, seq=None, ack=None, dt=None, **kw):
        from fastpath.flow.conntrack import VERDICT_NAMES, REASON_NAMES
        self.t += self.step if dt is None else dt
        s, d = self.ends[side], self.ends[1 - side]
        if seq is None:
            seq = self.next[side]
        if ack is None:
            ack = self.next[1 - side] if flags & ACK else 0
        p = packet(self.t, s[0], s[1], d[0], d[1], 6, flags=flags, seq=seq, ack=ack,
                   payload=payload, **kw)
        adv = payload + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
        if not flags & RST and ((seq - self.next[side]) & 0xFFFFFFFF) < 0x80000000:
            self.next[side] = max(self.next[side], (seq + adv) & 0xFFFFFFFF)
        v = np.zeros(1, np.uint8)
        r = np.zeros(1, np.uint8)
        recs = self.table.track(batch(p), verdicts=v, reasons=r)
        if len(recs):
            self.records.extend(recs)
        return VERDICT_NAMES[v[0]], REASON_NAMES[r[0]]

    def c(self, flags, payload=0, **kw):
        return self.send(0, flags, payload, **kw)

    def s(self, flags, payload=0, **kw):
        return self.send(1, flags, payload, **kw)

    def handshake(self, **kw):
        assert self.c(SYN, **kw)[0] == "new"
        assert self.s(SYN | ACK, **kw)[0] == "accept"
        assert self.c(ACK)[0] == "accept"

    def info(self):
        (ca, cp), (sa, sp) = self.ends
        return self.table.lookup(ca, cp, sa, sp, 6)
