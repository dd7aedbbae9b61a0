"""Write a seed corpus for tools/fuzz_parse.py: real frames from the capture corpus, each
prefixed with the two choice bytes the target consumes first."""
import hashlib
import os
import sys

from fastpath.capture import open_capture
from fastpath.errors import CaptureError

LINKTYPE_INDEX = {1: 0, 0: 1, 101: 2, 12: 3, 108: 4, 113: 5, 276: 6, 228: 7, 229: 8, 9: 9,
                  104: 10, 239: 11}


def main(captures_dir, out_dir, per_file=50):
    os.makedirs(out_dir, exist_ok=True)
    written = 0
    for root, _, files in os.walk(captures_dir):
        for name in sorted(files):
            if not name.endswith((".pcap", ".pcapng", ".pcap.gz")):
                continue
            try:
                with open_capture(os.path.join(root, name)) as r:
                    for i, p in enumerate(r.packets()):
                        if i >= per_file:
                            break
                        choice = LINKTYPE_INDEX.get(p.linktype, 0)
                        seed = bytes([choice, 1, 0]) + p.data
                        fn = hashlib.sha1(seed).hexdigest()
                        with open(os.path.join(out_dir, fn), "wb") as f:
                            f.write(seed)
                        written += 1
            except CaptureError:
                continue
    print(f"{written} seeds in {out_dir}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
