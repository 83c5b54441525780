"""What the serve tests share: photos from Fashion-MNIST's test split, the app over the tiny
trained checkpoint, and that app served by uvicorn on 127.0.0.1 in a thread."""

from __future__ import annotations

import os
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


CHROMIUM = os.environ.get("MOBILENETS_CHROMIUM", "/usr/bin/chromium")
# Nothing the browser does on its own reaches the network: no updates, no sync, no QUIC probes.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    """A page of Debian's chromium driven by Playwright, with a fresh profile (skipped, saying
    why, where chromium or Playwright is missing: `make browser` installs chromium)."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium, or `make browser`)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1000, "height": 800},
        )
        try:
            yield context.new_page()
        finally:
            context.close()


@pytest.fixture(scope="session")
def screenshot():
    """Saves a page's screenshot as NAME in $MOBILENETS_SCREENSHOTS when that is set: the
    README's screenshots are the tests' own (``MOBILENETS_SCREENSHOTS=docs pytest tests/serve``)."""

    def save(page, name: str) -> None:
        folder = os.environ.get("MOBILENETS_SCREENSHOTS")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / name), full_page=True)

    return save
