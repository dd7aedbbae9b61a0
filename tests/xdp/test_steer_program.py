"""The steering program, table-driven with BPF_PROG_TEST_RUN: input frame, expected verdict,
and which rule's counter (and outcome) must move. No traffic, no interface."""
import struct

import pytest

from fastpath.errors import CapacityError, ConfigError
from fastpath.wire.build import arp_request, icmp_echo, tcp_packet, udp_packet
from fastpath.wire.ethernet import EthernetRepr

MAC_A = b"\x02\x00\x00\x00\x00\x0a"
MAC_B = b"\x02\x00\x00\x00\x00\x0b"
E = (MAC_A, MAC_B)


def eth(tags=()):
    return EthernetRepr(MAC_B, MAC_A, 0, tags)


def ipv4_with_options(frame):
    """The same frame with 4 bytes of IPv4 options (NOPs) and IHL 6."""
    l2, ip = frame[:14], bytearray(frame[14:])
    hl = (ip[0] & 0x0F) * 4
    ip = ip[:hl] + b"\x01\x01\x01\x01" + ip[hl:]
    ip[0] = 0x46
    struct.pack_into("!H", ip, 2, len(ip))
    return l2 + bytes(ip)


def ipv4_later_fragment(frame):
    """Mark the IPv4 packet as a fragment at offset 8 (its 'ports' are then payload)."""
    b = bytearray(frame)
    struct.pack_into("!H", b, 14 + 6, 1)          # offset 1 (x8 bytes), no flags
    return bytes(b)


def ipv4_first_fragment(frame):
    """Mark the IPv4 packet as the first fragment (more fragments, offset 0): ports present."""
    b = bytearray(frame)
    struct.pack_into("!H", b, 14 + 6, 0x2000)
    return bytes(b)


def ipv6_hop_by_hop_udp(src, dst, sport, dport):
    """IPv6 / hop-by-hop options (8 bytes of padding) / UDP, in Ethernet."""
    import ipaddress
    udp = struct.pack("!HHHH", sport, dport, 8, 0)
    hbh = bytes([17, 0, 1, 4, 0, 0, 0, 0])        # next UDP, len 0, PadN(4)
    payload = hbh + udp
    ip6 = struct.pack("!IHBB", 6 << 28, len(payload), 0, 64)
    ip6 += ipaddress.ip_address(src).packed + ipaddress.ip_address(dst).packed
    return MAC_B + MAC_A + b"\x86\xdd" + ip6 + payload


RULES = [
    "redirect udp dport 9999",
    "drop tcp dport 23",
    "drop tcp sport 7777",
    "drop udp 192.0.2.1:5000 -> 192.0.2.2:9999",
    "drop dst 198.51.100.0/24",
    "pass dst 198.51.100.7/32",
    "redirect src 203.0.113.0/24",
    "drop dst 2001:db8:dead::/48",
    "redirect udp [2001:db8::1]:1000 -> [2001:db8::2]:2000",
]

