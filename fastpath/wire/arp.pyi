import ipaddress
from typing import Union
from typing_extensions import Buffer

class ArpRepr:
    op: int
    sender_mac: bytes
    sender_ip: ipaddress.IPv4Address
    target_mac: bytes
    target_ip: ipaddress.IPv4Address
    def __init__(self, op: int, sender_mac: Union[bytes, str], sender_ip: object,
                 target_mac: Union[bytes, str], target_ip: object) -> None: ...
    @staticmethod
    def parse(data: Buffer) -> "ArpRepr": ...
    def buffer_len(self) -> int: ...
    def emit(self, buf: Buffer) -> int: ...
    def to_bytes(self) -> bytes: ...
