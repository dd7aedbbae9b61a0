"""Network namespaces and veth pairs for tests, benchmarks and labs (Linux, root).

A ``Lab`` is two namespaces joined by a veth pair: ``outer`` where fastpath attaches and
``inner`` where the kernel answers on an address of its own, so nothing touches the host's
interfaces. Labs are named ``fplab-<pid>-<n>`` (and ``...-peer``); ``fastpath doctor --cleanup``
removes the labs of processes that no longer exist. Enter a namespace for the duration of a block with
``with lab.entered():`` -- sockets, TAP devices and XDP attachments made inside stay in it.

Namespaces are per thread: ``entered()`` switches only the calling thread.
"""
from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import itertools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from fastpath.errors import ConfigError, PrivilegeError, UnavailableError

CLONE_NEWNET = 0x40000000
LAB_PREFIX = "fplab-"
_counter = itertools.count()
_libc = None


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _need_ip():
    if shutil.which("ip") is None:
        raise UnavailableError("the 'ip' command (iproute2) is missing",
                               fix="apt-get install iproute2")
    if os.geteuid() != 0:
        raise PrivilegeError("creating network namespaces needs root",
                             fix="run as root (CI does)")


def ip(*args: str, ns: str | None = None, check: bool = True) -> str:
    """Run ``ip ARGS`` (inside namespace ``ns`` when given); return stdout."""
    cmd = ["ip"] + (["-n", ns] if ns else []) + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise ConfigError(f"'{' '.join(cmd)}' failed: {r.stderr.strip()}")
    return r.stdout


def ns_exec(ns: str, *cmd: str, check: bool = True, timeout: float = 60.0,
            **kw) -> subprocess.CompletedProcess:
    """Run a command inside a namespace."""
    r = subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True,
                       timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise ConfigError(f"'{' '.join(cmd)}' in {ns} failed ({r.returncode}): "
                          f"{r.stderr.strip() or r.stdout.strip()}")
    return r


@contextlib.contextmanager
def entered(ns: str):
    """Run the block in namespace ``ns`` (this thread only), then return to where we were."""
    path = f"/run/netns/{ns}"
    if not os.path.exists(path):
        raise ConfigError(f"no network namespace named {ns!r}")
    orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(orig)
    finally:
        os.close(target)
        os.close(orig)


def disable_ipv6(dev: str, ns: str | None = None) -> None:
    """Turn IPv6 off on ``dev`` (in namespace ``ns``, or the calling thread's), so the kernel
    sends nothing there on its own. Writes /proc/sys directly: it shows the namespace of the
    thread that opens it, and needs no sysctl binary."""
    path = f"/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"
    ctx = entered(ns) if ns else contextlib.nullcontext()
    with ctx:
        try:
            with open(path, "w") as f:
                f.write("1")
        except FileNotFoundError:
            pass                    # a kernel without IPv6: nothing to turn off


