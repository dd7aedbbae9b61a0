"""``fastpath flows FILE [--json] [--save OUT.npy] [options]``

Connection records for a capture, like Zeek's conn.log: one line per connection (TCP, UDP,
ICMP and other IP protocols) with its conn_state, history, packet and byte counts. Tunnels
(GRE, IP-in-IP, VXLAN, Geneve, Teredo) are opened and their inner connections reported.

By default the lines are sorted by start time, which holds the records in memory; with
``--order end`` they are written as connections finish (memory bounded by the table).
"""
import sys

import numpy as np

from fastpath.cli._common import quantity_arg
from fastpath.errors import CaptureError, ConfigError


def add_arguments(p):
    p.add_argument("file", metavar="FILE", help="capture to read (pcap, pcapng, optionally gzipped)")
    p.add_argument("--json", action="store_true",
                   help="JSON lines (Zeek's JSON log style) instead of conn.log TSV")
    p.add_argument("--save", metavar="OUT.npy",
                   help="also save the records as a numpy array (CONN_DTYPE) to OUT.npy")
    p.add_argument("--order", choices=("start", "end"), default="start",
                   help="sort by start time (default; holds records in memory) or write each "
                        "connection when it ends (bounded memory)")
    p.add_argument("--no-header", action="store_true", help="TSV without the #-header lines")
    p.add_argument("--verify-checksums", action="store_true",
                   help="verify IP/TCP/UDP/ICMP checksums: packets with bad ones count as 'C' in "
                        "the history and are not used for state (as Zeek without -C)")
    p.add_argument("--no-tunnels", action="store_true",
                   help="do not open tunnels: report the outer packets only")
    p.add_argument("--capacity", type=quantity_arg("number"), default=1 << 20, metavar="N",
                   help="most connections tracked at once (default 1M; memory is allocated up front)")
    p.add_argument("--vlan", action="store_true", help="make VLAN IDs part of the connection key")
    p.add_argument("--strict", action="store_true",
                   help="do not pick up TCP connections whose SYN was not seen (they still get "
                        "records, but their packets count as invalid for the tracker)")
    p.add_argument("--stats", action="store_true",
                   help="print the flow table's counters to stderr at the end")


def _write(out, lines):
    for line in lines:
        out.write(line)
        out.write("\n")


def _tsv(records):
    # The C formatter (same text as fastpath.flow.records.iter_tsv, much faster).
    from fastpath.flow.format import tsv_bytes
    if len(records):
        yield tsv_bytes(records).decode("ascii").rstrip("\n")


def run(args):
    from fastpath.flow import FlowTable, iter_flows
    from fastpath.flow.records import iter_json, tsv_header

    if args.capacity < 1:
        raise ConfigError(f"--capacity must be at least 1 (got {args.capacity})")
    if args.save and not args.save.endswith(".npy"):
        raise ConfigError(f"--save writes a numpy .npy file: give a name ending in .npy "
                          f"(got {args.save!r})")
    from fastpath.capture import open_capture
    with open_capture(args.file):
        pass                    # a missing or foreign file fails here, before any output
    table = FlowTable(args.capacity, vlan=args.vlan, loose=not args.strict)
    out = sys.stdout
    fmt = iter_json if args.json else _tsv
    if not args.json and not args.no_header:
        _write(out, tsv_header())
    kept = []
    error = None
    try:
        for part in iter_flows(args.file, table, verify_checksums=args.verify_checksums,
                               tunnels=not args.no_tunnels):
            if args.order == "end":
                _write(out, fmt(part))
            if args.order == "start" or args.save:
                kept.append(part)
    except CaptureError as e:
        error = e               # everything read before the fault is still reported below
    records = np.concatenate(kept) if kept else None
    if records is not None and args.order == "start":
        records = records[np.argsort(records["ts_ns"], kind="stable")]
        _write(out, fmt(records))
    out.flush()
    if args.save:
        from fastpath.flow import CONN_DTYPE
        np.save(args.save, records if records is not None else np.empty(0, CONN_DTYPE))
    if args.stats:
        st = table.stats()
        print(f"flows: {st['packets']} packets, {st['inserts']} flows created, "
              f"{st['records']} records, {st['evictions']} evicted, {st['expiries']} expired, "
              f"{st['insert_failed']} refused (table full)", file=sys.stderr)
        print("verdicts: " + ", ".join(f"{k} {v}" for k, v in st["verdicts"].items()),
              file=sys.stderr)
        if st["reasons"]:
            print("reasons: " + ", ".join(f"{k} {v}" for k, v in st["reasons"].items()),
                  file=sys.stderr)
    if error is not None:
        raise CaptureError(f"{error.reason} (the connections of the {table.stats()['packets']} "
                           "packets before it are reported)", error.path, error.record,
                           error.offset)
    return 0
