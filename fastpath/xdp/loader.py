"""Compile fastpath's XDP programs with bcc, attach them, and always detach them.

Attachment goes through a BPF link by default (``via="link"``): the kernel detaches the program
when the link's file descriptor closes, so a process killed with SIGKILL cannot leave it behind.
``via="netlink"`` (what bcc's ``attach_xdp`` does; also the fallback on kernels without XDP
links, before 5.9) survives the process: fastpath then detaches at exit and on SIGTERM/SIGINT
(see ``install_signal_handlers``), writes a state file under ``/run/fastpath``, and
``fastpath doctor --cleanup`` removes what a killed process left.

Mode: ``"native"`` (driver) XDP with ``"generic"`` (skb) as the fallback when ``mode="auto"``.
"""
from __future__ import annotations

import atexit
import contextlib
import ctypes as ct
import errno as _errno
import json
import os
import signal
import socket
import sys
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from fastpath.errors import ConfigError, PrivilegeError, UnavailableError
from fastpath.xdp import syscalls as sc

STATE_DIR = Path(os.environ.get("FASTPATH_RUN_DIR", "/run/fastpath"))
PROGRAM_PREFIX = "fp_"          # every fastpath XDP function name starts with this


# ---------------------------------------------------------------- finding things
def bpf_source_dir() -> Path:
    """Where the programs' C sources are: $FASTPATH_BPF_DIR, the installed package's copy
    (fastpath/xdp/bpf), or the checkout's top-level bpf/."""
    env = os.environ.get("FASTPATH_BPF_DIR")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve().parent
    candidates += [here / "bpf", here.parents[1] / "bpf"]
    for c in candidates:
        if (c / "fastpath_shared.h").is_file():
            return c
    raise UnavailableError("the XDP program sources (fastpath_shared.h, steer.c, ...) are missing",
                           fix="reinstall fastpath, or set FASTPATH_BPF_DIR to the bpf/ directory")


def kernel_headers_dir() -> Path:
    return Path(f"/lib/modules/{os.uname().release}/build")


def import_bcc():
    """The bcc module, or UnavailableError saying how to get it."""
    if not sys.platform.startswith("linux"):
        raise UnavailableError(f"XDP needs Linux (this is {sys.platform})",
                               fix="the rest of fastpath works here; XDP does not")
    try:
        import bcc  # noqa: F401
        from bcc import BPF  # noqa: F401
    except ImportError as e:
        raise UnavailableError(
            f"bcc is not importable from {sys.executable} ({e})",
            fix="install Debian's python3-bpfcc (apt-get install python3-bpfcc; never PyPI's "
                "unrelated 'bcc') and use an interpreter that sees it: /usr/bin/python3, or a "
                "venv made with --system-site-packages ('make setup' does this)") from None
    except Exception as e:   # libbcc.so missing or broken
        raise UnavailableError(f"bcc failed to load: {e}",
                               fix="reinstall libbpfcc and python3-bpfcc") from None
    return bcc


def require_privileges(what: str = "loading XDP programs") -> None:
    if os.geteuid() != 0:
        raise PrivilegeError(f"{what} needs root (CAP_BPF and CAP_NET_ADMIN)",
                             fix="run as root, e.g. sudo .venv/bin/fastpath ...")


def require_kernel_headers() -> None:
    inc = kernel_headers_dir() / "include"
    if not inc.is_dir():
        raise UnavailableError(
            f"no kernel headers at {kernel_headers_dir()} (bcc compiles against them)",
            fix=f"install linux-headers-{os.uname().release}; on a custom kernel without a "
                f"header package, run tools/setup-env.sh as root (it links Debian's generic "
                f"headers there); 'fastpath doctor' shows the state")


def _netns_inode() -> int:
    try:
        return os.stat("/proc/thread-self/ns/net").st_ino
    except OSError:
        return 0


def _ifindex(ifname: str) -> int:
    try:
        return socket.if_nametoindex(ifname)
    except OSError:
        raise ConfigError(f"no network interface named {ifname!r} in this network namespace "
                          f"(see 'ip link')") from None


# ---------------------------------------------------------------- attachments
@dataclass
class Attachment:
    ifname: str
    ifindex: int
    mode: str                    # "native" or "generic"
    via: str                     # "link" or "netlink"
    link_fd: int = -1
    netns_fd: int = -1           # netlink attachments: where to go back to detach
    state_file: Optional[Path] = None
    attached_at: float = field(default_factory=time.time)

    @property
    def flags(self) -> int:
        return sc.XDP_FLAGS_DRV_MODE if self.mode == "native" else sc.XDP_FLAGS_SKB_MODE


_live_programs: "weakref.WeakSet[XdpProgram]" = weakref.WeakSet()
_atexit_done = False


def _detach_everything():
    for prog in list(_live_programs):
        try:
            prog.detach()
        except Exception:
            pass


