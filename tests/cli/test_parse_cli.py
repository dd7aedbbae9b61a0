"""`fastpath parse`: tshark's option syntax, clear errors, --save, -c, pipes."""
import subprocess
from pathlib import Path
import sys

import numpy as np
import pytest

from fastpath.cli import main
from fastpath.wire import record as R

from support import PROJECT, captures_dir


def fastpath(*args, check=True):
    return subprocess.run([sys.executable, "-m", "fastpath", *args], capture_output=True,
                          text=True, cwd=PROJECT, check=check)


@pytest.fixture
def wiki():
    return str(captures_dir() / "zeek" / "wikipedia.pcap")


def test_default_output_is_tab_separated_without_header(wiki):
    out = fastpath("parse", wiki, "-e", "frame.number", "-e", "ip.src", "-c", "2").stdout
    assert out == "1\t141.142.220.202\n2\t\n"


def test_checksum_status_unverified_unless_preference_on(wiki):
    plain = fastpath("parse", wiki, "-e", "ip.checksum.status", "-c", "1").stdout
    checked = fastpath("parse", wiki, "-e", "ip.checksum.status", "-c", "1",
                       "-o", "ip.check_checksum:TRUE").stdout
    assert (plain, checked) == ("2\n", "1\n")


def test_occurrence_and_aggregator():
    cap = str(captures_dir() / "zeek" / "icmp" / "icmp-destunreach-udp.pcap")
    base = ["parse", cap, "-e", "ip.src"]
    assert fastpath(*base, "-E", "aggregator=/s").stdout == "192.168.1.102 192.168.1.1\n"
    assert fastpath(*base, "-E", "occurrence=f").stdout == "192.168.1.102\n"
    assert fastpath(*base, "-E", "occurrence=l").stdout == "192.168.1.1\n"
    assert fastpath(*base, "-E", "occurrence=2").stdout == "192.168.1.1\n"
    assert fastpath(*base, "-E", "occurrence=3").stdout == "\n"


def test_quotes_and_header(wiki):
    out = fastpath("parse", wiki, "-e", "frame.number", "-e", "vlan.id", "-E", "header=y",
                   "-E", "quote=s", "-E", "separator=,", "-c", "1").stdout
    assert out == "frame.number,vlan.id\n'1',\n"


def test_save_writes_the_parsed_array(wiki, tmp_path):
    out = tmp_path / "recs.npy"
    fastpath("parse", wiki, "-e", "frame.number", "--save", str(out))
    recs = np.load(out)
    assert recs.dtype == R.PACKET_DTYPE and len(recs) == 136
    assert (recs["ip_version"] == 4).sum() == 121


@pytest.mark.parametrize("args,message", [
    (["-e", "ip.nonsense"], "unknown field(s) ip.nonsense"),
    (["-e", "ip.src", "-T", "json"], "only -T fields"),
    (["-e", "ip.src", "-E", "quote=x"], "quote=x"),
    (["-e", "ip.src", "-E", "separator=ab"], "single character"),
    (["-e", "ip.src", "-o", "ip.defragment:TRUE"], "does not reassemble"),
    (["-e", "ip.src", "-o", "http.foo:1"], "not supported"),
    ([], "at least one -e"),
])
def test_bad_options_name_the_problem(wiki, args, message):
    r = fastpath("parse", wiki, *args, check=False)
    assert r.returncode != 0 and message in r.stderr and "Traceback" not in r.stderr


def test_missing_and_non_capture_files(tmp_path):
    r = fastpath("parse", str(tmp_path / "nope.pcap"), "-e", "ip.src", check=False)
    assert r.returncode == 1 and "no such file" in r.stderr and "nope.pcap" in r.stderr
    txt = tmp_path / "notes.txt"
    txt.write_text("hello, this is not a capture\n")
    r = fastpath("parse", str(txt), "-e", "ip.src", check=False)
    assert r.returncode == 1 and "not a capture file" in r.stderr


def test_truncated_capture_prints_the_good_packets_then_fails(wiki, tmp_path):
    data = Path(wiki).read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:len(data) - 30])          # the last record loses its end
    r = fastpath("parse", str(cut), "-e", "frame.number", check=False)
    assert r.returncode == 1
    assert r.stdout.splitlines()[-1] == "135" and "record 136" in r.stderr


def test_closed_pipe_is_not_an_error(wiki):
    p = subprocess.Popen([sys.executable, "-m", "fastpath", "parse", wiki, "-e", "ip.src"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=PROJECT)
    p.stdout.read(10)
    p.stdout.close()
    with p.stderr:
        err = p.stderr.read().decode()
    assert p.wait() == 0 and "Traceback" not in err


def test_list_fields_names_the_oracle_set(capsys):
    assert main(["parse", "x", "--list-fields"]) == 0
    listed = capsys.readouterr().out.split()
    for f in ("tcp.seq_raw", "udp.checksum.status", "arp.opcode", "ipv6.nxt", "frame.number"):
        assert f in listed
