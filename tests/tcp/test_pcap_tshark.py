"""An independent check of what the stack puts on the wire: a simulated exchange is written to
a pcap and dissected by tshark (a decoder nobody here wrote). Every checksum must verify, no
frame may be malformed, the connection must be complete, and the byte counts must match."""
import subprocess

import pytest

from support import needs_tool
from fastpath.tcp import Simulation, TcpConfig

try:
    from fastpath.capture import PcapWriter  # noqa: F401  (Simulation.write_pcap uses it)
except ImportError as e:
    pytest.skip(f"needs fastpath.capture's PcapWriter built ({e})", allow_module_level=True)

FIELDS = ["frame.number", "ip.src", "ipv6.src", "tcp.srcport", "tcp.len", "tcp.checksum.status",
          "ip.checksum.status", "tcp.completeness", "_ws.malformed",
          "tcp.analysis.retransmission", "tcp.analysis.fast_retransmission",
          "tcp.options.timestamp.tsval", "tcp.options.sack_perm", "tcp.options.wscale.shift"]


def tshark_rows(path):
    cmd = ["tshark", "-r", str(path), "-o", "tcp.check_checksum:TRUE", "-o",
           "ip.check_checksum:TRUE", "-T", "fields", "-E", "separator=|", "-E", "occurrence=f"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout
    return [dict(zip(FIELDS, line.split("|"))) for line in out.splitlines()]


@needs_tool("tshark")
@pytest.mark.parametrize("ipv6", [False, True], ids=["ipv4", "ipv6"])
def test_tshark_agrees_with_a_clean_exchange(tmp_path, ipv6):
    sim = Simulation(TcpConfig(), trace=100_000, ipv6=ipv6, seed=3)
    r = sim.transfer(200_000, 50_000)
    assert r["b_received"] == 200_000
    path = tmp_path / "clean.pcap"
    sim.write_pcap(path)
    rows = tshark_rows(path)
    assert len(rows) == len(sim.trace_frames())
    assert all(row["tcp.checksum.status"] == "1" for row in rows)      # 1 = good
    if not ipv6:
        assert all(row["ip.checksum.status"] == "1" for row in rows)
    assert not any(row["_ws.malformed"] for row in rows)
    assert not any(row["tcp.analysis.retransmission"] for row in rows)
    # SYN, SYN-ACK, ACK, data and FIN all seen: tshark's completeness flags 1+2+4+8+16.
    assert rows[-1]["tcp.completeness"] == "31"
    src_a = sim.addr_a
    up = sum(int(r["tcp.len"]) for r in rows if (r["ipv6.src"] or r["ip.src"]) == src_a)
    down = sum(int(r["tcp.len"]) for r in rows if (r["ipv6.src"] or r["ip.src"]) != src_a)
    assert (up, down) == (200_000, 50_000)
    syn = rows[0]
    assert syn["tcp.options.sack_perm"] and syn["tcp.options.wscale.shift"] == "3"
    assert syn["tcp.options.timestamp.tsval"]


@needs_tool("tshark")
def test_tshark_sees_the_retransmissions_of_a_lossy_exchange(tmp_path):
    sim = Simulation(TcpConfig(rto_min_us=200_000), trace=100_000, seed=4, loss=0.05)
    r = sim.transfer(300_000, 0)
    assert r["b_received"] == 300_000
    path = tmp_path / "lossy.pcap"
    sim.write_pcap(path)
    rows = tshark_rows(path)
    assert all(row["tcp.checksum.status"] == "1" for row in rows)
    retrans = sum(1 for row in rows if row["tcp.analysis.retransmission"] or
                  row["tcp.analysis.fast_retransmission"])
    assert retrans >= sim.ab.stats["lost"] // 2 > 0
