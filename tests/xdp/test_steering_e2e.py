"""End to end in two namespaces joined by a veth pair (see fastpath.io.netns.Lab): the steering
program on ``outer`` sends exactly the steered traffic to the engine's AF_XDP socket while the
kernel behind ``outer`` keeps answering ping, UDP and TCP; drop rules drop; a redirect with no
socket bound falls back to the kernel."""
import contextlib
import socket
import time

import pytest

from fastpath.io import AfXdpDevice
from fastpath.io.netns import ping
from fastpath.wire.parse import parse_frames

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.bcc]


@pytest.fixture
def closer():
    """Closes what a test hands it (``closer.enter_context(sock)``) when the test ends, however
    it ends."""
    with contextlib.ExitStack() as stack:
        yield stack


def udp_socket(bind=None, rcvbuf=4 << 20):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if bind:
        s.bind(bind)
    s.setblocking(False)
    return s


def drain(sock, timeout=0.5):
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            out.append(sock.recv(65536))
            deadline = time.monotonic() + timeout
        except BlockingIOError:
            time.sleep(0.01)
    return out


def receive_frames(dev, want, timeout=3.0):
    """(frames, records) the device received until ``want`` frames or the timeout."""
    frames, recs = [], []
    deadline = time.monotonic() + timeout
    while len(frames) < want and time.monotonic() < deadline:
        with dev.recv(timeout=0.2) as b:
            if b:
                frames += b.frames()
                recs.append(parse_frames(b.buffer, b.index))
    import numpy as np
    from fastpath.wire.record import PACKET_DTYPE
    return frames, (np.concatenate(recs) if recs else np.zeros(0, PACKET_DTYPE))


def send_udp(sock, dst, port, n, tag):
    for i in range(n):
        sock.sendto(b"%s-%d" % (tag, i), (dst, port))
        if i % 64 == 63:
            time.sleep(0.002)       # keep the socket buffers and rings from overflowing


def test_engine_receives_exactly_the_steered_traffic(lab, steering, closer):
    rule = steering.add_rule("redirect udp dport 9999")
    with lab.entered():
        att = steering.attach(lab.outer)
        dev = AfXdpDevice(lab.outer, 0)
        k9999 = udp_socket((lab.outer_ip, 9999))
        k7777 = udp_socket((lab.outer_ip, 7777))
        listener = socket.socket()
        listener.bind((lab.outer_ip, 8080))
        listener.listen(4)
    try:
        assert att.mode == "native" and att.via == "link"
        assert lab.xdp_attached()["mode"] == "native"
        assert lab.xdp_attached()["name"] == "fp_steer"
        steering.bind(dev)
        with lab.peer_entered():
            tx = closer.enter_context(udp_socket())
            replies = ping(lab.outer_ip, count=3)
            client = closer.enter_context(socket.create_connection((lab.outer_ip, 8080),
                                                                   timeout=3))
        conn, _ = listener.accept()
        closer.enter_context(conn)
        conn.sendall(b"hello over the kernel")
        assert client.recv(100) == b"hello over the kernel"
        client.close()
        conn.close()
        assert replies == 3

        send_udp(tx, lab.outer_ip, 9999, 200, b"steered")
        send_udp(tx, lab.outer_ip, 7777, 50, b"kernel")
        frames, recs = receive_frames(dev, 200)
        assert len(frames) == 200
        assert set(recs["ip_proto"]) == {17} and set(recs["dport"]) == {9999}
        payloads = sorted(f[42:] for f in frames)
        assert payloads == sorted(b"steered-%d" % i for i in range(200))
        assert drain(k9999, 0.3) == []                 # the kernel saw none of them
        assert sorted(drain(k7777)) == sorted(b"kernel-%d" % i for i in range(50))
        with dev.recv(timeout=0.3) as extra:
            assert len(extra) == 0                     # and the engine saw nothing else
        st = steering.stats()
        assert st[rule.id]["redirect"][0] == 200
        assert st[rule.id]["fallback"][0] == 0
        assert st[0]["pass"][0] >= 50 + 3 + 3          # UDP 7777, ping, TCP all reached the kernel
    finally:
        dev.close()
        steering.detach()
        for s in (k9999, k7777, listener):
            s.close()
    assert lab.xdp_attached() is None


