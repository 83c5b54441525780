"""Fetching released weights by URL into the local cache, with checksum checks.

The addresses of the released files are in ``releases.py``. Google's Keras files have no
sha256 built in: they could not be fetched where this was written. A hash can be given
(``fetch(url, sha256=...)`` or a ``#sha256=HEX`` URL fragment); otherwise the first download's
hash is recorded beside the file (``FILE.sha256``) and every later use of the cached file is
checked against it.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from urllib.error import URLError
from urllib.parse import unquote, urlsplit

from torch.hub import download_url_to_file

from ..files import atomic_write_text, cache_dir

_SHA256 = re.compile(r"[0-9a-f]{64}")


def is_url(source: object) -> bool:
    return isinstance(source, str) and source.split("://", 1)[0] in ("http", "https", "file")


def weights_cache_dir() -> Path:
    """Downloaded weights: ``$MOBILENETS_CACHE/weights`` (default ``~/.cache/mobilenets/weights``)."""
    return cache_dir() / "weights"


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _expected_hash(url: str, sha256: str | None) -> str | None:
    fragment = urlsplit(url).fragment
    given = sha256 or (fragment[len("sha256="):] if fragment.startswith("sha256=") else None)
    if given is not None and not _SHA256.fullmatch(given.lower()):
        raise ValueError(f"a sha256 must be 64 hexadecimal digits; got {given!r}")
    return given.lower() if given else None


def fetch(url: str, sha256: str | None = None, *, cache_dir: str | os.PathLike[str] | None = None,
          progress: bool = True) -> Path:
    """The local copy of ``url`` in the cache, downloaded first if absent (atomically, with a
    progress bar on stderr), checked against the given hash or the one recorded at download."""
    expected = _expected_hash(url, sha256)
    name = Path(unquote(urlsplit(url).path)).name
    if not name:
        raise ValueError(f"{url} does not name a file")
    folder = Path(cache_dir) if cache_dir is not None else weights_cache_dir()
    target, sidecar = folder / name, folder / f"{name}.sha256"
    recorded = sidecar.read_text().split()[0].lower() if sidecar.is_file() and sidecar.stat().st_size else None
    if target.is_file():
        actual = file_sha256(target)
        for reference, what in ((expected, "the expected"), (recorded, f"the one recorded in {sidecar}")):
            if reference is not None and actual != reference:
                raise ValueError(
                    f"cached {target} has sha256 {actual}, not {what} {reference}: delete it to download again"
                )
    else:
        folder.mkdir(parents=True, exist_ok=True)
        wanted = expected or recorded
        try:
            # Downloads to a temporary file beside the target and moves it there only if the
            # hash matches, so a failed or interrupted download leaves nothing behind.
            download_url_to_file(url.split("#", 1)[0], str(target), hash_prefix=wanted, progress=progress)
        except RuntimeError as error:
            raise ValueError(f"download of {url} failed its sha256 check ({wanted}): {error}") from error
        except (URLError, OSError) as error:
            raise ValueError(f"could not download {url}: {error}") from error
        actual = file_sha256(target)
    if recorded != actual:
        atomic_write_text(sidecar, f"{actual}  {name}\n")
    return target
