"""``fastpath xdp``: attaches with the given rules, captures redirected traffic to a file,
reports counters, and detaches when it ends (by --duration or SIGTERM)."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.bcc]
PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fastpath_cmd(*args):
    return [sys.executable, "-m", "fastpath", *args]


def start(args):
    env = dict(os.environ, PYTHONPATH=PROJECT)
    p = subprocess.Popen(fastpath_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    return p


def wait_attached(lab, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.xdp_attached() is not None:
            return True
        time.sleep(0.1)
    return False


def test_steer_capture_report_detach(lab, tmp_path, netns_ok):
    cap = tmp_path / "steered.pcapng"
    p = start(["xdp", lab.outer, "--netns", lab.ns, "--rule", "redirect udp dport 9999",
               "--rule", "drop udp dport 7777", "--capture", str(cap), "--interval", "0",
               "--json", "--duration", "4"])
    with p:                                  # closes its pipes and reaps it, however it ends
        try:
            assert wait_attached(lab), p.stderr.read() if p.poll() is not None else "not attached"
            time.sleep(0.5)                  # the AF_XDP socket is bound right after attaching
            with lab.peer_entered():
                tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            with tx:
                for i in range(30):
                    tx.sendto(b"steer-%d" % i, (lab.outer_ip, 9999))
                for i in range(10):
                    tx.sendto(b"drop-%d" % i, (lab.outer_ip, 7777))
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
    assert p.returncode == 0, err
    final = json.loads(out.strip().splitlines()[-1])
    assert final["final"] and final["received"] == 30
    by_rule = {r["rule"]: r["packets"] for r in final["rules"]}
    assert by_rule["redirect udp dport 9999"] == {"redirect": 30}
    assert by_rule["drop udp dport 7777"] == {"drop": 10}
    from fastpath.capture import open_capture
    with open_capture(str(cap)) as r:
        buf, index = r.read_all()
    mv = memoryview(buf)
    payloads = sorted(bytes(mv[int(o) + 42:int(o) + int(c)])
                      for o, c in zip(index["data_off"], index["caplen"]))
    assert payloads == sorted(b"steer-%d" % i for i in range(30))
    assert lab.xdp_attached() is None


def test_sigterm_detaches_and_reports(lab, netns_ok):
    p = start(["xdp", lab.outer, "--netns", lab.ns, "--rule", "drop udp dport 1",
               "--interval", "0"])
    with p:                                  # closes its pipes and reaps it, however it ends
        try:
            assert wait_attached(lab)
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
    assert p.returncode == 128 + signal.SIGTERM, err
    assert "final" in out
    assert lab.xdp_attached() is None


def test_bad_rules_and_options_are_reported(tmp_path):
    from fastpath.cli import main
    assert main(["xdp", "lo", "--rule", "drop udp dport 99999"]) == 1
    assert main(["xdp", "lo", "--rule", "drop udp dport 1", "--capture", "x.pcap"]) == 1
    assert main(["xdp", "lo", "--rules", str(tmp_path / "missing")]) == 1
