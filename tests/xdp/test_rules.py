"""Rule text, parsed and refused; the keys rules become in the BPF maps. No kernel needed."""
import ipaddress

import pytest

from fastpath.errors import ConfigError
from fastpath.xdp import parse_rule, parse_rules
from fastpath.xdp import structs as S
from fastpath.xdp.rules import flow_key, port_index, prefix_key, table_for


@pytest.mark.parametrize("text,kind,fields", [
    ("redirect udp dport 9999", "port", dict(proto=17, direction="dst", port=9999)),
    ("drop tcp sport 23", "port", dict(proto=6, direction="src", port=23)),
    ("pass dst 10.0.0.0/8", "prefix", dict(direction="dst",
                                            prefix=ipaddress.ip_network("10.0.0.0/8"))),
    ("DROP  src   2001:db8::/32", "prefix", dict(direction="src",
                                                  prefix=ipaddress.ip_network("2001:db8::/32"))),
    ("drop dst 192.0.2.7/24", "prefix", dict(prefix=ipaddress.ip_network("192.0.2.0/24"))),
    ("redirect tcp 10.0.0.1:1234 -> 10.0.0.2:80", "flow",
     dict(proto=6, src=ipaddress.ip_address("10.0.0.1"), sport=1234,
          dst=ipaddress.ip_address("10.0.0.2"), dport=80)),
    ("drop udp [2001:db8::1]:53 -> [2001:db8::2]:5353", "flow",
     dict(proto=17, src=ipaddress.ip_address("2001:db8::1"), sport=53)),
])
def test_rules_parse(text, kind, fields):
    r = parse_rule(text)
    assert r.kind == kind
    for k, v in fields.items():
        assert getattr(r, k) == v
    assert parse_rule(str(r)) == r          # printing gives text that parses back to it


@pytest.mark.parametrize("text,match", [
    ("drop", "incomplete"),
    ("zap udp dport 1", "unknown action"),
    ("drop udp dport 70000", "outside 0..65535"),
    ("drop udp dport x", "not a port number"),
    ("drop dst 10.0.0.0/33", "10.0.0.0/33"),
    ("drop sctp dport 1", "should be dst, src, tcp or udp"),
    ("drop udp 10.0.0.1:1 -> [2001:db8::1]:2", "different IP versions"),
    ("drop udp 10.0.0.1 -> 10.0.0.2:2", "ADDRESS:PORT"),
    ("drop udp dport", "expected"),
])
def test_bad_rules_are_refused_with_the_reason(text, match):
    with pytest.raises(ConfigError, match=match):
        parse_rule(text)


def test_rule_files_report_the_line():
    rules = parse_rules("# steering\nredirect udp dport 9999\n\n drop dst 10.0.0.0/8  # lab\n")
    assert [str(r) for r in rules] == ["redirect udp dport 9999", "drop dst 10.0.0.0/8"]
    with pytest.raises(ConfigError, match="line 2"):
        parse_rules("pass dst 10.0.0.0/8\ndrop udp dport nope\n")


def test_map_keys():
    r = parse_rule("drop udp sport 53")
    assert port_index(r) == (S.FP_PORT_PROTO_UDP * 2 + S.FP_PORT_SRC) * 65536 + 53
    assert table_for(r) == ("fp_ports", S.FP_HAS_SPORT)
    assert table_for(parse_rule("drop udp dport 53")) == ("fp_ports", S.FP_HAS_PORT)
    # A 5-tuple rule marks its destination port's slot.
    assert port_index(parse_rule("drop tcp 10.0.0.1:1 -> 10.0.0.2:80")) == \
        port_index(parse_rule("drop tcp dport 80"))
    k = prefix_key(parse_rule("drop dst 192.0.2.99/24"))
    assert k.prefixlen == 24 and bytes(k.addr) == bytes([192, 0, 2, 0])
    f = flow_key(parse_rule("drop tcp 10.0.0.1:1234 -> 10.0.0.2:80"))
    raw = bytes(f)
    assert raw[0:4] == bytes([10, 0, 0, 1]) and raw[4:8] == bytes([10, 0, 0, 2])
    assert raw[8:10] == (1234).to_bytes(2, "big") and raw[10:12] == (80).to_bytes(2, "big")
    assert raw[12] == 6 and raw[13:16] == b"\0\0\0"
    assert table_for(parse_rule("drop src 2001:db8::/32")) == ("fp_src6", S.FP_HAS_SRC6)
