"""What is in a capture: counts by link type, network and transport protocol, parse error and
checksum status, and the top talkers -- computed chunk by chunk in bounded memory.

    from fastpath.summary import summarize
    s = summarize("trace.pcap")
    s.packets, s.transport.most_common(3), s.top_talkers(5)
"""
import ipaddress
import time
from collections import Counter

import numpy as np

from fastpath.errors import CaptureError
from fastpath.packets import iter_parse
from fastpath.wire import record as R

ETHERTYPE_NAMES = {0x0800: "IPv4", 0x86DD: "IPv6", 0x0806: "ARP", 0x8035: "RARP",
                   0x88CC: "LLDP", 0x8809: "Slow protocols (LACP)", 0x88F7: "PTP",
                   0x8863: "PPPoE discovery", 0x88E5: "MACsec", 0x8847: "MPLS", 0x888E: "EAPOL",
                   0x9000: "Loopback"}
IPPROTO_NAMES = {1: "ICMP", 2: "IGMP", 4: "IPv4-in-IP", 6: "TCP", 17: "UDP", 41: "IPv6-in-IP",
                 47: "GRE", 50: "ESP", 51: "AH", 58: "ICMPv6", 59: "no next header",
                 89: "OSPF", 103: "PIM", 112: "VRRP", 132: "SCTP", 135: "Mobility", 143: "Ethernet"}

# Talker tables are exact up to this many addresses; past it the least-seen are dropped, so the
# table (and memory) stays bounded on a capture of any size, and the top entries stay right
# unless the traffic is spread almost evenly over millions of hosts.
MAX_TALKERS = 200_000


