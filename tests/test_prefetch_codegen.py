"""The compiled batch loops still issue their software prefetches.

The flow tracker, the capture index walk and ``parse_frames`` overlap their cache misses by
prefetching a few packets ahead. A compiler may silently delete a prefetch: gcc 12 found the flow
table's prefetch-only helpers "const" and removed every call to them, which left the tracker 4x
slower on 100k flows with nothing else to show for it
(see ``pyx/fastpath/includes/prefetch.pxd``).
Timing cannot be asserted in CI, so this checks the machine code instead: the named loop, or a
function it calls, contains a prefetch instruction.
"""
import importlib
import platform
import re
import shutil
import subprocess

import pytest

PREFETCH = {
    "x86_64": re.compile(r"\bprefetch(t0|t1|t2|nta|w)\b"),
    "aarch64": re.compile(r"\bprfm\b"),
}
ARCH = platform.machine()

pytestmark = [
    pytest.mark.skipif(shutil.which("objdump") is None,
                       reason="objdump (binutils) is not installed: cannot read the machine code"),
    pytest.mark.skipif(ARCH not in PREFETCH,
                       reason=f"prefetch instructions are only known for x86_64 and aarch64, not {ARCH}"),
]

# (module, a regular expression for the C function that holds the batch loop)
LOOPS = [
    ("fastpath.flow.table", r"__pyx_f_8fastpath_4flow_5table_9FlowTable__run"),
    ("fastpath.capture.index", r"__pyx_\w+_8fastpath_7capture_5index_\w*(walk_pcap|Indexer_\d+run)\b"),
    ("fastpath.wire.parse", r"__pyx_\w+_8fastpath_4wire_5parse_parse_frames\b"),
]


def _functions(path):
    """{symbol: [instruction lines]} of a shared object, clones (.constprop, .part) folded in."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(path)],
                         capture_output=True, text=True, check=True).stdout
    funcs, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <([^>]+)>:$", line)
        if m:
            cur = m.group(1).split(".")[0]
            funcs.setdefault(cur, [])
        elif cur is not None and line.strip():
            funcs[cur].append(line)
    return funcs


@pytest.mark.parametrize("module,loop", LOOPS, ids=[m for m, _ in LOOPS])
def test_batch_loop_prefetches(module, loop):
    path = importlib.import_module(module).__file__
    funcs = _functions(path)
    pat = PREFETCH[ARCH]
    loops = [name for name in funcs if re.fullmatch(loop, name)]
    assert loops, f"no function matching {loop} in {path}: was it renamed?"
    for name in loops:
        body = funcs[name]
        if any(pat.search(line) for line in body):
            return
        # Not inlined (a debug build): the helpers it calls must prefetch.
        callees = {m.group(1).split(".")[0] for line in body
                   for m in [re.search(r"\bcall\w*\s+[0-9a-f]+ <([^>+@]+)", line)] if m}
        if any(pat.search(line) for c in callees for line in funcs.get(c, ())):
            return
    pytest.fail(f"{module}: no prefetch instruction in {loops} or the functions they call; "
                "the compiler dropped the software pipeline (see pyx/fastpath/includes/prefetch.pxd)")
