"""Pieces shared by the CLI commands: a progress bar for terminals and output helpers."""
import os
import sys
import time


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal (never in pipes,
    files or CI logs). ``update(position, packets)`` is cheap to call often."""

    def __init__(self, total_bytes, label, enabled=None):
        self.total = total_bytes or 0
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.start = time.monotonic()
        self.last = 0.0
        self.drawn = False

    def update(self, position, packets):
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        rate = packets / max(now - self.start, 1e-9)
        if self.total:
            frac = min(max(position / self.total, 0.0), 1.0)
            bar = "#" * int(frac * 30)
            text = f"\r{self.label} [{bar:<30}] {frac * 100:5.1f}% {packets:,} pkts {rate / 1e3:,.0f} kpps"
        else:
            text = f"\r{self.label} {packets:,} pkts {rate / 1e3:,.0f} kpps"
        sys.stderr.write(text[:200])
        sys.stderr.flush()
        self.drawn = True

    def finish(self):
        if self.drawn:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def quiet_broken_pipe():
    """After stdout is closed by a reader such as `head`, stop writing without a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def parse_quantity(text, what="number"):
    """A non-negative integer written as 1000, 1_000, 64k, 10M or 1G (decimal units, optional
    trailing 'b' for sizes). Raises ValueError naming ``what`` was expected."""
    units = {"k": 10 ** 3, "m": 10 ** 6, "g": 10 ** 9}
    t = str(text).strip().lower().replace("_", "")
    if t.endswith("b"):
        t = t[:-1]
    mult = 1
    if t and t[-1] in units:
        mult, t = units[t[-1]], t[:-1]
    try:
        value = int(t) * mult if "." not in t else int(float(t) * mult)
    except ValueError:
        raise ValueError(f"{text!r} is not a {what} (use e.g. 1000, 64k, 10M, 1G)") from None
    if value < 0:
        raise ValueError(f"the {what} must not be negative (got {text})")
    return value


def quantity_arg(what):
    """An argparse ``type=`` for parse_quantity: bad input becomes a usage error."""
    import argparse

    def convert(text):
        try:
            return parse_quantity(text, what)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return convert
