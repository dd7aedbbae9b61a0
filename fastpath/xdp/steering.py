"""The steering program (bpf/steer.c) with its rules and statistics, controlled live.

    with Steering(default="pass") as st:
        r = st.add_rule("redirect udp dport 9999")
        st.attach("eth0")                    # native XDP, generic as the fallback
        dev = AfXdpDevice("eth0", queue=0)
        st.bind(dev)                          # frames of rule r now arrive in dev.recv()
        ...
        st.stats()[r.id]                      # {"redirect": (packets, bytes), ...}
"""
from __future__ import annotations

import ctypes as ct
from dataclasses import dataclass
from typing import Iterable, Optional, Union

from fastpath.errors import CapacityError, ConfigError
from fastpath.xdp import structs as S
from fastpath.xdp.loader import XdpProgram
from fastpath.xdp.rules import Rule, flow_key, parse_rule, port_index, prefix_key, table_for


@dataclass(frozen=True)
class InstalledRule:
    id: int
    rule: Rule

    def __str__(self):
        return f"#{self.id} {self.rule}"


class Steering(XdpProgram):
    """Rules deciding pass / drop / redirect-to-AF_XDP per packet, with per-CPU statistics per
    rule and outcome. Rule changes apply to the next packet (no reload)."""
    SOURCE = "steer.c"
    FUNCTION = "fp_steer"

    def __init__(self, *, default: str = "pass", other: str = "pass", rules: Iterable = (),
                 max_rules: int = S.FP_MAX_RULES, max_flows: int = S.FP_MAX_FLOWS,
                 max_prefixes: int = S.FP_MAX_PREFIXES, max_queues: int = S.FP_MAX_QUEUES):
        for name, v, lo, hi in (("max_rules", max_rules, 4, 1 << 16),
                                ("max_flows", max_flows, 1, 1 << 24),
                                ("max_prefixes", max_prefixes, 1, 1 << 24),
                                ("max_queues", max_queues, 1, 4096)):
            if not lo <= int(v) <= hi:
                raise ConfigError(f"{name} must be {lo}..{hi}, not {v!r}")
        self.max_rules = int(max_rules)
        self.max_queues = int(max_queues)
        super().__init__(defines={"FP_MAX_RULES": max_rules, "FP_MAX_FLOWS": max_flows,
                                  "FP_MAX_PREFIXES": max_prefixes, "FP_MAX_QUEUES": max_queues})
        self._limits = {"fp_flows4": max_flows, "fp_flows6": max_flows, "fp_dst4": max_prefixes,
                        "fp_src4": max_prefixes, "fp_dst6": max_prefixes,
                        "fp_src6": max_prefixes}
        self._rules: dict[int, Rule] = {}
        self._by_key: dict[tuple, int] = {}
        self._ports: dict[int, S.FpRuleValue] = {}
        self._flow_ports: dict[tuple, int] = {}
        self._counts: dict[str, int] = {}
        self._next_id = S.FP_RULE_FIRST
        self._bound: dict[int, int] = {}
        self._cfg = S.FpConfig(default_action=S.ACTIONS[self._action(default)],
                               other_action=S.ACTIONS[self._action(other)], flags=0,
                               generation=0)
        self._write_config()
        for r in rules:
            self.add_rule(r)

    @staticmethod
    def _action(a: str) -> str:
        if a not in S.ACTIONS:
            raise ConfigError(f"unknown action {a!r}: use pass, drop or redirect")
        return a

    def _write_config(self) -> None:
        self._cfg.generation += 1
        tbl = self.table("fp_config")
        tbl[tbl.Key(0)] = self._cfg

    # ---- defaults
    def set_default(self, action: str) -> None:
        """What happens to IP packets no rule matches (rule id 0)."""
        self._cfg.default_action = S.ACTIONS[self._action(action)]
        self._write_config()

    def set_other(self, action: str) -> None:
        """What happens to non-IP and malformed frames (rule id 1)."""
        self._cfg.other_action = S.ACTIONS[self._action(action)]
        self._write_config()

    # ---- rules
    def add_rule(self, rule: Union[str, Rule], *, replace: bool = False) -> InstalledRule:
        """Install a rule (text as in fastpath.xdp.rules, or a Rule); returns it with its id."""
        if isinstance(rule, str):
            rule = parse_rule(rule)
        if not isinstance(rule, Rule):
            raise ConfigError(f"a rule is text or a Rule, not {type(rule).__name__}")
        old = self._by_key.get(rule.key)
        if old is not None and not replace:
            raise ConfigError(f"rule '{rule}' matches the same packets as installed rule "
                              f"#{old} '{self._rules[old]}'; remove it or pass replace=True")
        name, _flag = table_for(rule)
        if old is None and name in self._limits and self._counts.get(name, 0) >= self._limits[name]:
            raise CapacityError(f"the {name} table is full ({self._limits[name]} rules); "
                                f"raise the limit when creating Steering")
        rid = old if old is not None else self._allocate_id()
        self._clear_stats(rid)
        value = S.FpRuleValue(rule_id=rid, action=S.ACTIONS[rule.action])
        tbl = self.table(name)
        if rule.kind == "port":
            entry = self._port_entry(port_index(rule))
            entry.rule_id, entry.action = rid, S.ACTIONS[rule.action]
            self._write_port(port_index(rule), entry)
        elif rule.kind == "prefix":
            tbl[prefix_key(rule)] = value
        else:
            tbl[flow_key(rule)] = value
            if old is None:
                self._flow_port_ref(rule, +1)
        self._rules[rid] = rule
        if old is None:
            self._by_key[rule.key] = rid
            self._counts[name] = self._counts.get(name, 0) + 1
        self._update_flags()
        return InstalledRule(rid, rule)

    def remove_rule(self, rule: Union[int, str, Rule, InstalledRule]) -> None:
        rid = self._find(rule)
        r = self._rules.pop(rid)
        del self._by_key[r.key]
        name, _flag = table_for(r)
        tbl = self.table(name)
        if r.kind == "port":
            entry = self._port_entry(port_index(r))
            entry.rule_id, entry.action = 0, 0
            self._write_port(port_index(r), entry)
        elif r.kind == "prefix":
            del tbl[prefix_key(r)]
        else:
            del tbl[flow_key(r)]
            self._flow_port_ref(r, -1)
        self._counts[name] -= 1
        self._update_flags()

    # ---- the port array: port rules and "5-tuple rules exist for this port" flags
    def _port_entry(self, idx: int) -> S.FpRuleValue:
        e = self._ports.get(idx)
        return S.FpRuleValue(e.rule_id, e.action, e.flags) if e is not None else S.FpRuleValue()

    def _write_port(self, idx: int, entry: S.FpRuleValue) -> None:
        tbl = self.table("fp_ports")
        tbl[tbl.Key(idx)] = entry
        if entry.rule_id == 0 and entry.flags == 0:
            self._ports.pop(idx, None)
        else:
            self._ports[idx] = entry

    def _flow_port_ref(self, rule: Rule, delta: int) -> None:
        idx = port_index(rule)
        bit = S.FP_PORT_FLOWS4 if rule.family == 4 else S.FP_PORT_FLOWS6
        key = (idx, bit)
        n = self._flow_ports.get(key, 0) + delta
        if n > 0:
            self._flow_ports[key] = n
        else:
            self._flow_ports.pop(key, None)
        entry = self._port_entry(idx)
        entry.flags = (entry.flags | bit) if n > 0 else (entry.flags & ~bit)
        self._write_port(idx, entry)

    def _update_flags(self) -> None:
        flags = 0
        for r in self._rules.values():
            flags |= table_for(r)[1]
            if r.kind == "flow":
                flags |= S.FP_HAS_PORT      # 5-tuples are reached through the port array
        self._cfg.flags = flags
        self._write_config()

    def clear_rules(self) -> None:
        for rid in list(self._rules):
            self.remove_rule(rid)

    def _find(self, rule) -> int:
        if isinstance(rule, InstalledRule):
            rule = rule.id
        if isinstance(rule, int):
            if rule not in self._rules:
                raise ConfigError(f"no installed rule #{rule}")
            return rule
        if isinstance(rule, str):
            rule = parse_rule(rule)
        rid = self._by_key.get(rule.key)
        if rid is None:
            raise ConfigError(f"no installed rule matches '{rule}'")
        return rid

    def _allocate_id(self) -> int:
        for _ in range(self.max_rules):
            rid = self._next_id
            self._next_id += 1
            if self._next_id >= self.max_rules:
                self._next_id = S.FP_RULE_FIRST
            if rid not in self._rules:
                return rid
        raise CapacityError(f"all {self.max_rules - S.FP_RULE_FIRST} rule ids are in use; "
                            f"remove rules or raise max_rules")

    @property
    def rules(self) -> list[InstalledRule]:
        return [InstalledRule(i, r) for i, r in sorted(self._rules.items())]

    # ---- AF_XDP sockets
    def bind(self, device, queue: Optional[int] = None) -> None:
        """Make redirected packets of ``queue`` (default: the device's) go to an AF_XDP device
        (anything with ``fileno()`` and ``queue``)."""
        q = int(device.queue if queue is None else queue)
        if not 0 <= q < self.max_queues:
            raise ConfigError(f"queue {q} is outside 0..{self.max_queues - 1}")
        fd = device.fileno()
        self.table("fp_xsks")[ct.c_int(q)] = ct.c_int(fd)
        self._bound[q] = fd

    def unbind(self, queue: int) -> None:
        """Redirects on ``queue`` fall back to the kernel again."""
        self._bound.pop(int(queue), None)
        # Also when another process put its socket there: the map holds the socket open.
        try:
            del self.table("fp_xsks")[ct.c_int(int(queue))]
        except KeyError:
            pass

    # ---- statistics
    def _clear_stats(self, rid: int) -> None:
        # A reused rule id starts from zero (tbl.Leaf is already one value per CPU).
        tbl = self.table("fp_stats")
        for o in range(S.FP_OUTCOMES):
            tbl[tbl.Key(rid * S.FP_OUTCOMES + o)] = tbl.Leaf()

    def reset_stats(self) -> None:
        """Zero the counters of the reserved rules and every installed rule."""
        for rid in [S.FP_RULE_DEFAULT, S.FP_RULE_OTHER] + list(self._rules):
            self._clear_stats(rid)

    def rule_stats(self, rid: int) -> dict:
        """{outcome: (packets, bytes)} for one rule id, summed over CPUs."""
        tbl = self.table("fp_stats")
        out = {}
        for o, name in enumerate(S.OUTCOME_NAMES):
            vals = tbl[tbl.Key(rid * S.FP_OUTCOMES + o)]
            out[name] = (sum(v.packets for v in vals), sum(v.bytes for v in vals))
        return out

    def stats(self) -> dict:
        """Per rule id (0 = default, 1 = non-IP/malformed, then installed rules):
        {outcome: (packets, bytes)}, plus "totals" per outcome over all of them."""
        ids = [S.FP_RULE_DEFAULT, S.FP_RULE_OTHER] + sorted(self._rules)
        out = {rid: self.rule_stats(rid) for rid in ids}
        totals = {name: [0, 0] for name in S.OUTCOME_NAMES}
        for per in out.values():
            for name, (p, b) in per.items():
                totals[name][0] += p
                totals[name][1] += b
        out["totals"] = {k: tuple(v) for k, v in totals.items()}
        return out

    def verdict(self, frame: bytes, *, rx_queue: int = 0, ifindex: int = 0) -> str:
        """What the program does with ``frame`` (BPF_PROG_TEST_RUN): pass, drop or redirect.
        Counts in the statistics like real traffic."""
        return self.test_run(frame, rx_queue=rx_queue, ifindex=ifindex).action
