"""Steering rules: what they match, how they are written, and their keys in the BPF maps.

Three kinds, in the order the program consults them (the first match decides):

* ``flow``   an exact 5-tuple:          ``redirect udp 10.0.0.1:5000 -> 10.0.0.2:9999``
* ``port``   a TCP/UDP port:            ``redirect udp dport 9999``, ``drop tcp sport 23``
* ``prefix`` a destination/source net:  ``drop dst 192.0.2.0/24``, ``pass src 2001:db8::/32``

Actions: ``pass`` (to the kernel), ``drop``, ``redirect`` (to the engine's AF_XDP socket on the
packet's queue; to the kernel if none is bound). Between kinds, destination beats source and a
destination port beats a source port. IPv6 addresses in 5-tuples go in brackets:
``[2001:db8::1]:53``.
"""
from __future__ import annotations

import ipaddress
import re
import sys
from dataclasses import dataclass
from typing import Optional, Union

from fastpath.errors import ConfigError
from fastpath.xdp import structs as S

PROTOS = {"tcp": 6, "udp": 17}
PROTO_NAMES = {v: k for k, v in PROTOS.items()}
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


@dataclass(frozen=True)
class Rule:
    action: str
    kind: str                          # "flow", "port" or "prefix"
    direction: str = "dst"             # port and prefix rules: "dst" or "src"
    proto: int = 0                     # port and flow rules: 6 or 17
    port: int = 0                      # port rules
    prefix: Optional[IPNetwork] = None
    src: Optional[IPAddress] = None    # flow rules
    dst: Optional[IPAddress] = None
    sport: int = 0
    dport: int = 0

    def __post_init__(self):
        if self.action not in S.ACTIONS:
            raise ConfigError(f"unknown action {self.action!r}: use pass, drop or redirect")
        if self.kind not in ("flow", "port", "prefix"):
            raise ConfigError(f"unknown rule kind {self.kind!r}")
        if self.kind in ("port", "prefix") and self.direction not in ("dst", "src"):
            raise ConfigError(f"direction must be dst or src, not {self.direction!r}")
        if self.kind in ("port", "flow") and self.proto not in PROTO_NAMES:
            raise ConfigError("port and 5-tuple rules need the protocol tcp or udp")
        for p in (self.port, self.sport, self.dport):
            if not 0 <= p <= 65535:
                raise ConfigError(f"port {p} is outside 0..65535")
        if self.kind == "prefix" and self.prefix is None:
            raise ConfigError("a prefix rule needs a prefix")
        if self.kind == "flow":
            if self.src is None or self.dst is None:
                raise ConfigError("a 5-tuple rule needs both addresses")
            if self.src.version != self.dst.version:
                raise ConfigError(f"5-tuple mixes IPv{self.src.version} and IPv{self.dst.version}")

    # ---- identity of the match (two rules with the same key cannot coexist)
    @property
    def key(self) -> tuple:
        if self.kind == "port":
            return ("port", self.proto, self.direction, self.port)
        if self.kind == "prefix":
            return ("prefix", self.direction, self.prefix)
        return ("flow", self.proto, self.src, self.sport, self.dst, self.dport)

    @property
    def family(self) -> int:
        if self.kind == "prefix":
            return self.prefix.version
        if self.kind == "flow":
            return self.src.version
        return 0

    def __str__(self) -> str:
        if self.kind == "port":
            return f"{self.action} {PROTO_NAMES[self.proto]} {self.direction[0]}port {self.port}"
        if self.kind == "prefix":
            return f"{self.action} {self.direction} {self.prefix}"

        def ep(a, p):
            return f"[{a}]:{p}" if a.version == 6 else f"{a}:{p}"
        return (f"{self.action} {PROTO_NAMES[self.proto]} {ep(self.src, self.sport)} -> "
                f"{ep(self.dst, self.dport)}")


_ENDPOINT = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<v4>[0-9.]+)):(?P<port>\d+)$")


def _endpoint(text: str, line: str):
    m = _ENDPOINT.match(text)
    if not m:
        raise ConfigError(f"rule {line!r}: {text!r} is not ADDRESS:PORT ([IPv6]:PORT)")
    try:
        addr = ipaddress.ip_address(m.group("v6") or m.group("v4"))
    except ValueError as e:
        raise ConfigError(f"rule {line!r}: {e}") from None
    return addr, int(m.group("port"))


