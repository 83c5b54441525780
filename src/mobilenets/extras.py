"""Optional dependencies, imported where they are used: the package and its command line work
without them, and a command that needs one says which extra installs it."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """``module`` imported, or a ValueError (one line for the CLI) naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ValueError(
            f"{purpose} needs {module.split('.')[0]}: pip install 'mobilenets[{extra}]'"
        ) from error


def installed(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    return importlib.util.find_spec(module) is not None
