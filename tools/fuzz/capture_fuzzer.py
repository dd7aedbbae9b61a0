"""Fuzz target (atheris): the capture readers on arbitrary bytes, differentially.

Every input is read as a capture -- memory-mapped style (a buffer), streamed (a file object, with
small windows so that records straddle buffer refills), or gzip-compressed -- and must either
read or raise CaptureError. For the first two, the rows and the error's record and offset must
equal those of the reference reader in tests/capture/capfiles.py (plain Python, written from the
format drafts). A finding is an exception, a crash, a hang or a disagreement.

    .venv/bin/python tools/fuzz/capture_fuzzer.py --make-seeds build/fuzz/seeds-capture
    .venv/bin/python tools/fuzz/capture_fuzzer.py build/fuzz/corpus-capture build/fuzz/seeds-capture \\
        -max_total_time=600 -artifact_prefix=build/fuzz/findings/capture-

The first byte of an input picks the source, the next two the chunk limits; the rest is the
file. To fuzz the C walker with coverage feedback and AddressSanitizer, build fastpath.capture.*
with clang ``-fsanitize=address,fuzzer-no-link`` (as tools/fuzz.sh does for the parser), put that
tree first on PYTHONPATH and preload atheris's ``asan_with_fuzzer.so``.
"""
import gzip
import io
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "capture"))

MAGICS = [b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",
          b"\x0a\x0d\x0d\x0a"]


def make_seeds(out_dir, captures=os.path.join(HERE, "..", "..", "..", "shared", "captures"),
               max_size=16384):
    """Small corpus files (and hand-made variants) as seeds, with the three choice bytes."""
    import capfiles as cf
    os.makedirs(out_dir, exist_ok=True)
    seeds = []
    for root, _, files in os.walk(captures):
        for name in sorted(files):
            p = os.path.join(root, name)
            if name.endswith((".pcap", ".pcapng")) and os.path.getsize(p) <= max_size:
                seeds.append(open(p, "rb").read())
    arp = bytes(42)
    seeds.append(cf.shb(True) + cf.idb(1, 0, True, tsresol=0x8A, tsoffset=-7) +
                 cf.epb(0, 12345, arp, big=True) + cf.spb(arp, big=True) +
                 cf.opb(0, 1, arp, big=True) + cf.block(5, b"stats", True) + cf.shb() +
                 cf.idb(101, 64) + cf.epb(0, 1, arp))
    seeds.append(cf.pcap_file([(arp, 1, 2), (arp[:10], 3, 4, 1000)], ns=True, big=True))
    for i, s in enumerate(seeds):
        with open(os.path.join(out_dir, f"seed-{i:04d}"), "wb") as f:
            f.write(bytes([i % 3, 7, 200]) + s)
    print(f"wrote {len(seeds)} seeds to {out_dir}")


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "--make-seeds":
        make_seeds(sys.argv[2])
        return
    try:
        import atheris
    except ImportError:
        sys.exit("fuzz_capture: atheris is not installed: .venv/bin/python -m pip install "
                 "'atheris>=2.3' (tools/fuzz.sh installs it too)")
    with atheris.instrument_imports(include=["fastpath", "capfiles"]):
        import capfiles
        from fastpath.capture import open_capture
        from fastpath.errors import CaptureError

    def outcome(src, max_packets, max_bytes):
        rows = []
        try:
            with open_capture(src) as r:
                for chunk in r.chunks(max_packets=max_packets, max_bytes=max_bytes):
                    rows.extend(tuple(x[:6]) for x in chunk.index.tolist())
        except CaptureError as e:
            assert e.offset is not None, e
            return rows, (e.offset, e.record)
        return rows, None

    def test_one_input(data):
        if len(data) < 3:
            return
        mode, max_packets, max_bytes = data[0] % 3, data[1] % 16 + 1, data[2] * 8 + 1
        body = data[3:]
        if mode == 2:
            outcome(io.BytesIO(gzip.compress(body, 1)), max_packets, max_bytes)
            return
        src = body if mode == 0 else io.BytesIO(body)
        got = outcome(src, max_packets, max_bytes)
        if body[:4] in MAGICS:
            rows, err = capfiles.ref_read(body)
            want = (rows, None if err is None else (err.offset, err.record))
            assert got == want, (got, want)

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
