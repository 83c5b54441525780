"""The ``mobilenets`` command: argparse sub-commands, thin over the Python API.

Each sub-command lives in a module of this package with ``register(subparsers)``; a user
mistake (ValueError, a missing file) or an OS error (a read-only or full folder) ends as one
line on stderr naming the problem and exit status 2. SIGTERM unwinds like Ctrl-C, so every
temporary file is removed on the way out.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from ..messages import first_line, printable
from .common import non_empty

# Sub-command modules, in the order `mobilenets --help` lists them.
COMMAND_MODULES = (
    "models",
    "paper",
    "train",
    "weights",
    "deploy",
    "detection",
    "embedding",
    "geo",
    "sweep",
    "adapt",
    "serve",
)

USER_ERRORS = (ValueError, OSError)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is so that finally-blocks run (temporary files go)."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def _message(error: Exception) -> str:
    """One line: "PATH: reason" for an OS error that names a file, else the error's own first line."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return first_line(error)


class ArgumentParser(argparse.ArgumentParser):
    """Reports a bad command line in one line (no usage dump) with exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {printable(message)} (see --help)\n")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="mobilenets",
        description="MobileNets (Howard et al., 2017) on PyTorch: models, cost, training, deployment.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    _refuse_empty_text(parser)
    return parser


def _refuse_empty_text(parser: argparse.ArgumentParser) -> None:
    """Every flag or operand that takes text and declares no type of its own (a name, a path)
    refuses an empty one while parsing: ``--model ''`` would otherwise mean "not given"."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in set(action.choices.values()):
                _refuse_empty_text(child)
        elif (
            action.type is None and action.nargs != 0 and isinstance(action, argparse._StoreAction)
        ):
            action.type = non_empty


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except (
        SystemExit
    ) as stop:  # a refused command line (already reported in one line) is a return value too
        if not stop.code:  # --help
            raise
        return int(stop.code)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.handler(args) or 0)
    except USER_ERRORS as error:
        if os.environ.get("MOBILENETS_DEBUG"):
            raise
        print(f"mobilenets {args.command}: error: {printable(_message(error))}", file=sys.stderr)
        return 2
    except Terminated:
        print(f"mobilenets {args.command}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print(f"mobilenets {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
