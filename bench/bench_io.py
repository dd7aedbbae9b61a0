"""I/O backends and XDP (issue 5): the speed targets, each against its peer in the same run.

Traffic comes from the kernel's own generator: BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES
sends copies of one 60-byte UDP frame through the XDP path of a veth in a namespace of our
own (batches of 256), from a thread pinned to CPU 0. Rounds alternate between fastpath and its
peer so that the machine's noise (it is shared) falls on both; figures are medians.

Readers run either on the generator's CPU ("same-cpu": they run in the gaps between batches;
the setting of the brief's 5.5 Mpps C figure) or on the other CPU ("split-cpu": every batch
needs a cross-CPU wakeup). Both are measured.

* AF_XDP: frames the steering program redirects into an AF_XDP socket (copy mode, the only mode
  veth has), read by fastpath's burst loop -- ``dev.recv()`` / ``burst.release()`` from Python,
  the rings in Cython -- against a plain C reader (bench/c/io_afxdp_reader.c), both with rings
  of 4096. Target >= 0.9x.
* AF_PACKET: frames (of a local experimental ethertype, which the stack drops right after the
  packet taps) that an XDP_PASS program hands to the stack, read from a TPACKET_V3 ring by
  ``AfPacketDevice`` against a plain C reader (bench/c/io_tpacket_reader.c, same ring geometry)
  and a Python ``socket.recv_into`` loop. Targets >= 0.9x C and >= 3x Python.
* Steering cost: the live-frame rate of the steering program, with a rule set of 200 rules and
  a frame that a rule drops, against a bare XDP_DROP program. Target >= 0.85x. Measured on two
  paths: a port rule and a prefix rule (every table before it consulted). Also the program
  alone (kernel-timed BPF_PROG_TEST_RUN, no live-frame machinery).

Receive rates are frames received divided by the time from the first to the last frame: when
a reader is slower than the generator the kernel drops the excess, and the rate is the
reader's. Run as root with bcc:

    .venv/bin/python -m pytest bench/bench_io.py --benchmark-only -s \
        --benchmark-columns=median,iqr,rounds

``FASTPATH_BENCH_IO_ROUNDS`` (default 7) and ``FASTPATH_BENCH_IO_PACKETS`` (default 5,000,000
per round) size the runs; ``FASTPATH_BENCH_IO_BATCH`` the generator's batch. Results also go to
``bench/.data/io-results.json``.
"""
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
CSRC = HERE / "c"
ROUNDS = int(os.environ.get("FASTPATH_BENCH_IO_ROUNDS", 7))
PACKETS = int(os.environ.get("FASTPATH_BENCH_IO_PACKETS", 5_000_000))
GEN_CPU = 0
BATCH = int(os.environ.get("FASTPATH_BENCH_IO_BATCH", 256))
# Where the reader runs: on the generator's CPU (the kernel hands each batch over and the reader
# runs in the gaps; the setting of the brief's 5.5 Mpps C figure), or on the other CPU (every
# batch needs a cross-CPU wakeup, which on this VM costs more than the batch).
PLACEMENTS = {"same-cpu": 0, "split-cpu": 1}
RESULTS = {}


def _skip_reason():
    if not sys.platform.startswith("linux"):
        return f"needs Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return "needs root (BPF_PROG_RUN, namespaces, AF_XDP)"
    try:
        import bcc  # noqa: F401
    except Exception as e:
        return f"needs bcc (Debian python3-bpfcc): {e}"
    if shutil.which("gcc") is None:
        return "needs gcc for the C references"
    if len(os.sched_getaffinity(0)) < 2:
        return "needs two CPUs (generator and reader on their own)"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))


def build(name):
    """bench/c/<name>.c compiled with gcc -O2 into bench/.data (cached by source hash)."""
    src = CSRC / f"{name}.c"
    h = hashlib.sha256(src.read_bytes()).hexdigest()[:12]
    DATA.mkdir(parents=True, exist_ok=True)
    exe = DATA / f"{name}-{h}"
    if not exe.exists():
        tmp = exe.with_name(exe.name + f".tmp{os.getpid()}")
        subprocess.run(["gcc", "-O2", "-Wall", "-o", str(tmp), str(src)], check=True)
        os.replace(tmp, exe)
    return str(exe)