# (name, frame, verdict, rule text or "default"/"other", outcome)
CASES = [
    ("udp port redirect, no socket: kernel",
     udp_packet("192.0.2.10", "192.0.2.2", 1234, 9999, b"x", ethernet=E),
     "pass", "redirect udp dport 9999", "fallback"),
    ("5-tuple beats the port rule",
     udp_packet("192.0.2.1", "192.0.2.2", 5000, 9999, b"x", ethernet=E),
     "drop", "drop udp 192.0.2.1:5000 -> 192.0.2.2:9999", "drop"),
    ("tcp destination port", tcp_packet("192.0.2.10", "192.0.2.2", 40000, 23, ethernet=E),
     "drop", "drop tcp dport 23", "drop"),
    ("tcp source port", tcp_packet("192.0.2.10", "192.0.2.2", 7777, 80, ethernet=E),
     "drop", "drop tcp sport 7777", "drop"),
    ("udp is not tcp", udp_packet("192.0.2.10", "192.0.2.2", 1, 23, ethernet=E),
     "pass", "default", "pass"),
    ("destination prefix", tcp_packet("192.0.2.10", "198.51.100.5", 40000, 80, ethernet=E),
     "drop", "drop dst 198.51.100.0/24", "drop"),
    ("longest prefix wins", tcp_packet("192.0.2.10", "198.51.100.7", 40000, 80, ethernet=E),
     "pass", "pass dst 198.51.100.7/32", "pass"),
    ("source prefix", udp_packet("203.0.113.9", "192.0.2.2", 1, 53, ethernet=E),
     "pass", "redirect src 203.0.113.0/24", "fallback"),
    ("port beats prefix", udp_packet("192.0.2.10", "198.51.100.5", 1, 9999, ethernet=E),
     "pass", "redirect udp dport 9999", "fallback"),
    ("ipv6 destination prefix",
     udp_packet("2001:db8::5", "2001:db8:dead::1", 1, 2, ethernet=E),
     "drop", "drop dst 2001:db8:dead::/48", "drop"),
    ("ipv6 5-tuple", udp_packet("2001:db8::1", "2001:db8::2", 1000, 2000, ethernet=E),
     "pass", "redirect udp [2001:db8::1]:1000 -> [2001:db8::2]:2000", "fallback"),
    ("ipv6 port rule after a hop-by-hop header",
     ipv6_hop_by_hop_udp("2001:db8::5", "2001:db8::6", 1, 9999),
     "pass", "redirect udp dport 9999", "fallback"),
    ("one vlan tag",
     udp_packet("192.0.2.10", "192.0.2.2", 1, 23, ethernet=eth([(0x8100, 0, 0, 10)])),
     "pass", "default", "pass"),
    ("vlan tag then a drop rule",
     tcp_packet("192.0.2.10", "192.0.2.2", 1, 23, ethernet=eth([(0x8100, 0, 0, 10)])),
     "drop", "drop tcp dport 23", "drop"),
    ("qinq",
     tcp_packet("192.0.2.10", "192.0.2.2", 1, 23,
                ethernet=eth([(0x88a8, 0, 0, 100), (0x8100, 0, 0, 10)])),
     "drop", "drop tcp dport 23", "drop"),
    ("three tags are more than the program walks",
     tcp_packet("192.0.2.10", "192.0.2.2", 1, 23,
                ethernet=eth([(0x88a8, 0, 0, 1), (0x8100, 0, 0, 2), (0x8100, 0, 0, 3)])),
     "pass", "other", "pass"),
    ("ipv4 options are skipped",
     ipv4_with_options(tcp_packet("192.0.2.10", "192.0.2.2", 1, 23, ethernet=E)),
     "drop", "drop tcp dport 23", "drop"),
    ("a later fragment has no ports",
     ipv4_later_fragment(tcp_packet("192.0.2.10", "192.0.2.2", 1, 23, ethernet=E)),
     "pass", "default", "pass"),
    ("a first fragment has its ports",
     ipv4_first_fragment(tcp_packet("192.0.2.10", "192.0.2.2", 1, 23, ethernet=E)),
     "drop", "drop tcp dport 23", "drop"),
    ("a later fragment still meets prefix rules",
     ipv4_later_fragment(tcp_packet("192.0.2.10", "198.51.100.5", 1, 23, ethernet=E)),
     "drop", "drop dst 198.51.100.0/24", "drop"),
    ("arp is not ip", arp_request(MAC_A, "192.0.2.10", "192.0.2.2"), "pass", "other", "pass"),
    ("icmp has no ports: default", icmp_echo("192.0.2.10", "192.0.2.2", 1, 1, ethernet=E),
     "pass", "default", "pass"),
    ("ipv4 header cut short",
     udp_packet("192.0.2.10", "192.0.2.2", 1, 9999, ethernet=E)[:14 + 12],
     "pass", "other", "pass"),
    ("udp header cut short",
     udp_packet("192.0.2.10", "192.0.2.2", 1, 9999, ethernet=E)[:14 + 20 + 2],
     "pass", "other", "pass"),
    ("ipv4 ethertype and nothing after it", MAC_B + MAC_A + b"\x08\x00", "pass", "other", "pass"),
    ("vlan tag cut short", MAC_B + MAC_A + b"\x81\x00\x00", "pass", "other", "pass"),
    ("ihl below 5 is malformed",
     bytes(bytearray(udp_packet("192.0.2.10", "192.0.2.2", 1, 9999, ethernet=E))[:14])
     + b"\x44" + udp_packet("192.0.2.10", "192.0.2.2", 1, 9999, ethernet=E)[15:],
     "pass", "other", "pass"),
]


@pytest.fixture
def installed(steering):
    ids = {}
    for text in RULES:
        ids[text] = steering.add_rule(text).id
    ids["default"] = 0
    ids["other"] = 1
    return steering, ids


@pytest.mark.parametrize("name,frame,verdict,rule,outcome", CASES, ids=[c[0] for c in CASES])
def test_verdict_and_counters(installed, name, frame, verdict, rule, outcome):
    st, ids = installed
    before = st.stats()
    assert st.verdict(frame) == verdict
    after = st.stats()
    rid = ids[rule]
    moved = {(r, o): (after[r][o][0] - before[r][o][0], after[r][o][1] - before[r][o][1])
             for r in after if r != "totals" for o in after[r]
             if after[r][o] != before[r][o]}
    assert moved == {(rid, outcome): (1, len(frame))}


def test_default_and_other_actions_are_configurable(steering):
    unmatched = udp_packet("192.0.2.10", "192.0.2.2", 1, 2, ethernet=E)
    arp = arp_request(MAC_A, "192.0.2.10", "192.0.2.2")
    assert steering.verdict(unmatched) == "pass"
    steering.set_default("drop")
    assert steering.verdict(unmatched) == "drop"
    assert steering.verdict(arp) == "pass"
    steering.set_other("drop")
    assert steering.verdict(arp) == "drop"
    assert steering.stats()[0]["drop"][0] == 1
    assert steering.stats()[1]["drop"][0] == 1


