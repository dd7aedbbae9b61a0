"""Finding and removing what a killed fastpath process left behind.

XDP programs attached through BPF links (fastpath's default) vanish with their process. What
can remain: programs attached through netlink (``via="netlink"``, or the fallback on kernels
without XDP links) by a process that was killed, their state files under ``/run/fastpath``, and
lab namespaces (``fplab-<pid>-...``) of test runs that were killed.

Only fastpath's own programs are touched: those whose name starts with ``fp_``. One still held
by a live process (through a link, or by the process that attached it) is reported, not removed.
"""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass

from fastpath.io import netns
from fastpath.xdp.loader import PROGRAM_PREFIX, STATE_DIR


@dataclass
class Leftover:
    kind: str              # "xdp", "state", "lab"
    where: str             # "<namespace or 'current'>/<ifname>", a path, a namespace
    detail: str
    owner_pid: int | None = None
    owner_alive: bool = False

    def __str__(self):
        own = ""
        if self.owner_pid:
            own = f" (pid {self.owner_pid} {'running' if self.owner_alive else 'gone'})"
        return f"{self.kind} {self.where}: {self.detail}{own}"


def _alive(pid: int) -> bool:
    return pid > 0 and os.path.exists(f"/proc/{pid}")


def _states() -> list[dict]:
    out = []
    try:
        names = sorted(os.listdir(STATE_DIR))
    except OSError:
        return out
    for name in names:
        if not (name.startswith("xdp-") and name.endswith(".json")):
            continue
        path = STATE_DIR / name
        try:
            d = json.loads(path.read_text())
        except (OSError, ValueError):
            d = {}
        d["_path"] = path
        out.append(d)
    return out


def _namespaces() -> list[str | None]:
    """The current namespace (None) and every named one."""
    try:
        named = sorted(os.listdir("/run/netns"))
    except OSError:
        named = []
    return [None] + named


def _ns_inode(ns: str | None) -> int:
    try:
        return os.stat(f"/run/netns/{ns}" if ns else "/proc/self/ns/net").st_ino
    except OSError:
        return 0


def scan() -> list[Leftover]:
    found = []
    states = _states()
    for ns in _namespaces():
        inode = _ns_inode(ns)
        for p in netns.xdp_programs(ns):
            if not p["name"].startswith(PROGRAM_PREFIX):
                continue
            st = next((s for s in states if s.get("ifname") == p["ifname"]
                       and s.get("netns_inode") == inode), None)
            pid = st.get("pid") if st else None
            via = st.get("via", "?") if st else "unknown (no state file)"
            found.append(Leftover("xdp", f"{ns or 'current'}/{p['ifname']}",
                                  f"{p['name']} (id {p['id']}, {p['mode']} mode, via {via})",
                                  pid, _alive(pid) if pid else False))
    for s in states:
        pid = s.get("pid")
        if not pid or not _alive(pid):
            found.append(Leftover("state", str(s["_path"]),
                                  f"{s.get('program', '?')} on {s.get('ifname', '?')}", pid, False))
    for lab in netns.leftover_labs():
        pid = int(lab[len(netns.LAB_PREFIX):].split("-", 1)[0])
        found.append(Leftover("lab", lab, "test/lab namespace", pid, False))
    return found


def _detach(where: str, mode: str) -> tuple[bool, str]:
    ns, _, ifname = where.partition("/")
    cmd = ["ip"] + (["-n", ns] if ns != "current" else []) + ["link", "set", "dev", ifname]
    # Detach in the mode it is attached in; "xdp off" covers native, "xdpgeneric off" generic.
    cmd += ["xdpgeneric" if mode == "generic" else "xdp", "off"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode == 0:
        return True, "detached"
    msg = r.stderr.strip()
    if "link" in msg.lower() and ("busy" in msg.lower() or "active" in msg.lower()):
        return False, "held by a BPF link of a live process; stop that process"
    return False, msg or f"ip exited {r.returncode}"


def cleanup(*, force: bool = False) -> list[tuple[Leftover, bool, str]]:
    """Remove leftovers; returns (leftover, removed, what happened). Programs whose owner is
    still running are kept unless ``force``."""
    results = []
    for item in scan():
        if item.owner_alive and not force:
            results.append((item, False, "its owner is running (use --force to remove anyway)"))
            continue
        if item.kind == "xdp":
            mode = "generic" if "generic mode" in item.detail else "native"
            ok, msg = _detach(item.where, mode)
            results.append((item, ok, msg))
        elif item.kind == "state":
            try:
                os.unlink(item.where)
                results.append((item, True, "removed"))
            except OSError as e:
                results.append((item, False, e.strerror))
        elif item.kind == "lab":
            ok = netns.remove_namespace(item.where)
            results.append((item, ok, "removed" if ok else "ip netns del failed"))
    # State files of programs just detached.
    for s in _states():
        if not s.get("pid") or not _alive(s["pid"]):
            try:
                os.unlink(s["_path"])
            except OSError:
                pass
    return results
