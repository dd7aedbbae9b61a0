"""fastpath's connection records against Zeek's own baseline conn.logs.

For every baseline in ../shared/captures/zeek-baselines with a conn.log (INDEX.json), the trace
is run through fastpath configured like the Zeek run that wrote the log (zeek_baselines.json:
checksum validation, likely server ports, capture filter), and conn_state, history and the
originator are compared per connection. The agreement rate is printed in the session summary
and must stay at or above the floor reached; every difference must be a reviewed one
(zeek_differences.json, with its reason), and every reviewed one must still occur.
"""
import json

import pytest

from support import captures_dir
import flow_zeek
from flow_zeek import ALLOWLIST, CONFIG, compare_all, diff_key, summary

AGREEMENT_FLOOR = 0.99      # reached: 167 of 168 connections
COUNTER_FLOOR = 0.99        # reached: every compared counter cell


@pytest.fixture(scope="module")
def results():
    return compare_all(captures_dir())


def test_every_conn_log_in_the_index_is_configured():
    caps = captures_dir()
    index = json.loads((caps / "zeek-baselines" / "INDEX.json").read_text())
    wanted = {(e["baseline"], o) for e in index for o in e["outputs"] if "conn" in o}
    cfg = json.loads(CONFIG.read_text())
    have = {(e["baseline"], e["log"]) for e in cfg["logs"]}
    assert wanted == have
    for e in cfg["logs"]:
        assert (caps / "zeek" / e["trace"]).exists(), e["trace"]
        if "skip" in e:
            assert len(e["skip"]) > 40, "a skipped log needs its reason"


def test_agreement_with_zeek(results):
    pairs, diffs = summary(results)
    rate = (pairs - diffs) / pairs
    lines = []
    for r in results:
        e = r["entry"]
        name = f"{e['baseline']}/{e['log']}"
        if "skipped" in r:
            lines.append(f"  {name}: not compared ({r['skipped'][:70]}...)")
        else:
            lines.append(f"  {name}: {r['pairs'] - len(r['diffs'])}/{r['pairs']}")
    ca = sum(r["counters"][0] for r in results if "counters" in r)
    ct = sum(r["counters"][1] for r in results if "counters" in r)
    lines.append(f"agreement: {pairs - diffs} of {pairs} connections ({rate:.1%}); "
                 f"{sum('skipped' in r for r in results)} logs not compared, with reasons")
    lines.append(f"counters (duration, bytes, missed_bytes, packets, IP bytes): {ca} of {ct} "
                 f"cells equal ({ca / ct:.1%})")
    flow_zeek.SUMMARY[:] = lines
    print("\n".join(lines))
    assert pairs >= 150, "fewer connections compared than the baselines hold"
    assert rate >= AGREEMENT_FLOOR, "\n".join(lines)
    assert ct >= 800 and ca / ct >= COUNTER_FLOOR, "\n".join(lines)


def test_differences_are_exactly_the_reviewed_ones(results):
    allowed = json.loads(ALLOWLIST.read_text())["differences"]
    for a in allowed:
        assert len(a.get("reason", "")) > 40, f"reviewed difference without a reason: {a}"
    found = {diff_key(d): d for r in results for d in r.get("diffs", ())}
    listed = {diff_key(a): a for a in allowed}
    new = [found[k] for k in found.keys() - listed.keys()]
    stale = [listed[k] for k in listed.keys() - found.keys()]
    assert not new, "differences from Zeek not reviewed in zeek_differences.json:\n" + \
        "\n".join(json.dumps(d) for d in new)
    assert not stale, "reviewed differences that no longer occur (remove them):\n" + \
        "\n".join(json.dumps(d) for d in stale)
