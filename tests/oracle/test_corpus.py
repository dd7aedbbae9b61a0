"""Every capture in ../shared/captures -- fuzzer-made, truncated, oddly linked -- parses
without an exception or a crash, with every field of the catalogue rendered."""
import numpy as np
import pytest

from fastpath import fields as F
from fastpath.errors import CaptureError
from fastpath.packets import iter_parse
from fastpath.wire import record as R

from support import all_capture_files, captures_dir

ALL_FIELDS = F.known_fields()


def test_corpus_is_there():
    captures_dir()
    assert len(all_capture_files()) > 600


@pytest.mark.parametrize("path", all_capture_files(), ids=lambda p: p.name)
def test_capture_parses_and_renders(path):
    packets = 0
    try:
        for chunk in iter_parse(path, verify_checksums=True):
            recs = chunk.records
            assert recs.dtype == R.PACKET_DTYPE
            assert np.all(recs["error"] < R.ERR_COUNT)
            # Offsets never point past what was captured.
            for field in ("l3_off", "l4_off", "payload_off", "inner_off"):
                off = recs[field].astype(np.int64)
                present = off != R.OFF_NONE
                assert np.all(off[present] <= recs["caplen"][present])
            levels = F.build_levels(chunk.buffer, recs, chunk.base, True)
            cols = F.extract(ALL_FIELDS, levels, chunk.first_record)
            assert all(len(c) == len(recs) for c in cols)
            packets += len(recs)
    except CaptureError as e:
        # A broken file: the message locates the fault; what came before was delivered.
        assert str(path) in str(e) and e.path is not None
