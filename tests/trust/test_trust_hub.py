"""The Hub path keeps the download rules (issue 20, item 4): a server posing as the Hub that
answers 503 with ``Retry-After: 3600``, or stalls after the first bytes, ends `convert --from
timm hf-hub:...` with exit status 2 and one line naming what the server did, in about the
download timeout rather than an hour, and leaves no partial file in the Hugging Face cache."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

STOP = threading.Event()  # releases the stalling handlers when the server closes
SIZE = 10**6


class PosingAsTheHub(BaseHTTPRequestHandler):
    """``busy/...``: 503 with an hour's Retry-After; ``stall/...``: the Hub's HEAD answer,
    then a GET that sends 4 KB of its announced 1 MB and says nothing more; ``escape/...``: a
    whole file whose ETag (the name the client stores it under) climbs out of the cache."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, body: bool) -> None:
        if self.path.lstrip("/").startswith("busy/"):
            self.send_response(503)
            self.send_header("Retry-After", "3600")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        escape = self.path.lstrip("/").startswith("escape/")
        self.send_response(200)
        self.send_header("X-Repo-Commit", "0" * 40)
        self.send_header("ETag", '"../../../escaped"' if escape else '"' + "a" * 64 + '"')
        self.send_header("Content-Length", str(SIZE))
        self.end_headers()
        if body and escape:
            self.wfile.write(b"\0" * SIZE)
        elif body:
            self.wfile.write(b"\0" * 4096)
            self.wfile.flush()
            STOP.wait(300)

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's name)
        self._answer(body=False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(body=True)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    STOP.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), PosingAsTheHub)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    STOP.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "repo, expected",
    [
        ("busy/mobilenet", "answered 503 Service Unavailable (Retry-After: 3600 s)"),
        ("stall/mobilenet", "stopped sending and the transfer did not resume within 30 s"),
        ("escape/mobilenet", "answered an ETag that is not a file name"),
    ],
)
def test_hub_server_errors_and_stalls_end_in_one_line(
    endpoint: str, repo: str, expected: str, tmp_path: Path
) -> None:
    cache = tmp_path / "hub"
    env = {
        **os.environ,
        "HF_ENDPOINT": endpoint,
        "HF_HUB_CACHE": str(cache),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_OFFLINE": "0",
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "src"), *sys.path]),
    }
    out = tmp_path / "model.pt"
    command = [sys.executable, "-m", "mobilenets", "convert", "--from", "timm"]
    # The timeout only stops a hang from stalling the suite: an hour's wait would meet it.
    done = subprocess.run(
        [*command, f"hf-hub:{repo}", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stderr.count("\n") == 1 and expected in done.stderr, done.stderr[-3000:]
    assert f"{repo}/model.safetensors" in done.stderr
    assert not out.exists()
    # The client's own records (refs/main, CACHEDIR.TAG) may stay; no bytes of the file.
    assert not list(cache.rglob("blobs/*")) and not list(cache.rglob("snapshots/*"))
    assert {path.name for path in tmp_path.iterdir()} <= {"hub"}  # nothing beside the cache
