"""One harness per I/O backend, so a single test suite (test_device_suite.py) runs against all
of them. A harness owns the device under test (``h.dev``) and the far end of its link:
``h.inject(frames)`` makes frames arrive at the device, ``h.collect(n)`` returns the frames the
device sent, as seen from outside. Kernel backends run in a namespace of their own (a Lab) and
skip with the exact reason where they cannot run."""
import os
import shutil
import sys

from support import is_linux, is_root

ETHERTYPE = 0x88B5          # IEEE local experimental: the kernel ignores it, filters match it


def make_test_frame(i, size=64, dst=b"\x02\x00\x00\x00\x00\x02", src=b"\x02\x00\x00\x00\x00\x01"):
    """A frame of ``size`` bytes carrying its number, of our own ethertype."""
    head = dst + src + ETHERTYPE.to_bytes(2, "big") + i.to_bytes(4, "big")
    body = bytes((i + k) & 0xFF for k in range(size - len(head)))
    return head + body


def kernel_skip_reason(need_bcc=False):
    if not is_linux():
        return f"needs Linux (this is {sys.platform})"
    if not is_root():
        return "needs root to create network namespaces (run the suite as root, as CI does)"
    if shutil.which("ip") is None:
        return "needs the 'ip' command (iproute2; make setup installs it)"
    if need_bcc:
        try:
            import bcc  # noqa: F401
        except Exception as e:
            return f"needs bcc (Debian python3-bpfcc, seen through the venv): {e}"
        if not os.path.isdir(f"/lib/modules/{os.uname().release}/build/include"):
            return "needs kernel headers for bcc (tools/setup-env.sh links them as root)"
    return None


class Harness:
    name = "?"
    can_rx = True
    can_tx = True
    live = True               # frames injected after the device opened still arrive
    capacity = None           # frames the device can hold unreleased (recycling tests)

    def close(self):
        if getattr(self, "dev", None) is not None:
            self.dev.close()

    def recv_all(self, n, timeout=2.0, max_frames=None):
        """Receive until n of our frames arrived (others are ignored), releasing each burst."""
        import time
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            with self.dev.recv(max_frames=max_frames, timeout=0.2) as b:
                got += [f for f in b.frames() if f[12:14] == ETHERTYPE.to_bytes(2, "big")]
        return got


class MemoryHarness(Harness):
    name = "memory"

    def __init__(self, wrap=None, capacity=256):
        from fastpath.io import MemoryDevice
        self.capacity = capacity
        self.dev, self.peer = MemoryDevice.pair(capacity=capacity, max_burst=64)
        if wrap is not None:
            self.dev = wrap(self.dev)
            self.name = f"memory+{type(self.dev).__name__}"

    def inject(self, frames):
        assert self.peer.send_frames(frames) == len(frames)

    def collect(self, n, timeout=1.0):
        out = []
        while len(out) < n:
            with self.peer.recv() as b:
                if not b:
                    break
                out += b.frames()
        return out


class PcapReplayHarness(Harness):
    name = "pcap-replay"
    can_tx = False
    live = False

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.n = 0
        self.dev = None
        self.inject([])            # a device over an empty capture until frames are injected

    def inject(self, frames):
        from fastpath.capture import PcapWriter
        from fastpath.io import PcapReplayDevice
        self.n += 1
        path = self.tmp / f"replay{self.n}.pcap"
        with PcapWriter(str(path), nanosecond=True) as w:
            for i, f in enumerate(frames):
                w.write(f, 1_000_000_000 + i)
        if self.dev is not None:
            self.dev.close()
        self.dev = PcapReplayDevice(str(path), max_burst=64)


class PcapRecordHarness(Harness):
    name = "pcap-record"
    can_rx = False

    def __init__(self, tmp_path):
        from fastpath.io import PcapRecordDevice
        self.path = tmp_path / "record.pcap"
        self.dev = PcapRecordDevice(str(self.path))
        self.read = 0

    def collect(self, n, timeout=1.0):
        from fastpath.capture import open_capture
        self.dev.flush()
        with open_capture(str(self.path)) as r:
            buf, index = r.read_all()
            mv = memoryview(buf)
            frames = [bytes(mv[int(o):int(o) + int(c)])
                      for o, c in zip(index["data_off"], index["caplen"])]
        out = frames[self.read:self.read + n]
        self.read += len(out)
        return out


class KernelHarness(Harness):
    """A Lab namespace: the device on ``outer``, a plain packet socket on ``inner``."""

    def __init__(self):
        from fastpath.io.netns import Lab, PacketSocket
        self.lab = Lab.create(tag="-io")
        self.dev = None
        self.extra = []
        try:
            with self.lab.entered():
                self.dev = self.make_device()
            with self.peer_namespace():
                self.peer = PacketSocket(self.peer_ifname())
        except BaseException:
            self.close()
            raise

    def peer_ifname(self):
        return self.lab.inner

    def peer_namespace(self):
        return self.lab.peer_entered()

    def inject(self, frames):
        self.peer.send(frames)

    def collect(self, n, timeout=2.0):
        return self.peer.recv(n, timeout, ethertype=ETHERTYPE)

    def close(self):
        try:
            if self.dev is not None:
                self.dev.close()
            if hasattr(self, "peer"):
                self.peer.close()
            for x in self.extra:
                x.close()
        finally:
            self.lab.close()


class AfPacketHarness(KernelHarness):
    name = "afpacket"
    capacity = 8 * 32            # 8 blocks of 4 KiB hold about 32 small frames each

    def make_device(self):
        from fastpath.io import AfPacketDevice
        return AfPacketDevice(self.lab.outer, block_size=4096, block_count=8, frame_size=2048,
                              retire_ms=2, max_held=4)


class AfXdpHarness(KernelHarness):
    name = "afxdp"
    capacity = 64

    def make_device(self):
        from fastpath.io import AfXdpDevice
        from fastpath.xdp import Steering
        st = Steering(default="redirect", other="redirect", max_rules=16, max_flows=16,
                      max_prefixes=16)
        self.extra.append(st)
        st.attach(self.lab.outer)
        dev = AfXdpDevice(self.lab.outer, 0, ring_size=64, max_burst=64, max_held=8)
        st.bind(dev)
        return dev


class TapHarness(KernelHarness):
    name = "tap"

    def make_device(self):
        from fastpath.io import TapDevice
        from fastpath.io.netif import set_link_up
        dev = TapDevice(f"fpt{os.getpid() % 100000}", up=False, slots=128, max_held=8)
        # No IPv6 on it, so the kernel sends nothing of its own (router solicitations, MLD).
        from fastpath.io.netns import disable_ipv6
        disable_ipv6(dev.ifname)
        set_link_up(dev.ifname)
        self.capacity = 128
        return dev

    def peer_ifname(self):
        return self.dev.ifname

    def peer_namespace(self):
        return self.lab.entered()        # the TAP interface lives where it was made


