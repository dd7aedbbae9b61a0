"""The TCP tracker, one behaviour per test (netfilter's model; van Rooij's window checks).

Each test drives one connection through ``TcpTracker`` and names the rule it pins. Direction 0
is the originator, 1 the responder. Sequence numbers: client ISN 1000, server ISN 50000.
"""
import pytest

from fastpath.flow.conntrack import (CT_ESTABLISHED, CT_IGNORE, CT_INVALID, CT_SYN_RECV,
                                     CT_SYN_SENT, DIR_ORIGINAL, DIR_REPLY, EV_ACK, EV_FIN, EV_NONE,
                                     EV_RST, EV_SYN, EV_SYNACK, STATE_NAMES, TcpTracker, next_state)

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80
C, S = 0, 1
ACCEPT = ("accept", "none")


def established(**syn_opts):
    t = TcpTracker()
    assert t.segment(C, SYN, seq=1000, window=64000, **syn_opts.get("c", {})) == ACCEPT
    assert t.segment(S, SYN | ACK, seq=50000, ack=1001, window=65000,
                     **syn_opts.get("s", {})) == ACCEPT
    assert t.segment(C, ACK, seq=1001, ack=50001, window=64000) == ACCEPT
    assert t.state == "ESTABLISHED"
    return t


# ---------------------------------------------------------------- the handshake

def test_none_syn_opens_syn_sent():
    # RFC 9293 3.5: a SYN opens a connection.
    t = TcpTracker()
    assert t.segment(C, SYN, seq=1000) == ACCEPT
    assert t.state == "SYN_SENT"
    assert not t.seen_reply


def test_syn_sent_synack_from_responder_is_syn_recv():
    t = TcpTracker()
    t.segment(C, SYN, seq=1000)
    assert t.segment(S, SYN | ACK, seq=50000, ack=1001) == ACCEPT
    assert t.state == "SYN_RECV"
    assert t.seen_reply and not t.assured


def test_syn_recv_ack_from_originator_establishes_and_assures():
    t = established()
    # Handshake completed and confirmed both ways: ASSURED protects it from eviction.
    assert t.assured


def test_syn_sent_retransmitted_syn_stays_syn_sent():
    t = TcpTracker()
    t.segment(C, SYN, seq=1000)
    assert t.segment(C, SYN, seq=1000) == ACCEPT
    assert t.state == "SYN_SENT"


def test_syn_sent_syn_with_higher_seq_reinitialises():
    # RFC 9293 3.4: a restarted endpoint may reopen with a higher ISN; the SYN/ACK that answers
    # it must be accepted.
    t = TcpTracker()
    t.segment(C, SYN, seq=1000)
    assert t.segment(C, SYN, seq=9000) == ACCEPT
    assert t.segment(S, SYN | ACK, seq=50000, ack=9001) == ACCEPT
    assert t.state == "SYN_RECV"


def test_syn_sent_ack_from_originator_is_invalid():
    # Nothing to acknowledge before a SYN/ACK was seen.
    t = TcpTracker()
    t.segment(C, SYN, seq=1000)
    assert t.segment(C, ACK, seq=1001, ack=50001) == ("invalid", "bad-state")
    assert t.state == "SYN_SENT"


def test_synack_from_originator_is_invalid():
    t = TcpTracker()
    t.segment(C, SYN, seq=1000)
    assert t.segment(C, SYN | ACK, seq=1000, ack=5) == ("invalid", "bad-state")


def test_synack_acking_the_wrong_sequence_is_invalid():
    # III: an ACK may only acknowledge what was sent (the SYN's 1001).
    t = TcpTracker()
    t.segment(C, SYN, seq=1000)
    assert t.segment(S, SYN | ACK, seq=50000, ack=7777) == ("invalid", "ack-over-window")
    assert t.state == "SYN_SENT"


def test_fin_before_synack_is_invalid():
    t = TcpTracker()
    t.segment(C, SYN, seq=1000)
    assert t.segment(C, FIN | ACK, seq=1001, ack=0) == ("invalid", "bad-state")


