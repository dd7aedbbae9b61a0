"""Connection records (``CONN_DTYPE`` arrays) as text: Zeek conn.log TSV and JSON lines.

The columns follow Zeek's conn.log (so ``zeek-cut`` and habits carry over), plus fastpath's
own: ``tcp_state`` (the conntrack state when the record was written) and ``end`` (why it was
written). Like Zeek, ``duration``, ``orig_bytes`` and ``resp_bytes`` are unset (``-``) for a
connection whose first and last packets share a timestamp.
"""
import json
import socket

import numpy as np

from fastpath.flow.conntrack import STATE_NAMES as TCP_STATE_NAMES
from fastpath.flow.table import CONN_DTYPE, END_NAMES
from fastpath.flow.zeek import CONN_STATE_NAMES

PROTO_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp"}

FIELDS = ("ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "duration",
          "orig_bytes", "resp_bytes", "conn_state", "missed_bytes", "history", "orig_pkts",
          "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "ip_proto", "vlan", "inner_vlan",
          "tcp_state", "end")
TYPES = ("time", "addr", "port", "addr", "port", "enum", "interval", "count", "count", "string",
         "count", "string", "count", "count", "count", "count", "count", "int", "int", "string",
         "string")


def format_addr(raw, version):
    """Text form of a 16-byte record address (IPv4-mapped when ``version`` is 4)."""
    b = bytes(raw)
    if version == 4:
        return socket.inet_ntop(socket.AF_INET, b[12:])
    return socket.inet_ntop(socket.AF_INET6, b)


def _check(records):
    if not isinstance(records, np.ndarray) or records.dtype != CONN_DTYPE:
        raise TypeError("expected a CONN_DTYPE array (from FlowTable.track/flush or "
                        "fastpath.flow.flows_from_capture)")


def _micro(ns):
    # Zeek prints times with six decimals; integers avoid float rounding on large epochs.
    us = (ns + 500) // 1000
    return f"{us // 1000000}.{us % 1000000:06d}"


def _rows(records):
    """Per record: a tuple in FIELDS order (None where Zeek writes ``-``). Column-wise, with the
    address strings cached: most addresses repeat."""
    _check(records)
    n = len(records)
    if n == 0:
        return
    cols = {k: records[k].tolist() for k in (
        "ts_ns", "last_ts_ns", "orig_port", "resp_port", "proto", "orig_bytes", "resp_bytes",
        "conn_state", "missed_bytes", "history", "orig_pkts", "orig_ip_bytes", "resp_pkts",
        "resp_ip_bytes", "vlan", "inner_vlan", "tcp_state", "end_reason", "ip_version")}
    ob = np.ascontiguousarray(records["orig_addr"]).tobytes()
    rb = np.ascontiguousarray(records["resp_addr"]).tobytes()
    cache = {}

    def addr(raw, v):
        key = (raw, v)
        text = cache.get(key)
        if text is None:
            text = cache[key] = format_addr(raw, v)
        return text

    for i in range(n):
        v = cols["ip_version"][i]
        ts = cols["ts_ns"][i]
        dur = cols["last_ts_ns"][i] - ts
        productive = dur > 0
        proto = cols["proto"][i]
        yield (ts, addr(ob[16 * i:16 * i + 16], v), cols["orig_port"][i],
               addr(rb[16 * i:16 * i + 16], v), cols["resp_port"][i],
               PROTO_NAMES.get(proto, "unknown_transport"),
               dur if productive else None,
               cols["orig_bytes"][i] if productive else None,
               cols["resp_bytes"][i] if productive else None,
               CONN_STATE_NAMES[cols["conn_state"][i]], cols["missed_bytes"][i],
               cols["history"][i].decode("ascii") or None,
               cols["orig_pkts"][i], cols["orig_ip_bytes"][i], cols["resp_pkts"][i],
               cols["resp_ip_bytes"][i], proto, cols["vlan"][i] or None,
               cols["inner_vlan"][i] or None,
               TCP_STATE_NAMES[cols["tcp_state"][i]] if proto == 6 else None,
               END_NAMES[cols["end_reason"][i]])


def iter_dicts(records):
    """One dict per record, with conn.log field names (None where Zeek writes ``-``); times in
    seconds (float)."""
    for row in _rows(records):
        d = dict(zip(FIELDS, row))
        d["ts"] = row[0] / 1e9
        if row[6] is not None:
            d["duration"] = row[6] / 1e9
        yield d


def tsv_header(path="conn"):
    return ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)",
            "#unset_field\t-", f"#path\t{path}", "#fields\t" + "\t".join(FIELDS),
            "#types\t" + "\t".join(TYPES)]


def iter_tsv(records):
    """conn.log lines (without the header) for ``records``."""
    for row in _rows(records):
        cells = ["-" if c is None else str(c) for c in row]
        cells[0] = _micro(row[0])
        if row[6] is not None:
            cells[6] = _micro(row[6])
        yield "\t".join(cells)


def iter_json(records):
    """JSON lines, Zeek's JSON log style: unset fields are left out."""
    for d in iter_dicts(records):
        yield json.dumps({k: v for k, v in d.items() if v is not None}, separators=(",", ":"))
