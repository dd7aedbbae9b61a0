"""`fastpath summary FILE`: counts by link type, protocol, error and checksum; top talkers."""
import json
import sys

from fastpath.capture import open_capture
from fastpath.cli._common import Progress
from fastpath.summary import summarize


def add_arguments(p):
    p.add_argument("file", help="capture file (pcap, pcapng, gzip-compressed; '-' for stdin)")
    p.add_argument("--top", type=int, default=10, help="how many top talkers (default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a report")


def _pct(n, total):
    return f"{100.0 * n / total:5.1f}%" if total else "    -"


def _table(title, counter, total, out):
    if not counter:
        return
    print(f"{title}:", file=out)
    width = max(len(k) for k in counter)
    for name, n in counter.most_common():
        print(f"  {name:<{width}}  {n:>12,}  {_pct(n, total)}", file=out)


def _bytes(n):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000.0


def report(s, top, out):
    print(f"capture      {s.path}", file=out)
    rate = s.packets / s.parse_seconds / 1e6 if s.parse_seconds > 0 else 0.0
    print(f"packets      {s.packets:,}   on the wire {_bytes(s.bytes)}   captured "
          f"{_bytes(s.captured_bytes)}   span {s.duration_s:,.3f} s", file=out)
    print(f"parsed in    {s.parse_seconds:.3f} s ({rate:.2f} Mpps, checksums verified)", file=out)
    if s.capture_error is not None:
        print(f"STOPPED      {s.capture_error}", file=out)
    _table("link types", s.linktypes, s.packets, out)
    _table("network layer", s.network, s.packets, out)
    _table("transport (IP packets)", s.transport, s.network["IPv4"] + s.network["IPv6"], out)
    extra = {"VLAN tagged": s.vlan_tagged, "IP fragments": s.fragments}
    extra.update({f"tunnel/quote: {k}": v for k, v in s.tunnelled.items()})
    _table("also", type(s.errors)({k: v for k, v in extra.items() if v}), s.packets, out)
    _table("parse result", s.errors, s.packets, out)
    _table("IPv4 header checksums", s.ip_checksum, sum(s.ip_checksum.values()), out)
    _table("TCP/UDP/ICMP checksums", s.l4_checksum, sum(s.l4_checksum.values()), out)
    talkers = s.top_talkers(top)
    if talkers:
        note = " (approximate: more addresses than the table keeps)" if s.talkers_approximate else ""
        print(f"top talkers by packets (either direction){note}:", file=out)
        width = max(len(a) for a, _, _ in talkers)
        for addr, p, b in talkers:
            print(f"  {addr:<{width}}  {p:>12,} pkts  {_bytes(b):>12}", file=out)


def run(args):
    if args.top < 0:
        from fastpath.errors import ConfigError
        raise ConfigError("--top must not be negative")
    reader = open_capture(args.file)
    progress = Progress(reader.size, "summary")
    with reader:
        s = summarize(reader, progress=lambda n: progress.update(reader.position, n))
    progress.finish()
    if args.json:
        json.dump(s.as_dict(args.top), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        report(s, args.top, sys.stdout)
    if s.capture_error is not None:
        print(f"fastpath summary: {s.capture_error} (counts cover the records before it)",
              file=sys.stderr)
        return 1
    return 0