class Summary:
    """Counters for one capture. Counters are ``collections.Counter`` keyed by readable names."""

    def __init__(self, path):
        self.path = path
        self.packets = 0
        self.bytes = 0                  # on the wire
        self.captured_bytes = 0
        self.first_ns = None
        self.last_ns = None
        self.linktypes = Counter()
        self.network = Counter()
        self.transport = Counter()
        self.errors = Counter()
        self.ip_checksum = Counter()
        self.l4_checksum = Counter()
        self.vlan_tagged = 0
        self.fragments = 0
        self.tunnelled = Counter()
        self.capture_error = None       # the CaptureError that ended a broken file, if any
        self.talkers_approximate = False
        self.parse_seconds = 0.0
        self._talk_pkts = Counter()
        self._talk_bytes = Counter()

    @property
    def duration_s(self):
        if self.first_ns is None:
            return 0.0
        return (self.last_ns - self.first_ns) / 1e9

    def top_talkers(self, n=10, by="packets"):
        """[(address, packets, bytes)] for the n addresses seen in most packets (or bytes),
        counting both directions."""
        key = self._talk_pkts if by == "packets" else self._talk_bytes
        out = []
        for addr, _ in key.most_common(n):
            out.append((_addr_text(addr), self._talk_pkts[addr], self._talk_bytes[addr]))
        return out

    def as_dict(self, top=10):
        return {
            "path": str(self.path), "packets": self.packets, "bytes": self.bytes,
            "captured_bytes": self.captured_bytes, "duration_s": self.duration_s,
            "linktypes": dict(self.linktypes), "network": dict(self.network),
            "transport": dict(self.transport), "errors": dict(self.errors),
            "ip_checksum": dict(self.ip_checksum), "l4_checksum": dict(self.l4_checksum),
            "vlan_tagged": self.vlan_tagged, "fragments": self.fragments,
            "tunnelled": dict(self.tunnelled),
            "top_talkers": [{"address": a, "packets": p, "bytes": b}
                            for a, p, b in self.top_talkers(top)],
            "talkers_approximate": self.talkers_approximate,
            "capture_error": None if self.capture_error is None else str(self.capture_error),
        }

    # ---------------------------------------------------------------- accumulation
    def add(self, recs):
        n = len(recs)
        if n == 0:
            return
        self.packets += n
        self.bytes += int(recs["wirelen"].sum(dtype=np.uint64))
        self.captured_bytes += int(recs["caplen"].sum(dtype=np.uint64))
        ts = recs["ts_ns"]
        lo, hi = int(ts.min()), int(ts.max())
        self.first_ns = lo if self.first_ns is None else min(self.first_ns, lo)
        self.last_ns = hi if self.last_ns is None else max(self.last_ns, hi)
        _count(self.linktypes, recs["linktype"], lambda v: R.LINKTYPES.get(v, f"LINKTYPE {v}"))
        l3 = recs["l3_type"]
        has_l3 = recs["l3_off"] != R.OFF_NONE
        # IP packets are named by the header found (a version-6 packet behind 0x0800 is IPv6).
        version = recs["ip_version"]
        self.network["IPv4"] += int(np.count_nonzero(version == 4))
        self.network["IPv6"] += int(np.count_nonzero(version == 6))
        other = has_l3 & (version == 0)
        _count(self.network, l3[other], lambda v: ETHERTYPE_NAMES.get(v, f"ethertype {v:#06x}"))
        no_l3 = int(np.count_nonzero(~has_l3))
        if no_l3:
            self.network["no network layer"] += no_l3
        ip = version != 0
        full = ip & ((recs["ip_flags"] & R.IPF_NONFIRST) == 0)
        _count(self.transport, recs["ip_proto"][full], lambda v: IPPROTO_NAMES.get(v, f"IP protocol {v}"))
        nonfirst = int(np.count_nonzero(ip & ~full))
        if nonfirst:
            self.transport["non-first fragment"] += nonfirst
        _count(self.errors, recs["error"], lambda v: R.ERRORS.get(v, f"error {v}"))
        v4 = version == 4
        _count(self.ip_checksum, recs["csum_ip"][v4], R.CHECKSUM_STATUS.get)
        has_l4 = ip & (recs["l4_off"] != R.OFF_NONE)
        _count(self.l4_checksum, recs["csum_l4"][has_l4], R.CHECKSUM_STATUS.get)
        self.vlan_tagged += int(np.count_nonzero(recs["vlan_count"]))
        self.fragments += int(np.count_nonzero(recs["ip_flags"] & R.IPF_FRAGMENT))
        kinds = recs["inner_kind"]
        _count(self.tunnelled, kinds[kinds != R.INNER_NONE], R.INNER_KINDS.get)
        self._add_talkers(recs[ip])

    def _add_talkers(self, recs):
        if len(recs) == 0:
            return
        keys = _address_keys(recs)              # (2n, 16) uint8: sources then destinations
        wire = np.concatenate([recs["wirelen"], recs["wirelen"]]).astype(np.int64)
        view = np.ascontiguousarray(keys).view(np.dtype((np.void, 16))).ravel()
        uniq, inverse = np.unique(view, return_inverse=True)
        pkts = np.bincount(inverse)
        byts = np.bincount(inverse, weights=wire)
        for k, p, b in zip(uniq.tolist(), pkts.tolist(), byts.tolist()):
            self._talk_pkts[k] += p
            self._talk_bytes[k] += int(b)
        if len(self._talk_pkts) > MAX_TALKERS:
            self.talkers_approximate = True
            keep = dict(self._talk_pkts.most_common(MAX_TALKERS // 2))
            self._talk_pkts = Counter(keep)
            self._talk_bytes = Counter({k: self._talk_bytes[k] for k in keep})


def _count(counter, values, name):
    if len(values) == 0:
        return
    uniq, counts = np.unique(values, return_counts=True)
    for v, c in zip(uniq.tolist(), counts.tolist()):
        counter[name(v)] += c


def _address_keys(recs):
    """Sources then destinations as 16-byte keys: IPv6 as is, IPv4 as IPv4-mapped IPv6."""
    n = len(recs)
    keys = np.zeros((2 * n, 16), dtype=np.uint8)
    v6 = recs["ip_version"] == 6
    keys[:n][v6] = recs["ip6_src"][v6]
    keys[n:][v6] = recs["ip6_dst"][v6]
    v4 = ~v6
    for half, field in ((slice(0, n), "ip4_src"), (slice(n, 2 * n), "ip4_dst")):
        a = recs[field].astype(">u4").view(np.uint8).reshape(-1, 4)
        block = keys[half]
        block[v4, 10] = 0xFF
        block[v4, 11] = 0xFF
        block[v4, 12:16] = a[v4]
    return keys


def _addr_text(key):
    a = ipaddress.IPv6Address(bytes(key))
    return str(a.ipv4_mapped) if a.ipv4_mapped is not None else a.compressed


def summarize(source, chunk_packets=65536, progress=None):
    """Summarize a capture (path, file object or open CaptureReader). A broken file stops the
    count at the last good record; the error is kept in ``capture_error``."""
    s = Summary(getattr(source, "path", source))
    t0 = time.perf_counter()
    try:
        for chunk in iter_parse(source, chunk_packets=chunk_packets, verify_checksums=True):
            s.add(chunk.records)
            if progress is not None:
                progress(s.packets)
    except CaptureError as e:
        s.capture_error = e
    s.parse_seconds = time.perf_counter() - t0
    return s