def test_simultaneous_open_goes_through_syn_sent2():
    # RFC 9293 3.5 figure 8: both sides send SYN; each answers with SYN/ACK; then ACKs.
    t = TcpTracker()
    t.segment(C, SYN, seq=1000)
    assert t.segment(S, SYN, seq=50000) == ACCEPT
    assert t.state == "SYN_SENT2"
    assert t.segment(C, SYN | ACK, seq=1000, ack=50001) == ACCEPT
    assert t.state == "SYN_RECV"
    assert t.segment(S, SYN | ACK, seq=50000, ack=1001)[0] == "ignore"
    assert t.segment(S, ACK, seq=50001, ack=1001) == ACCEPT
    assert t.state == "ESTABLISHED"


def test_responder_ack_in_syn_sent_is_ignored_not_invalid():
    # Could be the challenge ACK of a half-open connection (RFC 5961 4): let it through.
    t = TcpTracker()
    t.segment(C, SYN, seq=1000)
    assert t.segment(S, ACK, seq=60000, ack=1001) == ("ignore", "ignored-state")
    assert t.state == "SYN_SENT"


# ---------------------------------------------------------------- data and windows

def test_data_in_window_is_accepted():
    t = established()
    assert t.segment(C, PSH | ACK, seq=1001, ack=50001, payload=1000) == ACCEPT
    assert t.segment(S, ACK, seq=50001, ack=2001) == ACCEPT


def test_seq_beyond_the_receivers_window_is_invalid():
    # I: seq <= sender.maxend (what the receiver's ACK + window allows).
    t = established()
    end, maxend, _, _ = t.window(C)
    assert t.segment(C, PSH | ACK, seq=maxend + 100_000, ack=50001, payload=10) == \
        ("invalid", "seq-over-window")


def test_ack_of_unsent_data_is_invalid():
    # III: ack <= receiver.end.
    t = established()
    assert t.segment(C, ACK, seq=1001, ack=50001 + 5000) == ("invalid", "ack-over-window")


def test_retransmission_of_acknowledged_data_is_ignored():
    # II: seq + len >= sender.end - receiver.maxwin: far older data is not trusted.
    t = established()
    assert t.segment(C, PSH | ACK, seq=1001, ack=50001, payload=1000) == ACCEPT
    t.segment(S, ACK, seq=50001, ack=2001, window=64000)
    for i in range(80):         # move the client's edge far beyond one window
        t.segment(C, PSH | ACK, seq=2001 + i * 1000, ack=50001, payload=1000)
        t.segment(S, ACK, seq=50001, ack=3001 + i * 1000, window=64000)
    assert t.segment(C, PSH | ACK, seq=1001, ack=50001, payload=10) == \
        ("ignore", "seq-under-window")


def test_window_scaling_applies_when_both_sides_offer_it():
    # RFC 7323 2.2: the shift counts once both SYNs carry the option; the window of a SYN
    # itself is never scaled.
    t = established(c={"wscale": 7}, s={"wscale": 7})
    assert t.window(C)[3] == 7 and t.window(S)[3] == 7
    t.segment(S, ACK, seq=50001, ack=1001, window=1000)      # 1000 << 7 = 128000 bytes
    assert t.segment(C, PSH | ACK, seq=1001 + 100_000, ack=50001, payload=1000) == ACCEPT


def test_window_scaling_ignored_when_only_one_side_offers_it():
    t = established(c={"wscale": 7})
    assert t.window(C)[3] == 0 and t.window(S)[3] == 0


def test_window_scale_above_14_is_treated_as_14():
    # RFC 7323 2.3.
    t = established(c={"wscale": 20}, s={"wscale": 15})
    assert t.window(C)[3] == 14 and t.window(S)[3] == 14


def test_zero_window_admits_a_one_byte_probe():
    # RFC 9293 3.8.6.1: the sender probes a zero window with one byte.
    t = established()
    t.segment(C, PSH | ACK, seq=1001, ack=50001, payload=100)
    t.segment(S, ACK, seq=50001, ack=1101, window=0)
    assert t.segment(C, PSH | ACK, seq=1101, ack=50001, payload=1) == ACCEPT


def test_sack_extends_the_acknowledgement_bound():
    # A SACK block acknowledges data above the cumulative ACK (RFC 2018); with SACK permitted
    # the check III uses the highest right edge.
    t = established(c={"sack_perm": True}, s={"sack_perm": True})
    t.segment(C, PSH | ACK, seq=1001, ack=50001, payload=2000)
    assert t.segment(S, ACK, seq=50001, ack=1001, sack=3001) == ACCEPT
    assert t.segment(S, ACK, seq=50001, ack=1001, sack=9001) == ("invalid", "ack-over-window")


