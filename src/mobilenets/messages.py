"""One-line messages: an error's first line, and text from elsewhere (file names, class names, a
server's bytes) made printable so that it shows control characters instead of obeying them. A
leaf module: every layer may use it."""

from __future__ import annotations

import unicodedata
from typing import Any

# Control, format and line/paragraph separators: what could move the cursor or fake a line.
_UNPRINTABLE = {"Cc", "Cf", "Zl", "Zp"}


def first_line(error: BaseException) -> str:
    """An exception's first non-empty line (its type name when it has no message)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def printable(value: Any, keep: str = "", limit: int | None = None) -> Any:
    """``value`` with every control, format or line-separator character of its strings (dict
    keys, list items) written as a Python escape (``\\x1b``), except those in ``keep``; strings
    cut to ``limit`` characters first when given. A terminal escape sequence or a fake line in
    a file's class names is shown, never obeyed."""
    if isinstance(value, str):
        return "".join(
            char
            if char in keep or unicodedata.category(char) not in _UNPRINTABLE
            else char.encode("unicode_escape").decode("ascii")
            for char in value[:limit]
        )
    if isinstance(value, dict):
        return {
            printable(key, keep, limit): printable(item, keep, limit) for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(printable(item, keep, limit) for item in value)
    return value
