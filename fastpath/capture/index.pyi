"""Type stubs for the compiled capture indexer (pyx/fastpath/capture/index.pyx)."""
from typing import Optional
import numpy as np
import numpy.typing as npt
from typing_extensions import Buffer

MAX_CAPLEN: int
MAX_BLOCK: int
MAX_IFACES: int
PCAP_FILE_HEADER: int
PCAP_RECORD_HEADER: int

ST_MORE: int
ST_FULL: int
ST_END: int
ST_ERROR: int

FMT_PCAP: int
FMT_PCAPNG: int

E_NONE: int
E_TRUNC_FILE_HEADER: int
E_PCAP_MAGIC: int
E_PCAP_VERSION: int
E_TRUNC_RECORD_HEADER: int
E_TRUNC_RECORD: int
E_CAPLEN_LIMIT: int
E_BLOCK_LENGTH: int
E_BLOCK_ALIGN: int
E_BLOCK_LIMIT: int
E_TRUNC_BLOCK: int
E_BLOCK_TRAILER: int
E_SHB_BYTE_ORDER: int
E_SHB_VERSION: int
E_NOT_SECTION: int
E_UNKNOWN_IFACE: int
E_TOO_MANY_IFACES: int
E_PACKET_CAPLEN: int
E_NO_MEMORY: int

BT_SECTION: int
BT_INTERFACE: int
BT_OBSOLETE_PACKET: int
BT_SIMPLE_PACKET: int
BT_ENHANCED_PACKET: int

class Indexer:
    def __init__(self, fmt: int) -> None: ...
    def run(self, buffer: Buffer, start: int, end: int, base: int, at_eof: bool,
            out: npt.NDArray[np.void]) -> tuple[int, int, int]: ...
    @property
    def need(self) -> int: ...
    @property
    def packets(self) -> int: ...
    @property
    def started(self) -> bool: ...
    @property
    def error(self) -> Optional[tuple[int, int, int, int, int]]: ...
    @property
    def big_endian(self) -> bool: ...
    @property
    def version(self) -> tuple[int, int]: ...
    @property
    def nanosecond(self) -> bool: ...
    @property
    def linktype_field(self) -> int: ...
    @property
    def sections(self) -> int: ...
    @property
    def interfaces(self) -> list[tuple[int, int, float, int, int, int]]: ...

def ticks_to_ns_py(ticks: int, tsresol: int, tsoffset: int = 0) -> int: ...
