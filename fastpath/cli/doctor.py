"""``fastpath doctor``: what this system offers fastpath's kernel-facing parts, what is missing,
and how to fix each. ``fastpath doctor --cleanup`` removes what a killed fastpath left behind
(XDP programs attached through netlink, state files, lab namespaces).

Exit status: 0 when everything is present (or, with --cleanup, everything was removed), 1 when
something is missing (or could not be removed)."""
from __future__ import annotations

import errno
import json
import os
import platform
import shutil
import socket
import sys
from dataclasses import asdict, dataclass

CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN, CAP_BPF = 12, 13, 21, 39


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    needed_for: str = ""


def add_arguments(p):
    p.add_argument("--cleanup", action="store_true",
                   help="remove XDP programs, state files and lab namespaces that a killed "
                        "fastpath process left behind")
    p.add_argument("--force", action="store_true",
                   help="with --cleanup: also remove programs whose owner is still running")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--no-compile", action="store_true",
                   help="skip compiling and loading a test XDP program with bcc")


def _caps() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def _socket_check(name, family, kind, needed_for, fix_missing):
    try:
        s = socket.socket(family, kind, 0)
        s.close()
        return Check(name, True, "sockets can be created", needed_for=needed_for)
    except OSError as e:
        if e.errno in (errno.EPERM, errno.EACCES):
            return Check(name, False, "present, but this process may not open one",
                         "run as root (CAP_NET_RAW)", needed_for)
        if e.errno in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT, errno.EINVAL):
            return Check(name, False, f"the kernel does not offer it ({e.strerror})",
                         fix_missing, needed_for)
        return Check(name, False, f"socket() failed: {e.strerror}", fix_missing, needed_for)


def checks(compile_test: bool = True) -> list[Check]:
    out = []
    linux = sys.platform.startswith("linux")
    out.append(Check("linux", linux, f"{platform.system()} {platform.release()} "
                     f"({platform.machine()})",
                     "" if linux else "XDP, AF_XDP, AF_PACKET and TAP need Linux; the rest of "
                     "fastpath (parsing, captures, TCP, in-memory devices) works here",
                     "xdp, afxdp, afpacket, tap"))
    if not linux:
        return out

    root = os.geteuid() == 0
    caps = _caps()
    have = [n for n, b in (("CAP_NET_ADMIN", CAP_NET_ADMIN), ("CAP_NET_RAW", CAP_NET_RAW),
                           ("CAP_BPF", CAP_BPF), ("CAP_SYS_ADMIN", CAP_SYS_ADMIN))
            if caps >> b & 1]
    priv = root or {"CAP_NET_ADMIN", "CAP_NET_RAW"} <= set(have) and (
        "CAP_BPF" in have or "CAP_SYS_ADMIN" in have)
    out.append(Check("privileges", priv,
                     "root" if root else (f"capabilities: {', '.join(have)}" if have else
                                          "an unprivileged user"),
                     "" if priv else "run as root (sudo), or grant CAP_NET_ADMIN, CAP_NET_RAW "
                                     "and CAP_BPF", "xdp, afxdp, afpacket, tap"))

    from fastpath.xdp.syscalls import probe_bpf_syscall
    ok, msg = probe_bpf_syscall()
    out.append(Check("bpf syscall", ok, msg,
                     "" if ok else ("run as root" if "root" in msg else
                                    "use a kernel built with CONFIG_BPF_SYSCALL=y"), "xdp"))

    try:
        with open("/proc/sys/net/core/bpf_jit_enable") as fh:
            jit = fh.read().strip()
        jit_ok = jit in ("1", "2")
        out.append(Check("bpf jit", jit_ok, f"net.core.bpf_jit_enable = {jit}",
                         "" if jit_ok else "sysctl -w net.core.bpf_jit_enable=1 (the interpreter "
                                           "is many times slower)", "xdp speed"))
    except OSError:
        out.append(Check("bpf jit", False, "no /proc/sys/net/core/bpf_jit_enable",
                         "use a kernel built with CONFIG_BPF_JIT=y", "xdp speed"))

    btf = os.path.exists("/sys/kernel/btf/vmlinux")
    out.append(Check("btf", btf, "/sys/kernel/btf/vmlinux " + ("present" if btf else "absent"),
                     "" if btf else "optional for fastpath (bcc compiles against headers); "
                                    "CONFIG_DEBUG_INFO_BTF=y provides it", "optional"))

    bcc_ok = False
    try:
        from fastpath.xdp.loader import import_bcc
        bcc = import_bcc()
        ver = getattr(bcc, "__version__", "?")
        bcc_ok = True
        out.append(Check("bcc", True, f"bcc {ver} from {os.path.dirname(bcc.__file__)} "
                         f"(interpreter {sys.executable})", needed_for="xdp"))
    except Exception as e:
        out.append(Check("bcc", False, str(getattr(e, "args", [e])[0]),
                         getattr(e, "fix", "") or "apt-get install python3-bpfcc", "xdp"))

    from fastpath.xdp.loader import kernel_headers_dir
    kdir = kernel_headers_dir()
    hdr_ok = (kdir / "include").is_dir()
    where = ""
    if kdir.is_symlink():
        where = f" -> {os.path.realpath(kdir)}"
    rel = os.uname().release
    if hdr_ok and kdir.is_symlink() and rel not in os.path.realpath(kdir):
        detail = (f"{kdir}{where} (a distribution's generic headers for a kernel without its "
                  f"own package: fine for XDP programs, which use only stable UAPI)")
    else:
        detail = f"{kdir}{where}" if hdr_ok else f"nothing at {kdir}"
    out.append(Check("kernel headers", hdr_ok, detail,
                     "" if hdr_ok else f"apt-get install linux-headers-{rel}; for a custom kernel "
                                       f"with no header package, run tools/setup-env.sh as root "
                                       f"(it links Debian's generic headers there)", "xdp"))

    if compile_test and bcc_ok and hdr_ok and priv:
        try:
            from fastpath.xdp.loader import BareProgram
            with BareProgram("pass") as p:
                info = p.info
            out.append(Check("xdp program", True, f"compiled and loaded a test program "
                             f"(jited: {info['jited']})", needed_for="xdp"))
        except Exception as e:
            out.append(Check("xdp program", False, f"could not compile or load: {e}",
                             getattr(e, "fix", "") or "see the messages above", "xdp"))

    out.append(_socket_check("af_xdp", 44, socket.SOCK_RAW, "afxdp",
                             "use a kernel built with CONFIG_XDP_SOCKETS=y"))
    out.append(_socket_check("af_packet", getattr(socket, "AF_PACKET", 17), socket.SOCK_RAW,
                             "afpacket", "use a kernel built with CONFIG_PACKET=y"))
    tun = "/dev/net/tun"
    if not os.path.exists(tun):
        out.append(Check("tun", False, f"{tun} is missing",
                         "modprobe tun, or mknod /dev/net/tun c 10 200", "tap"))
    else:
        try:
            fd = os.open(tun, os.O_RDWR)
            os.close(fd)
            out.append(Check("tun", True, f"{tun} opens", needed_for="tap"))
        except OSError as e:
            out.append(Check("tun", False, f"{tun}: {e.strerror}",
                             "run as root (CAP_NET_ADMIN)", "tap"))
    ip = shutil.which("ip")
    out.append(Check("iproute2", ip is not None, ip or "no 'ip' command",
                     "" if ip else "apt-get install iproute2", "labs, tests, doctor --cleanup"))
    major, minor = (int(x) for x in (os.uname().release.split(".")[:2]))
    live = (major, minor) >= (5, 18)
    out.append(Check("live frames", live, f"kernel {major}.{minor}: BPF_PROG_RUN "
                     f"{'can' if live else 'cannot'} generate traffic in the kernel",
                     "" if live else "benchmarks need Linux 5.18+", "benchmarks"))
    return out


