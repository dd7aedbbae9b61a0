"""Run fastpath over the traces of Zeek's baselines and compare conn_state and history.

Used by test_zeek_baselines.py; ``python tests/flow/flow_zeek.py`` prints every difference
(for reviewing the allowlist in zeek_differences.json).
"""
import ipaddress
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "zeek_baselines.json"
ALLOWLIST = HERE / "zeek_differences.json"
COMPARED = ("conn_state", "history", "orientation")
SUMMARY = []            # filled by the test, printed in the session summary (conftest.py)


def _norm_addr(a):
    return str(ipaddress.ip_address(a))


def read_zeek_log(path, columns=None):
    """Rows of a Zeek log (full TSV with #fields, zeek-cut -m output, or headerless cut)."""
    rows, fields = [], columns
    for line in Path(path).read_text().splitlines():
        if not line or line.startswith("###"):
            continue
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
            continue
        if line.startswith("#"):
            continue
        cells = line.split("\t")
        if fields is None:
            fields = cells          # zeek-cut -m: the first line names the columns
            continue
        rows.append(dict(zip(fields, cells)))
    return rows


def _ports_for(profile, profiles):
    from fastpath.flow import ZEEK_DNS_PORTS, ZEEK_TCP_SERVER_PORTS, ZEEK_UDP_SERVER_PORTS
    if profile == "full":
        return {"tcp": set(ZEEK_TCP_SERVER_PORTS), "udp": set(ZEEK_UDP_SERVER_PORTS),
                "dns": set(ZEEK_DNS_PORTS)}
    assert profile.startswith("bare:"), profile
    out = {"tcp": set(), "udp": set(profiles["packet-protocols"]["udp"]), "dns": set()}
    for name in profile[5:].split(","):
        for proto, ports in profiles.get(name, {}).items():
            out[proto] |= set(ports)
    return out


def _filter(spec):
    if spec is None:
        return None
    if isinstance(spec, list):
        return _staged(spec)
    if spec.startswith("port "):
        port = int(spec.split()[1])
        return lambda r: (np.isin(r["ip_proto"], (6, 17)) &
                          ((r["sport"] == port) | (r["dport"] == port)))
    if spec == "vlan":
        return lambda r: r["vlan_count"] > 0
    raise ValueError(f"unknown filter {spec}")


def _staged(stages):
    """Filters replaced while reading: each stage passes ``n`` matching packets (None: all)."""
    state = {"stage": 0, "left": stages[0][1]}
    preds = [_filter(f) or (lambda r: np.ones(len(r), bool)) for f, _ in stages]

    def select(recs):
        keep = np.zeros(len(recs), bool)
        for i in range(len(recs)):
            st = state["stage"]
            if preds[st](recs[i:i + 1])[0]:
                keep[i] = True
                if state["left"] is not None:
                    state["left"] -= 1
                    if state["left"] == 0 and st + 1 < len(stages):
                        state["stage"] = st + 1
                        state["left"] = stages[st + 1][1]
        return keep
    return select


def run_fastpath(entry, captures, profiles):
    from fastpath.flow import FlowTable, flows_from_capture
    table = FlowTable(1 << 16, server_ports=_ports_for(entry["ports"], profiles),
                      zeek=entry.get("zeek"), seed=1)
    return flows_from_capture(captures / "zeek" / entry["trace"], table,
                              verify_checksums=entry["checksums"],
                              select=_filter(entry.get("filter")))


def _ours(conns):
    from fastpath.flow import CONN_STATE_NAMES, format_addr
    from fastpath.flow.records import PROTO_NAMES
    out = []
    for r in conns:
        v = int(r["ip_version"])
        out.append({
            "id.orig_h": format_addr(r["orig_addr"], v), "id.orig_p": str(r["orig_port"]),
            "id.resp_h": format_addr(r["resp_addr"], v), "id.resp_p": str(r["resp_port"]),
            "proto": PROTO_NAMES.get(int(r["proto"]), "unknown_transport"),
            "conn_state": CONN_STATE_NAMES[r["conn_state"]],
            "history": r["history"].decode() or "-",
            **_counters(r),
        })
    return out


COUNTERS = ("duration", "orig_bytes", "resp_bytes", "missed_bytes", "orig_pkts",
            "orig_ip_bytes", "resp_pkts", "resp_ip_bytes")


def _counters(r):
    dur = int(r["last_ts_ns"]) - int(r["ts_ns"])
    productive = dur > 0
    return {
        "duration": f"{dur / 1e9:.6f}" if productive else "-",
        "orig_bytes": str(r["orig_bytes"]) if productive else "-",
        "resp_bytes": str(r["resp_bytes"]) if productive else "-",
        "missed_bytes": str(r["missed_bytes"]),
        "orig_pkts": str(r["orig_pkts"]), "orig_ip_bytes": str(r["orig_ip_bytes"]),
        "resp_pkts": str(r["resp_pkts"]), "resp_ip_bytes": str(r["resp_ip_bytes"]),
    }


def counter_agreement(zeek_rows, ours):
    """(agreeing, compared) counter cells over connections matched one to one by endpoints."""
    if not zeek_rows or "id.orig_h" not in zeek_rows[0]:
        return 0, 0
    cols = [c for c in COUNTERS if c in zeek_rows[0]]
    with_proto = "proto" in zeek_rows[0]
    og = defaultdict(list)
    for o in ours:
        og[_pair_key(o, with_proto)].append(o)
    agree = total = 0
    for z in zeek_rows:
        cands = og.get(_pair_key(z, with_proto), [])
        if len(cands) != 1 or sum(_pair_key(x, with_proto) == _pair_key(z, with_proto)
                                  for x in zeek_rows) != 1:
            continue
        for c in cols:
            total += 1
            agree += z[c] == cands[0][c]
    return agree, total


