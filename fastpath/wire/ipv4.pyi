import ipaddress
from typing import Union
from typing_extensions import Buffer

Addr = Union[str, int, bytes, ipaddress.IPv4Address]

class Ipv4Repr:
    src: ipaddress.IPv4Address
    dst: ipaddress.IPv4Address
    proto: int
    ttl: int
    tos: int
    ident: int
    df: bool
    mf: bool
    frag_off: int
    payload_len: int
    header_len: int
    checksum: int
    def __init__(self, src: Addr, dst: Addr, proto: int, payload_len: int = 0, ttl: int = 64,
                 tos: int = 0, ident: int = 0, df: bool = False, mf: bool = False,
                 frag_off: int = 0) -> None: ...
    @staticmethod
    def parse(data: Buffer, verify_checksum: bool = True) -> "Ipv4Repr": ...
    def buffer_len(self) -> int: ...
    def emit(self, buf: Buffer) -> int: ...
    def to_bytes(self) -> bytes: ...
