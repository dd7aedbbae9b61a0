"""The few bpf(2) commands fastpath issues itself, through ctypes (no compiled code, no bcc):

* ``prog_test_run`` -- BPF_PROG_TEST_RUN, including live frames (BPF_F_TEST_XDP_LIVE_FRAMES),
  the in-kernel packet generator the benchmarks use;
* ``link_create_xdp`` -- attach through a BPF link, which the kernel removes when the last file
  descriptor closes: a killed process cannot leave its program attached;
* ``prog_info`` / ``prog_fd_by_id`` -- identify attached programs (``fastpath doctor``).

bcc 0.26 offers none of these with the options fastpath needs (live frames, links).
"""
from __future__ import annotations

import ctypes as ct
import os
import platform
import sys

from fastpath.errors import ConfigError, PrivilegeError, UnavailableError

BPF_MAP_CREATE = 0
BPF_PROG_LOAD = 5
BPF_PROG_TEST_RUN = 10
BPF_PROG_GET_FD_BY_ID = 13
BPF_OBJ_GET_INFO_BY_FD = 15
BPF_LINK_CREATE = 28
BPF_LINK_DETACH = 34

BPF_XDP = 37                      # enum bpf_attach_type
BPF_PROG_TYPE_XDP = 6
BPF_MAP_TYPE_ARRAY = 2

BPF_F_TEST_RUN_ON_CPU = 1 << 0
BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1

XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0
XDP_FLAGS_SKB_MODE = 1 << 1
XDP_FLAGS_DRV_MODE = 1 << 2

XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = range(5)
XDP_ACTION_NAMES = {XDP_ABORTED: "aborted", XDP_DROP: "drop", XDP_PASS: "pass", XDP_TX: "tx",
                    XDP_REDIRECT: "redirect"}

_SYS_BPF = {"x86_64": 321, "aarch64": 280, "armv7l": 386, "riscv64": 280, "ppc64le": 361,
            "s390x": 351, "i686": 357}

_libc = None


def _syscall_nr() -> int:
    if not sys.platform.startswith("linux"):
        raise UnavailableError(f"eBPF needs Linux (this is {sys.platform})")
    nr = _SYS_BPF.get(platform.machine())
    if nr is None:
        raise UnavailableError(f"fastpath does not know the bpf syscall number on "
                               f"{platform.machine()}")
    return nr


def bpf(cmd: int, attr: ct.Structure) -> int:
    """bpf(cmd, &attr, sizeof(attr)); returns the result or raises OSError with errno."""
    global _libc
    nr = _syscall_nr()
    if _libc is None:
        _libc = ct.CDLL(None, use_errno=True)
        _libc.syscall.restype = ct.c_long
    r = _libc.syscall(ct.c_long(nr), ct.c_long(cmd), ct.byref(attr), ct.c_uint(ct.sizeof(attr)))
    if r < 0:
        err = ct.get_errno()
        raise OSError(err, os.strerror(err))
    return r


class _TestRunAttr(ct.Structure):
    _fields_ = [("prog_fd", ct.c_uint32), ("retval", ct.c_uint32),
                ("data_size_in", ct.c_uint32), ("data_size_out", ct.c_uint32),
                ("data_in", ct.c_uint64), ("data_out", ct.c_uint64),
                ("repeat", ct.c_uint32), ("duration", ct.c_uint32),
                ("ctx_size_in", ct.c_uint32), ("ctx_size_out", ct.c_uint32),
                ("ctx_in", ct.c_uint64), ("ctx_out", ct.c_uint64),
                ("flags", ct.c_uint32), ("cpu", ct.c_uint32), ("batch_size", ct.c_uint32),
                ("_pad", ct.c_uint32)]


class XdpMd(ct.Structure):
    """struct xdp_md as BPF_PROG_TEST_RUN takes it (data fields are offsets)."""
    _fields_ = [("data", ct.c_uint32), ("data_end", ct.c_uint32), ("data_meta", ct.c_uint32),
                ("ingress_ifindex", ct.c_uint32), ("rx_queue_index", ct.c_uint32),
                ("egress_ifindex", ct.c_uint32)]


class TestRunResult:
    __slots__ = ("retval", "data", "duration_ns")

    def __init__(self, retval, data, duration_ns):
        self.retval = retval
        self.data = data
        self.duration_ns = duration_ns

    @property
    def action(self) -> str:
        return XDP_ACTION_NAMES.get(self.retval, str(self.retval))

    def __repr__(self):
        return f"TestRunResult({self.action}, {len(self.data)} bytes, {self.duration_ns} ns)"


