"""Type stubs for fastpath.io.afxdp (pyx/fastpath/io/afxdp.pyx)."""
from typing import Optional
from fastpath.io.device import Device

class AfXdpDevice(Device):
    ifname: str
    ifindex: int
    queue: int
    bind_mode: str
    def __init__(self, ifname: str, queue: int = 0, *, mode: str = "auto",
                 ring_size: int = 4096, frame_size: int = 2048, rx_frames: Optional[int] = None,
                 tx_frames: Optional[int] = None, headroom: int = 0, need_wakeup: bool = True,
                 max_burst: int = 256, max_held: int = 64) -> None: ...
