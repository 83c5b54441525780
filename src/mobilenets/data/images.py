"""The one way this project reads an image file, whatever the command: open it, refuse what is
not an image or is too large to decode safely (Pillow's decompression-bomb limit), load it
whole, and turn any mode (16-bit, palette, CMYK, alpha, ...) into 8-bit ``L`` or ``RGB``.

Scans (``unreadable_reason``) use the same checks, so a file that passes a scan is one that
``read_image`` reads; a file that goes bad after the scan is skipped and counted by
``LateFailures`` instead of ending an epoch with a traceback.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..messages import first_line
from ..regular_files import check_regular_file

log = logging.getLogger(__name__)
# Oversized images are refused by ``_open`` with a clear error; Pillow's own warning for them
# (between one and two times its limit) would only add a second, vaguer line on stderr.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


class UnreadableImage(ValueError):
    """An image file that is missing, empty, not an image, truncated or too large."""


def _open(path: str | os.PathLike[str]) -> Image.Image:
    """Opens ``path`` (header only) after the checks every read shares."""
    try:
        check_regular_file(path, "image")
    except ValueError as error:
        raise UnreadableImage(str(error)) from None
    try:
        if os.path.getsize(path) == 0:
            raise UnreadableImage(f"{path} is an empty file, not an image")
    except FileNotFoundError:
        raise UnreadableImage(f"no image file {path}") from None
    except OSError as error:
        raise UnreadableImage(f"cannot read image {path}: {error.strerror or error}") from None
    if Path(path).is_dir():
        raise UnreadableImage(f"{path} is a folder, not an image file")
    try:
        image = Image.open(path)
    except Exception as error:  # PIL raises many types (OSError, SyntaxError, ValueError, DecompressionBombError, ...)
        raise UnreadableImage(f"{path} is not a readable image ({_reason(error)})") from None
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and image.width * image.height > limit:
        image.close()
        raise UnreadableImage(
            f"{path} is {image.width}x{image.height} pixels, over the {limit:,}-pixel limit that guards against "
            "decompression bombs (PIL.Image.MAX_IMAGE_PIXELS)"
        )
    return image


def _reason(error: BaseException) -> str:
    if isinstance(error, Image.DecompressionBombError):
        return f"over the {Image.MAX_IMAGE_PIXELS:,}-pixel limit that guards against decompression bombs"
    name, reason = type(error).__name__, first_line(error)
    return name if reason == name else f"{name}: {reason}"


def to_8bit(image: Image.Image, mode: str | None = None) -> Image.Image:
    """``image`` as ``mode`` ("L" or "RGB"; None: grey stays ``L``, anything else becomes ``RGB``).

    16-bit and 32-bit integer grey is scaled to 8 bits (Pillow's own conversion clips at 255,
    which turns most of a 16-bit image white); palettes with transparency and alpha channels
    are dropped the way torchvision's loader drops them; CMYK goes through Pillow's conversion.
    """
    if image.mode in _SIXTEEN_BIT:
        values = np.asarray(image).astype(np.int64)
        image = Image.fromarray((np.clip(values, 0, 65535) >> 8).astype(np.uint8), "L")
    elif image.mode == "F":
        image = Image.fromarray(
            np.clip(np.nan_to_num(np.asarray(image)), 0, 255).astype(np.uint8), "L"
        )
    elif image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    grey = image.mode in ("1", "L", "LA", "La")
    target = mode or ("L" if grey else "RGB")
    if target not in ("L", "RGB"):
        raise ValueError(f"an image mode must be 'L' or 'RGB'; got {mode!r}")
    return image if image.mode == target else image.convert(target)


def read_image(path: str | os.PathLike[str], mode: str | None = None) -> Image.Image:
    """The image in ``path``, decoded whole and converted by ``to_8bit``; an UnreadableImage
    (a ValueError: one line naming the file) for anything that is not a readable image."""
    image = _open(path)
    try:
        with image:
            image.load()
            return to_8bit(image, mode)
    except UnreadableImage:
        raise
    except (
        Exception
    ) as error:  # truncated data, a broken codec stream, a mode Pillow cannot convert
        raise UnreadableImage(f"{path} is not a readable image ({_reason(error)})") from None


def unreadable_reason(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` is not a usable image (missing, empty, not an image, truncated, too large),
    or None if it is: the checks of ``read_image`` at a scan's cost.

    ``verify()`` checks the structure; decoding catches truncation. JPEGs decode in draft mode
    (at 1/8 scale through the DCT), which still reads the whole stream, so scanning stays cheap.
    """
    try:
        with _open(path) as image:
            image.verify()
        with _open(path) as image:
            image.draft(image.mode, (1, 1))
            image.load()
    except UnreadableImage as error:
        return str(error)
    except Exception as error:
        return f"{path} is not a readable image ({_reason(error)})"
    return None


class LateFailures:
    """Which samples of a data set turned unreadable after the scan (replaced, deleted or
    truncated mid-run): one flag per sample in shared memory, so that what DataLoader worker
    processes find reaches the main process's count."""

    def __init__(self, size: int) -> None:
        self.flags = torch.zeros(size, dtype=torch.bool).share_memory_()

    @property
    def count(self) -> int:
        return int(self.flags.sum())

    def get(self, index: int, read: Callable[[int], Any]) -> Any:
        """``read(index)``; when that sample's file has gone bad, a warning naming it, its flag
        set, and the next sample that still reads in its place (batches keep their size)."""
        size = len(self.flags)
        for offset in range(size):
            candidate = (index + offset) % size
            if self.flags[candidate]:
                continue
            try:
                return read(candidate)
            except UnreadableImage as error:
                self.flags[candidate] = True
                log.warning("skipping an image that became unreadable after the scan: %s", error)
        raise ValueError(
            f"all {size} images of the data set have become unreadable since they were scanned"
        )


def late_failure_count(*datasets: Any) -> int:
    """How many samples of ``datasets`` (or of the data sets under a ``Subset``) went bad after the scan."""
    total = 0
    for dataset in datasets:
        dataset = getattr(dataset, "dataset", dataset)
        failures = getattr(dataset, "late_failures", None)
        total += failures.count if failures is not None else 0
    return total
