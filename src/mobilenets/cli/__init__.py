"""The ``mobilenets`` command: argparse sub-commands, thin over the Python API.

The grammar is verb-noun (``train``, ``train-detector``, ``eval-geo``), one flag name per idea
across commands. Each sub-command lives in a module of this package with ``register(subparsers)``
and an ``AREA`` under which ``mobilenets --help`` lists its commands. A user mistake
(ValueError, a missing file) or an OS error (a read-only or full folder) ends as one line on
stderr naming the problem and exit status 2; third-party warnings and log lines are silenced
(MOBILENETS_DEBUG=1 shows them, and tracebacks). SIGTERM unwinds like Ctrl-C, so every
temporary file is removed on the way out; a closed pipe (``| head -1``) ends quietly.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import signal
import sys
import textwrap
import warnings
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import NoReturn

from ..debug import debugging
from ..messages import first_line, printable
from .common import non_empty

# Sub-command modules; `mobilenets --help` lists their commands by each module's AREA, areas in
# the order they first appear here.
COMMAND_MODULES = (
    "models",
    "paper",
    "weights",
    "train",
    "teacher",
    "deploy",
    "detection",
    "embedding",
    "geo",
    "sweep",
    "adapt",
    "serve",
)

USER_ERRORS = (ValueError, OSError)
HELP_WIDTH = 100  # the command list's lines, wrapped as argparse wraps the rest
# The libraries whose log lines are theirs, not the user's (their loggers may not exist yet).
THIRD_PARTY_LOGGERS = (
    "torch",
    "torchvision",
    "executorch",
    "litert_torch",
    "ai_edge_litert",
    "onnxruntime",
    "onnxscript",
    "openvino",
    "ray",
    "huggingface_hub",
    "timm",
    "absl",
    "matplotlib",
    "PIL",
)


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
        usage="%(prog)s [-h] COMMAND ...",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # The commands are listed by area in the epilog, not in argparse's one flat list.
    subparsers = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help=argparse.SUPPRESS, prog="mobilenets"
    )
    areas: dict[str, list[str]] = {}
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        before = set(subparsers.choices)
        module.register(subparsers)
        areas.setdefault(_area(module), []).extend(
            command for command in subparsers.choices if command not in before
        )
    parser.epilog = _commands_by_area(subparsers, areas)
    _refuse_empty_text(parser)
    return parser


def _area(module: ModuleType) -> str:
    return getattr(module, "AREA", module.__name__.rsplit(".", 1)[-1])


def _commands_by_area(subparsers: argparse._SubParsersAction, areas: dict[str, list[str]]) -> str:
    """The help's command list, one block per area, from what the modules registered."""
    helps = {
        action.dest: (action.help or "").replace("%%", "%")
        for action in subparsers._choices_actions
    }
    width = max(len(command) for command in helps) + 2

    def line(command: str) -> str:
        return textwrap.fill(
            f"  {command:<{width}}{helps.get(command, '')}",
            HELP_WIDTH,
            subsequent_indent=" " * (width + 2),
            break_on_hyphens=False,
        )

    blocks = [
        f"{area}:\n" + "\n".join(map(line, commands))
        for area, commands in areas.items()
        if commands
    ]
    return "commands (mobilenets COMMAND --help for each):\n\n" + "\n\n".join(blocks)


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


@contextlib.contextmanager
def _third_parties_silenced() -> Iterator[None]:
    """The user's stderr holds the project's own lines: other packages' warnings (torch's
    "Detected pickle protocol", deprecations) and log lines are dropped while a command runs,
    unless debugging; the filters and levels are put back afterwards (main runs in tests too)."""
    if debugging():
        yield
        return
    loggers = [logging.getLogger(name) for name in THIRD_PARTY_LOGGERS]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore")
        warnings.filterwarnings("default", module=r"mobilenets(\.|$)")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)


def _stdout_closed() -> int:
    """A reader that stopped early (``| head -1``): the rest of the output goes nowhere,
    quietly, and the status is SIGPIPE's, as for Unix tools (Python's documented recipe)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + signal.SIGPIPE


def main(argv: Sequence[str] | None = None) -> int:
    with _third_parties_silenced():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
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
        status = int(args.handler(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return status
    except BrokenPipeError:
        return _stdout_closed()
    except USER_ERRORS as error:
        if debugging():
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
