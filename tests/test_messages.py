"""One-line messages (mobilenets/messages.py)."""

from __future__ import annotations

import pytest

from mobilenets.messages import first_line, printable


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (ValueError(""), "ValueError"),
        (OSError("\n\n  "), "OSError"),
        (RuntimeError("\n  size mismatch for conv.weight\nmore"), "size mismatch for conv.weight"),
    ],
)
def test_first_line_never_fails(error, line) -> None:
    assert first_line(error) == line


def test_printable_escapes_what_a_terminal_would_obey_and_cuts_to_a_limit() -> None:
    assert printable("a\x1b[31mb\u2028c") == "a\\x1b[31mb\\u2028c"
    assert printable({"k\n": ["v\r"]}, keep="\n") == {"k\n": ["v\\r"]}
    assert printable("x" * 500, limit=300) == "x" * 300
