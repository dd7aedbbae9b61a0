"""Initial sequence numbers (RFC 6528) and the keyed hash under them and the SYN cookies."""
from fastpath.tcp import TcpConnection, TcpConfig, TcpStack
from fastpath.tcp.isn import siphash
from tcpvocab import *


def test_isn_siphash_reference_vectors():
    # SipHash-2-4 (Aumasson & Bernstein), key 00..0f: the paper's vectors for 0 and 15 bytes.
    key = bytes(range(16))
    assert siphash(key, b"") == 0x726FDB47DD0E0E31
    assert siphash(key, bytes(range(15))) == 0xA129CA6149BE45E5


def isn(port, now):
    c = TcpConnection(("10.0.0.1", port), ("10.0.0.2", 80), BASE)
    return c.connect(now)[0].seq


def test_isn_advances_with_a_4us_clock():
    # RFC 6528 3: ISN = M + F(4-tuple, secret), M a timer ticking every 4 microseconds.
    assert (isn(1000, 4_000_000) - isn(1000, 0)) % 2 ** 32 == 1_000_000


def test_isn_differs_per_connection_id():
    # RFC 6528 3: F depends on the 4-tuple, so ISNs of different connections are unrelated.
    values = {isn(port, 0) for port in range(1000, 1100)}
    assert len(values) == 100


def test_isn_depends_on_a_per_stack_secret():
    # RFC 6528 3: the secret key makes F unpredictable to an outsider; two hosts (different
    # secrets) choose different ISNs for the same 4-tuple at the same time.
    def first_seq(seed):
        st = TcpStack("10.0.0.1", BASE, seed=seed)
        st.connect(0, ("10.0.0.2", 80), local_port=1234)
        return from_frame(st.transmit()[0])[2].seq
    assert first_seq(1) != first_seq(2)
    assert first_seq(1) == first_seq(1)             # and a seeded stack is reproducible
