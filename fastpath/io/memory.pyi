"""Type stubs for fastpath.io.memory (pyx/fastpath/io/memory.pyx)."""
from typing import Callable, Optional, Sequence
from fastpath.io.device import Device

class MemoryDevice(Device):
    def __init__(self, *, capacity: int = 1024, mtu: int = 1500, max_burst: int = 64,
                 max_held: int = 16, name: str = "mem0",
                 clock: Optional[Callable[[], int]] = None) -> None: ...
    @staticmethod
    def pair(*, capacity: int = 1024, mtu: int = 1500, max_burst: int = 64, max_held: int = 16,
             names: Sequence[str] = ("mem0", "mem1"),
             clock: Optional[Callable[[], int]] = None) -> tuple["MemoryDevice", "MemoryDevice"]: ...
    @property
    def peer(self) -> Optional["MemoryDevice"]: ...
    @property
    def queued(self) -> int: ...
