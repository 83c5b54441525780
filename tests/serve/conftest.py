"""What the serve tests share: photos from Fashion-MNIST's test split, the app over the tiny
trained checkpoint, and that app served by uvicorn on 127.0.0.1 in a thread."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")
pytest.importorskip("uvicorn", reason="the serve extra is not installed")

from mobilenets.data.fashion_mnist import fashion_mnist  # noqa: E402
from mobilenets.serve import Catalog, create_app  # noqa: E402


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> list[Path]:
    """Four test-split images as PNG files, enlarged 4x as a phone photo would be larger than
    the network's input (the transform resizes them back)."""
    folder = tmp_path_factory.mktemp("photos")
    data = fashion_mnist(train=False)
    paths = []
    for index in (0, 1, 2, 3):
        image, label = data[index]
        path = folder / f"{data.classes[label].replace('/', '-').replace(' ', '-')}-{index}.png"
        image.resize((112, 112)).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="session")
def not_an_image(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("upload") / "notes.txt"
    path.write_text("these are notes, not a photo\n")
    return path


@pytest.fixture(scope="session")
def serve_app():
    """A function that serves an app on 127.0.0.1 in a thread and returns its base URL; every
    server it started stops at the end of the session."""
    stops = []

    def serve(app) -> str:
        url, stop = _serve_in_thread(app)
        stops.append(stop)
        return url

    yield serve
    for stop in stops:
        stop()


def _serve_in_thread(app):
    """``app`` served by uvicorn on a free port of 127.0.0.1 in a daemon thread: (URL, stop)."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=30)

    return f"http://127.0.0.1:{port}", stop


@pytest.fixture(scope="module")
def catalog(tiny_fashion_checkpoint) -> Catalog:
    return Catalog([tiny_fashion_checkpoint.parent])


@pytest.fixture(scope="module")
def client(catalog):
    from fastapi.testclient import TestClient

    with TestClient(create_app(catalog)) as test_client:
        yield test_client
