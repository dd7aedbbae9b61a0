"""`fastpath tcpsim`: move data both ways between two TCP stacks over the simulated network
(loss, reordering, duplication, corruption, delay, bandwidth) and report what happened."""
import json
import time

from fastpath.cli._common import parse_quantity
from fastpath.errors import ConfigError


def _size(text):
    try:
        return parse_quantity(text, "size")
    except ValueError as e:
        raise ConfigError(str(e)) from None


def add_arguments(p):
    p.add_argument("--bytes", default="1M", help="bytes from A to B (default 1M)")
    p.add_argument("--reply", default="0", help="bytes from B to A (default 0)")
    p.add_argument("--loss", type=float, default=0.0, help="loss probability per frame")
    p.add_argument("--reorder", type=float, default=0.0, help="reordering probability per frame")
    p.add_argument("--duplicate", type=float, default=0.0, help="duplication probability")
    p.add_argument("--corrupt", type=float, default=0.0, help="corruption (one bit) probability")
    p.add_argument("--delay-us", type=int, default=50, help="one-way delay (default 50 us)")
    p.add_argument("--bandwidth", default="0", help="link rate in bit/s, e.g. 100M (0: unlimited)")
    p.add_argument("--ipv6", action="store_true", help="IPv6 instead of IPv4")
    p.add_argument("--cc", default="cubic", help="congestion control: newreno or cubic")
    p.add_argument("--no-sack", action="store_true", help="turn SACK off")
    p.add_argument("--no-timestamps", action="store_true", help="turn timestamps off")
    p.add_argument("--seed", type=int, default=0, help="random seed (runs are reproducible)")
    p.add_argument("--pcap", help="write the frames both stacks sent to this pcap file")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args):
    from fastpath.tcp import Simulation, TcpConfig, State
    cfg = TcpConfig(congestion_control=args.cc, sack=not args.no_sack,
                    timestamps=not args.no_timestamps, rto_min_us=200_000)
    sim = Simulation(cfg, ipv6=args.ipv6, seed=args.seed, delay_us=args.delay_us,
                     bandwidth_bps=_size(args.bandwidth), loss=args.loss, reorder=args.reorder,
                     duplicate=args.duplicate, corrupt=args.corrupt,
                     trace=1_000_000 if args.pcap else 0)
    up, down = _size(args.bytes), _size(args.reply)
    t0 = time.perf_counter()
    r = sim.transfer(up, down, max_time_us=4 * 3600 * 1_000_000)
    wall = time.perf_counter() - t0
    if args.pcap:
        sim.write_pcap(args.pcap)
    ok = (r["b_received"] == up and r["a_received"] == down and not r["a_mismatches"]
          and not r["b_mismatches"] and r["a_error"] is None and r["b_error"] is None)
    out = {
        "ok": ok,
        "a_to_b": {"sent": r["a_sent"], "received": r["b_received"], "mismatches": r["b_mismatches"]},
        "b_to_a": {"sent": r["b_sent"], "received": r["a_received"], "mismatches": r["a_mismatches"]},
        "final_states": [State(r["a_state"]).name,
                         State(r["b_state"]).name if r["b_state"] is not None else None],
        "errors": [str(e) if e else None for e in (r["a_error"], r["b_error"])],
        "virtual_time_s": r["time_us"] / 1e6,
        "wall_time_s": round(wall, 6),
        "links": {"a>b": sim.ab.stats, "b>a": sim.ba.stats},
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{'delivered' if ok else 'FAILED'}: A->B {r['b_received']:,}/{up:,} bytes, "
              f"B->A {r['a_received']:,}/{down:,} bytes, {r['a_mismatches'] + r['b_mismatches']} "
              f"mismatched reads")
        print(f"final states A {out['final_states'][0]}, B {out['final_states'][1]}; "
              f"errors: {', '.join(e for e in out['errors'] if e) or 'none'}")
        print(f"virtual time {out['virtual_time_s']:.3f} s, wall time {wall:.3f} s")
        for name, st in out["links"].items():
            print(f"link {name}: sent {st['sent']}, delivered {st['delivered']}, lost {st['lost']}, "
                  f"reordered {st['reordered']}, duplicated {st['duplicated']}, "
                  f"corrupted {st['corrupted']}")
        if args.pcap:
            print(f"frames written to {args.pcap}")
    return 0 if ok else 1
