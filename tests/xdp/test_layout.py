"""The structs shared by the XDP programs and Python have the same size and field offsets on
both sides: ctypes against the host C compiler, and ctypes against bcc's BPF target (the
layout probe program writes what its compiler did into a map)."""
import shutil
import subprocess

import pytest

from fastpath.xdp import structs as S
from fastpath.xdp.loader import bpf_source_dir


def c_probe_source():
    lines = ['#include <stdio.h>', '#include <stddef.h>', '#include "fastpath_shared.h"',
             'int main(void) {']
    for st, fields in S.FP_LAYOUT_FIELDS:
        name = S.C_NAMES[st]
        lines.append(f'    printf("%zu\\n", sizeof(struct {name}));')
        for f in fields:
            lines.append(f'    printf("%zu\\n", offsetof(struct {name}, {f}));')
    lines += ['    return 0;', '}']
    return "\n".join(lines)


def test_ctypes_mirror_matches_the_host_compiler(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc (make setup installs it)")
    src = tmp_path / "probe.c"
    src.write_text(c_probe_source())
    exe = tmp_path / "probe"
    r = subprocess.run(["gcc", "-O0", f"-I{bpf_source_dir()}", str(src), "-o", str(exe)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    c_values = [int(x) for x in subprocess.run([str(exe)], capture_output=True, text=True,
                                               check=True).stdout.split()]
    py = S.python_layout()
    mismatches = [(label, c, p) for label, c, p in zip(S.layout_labels(), c_values, py) if c != p]
    assert len(c_values) == len(py)
    assert mismatches == []


def test_ctypes_mirror_matches_the_bpf_target(bpf_ok):
    from fastpath.xdp.loader import XdpProgram
    prog = XdpProgram(source="layout_probe.c", function="fp_layout_probe")
    try:
        res = prog.test_run(bytes(64))
        assert res.action == "pass"
        tbl = prog.table("fp_layout")
        count = tbl[tbl.Key(127)].value
        bpf_values = [tbl[tbl.Key(i)].value for i in range(count)]
    finally:
        prog.close()
    py = S.python_layout()
    assert count == len(py)
    mismatches = [(label, b, p) for label, b, p in zip(S.layout_labels(), bpf_values, py) if b != p]
    assert mismatches == []


def test_layout_lists_cover_every_struct_field():
    # A field added to a ctypes mirror but not to the checks would escape both tests above.
    for st, fields in S.FP_LAYOUT_FIELDS:
        declared = [f[0] for f in st._fields_ if not f[0].startswith("pad")]
        assert declared == fields, st.__name__
