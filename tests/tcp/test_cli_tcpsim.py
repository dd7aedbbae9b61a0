"""`fastpath tcpsim`: the simulated network from the command line."""
import json

from fastpath.cli import main


def test_cli_tcpsim_reports_a_lossy_transfer(capsys, tmp_path):
    pcap = tmp_path / "sim.pcap"
    rc = main(["tcpsim", "--bytes", "300k", "--reply", "20k", "--loss", "0.1", "--seed", "3",
               "--json", "--pcap", str(pcap)])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["ok"]
    assert out["a_to_b"] == {"sent": 300_000, "received": 300_000, "mismatches": 0}
    assert out["b_to_a"]["received"] == 20_000
    assert out["links"]["a>b"]["lost"] > 0
    assert pcap.stat().st_size > 300_000


def test_cli_tcpsim_text_report(capsys):
    assert main(["tcpsim", "--bytes", "10k", "--ipv6"]) == 0
    assert capsys.readouterr().out.startswith("delivered: A->B 10,000/10,000 bytes")


def test_cli_tcpsim_bad_arguments_name_the_problem(capsys):
    assert main(["tcpsim", "--bytes", "lots"]) == 1
    assert "is not a size" in capsys.readouterr().err
    assert main(["tcpsim", "--loss", "1.5"]) == 1
    assert "probability" in capsys.readouterr().err
