"""Fuzz target (atheris): the tshark field renderer over the parser's output, on arbitrary frames
of every link type -- the Python side of `fastpath parse`. The parser's C core has its own,
much faster libFuzzer harness (parse_fuzzer.c). Run both through tools/fuzz.sh.

A finding is an exception, a crash, or a failed check below."""
import sys

import atheris

with atheris.instrument_imports(include=["fastpath"]):
    import numpy as np
    from fastpath import fields as F
    from fastpath.wire import record as R
    from fastpath.wire.parse import parse_batch

LINKTYPES = [R.LINKTYPE_ETHERNET, R.LINKTYPE_NULL, R.LINKTYPE_RAW, R.LINKTYPE_RAW_DLT12,
             R.LINKTYPE_LOOP, R.LINKTYPE_LINUX_SLL, R.LINKTYPE_LINUX_SLL2, R.LINKTYPE_IPV4,
             R.LINKTYPE_IPV6, R.LINKTYPE_PPP, R.LINKTYPE_C_HDLC, R.LINKTYPE_NFLOG, 12345]
NAMES = F.known_fields()


def test_one_input(data):
    fdp = atheris.FuzzedDataProvider(data)
    linktype = fdp.PickValueInList(LINKTYPES)
    verify = fdp.ConsumeBool()
    cut = fdp.ConsumeBool()
    frame = fdp.ConsumeBytes(fdp.remaining_bytes())
    # An exact-size copy: ASan sees a read past the frame as a heap overflow.
    buf = np.frombuffer(bytearray(frame), dtype=np.uint8) if frame else np.zeros(0, np.uint8)
    wire = len(frame) + (100 if cut else 0)
    recs = parse_batch(buf, [0], [len(frame)], linktype, verify_checksums=verify)
    rec = recs[0]
    assert rec["error"] < R.ERR_COUNT
    for f in ("l3_off", "l4_off", "payload_off", "inner_off"):
        assert rec[f] == R.OFF_NONE or rec[f] <= len(frame), f
    recs["wirelen"] = wire
    levels = F.build_levels(buf, recs, 0, True)
    cols = F.extract(NAMES, levels)
    assert all(len(c) == 1 for c in cols)


def main():
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
