"""fastpath against the Python packet libraries users have today, on the same packets.

* dpkt 1.9.8 reading the pcap and decoding every frame to L4 (Ethernet/VLAN -> IPv4/IPv6 ->
  TCP with its options, UDP, ICMP), on the first FASTPATH_BENCH_PEER_PACKETS (default 20,000)
  packets of the benchmark capture; fastpath parses the very same file (issue 2 target:
  fastpath >= 100x dpkt);
* scapy 2.8 doing the same on the first 2,000 packets, for the record.

Each decoder also reports how many TCP and UDP headers it found, and the counts are checked
against fastpath's, so the three did the same job.
Run: .venv/bin/python -m pytest bench/bench_wire_peers.py --benchmark-only
"""
import os

import numpy as np
import pytest

PEER_PACKETS = int(os.environ.get("FASTPATH_BENCH_PEER_PACKETS", 20_000))
SCAPY_PACKETS = int(os.environ.get("FASTPATH_BENCH_SCAPY_PACKETS", 2_000))


def times(benchmark):
    """(median, fastest round) in seconds, or (None, None) when benchmarking is disabled."""
    stats = getattr(benchmark, "stats", None)
    return (None, None) if stats is None else (stats.stats.median, stats.stats.min)


@pytest.fixture(scope="module")
def head(bench_lib, bench_capture):
    return bench_lib.pcap_head(bench_capture, PEER_PACKETS)


@pytest.fixture(scope="module")
def scapy_head(bench_lib, bench_capture):
    return bench_lib.pcap_head(bench_capture, SCAPY_PACKETS)


def fastpath_counts(recs):
    """Outer TCP/UDP headers fastpath found (not quoted ones, not non-first fragments)."""
    has_l4 = (recs["l4_off"] != 0xFFFF) & (recs["ip_flags"] & 0x08 == 0)
    return {"packets": len(recs),
            "tcp": int((has_l4 & (recs["ip_proto"] == 6)).sum()),
            "udp": int((has_l4 & (recs["ip_proto"] == 17)).sum())}


def dpkt_decode(path):
    import dpkt
    n = tcp = udp = icmp = failed = 0
    with open(path, "rb") as f:
        for ts, buf in dpkt.pcap.Reader(f):
            n += 1
            try:
                eth = dpkt.ethernet.Ethernet(buf)
            except (dpkt.UnpackError, IndexError, ValueError):
                failed += 1
                continue
            ip = eth.data
            if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)):
                continue
            l4 = ip.data
            if isinstance(l4, dpkt.tcp.TCP):
                tcp += 1
                fields = (ip.src, ip.dst, l4.sport, l4.dport, l4.seq, l4.ack, l4.flags, l4.win)
                if l4.opts:
                    fields += tuple(dpkt.tcp.parse_opts(l4.opts))
            elif isinstance(l4, dpkt.udp.UDP):
                udp += 1
                fields = (ip.src, ip.dst, l4.sport, l4.dport, l4.ulen)
            elif isinstance(l4, (dpkt.icmp.ICMP, dpkt.icmp6.ICMP6)):
                icmp += 1
                fields = (ip.src, ip.dst, l4.type, l4.code)
    return {"packets": n, "tcp": tcp, "udp": udp, "icmp": icmp, "failed": failed}


def scapy_decode(path):
    from scapy.utils import PcapReader
    from scapy.layers.inet import IP, TCP, UDP, ICMP
    from scapy.layers.inet6 import IPv6
    n = tcp = udp = 0
    with PcapReader(str(path)) as reader:
        for pkt in reader:          # scapy dissects every layer as it reads
            n += 1
            if TCP in pkt and not pkt[TCP].underlayer.__class__.__name__.endswith("InICMP"):
                t = pkt[TCP]
                fields = (t.sport, t.dport, t.seq, t.ack, t.flags, t.window, t.options)
                tcp += 1
            elif UDP in pkt:
                u = pkt[UDP]
                fields = (u.sport, u.dport, u.len)
                udp += 1
    return {"packets": n, "tcp": tcp, "udp": udp}


def test_parse_head_fastpath(benchmark, bench_lib, head, wire_board):
    benchmark.group = "wire-peers"
    label, parse_capture = bench_lib.capture_parser()
    recs = benchmark.pedantic(parse_capture, args=(head,), rounds=15, warmup_rounds=1)
    assert len(recs) == PEER_PACKETS
    t, tb = times(benchmark)
    if t:
        wire_board.record("parse_head_fastpath_kpps", len(recs) / t / 1e3,
                          f"{label}, first {PEER_PACKETS} packets",
                          best=len(recs) / tb / 1e3)


def test_parse_head_dpkt(benchmark, bench_lib, head, wire_board):
    pytest.importorskip("dpkt", reason="dpkt is not installed (make setup installs it)")
    benchmark.group = "wire-peers"
    counts = benchmark.pedantic(dpkt_decode, args=(head,), rounds=5, warmup_rounds=1)
    _, parse_capture = bench_lib.capture_parser()
    ours = fastpath_counts(parse_capture(head))
    assert counts["packets"] == ours["packets"]
    # dpkt decodes the UDP header of a first fragment and cannot see past some IPv6 chains;
    # the totals still agree to within a few packets in a thousand.
    assert abs(counts["tcp"] - ours["tcp"]) <= 0.005 * ours["tcp"] + 2, (counts, ours)
    assert abs(counts["udp"] - ours["udp"]) <= 0.01 * ours["udp"] + 2, (counts, ours)
    benchmark.extra_info.update(counts)
    t, tb = times(benchmark)
    if t:
        wire_board.record("dpkt_kpps", counts["packets"] / t / 1e3,
                          f"dpkt.pcap.Reader + Ethernet() to L4 + tcp.parse_opts, {counts}",
                          best=counts["packets"] / tb / 1e3)


def test_parse_head_scapy(benchmark, bench_lib, scapy_head, wire_board):
    pytest.importorskip("scapy", reason="scapy is not installed (make setup installs it)")
    benchmark.group = "wire-peers"
    counts = benchmark.pedantic(scapy_decode, args=(scapy_head,), rounds=3, warmup_rounds=1)
    _, parse_capture = bench_lib.capture_parser()
    ours = fastpath_counts(parse_capture(scapy_head))
    assert counts["packets"] == ours["packets"]
    assert abs(counts["tcp"] - ours["tcp"]) <= 0.01 * ours["tcp"] + 2, (counts, ours)
    benchmark.extra_info.update(counts)
    t, tb = times(benchmark)
    if t:
        wire_board.record("scapy_kpps", counts["packets"] / t / 1e3,
                          f"scapy PcapReader (full dissection), first {SCAPY_PACKETS} packets",
                          best=counts["packets"] / tb / 1e3)


def test_parse_head_paired_dpkt(benchmark, bench_lib, head, wire_board):
    pytest.importorskip("dpkt", reason="dpkt is not installed (make setup installs it)")
    benchmark.group = "wire-peers-paired"
    _, parse_capture = bench_lib.capture_parser()
    ratio, rs = benchmark.pedantic(
        bench_lib.paired_ratio, args=(lambda: parse_capture(head), lambda: dpkt_decode(head)),
        kwargs={"rounds": 7}, rounds=1, iterations=1)
    benchmark.extra_info["fastpath_vs_dpkt"] = rs
    wire_board.record("paired_vs_dpkt", ratio, f"median of 7 ABBA pairs, range {rs[0]:.0f}-{rs[-1]:.0f}")
