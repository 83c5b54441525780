"""MOBILENETS_DEBUG: what a user sees on stderr is the project's own lines; with
MOBILENETS_DEBUG=1 (or true, yes) tracebacks and the libraries' own output come through too,
for reporting a bug."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

ON = ("1", "true", "yes")


def debugging() -> bool:
    """Whether MOBILENETS_DEBUG asks for tracebacks and third-party output (0, no or unset: not)."""
    return os.environ.get("MOBILENETS_DEBUG", "").strip().lower() in ON


@contextlib.contextmanager
def native_stderr_hidden() -> Iterator[None]:
    """Sends what native code writes to file descriptor 2 (ExecuTorch's cpuinfo lines) into a
    temporary file for the duration, unless debugging; Python's own ``sys.stderr`` writes in
    the block go there too, so the block holds library calls only."""
    if debugging():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)


__all__ = ["debugging", "native_stderr_hidden"]
