"""Connection records: Zeek's conn_state and history rules, one behaviour per test.

Zeek's documentation (base/protocols/conn/main.zeek) defines the states and letters; the cases
below follow it. Conversations are built packet by packet (client 10.0.0.1:40000, server
10.0.0.2:80, ISNs 1000 and 50000).
"""
import numpy as np
import pytest

from fastpath.flow import CONN_STATE_NAMES, FlowTable
from fastpath.flow.table import END_NAMES
from flowpkt import ACK, FIN, MS, PSH, RST, SEC, SYN, T0, Conv, batch, packet

CSUM_BAD = 0


def table(**kw):
    kw.setdefault("seed", 7)
    return FlowTable(1024, **kw)


def finish(conv):
    recs = list(conv.records) + list(conv.table.flush())
    return recs


def one(conv):
    recs = finish(conv)
    assert len(recs) == 1, [(r["history"], END_NAMES[r["end_reason"]]) for r in recs]
    r = recs[0]
    return CONN_STATE_NAMES[r["conn_state"]], r["history"].decode(), r


# ---------------------------------------------------------------- conn_state

def test_s0_attempt_without_reply():
    c = Conv(table())
    c.c(SYN)
    assert one(c)[:2] == ("S0", "S")


def test_rej_attempt_rejected():
    c = Conv(table())
    c.c(SYN)
    c.s(RST | ACK, seq=0)
    assert one(c)[:2] == ("REJ", "Sr")


def test_sf_normal_establishment_and_termination():
    c = Conv(table())
    c.handshake()
    c.c(PSH | ACK, 200)
    c.s(PSH | ACK, 1000)
    c.c(FIN | ACK)
    c.s(FIN | ACK)
    c.c(ACK)
    state, hist, r = one(c)
    assert (state, hist) == ("SF", "ShADdFf")
    assert (r["orig_bytes"], r["resp_bytes"]) == (200, 1000)
    assert (r["orig_pkts"], r["resp_pkts"]) == (5, 3)


def test_s1_established_not_terminated():
    c = Conv(table())
    c.handshake()
    c.c(PSH | ACK, 10)
    assert one(c)[:2] == ("S1", "ShAD")


def test_s2_close_by_originator_only():
    c = Conv(table())
    c.handshake()
    c.c(FIN | ACK)
    assert one(c)[:2] == ("S2", "ShAF")


def test_s3_close_by_responder_only():
    c = Conv(table())
    c.handshake()
    c.s(FIN | ACK)
    assert one(c)[:2] == ("S3", "ShAf")


def test_rsto_originator_aborts():
    c = Conv(table())
    c.handshake()
    c.c(RST | ACK)
    assert one(c)[:2] == ("RSTO", "ShAR")


def test_rstr_responder_aborts():
    c = Conv(table())
    c.handshake()
    c.s(RST | ACK)
    assert one(c)[:2] == ("RSTR", "ShAr")


def test_rstos0_syn_then_rst_without_synack():
    c = Conv(table())
    c.c(SYN)
    c.c(RST, seq=1001)
    assert one(c)[:2] == ("RSTOS0", "SR")


def test_rstrh_synack_then_rst_without_syn():
    # The responder's SYN/ACK and RST; the originator's SYN was never seen. With the server on
    # a likely server port, the first packet (a SYN/ACK from port 80) is flipped: '^h'.
    c = Conv(table())
    c.s(SYN | ACK, ack=1001)
    c.s(RST, seq=50001)
    assert one(c)[:2] == ("RSTRH", "^hr")


def test_sh_syn_then_fin_without_synack():
    c = Conv(table())
    c.c(SYN)
    c.c(FIN | ACK, seq=1001, ack=0)
    assert one(c)[:2] == ("SH", "SF")


def test_shr_synack_then_fin_without_syn():
    c = Conv(table())
    c.s(SYN | ACK, ack=1001)
    c.s(FIN | ACK, seq=50001)
    assert one(c)[:2] == ("SHR", "^hf")


def test_oth_midstream_traffic():
    # No SYN seen: a partial connection.
    c = Conv(table(), client=("10.0.0.1", 40000), server=("10.0.0.2", 40001))
    c.c(PSH | ACK, 100)
    c.s(ACK)
    assert one(c)[:2] == ("OTH", "Da")


# ---------------------------------------------------------------- history letters

def test_letters_recorded_once_per_direction():
    c = Conv(table())
    c.handshake()
    for _ in range(5):
        c.c(PSH | ACK, 10)
        c.s(ACK)
    assert one(c)[1] == "ShADa"


