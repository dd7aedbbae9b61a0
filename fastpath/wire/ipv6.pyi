import ipaddress
from typing import Optional, Tuple, Union
from typing_extensions import Buffer

Addr = Union[str, int, bytes, ipaddress.IPv6Address]

class Ipv6Repr:
    src: ipaddress.IPv6Address
    dst: ipaddress.IPv6Address
    next_header: int
    payload_len: int
    hop_limit: int
    traffic_class: int
    flow_label: int
    upper_proto: int
    upper_offset: int
    final_dst: ipaddress.IPv6Address
    fragment: Optional[Tuple[int, bool, int]]
    def __init__(self, src: Addr, dst: Addr, next_header: int, payload_len: int = 0,
                 hop_limit: int = 64, traffic_class: int = 0, flow_label: int = 0) -> None: ...
    @staticmethod
    def parse(data: Buffer) -> "Ipv6Repr": ...
    def buffer_len(self) -> int: ...
    def emit(self, buf: Buffer) -> int: ...
    def to_bytes(self) -> bytes: ...
