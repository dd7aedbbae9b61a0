"""The XDP fault injector (bpf/fault.c): drop or corrupt a fraction of the packets arriving on
an interface, for tests on links where the kernel has no netem.

    with XdpFaultInjector(drop=0.1, proto="udp", dport=9999) as fi:
        fi.attach("veth1")
        ...
        fi.stats()    # {"seen": ..., "dropped": ..., "corrupted": ..., "ignored": ...}
"""
from __future__ import annotations

import sys
from typing import Optional, Union

from fastpath.errors import ConfigError
from fastpath.xdp import structs as S
from fastpath.xdp.loader import XdpProgram
from fastpath.xdp.rules import PROTOS


def _threshold(p: float, what: str) -> int:
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"{what} is a probability in [0, 1], not {p!r}")
    return min(1 << 32, round(p * (1 << 32)))


class XdpFaultInjector(XdpProgram):
    SOURCE = "fault.c"
    FUNCTION = "fp_fault"

    def __init__(self, *, drop: float = 0.0, corrupt: float = 0.0, corrupt_offset: int = 0,
                 proto: Optional[Union[str, int]] = None, dport: Optional[int] = None):
        super().__init__()
        self.configure(drop=drop, corrupt=corrupt, corrupt_offset=corrupt_offset, proto=proto,
                       dport=dport)

    def configure(self, *, drop: float = 0.0, corrupt: float = 0.0, corrupt_offset: int = 0,
                  proto: Optional[Union[str, int]] = None, dport: Optional[int] = None) -> None:
        """Change the fractions and the match; applies to the next packet."""
        cfg = S.FpFaultConfig()
        cfg.drop_threshold = _threshold(drop, "drop")
        cfg.corrupt_threshold = _threshold(corrupt, "corrupt")
        if not 0 <= int(corrupt_offset) < 0x4000:
            raise ConfigError("corrupt_offset must be 0..16383 (the program reaches the first "
                              "16 KiB of a frame)")
        cfg.corrupt_offset = int(corrupt_offset)
        if proto is not None:
            p = PROTOS.get(proto, proto) if isinstance(proto, str) else int(proto)
            if not isinstance(p, int) or not 0 <= p <= 255:
                raise ConfigError(f"proto must be tcp, udp or a number 0..255, not {proto!r}")
            cfg.proto = p
            cfg.flags |= S.FP_FAULT_MATCH_PROTO
        if dport is not None:
            if not 0 <= int(dport) <= 65535:
                raise ConfigError(f"dport {dport} is outside 0..65535")
            cfg.dport = int.from_bytes(int(dport).to_bytes(2, "big"), sys.byteorder)
            cfg.flags |= S.FP_FAULT_MATCH_DPORT
        tbl = self.table("fp_fault_config")
        tbl[tbl.Key(0)] = cfg
        self.drop, self.corrupt = float(drop), float(corrupt)

    def stats(self) -> dict:
        tbl = self.table("fp_fault_stats")
        names = {S.FP_FAULT_SEEN: "seen", S.FP_FAULT_DROPPED: "dropped",
                 S.FP_FAULT_CORRUPTED: "corrupted", S.FP_FAULT_IGNORED: "ignored"}
        return {name: int(sum(tbl[tbl.Key(i)])) for i, name in names.items()}

    def reset_stats(self) -> None:
        tbl = self.table("fp_fault_stats")
        for i in range(S.FP_FAULT_COUNTERS):
            tbl[tbl.Key(i)] = tbl.Leaf()
