"""Connection records for a whole capture: parse in chunks, decapsulate tunnels, track.

    from fastpath.flow import flows_from_capture
    conns = flows_from_capture("trace.pcap")           # CONN_DTYPE, sorted by start time

Memory is bounded by the chunk size and the table capacity, whatever the capture's size (the
records themselves are returned, or yielded chunk by chunk by ``iter_flows``).
"""
import numpy as np

from fastpath.errors import CaptureError
from fastpath.packets import iter_parse
from fastpath.wire.parse import parse_frames
from fastpath.wire.record import (FRAME_DTYPE, INNER_ETH_IN_IP, INNER_GENEVE_ETH, INNER_GENEVE_IP,
                                  INNER_GRE_ETH, INNER_GRE_IP, INNER_IP_IN_IP, INNER_TEREDO,
                                  INNER_VXLAN, LINKTYPE_ETHERNET, LINKTYPE_RAW, OFFSET_NONE)

from fastpath.flow.decap import scan
from fastpath.flow.table import CONN_DTYPE, FlowTable

# Tunnels whose inner packets are connections of their own (as Zeek decapsulates them).
_INNER_IP = (INNER_IP_IN_IP, INNER_GRE_IP, INNER_TEREDO, INNER_GENEVE_IP)
_INNER_ETH = (INNER_GRE_ETH, INNER_VXLAN, INNER_GENEVE_ETH, INNER_ETH_IN_IP)
# IP-level tunnels: the outer packet is transport for the inner one, not a connection itself
# (UDP tunnels such as VXLAN and Teredo are, and keep their own records).
_IP_LEVEL = (INNER_IP_IN_IP, INNER_GRE_IP, INNER_GRE_ETH, INNER_ETH_IN_IP)
MAX_TUNNEL_DEPTH = 4


def _inner_records(buffer, base, recs, verify_checksums):
    """Parse the packets carried by tunnels in ``recs`` (one level)."""
    kinds = recs["inner_kind"]
    sel = np.isin(kinds, _INNER_IP + _INNER_ETH) & (recs["inner_off"] != OFFSET_NONE)
    sel &= recs["inner_off"] < recs["caplen"]
    if not sel.any():
        return None
    outer = recs[sel]
    off = outer["inner_off"].astype(np.uint64)
    index = np.zeros(len(outer), FRAME_DTYPE)
    index["ts_ns"] = outer["ts_ns"]
    index["data_off"] = outer["data_off"] + off
    index["caplen"] = outer["caplen"] - off.astype(np.uint32)
    index["wirelen"] = np.maximum(outer["wirelen"], outer["caplen"]) - off.astype(np.uint32)
    index["iface"] = outer["iface"]
    index["linktype"] = np.where(np.isin(outer["inner_kind"], _INNER_ETH), LINKTYPE_ETHERNET,
                                 LINKTYPE_RAW)
    return parse_frames(buffer, index, base, verify_checksums)


def decapsulate(buffer, base, recs, verify_checksums=False):
    """``recs`` plus the packets inside its tunnels, in time order; IP-level tunnel packets
    (GRE, IP-in-IP) are replaced by what they carry."""
    if not len(recs):
        return recs
    rows, offs, tunnels = scan(buffer, base, np.ascontiguousarray(recs))
    if tunnels == 0:
        return recs
    if len(rows):
        # UDP on other ports that carries Teredo (Zeek detects it by content).
        recs = recs.copy()
        recs["inner_kind"][rows] = INNER_TEREDO
        recs["inner_off"][rows] = offs
    parts = [recs[~np.isin(recs["inner_kind"], _IP_LEVEL)]]
    level = recs
    for _ in range(MAX_TUNNEL_DEPTH):
        inner = _inner_records(buffer, base, level, verify_checksums)
        if inner is None:
            break
        parts.append(inner[~np.isin(inner["inner_kind"], _IP_LEVEL)])
        level = inner
    allrecs = np.concatenate(parts)
    return allrecs[np.argsort(allrecs["ts_ns"], kind="stable")]


def iter_flows(source, table=None, *, verify_checksums=False, tunnels=True,
               chunk_packets=65536, select=None, **table_options):
    """Yield CONN_DTYPE arrays of finished connections while reading ``source``; the last
    yield holds every connection still open at the end.

    ``table`` is a ``FlowTable`` to use (default: a new one with ``table_options``).
    ``select``, if given, maps a PACKET_DTYPE chunk to a boolean mask of the packets to keep
    (a capture filter). On a broken capture the connections of every packet read are yielded
    first, then the ``CaptureError`` is raised."""
    if table is None:
        table_options.setdefault("capacity", 1 << 20)
        table = FlowTable(table_options.pop("capacity"), **table_options)
    elif table_options:
        raise TypeError(f"table options {sorted(table_options)} given together with a table")
    try:
        for chunk in iter_parse(source, chunk_packets=chunk_packets,
                                verify_checksums=verify_checksums):
            recs = chunk.records
            if select is not None:
                recs = recs[np.asarray(select(recs), dtype=bool)]
            if tunnels:
                recs = decapsulate(chunk.buffer, chunk.base, recs, verify_checksums)
            out = table.track(recs)
            if len(out):
                yield out
    except CaptureError:
        rest = table.flush()
        if len(rest):
            yield rest
        raise
    rest = table.flush()
    if len(rest):
        yield rest


def flows_from_capture(source, table=None, **options):
    """Every connection of a capture as one CONN_DTYPE array, sorted by start time.

    A broken capture raises ``CaptureError`` whose ``records`` attribute holds the
    connections of everything that could be read."""
    parts = []
    try:
        for part in iter_flows(source, table, **options):
            parts.append(part)
    except CaptureError as e:
        e.records = _sorted(parts)
        raise
    return _sorted(parts)


def _sorted(parts):
    if not parts:
        return np.empty(0, CONN_DTYPE)
    allrecs = np.concatenate(parts)
    return allrecs[np.argsort(allrecs["ts_ns"], kind="stable")]
