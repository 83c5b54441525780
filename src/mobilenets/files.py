"""Writing files so that nothing a user made is lost: refuse to overwrite without ``force``;
write to a temporary beside the target (``.NAME.tmp-PID-*``, which the next writer removes once
process PID has ended), fsync, then rename over it, so a crash leaves the old file or the new
one, never half of one; swap folders whole; lock a folder while a process works in it (filelock:
POSIX and Windows). Outputs get the user's umask. A leaf module: every layer may use it."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

LOCK_FILE = ".lock"
# renameat2(2)'s flag that swaps two paths in one step (Linux 3.15+).
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def cache_dir() -> Path:
    """Where downloads, unpacked datasets and measurements go: $MOBILENETS_CACHE, else
    $XDG_CACHE_HOME/mobilenets, else ~/.cache/mobilenets (an empty variable counts as unset)."""
    own = os.environ.get("MOBILENETS_CACHE")
    if own:
        return Path(own)
    shared = os.environ.get("XDG_CACHE_HOME")
    return (Path(shared) if shared else Path.home() / ".cache") / "mobilenets"


def refuse_existing(path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """``path`` as a Path; FileExistsError if it exists and not ``force`` (called before long
    work too, so that the work is not lost to a refusal at the end)."""
    target = Path(path)
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists; pass --force to overwrite it")
    return target


def _temporary_prefix(target: Path, pid: int | None = None) -> str:
    """``.NAME.tmp-PID-``: the writer's process id, so that a later writer knows the leftovers
    of a killed one from a temporary still being written."""
    return f".{target.name}.tmp-{'' if pid is None else f'{pid}-'}"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (on Windows, where os.kill would end it, always assumed)."""
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_temporaries(path: str | os.PathLike[str]) -> None:
    """Removes what interrupted writes of ``path`` left beside it (a SIGKILL skips every
    clean-up): temporaries whose writer's process has ended (or which name none, from before
    names carried it); another process's temporary still being written stays."""
    target = Path(path)
    prefix = _temporary_prefix(target)
    for stale in target.parent.glob(glob.escape(prefix) + "*"):
        writer = stale.name[len(prefix) :].split("-", 1)[0]
        if not (writer.isdigit() and _alive(int(writer))):
            _remove(stale)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _make_parent(target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file where the folder should be
        raise NotADirectoryError(
            errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(target.parent)
        ) from None


def user_mode(directory: bool = False) -> int:
    """The mode a plain open()/mkdir() would give under the user's umask (mkstemp/mkdtemp
    create 0600/0700 whatever it is)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


def _naming(error: OSError, path: Path) -> OSError:
    """``error`` with ``path`` as its file name when the OS gave none (a failed write names no
    file): every OS error then reads "PATH: reason"."""
    if error.errno is None or error.filename is not None:
        return error
    return type(error)(error.errno, error.strerror or os.strerror(error.errno), str(path))


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str], *, force: bool = False, suffix: str = ""
) -> Iterator[Path]:
    """Yields a temporary path in the target's folder; when the block succeeds it is synced and
    renamed to ``path``, otherwise removed. Raises FileExistsError if ``path`` exists and not
    ``force``."""
    target = refuse_existing(path, force=force)
    if target.is_dir():
        raise IsADirectoryError(f"{target} is a folder; give a file name")
    _make_parent(target)
    remove_temporaries(target)
    handle, temporary = tempfile.mkstemp(
        dir=target.parent,
        prefix=_temporary_prefix(target, os.getpid()),
        suffix=suffix or target.suffix,
    )
    temporary_path = Path(temporary)
    try:
        os.fchmod(handle, user_mode())
        os.close(handle)
        yield temporary_path
        with open(temporary_path, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary_path, target)
    except OSError as error:
        raise _naming(error, target) from None
    finally:
        temporary_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str], *, force: bool = False) -> Iterator[Path]:
    """Yields an empty staging folder beside ``path``; when the block succeeds it takes the
    place of ``path`` in one rename (the old one, if any, is then removed), otherwise it is
    removed: ``path`` is always a complete old or a complete new folder. Raises FileExistsError
    if ``path`` exists and not ``force``."""
    target = Path(path)
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists; use --force to replace it")
    _make_parent(target)
    remove_temporaries(target)
    staging = Path(
        tempfile.mkdtemp(prefix=_temporary_prefix(target, os.getpid()), dir=target.parent)
    )
    try:
        os.chmod(staging, user_mode(directory=True))
        yield staging
        if target.exists() or target.is_symlink():
            _exchange(staging, target)  # staging now holds the old one, removed below
        else:
            os.rename(staging, target)
    except OSError as error:
        raise _naming(error, target) from None
    finally:
        _remove(staging)


def _exchange(new: Path, old: Path) -> None:
    """Swaps two paths atomically (renameat2 RENAME_EXCHANGE); where the system lacks it, moves
    ``old`` aside under ``new``'s temporary name first (complete either way)."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is not None:
        if (
            renameat2(_AT_FDCWD, os.fsencode(new), _AT_FDCWD, os.fsencode(old), _RENAME_EXCHANGE)
            == 0
        ):
            return
        code = ctypes.get_errno()
        if code not in (errno.ENOSYS, errno.EINVAL):
            raise OSError(code, os.strerror(code), str(old))
    aside = new.with_name(new.name + "-old")
    os.rename(old, aside)
    os.rename(new, old)
    os.rename(aside, new)


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str]) -> Iterator[None]:
    """Holds an exclusive lock on ``folder`` (``folder/.lock``, which names the holder) for the
    block, through filelock (flock on POSIX, LockFileEx on Windows): the OS releases it on any
    exit, SIGKILL included. BlockingIOError naming the holder if another process has it;
    ValueError for a ``.lock`` that is a symbolic link (its target is never written)."""
    path = Path(folder) / LOCK_FILE
    if path.is_symlink():
        raise ValueError(f"{path} is a symbolic link; remove it (a lock file is never followed)")
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise BlockingIOError(
            f"{folder} is in use by {_holder(path)}; wait for it to end or stop it"
        ) from None
    try:
        # The holder's name is a courtesy: where the OS locks the bytes too (Windows), it is
        # neither written nor read, and the message says "another process".
        with contextlib.suppress(OSError), open(_no_follow(path), "w") as handle:
            handle.write(
                f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n"
            )
        yield
    finally:
        lock.release()


def _no_follow(path: Path) -> int:
    """A descriptor of ``path`` for writing that refuses a symbolic link (O_NOFOLLOW, on POSIX)."""
    return os.open(path, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0))


def _holder(path: Path) -> str:
    with contextlib.suppress(OSError):
        return path.read_text().strip() or "another process"
    return "another process"


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, force: bool = True) -> None:
    """Replaces ``path`` with ``data`` atomically."""
    with atomic_output(path, force=force) as temporary:
        temporary.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, force: bool = True) -> None:
    atomic_write_bytes(path, text.encode(), force=force)


def atomic_write_json(path: str | os.PathLike[str], value: Any, *, force: bool = True) -> None:
    atomic_write_text(path, json.dumps(value, indent=2) + "\n", force=force)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file, read a megabyte at a time: what downloads and seals check."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
