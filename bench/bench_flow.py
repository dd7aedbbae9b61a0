"""Flow table and connection tracking (issue 4): the speed and memory targets.

* Tracking pre-parsed batches with 100k active flows: >= 10 M packets/s on one core. A batch of
  1M TCP packets (10 per flow: requests and ACKs, each flow's in order, flows interleaved in a
  shuffled order) against a table already holding the 100k established connections; every
  round advances the sequence numbers so every packet is valid new data. Measured with and
  without connection records; a plain-Python dict tracker on the same packets for scale.
* 1M concurrent flows in <= 128 MB: a child process fills a 1M-flow table with 1M established
  connections (3M handshake packets) and reports the resident memory it took.
* End to end: ``fastpath flows`` on the benchmark capture against the same job written with
  dpkt (bench/flow_dpkt.py), on the same file, in the same run.

Run: ``.venv/bin/python -m pytest bench/bench_flow.py --benchmark-only
--benchmark-columns=median,iqr,rounds -s`` (``FASTPATH_BENCH_PACKETS`` sizes the capture).
"""
import io
import json
import os
import subprocess
import sys
import time

from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))          # for flow_dpkt (the dpkt peer job)


def bench_packets():
    return int(os.environ.get("FASTPATH_BENCH_PACKETS", 1_000_000))

FLOWS = 100_000
STEPS = 10                  # packets per flow in one batch
T0 = 1_700_000_000 * 10**9
SERVER = (10 << 24) | (200 << 16) | 1

RESULTS = {}


@pytest.fixture(scope="module", autouse=True)
def flow_summary(request):
    yield
    if not RESULTS:
        return
    rep = request.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"  {k:<44} {v}" for k, v in RESULTS.items()]
    if rep is not None:
        rep.write_line("")
        rep.section("flow benchmarks (issue 4): figures from this run")
        for line in lines:
            rep.write_line(line)
    DATA.mkdir(parents=True, exist_ok=True)
    (DATA / "flow-results.json").write_text(json.dumps(RESULTS, indent=2) + "\n")


def _blank(n):
    from fastpath.wire.record import PACKET_DTYPE, CSUM_UNVERIFIED
    p = np.zeros(n, PACKET_DTYPE)
    p["linktype"] = 1
    p["l3_type"] = 0x0800
    p["ip_version"] = 4
    p["ip_proto"] = 6
    p["l3_off"] = 14
    p["l4_off"] = 34
    p["payload_off"] = 54
    p["inner_off"] = 0xFFFF
    p["csum_ip"] = CSUM_UNVERIFIED
    p["csum_l4"] = CSUM_UNVERIFIED
    p["caplen"] = p["wirelen"] = 54
    return p


def handshakes(clients, t0):
    n = len(clients)
    p = _blank(3 * n)
    p["ts_ns"] = t0 + np.arange(3 * n, dtype=np.int64) * 100
    for k, (flags, fwd) in enumerate(((0x02, True), (0x12, False), (0x10, True))):
        s = p[k * n:(k + 1) * n]
        s["ip4_src"], s["ip4_dst"] = (clients, SERVER) if fwd else (SERVER, clients)
        s["sport"], s["dport"] = (40000, 443) if fwd else (443, 40000)
        s["tcp_flags"] = flags
        s["tcp_seq"] = (1001 if k == 2 else 1000) if fwd else 50000
        s["tcp_ack"] = (0, 1001, 50001)[k]
        s["tcp_window"] = 64240 if fwd else 65535
    return p


