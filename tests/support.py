"""Shared test helpers: where the real captures are, and skips that say exactly why."""
import os
import shutil
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
SHARED = PROJECT.parent / "shared"
CAPTURES = SHARED / "captures"


def captures_dir():
    """The real-capture corpus (``../shared/captures``); skips the test when it is absent."""
    if not CAPTURES.is_dir():
        pytest.skip(f"the real-capture corpus is not at {CAPTURES} (it sits beside the project in CI)")
    return CAPTURES


def all_capture_files():
    """Every capture file in the corpus (pcap, pcapng, gzip), sorted; empty if there is none."""
    if not CAPTURES.is_dir():
        return []
    out = []
    for p in sorted(CAPTURES.rglob("*")):
        name = p.name
        if p.is_file() and (name.endswith((".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz", ".cap", ".trace"))
                            or name.endswith(".gz") and ".pcap" in name):
            out.append(p)
    return out


def is_linux():
    return sys.platform.startswith("linux")


def is_root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


needs_linux = pytest.mark.skipif(not is_linux(), reason=f"needs Linux (this is {sys.platform})")
needs_root = pytest.mark.skipif(not is_root(), reason="needs root (run the suite as root, as CI does)")


def needs_tool(name):
    return pytest.mark.skipif(shutil.which(name) is None,
                              reason=f"needs '{name}' on PATH (make setup installs it as root)")
