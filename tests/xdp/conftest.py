"""Fixtures of the XDP tests. Everything here loads programs into the kernel: it needs Linux,
root, bcc (Debian python3-bpfcc) and kernel headers, and skips with the reason otherwise."""
import os
import shutil
import sys

import pytest

from support import is_linux, is_root

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "io"))
sys.path.insert(0, HERE)


def bpf_skip_reason():
    if not is_linux():
        return f"needs Linux (this is {sys.platform})"
    if not is_root():
        return "needs root to load XDP programs (run the suite as root, as CI does)"
    try:
        import bcc  # noqa: F401
    except Exception as e:
        return f"needs bcc (Debian python3-bpfcc, seen by this interpreter): {e}"
    if not os.path.isdir(f"/lib/modules/{os.uname().release}/build/include"):
        return (f"needs kernel headers at /lib/modules/{os.uname().release}/build "
                f"(tools/setup-env.sh provides them as root)")
    return None


def netns_skip_reason():
    r = bpf_skip_reason()
    if r:
        return r
    if shutil.which("ip") is None:
        return "needs the 'ip' command (iproute2)"
    return None


@pytest.fixture(scope="session")
def bpf_ok():
    r = bpf_skip_reason()
    if r:
        pytest.skip(r)


@pytest.fixture(scope="session")
def netns_ok():
    r = netns_skip_reason()
    if r:
        pytest.skip(r)


@pytest.fixture(scope="module")
def steering_module(bpf_ok):
    from fastpath.xdp import Steering
    st = Steering(max_rules=64, max_flows=64, max_prefixes=64)
    yield st
    st.close()


@pytest.fixture
def steering(steering_module):
    """A loaded (not attached) steering program with no rules, pass/pass defaults and zeroed
    counters; shared by the tests of a module (bcc takes a second or two to compile it)."""
    st = steering_module
    st.clear_rules()
    st.set_default("pass")
    st.set_other("pass")
    st.reset_stats()
    yield st
    st.clear_rules()


@pytest.fixture
def lab(netns_ok):
    from fastpath.io.netns import Lab
    with Lab.create(outer_address=True, tag="-xdp") as lab:
        yield lab