def prog_test_run(prog_fd: int, frame: bytes, *, repeat: int = 1, ifindex: int = 0,
                  rx_queue: int = 0, live: bool = False, batch_size: int = 0) -> TestRunResult:
    """Run an XDP program on ``frame``.

    Normal mode returns the program's verdict and the frame as the program left it. ``live``
    mode (Linux 5.18+) sends the frame ``repeat`` times through the real XDP path of interface
    ``ifindex`` -- XDP_TX transmits, XDP_REDIRECT redirects, XDP_PASS enters the stack -- which
    makes it an in-kernel packet generator; it returns no data and no meaningful verdict.
    ``ifindex`` is resolved in the calling thread's network namespace."""
    if len(frame) < 14:
        raise ConfigError(f"an XDP test run needs a frame of at least 14 bytes (an Ethernet "
                          f"header), not {len(frame)}")
    data_in = ct.create_string_buffer(bytes(frame), len(frame))
    attr = _TestRunAttr()
    attr.prog_fd = prog_fd
    attr.data_size_in = len(frame)
    attr.data_in = ct.addressof(data_in)
    attr.repeat = max(1, int(repeat))
    ctx = None
    if ifindex or rx_queue or live:
        ctx = XdpMd(data=0, data_end=len(frame), data_meta=0, ingress_ifindex=ifindex,
                    rx_queue_index=rx_queue, egress_ifindex=0)
        attr.ctx_in = ct.addressof(ctx)
        attr.ctx_size_in = ct.sizeof(ctx)
    out = None
    if live:
        attr.flags = BPF_F_TEST_XDP_LIVE_FRAMES
        attr.batch_size = int(batch_size)
    else:
        out = ct.create_string_buffer(len(frame) + 4096)
        attr.data_out = ct.addressof(out)
        attr.data_size_out = len(out)
    try:
        bpf(BPF_PROG_TEST_RUN, attr)
    except OSError as e:
        if e.errno in (1, 13):
            raise PrivilegeError("BPF_PROG_TEST_RUN was refused", fix="run as root") from e
        raise
    data = b"" if live else out.raw[:attr.data_size_out]
    return TestRunResult(attr.retval, data, attr.duration)


class _LinkCreateAttr(ct.Structure):
    _fields_ = [("prog_fd", ct.c_uint32), ("target_ifindex", ct.c_uint32),
                ("attach_type", ct.c_uint32), ("flags", ct.c_uint32),
                ("_rest", ct.c_uint64 * 4)]


def link_create_xdp(prog_fd: int, ifindex: int, mode_flags: int) -> int:
    """Attach an XDP program to ``ifindex`` through a BPF link; returns the link's fd.
    Closing every copy of that fd (including by process exit) detaches the program."""
    attr = _LinkCreateAttr(prog_fd=prog_fd, target_ifindex=ifindex, attach_type=BPF_XDP,
                           flags=mode_flags)
    return bpf(BPF_LINK_CREATE, attr)


class _GetFdByIdAttr(ct.Structure):
    _fields_ = [("id", ct.c_uint32), ("next_id", ct.c_uint32), ("open_flags", ct.c_uint32)]


class _InfoAttr(ct.Structure):
    _fields_ = [("bpf_fd", ct.c_uint32), ("info_len", ct.c_uint32), ("info", ct.c_uint64)]


class _ProgInfo(ct.Structure):
    _fields_ = [("type", ct.c_uint32), ("id", ct.c_uint32), ("tag", ct.c_uint8 * 8),
                ("jited_prog_len", ct.c_uint32), ("xlated_prog_len", ct.c_uint32),
                ("jited_prog_insns", ct.c_uint64), ("xlated_prog_insns", ct.c_uint64),
                ("load_time", ct.c_uint64), ("created_by_uid", ct.c_uint32),
                ("nr_map_ids", ct.c_uint32), ("map_ids", ct.c_uint64),
                ("name", ct.c_char * 16)]


def prog_info(prog_fd: int) -> dict:
    """id, name, type and tag of the program behind ``prog_fd``."""
    info = _ProgInfo()
    attr = _InfoAttr(bpf_fd=prog_fd, info_len=ct.sizeof(info), info=ct.addressof(info))
    bpf(BPF_OBJ_GET_INFO_BY_FD, attr)
    return {"id": info.id, "name": info.name.decode(errors="replace"), "type": info.type,
            "tag": bytes(info.tag).hex(), "jited": info.jited_prog_len > 0}


def prog_fd_by_id(prog_id: int) -> int:
    return bpf(BPF_PROG_GET_FD_BY_ID, _GetFdByIdAttr(id=prog_id))


class _MapCreateAttr(ct.Structure):
    _fields_ = [("map_type", ct.c_uint32), ("key_size", ct.c_uint32),
                ("value_size", ct.c_uint32), ("max_entries", ct.c_uint32),
                ("map_flags", ct.c_uint32), ("_rest", ct.c_uint32 * 11)]


def probe_bpf_syscall() -> tuple[bool, str]:
    """Can this process use bpf(2)? Creates and closes a one-entry array map."""
    try:
        fd = bpf(BPF_MAP_CREATE, _MapCreateAttr(map_type=BPF_MAP_TYPE_ARRAY, key_size=4,
                                                value_size=4, max_entries=1))
    except UnavailableError as e:
        return False, str(e)
    except OSError as e:
        if e.errno in (1, 13):
            return False, "bpf(2) refused: needs root (CAP_BPF) or unprivileged BPF enabled"
        if e.errno == 38:
            return False, "bpf(2) does not exist: kernel built without CONFIG_BPF_SYSCALL"
        return False, f"bpf(2) failed: {e.strerror}"
    os.close(fd)
    return True, "bpf(2) works"
