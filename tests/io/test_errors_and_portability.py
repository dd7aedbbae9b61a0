"""Bad input and missing prerequisites give clear errors that name the problem and the fix:
no root, no bcc, no such interface, bad parameters. And fastpath's I/O layer imports and its
portable backends run with none of the Linux-only parts available."""
import os
import shutil
import subprocess
import sys

import pytest

from support import is_linux, is_root
from fastpath.errors import ConfigError, PrivilegeError, UnavailableError
from fastpath.io import MemoryDevice, open_device

PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_py(code, *, as_nobody=False, env_extra=None):
    cmd = [sys.executable, "-c", code]
    if as_nobody:
        if not is_root():
            pytest.skip("dropping to an unprivileged user needs root to start with")
        if shutil.which("setpriv") is None:
            pytest.skip("needs setpriv (util-linux) to drop privileges")
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
               "--inh-caps=-all"] + cmd
    env = dict(os.environ, PYTHONPATH=PROJECT, **(env_extra or {}))
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/", timeout=120)
    return r


def test_everything_imports_and_the_memory_pair_runs_without_bcc():
    # bcc made unimportable: fastpath.io and fastpath.xdp import, XDP fails with the fix.
    code = r"""
import sys
sys.modules["bcc"] = None
from fastpath.io import MemoryDevice, open_device
import fastpath.xdp as x
a, b = MemoryDevice.pair()
a.send_frames([bytes(60)])
with b.recv() as burst:
    assert len(burst) == 1
try:
    x.Steering()
except x.loader.UnavailableError as e:
    print("UNAVAILABLE", e)
"""
    r = run_py(code)
    assert r.returncode == 0, r.stderr
    assert "UNAVAILABLE bcc is not importable" in r.stdout
    assert "python3-bpfcc" in r.stdout and "--system-site-packages" in r.stdout


@pytest.mark.skipif(not is_linux(), reason="the privilege checks are Linux's")
def test_without_root_every_kernel_feature_says_what_is_needed():
    code = r"""
from fastpath.errors import PrivilegeError, UnavailableError
from fastpath.io import AfPacketDevice, AfXdpDevice, TapDevice
out = []
for name, make in [("afpacket", lambda: AfPacketDevice("lo")),
                   ("afxdp", lambda: AfXdpDevice("lo", 0)),
                   ("tap", lambda: TapDevice()),
                   ("steering", lambda: __import__("fastpath.xdp", fromlist=["x"]).Steering())]:
    try:
        make()
        out.append(f"{name} OPENED")
    except (PrivilegeError, UnavailableError) as e:
        out.append(f"{name} {type(e).__name__}: {e}")
print("\n".join(out))
"""
    r = run_py(code, as_nobody=True)
    assert r.returncode == 0, r.stderr
    lines = dict(l.split(" ", 1) for l in r.stdout.strip().splitlines())
    for name in ("afpacket", "afxdp", "tap", "steering"):
        assert lines[name].startswith("PrivilegeError"), (name, lines[name])
        assert "root" in lines[name]


@pytest.mark.skipif(not is_linux(), reason="doctor's checks are Linux's")
def test_doctor_without_root_reports_what_is_missing_and_how_to_fix_it():
    r = run_py("from fastpath.cli import main; raise SystemExit(main(['doctor']))",
               as_nobody=True)
    assert r.returncode == 1
    assert "MISSING  privileges" in r.stdout
    assert "fix: run as root" in r.stdout
    assert "missing:" in r.stdout and "the rest of fastpath works without them" in r.stdout
    r = run_py("from fastpath.cli import main; raise SystemExit(main(['doctor', '--cleanup']))",
               as_nobody=True)
    assert r.returncode == 1 and "needs root" in r.stderr


def test_doctor_json_lists_every_check():
    import json
    r = run_py("from fastpath.cli import main; raise SystemExit(main(['doctor', '--json', "
               "'--no-compile']))")
    d = json.loads(r.stdout)
    names = {c["name"] for c in d["checks"]}
    if is_linux():
        assert {"privileges", "bpf syscall", "bpf jit", "btf", "bcc", "kernel headers",
                "af_xdp", "af_packet", "tun"} <= names
    for c in d["checks"]:
        assert c["ok"] or c["fix"], c


