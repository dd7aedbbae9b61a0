"""A TCP segment as plain Python values: what the core's Python face takes and returns.

The core itself exchanges C header structs (``tcp_repr_t``) and payload pointers; this class is
for tests, tools and anything else driving the state machine from Python.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

FIN = 0x001
SYN = 0x002
RST = 0x004
PSH = 0x008
ACK = 0x010
URG = 0x020

_NAMES = ((SYN, "SYN"), (FIN, "FIN"), (RST, "RST"), (PSH, "PSH"), (ACK, "ACK"), (URG, "URG"))


@dataclass
class Segment:
    """One TCP segment: header fields, options (None / False / () when absent) and payload.

    ``window`` is the raw 16-bit field (unscaled). ``timestamp`` is ``(tsval, tsecr)``;
    ``sack`` a tuple of ``(left, right)`` edges.
    """
    seq: int = 0
    ack: int = 0
    flags: int = ACK
    window: int = 65535
    payload: bytes = b""
    mss: Optional[int] = None
    wscale: Optional[int] = None
    sack_permitted: bool = False
    timestamp: Optional[Tuple[int, int]] = None
    sack: Tuple[Tuple[int, int], ...] = field(default_factory=tuple)
    sport: int = 0
    dport: int = 0
    urgent: int = 0

    @property
    def syn(self) -> bool:
        return bool(self.flags & SYN)

    @property
    def fin(self) -> bool:
        return bool(self.flags & FIN)

    @property
    def rst(self) -> bool:
        return bool(self.flags & RST)

    @property
    def has_ack(self) -> bool:
        return bool(self.flags & ACK)

    @property
    def seq_len(self) -> int:
        """Sequence space the segment occupies (payload plus one for SYN and for FIN)."""
        return len(self.payload) + (1 if self.flags & SYN else 0) + (1 if self.flags & FIN else 0)

    def flag_names(self) -> str:
        return "|".join(name for bit, name in _NAMES if self.flags & bit) or "none"

    def __repr__(self) -> str:
        parts = [f"{self.flag_names()} seq={self.seq}"]
        if self.flags & ACK:
            parts.append(f"ack={self.ack}")
        parts.append(f"win={self.window}")
        if self.payload:
            parts.append(f"len={len(self.payload)}")
        if self.mss is not None:
            parts.append(f"mss={self.mss}")
        if self.wscale is not None:
            parts.append(f"ws={self.wscale}")
        if self.sack_permitted:
            parts.append("sackok")
        if self.timestamp is not None:
            parts.append(f"ts={self.timestamp[0]}/{self.timestamp[1]}")
        if self.sack:
            parts.append("sack=" + ",".join(f"{l}-{r}" for l, r in self.sack))
        return f"Segment({' '.join(parts)})"