def parse_rule(text: str) -> Rule:
    """Parse one rule written as in the module docstring."""
    line = " ".join(text.split())
    words = line.split(" ")
    if len(words) < 3:
        raise ConfigError(f"rule {text!r} is incomplete: e.g. 'redirect udp dport 9999', "
                          f"'drop dst 10.0.0.0/8', 'redirect tcp 1.2.3.4:5 -> 6.7.8.9:10'")
    action = words[0].lower()
    if action not in S.ACTIONS:
        raise ConfigError(f"rule {text!r}: unknown action {words[0]!r} (pass, drop, redirect)")
    what = words[1].lower()
    if what in ("dst", "src"):
        if len(words) != 3:
            raise ConfigError(f"rule {text!r}: expected '{action} {what} PREFIX'")
        try:
            net = ipaddress.ip_network(words[2], strict=False)
        except ValueError as e:
            raise ConfigError(f"rule {text!r}: {e}") from None
        return Rule(action, "prefix", direction=what, prefix=net)
    if what in PROTOS:
        proto = PROTOS[what]
        if len(words) == 4 and words[2].lower() in ("dport", "sport"):
            try:
                port = int(words[3])
            except ValueError:
                raise ConfigError(f"rule {text!r}: {words[3]!r} is not a port number") from None
            if not 0 <= port <= 65535:
                raise ConfigError(f"rule {text!r}: port {port} is outside 0..65535")
            return Rule(action, "port", direction="dst" if words[2].lower() == "dport" else "src",
                        proto=proto, port=port)
        if len(words) == 5 and words[3] == "->":
            s, sp = _endpoint(words[2], text)
            d, dp = _endpoint(words[4], text)
            if s.version != d.version:
                raise ConfigError(f"rule {text!r}: addresses of different IP versions")
            return Rule(action, "flow", proto=proto, src=s, dst=d, sport=sp, dport=dp)
        raise ConfigError(f"rule {text!r}: expected '{action} {what} dport|sport N' or "
                          f"'{action} {what} SRC:PORT -> DST:PORT'")
    raise ConfigError(f"rule {text!r}: {words[1]!r} should be dst, src, tcp or udp")


def parse_rules(text: str) -> list[Rule]:
    """One rule per line; blank lines and '#' comments ignored."""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            out.append(parse_rule(line))
        except ConfigError as e:
            raise ConfigError(f"line {n}: {e}") from None
    return out


# ---------------------------------------------------------------- map keys
def port_index(rule: Rule) -> int:
    """The port array slot of a port rule; for a 5-tuple rule, the slot of its destination port
    (where the program learns that 5-tuple rules exist for that port)."""
    slot = S.FP_PORT_PROTO_TCP if rule.proto == 6 else S.FP_PORT_PROTO_UDP
    if rule.kind == "flow":
        return (slot * 2 + S.FP_PORT_DST) * 65536 + rule.dport
    d = S.FP_PORT_DST if rule.direction == "dst" else S.FP_PORT_SRC
    return (slot * 2 + d) * 65536 + rule.port


def prefix_key(rule: Rule):
    net = rule.prefix
    if net.version == 4:
        k = S.FpPrefix4Key(prefixlen=net.prefixlen)
    else:
        k = S.FpPrefix6Key(prefixlen=net.prefixlen)
    for i, b in enumerate(net.network_address.packed):
        k.addr[i] = b
    return k


def _be16(v: int) -> int:
    """A port in network order as the little-or-big-endian host stores a __u16 read from it."""
    return int.from_bytes(v.to_bytes(2, "big"), sys.byteorder)


def flow_key(rule: Rule):
    k = S.FpFlow4Key() if rule.src.version == 4 else S.FpFlow6Key()
    for i, b in enumerate(rule.src.packed):
        k.saddr[i] = b
    for i, b in enumerate(rule.dst.packed):
        k.daddr[i] = b
    k.sport = _be16(rule.sport)
    k.dport = _be16(rule.dport)
    k.proto = rule.proto
    return k


def table_for(rule: Rule) -> tuple[str, int]:
    """(map name, config flag) holding this rule."""
    if rule.kind == "port":
        return "fp_ports", (S.FP_HAS_PORT if rule.direction == "dst" else S.FP_HAS_SPORT)
    if rule.kind == "flow":
        return ("fp_flows4", S.FP_HAS_FLOW4) if rule.family == 4 else ("fp_flows6", S.FP_HAS_FLOW6)
    v = rule.family
    if rule.direction == "dst":
        return ("fp_dst4", S.FP_HAS_DST4) if v == 4 else ("fp_dst6", S.FP_HAS_DST6)
    return ("fp_src4", S.FP_HAS_SRC4) if v == 4 else ("fp_src6", S.FP_HAS_SRC6)
