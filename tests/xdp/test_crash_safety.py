"""Killing the engine leaves nothing attached and nothing half-configured: a child process
attaches the steering program, opens an AF_XDP socket and a promiscuous AF_PACKET socket, and
is then killed. With BPF links (the default) the kernel detaches on SIGKILL; SIGTERM and SIGINT
detach through Python's exit path; a netlink attachment killed with SIGKILL is what
``fastpath doctor --cleanup`` removes."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.bcc]

PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ENGINE = r"""
import sys, time
from fastpath.io.netns import entered
from fastpath.xdp import Steering, install_signal_handlers
ns, ifname, via, handlers = sys.argv[1:5]
if handlers == "1":
    install_signal_handlers()
st = Steering(max_rules=8, max_flows=8, max_prefixes=8)
st.add_rule("redirect udp dport 9999")
with entered(ns):
    st.attach(ifname, via=via)
    from fastpath.io import AfXdpDevice, AfPacketDevice
    xsk = AfXdpDevice(ifname, 0)
    raw = AfPacketDevice(ifname, promisc=True)
st.bind(xsk)
print("ready", flush=True)
try:
    while True:
        with xsk.recv(timeout=0.2):
            pass
finally:
    print("exiting", flush=True)
"""


def link_state(lab):
    from fastpath.io.netns import ip
    d = json.loads(ip("-j", "-d", "link", "show", lab.outer, ns=lab.ns))[0]
    return {"flags": sorted(d["flags"]), "mtu": d["mtu"], "promiscuity": d["promiscuity"],
            "xdp": d.get("xdp")}


def start_engine(lab, via="link", handlers=True):
    env = dict(os.environ, PYTHONPATH=PROJECT)
    p = subprocess.Popen([sys.executable, "-c", ENGINE, lab.ns, lab.outer, via,
                          "1" if handlers else "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = p.stdout.readline()
    if line.strip() != "ready":
        p.kill()
        _, err = p.communicate()
        raise AssertionError(f"engine did not start: {line!r} {err}")
    return p


@pytest.fixture
def engines():
    """Engines a test starts (``engines.append(start_engine(...))``): killed if still running
    when the test ends, reaped, and their pipes closed."""
    started = []
    yield started
    for p in started:
        with p:                              # on leaving: its pipes closed, the process reaped
            if p.poll() is None:
                p.kill()


def wait_detached(lab, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.xdp_attached() is None:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def before(lab):
    return link_state(lab)


def test_sigkill_with_a_bpf_link_leaves_nothing(lab, before, engines):
    p = start_engine(lab, via="link", handlers=False)
    engines.append(p)
    during = link_state(lab)
    assert during["xdp"] is not None and during["promiscuity"] == 1
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)
    assert wait_detached(lab)
    assert link_state(lab) == before          # no XDP, promiscuity back to 0, flags and MTU


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 128 + signal.SIGTERM),
                                      (signal.SIGINT, -signal.SIGINT)])
@pytest.mark.parametrize("via", ["link", "netlink"])
def test_sigterm_and_sigint_detach_cleanly(lab, before, via, sig, code, engines):
    p = start_engine(lab, via=via, handlers=True)
    engines.append(p)
    assert lab.xdp_attached()["name"] == "fp_steer"
    p.send_signal(sig)
    out, err = p.communicate(timeout=15)
    assert "exiting" in out
    assert p.returncode == code, err
    assert wait_detached(lab, timeout=1.0)
    assert link_state(lab) == before
    from fastpath.xdp.cleanup import scan
    assert [x for x in scan() if str(p.pid) in str(x.owner_pid)] == []   # no state file left


def test_doctor_cleanup_removes_what_a_killed_netlink_engine_left(lab, before, capsys, engines):
    from fastpath.cli import main
    p = start_engine(lab, via="netlink", handlers=False)
    engines.append(p)
    # While the engine runs, cleanup leaves its program alone.
    assert main(["doctor", "--cleanup"]) in (0, 1)
    assert lab.xdp_attached() is not None
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)
    time.sleep(0.2)
    # A netlink attachment outlives its process: this is what doctor is for.
    assert lab.xdp_attached() is not None
    capsys.readouterr()
    assert main(["doctor", "--no-compile"]) in (0, 1)
    report = capsys.readouterr().out
    assert f"{lab.ns}/{lab.outer}" in report and f"pid {p.pid} gone" in report
    assert main(["doctor", "--cleanup"]) == 0
    out = capsys.readouterr().out
    assert f"removed  xdp {lab.ns}/{lab.outer}" in out
    assert lab.xdp_attached() is None
    assert link_state(lab) == before


def test_doctor_cleanup_removes_labs_of_dead_processes(netns_ok, capsys):
    from fastpath.cli import main
    from fastpath.io.netns import LAB_PREFIX, ip
    # A pid that cannot be running: above the kernel's pid_max.
    with open("/proc/sys/kernel/pid_max") as fh:
        pid_max = int(fh.read())
    name = f"{LAB_PREFIX}{pid_max + 1}-0-orphan"
    ip("netns", "add", name)
    try:
        assert main(["doctor", "--cleanup"]) == 0
        assert f"removed  lab {name}" in capsys.readouterr().out
        assert name not in ip("netns", "list")
    finally:
        ip("netns", "del", name, check=False)
