"""eBPF/XDP for fastpath: the steering program (rules deciding pass / drop / redirect to the
engine's AF_XDP socket), the fault injector, and the loader that compiles them with bcc,
attaches them (native, generic as the fallback) and always detaches them.

Importing this package needs nothing: bcc is imported when a program is built, and a missing
bcc, root or Linux is an ``UnavailableError`` / ``PrivilegeError`` saying what to do.

    from fastpath.xdp import Steering
    with Steering(default="pass") as st:
        st.add_rule("redirect udp dport 9999")
        st.attach("eth0")
"""
from fastpath.xdp.loader import (BareProgram, XdpProgram, bpf_source_dir,  # noqa: F401
                                 install_signal_handlers)
from fastpath.xdp.rules import Rule, parse_rule, parse_rules  # noqa: F401
from fastpath.xdp.steering import InstalledRule, Steering  # noqa: F401
from fastpath.xdp.fault import XdpFaultInjector  # noqa: F401

__all__ = ["Steering", "XdpFaultInjector", "BareProgram", "XdpProgram", "Rule", "InstalledRule",
           "parse_rule", "parse_rules", "bpf_source_dir", "install_signal_handlers"]