def record(key, value):
    RESULTS[key] = value
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / "io-results.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    old.update(RESULTS)
    old["when"] = time.strftime("%Y-%m-%d %H:%M:%S")
    old["rounds"] = ROUNDS
    old["packets_per_round"] = PACKETS
    path.write_text(json.dumps(old, indent=2) + "\n")


def report(title, figures):
    lines = [f"\n== {title}"] + [f"   {k:<44} {v}" for k, v in figures.items()]
    print("\n".join(lines), file=sys.__stdout__, flush=True)


def mpps(x):
    return f"{x / 1e6:.2f} Mpps"


@pytest.fixture(scope="module")
def lab():
    from fastpath.io.netns import Lab
    with Lab.create(tag="-bench") as lab:
        yield lab


@pytest.fixture(scope="module")
def raw_frame(lab):
    """60 bytes of a local experimental ethertype: the stack hands it to packet sockets and
    drops it at once, so the AF_PACKET generator is not slowed by IP processing."""
    return lab.outer_mac_bytes + lab.inner_mac_bytes + b"\x88\xb5" + bytes(46)


@pytest.fixture(scope="module")
def frame(lab):
    from fastpath.wire.build import udp_packet
    return udp_packet("10.201.0.1", "10.201.0.2", 1234, 9999, bytes(18),
                      ethernet=(lab.inner_mac_bytes, lab.outer_mac_bytes))


class Generator(threading.Thread):
    """Runs ``count`` live frames through ``prog`` on the lab's outer veth, pinned to GEN_CPU."""

    def __init__(self, lab, prog, frame, count):
        super().__init__(daemon=True)
        self.lab, self.prog, self.frame, self.count = lab, prog, frame, count
        self.seconds = None
        self.error = None

    def run(self):
        try:
            os.sched_setaffinity(0, {GEN_CPU})
            with self.lab.entered():
                t = time.perf_counter()
                self.prog.generate(self.frame, self.count, ifname=self.lab.outer,
                                   batch_size=BATCH)
                self.seconds = time.perf_counter() - t
        except BaseException as e:          # reported by the caller
            self.error = e


class pinned:
    """Run the block on one CPU (this thread), then restore."""

    def __init__(self, cpu):
        self.cpu = cpu

    def __enter__(self):
        self.old = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {self.cpu})

    def __exit__(self, *exc):
        os.sched_setaffinity(0, self.old)


def read_bursts(dev, gen, cpu):
    """fastpath's burst loop: receive, (count), release, until the generator is done and the
    rings are drained. Returns (frames, seconds from first to last)."""
    count = 0
    first = last = None
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    gen.start()
    while True:
        b = dev.recv(timeout=0.3)
        n = len(b)
        if n:
            last = time.perf_counter()
            if first is None:
                first = last
            count += n
        b.release()
        if n == 0 and not gen.is_alive():
            break
    os.sched_setaffinity(0, old)
    gen.join()
    if gen.error:
        raise gen.error
    return count, (last - first) if first is not None and last > first else float("nan")


def run_c_reader(argv, gen, cpu, pass_fds=()):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         pass_fds=pass_fds, preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    line = p.stdout.readline().strip()
    if line != "ready":
        p.kill()
        raise RuntimeError(f"C reader did not start: {line!r} {p.stderr.read()}")
    gen.start()
    gen.join()
    out, err = p.communicate(timeout=60)
    if gen.error:
        raise gen.error
    frames, ns, _ = (int(x) for x in out.split())
    return frames, ns / 1e9 if ns > 0 else float("nan")