def _pair_key(row, with_proto=True):
    a = (_norm_addr(row["id.orig_h"]), int(row["id.orig_p"]))
    b = (_norm_addr(row["id.resp_h"]), int(row["id.resp_p"]))
    return (tuple(sorted((a, b))), row.get("proto") if with_proto else None)


def _values(row, fields):
    out = {}
    for f in fields:
        if f == "orientation":
            out[f] = f"{_norm_addr(row['id.orig_h'])}:{row['id.orig_p']}"
        else:
            out[f] = row.get(f, "-")
    return out


def _label(row):
    if "id.orig_h" not in row:
        return "*"
    return (f"{_norm_addr(row['id.orig_h'])}:{row['id.orig_p']} > "
            f"{_norm_addr(row['id.resp_h'])}:{row['id.resp_p']}"
            + (f"/{row['proto']}" if "proto" in row else ""))


def compare_log(entry, zeek_rows, ours):
    """(pairs, differences): pairs counts connections; each difference is a dict."""
    have_ids = zeek_rows and "id.orig_h" in zeek_rows[0]
    fields = [f for f in ("conn_state", "history") if zeek_rows and f in zeek_rows[0]]
    if have_ids:
        fields.append("orientation")
    diffs, pairs = [], 0
    tag = {"baseline": entry["baseline"], "log": entry["log"]}
    if have_ids:
        zg, og = defaultdict(list), defaultdict(list)
        with_proto = "proto" in zeek_rows[0]
        for z in zeek_rows:
            zg[_pair_key(z, with_proto)].append(z)
        for o in ours:
            og[_pair_key(o, with_proto)].append(o)
        for k in sorted(set(zg) | set(og), key=str):
            zs, os_ = list(zg.get(k, [])), list(og.get(k, []))
            # Equal pairs first, then the rest in log order.
            for z in list(zs):
                for o in os_:
                    if _values(z, fields) == _values(o, fields):
                        zs.remove(z)
                        os_.remove(o)
                        pairs += 1
                        break
            while zs and os_:
                z, o = zs.pop(0), os_.pop(0)
                pairs += 1
                diffs.append({**tag, "connection": _label(z), "zeek": _values(z, fields),
                              "fastpath": _values(o, fields)})
            for z in zs:
                pairs += 1
                diffs.append({**tag, "connection": _label(z), "zeek": _values(z, fields),
                              "fastpath": None})
            for o in os_:
                pairs += 1
                diffs.append({**tag, "connection": _label(o), "zeek": None,
                              "fastpath": _values(o, fields)})
    else:
        # No endpoints in the log: compare the multiset of values.
        zv = [tuple(sorted(_values(z, fields).items())) for z in zeek_rows]
        ov = [tuple(sorted(_values(o, fields).items())) for o in ours]
        for v in list(zv):
            if v in ov:
                zv.remove(v)
                ov.remove(v)
                pairs += 1
        for i in range(max(len(zv), len(ov))):
            pairs += 1
            diffs.append({**tag, "connection": "*",
                          "zeek": dict(zv[i]) if i < len(zv) else None,
                          "fastpath": dict(ov[i]) if i < len(ov) else None})
    return pairs, diffs


def compare_all(captures):
    cfg = json.loads(CONFIG.read_text())
    profiles = cfg["port_profiles"]
    results = []
    for entry in cfg["logs"]:
        if "skip" in entry:
            results.append({"entry": entry, "skipped": entry["skip"]})
            continue
        path = captures / "zeek-baselines" / entry["baseline"] / entry["log"]
        zeek_rows = read_zeek_log(path, entry.get("columns"))
        ours = _ours(run_fastpath(entry, captures, profiles))
        pairs, diffs = compare_log(entry, zeek_rows, ours)
        cagree, ctotal = counter_agreement(zeek_rows, ours)
        results.append({"entry": entry, "pairs": pairs, "diffs": diffs, "zeek": len(zeek_rows),
                        "fastpath": len(ours), "counters": (cagree, ctotal)})
    return results


def diff_key(d):
    return json.dumps({k: d[k] for k in ("baseline", "log", "connection", "zeek", "fastpath")},
                      sort_keys=True)


def summary(results):
    pairs = sum(r.get("pairs", 0) for r in results)
    diffs = sum(len(r.get("diffs", ())) for r in results)
    return pairs, diffs


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    from support import CAPTURES
    res = compare_all(CAPTURES)
    for r in res:
        e = r["entry"]
        if "skipped" in r:
            print(f"SKIP {e['baseline']}/{e['log']}: {r['skipped'][:80]}")
            continue
        print(f"{e['baseline']}/{e['log']}: {r['pairs'] - len(r['diffs'])}/{r['pairs']} agree "
              f"(zeek {r['zeek']}, fastpath {r['fastpath']}); counters {r['counters'][0]}/"
              f"{r['counters'][1]}")
        for d in r["diffs"]:
            print(f"    {d['connection']}: zeek {d['zeek']}  fastpath {d['fastpath']}")
    p, d = summary(res)
    print(f"agreement: {p - d}/{p} = {(p - d) / p:.1%}")
