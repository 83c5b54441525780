"""Writing files so that nothing a user made is lost: refuse to overwrite without ``force``,
and write to a temporary file beside the target, fsync, then rename over it (a crash leaves
the old file or the new one, never half of one). A leaf module: every layer may use it."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator


def cache_dir() -> Path:
    """Where downloads, unpacked datasets and measurements go: $MOBILENETS_CACHE or
    ~/.cache/mobilenets."""
    return Path(os.environ.get("MOBILENETS_CACHE", Path.home() / ".cache" / "mobilenets"))


def refuse_existing(path: str | os.PathLike[str], *, force: bool) -> Path:
    """``path`` as a Path; FileExistsError if it exists and not ``force``. Call it before long
    work whose result goes there, so the refusal comes first, not after the work."""
    target = Path(path)
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists; pass --force to overwrite it")
    return target


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, force: bool = False, suffix: str = "") -> Iterator[Path]:
    """Yields a temporary path in the target's folder; when the block succeeds it is synced and
    renamed to ``path``, otherwise removed. Raises FileExistsError if ``path`` exists and not
    ``force``."""
    target = refuse_existing(path, force=force)
    if target.is_dir():
        raise IsADirectoryError(f"{target} is a folder; give a file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix or target.suffix)
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        yield temporary_path
        with open(temporary_path, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary_path, target)
    finally:
        temporary_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str], *, force: bool = False) -> Iterator[Path]:
    """Yields an empty staging folder beside ``path``; when the block succeeds it replaces
    ``path`` whole, otherwise it is removed: a folder is never left half written. Raises
    FileExistsError if ``path`` exists and not ``force``."""
    target = Path(path)
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists; use --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield staging
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, force: bool = True) -> None:
    """Replaces ``path`` with ``data`` atomically."""
    with atomic_output(path, force=force) as temporary:
        temporary.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, force: bool = True) -> None:
    atomic_write_bytes(path, text.encode(), force=force)


def atomic_write_json(path: str | os.PathLike[str], value: Any, *, force: bool = True) -> None:
    atomic_write_text(path, json.dumps(value, indent=2) + "\n", force=force)
