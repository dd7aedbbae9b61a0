"""The XDP fault injector on a veth link (this kernel has no netem): it drops the configured
fraction within statistical bounds, corrupts the byte it is told to, and leaves traffic that
does not match alone."""
import math
import socket
import time

import pytest

from fastpath.io.netns import PacketSocket, ping

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.bcc]


@pytest.fixture
def injector(bpf_ok):
    from fastpath.xdp import XdpFaultInjector
    fi = XdpFaultInjector()
    yield fi
    fi.close()


def udp_socket(bind=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    if bind:
        s.bind(bind)
    s.setblocking(False)
    return s


def pump(tx, rx, dst, n, batch=200):
    """Send n datagrams in batches, draining the receiver in between; return how many arrived."""
    got = 0
    for start in range(0, n, batch):
        for i in range(start, min(n, start + batch)):
            tx.sendto(b"fault-%d" % i, dst)
        deadline = time.monotonic() + 0.05
        while time.monotonic() < deadline:
            try:
                rx.recv(2048)
                got += 1
                deadline = time.monotonic() + 0.05
            except BlockingIOError:
                time.sleep(0.002)
    return got


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_drops_the_configured_fraction(lab, injector, p):
    n = 4000
    injector.configure(drop=p, proto="udp", dport=5555)
    with lab.peer_entered():
        injector.attach(lab.inner)
        rx = udp_socket((lab.inner_ip, 5555))
    with lab.entered():
        tx = udp_socket()
    try:
        got = pump(tx, rx, (lab.inner_ip, 5555), n)
        st = injector.stats()
        # Every datagram was seen; the injector's own count explains every loss.
        assert st["seen"] == n
        assert st["dropped"] == n - got
        # Binomial(n, p): within 5 standard deviations (a false alarm about once in 3.5 million).
        sigma = math.sqrt(n * p * (1 - p))
        assert abs(st["dropped"] - n * p) <= 5 * sigma, (st, n * p, sigma)
        # The kernel still answers traffic that does not match (ICMP, ARP).
        with lab.entered():
            assert ping(lab.inner_ip, count=3) == 3
        assert injector.stats()["ignored"] >= 3
    finally:
        injector.detach()
        rx.close()
        tx.close()


def test_zero_and_one_are_exact(lab, injector):
    with lab.peer_entered():
        injector.attach(lab.inner)
        rx = udp_socket((lab.inner_ip, 5555))
    with lab.entered():
        tx = udp_socket()
    try:
        injector.configure(drop=0.0, proto="udp", dport=5555)
        assert pump(tx, rx, (lab.inner_ip, 5555), 300) == 300
        injector.configure(drop=1.0, proto="udp", dport=5555)
        assert pump(tx, rx, (lab.inner_ip, 5555), 300) == 0
        assert injector.stats()["dropped"] == 300
    finally:
        injector.detach()
        rx.close()
        tx.close()


def test_corrupts_the_configured_byte(lab, injector):
    payload_at = 14 + 20 + 8                 # Ethernet, IPv4 without options, UDP
    injector.configure(corrupt=1.0, corrupt_offset=payload_at, proto="udp", dport=5556)
    with lab.peer_entered():
        injector.attach(lab.inner)
        cap = PacketSocket(lab.inner)        # sees frames after XDP, before the stack
    with lab.entered():
        tx = udp_socket()
    try:
        for i in range(20):
            tx.sendto(b"A" * 16, (lab.inner_ip, 5556))
        frames = [f for f in cap.recv(60, timeout=1.0, ethertype=0x0800)
                  if len(f) >= payload_at + 16 and f[23] == 17 and f[36:38] == b"\x15\xb4"]
        assert len(frames) == 20
        for f in frames:
            assert f[payload_at] == ord("A") ^ 0xFF
            assert f[payload_at + 1:payload_at + 16] == b"A" * 15
        assert injector.stats()["corrupted"] == 20
    finally:
        injector.detach()
        cap.close()
        tx.close()


def test_bad_configuration_is_refused(injector):
    from fastpath.errors import ConfigError
    with pytest.raises(ConfigError, match="probability"):
        injector.configure(drop=1.5)
    with pytest.raises(ConfigError, match="corrupt_offset"):
        injector.configure(corrupt=0.1, corrupt_offset=20000)
    with pytest.raises(ConfigError, match="proto"):
        injector.configure(proto="sctp-ish")
