"""The XDP programs' sources travel with the package: setup.py's build_py installs bpf/*.c and
*.h as fastpath/xdp/bpf/, and the loader finds them there, in a checkout, or where
FASTPATH_BPF_DIR says."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fastpath.errors import UnavailableError
from fastpath.xdp.loader import bpf_source_dir

PROJECT = Path(__file__).resolve().parents[2]


def test_build_py_installs_the_bpf_sources(tmp_path):
    r = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib",
                        str(tmp_path)], cwd=PROJECT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    installed = tmp_path / "fastpath" / "xdp" / "bpf"
    expected = sorted(p.name for p in (PROJECT / "bpf").iterdir() if p.suffix in (".c", ".h"))
    assert sorted(p.name for p in installed.iterdir()) == expected
    assert "steer.c" in expected and "fastpath_shared.h" in expected
    # The installed loader prefers its own copy.
    code = "from fastpath.xdp.loader import bpf_source_dir; print(bpf_source_dir())"
    out = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), capture_output=True,
                         text=True, env=dict(os.environ, PYTHONPATH=str(tmp_path) + os.pathsep +
                                         str(PROJECT)))
    assert out.stdout.strip() == str(installed), out.stderr


def test_checkout_and_environment_lookup(tmp_path, monkeypatch):
    monkeypatch.delenv("FASTPATH_BPF_DIR", raising=False)
    assert bpf_source_dir() == PROJECT / "bpf"
    (tmp_path / "fastpath_shared.h").write_text("/* test */\n")
    monkeypatch.setenv("FASTPATH_BPF_DIR", str(tmp_path))
    assert bpf_source_dir() == tmp_path


def test_missing_sources_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTPATH_BPF_DIR", str(tmp_path))
    import fastpath.xdp.loader as loader
    monkeypatch.setattr(loader, "__file__", str(tmp_path / "x" / "y" / "loader.py"))
    with pytest.raises(UnavailableError, match="FASTPATH_BPF_DIR"):
        bpf_source_dir()