def steady(clients, t0, rng, trains=False):
    """STEPS packets per flow: request (100 bytes) and ACK alternately. Flows come in a new
    random order every step (each packet a different flow: the worst case for caches); with
    ``trains`` each request's ACK follows it directly (pairs of packets per flow)."""
    n = len(clients)
    p = _blank(STEPS * n)
    is_req = np.zeros(STEPS * n, bool)
    order = None
    for s in range(STEPS):
        part = p[s * n:(s + 1) * n]
        if s % 2 == 0 or not trains:
            order = rng.permutation(n)
        c = clients[order]
        if s % 2 == 0:
            part["ip4_src"], part["ip4_dst"], part["sport"], part["dport"] = c, SERVER, 40000, 443
            part["tcp_flags"] = 0x18
            part["tcp_seq"] = 1001 + (s // 2) * 100
            part["tcp_ack"] = 50001
            part["payload_len"] = 100
            part["caplen"] = part["wirelen"] = 154
            part["tcp_window"] = 64240
            is_req[s * n:(s + 1) * n] = True
        else:
            part["ip4_src"], part["ip4_dst"], part["sport"], part["dport"] = SERVER, c, 443, 40000
            part["tcp_flags"] = 0x10
            part["tcp_seq"] = 50001
            part["tcp_ack"] = 1001 + (s // 2 + 1) * 100
            part["tcp_window"] = 65535
    if trains:
        # Interleave step pairs: request of flow k, then its ACK.
        idx = np.arange(STEPS * n).reshape(STEPS // 2, 2, n).transpose(0, 2, 1).reshape(-1)
        p = p[idx]
        is_req = is_req[idx]
    p["ts_ns"] = t0 + np.arange(STEPS * n, dtype=np.int64) * 100
    return p, is_req


@pytest.fixture(scope="module", params=[("shuffled", FLOWS), ("pairs", FLOWS),
                                        ("shuffled", FLOWS // 10)],
                ids=["shuffled-100k", "pairs-100k", "shuffled-10k"])
def workload(request):
    kind, flows = request.param
    rng = np.random.default_rng(11)
    clients = (172 << 24) | np.arange(flows, dtype=np.uint32) * 7 + 1
    hs = handshakes(clients, T0)
    batch, is_req = steady(clients, T0 + 10**9, rng, trains=kind == "pairs")
    if flows < FLOWS:
        # Same batch size: repeat the steps with advancing sequence numbers.
        reps = FLOWS // flows
        parts, reqs = [], []
        for k in range(reps):
            b = batch.copy()
            b["tcp_seq"][is_req] += k * (STEPS // 2) * 100
            b["tcp_ack"][~is_req] += k * (STEPS // 2) * 100
            b["ts_ns"] += k * len(batch) * 100
            parts.append(b)
            reqs.append(is_req)
        batch, is_req = np.concatenate(parts), np.concatenate(reqs)
    return hs, batch, is_req, f"{kind}, {flows // 1000}k flows", flows


def _tracker(records, workload):
    from fastpath.flow import FlowTable
    hs, batch, is_req, _, flows = workload
    table = FlowTable(1 << 18, records=records, seed=1)
    table.track(hs)
    assert len(table) == flows
    state = {"round": 0, "batch": batch.copy()}
    advance = (STEPS // 2) * 100 * (FLOWS // flows)
    span = np.int64(len(batch) * 100)

    def setup():
        # Next round: every request carries new data and every ACK acknowledges it.
        b = state["batch"]
        if state["round"]:
            b["tcp_seq"][is_req] += advance
            b["tcp_ack"][~is_req] += advance
            b["ts_ns"] += span
        state["round"] += 1
        return (b,), {}

    return table, setup


@pytest.mark.parametrize("records", [True, False], ids=["records", "conntrack-only"])
def test_track_100k_flows(benchmark, workload, records):
    table, setup = _tracker(records, workload)
    v = np.zeros(STEPS * FLOWS, np.uint8)

    def run(b):
        return table.track(b, verdicts=v)

    benchmark.pedantic(run, setup=setup, rounds=15, iterations=1, warmup_rounds=1)
    # Every packet of the last round was accepted: the work measured is real tracking.
    assert (v == 0).all(), np.unique(v, return_counts=True)
    assert len(table) == workload[4]
    mpps = STEPS * FLOWS / benchmark.stats.stats.median / 1e6
    best = STEPS * FLOWS / benchmark.stats.stats.min / 1e6
    key = "records" if records else "conntrack only"
    target = " (target >= 10)" if workload[4] == FLOWS else ""
    RESULTS[f"track {workload[3]}, {key} (Mpps)"] = f"{mpps:.1f} median, {best:.1f} best{target}"
    benchmark.extra_info["mpps"] = mpps


def test_python_dict_tracker_for_scale(benchmark, workload):
    # The simplest pure-Python equivalent: a dict from the bidirectional 5-tuple to counters.
    hs, batch, _, kind, flows = workload
    if kind != "shuffled, 100k flows":
        pytest.skip("the Python reference runs once, on the shuffled workload")
    cols = [batch[k].tolist() for k in ("ip4_src", "ip4_dst", "sport", "dport", "ip_proto",
                                        "tcp_flags", "payload_len", "ts_ns")]

    def run():
        flows = {}
        for src, dst, sp, dp, pr, fl, pl, ts in zip(*cols):
            a, b = (src, sp), (dst, dp)
            key = (a, b, pr) if a <= b else (b, a, pr)
            f = flows.get(key)
            if f is None:
                f = flows[key] = [ts, ts, a, 0, 0, 0, 0, 0, 0]
            d = 0 if a == f[2] else 1
            f[1] = ts
            f[3 + d] += 1
            f[5 + d] += pl
            f[7 + d] |= fl
        return flows

    seen = benchmark.pedantic(run, rounds=3, iterations=1)
    assert len(seen) == FLOWS
    RESULTS["python dict 5-tuple counter (Mpps)"] = \
        f"{STEPS * FLOWS / benchmark.stats.stats.median / 1e6:.2f} median (no state machine)"


_MEMORY_CHILD = r"""
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[3])
from bench_flow import handshakes, FLOWS, T0


def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024


from fastpath.flow import FlowTable
n = int(sys.argv[1])
records = sys.argv[2] == "1"
clients = (20 << 24) + np.arange(n, dtype=np.uint32)
warm = FlowTable(16, records=records)           # import and first-use costs outside the figure
warm.track(handshakes(clients[:8], T0))
del warm
before = rss()
table = FlowTable(n, records=records, seed=1)
step = 100_000
for i in range(0, n, step):
    table.track(handshakes(clients[i:i + step], T0 + i * 1000))
after = rss()
info = table.lookup("20.0.0.5", 40000, "10.200.0.1", 443)
print(json.dumps({"flows": len(table), "rss_delta": after - before,
                  "allocated": table.memory_bytes, "state": info["tcp_state"],
                  "assured": info["assured"]}))
"""


@pytest.mark.parametrize("records", [False, True], ids=["conntrack-only", "records"])
def test_memory_1m_concurrent_flows(benchmark, records):
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs /proc/self/status to read the resident set size")
    n = 1_000_000
    here = os.path.dirname(os.path.abspath(__file__))

    def run():
        out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(n), "1" if records else "0",
                              here], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    res = benchmark.pedantic(run, rounds=1, iterations=1)
    assert res["flows"] == n and res["state"] == "ESTABLISHED" and res["assured"]
    mib = res["rss_delta"] / 2**20
    key = "records" if records else "conntrack only"
    target = " (target <= 128 MB)" if not records else ""
    RESULTS[f"1M concurrent flows, {key}"] = (
        f"{mib:.1f} MiB resident ({res['rss_delta'] / 1e6:.1f} MB), "
        f"{res['allocated'] / 2**20:.1f} MiB allocated{target}")
    benchmark.extra_info.update(res)


# ---------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def e2e_capture(bench_capture):
    return bench_capture


def test_end_to_end_fastpath_flows(benchmark, e2e_capture):
    from fastpath.cli import main

    def run():
        saved = sys.stdout
        sys.stdout = io.StringIO()
        try:
            rc = main(["flows", str(e2e_capture)])
            text = sys.stdout.getvalue()
        finally:
            sys.stdout = saved
        assert rc == 0
        return text.count("\n")

    lines = benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    med = benchmark.stats.stats.median
    RESULTS["fastpath flows end to end (s)"] = \
        f"{med:.3f} median for {bench_packets():,} packets ({bench_packets() / med / 1e6:.2f} Mpps), {lines - 7} connections"
    RESULTS["_fastpath_s"] = med


def test_end_to_end_dpkt(benchmark, e2e_capture):
    import warnings
    from flow_dpkt import dpkt_conn_log

    def run():
        out = io.StringIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dpkt_conn_log(e2e_capture, out)

    n = benchmark.pedantic(run, rounds=1, iterations=1)
    med = benchmark.stats.stats.median
    RESULTS["dpkt job end to end (s)"] = \
        f"{med:.3f} for {bench_packets():,} packets ({bench_packets() / med / 1e3:.0f} kpps), {n} connections"
    if "_fastpath_s" in RESULTS:
        RESULTS["ratio dpkt / fastpath flows"] = f"{med / RESULTS['_fastpath_s']:.1f}x (aim >= 100x)"
