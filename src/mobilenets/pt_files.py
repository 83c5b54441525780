"""Reading and writing ``.pt`` files. A ``torch.save`` file is read as data: ``torch.load(weights_only=True)``
(tensors, numbers, strings and containers only; a file that would construct anything else, e.g.
call ``os.system`` from a crafted ``__reduce__``, is refused before anything is built), with one
clear line for a refused, truncated or foreign file. A TorchScript archive is a program for
TorchScript's interpreter (not Python): loaded only where a command takes one by name and the
file is one (``is_torchscript``). A leaf module: every layer may use it; nothing else in the
package calls ``torch.load`` or ``torch.jit.load``."""

from __future__ import annotations

import os
import pickle
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .files import atomic_output
from .messages import first_line, printable
from .regular_files import check_regular_file

_SHOWN = 300  # characters of what a file names, enough to recognise it

# What checkpoints written before RNG states became tensors need beyond weights-only's defaults:
# numpy's uint32 MT19937 key array. Allowed as torch documents for numpy arrays: numpy's array
# reconstruction function (under numpy 2's and numpy 1's module name), the array, its dtype and
# the uint32 dtype class; only inside ``load_pt``, never globally.
_reconstruct = np.zeros(0).__reduce__()[0]
LEGACY_NUMPY_ARRAYS = [
    (_reconstruct, "numpy._core.multiarray._reconstruct"),
    (_reconstruct, "numpy.core.multiarray._reconstruct"),
    np.ndarray,
    np.dtype,
    type(np.dtype(np.uint32)),
]


def load_pt(path: str | os.PathLike[str], what: str = "checkpoint") -> Any:
    """The contents of a ``torch.save`` file, read as data; ValueError (one line naming ``path``
    and ``what`` it should have been) for anything else."""
    check_regular_file(path, what)
    if not Path(path).is_file():
        raise FileNotFoundError(f"no {what} at {path}")
    try:
        with torch.serialization.safe_globals(LEGACY_NUMPY_ARRAYS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        # torch's message names the global the file asked for (then advises allow-listing it),
        # or, for bytes that are no pickle torch reads, the opcode it stopped at.
        named = re.search(r"GLOBAL (\S+)", str(error))
        if named is None:
            detail = str(error).split("WeightsUnpickler error:", 1)[-1]
            stopped = next(
                (line.strip() for line in detail.splitlines() if line.strip()), "not a pickle"
            )
            raise ValueError(
                f"{path} is not a readable {what} ({printable(stopped, limit=_SHOWN)})"
            ) from None
        raise ValueError(
            f"{path} was refused as a {what}: it is not plain data (tensors, numbers, strings, containers) and "
            f"loading it would call or build something else (it asks for {printable(named.group(1), limit=_SHOWN)})"
        ) from None
    except Exception as error:  # torch raises many types for a truncated, empty or foreign file
        raise ValueError(
            f"{path} is not a readable {what} ({type(error).__name__}: {printable(first_line(error), limit=_SHOWN)})"
        ) from None


def save_pt(value: Any, path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """``torch.save(value)`` to ``path`` atomically (temporary file, fsync, rename); an existing
    file is replaced only with ``force``."""
    with atomic_output(path, force=force) as temporary:
        torch.save(value, temporary)
    return Path(path)


def is_torchscript(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a TorchScript archive (``torch.jit.save``: a zip with constants.pkl
    and code/) rather than a ``torch.save`` file."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(name.endswith("/constants.pkl") for name in names) and any(
        "/code/" in name for name in names
    )


def load_torchscript(path: str | os.PathLike[str]) -> torch.jit.ScriptModule:
    """A TorchScript file, loaded; ValueError for a file that is not one."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"TorchScript file {path} does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return torch.jit.load(str(path), map_location="cpu")
    except Exception as error:
        reason = first_line(error)
        raise ValueError(f"{path} is not a valid TorchScript file: {reason}") from None
