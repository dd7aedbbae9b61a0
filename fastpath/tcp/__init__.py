"""The TCP core: an RFC 9293 endpoint in Cython that takes segments and the time as arguments
and returns the segments to send, never reading a clock or touching I/O.

- ``TcpConnection``: one endpoint driven from Python with ``Segment`` objects.
- ``TcpStack``: a host's TCP over real IPv4/IPv6 frames (listen, connect, accept, timers).
- ``Simulation``: two stacks joined by a lossy, reordering, duplicating, corrupting link on a
  virtual clock with seeded randomness.
- ``TcpConfig``: settings; ``State``: connection states; ``Segment``: a segment as Python values.

Errors the peer causes are ``fastpath.errors.ConnectionRefused``, ``ConnectionReset`` and
``ConnectionTimedOut``; ``ConnectionClosed`` for calls on a closed or shut-down connection.
"""
from fastpath.tcp.config import TcpConfig
from fastpath.tcp.segment import Segment, FIN, SYN, RST, PSH, ACK, URG
from fastpath.tcp.state import State

try:
    from fastpath.tcp.connection import TcpConnection, control_block_size
    from fastpath.tcp.stack import TcpStack, Listener, Connection
    from fastpath.tcp.sim import Simulation, Link, pattern_bytes
    from fastpath.tcp.cc import algorithms as congestion_control_algorithms
except ImportError as e:  # pragma: no cover - only without a build
    from fastpath.errors import BuildError
    raise BuildError(f"the TCP core is not built ({e}): run 'make setup' or "
                     f"'python setup.py build_ext --inplace'") from e

__all__ = ["TcpConfig", "Segment", "State", "TcpConnection", "TcpStack", "Listener",
           "Connection", "Simulation", "Link", "pattern_bytes", "control_block_size",
           "congestion_control_algorithms", "FIN", "SYN", "RST", "PSH", "ACK", "URG"]