def install_signal_handlers(signals=(signal.SIGTERM, signal.SIGHUP)) -> None:
    """Turn SIGTERM (and SIGHUP) into SystemExit so ``with`` blocks and atexit handlers run and
    detach XDP programs. SIGINT already raises KeyboardInterrupt. Call from the main thread of
    an engine process; libraries should not call this on their own."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    for s in signals:
        signal.signal(s, handler)


class XdpProgram:
    """One XDP function of one source file in ``bpf/``, compiled by bcc and loaded."""
    SOURCE = ""
    FUNCTION = ""

    def __init__(self, *, defines: Optional[dict] = None, source: Optional[str] = None,
                 function: Optional[str] = None, debug: int = 0):
        global _atexit_done
        self.source = source or self.SOURCE
        self.function = function or self.FUNCTION
        if not self.function.startswith(PROGRAM_PREFIX):
            raise ConfigError(f"fastpath XDP functions are named {PROGRAM_PREFIX}*, not "
                              f"{self.function!r} (doctor --cleanup recognises them by it)")
        bcc = import_bcc()
        require_privileges()
        require_kernel_headers()
        srcdir = bpf_source_dir()
        path = srcdir / self.source
        if not path.is_file():
            raise UnavailableError(f"XDP source {path} is missing", fix="reinstall fastpath")
        cflags = [f"-I{srcdir}"]
        self.defines = dict(defines or {})
        for k, v in self.defines.items():
            cflags.append(f"-D{k}={int(v)}")
        self._attachments: dict[tuple[int, str], Attachment] = {}
        self.bpf = None
        try:
            self.bpf = bcc.BPF(src_file=str(path).encode(), cflags=cflags, debug=debug)
        except Exception as e:
            raise UnavailableError(
                f"bcc could not compile {path.name}: {e}",
                fix="see the compiler messages above; 'fastpath doctor' checks the kernel "
                    "headers") from None
        try:
            self.fn = self.bpf.load_func(self.function.encode(), bcc.BPF.XDP)
        except Exception as e:
            msg = str(e)
            if "Permission denied" in msg or "Operation not permitted" in msg:
                raise PrivilegeError(f"the kernel refused to load {self.function}: {msg}",
                                     fix="run as root; if you are root, the verifier log above "
                                         "says what it rejected") from None
            raise UnavailableError(f"loading {self.function} failed: {msg}") from None
        self.fd = self.fn.fd
        self.info = sc.prog_info(self.fd)
        _live_programs.add(self)
        if not _atexit_done:
            atexit.register(_detach_everything)
            _atexit_done = True

    # ---- maps
    def table(self, name: str):
        return self.bpf.get_table(name.encode() if isinstance(name, str) else name)

    # ---- attach / detach
    def attach(self, ifname: str, *, mode: str = "auto", via: str = "link") -> Attachment:
        """Attach to ``ifname`` (in the calling thread's network namespace)."""
        if mode not in ("auto", "native", "generic"):
            raise ConfigError(f"mode must be auto, native or generic, not {mode!r}")
        if via not in ("link", "netlink"):
            raise ConfigError(f"via must be link or netlink, not {via!r}")
        ifindex = _ifindex(ifname)
        key = (_netns_inode(), ifname)
        if key in self._attachments:
            raise ConfigError(f"{self.function} is already attached to {ifname}")
        modes = ["native", "generic"] if mode == "auto" else [mode]
        try:
            return self._attach_modes(ifname, ifindex, key, modes, via)
        except UnavailableError:
            if via != "link" or not self._links_unsupported:
                raise
        # Kernels before 5.9 have no XDP links: attach through netlink, which outlives the
        # process (the state file lets 'fastpath doctor --cleanup' find it).
        return self._attach_modes(ifname, ifindex, key, modes, "netlink")

    _links_unsupported = False

    def _attach_modes(self, ifname, ifindex, key, modes, via) -> Attachment:
        last = None
        self._links_unsupported = via == "link"
        for m in modes:
            flags = sc.XDP_FLAGS_DRV_MODE if m == "native" else sc.XDP_FLAGS_SKB_MODE
            try:
                if via == "link":
                    att = self._attach_link(ifname, ifindex, m, flags)
                else:
                    att = self._attach_netlink(ifname, ifindex, m, flags)
            except OSError as e:
                last = e
                if e.errno not in (_errno.EINVAL, _errno.ENOSYS):
                    self._links_unsupported = False
                if e.errno in (_errno.EOPNOTSUPP, _errno.EINVAL, _errno.ERANGE) and m != modes[-1]:
                    continue       # the driver has no native XDP (or not for this MTU)
                self._raise_attach_error(ifname, m, e)
            self._attachments[key] = att
            self._write_state(att)
            return att
        self._raise_attach_error(ifname, modes[-1], last)

    def _attach_link(self, ifname, ifindex, mode, flags) -> Attachment:
        fd = sc.link_create_xdp(self.fd, ifindex, flags)
        os.set_inheritable(fd, False)
        return Attachment(ifname, ifindex, mode, "link", link_fd=fd)

    def _attach_netlink(self, ifname, ifindex, mode, flags) -> Attachment:
        from bcc import BPF
        try:
            BPF.attach_xdp(ifname.encode(), self.fn, flags | sc.XDP_FLAGS_UPDATE_IF_NOEXIST)
        except Exception as e:
            err = ct.get_errno() or _errno.EINVAL
            raise OSError(err, str(e)) from None
        nsfd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        return Attachment(ifname, ifindex, mode, "netlink", netns_fd=nsfd)

    def _raise_attach_error(self, ifname, mode, e):
        err = getattr(e, "errno", None)
        if err in (_errno.EPERM, _errno.EACCES):
            raise PrivilegeError(f"attaching XDP to {ifname} was refused",
                                 fix="run as root (CAP_NET_ADMIN)") from None
        if err in (_errno.EBUSY, _errno.EEXIST):
            raise ConfigError(f"{ifname} already has an XDP program attached ({mode} mode); "
                              f"detach it ('ip link set dev {ifname} xdp off') or run "
                              f"'fastpath doctor --cleanup' if fastpath left it") from None
        if err == _errno.ENODEV:
            raise ConfigError(f"no network interface named {ifname!r}") from None
        raise UnavailableError(f"cannot attach {self.function} to {ifname} in {mode} mode: "
                               f"{getattr(e, 'strerror', None) or e}",
                               fix="try mode='generic'; 'fastpath doctor' checks XDP support") from None

    def _write_state(self, att: Attachment) -> None:
        try:
            STATE_DIR.mkdir(parents=True, exist_ok=True)
            path = STATE_DIR / f"xdp-{_netns_inode()}-{att.ifname}.json"
            path.write_text(json.dumps({
                "pid": os.getpid(), "ifname": att.ifname, "ifindex": att.ifindex,
                "netns_inode": _netns_inode(), "mode": att.mode, "via": att.via,
                "program": self.function, "prog_id": self.info["id"],
                "attached_at": att.attached_at}))
            att.state_file = path
        except OSError:
            att.state_file = None      # only a help for doctor; attaching does not depend on it

    def detach(self, ifname: Optional[str] = None) -> None:
        """Detach from ``ifname`` (any namespace), or from every interface. Idempotent."""
        for key, att in list(self._attachments.items()):
            if ifname is not None and att.ifname != ifname:
                continue
            del self._attachments[key]
            self._detach_one(att)

    def _detach_one(self, att: Attachment) -> None:
        try:
            if att.via == "link":
                if att.link_fd >= 0:
                    os.close(att.link_fd)
                    att.link_fd = -1
            else:
                from bcc import BPF
                orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
                try:
                    from fastpath.io.netns import _setns
                    _setns(att.netns_fd)
                    try:
                        BPF.remove_xdp(att.ifname.encode(), att.flags)
                    except Exception:
                        pass           # already gone (interface deleted)
                    finally:
                        _setns(orig)
                finally:
                    os.close(orig)
                    os.close(att.netns_fd)
                    att.netns_fd = -1
        finally:
            if att.state_file is not None:
                with contextlib.suppress(OSError):
                    att.state_file.unlink()

    @property
    def attachments(self) -> list[Attachment]:
        return list(self._attachments.values())

    # ---- running it without traffic
    def test_run(self, frame: bytes, *, repeat: int = 1, ifindex: int = 0,
                 rx_queue: int = 0) -> sc.TestRunResult:
        """BPF_PROG_TEST_RUN: the verdict and the frame as the program left it."""
        return sc.prog_test_run(self.fd, frame, repeat=repeat, ifindex=ifindex,
                                rx_queue=rx_queue)

    def generate(self, frame: bytes, count: int, *, ifname: str, rx_queue: int = 0,
                 batch_size: int = 0) -> sc.TestRunResult:
        """Push ``count`` copies of ``frame`` through ``ifname``'s XDP path with this program
        as if they had arrived there (BPF_PROG_RUN live frames; Linux 5.18+). The program does
        not need to be attached."""
        return sc.prog_test_run(self.fd, frame, repeat=count, ifindex=_ifindex(ifname),
                                rx_queue=rx_queue, live=True, batch_size=batch_size)

    # ---- lifetime
    def close(self) -> None:
        self.detach()
        _live_programs.discard(self)
        if self.bpf is not None:
            try:
                self.bpf.cleanup()
            except Exception:
                pass
            self.bpf = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.detach()
        except Exception:
            pass


class BareProgram(XdpProgram):
    """``fp_drop`` or ``fp_pass`` from bpf/baseline.c."""
    SOURCE = "baseline.c"

    def __init__(self, verdict: str = "drop"):
        if verdict not in ("drop", "pass"):
            raise ConfigError("a bare program drops or passes")
        super().__init__(function=f"fp_{verdict}")
