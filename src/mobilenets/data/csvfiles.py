"""Reading CSV files from elsewhere (manifests, attribute tables) as data, with every problem
reported as one ValueError naming the file and line: not UTF-8, NUL bytes, a field over the
size limit, a quote left open. A UTF-8 byte-order mark (what spreadsheet programs write) is
accepted and dropped."""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path

from ..regular_files import check_regular_file

# Longest field accepted (characters): far above any path or label, far below what would make
# a malformed file (one quote left open) swallow the rest of the file into one cell.
MAX_FIELD = 4096


def csv_rows(path: str | os.PathLike[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each non-blank row of ``path``."""
    path = Path(path)
    check_regular_file(path, "CSV")
    data = path.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # also UTF-32's
        raise ValueError(f"{path}:1: UTF-16 or UTF-32 text, not UTF-8; save the file as UTF-8")
    nul = data.find(b"\0")
    if nul >= 0:
        raise ValueError(f"{path}:{_line_of(data, nul)}: a NUL byte; a CSV file is text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path}:{_line_of(data, error.start)}: not UTF-8 text "
            f"(byte {data[error.start]:#04x}); save the file as UTF-8"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            if any(len(cell) > MAX_FIELD for cell in row):
                raise csv.Error(f"a field longer than {MAX_FIELD} characters")
            if any(cell.strip() for cell in row):
                yield reader.line_num, row
    except csv.Error as error:
        # The csv module's own limit (131,072) is met first by a quote left open.
        reason = (
            f"a field longer than {MAX_FIELD} characters"
            if "field limit" in str(error)
            else str(error)
        )
        raise ValueError(f"{path}:{reader.line_num}: {reason} (is a quote left open?)") from None


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1