def _leftovers():
    try:
        from fastpath.xdp.cleanup import scan
        return scan()
    except Exception:
        return []


def run(args) -> int:
    if args.cleanup:
        return _run_cleanup(args)
    result = checks(compile_test=not args.no_compile)
    left = _leftovers() if sys.platform.startswith("linux") else []
    if args.json:
        print(json.dumps({"checks": [asdict(c) for c in result],
                          "leftovers": [str(x) for x in left]}, indent=2))
    else:
        width = max(len(c.name) for c in result)
        for c in result:
            mark = "ok     " if c.ok else "MISSING"
            print(f"  {mark}  {c.name:<{width}}  {c.detail}")
            if not c.ok and c.fix:
                print(f"  {'':7}  {'':<{width}}  fix: {c.fix}")
        if left:
            print("\nleft behind by fastpath processes (remove with 'fastpath doctor --cleanup'):")
            for x in left:
                print(f"  {x}")
        missing = [c.name for c in result if not c.ok and c.needed_for != "optional"]
        print("\n" + ("everything fastpath uses is here" if not missing else
                      f"missing: {', '.join(missing)} (the rest of fastpath works without them)"))
    return 0 if all(c.ok or c.needed_for == "optional" for c in result) else 1


def _run_cleanup(args) -> int:
    if not sys.platform.startswith("linux"):
        print("nothing to clean up: fastpath attaches nothing outside Linux")
        return 0
    if os.geteuid() != 0:
        print("fastpath doctor --cleanup: needs root to detach programs and remove namespaces "
              "(run with sudo)", file=sys.stderr)
        return 1
    from fastpath.xdp.cleanup import cleanup
    results = cleanup(force=args.force)
    if args.json:
        print(json.dumps([{"item": str(i), "removed": ok, "result": msg}
                          for i, ok, msg in results], indent=2))
    elif not results:
        print("nothing left behind")
    else:
        for item, ok, msg in results:
            print(f"  {'removed' if ok else 'kept   '}  {item}: {msg}")
    return 0 if all(ok for _, ok, _ in results) else 1
