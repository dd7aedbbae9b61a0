"""Flows: every packet mapped to its connection, TCP tracked as a middlebox sees it, and
Zeek-comparable connection records.

    from fastpath.flow import FlowTable, flows_from_capture
    table = FlowTable(1 << 20)                     # capacity in flows, allocated up front
    conns = table.track(packets)                   # PACKET_DTYPE batch -> finished CONN_DTYPE
    conns = table.flush()                          # end of input: the rest
    conns = flows_from_capture("trace.pcap")       # all of it, parsed, decapsulated, tracked

The compiled parts: ``fastpath.flow.table`` (the table), ``fastpath.flow.conntrack`` (the TCP
state machine and window tracking, netfilter's model), ``fastpath.flow.zeek`` (Zeek's
connection model: conn_state, history, record boundaries).
"""
from fastpath.flow.conntrack import (REASON_NAMES, STATE_NAMES as TCP_STATE_NAMES, TcpTracker,
                                     VERDICT_NAMES)
from fastpath.flow.table import (CONN_DTYPE, DEFAULT_TIMEOUTS, END_NAMES, ZEEK_DNS_PORTS,
                                 ZEEK_TCP_SERVER_PORTS,
                                 ZEEK_TIMERS, ZEEK_UDP_SERVER_PORTS, FlowTable, entry_sizes)
from fastpath.flow.zeek import CONN_STATE_NAMES
from fastpath.flow.records import format_addr, iter_dicts, iter_json, iter_tsv, tsv_header

_CAPTURE = ("decapsulate", "flows_from_capture", "iter_flows")


def __getattr__(name):
    # The capture side (reader, parser) loads on first use: the table works without it.
    if name in _CAPTURE:
        from fastpath.flow import capture
        return getattr(capture, name)
    raise AttributeError(f"module 'fastpath.flow' has no attribute {name!r}")

__all__ = [
    "FlowTable", "TcpTracker", "CONN_DTYPE", "CONN_STATE_NAMES", "TCP_STATE_NAMES",
    "VERDICT_NAMES", "REASON_NAMES", "END_NAMES", "DEFAULT_TIMEOUTS", "ZEEK_TIMERS",
    "ZEEK_TCP_SERVER_PORTS", "ZEEK_UDP_SERVER_PORTS", "ZEEK_DNS_PORTS", "entry_sizes", "format_addr",
    "iter_dicts", "iter_json", "iter_tsv", "tsv_header", "decapsulate", "flows_from_capture",
    "iter_flows",
]
