"""Configuration of the TCP core: one object, validated when made, copied into C by the
connection or stack that uses it. Times are integers in microseconds (the core's clock)."""
from __future__ import annotations

from dataclasses import dataclass, fields

from fastpath.errors import ConfigError

_U32 = 0xFFFFFFFF


@dataclass(frozen=True)
class TcpConfig:
    """Settings shared by the connections of a stack (or one standalone connection).

    Defaults follow the RFCs where they give a number and Linux where they leave a choice:
    RTO 1 s initial and minimum (RFC 6298 2.1 / 2.4; Linux uses a 200 ms minimum), at most
    60 s (2.5); delayed ACK 40 ms (RFC 1122 4.2.3.2 allows up to 500 ms); TIME-WAIT 2 x 30 s;
    keepalive after 2 h idle (RFC 1122 4.2.3.6), off unless asked for; initial window of 10
    segments (RFC 6928); CUBIC (RFC 9438).
    """
    sndbuf: int = 256 * 1024
    rcvbuf: int = 256 * 1024
    mss: int = 1460
    window_scaling: bool = True
    timestamps: bool = True
    sack: bool = True
    nodelay: bool = False
    syncookies: bool = True
    congestion_control: str = "cubic"
    initial_window: int = 10
    dupthresh: int = 3
    rto_initial_us: int = 1_000_000
    rto_min_us: int = 1_000_000
    rto_max_us: int = 60_000_000
    delack_us: int = 40_000
    msl_us: int = 30_000_000
    keepalive: bool = False
    keepalive_idle_us: int = 7200 * 1_000_000
    keepalive_intvl_us: int = 75 * 1_000_000
    keepalive_probes: int = 9
    persist_min_us: int = 200_000
    persist_max_us: int = 60_000_000
    user_timeout_us: int = 0
    syn_retries: int = 6
    max_retries: int = 15
    challenge_ack_limit: int = 10

    def __post_init__(self):
        def need(name, lo, hi, what="an integer"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ConfigError(f"TcpConfig.{name} must be {what} in {lo}..{hi}, not {v!r}")

        need("sndbuf", 1024, 1 << 30)
        need("rcvbuf", 1024, 1 << 30)
        need("mss", 64, 65495)
        need("initial_window", 1, 255)
        need("dupthresh", 1, 255)
        need("rto_initial_us", 1000, _U32)
        need("rto_min_us", 1000, _U32)
        need("rto_max_us", 1000, _U32)
        need("delack_us", 0, 500_000, "an integer (RFC 1122 4.2.3.2: at most 0.5 s)")
        need("msl_us", 0, _U32 // 2)
        need("keepalive_idle_us", 1, 1 << 48)
        need("keepalive_intvl_us", 1, _U32)
        need("keepalive_probes", 1, 255)
        need("persist_min_us", 1000, _U32)
        need("persist_max_us", 1000, _U32)
        need("user_timeout_us", 0, _U32)
        need("syn_retries", 0, 255)
        need("max_retries", 1, 255)
        need("challenge_ack_limit", 0, 65535)
        if self.rto_min_us > self.rto_max_us:
            raise ConfigError(f"TcpConfig.rto_min_us ({self.rto_min_us}) is above rto_max_us "
                              f"({self.rto_max_us})")
        if not self.rto_min_us <= self.rto_initial_us <= self.rto_max_us:
            raise ConfigError("TcpConfig.rto_initial_us must lie between rto_min_us and rto_max_us")
        if self.persist_min_us > self.persist_max_us:
            raise ConfigError("TcpConfig.persist_min_us is above persist_max_us")
        if self.rcvbuf > 65535 << 14:
            raise ConfigError("TcpConfig.rcvbuf is above the largest window TCP can express "
                              "(65535 << 14, RFC 7323 2.3)")
        if not self.window_scaling and self.rcvbuf > 65535:
            raise ConfigError(f"TcpConfig.rcvbuf={self.rcvbuf} needs window_scaling=True "
                              f"(without it a window is at most 65535 bytes)")
        from fastpath.tcp.cc import index_of
        index_of(self.congestion_control)       # raises ConfigError naming the choices

    def replace(self, **changes) -> "TcpConfig":
        """A copy with some settings changed (validated again)."""
        known = {f.name for f in fields(self)}
        bad = sorted(set(changes) - known)
        if bad:
            raise ConfigError(f"unknown TcpConfig setting(s): {', '.join(bad)}")
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return TcpConfig(**values)