def test_drop_rules_drop(lab, steering, closer):
    steering.add_rule("drop udp dport 7777")
    with lab.entered():
        steering.attach(lab.outer)
        k7777 = udp_socket((lab.outer_ip, 7777))
        k7778 = udp_socket((lab.outer_ip, 7778))
    try:
        with lab.peer_entered():
            tx = closer.enter_context(udp_socket())
            send_udp(tx, lab.outer_ip, 7777, 50, b"dropped")
            send_udp(tx, lab.outer_ip, 7778, 20, b"kept")
            assert ping(lab.outer_ip, count=2) == 2
        assert drain(k7777, 0.3) == []
        assert len(drain(k7778)) == 20
        r = steering.add_rule(f"drop src {lab.inner_ip}/32")
        with lab.peer_entered():
            assert ping(lab.outer_ip, count=2, timeout=0.5) == 0
        st = steering.stats()
        assert st[r.id]["drop"][0] == 2
        assert sum(v["drop"][0] for k, v in st.items() if k != "totals") == 52
    finally:
        steering.detach()
        k7777.close()
        k7778.close()


def test_redirect_without_a_socket_falls_back_to_the_kernel(lab, steering, closer):
    rule = steering.add_rule("redirect udp dport 9999")
    with lab.entered():
        steering.attach(lab.outer)
        k9999 = udp_socket((lab.outer_ip, 9999))
        dev = AfXdpDevice(lab.outer, 0)
    try:
        with lab.peer_entered():
            tx = closer.enter_context(udp_socket())
        send_udp(tx, lab.outer_ip, 9999, 40, b"a")
        assert len(drain(k9999)) == 40                 # no socket bound yet: the kernel
        steering.bind(dev)
        send_udp(tx, lab.outer_ip, 9999, 40, b"b")
        frames, _ = receive_frames(dev, 40)
        assert len(frames) == 40
        assert drain(k9999, 0.3) == []
        steering.unbind(0)
        send_udp(tx, lab.outer_ip, 9999, 40, b"c")
        assert len(drain(k9999)) == 40
        st = steering.stats()[rule.id]
        assert st["fallback"][0] == 80 and st["redirect"][0] == 40
    finally:
        dev.close()
        steering.detach()
        k9999.close()


def test_generic_mode_and_fallback_from_native(lab, steering):
    with lab.entered():
        att = steering.attach(lab.outer, mode="generic")
        assert att.mode == "generic"
        assert lab.xdp_attached()["mode"] == "generic"
        steering.detach(lab.outer)
        assert lab.xdp_attached() is None
        # Loopback has no native XDP: "auto" falls back to generic there.
        att = steering.attach("lo")
        assert att.mode == "generic"
        assert lab.xdp_attached("lo")["mode"] == "generic"
        steering.detach()
        assert lab.xdp_attached("lo") is None


def test_attaching_twice_or_to_a_missing_interface_is_a_clear_error(lab, steering, bpf_ok):
    from fastpath.errors import ConfigError
    from fastpath.xdp import BareProgram
    with lab.entered():
        steering.attach(lab.outer)
        try:
            with pytest.raises(ConfigError, match="already attached"):
                steering.attach(lab.outer)
            with BareProgram("pass") as other:
                with pytest.raises(ConfigError, match="already has an XDP program"):
                    other.attach(lab.outer)
            with pytest.raises(ConfigError, match="no network interface named 'nosuch0'"):
                steering.attach("nosuch0")
        finally:
            steering.detach()


def test_kernels_without_xdp_links_fall_back_to_netlink(lab, steering, monkeypatch):
    import errno
    from fastpath.xdp import loader

    def no_links(*a):
        raise OSError(errno.EINVAL, "Invalid argument")
    monkeypatch.setattr(loader.sc, "link_create_xdp", no_links)
    with lab.entered():
        att = steering.attach(lab.outer)
    try:
        assert att.via == "netlink" and att.mode == "native"
        assert lab.xdp_attached()["name"] == "fp_steer"
        assert att.state_file is not None and att.state_file.exists()
    finally:
        steering.detach()
    assert lab.xdp_attached() is None
    assert not att.state_file.exists()


def test_a_queue_can_be_reopened_right_after_close(lab, steering, closer):
    """The kernel releases a closed AF_XDP socket's queue asynchronously; reopening at once
    must still work (the device waits for it)."""
    with lab.entered():
        steering.attach(lab.outer)
        for _ in range(3):
            dev = AfXdpDevice(lab.outer, 0)
            steering.bind(dev)
            dev.close()
        dev = AfXdpDevice(lab.outer, 0)
    try:
        steering.bind(dev)
        with lab.peer_entered():
            tx = closer.enter_context(udp_socket())
        steering.add_rule("redirect udp dport 9999")
        send_udp(tx, lab.outer_ip, 9999, 10, b"again")
        frames, _ = receive_frames(dev, 10)
        assert len(frames) == 10
    finally:
        dev.close()
        steering.detach()