def test_rules_change_live_and_removal_restores(steering):
    f = udp_packet("192.0.2.10", "192.0.2.2", 1, 53, ethernet=E)
    assert steering.verdict(f) == "pass"
    r = steering.add_rule("drop udp dport 53")
    assert steering.verdict(f) == "drop"
    steering.add_rule("pass udp dport 53", replace=True)
    assert steering.verdict(f) == "pass"
    steering.remove_rule(r.id)
    assert steering.verdict(f) == "pass"
    assert steering.rules == []
    p = steering.add_rule("drop dst 192.0.2.0/24")
    assert steering.verdict(f) == "drop"
    steering.remove_rule("drop dst 192.0.2.0/24")
    assert steering.verdict(f) == "pass"
    t = steering.add_rule("drop udp 192.0.2.10:1 -> 192.0.2.2:53")
    assert steering.verdict(f) == "drop"
    steering.remove_rule(t)
    assert steering.verdict(f) == "pass"
    assert p.id != t.id


def test_five_tuples_are_found_through_their_destination_port(steering):
    hit = udp_packet("192.0.2.1", "192.0.2.2", 5000, 7000, ethernet=E)
    other_src = udp_packet("192.0.2.9", "192.0.2.2", 5000, 7000, ethernet=E)
    v6 = udp_packet("2001:db8::1", "2001:db8::2", 5000, 7000, ethernet=E)
    t4 = steering.add_rule("drop udp 192.0.2.1:5000 -> 192.0.2.2:7000")
    t4b = steering.add_rule("drop udp 192.0.2.3:5000 -> 192.0.2.2:7000")
    assert [steering.verdict(f) for f in (hit, other_src, v6)] == ["drop", "pass", "pass"]
    p = steering.add_rule("redirect udp dport 7000")
    assert [steering.verdict(f) for f in (hit, other_src, v6)] == ["drop", "pass", "pass"]
    assert steering.stats()[p.id]["fallback"][0] == 2          # the port rule took the others
    t6 = steering.add_rule("drop udp [2001:db8::1]:5000 -> [2001:db8::2]:7000")
    assert steering.verdict(v6) == "drop"
    steering.remove_rule(t4)
    assert steering.verdict(hit) == "pass"                      # the port rule again
    steering.remove_rule(p)
    steering.remove_rule(t6)
    assert [steering.verdict(f) for f in (hit, v6)] == ["pass", "pass"]
    steering.remove_rule(t4b)
    assert steering.rules == []


def test_duplicate_rule_is_refused_with_the_existing_one_named(steering):
    r = steering.add_rule("drop udp dport 53")
    with pytest.raises(ConfigError, match=f"#{r.id}"):
        steering.add_rule("redirect udp dport 53")


def test_removing_an_unknown_rule_is_an_error(steering):
    with pytest.raises(ConfigError, match="no installed rule"):
        steering.remove_rule("drop udp dport 1")
    with pytest.raises(ConfigError, match="no installed rule #999"):
        steering.remove_rule(999)


def test_rule_ids_are_bounded(steering):
    # max_rules=64 in the fixture: 62 ids for user rules (0 and 1 are reserved).
    for port in range(62):
        steering.add_rule(f"drop udp dport {port + 1}")
    with pytest.raises(CapacityError, match="rule ids"):
        steering.add_rule("drop udp dport 1000")
    steering.remove_rule("drop udp dport 1")
    steering.add_rule("drop udp dport 1000")


def test_prefix_tables_are_bounded(bpf_ok):
    from fastpath.xdp import Steering
    with Steering(max_rules=16, max_prefixes=2, max_flows=2) as st:
        st.add_rule("drop dst 10.0.0.0/8")
        st.add_rule("drop dst 10.1.0.0/16")
        with pytest.raises(CapacityError, match="fp_dst4"):
            st.add_rule("drop dst 10.2.0.0/16")


def test_counters_add_up_over_many_runs(steering):
    r = steering.add_rule("drop tcp dport 23")
    f = tcp_packet("192.0.2.10", "192.0.2.2", 1, 23, ethernet=E)
    steering.test_run(f, repeat=1000)
    st = steering.stats()
    assert st[r.id]["drop"] == (1000, 1000 * len(f))
    assert st["totals"]["drop"] == (1000, 1000 * len(f))


def test_test_run_refuses_frames_shorter_than_ethernet(steering):
    with pytest.raises(ConfigError, match="14 bytes"):
        steering.verdict(MAC_B + MAC_A)


def test_frames_are_not_modified(steering):
    steering.add_rule("drop tcp dport 23")
    f = tcp_packet("192.0.2.10", "192.0.2.2", 1, 80, ethernet=E)
    res = steering.test_run(f)
    assert res.action == "pass"
    assert res.data == f
