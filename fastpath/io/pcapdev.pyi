"""Type stubs for fastpath.io.pcapdev (pyx/fastpath/io/pcapdev.pyx)."""
import os
from typing import Optional, Union
from fastpath.io.device import Device

_Path = Union[str, os.PathLike[str]]

class PcapReplayDevice(Device):
    path: _Path
    eof: bool
    loops: int
    def __init__(self, path: _Path, *, loop: bool = False, speed: Optional[float] = None,
                 max_burst: int = 256, max_held: int = 64, chunk_packets: int = 65536) -> None: ...

class PcapRecordDevice(Device):
    path: _Path
    def __init__(self, path: _Path, *, linktype: int = 1, format: str = "pcap",
                 snaplen: int = 262144, mtu: int = 65535, max_burst: int = 256) -> None: ...
    def flush(self) -> None: ...
