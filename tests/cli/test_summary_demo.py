"""`fastpath summary` and `fastpath demo`."""
import json
import subprocess
import sys

from fastpath.summary import summarize

from support import PROJECT, captures_dir


def test_summary_counts_match_the_oracle():
    s = summarize(captures_dir() / "zeek" / "wikipedia.pcap")
    # Against the tshark oracle for this file: 121 IPv4 packets, 5 IPv6, 6 ARP, 136 in all.
    assert (s.packets, s.network["IPv4"], s.network["IPv6"], s.network["ARP"]) == (136, 121, 5, 6)
    assert s.transport["TCP"] == 78 and s.transport["UDP"] == 48
    assert s.errors["ok"] == 136 and s.ip_checksum["good"] == 121
    top = s.top_talkers(1)[0]
    assert top[0] == "141.142.220.118" and top[1] == 105


def test_summary_json_and_broken_file(tmp_path):
    cap = captures_dir() / "zeek" / "wikipedia.pcap"
    out = subprocess.run([sys.executable, "-m", "fastpath", "summary", str(cap), "--json",
                          "--top", "2"], capture_output=True, text=True, cwd=PROJECT, check=True)
    d = json.loads(out.stdout)
    assert d["packets"] == 136 and len(d["top_talkers"]) == 2
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(cap.read_bytes()[:-30])
    r = subprocess.run([sys.executable, "-m", "fastpath", "summary", str(cut)],
                       capture_output=True, text=True, cwd=PROJECT)
    assert r.returncode == 1 and "packets      135" in r.stdout and "record 136" in r.stderr


def test_demo_runs_end_to_end(tmp_path):
    r = subprocess.run([sys.executable, "-m", "fastpath", "demo", "--packets", "3000",
                        "--dir", str(tmp_path)], capture_output=True, text=True, cwd=PROJECT)
    assert r.returncode == 0, r.stderr
    assert "packets      3,000" in r.stdout
    assert "connections from 3,000 packets" in r.stdout
    assert list(tmp_path.glob("demo-*.pcap"))
