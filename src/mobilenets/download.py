"""Downloading one file over http(s) as carefully as pip or huggingface_hub do: connect and
read timeouts, a size limit, redirects only to http(s), the sha256 computed while streaming,
and a temporary ``.partial`` file beside the target that is removed on any exit that unwinds
(the ``mobilenets`` command turns SIGTERM into one; a library installs no signal handler, so a
program that wants the same sets its own; SIGKILL leaves ``.*.partial`` files in the cache).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from .files import user_mode
from .progress import progress_bar
from .ranges import POSITIVE

SCHEMES = ("http", "https")
DEFAULT_TIMEOUT = 30.0  # seconds without a byte from the server, connecting or reading
DEFAULT_MAX_BYTES = 2 << 30  # far above any MobileNet (17 MB), far below a full disk
TIMEOUT_VARIABLE = "MOBILENETS_DOWNLOAD_TIMEOUT"
MAX_BYTES_VARIABLE = "MOBILENETS_DOWNLOAD_MAX_BYTES"
_CHUNK = 1 << 16


def check_scheme(url: str) -> None:
    """Refuses any address but http(s): ``file://`` would copy a local file, ``ftp://`` has no TLS."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        raise ValueError(
            f"only http:// and https:// addresses are downloaded; got {scheme or 'no scheme'}:// in {url}"
        )


def _setting(value: float | None, name: str, variable: str, default: float) -> float:
    """The argument ``name`` if given, else $``variable`` if set, else ``default``: a number > 0."""
    if value is None:
        text = os.environ.get(variable)
        return POSITIVE.parse(variable, text) if text else default
    POSITIVE.check(name, value)
    return value


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 (urllib's signature)
        check_scheme(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def download(
    url: str,
    target: Path,
    *,
    sha256: str | None = None,
    check: Callable[[Path], None] | None = None,
    timeout: float | None = None,
    max_bytes: int | None = None,
    progress: bool = True,
) -> str:
    """Downloads ``url`` to ``target`` and returns its sha256. The file appears at ``target``
    only complete and accepted: matching ``sha256`` when given, else passing ``check`` (which
    raises ValueError for a file that is not what was asked for, such as an HTML error page).
    Timeouts (seconds, default $MOBILENETS_DOWNLOAD_TIMEOUT or 30) and the size limit (bytes,
    default $MOBILENETS_DOWNLOAD_MAX_BYTES or 2 GiB) end a stalled or endless transfer."""
    check_scheme(url)
    timeout = _setting(timeout, "timeout", TIMEOUT_VARIABLE, DEFAULT_TIMEOUT)
    limit = int(_setting(max_bytes, "max_bytes", MAX_BYTES_VARIABLE, DEFAULT_MAX_BYTES))
    opener = urllib.request.build_opener(_HttpOnlyRedirects)
    request = urllib.request.Request(url, headers={"User-Agent": "mobilenets"})
    made = [folder for folder in (target.parent, *target.parent.parents) if not folder.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _download(url, target, opener, request, sha256, check, timeout, limit, progress)
    except BaseException:
        for folder in made:  # deepest first: a refused download leaves no empty folders behind
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _download(
    url: str,
    target: Path,
    opener: urllib.request.OpenerDirector,
    request: urllib.request.Request,
    sha256: str | None,
    check: Callable[[Path], None] | None,
    timeout: float,
    limit: int,
    progress: bool,
) -> str:
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    partial = Path(name)
    os.fchmod(handle, user_mode())
    try:
        with os.fdopen(handle, "wb") as out:
            digest = _stream(opener, request, out, timeout=timeout, limit=limit, progress=progress)
        actual = digest.hexdigest()
        if sha256 is not None and actual != sha256:
            raise ValueError(
                f"download of {url} failed its sha256 check: got {actual}, expected {sha256}"
            )
        if sha256 is None and check is not None:
            check(partial)
        os.replace(partial, target)
        return actual
    except HTTPError as error:
        raise ValueError(f"could not download {url}: HTTP {error.code} {error.reason}") from None
    except URLError as error:
        raise ValueError(
            f"could not download {url}: {_timeout_or(error.reason, timeout)}"
        ) from None
    except OSError as error:  # timeouts, resets and short reads after the connection is made
        raise ValueError(f"could not download {url}: {_timeout_or(error, timeout)}") from None
    finally:
        partial.unlink(missing_ok=True)


def _timeout_or(reason: object, timeout: float) -> str:
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return f"no data for {timeout:g} s (the timeout; set {TIMEOUT_VARIABLE} for a slow server)"
    return str(reason) or type(reason).__name__


def _stream(
    opener: urllib.request.OpenerDirector,
    request: urllib.request.Request,
    out,
    *,
    timeout: float,
    limit: int,
    progress: bool,
) -> Any:
    digest = hashlib.sha256()
    with opener.open(request, timeout=timeout) as response:
        check_scheme(response.geturl())
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdecimal() else None
        if expected is not None and expected > limit:
            raise ValueError(
                f"{request.full_url} is {expected:,} bytes, over the {limit:,}-byte limit ({MAX_BYTES_VARIABLE})"
            )
        received = 0
        with progress_bar(
            total=expected,
            unit="B",
            unit_scale=True,
            disable=not progress,
            desc=Path(request.full_url).name,
        ) as bar:
            while chunk := response.read(_CHUNK):
                received += len(chunk)
                if received > limit:
                    raise ValueError(
                        f"{request.full_url} sent over the {limit:,}-byte limit ({MAX_BYTES_VARIABLE})"
                    )
                digest.update(chunk)
                out.write(chunk)
                bar.update(len(chunk))
    if expected is not None and received != expected:
        raise OSError(f"the transfer ended after {received:,} of {expected:,} bytes")
    return digest
