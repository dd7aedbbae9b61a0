"""The ``fastpath`` command line. Each subcommand lives in its own module of this package with
``add_arguments(parser)`` and ``run(args) -> int``; this module only dispatches."""
import argparse
import importlib
import sys

from fastpath.errors import BuildError, FastpathError

# name -> (module, one-line help). Modules are imported only when their command runs,
# so `fastpath doctor` works even when a compiled module is missing.
COMMANDS = {
    "demo": ("fastpath.cli.demo", "run the built-in default job on a generated capture"),
    "parse": ("fastpath.cli.parse", "print fields of every packet, like tshark -T fields"),
    "summary": ("fastpath.cli.summary", "counts by link type, protocol and error; top talkers"),
    "flows": ("fastpath.cli.flows", "connection records (Zeek conn.log-like) for a capture"),
    "generate": ("fastpath.cli.generate", "write the deterministic benchmark/demo capture"),
    "doctor": ("fastpath.cli.doctor", "check root, BPF, bcc, kernel headers, AF_XDP, TUN"),
    "tcpsim": ("fastpath.cli.tcpsim", "TCP between two stacks over a simulated lossy network"),
    "xdp": ("fastpath.cli.xdp", "steer an interface's traffic with XDP rules; count or capture it"),
}


def _load(name):
    modname = COMMANDS[name][0]
    try:
        return importlib.import_module(modname)
    except ModuleNotFoundError as e:
        if e.name == modname:
            return None
        if e.name and e.name.startswith("fastpath."):
            raise BuildError(
                f"the compiled module {e.name} is missing: build the core with "
                f"'make setup' (or 'pip install .' / 'python setup.py build_ext --inplace')"
            ) from e
        raise


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fastpath",
        description="Packet processing engine and user-space TCP/IP stack.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser, sub


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, sub = build_parser()
    # Register every command that exists; import only the one that runs (for its options).
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (_, help_text) in COMMANDS.items():
        if name != chosen:
            sub.add_parser(name, help=help_text, add_help=False)
    module = None
    if chosen in COMMANDS:
        try:
            module = _load(chosen)
        except BuildError as e:
            print(f"fastpath: {e}", file=sys.stderr)
            return 2
        if module is None:
            print(f"fastpath: the '{chosen}' command is not available in this build", file=sys.stderr)
            return 2
        p = sub.add_parser(chosen, help=COMMANDS[chosen][1], description=COMMANDS[chosen][1])
        module.add_arguments(p)
    args = parser.parse_args(argv)
    if module is None:
        parser.print_help()
        return 0 if not argv else 2
    try:
        return module.run(args) or 0
    except FastpathError as e:
        print(f"fastpath {chosen}: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `fastpath parse big.pcap | head` is normal use, not an error.
        try:
            sys.stdout = None
        except Exception:
            pass
        return 0
    except KeyboardInterrupt:
        print(f"fastpath {chosen}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
