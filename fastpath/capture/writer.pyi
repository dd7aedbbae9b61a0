"""Type stubs for the compiled capture writers (pyx/fastpath/capture/writer.pyx)."""
import os
from typing import BinaryIO, Iterable, Optional, Sequence, Union
import numpy as np
import numpy.typing as npt
from typing_extensions import Buffer, Self

_Target = Union[str, os.PathLike[str], BinaryIO]

class _Sink:
    path: Optional[str]
    closed: bool
    packets: int
    def flush(self) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> bool: ...

class PcapWriter(_Sink):
    linktype: int
    snaplen: int
    nanosecond: bool
    byteorder: str
    def __init__(self, path: _Target, linktype: int = 1, snaplen: int = 262144,
                 nanosecond: bool = False, byteorder: str = "little") -> None: ...
    def write(self, frame: Buffer, ts_ns: int, wirelen: Optional[int] = None) -> None: ...
    def write_batch(self, buf: Buffer, index: npt.NDArray[np.void], base: int = 0) -> None: ...

class PcapngWriter(_Sink):
    byteorder: str
    interfaces: list[tuple[int, int, float]]
    sections: int
    def __init__(self, path: _Target, interfaces: Iterable[Sequence[int]] = ((1, 262144),),
                 byteorder: str = "little", application: Optional[str] = None) -> None: ...
    def new_section(self, interfaces: Iterable[Sequence[int]] = ((1, 262144),),
                    byteorder: Optional[str] = None, application: Optional[str] = None) -> None: ...
    def add_interface(self, linktype: int, snaplen: int = 262144,
                      ts_resolution_ns: int = 1) -> int: ...
    def write(self, frame: Buffer, ts_ns: int, iface: int = 0,
              wirelen: Optional[int] = None) -> None: ...
    def write_batch(self, buf: Buffer, index: npt.NDArray[np.void], base: int = 0) -> None: ...
