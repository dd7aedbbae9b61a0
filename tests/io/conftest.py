"""Fixtures of the I/O tests: ``backend`` runs a test once per I/O backend (iosuite.py)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from iosuite import (AfPacketHarness, AfXdpHarness, MemoryHarness, PcapRecordHarness,  # noqa: E402
                     PcapReplayHarness, TapHarness, kernel_skip_reason)

BACKENDS = ["memory", "memory+tracer", "memory+recorder", "memory+faults0", "pcap-replay",
            "pcap-record", "tap", "afpacket", "afxdp"]
RX = [k for k in BACKENDS if k != "pcap-record"]            # pcap-record only records sends
TX = [k for k in BACKENDS if k != "pcap-replay"]            # pcap-replay only replays a file
LIVE_RX = [k for k in RX if k != "pcap-replay"]             # frames arriving after opening


def _make(kind, tmp_path):
    if kind in ("tap", "afpacket", "afxdp"):
        reason = kernel_skip_reason(need_bcc=(kind == "afxdp"))
        if reason:
            pytest.skip(reason)
    if kind == "tap" and not os.path.exists("/dev/net/tun"):
        pytest.skip("needs /dev/net/tun (TUN/TAP support in the kernel)")
    from fastpath.io import FaultInjector, PcapRecorder, Tracer
    traced = []
    h = {
        "memory": lambda: MemoryHarness(),
        "memory+tracer": lambda: MemoryHarness(lambda d: Tracer(d, lambda *a: traced.append(a))),
        "memory+recorder": lambda: MemoryHarness(
            lambda d: PcapRecorder(d, str(tmp_path / "rec.pcapng"))),
        "memory+faults0": lambda: MemoryHarness(lambda d: FaultInjector(d, seed=1)),
        "pcap-replay": lambda: PcapReplayHarness(tmp_path),
        "pcap-record": lambda: PcapRecordHarness(tmp_path),
        "tap": TapHarness,
        "afpacket": AfPacketHarness,
        "afxdp": AfXdpHarness,
    }[kind]()
    h.kind = kind
    h.traced = traced
    return h


def _harness(request, tmp_path):
    h = _make(request.param, tmp_path)
    try:
        yield h
    finally:
        h.close()


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    """Every backend."""
    yield from _harness(request, tmp_path)


@pytest.fixture(params=RX)
def rx_backend(request, tmp_path):
    """Every backend that receives."""
    yield from _harness(request, tmp_path)


@pytest.fixture(params=LIVE_RX)
def live_rx_backend(request, tmp_path):
    """Every backend that receives frames sent to it while it is open."""
    yield from _harness(request, tmp_path)


@pytest.fixture(params=TX)
def tx_backend(request, tmp_path):
    """Every backend that transmits."""
    yield from _harness(request, tmp_path)
