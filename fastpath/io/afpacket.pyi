"""Type stubs for fastpath.io.afpacket (pyx/fastpath/io/afpacket.pyx)."""
from fastpath.io.device import Device

class AfPacketDevice(Device):
    ifname: str
    def __init__(self, ifname: str, *, block_size: int = 262144, block_count: int = 64,
                 frame_size: int = 2048, retire_ms: int = 4, promisc: bool = False,
                 qdisc_bypass: bool = False, max_burst: int = 256, max_held: int = 64) -> None: ...
