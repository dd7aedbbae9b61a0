"""The generated TCP is valid as a stateful middlebox sees it: netfilter-style window tracking
(fastpath.flow) finds no packet out of window. (A sender that ignored the receiver's
advertised window once made ~1% of the benchmark capture invalid.)"""
from fastpath import synth
from fastpath.flow import FlowTable
from fastpath.packets import iter_parse


def test_no_packet_is_invalid_to_the_connection_tracker(tmp_path):
    cap = tmp_path / "mixed.pcap"
    synth.write_capture(cap, packets=60000, seed=3)
    table = FlowTable(1 << 16)
    for chunk in iter_parse(cap, verify_checksums=True):
        table.track(chunk.records)
    table.flush()
    verdicts = table.stats()["verdicts"]
    assert verdicts["accept"] > 50000
    assert verdicts["invalid"] == 0, table.stats()["reasons"]
