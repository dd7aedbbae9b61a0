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


def iter_dicts(records):
    """One dict per record, with conn.log field names (None where Zeek writes ``-``)."""
    _check(records)
    for r in records:
        v = int(r["ip_version"])
        dur_ns = int(r["last_ts_ns"]) - int(r["ts_ns"])
        productive = dur_ns > 0
        proto = int(r["proto"])
        hist = r["history"].decode("ascii")
        yield {
            "ts": int(r["ts_ns"]) / 1e9,
            "id.orig_h": format_addr(r["orig_addr"], v),
            "id.orig_p": int(r["orig_port"]),
            "id.resp_h": format_addr(r["resp_addr"], v),
            "id.resp_p": int(r["resp_port"]),
            "proto": PROTO_NAMES.get(proto, "unknown_transport"),
            "duration": dur_ns / 1e9 if productive else None,
            "orig_bytes": int(r["orig_bytes"]) if productive else None,
            "resp_bytes": int(r["resp_bytes"]) if productive else None,
            "conn_state": CONN_STATE_NAMES[r["conn_state"]],
            "missed_bytes": int(r["missed_bytes"]),
            "history": hist or None,
            "orig_pkts": int(r["orig_pkts"]),
            "orig_ip_bytes": int(r["orig_ip_bytes"]),
            "resp_pkts": int(r["resp_pkts"]),
            "resp_ip_bytes": int(r["resp_ip_bytes"]),
            "ip_proto": proto,
            "vlan": int(r["vlan"]) or None,
            "inner_vlan": int(r["inner_vlan"]) or None,
            "tcp_state": TCP_STATE_NAMES[r["tcp_state"]] if proto == 6 else None,
            "end": END_NAMES[r["end_reason"]],
        }


def _cell(name, value):
    if value is None:
        return "-"
    if name == "ts":
        return f"{value:.6f}"
    if name == "duration":
        return f"{value:.6f}"
    return str(value)


def tsv_header(path="conn"):
    return ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)",
            "#unset_field\t-", f"#path\t{path}", "#fields\t" + "\t".join(FIELDS),
            "#types\t" + "\t".join(TYPES)]


def iter_tsv(records):
    """conn.log lines (without the header) for ``records``."""
    for d in iter_dicts(records):
        yield "\t".join(_cell(f, d[f]) for f in FIELDS)


def iter_json(records):
    """JSON lines, Zeek's JSON log style: unset fields are left out."""
    for d in iter_dicts(records):
        yield json.dumps({k: v for k, v in d.items() if v is not None}, separators=(",", ":"))