def test_retransmissions_are_logarithmic():
    # 't'/'T' at the 1st, 10th, 100th ... retransmission.
    c = Conv(table())
    c.handshake()
    c.c(PSH | ACK, 100)
    for _ in range(9):
        c.c(PSH | ACK, 100, seq=1001)
    assert c.info()["history"] == "ShADT"
    c.c(PSH | ACK, 100, seq=1001)       # the 10th
    assert one(c)[1] == "ShADTT"


def test_zero_window_letter():
    c = Conv(table())
    c.handshake()
    c.c(PSH | ACK, 100)
    c.s(ACK, win=0)
    assert one(c)[1] == "ShADaw"


def test_bad_checksum_letter_and_packet_not_counted():
    c = Conv(table())
    c.handshake()
    c.c(PSH | ACK, 100, csum_l4=CSUM_BAD)
    state, hist, r = one(c)
    assert hist == "ShAC"
    assert r["orig_pkts"] == 2        # the bad packet is not counted (as Zeek)


def test_content_gap_letter_and_missed_bytes():
    # Data the receiver acknowledged but the capture never held: a content gap.
    c = Conv(table())
    c.handshake()
    c.c(PSH | ACK, 100)
    c.next[0] += 500                  # 500 bytes the capture missed
    c.c(PSH | ACK, 100)
    c.s(ACK)                          # acknowledges all 700
    state, hist, r = one(c)
    assert hist == "ShADaG"
    assert r["missed_bytes"] == 500


def test_truncated_payload_counts_as_missed():
    # A packet cut by the snapshot length does not deliver its payload.
    c = Conv(table())
    c.handshake()
    c.c(PSH | ACK, 400, truncated=True)
    c.s(ACK)
    state, hist, r = one(c)
    assert r["missed_bytes"] == 400
    assert "G" in hist


def test_fin_and_rst_together_is_inconsistent():
    c = Conv(table())
    c.handshake()
    c.c(FIN | RST | ACK)
    assert "I" in one(c)[1]


def test_syn_fin_is_multi_flag():
    # (With the ISN's sequence number: a SYN with another one would start a new connection.)
    c = Conv(table())
    c.handshake()
    c.c(SYN | FIN, seq=1000)
    assert one(c)[1] == "ShAQ"


def test_repeated_rst_with_new_sequence_number_is_recorded_again():
    c = Conv(table())
    c.handshake()
    c.c(RST | ACK, seq=1001)
    c.c(RST | ACK, seq=1501)
    assert one(c)[1] == "ShARR"


# ---------------------------------------------------------------- orientation

def test_synack_first_from_server_port_is_flipped():
    c = Conv(table())
    c.s(SYN | ACK, ack=1001)
    c.c(ACK, seq=1001)
    state, hist, r = one(c)
    assert hist == "^hA"
    assert r["orig_port"] == 40000 and r["resp_port"] == 80


def test_synack_then_productive_traffic_flips_without_port_hints():
    # Neither port is a likely server port: the SYN/ACK sender starts as originator ("H"),
    # until an ACK shows it was the responder.
    c = Conv(table(server_ports={}), client=("10.0.0.1", 40000), server=("10.0.0.2", 40001))
    c.s(SYN | ACK, ack=1001)
    c.c(ACK, seq=1001)
    state, hist, r = one(c)
    assert hist == "^hA"
    assert r["orig_port"] == 40000


def test_midstream_from_server_port_is_flipped():
    c = Conv(table())
    c.s(PSH | ACK, 300)
    c.c(ACK)
    state, hist, r = one(c)
    assert hist == "^dA" and r["orig_port"] == 40000


def test_udp_reply_from_server_port_first_is_flipped():
    t = table()
    recs = t.track(batch(packet(T0, "10.0.0.53", 53, "10.0.0.1", 5555, 17, payload=40)))
    recs = t.flush()
    assert recs[0]["history"] == b"^d"
    assert CONN_STATE_NAMES[recs[0]["conn_state"]] == "SHR"
    assert recs[0]["orig_port"] == 5555


# ---------------------------------------------------------------- UDP and ICMP

def test_udp_request_and_reply_is_sf():
    t = table()
    t.track(batch(packet(T0, "10.0.0.1", 5555, "10.0.0.53", 53, 17, payload=30),
                  packet(T0 + MS, "10.0.0.53", 53, "10.0.0.1", 5555, 17, payload=90)))
    r = t.flush()[0]
    assert (CONN_STATE_NAMES[r["conn_state"]], r["history"]) == ("SF", b"Dd")
    assert (r["orig_bytes"], r["resp_bytes"]) == (30, 90)


