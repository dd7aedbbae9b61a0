"""Field-by-field agreement with tshark: every capture in ../shared/captures that has a
tshark oracle (*.tshark.csv, made with the options below) is parsed by fastpath and rendered
as tshark would render those fields. Differences must be listed, with a reason, in
tshark_allowlist.json; the agreement rate is printed."""
import collections
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fastpath import fields as F
from fastpath.errors import CaptureError
from fastpath.packets import iter_parse

from support import CAPTURES, PROJECT, captures_dir

ALLOWLIST = Path(__file__).with_name("tshark_allowlist.json")
ORACLE_OPTIONS = ["-T", "fields", "-E", "header=y", "-E", "separator=,", "-E", "quote=d",
                  "-E", "aggregator=;", "-E", "occurrence=a",
                  "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
                  "-o", "ip.check_checksum:TRUE", "-o", "ip.defragment:FALSE",
                  "-o", "ipv6.defragment:FALSE", "-o", "tcp.desegment_tcp_streams:FALSE"]
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz", ".cap")


def oracle_pairs():
    if not CAPTURES.is_dir():
        return []
    pairs = []
    for oracle in sorted(CAPTURES.rglob("*.tshark.csv")):
        stem = str(oracle)[:-len(".tshark.csv")]
        for suffix in CAPTURE_SUFFIXES:
            if os.path.exists(stem + suffix):
                pairs.append((Path(stem + suffix), oracle))
                break
    return pairs


def render(capture, names):
    """fastpath's values for ``names``, one list per field, for every packet it could read."""
    cols = [[] for _ in names]
    try:
        for chunk in iter_parse(capture, verify_checksums=True):
            levels = F.build_levels(chunk.buffer, chunk.records, chunk.base, True)
            for c, part in zip(cols, F.extract(names, levels, chunk.first_record, ";")):
                c.extend(part)
    except CaptureError:
        pass        # a file cut short: tshark also stops at the last whole record
    return cols


@pytest.fixture(scope="module")
def comparison():
    captures_dir()
    stats = collections.Counter()
    per_field = collections.defaultdict(lambda: [0, 0])
    differences = {}             # (capture, frame, field) -> (tshark, fastpath)
    count_mismatch = []
    for capture, oracle in oracle_pairs():
        with open(oracle, newline="") as fh:
            rows = list(csv.reader(fh))
        if not rows:
            continue
        header, rows = rows[0], rows[1:]
        names = [h for h in header if h != "frame.number"]
        cols = render(capture, names)
        rel = capture.relative_to(CAPTURES).as_posix()
        if len(cols[0]) != len(rows):
            count_mismatch.append((rel, len(rows), len(cols[0])))
        stats["captures"] += 1
        stats["packets"] += len(rows)
        for j, name in enumerate(names):
            k = header.index(name)
            for i in range(min(len(rows), len(cols[j]))):
                per_field[name][1] += 1
                if rows[i][k] != cols[j][i]:
                    per_field[name][0] += 1
                    differences[(rel, i + 1, name)] = (rows[i][k], cols[j][i])
    return stats, per_field, differences, count_mismatch


def load_allowlist(path=ALLOWLIST):
    """{(capture, frame, field): reason}, and the (capture, frame) pairs it names."""
    allowed = {}
    frames = set()
    for e in json.loads(path.read_text())["entries"]:
        assert e["reason"].strip(), f"allowlist entry for {e['capture']} needs a reason"
        for frame in e["frames"]:
            frames.add((e["capture"], frame))
            for field in e["fields"]:
                allowed[(e["capture"], frame, field)] = e["reason"]
    return allowed, frames


def test_packet_counts_match_tshark(comparison):
    stats, _, _, count_mismatch = comparison
    assert stats["captures"] > 600, "expected the whole oracle set"
    assert count_mismatch == [], f"packet counts differ from tshark: {count_mismatch[:10]}"


def test_field_agreement_with_tshark(comparison, capsys):
    stats, per_field, differences, _ = comparison
    allowed, allowed_frames = load_allowlist()
    total = sum(t for _, t in per_field.values())
    bad = sum(b for b, _ in per_field.values())
    with capsys.disabled():
        print(f"\ntshark field agreement: {stats['captures']} captures, {stats['packets']} packets, "
              f"{total - bad}/{total} values equal ({100.0 * (total - bad) / total:.4f}%); "
              f"{len(differences)} differences, all reviewed in {ALLOWLIST.name}")
        for name, (b, t) in sorted(per_field.items()):
            if b:
                print(f"  {name:28s} {t - b}/{t} ({100.0 * (t - b) / t:.3f}%)")
    unexplained = {k: v for k, v in differences.items() if k not in allowed}
    assert not unexplained, "differences from tshark not in the allowlist:\n" + "\n".join(
        f"  {c} frame {f} {name}: tshark {t!r} fastpath {o!r}"
        for (c, f, name), (t, o) in sorted(unexplained.items())[:40])
    differing_frames = {(c, f) for (c, f, _) in differences}
    stale = sorted(allowed_frames - differing_frames)
    assert not stale, f"allowlisted frames that no longer differ (remove them): {stale[:20]}"


