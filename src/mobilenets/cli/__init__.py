"""The ``mobilenets`` command: argparse sub-commands, thin over the Python API.

Each sub-command lives in a module of this package with ``register(subparsers)``; a user
mistake (ValueError, a missing file) ends as one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn, Sequence

# Sub-command modules, in the order `mobilenets --help` lists them.
COMMAND_MODULES = ("models", "paper", "train", "weights", "deploy", "detection", "embedding", "geo")

USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, IsADirectoryError, PermissionError)


class ArgumentParser(argparse.ArgumentParser):
    """Reports a bad command line in one line (no usage dump) with exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="mobilenets", description="MobileNets (Howard et al., 2017) on PyTorch: models, cost, training, deployment.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # a refused command line (already reported in one line) is a return value too
        if not stop.code:  # --help
            raise
        return int(stop.code)
    try:
        return int(args.handler(args) or 0)
    except USER_ERRORS as error:
        if os.environ.get("MOBILENETS_DEBUG"):
            raise
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"mobilenets {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mobilenets {args.command}: interrupted", file=sys.stderr)
        return 130