# ---------------------------------------------------------------- AF_XDP
@pytest.mark.parametrize("placement", list(PLACEMENTS))
def test_afxdp_receive_vs_c_reader(benchmark, lab, frame, placement):
    from fastpath.io import AfXdpDevice
    from fastpath.xdp import Steering
    reader = build("io_afxdp_reader")
    st = Steering(default="redirect", max_rules=16, max_flows=16, max_prefixes=16)
    ns_path = f"/run/netns/{lab.ns}"
    cpu = PLACEMENTS[placement]
    fp_rates, c_rates = [], []

    def fastpath_round():
        from fastpath.errors import ConfigError
        for attempt in range(50):            # the C reader's socket may take a moment to go
            try:
                with lab.entered():
                    dev = AfXdpDevice(lab.outer, 0, ring_size=4096, max_burst=256)
                break
            except ConfigError:
                if attempt == 49:
                    raise
                time.sleep(0.02)
        try:
            st.bind(dev)
            n, secs = read_bursts(dev, Generator(lab, st, frame, PACKETS), cpu)
            fp_rates.append(n / secs)
        finally:
            st.unbind(0)
            dev.close()

    def c_round():
        fd = st.table("fp_xsks").map_fd
        n, secs = run_c_reader([reader, ns_path, lab.outer, "0", str(fd), "4096", str(PACKETS),
                                "300"], Generator(lab, st, frame, PACKETS), cpu, pass_fds=(fd,))
        c_rates.append(n / secs)
        st.unbind(0)

    def one_round():
        c_round()
        fastpath_round()

    try:
        benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    finally:
        st.close()
    fp, c = statistics.median(fp_rates), statistics.median(c_rates)
    pair = statistics.median(f / k for f, k in zip(fp_rates, c_rates))
    figures = {"fastpath AfXdpDevice burst loop (median)": mpps(fp),
               "plain C AF_XDP reader (median)": mpps(c),
               "ratio of medians (target >= 0.9)": f"{fp / c:.2f}",
               "median of per-round ratios": f"{pair:.2f}",
               "fastpath rounds": " ".join(f"{x / 1e6:.2f}" for x in fp_rates),
               "C rounds": " ".join(f"{x / 1e6:.2f}" for x in c_rates)}
    benchmark.extra_info.update({"fastpath_pps": fp, "c_pps": c, "ratio": fp / c,
                                 "pair_ratio": pair})
    record(f"afxdp-{placement}", {"fastpath_pps": fp, "c_pps": c, "ratio": fp / c,
                                   "pair_ratio": pair, "fastpath_rounds": fp_rates,
                                   "c_rounds": c_rates})
    report(f"AF_XDP receive (copy mode, veth, live frames, reader {placement})", figures)


