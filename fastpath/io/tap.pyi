"""Type stubs for fastpath.io.tap (pyx/fastpath/io/tap.pyx)."""
from typing import Optional
from fastpath.io.device import Device

class TapDevice(Device):
    ifname: str
    mode: str
    def __init__(self, name: Optional[str] = None, *, mode: str = "tap", up: bool = True,
                 slots: int = 1024, max_burst: int = 64, max_held: int = 16,
                 path: str = "/dev/net/tun") -> None: ...
