"""Hostile downloads (issue 10, item 2) against real HTTP servers on 127.0.0.1: one that stalls,
one that lies (an HTML page with status 200), one that dies mid-transfer, one that redirects
to file://, one that sends too much. Each attempt through the command line must end with exit
status 2 and one error line, and leave the cache exactly as it was: no file, no recorded hash,
no ``.partial``. A download killed by SIGTERM leaves nothing behind either.

``python tests/trust/test_trust_download.py`` prints the figures, as tests/trust/test_trust_data.py does.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1]))
from test_trust_data import Case, attempt, figures, png, tiny_weights  # noqa: E402 (the tests folder is not a package)

STOP = threading.Event()  # set when a server closes: releases handlers that stall on purpose
WEIGHTS: dict[str, bytes] = {}
FILES: dict[str, bytes] = {}  # more paths the server serves, set by a test


class Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def send(
        self, body: bytes, *, length: int | None = None, kind: str = "application/octet-stream"
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        name = self.path.lstrip("/").split("?")[0]
        kind = name.split("/")[0].removesuffix(".pt")  # page.pt and page/ANY behave alike
        if name in FILES:
            self.send(FILES[name], length=len(FILES[name]))
        elif kind == "good":
            self.send(WEIGHTS["good"], length=len(WEIGHTS["good"]))
        elif kind == "page":
            page = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"
            self.send(page, length=len(page), kind="text/html")
        elif kind == "stall":  # accepts, then says nothing
            STOP.wait(120)
        elif kind == "slow":  # a first part, then nothing
            self.send(b"PK\x03\x04" + b"\0" * 4096, length=10**7)
            STOP.wait(120)
        elif kind == "cut":  # dies mid-transfer
            self.send(b"PK\x03\x04" + b"\0" * 1000, length=10**5)
            self.close_connection = True
        elif kind == "redirect":
            self.send_response(302)
            self.send_header("Location", "file:///etc/hostname")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif kind == "huge":  # announces more than the limit
            self.send(b"PK\x03\x04", length=10**12)
        elif kind == "endless":  # no length, no end
            self.protocol_version = "HTTP/1.0"
            self.close_connection = True
            self.send(b"PK\x03\x04")
            while not STOP.is_set():
                try:
                    self.wfile.write(b"\0" * 65536)
                except OSError:
                    return
        else:
            self.send_error(404)


def serve() -> tuple[ThreadingHTTPServer, str]:
    STOP.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def close(server: ThreadingHTTPServer) -> None:
    STOP.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    buffer = io.BytesIO()
    torch.save({"model": {}, "config": {}}, buffer)
    WEIGHTS["good"] = buffer.getvalue()
    server, url = serve()
    yield url
    close(server)


CASES: list[Case] = []
SETTINGS = ("MOBILENETS_DOWNLOAD_TIMEOUT", "MOBILENETS_DOWNLOAD_MAX_BYTES")
ENVIRONMENT: dict[str, dict[str, str]] = {}  # per case


def download_case(name: str, address: str, expect: str, env: dict[str, str] | None = None) -> None:
    ENVIRONMENT[name] = env or {}

    def build(tmp: Path) -> list[str]:
        (tmp / "cache" / "weights").mkdir(parents=True)  # the cache as a user has it
        tiny_weights(tmp)  # a file in the folder the snapshot must find unchanged
        url = address.replace("BASE/", os.environ["TRUST_BASE"])
        return ["predict", "--pretrained", url, str(png(tmp / "x.png"))]

    build.__name__ = name
    CASES.append(Case("download", name, build, expect))


download_case(
    "stalled_server", "BASE/stall.pt", "no data for 1 s", {"MOBILENETS_DOWNLOAD_TIMEOUT": "1"}
)
download_case(
    "stalled_mid_transfer", "BASE/slow.pt", "no data for 1 s", {"MOBILENETS_DOWNLOAD_TIMEOUT": "1"}
)
download_case("html_page_with_status_200", "BASE/page.pt", "not a weights file")
download_case("killed_mid_transfer", "BASE/cut.pt", "could not download")
download_case(
    "redirect_to_file_url",
    "BASE/redirect.pt",
    "Redirection to url 'file:///etc/hostname' is not allowed",
)
download_case("file_url", "file:///etc/hostname", "only http:// and https://")
download_case("ftp_url", "ftp://127.0.0.1/w.pt", "only http:// and https://")
download_case("announced_size_over_limit", "BASE/huge.pt", "byte limit")
download_case(
    "endless_stream_over_limit",
    "BASE/endless.pt",
    "byte limit",
    {"MOBILENETS_DOWNLOAD_MAX_BYTES": "1000000"},
)
download_case("wrong_sha256", "BASE/good.pt#sha256=" + "0" * 64, "failed its sha256 check")
download_case("not_found", "BASE/absent.pt", "404")


@pytest.mark.parametrize("item", CASES, ids=[c.name for c in CASES])
def test_hostile_download(
    item: Case, base: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in SETTINGS:
        monkeypatch.delenv(variable, raising=False)
    for variable, value in ENVIRONMENT[item.name].items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setenv("TRUST_BASE", base)
    monkeypatch.setenv("MOBILENETS_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    outcome, stderr = attempt(item, tmp_path)
    assert outcome == "refused", f"{outcome}: {stderr[-2000:]}"


def test_an_error_page_is_never_cached_and_the_real_file_is_later(
    base: str, tmp_path: Path
) -> None:
    from mobilenets.weights.fetch import fetch

    with pytest.raises(ValueError, match="not a weights file .*an HTML page"):
        fetch(f"{base}page.pt", cache_dir=tmp_path, progress=False)
    assert files_in(tmp_path) == []
    path = fetch(f"{base}good.pt", cache_dir=tmp_path, progress=False)
    digest = hashlib.sha256(WEIGHTS["good"]).hexdigest()
    assert (
        path.read_bytes() == WEIGHTS["good"]
        and path.with_name("good.pt.sha256").read_text().split()[0] == digest
    )
    assert files_in(tmp_path) == [path, path.with_name("good.pt.sha256")]


def files_in(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if not path.is_dir())


def test_timeout_and_limit_arguments(base: str, tmp_path: Path) -> None:
    from mobilenets.weights.fetch import fetch

    with pytest.raises(ValueError, match="no data for 0.5 s"):
        fetch(f"{base}stall.pt", cache_dir=tmp_path, progress=False, timeout=0.5)
    with pytest.raises(ValueError, match="over the 100-byte limit"):
        fetch(f"{base}good.pt", cache_dir=tmp_path, progress=False, max_bytes=100)
    with pytest.raises(ValueError, match="must be a number > 0"):
        fetch(f"{base}good.pt", cache_dir=tmp_path, progress=False, timeout=0)
    assert files_in(tmp_path) == []


def test_fashion_mnist_is_downloaded_the_same_careful_way(
    base: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Debian's copy, Fashion-MNIST comes from torchvision's mirrors through the same
    downloader: served here (two tiny images), checked against the md5s, then read."""
    import gzip
    import importlib
    import struct

    from torchvision.datasets import FashionMNIST

    module = importlib.import_module(
        "mobilenets.data.fashion_mnist"
    )  # the package exports a function of that name

    pixels = bytes(range(256)) * 6 + bytes(32)  # two 28 x 28 images
    packed = {
        "t10k-images-idx3-ubyte.gz": gzip.compress(struct.pack(">IIII", 2051, 2, 28, 28) + pixels),
        "t10k-labels-idx1-ubyte.gz": gzip.compress(struct.pack(">II", 2049, 2) + bytes([3, 7])),
    }
    packed["train-images-idx3-ubyte.gz"], packed["train-labels-idx1-ubyte.gz"] = (
        packed["t10k-images-idx3-ubyte.gz"],
        packed["t10k-labels-idx1-ubyte.gz"],
    )
    FILES.update({f"fm/{name}": data for name, data in packed.items()})
    monkeypatch.setattr(module, "DEBIAN_DIR", tmp_path / "no-debian-copy")
    monkeypatch.setattr(
        FashionMNIST,
        "resources",
        [(name, hashlib.md5(data).hexdigest()) for name, data in packed.items()],
    )
    monkeypatch.setattr(
        FashionMNIST, "mirrors", [f"{base}stall/", f"{base}fm/"]
    )  # the first mirror never answers
    monkeypatch.setenv("MOBILENETS_DOWNLOAD_TIMEOUT", "0.5")
    test = module.fashion_mnist(train=False, root=tmp_path / "root")
    assert len(test) == 2 and [label for _, label in test] == [3, 7] and test[0][0].size == (28, 28)
    assert sorted(p.name for p in (tmp_path / "root" / "FashionMNIST" / "raw").iterdir()) == sorted(
        module._FILES
    )

    monkeypatch.setattr(FashionMNIST, "mirrors", [f"{base}page/"])  # an error page for every file
    with pytest.raises(
        ValueError, match="could not download Fashion-MNIST: .*not have Fashion-MNIST's md5"
    ):
        module.fashion_mnist(root=tmp_path / "other")
    assert list((tmp_path / "other" / "FashionMNIST" / "raw").iterdir()) == []


