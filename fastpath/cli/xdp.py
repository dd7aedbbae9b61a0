"""``fastpath xdp IFACE``: attach the steering program to an interface with the given rules, take
the redirected traffic on AF_XDP sockets (counting it, or writing it to a capture), print the
per-rule counters, and detach on exit (Ctrl-C, SIGTERM, --duration).

    fastpath xdp eth0 --rule 'redirect udp dport 9999' --rule 'drop dst 192.0.2.0/24' \\
        --capture steered.pcapng --duration 60
"""
from __future__ import annotations

import json
import time

from fastpath.errors import ConfigError


def add_arguments(p):
    p.add_argument("iface", help="interface to attach to")
    p.add_argument("--rule", action="append", default=[], metavar="RULE",
                   help="a steering rule, e.g. 'redirect udp dport 9999', 'drop dst 10.0.0.0/8', "
                        "'pass tcp 10.0.0.1:80 -> 10.0.0.2:5000' (repeatable)")
    p.add_argument("--rules", metavar="FILE", help="rules, one per line ('#' comments)")
    p.add_argument("--default", default="pass", choices=("pass", "drop", "redirect"),
                   help="action for IP packets no rule matches (default: pass)")
    p.add_argument("--other", default="pass", choices=("pass", "drop", "redirect"),
                   help="action for non-IP or malformed frames (default: pass)")
    p.add_argument("--mode", default="auto", choices=("auto", "native", "generic"),
                   help="XDP mode; auto tries native, then generic")
    p.add_argument("--via", default="link", choices=("link", "netlink"),
                   help="attach through a BPF link (detached by the kernel if this process "
                        "dies; the default) or netlink (survives it: 'fastpath doctor "
                        "--cleanup' removes it)")
    p.add_argument("--queue", type=int, action="append", metavar="Q",
                   help="receive queue(s) to open AF_XDP sockets on (default: 0)")
    p.add_argument("--capture", metavar="PATH",
                   help="write the redirected frames to this pcapng file")
    p.add_argument("--netns", metavar="NAME", help="run inside this network namespace")
    p.add_argument("--interval", type=float, default=1.0,
                   help="seconds between counter reports (0: only at the end)")
    p.add_argument("--duration", type=float, default=None,
                   help="stop after this many seconds (default: until interrupted)")
    p.add_argument("--json", action="store_true", help="report as JSON lines")


def _rules(args):
    from fastpath.xdp import parse_rule, parse_rules
    rules = []
    if args.rules:
        try:
            with open(args.rules) as f:
                rules += parse_rules(f.read())
        except OSError as e:
            raise ConfigError(f"cannot read the rules file {args.rules}: {e.strerror}") from None
    rules += [parse_rule(r) for r in args.rule]
    return rules


def _report(st, received, args, final=False):
    s = st.stats()
    rules = {i.id: str(i.rule) for i in st.rules}
    rows = []
    for rid, per in s.items():
        if rid == "totals":
            continue
        name = {0: "(default)", 1: "(non-IP/malformed)"}.get(rid, rules.get(rid, f"#{rid}"))
        if any(p for p, _ in per.values()):
            rows.append((rid, name, {k: v[0] for k, v in per.items() if v[0]}))
    if args.json:
        print(json.dumps({"final": final, "received": received,
                          "rules": [{"id": r, "rule": n, "packets": c} for r, n, c in rows],
                          "totals": {k: v[0] for k, v in s["totals"].items()}}), flush=True)
        return
    stamp = time.strftime("%H:%M:%S")
    print(f"{stamp} {'final' if final else ''} received on AF_XDP: {received}", flush=True)
    for rid, name, counts in rows:
        print(f"    #{rid:<4} {name:<44} " + " ".join(f"{k}={v}" for k, v in counts.items()),
              flush=True)


def run(args) -> int:
    from fastpath.xdp import Steering, install_signal_handlers
    rules = _rules(args)
    redirecting = any(r.action == "redirect" for r in rules) or "redirect" in (args.default,
                                                                                args.other)
    queues = args.queue or [0]
    if args.capture and not redirecting:
        raise ConfigError("--capture records redirected frames, but no rule (nor --default / "
                          "--other) redirects")
    install_signal_handlers()
    import contextlib
    from fastpath.io.netns import entered
    ns = entered(args.netns) if args.netns else contextlib.nullcontext()
    devices = []
    received = 0
    with Steering(default=args.default, other=args.other, rules=rules) as st:
        try:
            with ns:
                att = st.attach(args.iface, mode=args.mode, via=args.via)
                if redirecting:
                    from fastpath.io import AfXdpDevice, PcapRecorder
                    for q in queues:
                        dev = AfXdpDevice(args.iface, q)
                        st.bind(dev)
                        devices.append(PcapRecorder(dev, f"{args.capture}.q{q}" if
                                                    args.capture and len(queues) > 1 else
                                                    args.capture)
                                       if args.capture else dev)
            if not args.json:
                print(f"fastpath xdp: {st.function} on {args.iface} ({att.mode} mode, via "
                      f"{att.via}), {len(rules)} rules, default {args.default}"
                      + (f", AF_XDP on queue(s) {', '.join(map(str, queues))}" if devices else ""),
                      flush=True)
            start = time.monotonic()
            next_report = start + args.interval if args.interval > 0 else float("inf")
            while args.duration is None or time.monotonic() - start < args.duration:
                if devices:
                    for dev in devices:
                        with dev.recv(timeout=0.05 if len(devices) > 1 else 0.1) as b:
                            received += len(b)
                else:
                    time.sleep(0.1)
                if time.monotonic() >= next_report:
                    _report(st, received, args)
                    next_report += args.interval
            _report(st, received, args, final=True)
        except KeyboardInterrupt:
            _report(st, received, args, final=True)
            return 130
        except SystemExit as e:            # SIGTERM / SIGHUP (install_signal_handlers)
            _report(st, received, args, final=True)
            return e.code if isinstance(e.code, int) else 1
        finally:
            for dev in devices:
                dev.close()
    return 0
