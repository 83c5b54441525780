"""Inputs must be regular files: a named pipe (FIFO) or a device given as a weights or data
file would block the read forever, or never end it."""

from __future__ import annotations

import os
import stat


def check_regular_file(path: str | os.PathLike[str], what: str) -> None:
    """ValueError (one line naming ``path`` and ``what`` it should be) when ``path`` exists but
    is not a regular file; a missing path is left to the caller's own message."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return
    kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "not a regular file"
    raise ValueError(f"{path} is {kind}, not a {what} file: give a regular file")
