"""Failure-path testing in the spirit of nfsim's failtest: every allocation and queue insertion
the core makes can be forced to fail. A scenario is run once counting those sites, then once
per site with exactly that one failing: every run must end consistent (invariants hold, no
byte delivered wrongly) and either complete or fail with a clear error."""
import pytest

from fastpath.errors import AllocationFailed, CapacityError, ConnectionClosed
from fastpath.tcp import Simulation, TcpConfig, TcpConnection, State, failpoint
from tcpvocab import *

SITES = ("conn_alloc", "sndbuf_alloc", "rcvbuf_alloc", "ooo_insert", "sack_insert",
         "syn_queue", "accept_queue", "table_insert", "tx_alloc")


@pytest.fixture(autouse=True)
def failpoints_off():
    failpoint.set_off()
    yield
    failpoint.set_off()


def scenario():
    """A connection with loss and reordering (so out-of-order and SACK ranges are made), data
    both ways, an orderly close. Returns the transfer result, or the exception it raised."""
    sim = Simulation(TcpConfig(rto_min_us=200_000, sndbuf=16384, rcvbuf=16384), seed=21,
                     loss=0.05, reorder=0.2, reorder_delay_us=400)
    try:
        r = sim.transfer(40_000, 20_000, max_time_us=3600 * 1_000_000)
    except (AllocationFailed, CapacityError) as e:
        r = e
    sim.a.check()
    sim.b.check()
    return r


def test_failtest_scenario_passes_every_site():
    failpoint.set_count()
    r = scenario()
    calls, failures, _, per_site = failpoint.stats()
    assert failures == 0 and r["b_received"] == 40_000
    # The scenario passes every kind of site.
    for s in SITES:
        assert per_site[s] > 0, (s, per_site)


def test_failtest_every_single_failure_is_survived():
    failpoint.set_count()
    scenario()
    total = failpoint.stats()[0]
    assert total > 50
    outcomes = {}
    for n in range(1, total + 1):
        failpoint.set_fail_nth(n)
        r = scenario()
        calls, failures, site, _ = failpoint.stats()
        assert failures == 1, f"call {n} did not fail"
        if isinstance(r, Exception):
            # A failure the application must hear about: a clear message, nothing half-made.
            assert "connect" in str(r) and ("memory" in str(r) or "full" in str(r)), str(r)
            outcomes.setdefault(site, set()).add(type(r).__name__)
            continue
        # Otherwise the connection recovered by itself: every byte once, in order.
        assert r["a_mismatches"] == 0 and r["b_mismatches"] == 0, (n, site, r)
        assert (r["b_received"], r["a_received"]) == (40_000, 20_000), (n, site, r)
        assert r["a_error"] is None and r["b_error"] is None, (n, site, r)
        outcomes.setdefault(site, set()).add("recovered")
    # Every kind of site was failed at least once.
    assert set(outcomes) == set(SITES), outcomes
    # Only the client's own connection block surfaces as an error (connect cannot proceed);
    # buffers, queues, ranges and the device are recovered from.
    assert outcomes["conn_alloc"] >= {"AllocationFailed"}
    for site in ("sndbuf_alloc", "rcvbuf_alloc", "ooo_insert", "sack_insert", "syn_queue",
                 "accept_queue", "tx_alloc"):
        assert outcomes[site] == {"recovered"}, (site, outcomes[site])


def test_failtest_send_without_memory_is_a_clear_error():
    # Buffers are allocated on first use: when the send buffer cannot be had, SEND says so
    # (AllocationFailed), nothing is queued, and a later SEND works.
    conn = established()
    failpoint.set_fail_site("sndbuf_alloc")
    with pytest.raises(AllocationFailed, match="out of memory"):
        conn.send(b"data")
    assert conn.send_buffered == 0 and conn.state == State.ESTABLISHED
    conn.check()
    failpoint.set_off()
    assert conn.send(b"data") == 4
    one(recv(conn), payload=b"data")


def test_failtest_receive_without_memory_drops_and_recovers():
    # The receive buffer cannot be had when the first data arrives: the segment is dropped
    # (and answered with an ACK for what we have); its retransmission gets in.
    conn = established()
    failpoint.set_fail_site("rcvbuf_alloc")
    one(send(conn, seg(R, L, payload=b"hello")), flags=ACK, ack=R)
    assert conn.recv() == b""
    failpoint.set_off()
    one(send(conn, seg(R, L, payload=b"hello")), flags=ACK, ack=R + 5)
    assert conn.recv() == b"hello"


def test_failtest_stack_connect_without_memory_is_a_clear_error():
    from fastpath.tcp import TcpStack
    st = TcpStack("10.9.0.1", BASE, seed=1)
    for site in ("conn_alloc", "table_insert"):
        failpoint.set_fail_site(site)
        with pytest.raises((AllocationFailed, CapacityError)):
            st.connect(0, ("10.9.0.2", 80))
        assert st.connections == 0
        st.check()
    failpoint.set_off()
    st.connect(0, ("10.9.0.2", 80))
    assert st.connections == 1


def test_failtest_refusing_device_delays_but_loses_nothing():
    # The device refuses every frame for a while: the core keeps its segments due and
    # retries; nothing is lost and the state stays consistent.
    conn = established()
    conn.refuse_output = True
    conn.send(b"held back")
    nothing(recv(conn))
    conn.check()
    assert conn.poll_at() == T0 + 1000               # retry soon
    conn.refuse_output = False
    one(recv(conn, T0 + 1000), payload=b"held back", seq=L)


def churn_scenario():
    # No loss here: with a lossy link a forced SYN cookie whose returning ACK is lost can
    # legitimately end in a reset (later segments cannot prove the cookie; RFC 9293 3.10.7.2
    # answers them with RST, as Linux does), which would blur what this test checks.
    sim = Simulation(TcpConfig(rto_min_us=200_000), seed=22, max_timewait=8)
    r = sim.churn(30, concurrency=4, request=3000)
    sim.a.check()
    sim.b.check()
    return r


def test_failtest_every_single_failure_in_connection_churn():
    # Many short connections at once (listener queues, TIME-WAIT recycling, both tables):
    # each single failure either costs exactly that one connect (a clear error to the
    # application) or is recovered from.
    failpoint.set_count()
    base = churn_scenario()
    assert base["completed"] == 30
    total = failpoint.stats()[0]
    for n in range(1, total + 1):
        failpoint.set_fail_nth(n)
        r = churn_scenario()
        site = failpoint.stats()[2]
        assert r["completed"] + r["failed"] == 30, (n, site, r)
        assert r["failed"] == r["connect_errors"] <= 1, (n, site, r)