@pytest.mark.parametrize("name", ["zeek/wikipedia.pcap", "zeek/tunnels/Teredo.pcap",
                                  "zeek/icmp/icmp6-destunreach-ip6ext-udp.pcap",
                                  "zeek/q-in-q.pcap", "zeek/linux_dlt_sll2.pcap"])
def test_cli_output_is_byte_identical_to_tshark(name):
    capture = captures_dir() / name
    oracle = Path(str(capture)[:-len(".pcap")] + ".tshark.csv")
    header = oracle.read_text().splitlines()[0].split(",")
    args = [sys.executable, "-m", "fastpath", "parse", str(capture)] + ORACLE_OPTIONS
    for field in header:
        args += ["-e", field]
    out = subprocess.run(args, capture_output=True, cwd=PROJECT, check=True).stdout
    assert out == oracle.read_bytes()


# ---------------------------------------------------------------- the extended field set

EXT_ALLOWLIST = Path(__file__).with_name("tshark_ext_allowlist.json")
# make_oracles.sh's EXT list, minus what fastpath does not render (frame.protocols, eth/vlan
# extras it has no model for, IPv6 extension-header fields, SACK edges, expert info).
EXT_FIELDS = ["frame.len", "frame.cap_len", "eth.src", "eth.dst", "eth.type", "vlan.id",
              "sll.etype", "sll.hatype", "null.family", "ip.version", "ip.hdr_len", "ip.len",
              "ip.id", "ip.flags.df", "ip.flags.mf", "ip.frag_offset", "ip.ttl", "ip.proto",
              "ip.checksum", "ip.checksum.status", "ip.src", "ip.dst", "ipv6.plen", "ipv6.nxt",
              "ipv6.hlim", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport", "tcp.hdr_len",
              "tcp.len", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.window_size_value",
              "tcp.urgent_pointer", "tcp.checksum", "tcp.checksum.status", "tcp.option_kind",
              "tcp.options.mss_val", "tcp.options.wscale.shift", "tcp.options.timestamp.tsval",
              "tcp.options.timestamp.tsecr", "udp.srcport", "udp.dstport", "udp.length",
              "udp.checksum", "udp.checksum.status", "icmp.type", "icmp.code",
              "icmp.checksum.status", "icmpv6.type", "icmpv6.code", "icmpv6.checksum.status",
              "arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac",
              "arp.dst.proto_ipv4"]


@pytest.fixture(scope="module")
def ext_comparison():
    captures_dir()
    per_field = collections.defaultdict(lambda: [0, 0])
    differences = {}
    packets = 0
    for oracle in sorted(CAPTURES.rglob("*.tshark_ext.json")):
        stem = str(oracle)[:-len(".tshark_ext.json")]
        capture = next((Path(stem + s) for s in CAPTURE_SUFFIXES if os.path.exists(stem + s)), None)
        if capture is None:
            continue
        try:
            dissected = json.loads(oracle.read_text())
        except ValueError:
            continue
        if not dissected:
            continue
        cols = render(capture, EXT_FIELDS)
        rel = capture.relative_to(CAPTURES).as_posix()
        for pkt in dissected:
            layers = pkt["_source"]["layers"]
            i = int(layers["frame.number"][0]) - 1
            if i >= len(cols[0]):
                continue
            packets += 1
            for j, name in enumerate(EXT_FIELDS):
                expected = ";".join(layers.get(name, []))
                per_field[name][1] += 1
                if cols[j][i] != expected:
                    per_field[name][0] += 1
                    differences[(rel, i + 1, name)] = (expected, cols[j][i])
    return packets, per_field, differences


def test_extended_field_agreement_with_tshark(ext_comparison, capsys):
    packets, per_field, differences = ext_comparison
    allowed, allowed_frames = load_allowlist(EXT_ALLOWLIST)
    total = sum(t for _, t in per_field.values())
    bad = sum(b for b, _ in per_field.values())
    assert packets > 10000
    with capsys.disabled():
        print(f"\ntshark extended fields ({len(EXT_FIELDS)}): {packets} packets, "
              f"{total - bad}/{total} values equal ({100.0 * (total - bad) / total:.4f}%); "
              f"{len(differences)} differences, all reviewed in {EXT_ALLOWLIST.name}")
    unexplained = {k: v for k, v in differences.items() if k not in allowed}
    assert not unexplained, "differences from tshark not in the allowlist:\n" + "\n".join(
        f"  {c} frame {f} {name}: tshark {t!r} fastpath {o!r}"
        for (c, f, name), (t, o) in sorted(unexplained.items())[:40])
    stale = sorted(allowed_frames - {(c, f) for (c, f, _) in differences})
    assert not stale, f"allowlisted frames that no longer differ (remove them): {stale[:20]}"
