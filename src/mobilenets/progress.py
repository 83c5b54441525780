"""Progress bars: tqdm's bar (rate and ETA) on a terminal; elsewhere (CI, Ray, cluster and
redirected logs) a plain line at most every ``LOG_INTERVAL`` seconds instead of a redraw per
update, which in a file is one endless line of carriage returns."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import IO, Any

from tqdm import tqdm

# Seconds between two lines when the output is not a terminal.
LOG_INTERVAL = 30.0


class _Lines:
    """A file for tqdm that turns each redraw ("\\r" + status) into one line of its own."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        line = text.replace("\r", "").strip()
        if line:
            self.stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed file
        return False


def progress_bar(iterable: Iterable[Any] | None = None, **options: Any) -> tqdm:
    """``tqdm(iterable, **options)`` writing to ``options['file']`` (default stderr): a live bar
    on a terminal, a plain line every ``LOG_INTERVAL`` seconds (and at the end) elsewhere."""
    stream = options.pop("file", None) or sys.stderr
    if not _is_terminal(stream):
        counted = options.get("total") is not None or hasattr(iterable, "__len__")
        share = (
            "{percentage:3.0f}% {n_fmt}/{total_fmt} [{elapsed}<{remaining}, "
            if counted
            else "{n_fmt} [{elapsed}, "
        )
        options.update(
            mininterval=LOG_INTERVAL,
            dynamic_ncols=False,
            bar_format="{desc}: " + share + "{rate_fmt}{postfix}]",
        )
        stream = _Lines(stream)
    return tqdm(iterable, file=stream, **options)
