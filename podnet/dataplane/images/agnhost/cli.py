"""Subcommand dispatch of podnet's agnhost."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable

from podnet.dataplane.images.agnhost.flags import FlagError


def wait_for_term() -> None:
    """Block until SIGTERM or SIGINT (the servers run in daemon threads)."""
    done = threading.Event()

    def stop(_sig: int, _frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not done.wait(3600):
        pass


def _pause(argv: list[str]) -> int:
    del argv
    wait_for_term()
    return 0


def _lazy(module: str) -> Callable[[list[str]], int]:
    """The subcommand's ``main``, imported only when it runs: every container starts a
    fresh interpreter, and netexec's imports (urllib) are a cost the others need not pay."""

    def run(argv: list[str]) -> int:
        import importlib

        main: Callable[[list[str]], int] = importlib.import_module(
            f"podnet.dataplane.images.agnhost.{module}"
        ).main
        return main(argv)

    return run


def _commands() -> dict[str, Callable[[list[str]], int]]:
    return {
        "serve-hostname": _lazy("serve_hostname"),
        "netexec": _lazy("netexec"),
        "connect": _lazy("connect"),
        "porter": _lazy("porter"),
        "grpc-health-checking": _lazy("grpc_health_checking"),
        "pause": _pause,
    }


def main(argv: list[str]) -> int:
    commands = _commands()
    if not argv or argv[0] in ("-h", "--help", "help"):
        print("usage: agnhost SUBCOMMAND [flags]\nsubcommands: " + ", ".join(sorted(commands)))
        return 0 if argv else 1
    cmd = commands.get(argv[0])
    if cmd is None:
        print(f'Error: unknown command "{argv[0]}" for "agnhost"', file=sys.stderr)
        return 1
    try:
        return cmd(argv[1:])
    except FlagError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
