"""fastpath's TCP against the Linux kernel's, over a TUN device in a network namespace made
for the test: the same stack, unchanged, on a real interface, with a clock that is real time.
Needs root, /dev/net/tun and iproute2 (CI has them); skips with the reason otherwise."""
import hashlib
import os
import socket
import threading
import time

import pytest

from support import needs_root, needs_linux, needs_tool
from fastpath.tcp import TcpStack, TcpConfig, State
from fastpath.errors import ConnectionRefused

pytestmark = [needs_linux, needs_root, needs_tool("ip"), pytest.mark.netns]

KERNEL, OURS = "10.89.0.1", "10.89.0.2"


@pytest.fixture
def tun_lab():
    try:
        from fastpath.io.netns import ip, entered
        from fastpath.io.tap import TapDevice
    except ImportError as e:
        pytest.skip(f"needs fastpath.io (netns helpers, TapDevice) built: {e}")
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("needs /dev/net/tun (load the tun module)")
    ns = f"fptcp-{os.getpid()}"
    ip("netns", "add", ns)
    try:
        with entered(ns):
            tun = TapDevice("fptcp0", mode="tun")
        ip("addr", "add", f"{KERNEL}/24", "dev", "fptcp0", ns=ns)
        ip("link", "set", "fptcp0", "up", ns=ns)
        ip("link", "set", "lo", "up", ns=ns)
        yield ns, tun, entered
        tun.close()
    finally:
        ip("netns", "del", ns, check=False)


def now_us():
    return time.monotonic_ns() // 1000


def drive(stack, tun, until, seconds=20.0):
    """Move frames between the TUN device and the stack, on real time, until ``until()``."""
    deadline = time.monotonic() + seconds
    while not until():
        assert time.monotonic() < deadline, "the exchange with Linux did not finish in time"
        with tun.recv(timeout=0.002) as burst:
            frames = burst.frames()
        t = now_us()
        for f in frames:
            stack.input(t, f)
        stack.poll(t)
        out = stack.transmit()
        if out:
            tun.send_frames(out)


def in_thread(entered, ns, fn):
    result = {}

    def body():
        try:
            with entered(ns):
                result["value"] = fn()
        except BaseException as e:          # reported by the test
            result["error"] = e

    t = threading.Thread(target=body, daemon=True)
    t.start()
    return t, result


def test_linux_client_to_our_listener_echo(tun_lab):
    # RFC 9293 end to end with the kernel as the client: Linux offers MSS, SACK-permitted,
    # timestamps and window scale; we answer, receive 1 MB, echo it back, and close.
    ns, tun, entered = tun_lab
    stack = TcpStack(OURS, TcpConfig(rto_min_us=200_000), seed=1)
    lst = stack.listen(8080)
    payload = os.urandom(1_000_000)

    def client():
        s = socket.create_connection((OURS, 8080), timeout=15)
        sender = threading.Thread(target=lambda: (s.sendall(payload), s.shutdown(socket.SHUT_WR)))
        sender.start()
        got = bytearray()
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        sender.join()
        s.close()
        return bytes(got)

    thread, result = in_thread(entered, ns, client)
    conn = None
    state = {"pending": bytearray(), "closed": False}

    def done():
        nonlocal conn
        conn = conn or lst.accept()
        if conn is not None:
            pending = state["pending"]
            pending += conn.recv()
            if pending:
                del pending[:conn.send(bytes(pending[:262144]))]    # echo what fits
            if conn.eof and not pending and not state["closed"]:
                conn.shutdown()
                state["closed"] = True
        return not thread.is_alive()

    drive(stack, tun, done)
    assert "error" not in result, result.get("error")
    assert result["value"] == payload
    assert conn.options == {"wscale", "timestamps", "sack"}
    stack.check()


def test_our_client_to_a_linux_listener(tun_lab):
    # Our active open against the kernel's listener: send 2 MB, half-close, read the
    # kernel's digest of what it got, see its FIN.
    ns, tun, entered = tun_lab
    stack = TcpStack(OURS, TcpConfig(rto_min_us=200_000), seed=2)
    payload = os.urandom(2_000_000)
    ready = threading.Event()

    def server():
        with socket.socket() as l:
            l.bind((KERNEL, 9090))
            l.listen(1)
            ready.set()
            c, _ = l.accept()
            h = hashlib.sha256()
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                h.update(chunk)
            c.sendall(h.hexdigest().encode())
            c.close()

    thread, result = in_thread(entered, ns, server)
    assert ready.wait(10)
    conn = stack.connect(now_us(), (KERNEL, 9090))
    sent, reply = 0, bytearray()

    def done():
        nonlocal sent
        if conn.state in (State.ESTABLISHED, State.CLOSE_WAIT) and sent < len(payload):
            sent += conn.send(payload[sent:sent + 262144])
            if sent == len(payload):
                conn.shutdown()
        reply.extend(conn.recv())
        return conn.eof and not thread.is_alive()

    drive(stack, tun, done)
    assert "error" not in result, result.get("error")
    assert reply.decode() == hashlib.sha256(payload).hexdigest()
    stack.check()


def test_linux_refuses_a_closed_port(tun_lab):
    # RFC 9293 3.10.7.3: the kernel's RST to our SYN means "connection refused".
    ns, tun, entered = tun_lab
    stack = TcpStack(OURS, TcpConfig(), seed=3)
    conn = stack.connect(now_us(), (KERNEL, 9))
    drive(stack, tun, lambda: conn.state == State.CLOSED, seconds=10)
    with pytest.raises(ConnectionRefused):
        conn.send(b"x")
