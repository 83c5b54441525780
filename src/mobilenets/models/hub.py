"""Where released weights live, and fetching them into the local cache with checksum checks.

The 16 Keras MobileNet v1 files (4 widths x 4 resolutions, with and without the classifier)
have fixed public addresses. No sha256 is built in for them: they could not be fetched where
this was written. A hash can be given (``fetch(url, sha256=...)`` or a ``#sha256=HEX`` URL
fragment); otherwise the first download's hash is recorded beside the file (``FILE.sha256``)
and every later use of the cached file is checked against it.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from urllib.error import URLError
from urllib.parse import unquote, urlsplit

from torch.hub import download_url_to_file

KERAS_BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"
_KERAS_WIDTH_TAGS = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}
KERAS_RESOLUTIONS = (224, 192, 160, 128)
_SHA256 = re.compile(r"[0-9a-f]{64}")


def is_url(source: object) -> bool:
    return isinstance(source, str) and source.split("://", 1)[0] in ("http", "https", "file")


def keras_weights_url(alpha: float, resolution: int, include_top: bool = True) -> str:
    """The public address of Keras's released MobileNet v1 weights for one width and resolution."""
    if alpha not in _KERAS_WIDTH_TAGS or resolution not in KERAS_RESOLUTIONS:
        raise ValueError(
            f"Keras released MobileNet v1 weights for alpha {', '.join(map(str, _KERAS_WIDTH_TAGS))} at "
            f"{', '.join(map(str, KERAS_RESOLUTIONS))} px; got alpha {alpha} at {resolution} px"
        )
    suffix = "" if include_top else "_no_top"
    return f"{KERAS_BASE_URL}mobilenet_{_KERAS_WIDTH_TAGS[alpha]}_{resolution}_tf{suffix}.h5"


def weights_cache_dir() -> Path:
    """Downloaded weights: ``$MOBILENETS_CACHE/weights`` (default ``~/.cache/mobilenets/weights``),
    beside the datasets of ``mobilenets.data.fashion_mnist.cache_dir()``."""
    return Path(os.environ.get("MOBILENETS_CACHE", Path.home() / ".cache" / "mobilenets")) / "weights"


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


def _write_text_atomically(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(out.name, path)


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
        _write_text_atomically(sidecar, f"{actual}  {name}\n")
    return target
