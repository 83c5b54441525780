"""PNG plots beside the numbers: matplotlib is optional, so it is imported on first use (Agg
backend, no display needed) and its absence costs a warning and the plot, never the result."""

from __future__ import annotations

import io
import os
import warnings
from typing import Any

from .files import atomic_write_bytes


def pyplot(what: str, extra: str = "train") -> Any | None:
    """``matplotlib.pyplot`` on the Agg backend; None, with a warning that no ``what`` PNG is
    drawn (and which extra installs matplotlib), when matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        warnings.warn(
            f"matplotlib is not installed: no {what} PNG (pip install 'mobilenets[{extra}]')",
            stacklevel=3,
        )
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(figure: Any, path: str | os.PathLike[str], *, force: bool = True) -> None:
    """``figure`` as a PNG at ``path``, written atomically (refused if it exists and not
    ``force``), then closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue(), force=force)