def test_sigterm_mid_download_leaves_nothing(base: str, tmp_path: Path) -> None:
    """A download by the command in another process, stalled after its first bytes, ended by
    SIGTERM: the command (the only place that handles signals) reports it, exits 143 and leaves
    no .partial file; the download module itself installs no handler."""
    code = (
        "import sys; from mobilenets.cli import main; "
        f"sys.exit(main(['convert', {base + 'slow.pt'!r}, '--from', 'torch', "
        f"'--out', {str(tmp_path / 'out.pt')!r}]))"
    )
    env = {**os.environ, "MOBILENETS_CACHE": str(tmp_path / "cache")}
    child = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while (
        not list(tmp_path.rglob(".slow.pt.*.partial"))
        and child.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    assert list(tmp_path.rglob(".slow.pt.*.partial")), (
        child.stderr.read().decode()[-2000:] if child.poll() is not None else "no .partial"
    )
    time.sleep(0.2)  # well inside the transfer
    child.send_signal(signal.SIGTERM)
    assert child.wait(60) == 128 + signal.SIGTERM
    assert "mobilenets convert: terminated" in child.stderr.read().decode()
    assert files_in(tmp_path) == []


def test_a_download_leaves_the_callers_signal_handlers_alone(base: str, tmp_path: Path) -> None:
    """A library installs no signal handler: mid-download (in ``check``), SIGTERM's is the
    caller's own."""
    from mobilenets.weights.fetch import fetch

    def own(signum: int, frame: object) -> None:
        raise AssertionError("not called")

    seen = []
    previous = signal.signal(signal.SIGTERM, own)
    try:
        fetch(
            f"{base}good.pt",
            cache_dir=tmp_path,
            progress=False,
            check=lambda path: seen.append(signal.getsignal(signal.SIGTERM)),
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert seen == [own]


if __name__ == "__main__":
    buffer = io.BytesIO()
    torch.save({"model": {}, "config": {}}, buffer)
    WEIGHTS["good"] = buffer.getvalue()
    server, url = serve()
    os.environ["TRUST_BASE"] = url

    def prepare(item: Case) -> None:
        for variable in SETTINGS:
            os.environ.pop(variable, None)
        os.environ.update(ENVIRONMENT[item.name])

    figures(CASES, 30, prepare)
    close(server)
