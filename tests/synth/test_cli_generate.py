"""``fastpath generate``: writes the capture it is asked for, and says clearly what is wrong."""
import struct

import pytest

from fastpath import synth
from fastpath.cli import main


def count_pcap(path):
    data = path.read_bytes()
    assert struct.unpack_from("<I", data)[0] == 0xA1B2C3D4
    n, off = 0, 24
    while off < len(data):
        off += 16 + struct.unpack_from("<I", data, off + 8)[0]
        n += 1
    return n


def test_generate_writes_the_requested_packets(tmp_path, capsys):
    out = tmp_path / "g.pcap"
    assert main(["generate", str(out), "--packets", "2500", "--seed", "3"]) == 0
    assert count_pcap(out) == 2500
    text = capsys.readouterr().out
    assert "2,500 packets" in text and "seed 3" in text and "TCP" in text
    # The same bytes as the library call.
    synth.write_capture(tmp_path / "lib.pcap", 2500, seed=3)
    assert out.read_bytes() == (tmp_path / "lib.pcap").read_bytes()


def test_generate_accepts_suffixes_and_picks_pcapng_by_name(tmp_path, capsys):
    out = tmp_path / "g.pcapng"
    assert main(["generate", str(out), "-n", "2k", "-q"]) == 0
    assert capsys.readouterr().out == ""
    data = out.read_bytes()
    assert data[:4] == b"\x0a\x0d\x0d\x0a"
    assert data.count(struct.pack("<I", 6)) >= 2000     # enhanced packet blocks
    explicit = tmp_path / "g.cap"
    assert main(["generate", str(explicit), "-n", "10", "--format", "pcapng", "-q"]) == 0
    assert explicit.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"


def test_generate_zero_packets(tmp_path):
    out = tmp_path / "z.pcap"
    assert main(["generate", str(out), "-n", "0", "-q"]) == 0
    assert count_pcap(out) == 0


def test_missing_directory_is_named(tmp_path, capsys):
    out = tmp_path / "nope" / "g.pcap"
    assert main(["generate", str(out), "-n", "10"]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and str(tmp_path / "nope") in err


def test_directory_as_output_is_refused(tmp_path, capsys):
    assert main(["generate", str(tmp_path), "-n", "10"]) == 1
    assert "is a directory" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["-n", "-5"], "must not be negative"),
    (["-n", "lots"], "is not a packet count"),
    (["--seed", "x"], "is not an integer seed"),
    (["--format", "csv"], "invalid choice"),
])
def test_bad_options_are_explained(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as e:
        main(["generate", str(tmp_path / "g.pcap"), *args])
    assert e.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "g.pcap").exists()
