"""Timestamps and PAWS in ESTABLISHED (RFC 7323 3-5)."""
from tcpvocab import *

TS_CFG = config(timestamps=True)


def ts_conn(peer_ts=100):
    # Handshake: our TSval clock is now // 1000 (offset 0); the peer starts at peer_ts.
    return established(TS_CFG, timestamp=(peer_ts, 0))


def test_options_every_segment_carries_a_timestamp():
    # RFC 7323 3.2: once negotiated, TSopt in every non-RST segment; TSecr = TS.Recent.
    conn = ts_conn()
    conn.send(b"d")
    one(recv(conn, T0 + 5000), timestamp=((T0 + 5000) // 1000, 100))


def test_options_ts_recent_follows_in_sequence_segments():
    # RFC 7323 4.3: TS.Recent takes SEG.TSval of in-sequence segments.
    conn = ts_conn()
    one(send(conn, seg(R, L, payload=b"a", timestamp=(150, 0))), timestamp=(T0 // 1000, 150))
    assert conn.ts_recent == 150


def test_options_paws_drops_an_old_timestamp():
    # RFC 7323 5.3 R1: SEG.TSval < TS.Recent: an old duplicate; send an ACK, drop it.
    conn = ts_conn()
    send(conn, seg(R, L, payload=b"a", timestamp=(150, 0)))
    one(send(conn, seg(R + 1, L, payload=b"old", timestamp=(149, 0))), flags=ACK, ack=R + 1)
    assert conn.recv() == b"a"


def test_options_paws_accepts_timestamps_across_the_wrap():
    # RFC 7323 5.2: timestamps compare modulo 2^32 like sequence numbers.
    conn = established(TS_CFG, timestamp=(0xFFFF_FFF0, 0))
    one(send(conn, seg(R, L, payload=b"w", timestamp=(5, 0))), ack=R + 1)
    assert conn.ts_recent == 5


def test_options_paws_does_not_apply_to_rst():
    # RFC 7323 5.3 R1 ("and the RST bit is off"): an RST is judged by its sequence number.
    conn = ts_conn()
    send(conn, seg(R, L, payload=b"a", timestamp=(150, 0)))
    nothing(send(conn, seg(R + 1, flags=RST)))
    assert conn.state == State.CLOSED


def test_options_segment_without_timestamp_is_dropped():
    # RFC 7323 3.2: a non-RST segment without TSopt on a timestamp connection is dropped.
    conn = ts_conn()
    nothing(send(conn, seg(R, L, payload=b"bare")))
    assert conn.recv_buffered == 0


def test_options_paws_forgets_a_timestamp_older_than_24_days():
    # RFC 7323 5.5: after 24 days idle TS.Recent is invalid and the segment is accepted.
    conn = ts_conn()
    send(conn, seg(R, L, payload=b"a", timestamp=(150, 0)))
    later = T0 + 25 * 24 * 3600 * 1_000_000
    one(send(conn, seg(R + 1, L, payload=b"b", timestamp=(10, 0)), now=later), ack=R + 2)


def test_options_timestamp_echo_times_a_retransmission():
    # RFC 7323 4.1: TSecr measures the RTT even for retransmitted data (where Karn's rule
    # gives none), when it echoes a transmission made after the retransmission.
    conn = ts_conn()
    conn.send(b"x" * 100)
    recv(conn)
    rtx = one(recv(conn, T0 + 200_000), seq=L)
    send(conn, seg(R, L + 100, timestamp=(160, rtx.timestamp[0])), now=T0 + 230_000)
    # A 30 ms sample (1 ms clock, counted from the middle of the tick) joins SRTT = 10 ms,
    # and the backed-off RTO comes back to the minimum.
    assert conn.srtt_us == (7 * 10_000 + 30_500) // 8
    assert conn.rto_us == 200_000


def test_options_mss_excludes_timestamp_bytes():
    # RFC 6691: with timestamps on every segment, payload = MSS - 12.
    conn = established(config(timestamps=True, nodelay=True), timestamp=(100, 0))
    conn.send(b"m" * 3000)
    assert [len(s.payload) for s in recv(conn)] == [1448, 1448, 104]
