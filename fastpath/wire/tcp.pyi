from typing import Iterable, List, Optional, Tuple
from typing_extensions import Buffer

FLAG_NAMES: Tuple[Tuple[str, int], ...]

class TcpRepr:
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    window: int
    urgent: int
    mss: Optional[int]
    wscale: Optional[int]
    sack_permitted: bool
    timestamp: Optional[Tuple[int, int]]
    sack: Tuple[Tuple[int, int], ...]
    header_len: int
    checksum: int
    option_flags: int
    def __init__(self, sport: int, dport: int, seq: int = 0, ack: int = 0, flags: int = 0,
                 window: int = 0, urgent: int = 0, mss: Optional[int] = None,
                 wscale: Optional[int] = None, sack_permitted: bool = False,
                 timestamp: Optional[Tuple[int, int]] = None,
                 sack: Iterable[Tuple[int, int]] = ...) -> None: ...
    @staticmethod
    def parse(data: Buffer, pseudo: Optional[int] = None) -> "TcpRepr": ...
    def buffer_len(self) -> int: ...
    def emit(self, buf: Buffer, payload: Buffer = ..., pseudo: int = 0) -> int: ...
    def to_bytes(self, payload: Buffer = ..., pseudo: int = 0) -> bytes: ...
    def flag_names(self) -> List[str]: ...
