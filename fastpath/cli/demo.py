"""`fastpath demo`: the built-in default job.

Generates the deterministic mixed-traffic capture (fastpath.synth), then analyses it the way a
user would: a summary of what is in it, a few packets as tshark fields, and the connections as
Zeek-like records -- timing each step."""
import os
import sys
import tempfile
import time
from collections import Counter

import numpy as np

DEFAULT_PACKETS = 200_000
FIELDS = ["frame.number", "ip.src", "ip.dst", "ipv6.src", "tcp.srcport", "tcp.dstport",
          "tcp.flags", "udp.dstport", "icmp.type", "tcp.checksum.status"]


def add_arguments(p):
    p.add_argument("--packets", type=int, default=DEFAULT_PACKETS,
                   help=f"packets to generate (default {DEFAULT_PACKETS:,})")
    p.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    p.add_argument("--dir", default=None,
                   help="where to keep the generated capture (default: a cache directory)")


def _cache_dir(arg):
    if arg:
        os.makedirs(arg, exist_ok=True)
        return arg
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "fastpath")
    try:
        os.makedirs(path, exist_ok=True)
        return path
    except OSError:
        return tempfile.gettempdir()


def run(args):
    from fastpath.errors import ConfigError
    from fastpath import synth
    from fastpath.summary import summarize
    from fastpath.cli.summary import report
    from fastpath import fields as F
    from fastpath.packets import iter_parse

    if args.packets < 1:
        raise ConfigError("--packets must be at least 1")
    out = sys.stdout
    path = os.path.join(_cache_dir(args.dir),
                        f"demo-v{synth.GENERATOR_VERSION}-s{args.seed}-n{args.packets}.pcap")
    print("== 1. a capture to work on", file=out)
    if os.path.exists(path):
        print(f"reusing {path} (deterministic: same seed and count, same bytes)", file=out)
    else:
        t0 = time.perf_counter()
        synth.write_capture(path, packets=args.packets, seed=args.seed)
        print(f"generated {args.packets:,} packets of mixed traffic in "
              f"{time.perf_counter() - t0:.1f} s -> {path}", file=out)

    print("\n== 2. fastpath summary", file=out)
    s = summarize(path)
    report(s, 5, out)

    print("\n== 3. fastpath parse -T fields (the first packet of each IP version and protocol)",
          file=out)
    print("\t".join(FIELDS), file=out)
    for chunk in iter_parse(path, chunk_packets=4096, verify_checksums=True):
        r = chunk.records
        kinds = r["ip_version"].astype(np.int64) * 256 + r["ip_proto"]
        _, first = np.unique(kinds[r["ip_version"] != 0], return_index=True)
        rows = np.sort(np.flatnonzero(r["ip_version"] != 0)[first])
        levels = F.build_levels(chunk.buffer, r, chunk.base, True)
        cols = F.extract(FIELDS, levels, chunk.first_record)
        for i in rows:
            print("\t".join(c[i] for c in cols), file=out)
        break

    print("\n== 4. fastpath flows (Zeek-like connection records)", file=out)
    try:
        from fastpath.flow import CONN_STATE_NAMES, flows_from_capture
    except ImportError as e:
        print(f"(flow tracking unavailable in this build: {e})", file=out)
        return 0
    t0 = time.perf_counter()
    conns = flows_from_capture(path, verify_checksums=True)
    dt = time.perf_counter() - t0
    print(f"{len(conns):,} connections from {s.packets:,} packets in {dt:.2f} s "
          f"({s.packets / dt / 1e6:.2f} Mpps end to end)", file=out)
    states = Counter(CONN_STATE_NAMES[int(v)] for v in conns["conn_state"])
    print("conn_state: " + ", ".join(f"{k} {v:,}" for k, v in states.most_common()), file=out)
    from fastpath.flow import iter_dicts
    total = conns["orig_bytes"].astype(np.int64) + conns["resp_bytes"].astype(np.int64)
    print("largest connections:", file=out)
    order = np.argsort(-total, kind="stable")[:5]
    for d in iter_dicts(conns[order]):
        print(f"  {d['id.orig_h']}:{d['id.orig_p']} -> {d['id.resp_h']}:{d['id.resp_p']} "
              f"{d['proto']} {d['conn_state']} {d['history']} "
              f"{d['orig_bytes']:,}/{d['resp_bytes']:,} bytes", file=out)
    print("\nnext: `fastpath parse FILE -T fields -e ...`, `fastpath summary FILE`, "
          "`fastpath flows FILE`, `fastpath doctor`", file=out)
    return 0
