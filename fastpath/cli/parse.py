"""`fastpath parse FILE -T fields -e FIELD ...`: tshark's field output, from fastpath's parser.

A drop-in for `tshark -r FILE -T fields -e ...` over the fields in fastpath.fields, printing
exactly what tshark prints for them (each packet on its own: no reassembly, as with tshark's
ip.defragment / tcp.desegment_tcp_streams preferences off)."""
import sys

import numpy as np

from fastpath.capture import open_capture
from fastpath.cli._common import Progress, quiet_broken_pipe
from fastpath.errors import CaptureError, ConfigError
from fastpath import fields as F
from fastpath.packets import iter_parse

# tshark preferences that change field values, with tshark's defaults.
CHECKSUM_PREFS = {"ip.check_checksum": False, "tcp.check_checksum": False,
                  "udp.check_checksum": False}
REASSEMBLY_PREFS = ("ip.defragment", "ipv6.defragment", "tcp.desegment_tcp_streams")


def add_arguments(p):
    p.add_argument("file", help="capture file (pcap, pcapng, gzip-compressed; '-' for stdin)")
    p.add_argument("-T", dest="format", default="fields", help="output format: fields (the default)")
    p.add_argument("-e", dest="fields", action="append", default=[], metavar="FIELD",
                   help="a field to print (repeat); see --list-fields")
    p.add_argument("-E", dest="options", action="append", default=[], metavar="OPT=VALUE",
                   help="header=y|n, separator=/t|/s|C, quote=d|s|n, aggregator=,|/s|C, "
                        "occurrence=f|l|a|N (as tshark)")
    p.add_argument("-o", dest="prefs", action="append", default=[], metavar="PREF:VALUE",
                   help="tshark preference; honoured: ip/tcp/udp.check_checksum (TRUE verifies)")
    p.add_argument("-c", dest="count", type=int, default=None, help="stop after COUNT packets")
    p.add_argument("-n", dest="no_resolve", action="store_true", help="accepted (names are never resolved)")
    p.add_argument("--save", metavar="OUT.npy", help="also save the parsed PACKET_DTYPE array")
    p.add_argument("--list-fields", action="store_true", help="list the supported fields and exit")


def _sep(value, what):
    table = {"/t": "\t", "/s": " "}
    if value in table:
        return table[value]
    if len(value) != 1:
        raise ConfigError(f"-E {what}={value}: use a single character, /t or /s")
    return value


def parse_options(options):
    out = {"header": False, "separator": "\t", "quote": "", "aggregator": ",", "occurrence": "a"}
    for opt in options:
        key, eq, value = opt.partition("=")
        if not eq:
            raise ConfigError(f"-E {opt}: expected OPTION=VALUE")
        if key == "header":
            if value not in ("y", "n"):
                raise ConfigError(f"-E header={value}: use y or n")
            out["header"] = value == "y"
        elif key == "separator":
            out["separator"] = _sep(value, key)
        elif key == "aggregator":
            out["aggregator"] = _sep(value, key)
        elif key == "quote":
            quotes = {"d": '"', "s": "'", "n": ""}
            if value not in quotes:
                raise ConfigError(f"-E quote={value}: use d, s or n")
            out["quote"] = quotes[value]
        elif key == "occurrence":
            if value not in ("f", "l", "a") and not value.isdigit():
                raise ConfigError(f"-E occurrence={value}: use f, l, a or a number")
            out["occurrence"] = value
        elif key == "bom":
            pass
        else:
            raise ConfigError(f"-E {key}: unknown option (header, separator, quote, aggregator, "
                              f"occurrence)")
    return out


def parse_prefs(prefs):
    checks = dict(CHECKSUM_PREFS)
    for pref in prefs:
        name, colon, value = pref.partition(":")
        if not colon:
            raise ConfigError(f"-o {pref}: expected PREFERENCE:VALUE")
        truth = value.strip().upper() in ("TRUE", "1", "YES")
        if name in checks:
            checks[name] = truth
        elif name in REASSEMBLY_PREFS:
            if truth:
                raise ConfigError(f"-o {pref}: fastpath parse shows each packet on its own and "
                                  f"does not reassemble; use {name}:FALSE")
        else:
            raise ConfigError(f"-o {name}: preference not supported (supported: "
                              f"{', '.join(sorted(CHECKSUM_PREFS) + list(REASSEMBLY_PREFS))})")
    return checks


def run(args):
    if args.list_fields:
        print("\n".join(F.known_fields()))
        return 0
    if args.format != "fields":
        raise ConfigError(f"-T {args.format}: only -T fields is supported")
    if not args.fields:
        raise ConfigError("give at least one -e FIELD (see --list-fields)")
    unknown = [f for f in args.fields if f not in F.FIELDS and f not in F.FRAME_FIELDS]
    if unknown:
        raise ConfigError(f"unknown field(s) {', '.join(unknown)}; supported: "
                          f"{', '.join(F.known_fields())}")
    opts = parse_options(args.options)
    checks = parse_prefs(args.prefs)
    if args.count is not None and args.count < 0:
        raise ConfigError("-c must not be negative")

    out = sys.stdout
    q, sep = opts["quote"], opts["separator"]
    if opts["header"]:
        out.write(sep.join(args.fields) + "\n")
    saved = []
    reader = open_capture(args.file)
    progress = Progress(reader.size, "parse")
    done = 0
    try:
        with reader:
            for chunk in iter_parse(reader, verify_checksums=True):
                recs = chunk.records
                if args.count is not None and done + len(recs) > args.count:
                    recs = recs[:args.count - done]
                levels = F.build_levels(chunk.buffer, recs, chunk.base, True)
                cols = F.extract(args.fields, levels, chunk.first_record, opts["aggregator"],
                                 opts["occurrence"], checks)
                if q:
                    cols = [np.where(c != "", q + c + q, c) for c in cols]
                lines = [sep.join(row) for row in zip(*cols)]
                if lines:
                    out.write("\n".join(lines) + "\n")
                if args.save:
                    saved.append(recs.copy())
                done += len(recs)
                progress.update(reader.position, done)
                if args.count is not None and done >= args.count:
                    break
    except CaptureError as e:
        progress.finish()
        out.flush()
        print(f"fastpath parse: {e} (the {done} packets before it were printed)", file=sys.stderr)
        _save(args.save, saved)
        return 1
    except BrokenPipeError:
        quiet_broken_pipe()
        return 0
    progress.finish()
    _save(args.save, saved)
    return 0


def _save(path, parts):
    if path:
        from fastpath.wire.record import PACKET_DTYPE
        np.save(path, np.concatenate(parts) if parts else np.empty(0, PACKET_DTYPE))
