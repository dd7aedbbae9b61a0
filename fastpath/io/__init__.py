"""I/O devices: one burst interface over every backend.

    from fastpath.io import open_device
    with open_device("afpacket:eth0") as dev:
        with dev.recv(timeout=1.0) as burst:          # frames as views, no object per packet
            records = parse_frames(burst.buffer, burst.index)
        dev.send(buffer, index)                        # or dev.send_frames([b"...", ...])

Backends: ``MemoryDevice.pair()`` (tests), ``PcapReplayDevice`` / ``PcapRecordDevice``,
``TapDevice`` (``/dev/net/tun``), ``AfPacketDevice`` (TPACKET_V3 ring), ``AfXdpDevice`` (UMEM
and rings; traffic is steered to it by ``fastpath.xdp.Steering``). Wrappers for any of them:
``Tracer``, ``PcapRecorder``, ``FaultInjector``. The Linux backends import everywhere and
raise ``UnavailableError`` when constructed on other systems.
"""
from fastpath.io.device import Burst, Capabilities, Device, pack_frames  # noqa: F401
from fastpath.io.memory import MemoryDevice  # noqa: F401
from fastpath.io.wrappers import FaultInjector, PcapRecorder, Tracer  # noqa: F401
from fastpath.io.pcapdev import PcapRecordDevice, PcapReplayDevice  # noqa: F401
from fastpath.io.tap import TapDevice  # noqa: F401
from fastpath.io.afpacket import AfPacketDevice  # noqa: F401
from fastpath.io.afxdp import AfXdpDevice  # noqa: F401
from fastpath.errors import ConfigError

__all__ = ["Device", "Burst", "Capabilities", "pack_frames", "MemoryDevice", "TapDevice",
           "AfPacketDevice", "AfXdpDevice", "PcapReplayDevice", "PcapRecordDevice", "Tracer",
           "PcapRecorder", "FaultInjector", "open_device"]

_KINDS = "mem, tap[:NAME], tun[:NAME], afpacket:IFACE, afxdp:IFACE[:QUEUE], pcap:PATH, " \
         "pcap-record:PATH"


def open_device(spec: str, **options) -> Device:
    """A device from a short description: ``afpacket:eth0``, ``afxdp:eth0:0``, ``tap``,
    ``tap:fp0``, ``tun:fp1``, ``pcap:trace.pcap`` (replay), ``pcap-record:out.pcap``, ``mem``
    (one end of a new in-memory pair; the other is ``dev.peer``). ``options`` go to the
    backend's constructor."""
    kind, _, rest = str(spec).partition(":")
    kind = kind.lower()
    if kind == "mem":
        a, _b = MemoryDevice.pair(**options)
        return a
    if kind in ("tap", "tun"):
        return TapDevice(rest or None, mode=kind, **options)
    if kind == "afpacket":
        if not rest:
            raise ConfigError("afpacket needs an interface: afpacket:IFACE")
        return AfPacketDevice(rest, **options)
    if kind == "afxdp":
        ifname, _, queue = rest.partition(":")
        if not ifname:
            raise ConfigError("afxdp needs an interface: afxdp:IFACE[:QUEUE]")
        try:
            q = int(queue) if queue else 0
        except ValueError:
            raise ConfigError(f"afxdp queue {queue!r} is not a number") from None
        return AfXdpDevice(ifname, q, **options)
    if kind == "pcap":
        if not rest:
            raise ConfigError("pcap needs a file: pcap:PATH")
        return PcapReplayDevice(rest, **options)
    if kind == "pcap-record":
        if not rest:
            raise ConfigError("pcap-record needs a file: pcap-record:PATH")
        return PcapRecordDevice(rest, **options)
    raise ConfigError(f"unknown device {spec!r}; use one of: {_KINDS}")
