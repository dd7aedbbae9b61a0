from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np
import numpy.typing as npt

CONN_FIELDS: list[tuple]
CONN_DTYPE: np.dtype
END_NAMES: tuple[str, ...]
DEFAULT_TIMEOUTS: dict[str, float]
ZEEK_TIMERS: dict[str, float]
ZEEK_TCP_SERVER_PORTS: frozenset[int]
ZEEK_UDP_SERVER_PORTS: frozenset[int]
ZEEK_DNS_PORTS: frozenset[int]

END_IDLE: int
END_CLOSED: int
END_REUSED: int
END_RESET: int
END_EVICTED: int
END_FLUSHED: int
END_ACTIVE: int
RF_ASSURED: int
RF_FLIPPED: int
RF_LOOSE: int
RF_HISTORY_TRUNCATED: int
RF_PARTIAL: int

class FlowTable:
    def __init__(self, capacity: int, *, records: bool = True, vlan: bool = False,
                 loose: bool = True, timeouts: Optional[Mapping[str, float]] = None,
                 zeek: Optional[Mapping[str, Any]] = None,
                 server_ports: Optional[Mapping[str, Iterable[int]]] = None,
                 seed: Optional[int] = None) -> None: ...
    def track(self, packets: np.ndarray, verdicts: Optional[npt.NDArray[np.uint8]] = None,
              reasons: Optional[npt.NDArray[np.uint8]] = None) -> np.ndarray: ...
    def expire(self, now_ns: Optional[int] = None) -> np.ndarray: ...
    def flush(self) -> np.ndarray: ...
    def snapshot(self) -> np.ndarray: ...
    def lookup(self, src: str, sport: int, dst: str, dport: int, proto: int = 6,
               vlan: Sequence[int] = (), icmp_code: int = 0) -> Optional[dict[str, Any]]: ...
    def stats(self) -> dict[str, Any]: ...
    def __len__(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def records_enabled(self) -> bool: ...
    @property
    def memory_bytes(self) -> int: ...
    @property
    def now_ns(self) -> int: ...

def entry_sizes() -> tuple[int, int, int, int]: ...