@pytest.mark.skipif(not (is_linux() and is_root()), reason="needs root on Linux")
def test_missing_interfaces_are_named():
    from fastpath.io import AfPacketDevice, AfXdpDevice
    with pytest.raises(ConfigError, match="no network interface named 'nosuch0'"):
        AfPacketDevice("nosuch0")
    with pytest.raises(ConfigError, match="no network interface named 'nosuch0'"):
        AfXdpDevice("nosuch0")


@pytest.mark.parametrize("kwargs,match", [
    (dict(block_size=1000), "multiple of the 4096-byte page"),
    (dict(frame_size=100), "frame_size"),
    (dict(block_count=1), "block_count"),
])
def test_afpacket_parameters_are_checked(kwargs, match):
    from fastpath.io import AfPacketDevice
    if not is_linux():
        pytest.skip("AF_PACKET is Linux's")
    with pytest.raises(ConfigError, match=match):
        AfPacketDevice("lo", **kwargs)


@pytest.mark.parametrize("kwargs,match", [
    (dict(ring_size=1000), "power of two"),
    (dict(frame_size=1024), "2048 or 4096"),
    (dict(rx_frames=10000), "rx_frames"),
    (dict(mode="fast"), "mode"),
])
def test_afxdp_parameters_are_checked(kwargs, match):
    from fastpath.io import AfXdpDevice
    if not is_linux():
        pytest.skip("AF_XDP is Linux's")
    with pytest.raises(ConfigError, match=match):
        AfXdpDevice("lo", **kwargs)


def test_open_device_specs():
    dev = open_device("mem")
    assert isinstance(dev, MemoryDevice) and isinstance(dev.peer, MemoryDevice)
    for bad, match in [("warp:eth0", "unknown device"), ("afpacket", "needs an interface"),
                       ("afxdp:", "needs an interface"), ("afxdp:eth0:x", "not a number"),
                       ("pcap", "needs a file")]:
        with pytest.raises(ConfigError, match=match):
            open_device(bad)


def test_memory_pair_bounds_and_counts_what_it_drops():
    a, b = MemoryDevice.pair(capacity=4)
    assert a.send_frames([bytes(60)] * 10) == 10
    st = b.stats()
    assert st["queued"] == 4 and st["rx_dropped"] == 6
    assert a.stats()["tx_dropped"] == 6
    b.close()
    assert a.send_frames([bytes(60)]) == 1        # into a closed peer: lost, and counted
    assert a.stats()["tx_dropped"] == 7


def test_memory_pair_uses_the_given_clock():
    t = iter(range(1000, 2000, 10))
    a, b = MemoryDevice.pair(clock=lambda: next(t))
    a.send_frames([bytes(60)] * 2)
    a.send_frames([bytes(60)])
    with b.recv() as burst:
        assert list(burst.timestamps) == [1000, 1000, 1010]


@pytest.mark.parametrize("kwargs,match", [(dict(capacity=0), "capacity"),
                                          (dict(mtu=20), "mtu"),
                                          (dict(clock=5), "clock"),
                                          (dict(max_burst=0), "max_burst")])
def test_memory_pair_parameters_are_checked(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        MemoryDevice.pair(**kwargs)


def test_recv_arguments_are_checked():
    a, b = MemoryDevice.pair()
    with pytest.raises(ConfigError, match="max_frames"):
        b.recv(max_frames=0)
    with pytest.raises(ConfigError, match="timeout"):
        b.recv(timeout=-1)
    with pytest.raises(UnavailableError, match="no file descriptor"):
        b.fileno()


def test_a_forgotten_burst_is_released_when_dropped():
    a, b = MemoryDevice.pair(capacity=8, max_held=2)
    for _ in range(5):
        a.send_frames([bytes(60)])
        b.recv()                       # never released explicitly
    assert b.stats()["held"] == 0 and b.stats()["free_slots"] == 8