@dataclass
class Lab:
    """Two namespaces joined by a veth pair: ``outer`` in ``ns`` (fastpath's side, no address
    unless asked) and ``inner`` in ``peer_ns`` (the kernel's side, ``inner_ip``). Traffic
    between them crosses the veth; nothing touches the host's interfaces. IPv6 is off on both
    ends, so the kernel sends nothing on its own (no router solicitations, no MLD)."""
    ns: str
    peer_ns: str
    outer: str
    inner: str
    inner_ip: str
    outer_ip: str
    prefix: int
    mac_inner: str = ""
    mac_outer: str = ""
    _closed: bool = field(default=False, repr=False)

    @classmethod
    def create(cls, *, subnet: str = "10.201.0.0/24", outer_address: bool = False,
               mtu: int | None = None, tag: str = "") -> "Lab":
        _need_ip()
        n = next(_counter)
        pid = os.getpid()
        ns = f"{LAB_PREFIX}{pid}-{n}{tag}"
        short = f"{pid % 100000}{n % 100}"
        outer, inner = f"fpo{short}", f"fpi{short}"
        net = ipaddress.ip_network(subnet)
        hosts = list(itertools.islice(net.hosts(), 2))
        lab = cls(ns=ns, peer_ns=ns + "-peer", outer=outer, inner=inner,
                  inner_ip=str(hosts[0]), outer_ip=str(hosts[1]), prefix=net.prefixlen)
        ip("netns", "add", lab.ns)
        try:
            ip("netns", "add", lab.peer_ns)
            ip("link", "add", outer, "type", "veth", "peer", "name", inner, ns=lab.ns)
            ip("link", "set", inner, "netns", lab.peer_ns, ns=lab.ns)
            for dev, where in ((outer, lab.ns), (inner, lab.peer_ns)):
                disable_ipv6(dev, where)
                if mtu:
                    ip("link", "set", dev, "mtu", str(mtu), ns=where)
                ip("link", "set", "lo", "up", ns=where)
            ip("addr", "add", f"{lab.inner_ip}/{net.prefixlen}", "dev", inner, ns=lab.peer_ns)
            if outer_address:
                ip("addr", "add", f"{lab.outer_ip}/{net.prefixlen}", "dev", outer, ns=lab.ns)
            ip("link", "set", inner, "up", ns=lab.peer_ns)
            ip("link", "set", outer, "up", ns=lab.ns)
            lab.mac_inner = lab._mac(inner, lab.peer_ns)
            lab.mac_outer = lab._mac(outer, lab.ns)
        except BaseException:
            lab.close()
            raise
        return lab

    @staticmethod
    def _mac(dev: str, ns: str) -> str:
        out = ip("-o", "link", "show", dev, ns=ns)
        m = re.search(r"link/ether ([0-9a-f:]{17})", out)
        if not m:
            raise ConfigError(f"{dev} has no Ethernet address")
        return m.group(1)

    @property
    def outer_mac_bytes(self) -> bytes:
        return bytes.fromhex(self.mac_outer.replace(":", ""))

    @property
    def inner_mac_bytes(self) -> bytes:
        return bytes.fromhex(self.mac_inner.replace(":", ""))

    def entered(self):
        """Run the block in fastpath's namespace (where ``outer`` is)."""
        return entered(self.ns)

    def peer_entered(self):
        """Run the block in the peer's namespace (where ``inner`` is)."""
        return entered(self.peer_ns)

    def exec(self, *cmd: str, **kw) -> subprocess.CompletedProcess:
        return ns_exec(self.ns, *cmd, **kw)

    def peer_exec(self, *cmd: str, **kw) -> subprocess.CompletedProcess:
        return ns_exec(self.peer_ns, *cmd, **kw)

    def xdp_attached(self, dev: str | None = None, peer: bool = False) -> dict | None:
        """{"mode": "native"|"generic"|..., "id": prog id, "name": prog name} of the XDP
        program on ``dev`` (default ``outer``, or ``inner`` with peer=True), or None."""
        dev = dev or (self.inner if peer else self.outer)
        for entry in xdp_programs(self.peer_ns if peer else self.ns):
            if entry["ifname"] == dev:
                return entry
        return None

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            ip("netns", "del", self.ns, check=False)
            ip("netns", "del", self.peer_ns, check=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


XDP_MODES = {1: "native", 2: "generic", 3: "offload", 4: "multi"}


def xdp_programs(ns: str | None = None) -> list[dict]:
    """Every interface (of namespace ``ns``, or the current one) with an XDP program:
    [{"ifname", "mode", "id", "name"}]."""
    import json
    out = ip("-j", "-d", "link", "show", ns=ns, check=False)
    try:
        links = json.loads(out) if out.strip() else []
    except ValueError:
        return []
    found = []
    for link in links:
        x = link.get("xdp")
        if not x:
            continue
        progs = x.get("attached") or ([{"mode": x.get("mode"), "prog": x["prog"]}]
                                      if x.get("prog") else [])
        for a in progs:
            prog = a.get("prog", {})
            found.append({"ifname": link["ifname"], "mode": XDP_MODES.get(a.get("mode"), "?"),
                          "id": prog.get("id"), "name": prog.get("name", "")})
    return found


def leftover_labs() -> list[str]:
    """Lab namespaces whose creating process is gone."""
    out = []
    try:
        names = os.listdir("/run/netns")
    except OSError:
        return out
    for name in names:
        m = re.match(rf"{re.escape(LAB_PREFIX)}(\d+)-", name)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            out.append(name)
    return sorted(out)


def remove_namespace(name: str) -> bool:
    r = subprocess.run(["ip", "netns", "del", name], capture_output=True, text=True)
    return r.returncode == 0


class PacketSocket:
    """A plain AF_PACKET socket on one interface: the other end in tests and labs. Create it
    inside the interface's namespace (``with lab.entered():``)."""

    def __init__(self, ifname: str):
        import socket as _s
        self.ifname = ifname
        self.sock = _s.socket(_s.AF_PACKET, _s.SOCK_RAW, _s.htons(0x0003))
        self.sock.bind((ifname, 0))
        self.sock.setsockopt(_s.SOL_SOCKET, _s.SO_RCVBUF, 8 << 20)

    def send(self, frames) -> int:
        for f in frames:
            self.sock.send(bytes(f))
        return len(frames)

    def recv(self, count: int, timeout: float = 2.0, ethertype: int | None = None) -> list[bytes]:
        """Up to ``count`` incoming frames (not our own sends), optionally of one ethertype,
        waiting at most ``timeout`` seconds overall."""
        import select
        import time as _t
        out = []
        deadline = _t.monotonic() + timeout
        while len(out) < count:
            left = deadline - _t.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                break
            data, addr = self.sock.recvfrom(65536)
            if addr[2] == 4:        # PACKET_OUTGOING: what we sent ourselves
                continue
            if ethertype is not None and (len(data) < 14 or
                                          int.from_bytes(data[12:14], "big") != ethertype):
                continue
            out.append(data)
        return out

    def close(self) -> None:
        self.sock.close()


def ping(address: str, count: int = 3, timeout: float = 1.0, ident: int | None = None) -> int:
    """Send ``count`` ICMP echo requests to an IPv4 ``address`` from the calling thread's
    namespace; return how many replies came back (each waited for up to ``timeout``)."""
    import select
    import socket as _s
    import struct
    import time as _t
    from fastpath.wire.checksum import internet_checksum
    ident = (os.getpid() & 0xFFFF) if ident is None else ident & 0xFFFF
    sock = _s.socket(_s.AF_INET, _s.SOCK_RAW, _s.IPPROTO_ICMP)
    got = 0
    try:
        for seq in range(1, count + 1):
            body = b"fastpath-ping"
            hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
            csum = internet_checksum(hdr + body)
            sock.sendto(struct.pack("!BBHHH", 8, 0, csum, ident, seq) + body, (address, 0))
            deadline = _t.monotonic() + timeout
            while True:
                left = deadline - _t.monotonic()
                if left <= 0:
                    break
                r, _, _ = select.select([sock], [], [], left)
                if not r:
                    break
                data, src = sock.recvfrom(65536)
                ihl = (data[0] & 0x0F) * 4
                if len(data) < ihl + 8 or src[0] != address:
                    continue
                t, _c, _k, i, s = struct.unpack("!BBHHH", data[ihl:ihl + 8])
                if t == 0 and i == ident and s == seq:
                    got += 1
                    break
    finally:
        sock.close()
    return got
