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


def _detect_teredo(buffer, base, recs):
    """Mark UDP packets on any port whose payload is a Teredo-encapsulated IPv6 packet (RFC 4380
    5.1), as Zeek's protocol detection does: an IPv6 header with a Teredo (2001:0::/32) source
    or destination, optionally after an origin indication (and authentication) header."""
    cand = np.nonzero((recs["ip_proto"] == 17) & (recs["inner_kind"] == 0) &
                      (recs["payload_off"] != OFFSET_NONE) & (recs["payload_len"] >= 40))[0]
    if not len(cand):
        return recs
    buf = np.frombuffer(buffer, dtype=np.uint8)
    pay = recs["payload_off"][cand].astype(np.int64)
    start = recs["data_off"][cand].astype(np.int64) - base + pay
    end = recs["data_off"][cand].astype(np.int64) - base + recs["caplen"][cand].astype(np.int64)
    ok = (start >= 0) & (end <= len(buf)) & (end - start >= 40)
    cand, pay, start, end = cand[ok], pay[ok], start[ok], end[ok]
    if not len(cand):
        return recs

    def byte(pos):
        inside = pos < end
        return np.where(inside, buf[np.minimum(pos, len(buf) - 1)], 0), inside

    def v6_at(pos, need_prefix):
        b0, ok0 = byte(pos)
        good = ok0 & (pos + 40 <= end) & ((b0 >> 4) == 6)
        if need_prefix:
            src = good.copy()
            dst = good.copy()
            for i, v in enumerate((0x20, 0x01, 0x00, 0x00)):
                src &= byte(pos + 8 + i)[0] == v
                dst &= byte(pos + 24 + i)[0] == v
            good = src | dst
        return good

    inner = np.full(len(cand), -1, np.int64)
    direct = v6_at(start, True)
    inner[direct] = start[direct]
    b0, _ = byte(start)
    b1, _ = byte(start + 1)
    origin = (inner < 0) & (b0 == 0) & (b1 == 0)
    hit = origin & v6_at(start + 8, False)
    inner[hit] = start[hit] + 8
    auth = (inner < 0) & (b0 == 0) & (b1 == 1)
    if auth.any():
        after = start + 13 + byte(start + 2)[0].astype(np.int64) + byte(start + 3)[0].astype(np.int64)
        o0, _ = byte(after)
        o1, _ = byte(after + 1)
        hit = auth & (o0 == 0) & (o1 == 0) & v6_at(after + 8, False)
        inner[hit] = after[hit] + 8
    found = inner >= 0
    if not found.any():
        return recs
    recs = recs.copy()
    rows = cand[found]
    recs["inner_kind"][rows] = INNER_TEREDO
    recs["inner_off"][rows] = (pay + inner - start)[found]
    return recs


def decapsulate(buffer, base, recs, verify_checksums=False):
    """``recs`` plus the packets inside its tunnels, in time order; IP-level tunnel packets
    (GRE, IP-in-IP) are replaced by what they carry."""
    if not len(recs):
        return recs
    recs = _detect_teredo(buffer, base, recs)
    if not np.isin(recs["inner_kind"], _INNER_IP + _INNER_ETH).any():
        return recs
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
