"""Type stubs for fastpath.io.wrappers (pyx/fastpath/io/wrappers.pyx)."""
import os
from typing import Callable, Optional, Sequence, Union
import numpy as np
import numpy.typing as npt
from typing_extensions import Buffer
from fastpath.io.device import Device

Sink = Callable[[str, Buffer, npt.NDArray[np.void]], object]

class Wrapper(Device):
    inner: Device

class Tracer(Wrapper):
    def __init__(self, inner: Device, sink: Optional[Sink] = None, *,
                 directions: Sequence[str] = ("rx", "tx"), close_inner: bool = True) -> None: ...

class PcapRecorder(Wrapper):
    path: Union[str, os.PathLike[str]]
    def __init__(self, inner: Device, path: Union[str, os.PathLike[str]], *,
                 format: str = "pcapng", directions: Sequence[str] = ("rx", "tx"),
                 snaplen: int = 262144, close_inner: bool = True) -> None: ...
    def flush(self) -> None: ...

class FaultInjector(Wrapper):
    p_drop: float
    p_duplicate: float
    p_reorder: float
    p_corrupt: float
    seed: int
    def __init__(self, inner: Device, *, drop: float = 0.0, duplicate: float = 0.0,
                 reorder: float = 0.0, corrupt: float = 0.0, seed: int = 0,
                 corrupt_from: int = 0, directions: Sequence[str] = ("rx",),
                 slots: Optional[int] = None, max_pending: int = 64,
                 max_frame: Optional[int] = None, close_inner: bool = True) -> None: ...
    def flush(self) -> None: ...
