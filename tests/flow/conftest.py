"""Test helpers of this directory on the import path, and the Zeek agreement figures in the
session summary."""
import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)


def pytest_terminal_summary(terminalreporter):
    mod = sys.modules.get("flow_zeek")
    lines = getattr(mod, "SUMMARY", None)
    if lines:
        terminalreporter.section("fastpath vs Zeek baselines (conn_state, history, orientation)")
        for line in lines:
            terminalreporter.write_line(line)
