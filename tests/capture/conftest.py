"""Make the capture tests' helper modules (capfiles) importable under pytest's importlib mode."""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


def pytest_terminal_summary(terminalreporter):
    try:
        import capfiles
    except ImportError:
        return
    s = capfiles.CORPUS_STATS
    if not s:
        return
    tr = terminalreporter
    tr.section("capture corpus agreement")
    if s["files"]:
        tr.write_line(f"tshark oracles: {s['files']} files, {s['packets']} packets: packet count "
                      f"agrees in every file read; frame.len and frame.cap_len in "
                      f"{s['ext_files']} files with *.tshark_ext.json")
    if s["capinfos_files"]:
        tr.write_line(f"capinfos: earliest/latest timestamp agree in {s['capinfos_files']} files")
    if s["live_files"]:
        tr.write_line(f"live tshark: {s['live_files']} files, {s['live_packets']} packets agree "
                      f"on time, lengths, interface and section ({s['live_allowlisted']} "
                      f"timestamps allowlisted: tshark prints them as no time)")
