"""Every capture in ../shared/captures runs through the flow tracker without a crash.

Over 700 files from Zeek's and tcpdump's test suites (fuzzer-found malformed packets,
truncations, odd link types, tunnels): for each, connection records come out with sane values,
with checksum verification on and off, and with a table so small that eviction runs all the
time. A broken capture must raise CaptureError with the records of what was read.
"""
import re

import numpy as np
import pytest

from fastpath.errors import CaptureError
from fastpath.flow import CONN_DTYPE, FlowTable, flows_from_capture
from fastpath.packets import parse_capture
from support import all_capture_files, captures_dir

HISTORY = re.compile(rb"^[\^SHADFRCGTWIQshadfrcgtwiq]*$")


def check_records(recs, packets):
    assert recs.dtype == CONN_DTYPE
    assert (recs["ts_ns"] <= recs["last_ts_ns"]).all()
    assert (recs["conn_state"] < 13).all()
    assert np.isin(recs["ip_version"], (4, 6)).all()
    assert all(HISTORY.match(h) for h in recs["history"].tolist())
    assert int(recs["orig_pkts"].sum() + recs["resp_pkts"].sum()) <= packets
    tcp = recs["proto"] == 6
    assert (recs["tcp_state"][~tcp] == 0).all()


@pytest.mark.parametrize("verify, capacity", [(False, 1 << 16), (True, 1 << 16), (True, 16)])
def test_every_capture_runs_through_the_tracker(verify, capacity):
    captures_dir()
    files = all_capture_files()
    assert len(files) > 600
    failures, records, packets = [], 0, 0
    for path in files:
        table = FlowTable(capacity, seed=3)
        try:
            try:
                recs = flows_from_capture(path, table, verify_checksums=verify)
            except CaptureError as e:
                recs = e.records
            n = table.stats()["packets"]
            check_records(recs, n)
            assert len(table) == 0
            records += len(recs)
            packets += n
        except Exception as e:          # collect, so one run names every failing file
            failures.append(f"{path.relative_to(files[0].parents[2])}: {type(e).__name__}: {e}")
    assert not failures, "\n".join(failures[:20])
    assert packets > 90_000 and records > 1000


def test_flow_packets_match_the_parser():
    # Without tunnels, every parsed IP packet of a plain trace lands in exactly one record.
    path = captures_dir() / "zeek" / "wikipedia.pcap"
    parsed = parse_capture(path)
    table = FlowTable(1024, seed=1)
    recs = flows_from_capture(path, table, tunnels=False)
    ip = np.isin(parsed["ip_version"], (4, 6)).sum()
    assert int(recs["orig_pkts"].sum() + recs["resp_pkts"].sum()) == ip
    assert table.stats()["packets"] == len(parsed)