# ---------------------------------------------------------------- closing

def test_fin_ack_fin_ack_closes_through_time_wait():
    t = established()
    assert t.segment(C, FIN | ACK, seq=1001, ack=50001) == ACCEPT
    assert t.state == "FIN_WAIT"
    assert t.segment(S, ACK, seq=50001, ack=1002) == ACCEPT
    assert t.state == "CLOSE_WAIT"
    assert t.segment(S, FIN | ACK, seq=50001, ack=1002) == ACCEPT
    assert t.state == "LAST_ACK"
    assert t.segment(C, ACK, seq=1002, ack=50002) == ACCEPT
    assert t.state == "TIME_WAIT"


def test_responder_may_close_first():
    t = established()
    assert t.segment(S, FIN | ACK, seq=50001, ack=1001) == ACCEPT
    assert t.state == "FIN_WAIT"
    assert t.segment(C, FIN | ACK, seq=1001, ack=50002) == ACCEPT
    assert t.state == "LAST_ACK"
    assert t.segment(S, ACK, seq=50002, ack=1002) == ACCEPT
    assert t.state == "TIME_WAIT"


def test_retransmitted_fin_in_last_ack_keeps_state():
    t = established()
    t.segment(C, FIN | ACK, seq=1001, ack=50001)
    t.segment(S, FIN | ACK, seq=50001, ack=1002)
    assert t.segment(S, FIN | ACK, seq=50001, ack=1002) == ACCEPT
    assert t.state == "LAST_ACK"


def test_syn_in_time_wait_reopens_the_tuple():
    # RFC 9293 3.10.7.4 (TIME-WAIT), RFC 1122 4.2.2.13: a new SYN may reopen the connection.
    t = established()
    t.segment(C, FIN | ACK, seq=1001, ack=50001)
    t.segment(S, FIN | ACK, seq=50001, ack=1002)
    t.segment(C, ACK, seq=1002, ack=50002)
    assert t.segment(C, SYN, seq=90000) == ("accept", "reopened")
    assert t.last_action == "reopen"


# ---------------------------------------------------------------- resets

def test_rst_at_the_expected_sequence_closes():
    t = established()
    t.segment(C, PSH | ACK, seq=1001, ack=50001, payload=100)
    t.segment(S, ACK, seq=50001, ack=1101)
    assert t.segment(C, RST, seq=1101) == ACCEPT
    assert t.state == "CLOSE"


def test_rst_below_what_the_peer_acknowledged_is_invalid():
    # A RST whose sequence number the receiver has already acknowledged cannot be valid.
    t = established()
    t.segment(C, PSH | ACK, seq=1001, ack=50001, payload=100)
    t.segment(S, ACK, seq=50001, ack=1101)
    assert t.segment(C, RST, seq=1050) == ("invalid", "bad-rst")
    assert t.state == "ESTABLISHED"


def test_rst_in_window_but_not_exact_keeps_the_connection():
    # RFC 5961 3.2: an in-window RST that is not exactly at RCV.NXT only draws a challenge ACK.
    t = established()
    t.segment(C, PSH | ACK, seq=1001, ack=50001, payload=100)
    t.segment(S, ACK, seq=50001, ack=1101)
    assert t.segment(C, RST, seq=1500) == ("accept", "rst-unconfirmed")
    assert t.state == "ESTABLISHED"


def test_rst_answering_an_unanswered_syn_kills_the_flow():
    # The only reply is a RST: there is no connection to keep.
    t = TcpTracker()
    t.segment(C, SYN, seq=1000)
    assert t.segment(S, RST | ACK, seq=0, ack=1001) == ACCEPT
    assert t.state == "CLOSE"
    assert t.last_action == "kill"


def test_rst_far_outside_the_window_is_invalid():
    t = established()
    assert t.segment(S, RST, seq=50001 + 10_000_000) == ("invalid", "seq-over-window")


# ---------------------------------------------------------------- ignored and resynchronised

def test_syn_inside_an_established_connection_is_ignored():
    # We may be out of sync; the receiver answers an invalid SYN with RST or a challenge ACK.
    t = established()
    assert t.segment(C, SYN, seq=777) == ("ignore", "ignored-state")
    assert t.state == "ESTABLISHED"


