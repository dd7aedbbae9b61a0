"""fastpath parse against tshark run live, on traffic neither was tuned on: the synth
generator's mixed capture (VLAN/QinQ, IPv6 extension headers, fragments, ICMP errors quoting
TCP/UDP, ARP). Output must be byte-identical."""
import shutil
import subprocess
import sys

import pytest

from fastpath import synth

from support import PROJECT

FIELDS = ["frame.number", "eth.type", "vlan.id", "ip.src", "ip.dst", "ip.proto",
          "ip.checksum.status", "ipv6.src", "ipv6.dst", "ipv6.nxt", "tcp.srcport", "tcp.dstport",
          "tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.window_size_value",
          "tcp.options.mss_val", "tcp.options.wscale.shift", "tcp.checksum.status",
          "udp.srcport", "udp.dstport", "udp.checksum.status", "icmp.type", "arp.opcode",
          "ip.len", "ip.ttl", "tcp.len", "udp.length", "icmpv6.type", "arp.src.proto_ipv4"]
PREFS = ["-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
         "-o", "ip.check_checksum:TRUE", "-o", "ip.defragment:FALSE",
         "-o", "ipv6.defragment:FALSE", "-o", "tcp.desegment_tcp_streams:FALSE"]


@pytest.mark.skipif(shutil.which("tshark") is None,
                    reason="needs tshark on PATH (make setup installs it as root)")
def test_synth_traffic_renders_exactly_as_tshark(tmp_path):
    cap = tmp_path / "mixed.pcap"
    synth.write_capture(cap, packets=20000, seed=7)
    fields = sum((["-e", f] for f in FIELDS), [])
    ours = subprocess.run([sys.executable, "-m", "fastpath", "parse", str(cap), "-T", "fields",
                           *fields, *PREFS], capture_output=True, cwd=PROJECT, check=True).stdout
    theirs = subprocess.run(["tshark", "-n", "-r", str(cap), "-T", "fields", *fields, *PREFS],
                            capture_output=True, check=True).stdout
    ours_lines, theirs_lines = ours.splitlines(), theirs.splitlines()
    assert len(ours_lines) == len(theirs_lines) == 20000
    diff = [(i + 1, a, b) for i, (a, b) in enumerate(zip(ours_lines, theirs_lines)) if a != b]
    assert not diff, f"{len(diff)} lines differ, first: {diff[:3]}"