# ---------------------------------------------------------------- AF_PACKET
def python_recv_loop(lab, gen, cpu):
    with lab.entered():
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        s.bind((lab.outer, 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
    s.settimeout(0.3)
    buf = bytearray(2048)
    count = 0
    first = last = None
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        gen.start()
        while True:
            try:
                s.recv_into(buf)
            except socket.timeout:
                if not gen.is_alive():
                    break
                continue
            last = time.perf_counter()
            if first is None:
                first = last
            count += 1
    finally:
        s.close()
        os.sched_setaffinity(0, old)
    gen.join()
    return count, (last - first) if first is not None and last > first else float("nan")


@pytest.mark.parametrize("placement", list(PLACEMENTS))
def test_afpacket_receive_vs_c_reader_and_python(benchmark, lab, raw_frame, placement):
    frame = raw_frame
    from fastpath.io import AfPacketDevice
    from fastpath.xdp import BareProgram
    reader = build("io_tpacket_reader")
    gen_prog = BareProgram("pass")
    geometry = dict(block_size=1 << 18, block_count=64, frame_size=2048, retire_ms=4)
    n_af = max(PACKETS // 5, 200_000)          # the stack path is slower: fewer frames a round
    cpu = PLACEMENTS[placement]
    fp_rates, c_rates, py_rates = [], [], []

    def one_round():
        n, secs = run_c_reader([reader, f"/run/netns/{lab.ns}", lab.outer,
                                str(geometry["block_size"]), str(geometry["block_count"]),
                                str(geometry["frame_size"]), str(geometry["retire_ms"]),
                                str(n_af), "300"], Generator(lab, gen_prog, frame, n_af), cpu)
        c_rates.append(n / secs)
        with lab.entered():
            dev = AfPacketDevice(lab.outer, max_burst=4096, **geometry)
        try:
            n, secs = read_bursts(dev, Generator(lab, gen_prog, frame, n_af), cpu)
            fp_rates.append(n / secs)
        finally:
            dev.close()
        n, secs = python_recv_loop(lab, Generator(lab, gen_prog, frame, n_af), cpu)
        py_rates.append(n / secs)

    try:
        benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    finally:
        gen_prog.close()
    fp, c, py = (statistics.median(x) for x in (fp_rates, c_rates, py_rates))
    figures = {"fastpath AfPacketDevice burst loop (median)": mpps(fp),
               "plain C TPACKET_V3 reader (median)": mpps(c),
               "Python socket.recv_into loop (median)": mpps(py),
               "fastpath / C (target >= 0.9)": f"{fp / c:.2f}",
               "fastpath / Python recv (target >= 3)": f"{fp / py:.2f}",
               "median of per-round fastpath/C": f"{statistics.median(f / k for f, k in zip(fp_rates, c_rates)):.2f}",
               "fastpath rounds": " ".join(f"{x / 1e6:.2f}" for x in fp_rates),
               "C rounds": " ".join(f"{x / 1e6:.2f}" for x in c_rates),
               "Python rounds": " ".join(f"{x / 1e6:.2f}" for x in py_rates)}
    benchmark.extra_info.update({"fastpath_pps": fp, "c_pps": c, "python_pps": py})
    record(f"afpacket-{placement}", {"fastpath_pps": fp, "c_pps": c, "python_pps": py, "ratio_c": fp / c,
                        "ratio_python": fp / py, "fastpath_rounds": fp_rates,
                        "c_rounds": c_rates, "python_rounds": py_rates})
    report(f"AF_PACKET TPACKET_V3 receive (veth, XDP_PASS live frames, reader {placement})",
           figures)


# ---------------------------------------------------------------- steering program cost
def rule_set(st):
    """200 rules of every kind; none of them matches the benchmark frame except the ones the
    cases add."""
    for p in range(64):
        st.add_rule(f"pass tcp dport {10000 + p}")
        st.add_rule(f"pass udp sport {20000 + p}")
    for i in range(48):
        st.add_rule(f"pass dst 172.{16 + i // 16}.{i % 16}.0/24")
    for i in range(16):
        st.add_rule(f"pass src 192.168.{i}.0/24")
    for i in range(8):
        st.add_rule(f"pass udp 10.9.0.{i}:1 -> 10.9.1.{i}:2")


def live_rate(prog, lab, frame, count):
    with lab.entered(), pinned(GEN_CPU):
        t = time.perf_counter()
        prog.generate(frame, count, ifname=lab.outer)
        return count / (time.perf_counter() - t)


def test_steering_cost_vs_bare_drop(benchmark, lab, frame):
    from fastpath.xdp import BareProgram, Steering
    drop = BareProgram("drop")
    port = Steering(default="pass")
    rule_set(port)
    port.add_rule("drop udp dport 9999")                    # flows miss, then the port hits
    prefix = Steering(default="pass")
    rule_set(prefix)
    prefix.add_rule("drop dst 10.201.0.0/24")               # flows, both ports miss; LPM hits
    n = PACKETS * 2
    rates = {"drop": [], "port": [], "prefix": []}

    def one_round():
        rates["drop"].append(live_rate(drop, lab, frame, n))
        rates["port"].append(live_rate(port, lab, frame, n))
        rates["prefix"].append(live_rate(prefix, lab, frame, n))

    try:
        benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=1)
        # The program alone, without the live-frame machinery (kernel-timed test runs).
        alone = {k: p.test_run(frame, repeat=1_000_000).duration_ns
                 for k, p in (("drop", drop), ("port", port), ("prefix", prefix))}
        assert port.stats()["totals"]["drop"][0] >= n * (ROUNDS + 1)
    finally:
        for p in (drop, port, prefix):
            p.close()
    med = {k: statistics.median(v) for k, v in rates.items()}
    figures = {"bare XDP_DROP (median)": mpps(med["drop"]),
               "steering, port-rule drop (median)": mpps(med["port"]),
               "steering, prefix-rule drop (median)": mpps(med["prefix"]),
               "port / bare (target >= 0.85)": f"{med['port'] / med['drop']:.2f}",
               "prefix / bare": f"{med['prefix'] / med['drop']:.2f}",
               "program alone ns/pkt drop, port, prefix":
                   f"{alone['drop']}, {alone['port']}, {alone['prefix']}",
               "bare rounds": " ".join(f"{x / 1e6:.1f}" for x in rates["drop"]),
               "port rounds": " ".join(f"{x / 1e6:.1f}" for x in rates["port"]),
               "prefix rounds": " ".join(f"{x / 1e6:.1f}" for x in rates["prefix"])}
    benchmark.extra_info.update({k + "_pps": v for k, v in med.items()})
    record("steering", {"pps": med, "ratio_port": med["port"] / med["drop"],
                        "ratio_prefix": med["prefix"] / med["drop"], "alone_ns": alone,
                        "rounds": rates})
    report("steering program cost (live frames, 200 rules)", figures)