def test_synack_answering_an_ignored_syn_resynchronises():
    # The endpoints accepted a SYN we ignored: follow them (SYN_RECV) rather than stay stale.
    t = established()
    assert t.segment(C, SYN, seq=777_000)[0] == "ignore"
    assert t.segment(S, SYN | ACK, seq=123_000, ack=777_001) == ACCEPT
    assert t.state == "SYN_RECV"
    assert t.segment(C, ACK, seq=777_001, ack=123_001) == ACCEPT
    assert t.state == "ESTABLISHED"


def test_challenge_ack_in_last_ack_does_not_complete_the_close():
    # RFC 5961 4: a SYN in LAST_ACK draws a challenge ACK that must not pass as the last ACK.
    t = established()
    t.segment(C, FIN | ACK, seq=1001, ack=50001)
    t.segment(S, FIN | ACK, seq=50001, ack=1002)
    assert t.state == "LAST_ACK"
    assert t.segment(C, SYN, seq=5000)[0] == "ignore"
    assert t.segment(S, ACK, seq=50002, ack=1002)[0] == "ignore"
    assert t.state == "LAST_ACK"


# ---------------------------------------------------------------- pickup and impossible flags

def test_loose_mode_picks_up_a_running_connection():
    # van Rooij 4: a connection already running when we started watching.
    t = TcpTracker(loose=True)
    assert t.segment(C, PSH | ACK, seq=5000, ack=9000, payload=100) == ACCEPT
    assert t.state == "ESTABLISHED"
    assert t.segment(S, ACK, seq=9000, ack=5100) == ACCEPT
    assert t.segment(C, ACK, seq=5100, ack=9000) == ACCEPT
    assert t.assured


def test_picked_up_connection_is_liberal_about_windows():
    # The window scale options were never seen, so window failures cannot be trusted.
    t = TcpTracker(loose=True)
    t.segment(C, ACK, seq=5000, ack=9000, window=10)
    assert t.segment(C, PSH | ACK, seq=5000 + 10_000_000, ack=9000, payload=10) == ACCEPT


def test_strict_mode_refuses_to_pick_up():
    t = TcpTracker(loose=False)
    assert t.segment(C, PSH | ACK, seq=5000, ack=9000, payload=100) == ("invalid", "not-new")


@pytest.mark.parametrize("flags", [SYN | FIN, SYN | RST, 0, FIN, FIN | PSH | URG,
                                   SYN | FIN | RST | PSH | ACK | URG, SYN | FIN | ACK])
def test_impossible_flag_combinations_are_invalid(flags):
    # SYN+FIN, SYN+RST, null, FIN without ACK, Xmas: no conforming stack sends them.
    t = established()
    assert t.segment(C, flags, seq=1001, ack=50001) == ("invalid", "bad-flags")
    assert t.state == "ESTABLISHED"


@pytest.mark.parametrize("extra", [PSH, ECE, CWR, PSH | ECE | CWR])
def test_psh_ece_cwr_ride_on_any_valid_combination(extra):
    # RFC 3168 6.1: ECN bits may accompany any segment.
    t = established()
    assert t.segment(C, ACK | extra, seq=1001, ack=50001) == ACCEPT


@pytest.mark.parametrize("first", [SYN | ACK, FIN | ACK, RST, RST | ACK])
def test_segments_that_cannot_open_a_connection(first):
    t = TcpTracker(loose=True)
    assert t.segment(C, first, seq=1, ack=1) == ("invalid", "not-new")


# ---------------------------------------------------------------- the table itself

def test_transition_table_cells():
    # A few cells, read back through the Python face: the table is what the code runs on.
    assert next_state(DIR_ORIGINAL, EV_SYN, 0) == CT_SYN_SENT
    assert next_state(DIR_REPLY, EV_SYNACK, CT_SYN_SENT) == CT_SYN_RECV
    assert next_state(DIR_ORIGINAL, EV_ACK, CT_SYN_RECV) == CT_ESTABLISHED
    assert next_state(DIR_REPLY, EV_SYN, 0) == CT_INVALID
    assert next_state(DIR_ORIGINAL, EV_SYN, CT_ESTABLISHED) == CT_IGNORE
    assert next_state(DIR_ORIGINAL, EV_NONE, CT_ESTABLISHED) == CT_INVALID
    for d in (0, 1):
        for s in range(1, 10):
            assert next_state(d, EV_RST, s) == STATE_NAMES.index("CLOSE")
    with pytest.raises(ValueError):
        next_state(2, 0, 0)
