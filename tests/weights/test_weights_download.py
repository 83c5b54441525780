"""Fetching weights by URL into the cache, with sha256 checks, against a local HTTP server
serving files the test made (never the internet)."""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import mobilenets
from mobilenets.weights.fetch import cached_path, fetch
from mobilenets.weights.google import resolution_from_name
from mobilenets.weights.pretrained import read_weights, save_checkpoint
from mobilenets.weights.releases import keras_weights_url
from mobilenets.weights.tf_checkpoint import TFCheckpoint

h5py = pytest.importorskip("h5py")

FIXTURE = Path(__file__).parents[1] / "fixtures" / "tf_slim_mobilenet_v1_025" / "model.ckpt"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """(served folder, base URL); the cache goes to a folder of its own."""
    served = tmp_path / "served"
    served.mkdir()
    monkeypatch.setenv("MOBILENETS_CACHE", str(tmp_path / "cache"))
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(served))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}/", httpd
    httpd.shutdown()
    httpd.server_close()


def test_url_download_cache_and_hashes(server, tmp_path) -> None:
    served, base, httpd = server
    file = save_checkpoint(read_weights(FIXTURE), served / "mobilenet_v1_025.pt")
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    model = mobilenets.create_model(
        "mobilenet_v1_025_224", pretrained=f"{base}mobilenet_v1_025.pt#sha256={digest}"
    )
    cached = cached_path(f"{base}mobilenet_v1_025.pt", tmp_path / "cache" / "weights")
    assert model.num_classes == 6 and cached.read_bytes() == file.read_bytes()
    assert cached.with_name("mobilenet_v1_025.pt.sha256").read_text().split()[0] == digest
    umask = os.umask(0)
    os.umask(umask)
    assert cached.stat().st_mode & 0o777 == 0o666 & ~umask  # the user's umask, not mkstemp's 0600

    httpd.shutdown()  # from here on only the cache can serve
    assert fetch(f"{base}mobilenet_v1_025.pt", progress=False) == cached
    cached.write_bytes(cached.read_bytes()[:-1])
    with pytest.raises(ValueError, match="delete it to download again"):
        fetch(f"{base}mobilenet_v1_025.pt", progress=False)


def test_bad_hash_and_missing_file_leave_nothing(server, tmp_path) -> None:
    served, base, _ = server
    (served / "weights.pt").write_bytes(b"not what was promised")
    with pytest.raises(ValueError, match="failed its sha256 check"):
        fetch(f"{base}weights.pt", "0" * 64, progress=False)
    with pytest.raises(ValueError, match="could not download .*404"):
        fetch(f"{base}absent.pt", progress=False)
    with pytest.raises(ValueError, match="64 hexadecimal digits"):
        fetch(f"{base}weights.pt#sha256=abc", progress=False)
    assert files_in(tmp_path / "cache") == []


def files_in(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def test_the_same_file_name_from_two_repositories_is_two_files(server, tmp_path) -> None:
    """Hub-style addresses differ only before the file name: each keeps its own cached copy,
    given without a hash too (the first repository's file is never returned for the second)."""
    served, base, _ = server
    urls = []
    for repo in ("alice/mobilenet", "bob/mobilenet"):
        folder = served / repo / "resolve" / "main"
        folder.mkdir(parents=True)
        save_checkpoint({"model": {}, "config": {"repo": repo}}, folder / "model.pt")
        urls.append(f"{base}{repo}/resolve/main/model.pt")
    first, second = (fetch(url, progress=False) for url in urls)
    again = fetch(urls[0], progress=False)
    assert first != second and again == first
    assert first.read_bytes() == (served / "alice/mobilenet/resolve/main/model.pt").read_bytes()
    assert second.read_bytes() == (served / "bob/mobilenet/resolve/main/model.pt").read_bytes()
    assert first.read_bytes() != second.read_bytes()
    assert len(files_in(tmp_path / "cache")) == 4  # two files and their recorded hashes


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org/a/../../../escape.pt",
        "http://example.org/%2E%2E/%2e%2e/escape.pt",
        "http://example.org/..%2F..%2Fescape.pt",
        "http://example.org/..%5C..%5Cescape.pt",
        "http://example.org/x.pt?name=../../escape.pt",
        "http://..:80/escape.pt",
    ],
)
def test_no_address_names_a_place_outside_the_cache(url, tmp_path) -> None:
    folder = tmp_path / "cache"
    path = cached_path(url, folder)
    assert path.resolve().is_relative_to(folder.resolve()) and ".." not in path.parts, path


