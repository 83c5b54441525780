"""Fetching released weights by URL into the local cache with checksum checks (the transfer
itself: ``download.py``; the addresses of the released files: ``releases.py``).

Google's Keras files have no sha256 built in: they could not be fetched where this was written.
A hash can be given (``fetch(url, sha256=...)`` or a ``#sha256=HEX`` URL fragment); otherwise
the first download's hash is recorded beside the file (``FILE.sha256``) and every later use of
the cached file is checked against it, once the file has shown that it is a weights file (an
error page is never cached nor recorded).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from ..download import check_scheme, download
from ..files import atomic_write_text, cache_dir, file_sha256
from ..messages import printable

_SHA256 = re.compile(r"[0-9a-f]{64}")
_ADDRESS = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(source: object) -> bool:
    """Whether ``source`` is an address (any scheme: ``fetch`` refuses all but http(s)) rather than a path."""
    return isinstance(source, str) and _ADDRESS.match(source) is not None


def weights_cache_dir() -> Path:
    """Downloaded weights: ``weights/`` in the cache folder (``files.cache_dir``), one folder per
    host and path (``cached_path``)."""
    return cache_dir() / "weights"


def cached_path(url: str, folder: Path) -> Path:
    """Where ``url``'s file is kept under ``folder``: one folder per host (and port), then one
    per segment of its path (and its query, if any), so the same file name from two
    repositories never shares a place. Every part is percent-encoded ("/", "\\", ":" and "%"
    included; "." and ".." spelt %2E), so no address can name a place outside ``folder``."""
    parts = urlsplit(url.split("#", 1)[0])
    segments = [unquote(segment) for segment in parts.path.split("/") if segment]
    if not segments or parts.path.endswith("/"):
        raise ValueError(f"{url} does not name a file")
    host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    query = [f"?{parts.query}"] if parts.query else []
    return folder.joinpath(*map(_safe, [host, *segments[:-1], *query, segments[-1]]))


def _safe(part: str) -> str:
    if part in ("", ".", ".."):
        return "%2E" * len(part) or "%"
    return quote(part, safe="")


def _expected_hash(url: str, sha256: str | None) -> str | None:
    fragment = urlsplit(url).fragment
    given = sha256 or (fragment[len("sha256=") :] if fragment.startswith("sha256=") else None)
    if given is not None and not _SHA256.fullmatch(given.lower()):
        raise ValueError(f"a sha256 must be 64 hexadecimal digits; got {given!r}")
    return given.lower() if given else None


# How each weights format this project reads begins: HDF5 (Keras .h5), zip (torch.save),
# a pickle (torch's legacy format, read with weights_only=True) and safetensors (an 8-byte
# header length, then a JSON object).
_HDF5, _ZIP = b"\x89HDF\r\n\x1a\n", b"PK\x03\x04"


def check_weights_file(path: Path) -> None:
    """Raises ValueError unless ``path`` begins like a weights file (HDF5, torch zip or legacy
    pickle, safetensors): an error page served with status 200 is never taken for weights."""
    with open(path, "rb") as file:
        head = file.read(16)
    size = path.stat().st_size
    safetensors = (
        len(head) > 8 and head[8:9] == b"{" and 8 + int.from_bytes(head[:8], "little") <= size
    )
    if head.startswith((_HDF5, _ZIP)) or head[:1] == b"\x80" or safetensors:
        return
    shown = printable(head.decode("ascii", "replace").replace("\ufffd", "?"))
    hint = " (an HTML page: a wrong address or an error page?)" if head.lstrip()[:1] == b"<" else ""
    raise ValueError(
        f"what was served is not a weights file (HDF5, torch, safetensors): {size:,} bytes beginning '{shown}'{hint}"
    )


def fetch(
    url: str,
    sha256: str | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    timeout: float | None = None,
    max_bytes: int | None = None,
    check: Callable[[Path], None] | None = check_weights_file,
) -> Path:
    """The local copy of ``url`` in the cache, downloaded first if absent (see ``download``:
    timeouts, size limit, http(s) only, nothing left behind), checked against the given hash or
    the one recorded at download. Without a hash, a download that fails ``check`` is neither
    cached nor recorded."""
    check_scheme(url)
    expected = _expected_hash(url, sha256)
    target = cached_path(url, Path(cache_dir) if cache_dir is not None else weights_cache_dir())
    name = target.name
    sidecar = target.with_name(f"{name}.sha256")
    recorded = (
        sidecar.read_text().split()[0].lower()
        if sidecar.is_file() and sidecar.stat().st_size
        else None
    )
    if target.is_file():
        actual = file_sha256(target)
        for reference, what in (
            (expected, "the expected"),
            (recorded, f"the one recorded in {sidecar}"),
        ):
            if reference is not None and actual != reference:
                raise ValueError(
                    f"cached {target} has sha256 {actual}, not {what} {reference}: delete it to download again"
                )
    else:
        actual = download(
            url.split("#", 1)[0],
            target,
            sha256=expected or recorded,
            check=check,
            timeout=timeout,
            max_bytes=max_bytes,
            progress=progress,
        )
    if recorded != actual:
        atomic_write_text(sidecar, f"{actual}  {name}\n")
    return target
