"""ctypes mirrors of ``bpf/fastpath_shared.h`` (structs and constants).

``tests/xdp/test_layout.py`` holds these to the C layout twice: compiled by the host C compiler
and by bcc for the BPF target (read back through ``bpf/layout_probe.c``). ``FP_LAYOUT_FIELDS``
lists the values in the order layout_probe.c writes them.
"""
import ctypes as ct

# ---- tunables (defaults; the loader may override them with -D, and then passes them here)
FP_MAX_RULES = 1024
FP_MAX_FLOWS = 65536
FP_MAX_PREFIXES = 16384
FP_MAX_QUEUES = 64

FP_ACTION_PASS = 0
FP_ACTION_DROP = 1
FP_ACTION_REDIRECT = 2
ACTIONS = {"pass": FP_ACTION_PASS, "drop": FP_ACTION_DROP, "redirect": FP_ACTION_REDIRECT}
ACTION_NAMES = {v: k for k, v in ACTIONS.items()}

FP_OUT_PASS = 0
FP_OUT_DROP = 1
FP_OUT_REDIRECT = 2
FP_OUT_FALLBACK = 3
FP_OUTCOMES = 4
OUTCOME_NAMES = ("pass", "drop", "redirect", "fallback")

FP_RULE_DEFAULT = 0
FP_RULE_OTHER = 1
FP_RULE_FIRST = 2

FP_HAS_FLOW4 = 1 << 0
FP_HAS_FLOW6 = 1 << 1
FP_HAS_PORT = 1 << 2
FP_HAS_DST4 = 1 << 3
FP_HAS_SRC4 = 1 << 4
FP_HAS_DST6 = 1 << 5
FP_HAS_SRC6 = 1 << 6
FP_HAS_SPORT = 1 << 7

FP_PORT_FLOWS4 = 1 << 0
FP_PORT_FLOWS6 = 1 << 1

FP_PORT_PROTO_TCP = 0
FP_PORT_PROTO_UDP = 1
FP_PORT_PROTOS = 2
FP_PORT_DST = 0
FP_PORT_SRC = 1
FP_PORT_SLOTS = FP_PORT_PROTOS * 2 * 65536

FP_FAULT_MATCH_PROTO = 1 << 0
FP_FAULT_MATCH_DPORT = 1 << 1
FP_FAULT_SEEN = 0
FP_FAULT_DROPPED = 1
FP_FAULT_CORRUPTED = 2
FP_FAULT_IGNORED = 3
FP_FAULT_COUNTERS = 4

u8, u16, u32, u64 = ct.c_uint8, ct.c_uint16, ct.c_uint32, ct.c_uint64


class FpConfig(ct.Structure):
    _fields_ = [("default_action", u32), ("other_action", u32), ("flags", u32),
                ("generation", u32)]


class FpRuleValue(ct.Structure):
    _fields_ = [("rule_id", u32), ("action", u16), ("flags", u16)]


class FpPrefix4Key(ct.Structure):
    _fields_ = [("prefixlen", u32), ("addr", u8 * 4)]


class FpPrefix6Key(ct.Structure):
    _fields_ = [("prefixlen", u32), ("addr", u8 * 16)]


class FpFlow4Key(ct.Structure):
    _fields_ = [("saddr", u8 * 4), ("daddr", u8 * 4), ("sport", u16), ("dport", u16),
                ("proto", u8), ("pad", u8 * 3)]


class FpFlow6Key(ct.Structure):
    _fields_ = [("saddr", u8 * 16), ("daddr", u8 * 16), ("sport", u16), ("dport", u16),
                ("proto", u8), ("pad", u8 * 3)]


class FpStats(ct.Structure):
    _fields_ = [("packets", u64), ("bytes", u64)]


class FpFaultConfig(ct.Structure):
    _fields_ = [("drop_threshold", u64), ("corrupt_threshold", u64), ("flags", u32),
                ("corrupt_offset", u16), ("proto", u8), ("pad", u8), ("dport", u16),
                ("pad2", u16), ("pad3", u32)]


# (struct, [fields]) in the order bpf/layout_probe.c writes: size, then each field's offset.
FP_LAYOUT_FIELDS = [
    (FpConfig, ["default_action", "other_action", "flags", "generation"]),
    (FpRuleValue, ["rule_id", "action", "flags"]),
    (FpPrefix4Key, ["prefixlen", "addr"]),
    (FpPrefix6Key, ["prefixlen", "addr"]),
    (FpFlow4Key, ["saddr", "daddr", "sport", "dport", "proto"]),
    (FpFlow6Key, ["saddr", "daddr", "sport", "dport", "proto"]),
    (FpStats, ["packets", "bytes"]),
    (FpFaultConfig, ["drop_threshold", "corrupt_threshold", "flags", "corrupt_offset", "proto",
                     "dport"]),
]

# The C names of the structs above, for the host-compiler check.
C_NAMES = {FpConfig: "fp_config", FpRuleValue: "fp_rule_value", FpPrefix4Key: "fp_prefix4_key",
           FpPrefix6Key: "fp_prefix6_key", FpFlow4Key: "fp_flow4_key",
           FpFlow6Key: "fp_flow6_key", FpStats: "fp_stats", FpFaultConfig: "fp_fault_config"}


def python_layout():
    """[size, offsets...] per struct, flattened in FP_LAYOUT_FIELDS order."""
    out = []
    for st, fields in FP_LAYOUT_FIELDS:
        out.append(ct.sizeof(st))
        out.extend(getattr(st, f).offset for f in fields)
    return out


def layout_labels():
    out = []
    for st, fields in FP_LAYOUT_FIELDS:
        out.append(f"sizeof({C_NAMES[st]})")
        out.extend(f"offsetof({C_NAMES[st]}, {f})" for f in fields)
    return out