def test_udp_without_reply_is_s0():
    t = table()
    t.track(batch(packet(T0, "10.0.0.1", 5555, "10.0.0.9", 9999, 17, payload=30)))
    r = t.flush()[0]
    assert (CONN_STATE_NAMES[r["conn_state"]], r["history"]) == ("S0", b"D")


def test_icmp_echo_request_and_reply_are_one_flow():
    # Zeek's ICMP "ports": the type and its counterpart (8 <-> 0).
    t = table()
    t.track(batch(packet(T0, "10.0.0.1", 77, "10.0.0.2", 0, 1, icmp_type=8, payload=56),
                  packet(T0 + MS, "10.0.0.2", 77, "10.0.0.1", 0, 1, icmp_type=0, payload=56)))
    recs = t.flush()
    assert len(recs) == 1
    r = recs[0]
    assert (r["orig_port"], r["resp_port"]) == (8, 0)
    assert (r["orig_pkts"], r["resp_pkts"]) == (1, 1)
    assert CONN_STATE_NAMES[r["conn_state"]] == "OTH"


def test_icmp_errors_are_one_way_flows():
    t = table()
    t.track(batch(packet(T0, "10.0.0.1", 0, "10.0.0.2", 0, 1, icmp_type=3, icmp_code=3),
                  packet(T0 + MS, "10.0.0.2", 0, "10.0.0.1", 0, 1, icmp_type=3, icmp_code=3)))
    recs = t.flush()
    assert len(recs) == 2
    assert {(int(r["orig_port"]), int(r["resp_port"])) for r in recs} == {(3, 3)}


# ---------------------------------------------------------------- record boundaries

def test_new_syn_after_close_starts_a_new_record():
    c = Conv(table())
    c.handshake()
    c.c(FIN | ACK)
    c.s(FIN | ACK)
    c.c(ACK)
    c.next = [90000, 0]
    c.c(SYN, dt=SEC)
    recs = finish(c)
    assert [r["history"] for r in recs] == [b"ShAFf", b"S"]
    assert END_NAMES[recs[0]["end_reason"]] == "reused"


def test_close_delay_ends_the_record():
    # Zeek removes a closed connection tcp_close_delay (5 s) after its last activity; a packet
    # after that starts a new record.
    c = Conv(table())
    c.handshake()
    c.c(FIN | ACK)
    c.s(FIN | ACK)
    c.c(ACK)
    c.s(ACK, dt=6 * SEC)
    recs = finish(c)
    assert [r["history"] for r in recs] == [b"ShAFf", b"^a"]
    assert END_NAMES[recs[0]["end_reason"]] == "closed"


def test_unanswered_syn_attempt_ends_after_5s():
    # Zeek's tcp_attempt_delay: a SYN unanswered for 5 s is logged as S0; a retransmission
    # after that is a new connection.
    c = Conv(table())
    c.c(SYN)
    c.c(SYN, seq=1000, dt=3 * SEC)
    c.c(SYN, seq=1000, dt=3 * SEC)
    recs = finish(c)
    assert [r["history"] for r in recs] == [b"S", b"S"]
    assert [int(r["orig_pkts"]) for r in recs] == [2, 1]


def test_udp_inactivity_ends_the_record():
    t = table()
    out = list(t.track(batch(packet(T0, "10.0.0.1", 5555, "10.0.0.9", 9999, 17, payload=1),
                             packet(T0 + 61 * SEC, "10.0.0.1", 5555, "10.0.0.9", 9999, 17,
                                    payload=1))))
    out += list(t.flush())
    assert len(out) == 2
    assert END_NAMES[out[0]["end_reason"]] == "idle"


def test_dns_session_timer_is_shorter():
    # Zeek's DNS analyzer ends quiet sessions after dns_session_timeout (10 s).
    t = table()
    out = list(t.track(batch(packet(T0, "10.0.0.1", 5555, "10.0.0.53", 53, 17, payload=30),
                             packet(T0 + 20 * SEC, "10.0.0.1", 5555, "10.0.0.53", 53, 17,
                                    payload=30))))
    out += list(t.flush())
    assert len(out) == 2


def test_duration_excludes_packets_after_both_sides_closed():
    # Zeek's duration stops at the close; the final ACK is in the history but not the time.
    c = Conv(table())
    c.handshake()
    c.c(FIN | ACK)
    c.s(FIN | ACK)
    last_fin = c.t
    c.c(ACK, dt=2 * SEC)
    state, hist, r = one(c)
    assert r["last_ts_ns"] == last_fin
    assert r["orig_pkts"] == 4
