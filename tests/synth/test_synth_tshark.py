"""tshark (and tcpdump) read the generator's files and agree with it: same packets, same
per-protocol counts, every checksum tshark validates is good, nothing malformed."""
import subprocess
from collections import Counter

import pytest

from fastpath import synth
from support import needs_tool

COUNT = 20_000

TSHARK_OPTS = [
    # One row per packet (no reassembly), and validate every checksum tshark can.
    "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
    "-o", "tcp.desegment_tcp_streams:FALSE",
    "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
    "-o", "udp.check_checksum:TRUE",
]
FIELDS = ["frame.protocols", "ip.checksum.status", "tcp.checksum.status", "udp.checksum.status",
          "icmp.checksum.status", "icmpv6.checksum.status", "igmp.checksum.status",
          "_ws.malformed", "ip.flags.mf", "ip.frag_offset", "frame.len"]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth")
    stats = synth.write_capture(d / "mixed.pcap", COUNT, seed=21)
    synth.write_capture(d / "mixed.pcapng", COUNT, seed=21, format="pcapng")
    return d, stats


def tshark_rows(path):
    cmd = ["tshark", "-n", "-r", str(path), *TSHARK_OPTS, "-T", "fields", "-E", "separator=|",
           "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    rows = [dict(zip(FIELDS, line.split("|"))) for line in res.stdout.splitlines()]
    return rows


@pytest.fixture(scope="module")
def rows(written):
    d, _ = written
    return tshark_rows(d / "mixed.pcap")


@needs_tool("tshark")
def test_tshark_reads_every_packet(rows, written):
    _, stats = written
    assert len(rows) == COUNT == stats.packets


@needs_tool("tshark")
def test_tshark_agrees_on_protocol_counts(rows, written):
    _, stats = written
    theirs = Counter()
    for r in rows:
        toks = set(r["frame.protocols"].split(":"))
        theirs["eth"] += "eth" in toks
        theirs["vlan"] += bool(toks & {"vlan", "ieee8021ad"})
        theirs["vlan2"] += "ieee8021ad" in toks and "vlan" in toks
        for name in ("arp", "ip", "ipv6", "tcp", "udp", "icmp", "icmpv6", "igmp",
                     "ipv6.hopopts", "ipv6.fraghdr"):
            theirs[name] += name in toks
        mf = r["ip.flags.mf"].split(",")[0]
        fo = r["ip.frag_offset"].split(",")[0]
        theirs["ip.frag"] += mf == "1" or (fo not in ("", "0"))
    ours = {k: stats.protocols.get(k, 0) for k in theirs}
    assert dict(theirs) == ours
    # And the sample really has every kind in it.
    assert all(ours[k] > 0 for k in ours), ours


@needs_tool("tshark")
def test_tshark_finds_every_checksum_good(rows):
    validated = 0
    for i, r in enumerate(rows, 1):
        quotes_tcp = "icmp:ip:tcp" in r["frame.protocols"] or "icmpv6:ipv6:tcp" in r["frame.protocols"]
        ip = [v for v in r["ip.checksum.status"].split(",") if v]
        if ip:
            assert ip[0] == "1", f"frame {i}: the IPv4 header checksum is {ip[0]}"
        for field in ("ip.checksum.status", "tcp.checksum.status", "udp.checksum.status",
                      "icmp.checksum.status", "icmpv6.checksum.status", "igmp.checksum.status"):
            for v in (v for v in r[field].split(",") if v):
                validated += v == "1"
                if v == "0":
                    # tshark checks a TCP checksum even over a segment an ICMP error quotes
                    # only in part (RFC 1812 4.3.2.3 caps the error at 576 bytes, RFC 4443 at
                    # 1280): that is the one "bad" it may report, and only inside a quote.
                    assert field == "tcp.checksum.status" and quotes_tcp, f"frame {i}: {field} = {r[field]}"
                else:
                    assert v in ("1", "2"), f"frame {i}: {field} = {r[field]}"
    assert validated > COUNT


@needs_tool("tshark")
def test_nothing_malformed(rows):
    bad = [i for i, r in enumerate(rows, 1) if r["_ws.malformed"]]
    assert not bad, f"tshark says frames {bad[:10]} are malformed"


@needs_tool("tshark")
def test_tshark_reads_the_pcapng_identically(rows, written):
    d, _ = written
    ng = tshark_rows(d / "mixed.pcapng")
    assert [r["frame.len"] for r in ng] == [r["frame.len"] for r in rows]
    assert [r["frame.protocols"] for r in ng] == [r["frame.protocols"] for r in rows]


@needs_tool("tcpdump")
@pytest.mark.parametrize("name", ["mixed.pcap", "mixed.pcapng"])
def test_tcpdump_reads_the_files(written, name):
    d, _ = written
    res = subprocess.run(["tcpdump", "-nn", "-q", "-r", str(d / name)], capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.splitlines()) == COUNT
