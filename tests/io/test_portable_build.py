"""The Linux backends build on systems without the Linux interfaces and refuse to run there
with a clear error: their C is compiled here with FASTPATH_FORCE_PORTABLE (the placeholders
fastpath_netio.h provides elsewhere), loaded, and asked for a device."""
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy
import pytest

PROJECT = Path(__file__).resolve().parents[2]
IO = PROJECT / "pyx" / "fastpath" / "io"


@pytest.mark.slow
def test_linux_backends_compile_and_refuse_without_linux(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc")
    missing = [m for m in ("tap", "afpacket", "afxdp") if not (IO / f"{m}.c").exists()]
    if missing:
        pytest.skip(f"the Cython output {missing} is not there (build the core first)")
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    built = {}
    for m in ("tap", "afpacket", "afxdp"):
        out = tmp_path / f"{m}{suffix}"
        cmd = ["gcc", "-shared", "-fPIC", "-O0", "-w", "-DFASTPATH_FORCE_PORTABLE",
               "-DNPY_NO_DEPRECATED_API=NPY_1_7_API_VERSION",
               f"-I{sysconfig.get_paths()['include']}", f"-I{numpy.get_include()}",
               f"-I{PROJECT / 'pyx' / 'fastpath' / 'includes'}", str(IO / f"{m}.c"), "-o", str(out)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]
        built[m] = str(out)
    code = f"""
import importlib.util
import fastpath.io
from fastpath.errors import UnavailableError
built = {built!r}
calls = {{"tap": lambda m: m.TapDevice(), "afpacket": lambda m: m.AfPacketDevice("lo"),
          "afxdp": lambda m: m.AfXdpDevice("lo", 0)}}
for name, path in built.items():
    spec = importlib.util.spec_from_file_location("fastpath.io." + name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    try:
        calls[name](mod)
        print(name, "OPENED")
    except UnavailableError as e:
        print(name, "UNAVAILABLE", e)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(PROJECT)))
    assert r.returncode == 0, r.stderr
    lines = dict(l.split(" ", 1) for l in r.stdout.strip().splitlines())
    assert lines["tap"].startswith("UNAVAILABLE TAP devices need Linux")
    assert lines["afpacket"].startswith("UNAVAILABLE AF_PACKET devices need Linux")
    assert lines["afxdp"].startswith("UNAVAILABLE AF_XDP needs Linux")
