from typing import Iterable, Tuple, Union
from typing_extensions import Buffer

Mac = Union[bytes, str]

class EthernetRepr:
    dst: bytes
    src: bytes
    ethertype: int
    tags: Tuple[Tuple[int, int, int, int], ...]
    def __init__(self, dst: Mac, src: Mac, ethertype: int,
                 tags: Iterable[Tuple[int, int, int, int]] = ...) -> None: ...
    @staticmethod
    def parse(data: Buffer) -> "EthernetRepr": ...
    def buffer_len(self) -> int: ...
    def emit(self, buf: Buffer) -> int: ...
    def to_bytes(self) -> bytes: ...
