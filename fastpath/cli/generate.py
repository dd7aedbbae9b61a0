"""``fastpath generate OUT [--packets N] [--seed S] [--format pcap|pcapng]``

Writes the deterministic mixed-traffic capture of ``fastpath.synth``: the same seed and count
give the same bytes on every run. Used by the benchmarks and the demo.
"""
import os
import sys
import time

from fastpath.cli._common import quantity_arg
from fastpath.errors import ConfigError

_ORDER = ("eth", "vlan", "vlan2", "arp", "ip", "ipv6", "tcp", "udp", "icmp", "icmpv6", "igmp",
          "ip.frag", "ipv6.fraghdr", "ipv6.hopopts")
_LABELS = {"vlan": "802.1Q/ad tagged", "vlan2": "QinQ (2 tags)", "ip": "IPv4", "ipv6": "IPv6",
           "ip.frag": "IPv4 fragments", "ipv6.fraghdr": "IPv6 fragment header",
           "ipv6.hopopts": "IPv6 hop-by-hop", "eth": "Ethernet", "arp": "ARP", "tcp": "TCP",
           "udp": "UDP", "icmp": "ICMP", "icmpv6": "ICMPv6", "igmp": "IGMP"}


def _seed(text):
    try:
        value = int(text, 0)
    except ValueError:
        import argparse
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer seed")
    if not 0 <= value < 1 << 63:
        import argparse
        raise argparse.ArgumentTypeError(f"the seed must be in [0, 2**63) (got {text})")
    return value


def add_arguments(p):
    from fastpath import synth
    p.add_argument("out", metavar="OUT", help="capture file to write (replaced if it exists)")
    p.add_argument("--packets", "-n", type=quantity_arg("packet count"), default=synth.DEFAULT_PACKETS, metavar="N",
                   help=f"number of packets (default {synth.DEFAULT_PACKETS:,}; accepts 250k, 1M)")
    p.add_argument("--seed", "-s", type=_seed, default=synth.DEFAULT_SEED, metavar="S",
                   help=f"random seed: same seed and count, same bytes (default {synth.DEFAULT_SEED})")
    p.add_argument("--format", "-F", choices=synth.FORMATS, default=None,
                   help="pcap (microseconds) or pcapng; default: pcapng if OUT ends in .pcapng, else pcap")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing on success")


class _Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, total):
        self.total = total
        self.enabled = total > 0 and sys.stderr.isatty()
        self.start = time.monotonic()
        self.last = 0.0

    def __call__(self, done):
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.2 and done < self.total:
            return
        self.last = now
        frac = done / self.total
        bar = "#" * int(frac * 30)
        rate = done / max(now - self.start, 1e-9)
        sys.stderr.write(f"\r  [{bar:<30}] {done:>12,}/{self.total:,} packets  {rate / 1000:,.0f} kpps")
        sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\n")


def run(args):
    from fastpath import synth
    fmt = args.format or ("pcapng" if args.out.lower().endswith((".pcapng", ".ntar")) else "pcap")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise ConfigError(f"cannot write {args.out}: the directory {out_dir} does not exist "
                          f"(create it first)")
    if os.path.isdir(args.out):
        raise ConfigError(f"cannot write {args.out}: it is a directory (give a file name)")
    progress = _Progress(args.packets) if not args.quiet else None
    t0 = time.monotonic()
    try:
        stats = synth.write_capture(args.out, args.packets, args.seed, format=fmt, progress=progress)
    except OSError as e:
        if progress:
            progress.close()
        print(f"fastpath generate: cannot write {args.out}: {e.strerror or e} "
              f"(check the path, permissions and free space)", file=sys.stderr)
        return 1
    if progress:
        progress.close()
    elapsed = time.monotonic() - t0
    if not args.quiet:
        print(f"wrote {args.out}: {stats.packets:,} packets, {stats.bytes:,} bytes of frames, "
              f"{stats.duration_s():.1f} s of traffic ({fmt}, seed {args.seed}, "
              f"generator v{synth.GENERATOR_VERSION}) in {elapsed:.1f} s")
        if stats.packets:
            for key in _ORDER:
                n = stats.protocols.get(key, 0)
                if n:
                    print(f"  {_LABELS.get(key, key):<22} {n:>12,}  {100.0 * n / stats.packets:6.2f}%")
    return 0
