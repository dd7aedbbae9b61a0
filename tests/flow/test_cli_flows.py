"""``fastpath flows FILE``: conn.log TSV, JSON lines, --save, streaming, and clear errors."""
import json

import numpy as np
import pytest

from fastpath.cli import main
from fastpath.flow import CONN_DTYPE
from support import captures_dir


def wiki():
    return str(captures_dir() / "zeek" / "wikipedia.pcap")


def run(capsys, *args):
    rc = main(["flows", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_tsv_has_zeek_header_and_one_line_per_connection(capsys):
    rc, out, err = run(capsys, wiki())
    assert rc == 0
    lines = out.splitlines()
    fields = next(l for l in lines if l.startswith("#fields")).split("\t")[1:]
    rows = [dict(zip(fields, l.split("\t"))) for l in lines if not l.startswith("#")]
    assert len(rows) == 34
    assert [r["ts"] for r in rows] == sorted(r["ts"] for r in rows)
    # The same line Zeek writes for this connection (opt.basic baseline).
    row = next(r for r in rows if r["id.orig_p"] == "49996")
    assert (row["id.orig_h"], row["id.resp_h"], row["id.resp_p"], row["proto"]) == \
        ("141.142.220.118", "208.80.152.3", "80", "tcp")
    assert (row["duration"], row["orig_bytes"], row["resp_bytes"], row["conn_state"],
            row["history"], row["orig_pkts"], row["orig_ip_bytes"], row["resp_pkts"],
            row["resp_ip_bytes"]) == ("0.218501", "1171", "733", "S1", "ShADad", "6", "1491",
                                      "4", "949")


def test_json_lines(capsys):
    rc, out, err = run(capsys, wiki(), "--json")
    assert rc == 0
    recs = [json.loads(l) for l in out.splitlines()]
    assert len(recs) == 34
    dns = [r for r in recs if r["id.resp_p"] == 53]
    assert all(r["proto"] == "udp" and r["conn_state"] == "SF" and r["history"] == "Dd"
               for r in dns)
    single = next(r for r in recs if r["id.orig_p"] == 6705)
    assert "duration" not in single        # unset, as in Zeek's JSON logs


def test_save_writes_the_record_array(capsys, tmp_path):
    out_file = tmp_path / "conns.npy"
    rc, out, err = run(capsys, wiki(), "--save", str(out_file), "--no-header")
    assert rc == 0
    arr = np.load(out_file)
    assert arr.dtype == CONN_DTYPE and len(arr) == 34
    assert len(out.splitlines()) == 34


def test_order_end_streams_the_same_connections(capsys):
    _, a, _ = run(capsys, wiki(), "--no-header")
    _, b, _ = run(capsys, wiki(), "--no-header", "--order", "end")
    assert sorted(a.splitlines()) == sorted(b.splitlines())


def test_stats_go_to_stderr(capsys):
    rc, out, err = run(capsys, wiki(), "--stats", "--no-header")
    assert rc == 0 and "136 packets" in err and "34 records" in err


def test_missing_file_is_a_clear_error(capsys, tmp_path):
    rc, out, err = run(capsys, str(tmp_path / "nope.pcap"))
    assert rc == 1 and out == ""
    assert "nope.pcap" in err and "no such file" in err


def test_truncated_capture_reports_what_was_read_then_the_error(capsys, tmp_path):
    with open(wiki(), "rb") as fh:
        data = fh.read()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) // 2])
    rc, out, err = run(capsys, str(cut), "--no-header")
    assert rc == 1
    assert len(out.splitlines()) > 10
    assert "cut.pcap" in err and "record" in err and "reported" in err


@pytest.mark.parametrize("args, msg", [(["--capacity", "0"], "--capacity"),
                                       (["--save", "x.csv"], ".npy")])
def test_bad_options_are_clear_errors(capsys, args, msg):
    rc, out, err = run(capsys, wiki(), *args)
    assert rc == 1 and msg in err


def test_unparseable_number_is_an_argument_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["flows", wiki(), "--capacity", "lots"])
    assert e.value.code == 2
    assert "not a number" in capsys.readouterr().err


def test_c_formatter_writes_the_reference_text():
    # The CLI's C formatter and the readable Python one (records.iter_tsv) agree byte for byte,
    # on IPv4, IPv6, ICMP, tunnels and unset fields.
    from fastpath.flow import flows_from_capture, iter_tsv
    from fastpath.flow.format import tsv_bytes
    for name in ("wikipedia.pcap", "tunnels/Teredo.pcap", "pppoe.pcap", "communityid/sctp.pcap"):
        recs = flows_from_capture(captures_dir() / "zeek" / name)
        assert len(recs)
        assert tsv_bytes(recs) == "".join(l + "\n" for l in iter_tsv(recs)).encode()