def write_keras_layout(path: Path) -> None:
    """The fixture's TF-slim tensors under Keras's released layer and weight names."""
    checkpoint = TFCheckpoint(FIXTURE)
    layers = {"conv1": "Conv2d_0"}
    for index in range(1, 14):
        layers[f"conv_dw_{index}"], layers[f"conv_pw_{index}"] = (
            f"Conv2d_{index}_depthwise",
            f"Conv2d_{index}_pointwise",
        )
    with h5py.File(path, "w") as file:
        names = []
        for layer, endpoint in layers.items():
            kernel = "depthwise_weights" if endpoint.endswith("depthwise") else "weights"
            parts = {
                f"{layer}": {
                    "depthwise_kernel" if "dw" in layer else "kernel": f"{endpoint}/{kernel}"
                },
                f"{layer}_bn": {
                    key: f"{endpoint}/BatchNorm/{key}"
                    for key in ("gamma", "beta", "moving_mean", "moving_variance")
                },
            }
            for name, weights in parts.items():
                group = file.create_group(name)
                group.attrs["weight_names"] = [f"{name}/{key}:0".encode() for key in weights]
                for key, tensor in weights.items():
                    group.create_dataset(
                        f"{name}/{key}:0", data=checkpoint.read(f"MobilenetV1/{tensor}")
                    )
                names.append(name)
        file.attrs["layer_names"] = [name.encode() for name in names]


def test_pretrained_true_uses_kerass_released_file_name(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MOBILENETS_CACHE", str(tmp_path))
    downloaded = cached_path(keras_weights_url(0.25, 128, False), tmp_path / "weights")
    downloaded.parent.mkdir(parents=True)
    write_keras_layout(downloaded)  # as if downloaded before
    with pytest.warns(
        mobilenets.WeightsChoice,
        match="mobilenet_v1_025_128: pretrained=True loads keras:mobilenet_2_5_128_tf ",
    ):
        model = mobilenets.create_model("mobilenet_v1_025_128", pretrained=True, num_classes=0)
    reference = mobilenets.model_from_weights(FIXTURE, num_classes=0)
    by_name = mobilenets.create_model(
        "mobilenet_v1_025_128", pretrained="keras:mobilenet_2_5_128_tf", num_classes=0
    )
    for key, value in reference.state_dict().items():
        assert value.equal(model.state_dict()[key]) and value.equal(by_name.state_dict()[key]), key
    assert model.pretrained_cfg["input_size"] == (3, 128, 128)
    assert model.pretrained_cfg["weights"] == "keras:mobilenet_2_5_128_tf"


def test_keras_release_addresses() -> None:
    urls = {
        keras_weights_url(a, r, top)
        for a in (1.0, 0.75, 0.5, 0.25)
        for r in (224, 192, 160, 128)
        for top in (True, False)
    }
    assert len(urls) == 32
    for alpha in (1.0, 0.75, 0.5, 0.25):
        for resolution in (224, 192, 160, 128):
            assert resolution_from_name(keras_weights_url(alpha, resolution, False)) == resolution
            assert (
                resolution_from_name(f"/x/mobilenet_v1_{alpha}_{resolution}.ckpt.index")
                == resolution
            )
    base = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"
    assert (
        f"{base}mobilenet_1_0_224_tf.h5" in urls and f"{base}mobilenet_7_5_160_tf_no_top.h5" in urls
    )
    with pytest.raises(
        ValueError, match="alpha 1.0, 0.75, 0.5, 0.25 at 224, 192, 160, 128 px; got alpha 0.3"
    ):
        keras_weights_url(0.3, 224)


def test_pretrained_command_line_options() -> None:
    from mobilenets.cli import ArgumentParser
    from mobilenets.cli.common import add_pretrained_arguments, pretrained_overrides

    parser = ArgumentParser()
    add_pretrained_arguments(parser)
    assert pretrained_overrides(parser.parse_args([])) == {}
    args = parser.parse_args(["--pretrained", str(FIXTURE), "--drop-background"])
    model = mobilenets.create_model("mobilenet_v1_025_224", **pretrained_overrides(args))
    assert model.num_classes == 5
