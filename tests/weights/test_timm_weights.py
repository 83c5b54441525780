"""timm's own MobileNet v1 models (random weights and batch-norm statistics, files written by
timm) loaded here: the same logits. The Hugging Face Hub is a cache laid out in a temporary
folder, or a server on 127.0.0.1 answering the Hub's resolve URLs; never the internet.

Set MOBILENETS_PARITY_REPORT=1 to print the measured differences (pytest -s).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

timm = pytest.importorskip("timm")
pytest.importorskip("safetensors")
huggingface_hub = pytest.importorskip("huggingface_hub")
from huggingface_hub import constants as hub_constants  # noqa: E402
from timm.models import save_for_hf  # noqa: E402

import mobilenets  # noqa: E402
from mobilenets.cli import main  # noqa: E402
from mobilenets.weights.releases import RELEASES, TIMM_RELEASES, get_release  # noqa: E402

TAG_100 = "mobilenetv1_100.ra4_e3600_r224_in1k"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
# (timm architecture, this package's registry name) for the three released timm MobileNets.
TIMM_MODELS = [
    ("mobilenetv1_100", "mobilenet_v1_100_224"),
    ("mobilenetv1_125", "mobilenet_v1_125_224"),
    ("mobilenetv1_100h", "mobilenet_v1_100h_224"),
]


def timm_model(architecture: str, seed: int = 0) -> torch.nn.Module:
    """timm's model with random weights and random batch-norm statistics, so that every tensor
    the mapping moves shows in the logits."""
    torch.manual_seed(seed)
    model = timm.create_model(architecture)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.2)
                module.running_mean.normal_(0.0, 0.5)
                module.running_var.uniform_(0.5, 2.0)
        model.classifier.weight.mul_(20.0)  # spread the logits
    return model.eval()


def logits(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)


@pytest.fixture(scope="module")
def timm_100(tmp_path_factory):
    """(timm's mobilenetv1_100, the folder timm's save_for_hf wrote: model.safetensors + config.json)."""
    model = timm_model("mobilenetv1_100")
    folder = tmp_path_factory.mktemp("timm") / TAG_100
    save_for_hf(model, str(folder), safe_serialization=True)
    return model, folder


@pytest.mark.parametrize("architecture, name", TIMM_MODELS)
def test_timm_weights_give_timms_logits(architecture, name, tmp_path) -> None:
    reference = timm_model(architecture, seed=1)
    save_for_hf(reference, str(tmp_path), safe_serialization=True)
    model = mobilenets.create_model(name, pretrained=str(tmp_path))
    x = torch.randn(2, 3, 224, 224)
    expected, got = logits(reference, x), logits(model, x)
    difference = (expected - got).abs().max().item()
    if os.environ.get("MOBILENETS_PARITY_REPORT"):
        print(
            f"\n{architecture} -> {name}: max |logit difference| {difference:.3g} (logits up to "
            f"{expected.abs().max():.3g})"
        )
    assert difference <= 1e-5 and expected.abs().max() > 1.0
    state = reference.state_dict()
    assert sum(not key.endswith("num_batches_tracked") for key in state) == sum(
        not key.endswith("num_batches_tracked") for key in model.state_dict()
    )
    config = model.config
    assert (config["padding"], config["activation"], config["bn_eps"]) == (
        "symmetric",
        "relu6",
        1e-5,
    )
    assert config["head_features"] == (1024 if architecture.endswith("h") else 0)
    assert (
        model.pretrained_cfg["interpolation"] == "bicubic"
        and model.pretrained_cfg["mean"] == (0.5,) * 3
    )


def test_local_timm_files_and_mistakes(timm_100, tmp_path) -> None:
    reference, folder = timm_100
    x = torch.randn(1, 3, 160, 160)
    state = reference.state_dict()
    torch.save(state, tmp_path / "timm.pth")
    torch.save(
        {"state_dict": state, "epoch": 3}, tmp_path / "train.pth.tar.pt"
    )  # a timm training checkpoint
    for source in (
        folder / "model.safetensors",
        tmp_path / "timm.pth",
        tmp_path / "train.pth.tar.pt",
    ):
        assert torch.equal(
            logits(mobilenets.model_from_weights(source), x), logits(reference, x)
        ), source
    headless = mobilenets.create_model(
        "mobilenet_v1_100_224", pretrained=str(folder), num_classes=0
    )
    assert headless(x).shape == (1, 1024)
    with pytest.raises(
        ValueError,
        match="the weights' config has head features 0; the model has head features 1024",
    ):
        mobilenets.create_model("mobilenet_v1_100_224", pretrained=str(folder), head_features=1024)
    damaged = dict(state, **{"blocks.0.0.conv_dw.weight": torch.zeros(16, 1, 3, 3)})
    torch.save(damaged, tmp_path / "damaged.pth")
    with pytest.raises(
        ValueError,
        match=r"the weights' features.Conv2d_1_depthwise.conv.weight has shape \(16, 1, 3, 3\), "
        r"a MobileNet v1 of alpha 1 needs \(32, 1, 3, 3\)",
    ):
        mobilenets.model_from_weights(tmp_path / "damaged.pth")
    torch.save(
        dict(state, **{"bn1.running_var": torch.full((32,), float("nan"))}), tmp_path / "nan.pth"
    )
    with pytest.raises(
        ValueError, match="bn1.running_var holds NaN or infinite values; these weights are broken"
    ):
        mobilenets.model_from_weights(tmp_path / "nan.pth")
    torch.save(
        {key: value for key, value in state.items() if key != "blocks.3.2.bn1.running_var"},
        tmp_path / "short.pth",
    )
    with pytest.raises(ValueError, match="the timm state dict lacks blocks.3.2.bn1.running_var"):
        mobilenets.model_from_weights(tmp_path / "short.pth")
    effnet = timm.create_model("efficientnet_b0").state_dict()
    torch.save(effnet, tmp_path / "effnet.pth")
    with pytest.raises(ValueError, match="not a timm MobileNet v1 state dict"):
        mobilenets.model_from_weights(tmp_path / "effnet.pth")
    (tmp_path / "broken.safetensors").write_bytes(
        (folder / "model.safetensors").read_bytes()[:1000]
    )
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        mobilenets.model_from_weights(tmp_path / "broken.safetensors")


def test_safetensors_round_trip_never_unpickles(timm_100, tmp_path, monkeypatch, capsys) -> None:
    reference, folder = timm_100
    out, pretrained = tmp_path / "m.safetensors", tmp_path / "pretrained"
    assert main(["convert", "--from", "timm", str(folder), "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (
        result["model"] == "mobilenet_v1_100_224"
        and result["to"] == "safetensors"
        and result["params"] == 4_231_976  # learnable, as the paper counts (4.2M)
    )
    assert (
        main(
            [
                "convert",
                "--from",
                "safetensors",
                str(out),
                "--out",
                str(pretrained),
                "--to",
                "folder",
            ]
        )
        == 0
    )
    assert sorted(path.name for path in pretrained.iterdir()) == [
        "config.json",
        "model.safetensors",
    ]

    def no_pickle(*args, **kwargs):
        raise AssertionError("a safetensors file was read with torch.load")

    monkeypatch.setattr(torch, "load", no_pickle)
    x = torch.randn(2, 3, 224, 224)
    for model in (
        mobilenets.create_model("mobilenet_v1_100_224", pretrained=str(out)),
        mobilenets.from_pretrained(pretrained),
    ):
        assert torch.equal(logits(model, x), logits(reference, x))
        assert (
            model.pretrained_cfg["crop_pct"] == 0.875
            and model.pretrained_cfg["interpolation"] == "bicubic"
        )
    assert (
        main(["convert", "--from", "timm", str(folder), "--out", str(pretrained), "--to", "folder"])
        == 2
    )
    assert "exists; use --force" in capsys.readouterr().err
    assert (
        main(
            [
                "convert",
                "--from",
                "timm",
                str(folder),
                "--out",
                str(tmp_path / "m.pt"),
                "--to",
                "safetensors",
            ]
        )
        == 2
    )
    assert "--to safetensors writes a .safetensors file" in capsys.readouterr().err


def lay_out_hub_cache(cache: Path, repo_id: str, files: dict[str, bytes]) -> None:
    """The Hugging Face cache's layout: blobs named by hash, a snapshot per commit, refs/main."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    for name, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / name).symlink_to(os.path.relpath(blob, snapshot))


@pytest.fixture
def offline_hub(timm_100, tmp_path, monkeypatch):
    """A Hub cache holding timm's mobilenetv1_100 release (written by timm), HF_HUB_OFFLINE on."""
    _, folder = timm_100
    cache = tmp_path / "hub"
    lay_out_hub_cache(
        cache,
        f"timm/{TAG_100}",
        {name: (folder / name).read_bytes() for name in ("model.safetensors", "config.json")},
    )
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    return cache


def test_timm_release_from_the_hub_cache_offline(timm_100, offline_hub, capsys) -> None:
    reference, folder = timm_100
    x = torch.randn(2, 3, 224, 224)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        best = mobilenets.create_model("mobilenet_v1_100_224", pretrained=True)
    chosen = [str(w.message) for w in caught if issubclass(w.category, mobilenets.WeightsChoice)]
    assert chosen == [
        f"mobilenet_v1_100_224: pretrained=True loads timm:{TAG_100} (timm (Hugging Face Hub, safetensors), "
        "Apache-2.0, ImageNet top-1 75.388%)"
    ]
    for model in (
        best,
        mobilenets.create_model("mobilenet_v1_100_224", pretrained=f"timm:{TAG_100}"),
        mobilenets.create_model("mobilenet_v1_100_224", pretrained="timm"),
        mobilenets.from_pretrained(f"timm/{TAG_100}"),
    ):
        assert torch.equal(logits(model, x), logits(reference, x))
    assert best.pretrained_cfg["weights"] == f"timm:{TAG_100}"

    digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    assert (
        mobilenets.create_model(
            "mobilenet_v1_100_224", pretrained=f"timm:{TAG_100}", sha256=digest
        ).num_classes
        == 1000
    )
    with pytest.raises(ValueError, match=f"has sha256 {digest}, not the expected 0000"):
        mobilenets.create_model(
            "mobilenet_v1_100_224", pretrained=f"timm:{TAG_100}", sha256="0" * 64
        )
    assert (
        main(
            [
                "convert",
                "--from",
                "timm",
                "mobilenetv1_125.ra4_e3600_r224_in1k",
                "--out",
                str(offline_hub / "x.pt"),
            ]
        )
        == 2
    )
    error = capsys.readouterr().err
    assert (
        error.count("\n") == 1
        and "timm/mobilenetv1_125.ra4_e3600_r224_in1k/model.safetensors is not in the "
        "Hugging Face cache"
        in error
        and "HF_HUB_OFFLINE" in error
    )
    assert (
        main(["convert", "--from", "timm", "mobilenetv1_999", "--out", str(offline_hub / "x.pt")])
        == 2
    )
    assert "no released weights called 'timm:mobilenetv1_999'" in capsys.readouterr().err


class HubHandler(BaseHTTPRequestHandler):
    """The Hub's ``/{repo}/resolve/{revision}/{file}``: HEAD gives the commit, ETag and size;
    GET the bytes; a missing repository or file is a 404 with the Hub's X-Error-Code."""

    def __init__(self, *args, files: dict[str, dict[str, bytes]], **kwargs) -> None:
        self.files = files
        super().__init__(*args, **kwargs)

    def log_message(self, *args) -> None:
        pass

    def _answer(self, body: bool) -> None:
        repo, _, rest = self.path.lstrip("/").partition("/resolve/")
        filename = rest.partition("/")[2]
        data = self.files.get(repo, {}).get(filename)
        if data is None:
            self.send_response(404)
            self.send_header(
                "X-Error-Code", "EntryNotFound" if repo in self.files else "RepoNotFound"
            )
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)


def test_download_through_the_hub_client_then_offline(timm_100, tmp_path, monkeypatch) -> None:
    """As a user runs it: HF_ENDPOINT (here 127.0.0.1) and HF_HUB_CACHE set before the Hub client
    is imported (a fresh process), then HF_HUB_OFFLINE with the file in the cache; a missing
    repository or file is one line (exit status 2 on the command line)."""
    reference, folder = timm_100
    files = {
        f"timm/{TAG_100}": {"model.safetensors": (folder / "model.safetensors").read_bytes()},
        "someone/empty": {},
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(HubHandler, files=files))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cache = tmp_path / "hub"
    env = {
        **os.environ,
        "HF_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}",
        "HF_HUB_CACHE": str(cache),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_OFFLINE": "0",
        "OMP_NUM_THREADS": "1",
    }
    script = (
        "import sys, torch, mobilenets\n"
        "from mobilenets.cli import main\n"
        f"model = mobilenets.create_model('mobilenet_v1_100_224', pretrained='timm:{TAG_100}')\n"
        "torch.save(model.state_dict(), sys.argv[1])\n"
        "print(model.pretrained_cfg['weights'])\n"
        "try:\n    mobilenets.from_pretrained('someone/empty')\nexcept ValueError as error:\n    print(error)\n"
        "print(main(['convert', '--from', 'timm', 'mobilenetv1_125.ra4_e3600_r224_in1k', '--out', "
        "sys.argv[1] + '.x']))\n"
    )
    try:
        run = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "online.pt")],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        f"timm:{TAG_100}",
        "the Hub repository someone/empty has no file model.safetensors",
        "2",
    ]
    assert run.stderr.splitlines()[-1] == (
        "mobilenets convert: error: no Hugging Face Hub repository "
        "timm/mobilenetv1_125.ra4_e3600_r224_in1k (or it is private: `hf auth login`)"
    )
    x = torch.randn(1, 3, 224, 224)
    downloaded = mobilenets.create_model(
        "mobilenet_v1_100_224", padding="symmetric", activation="relu6", bn_eps=1e-5
    )
    downloaded.load_state_dict(torch.load(tmp_path / "online.pt"))
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    offline = mobilenets.create_model("mobilenet_v1_100_224", pretrained=f"timm:{TAG_100}")
    for model in (downloaded, offline):
        assert torch.equal(logits(model, x), logits(reference, x))


def test_push_to_hub_refuses_without_token_or_network(
    timm_100, tmp_path, monkeypatch, capsys
) -> None:
    _, folder = timm_100
    pretrained = tmp_path / "pretrained"
    mobilenets.save_pretrained(mobilenets.model_from_weights(folder), pretrained)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(hub_constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(hub_constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    assert main(["push-to-hub", str(pretrained), "--repo-id", "someone/mobilenet"]) == 2
    assert capsys.readouterr().err == (
        "mobilenets push-to-hub: error: no Hugging Face token: log in with `hf auth login`, "
        "or set HF_TOKEN, to push to the Hub\n"
    )
    assert main(["push-to-hub", str(tmp_path), "--repo-id", "someone/mobilenet"]) == 2
    assert (
        "is not a pretrained folder: it lacks model.safetensors, config.json"
        in capsys.readouterr().err
    )
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    assert main(["push-to-hub", str(pretrained), "--repo-id", "someone/mobilenet"]) == 2
    assert "HF_HUB_OFFLINE is set: pushing to the Hub needs the network" in capsys.readouterr().err


def test_one_record_per_release_read_by_list_select_and_registry(capsys) -> None:
    from mobilenets.deploy.select import RELEASED_TOP1
    from mobilenets.weights.releases import keras_weights_url

    assert main(["list", "--weights", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len(RELEASES) == 67 and len({row["name"] for row in rows}) == 67
    assert sorted({row["format"] for row in rows}) == ["keras", "tf-slim", "tflite", "timm"]
    assert all(row["model"] in mobilenets.list_models() for row in rows)
    defaults = {row["model"]: row["name"] for row in rows if row["default"]}
    assert len(defaults) == 18 and defaults["mobilenet_v1_100_224"] == f"timm:{TAG_100}"
    assert defaults["mobilenet_v1_050_160"] == "keras:mobilenet_5_0_160_tf"
    keras = [row for row in rows if row["format"] == "keras"]
    assert len(keras) == 16 and all(
        row["urls"][0]
        == keras_weights_url(row["model_args"]["alpha"], row["model_args"]["resolution"])
        for row in keras
    )
    assert all(mobilenets.model_name(**row["model_args"]) == row["model"] for row in keras)
    assert (
        RELEASED_TOP1["mobilenet_v1_100_224"] == 75.388
        and RELEASED_TOP1["mobilenet_v1_025_128"] == 41.5
    )
    assert get_release(f"timm:{TAG_100}").top1 == 75.388 and len(TIMM_RELEASES) == 3
    assert main(["list", "--weights", "mobilenet_v1_050_160"]) == 0
    text = capsys.readouterr().out
    assert (
        "keras:mobilenet_5_0_160_tf" in text
        and "tf-slim:mobilenet_v1_0.5_160" in text
        and "59.1" in text
    )
    with pytest.raises(ValueError, match="no released weights called 'keras:nope'"):
        get_release("keras:nope")
    with pytest.raises(
        ValueError, match="is not downloaded by this package: the archive answers 403"
    ):
        mobilenets.create_model("mobilenet_v1_100_224", pretrained="tf-slim:mobilenet_v1_1.0_224")


def test_eval_and_predict_prepare_images_as_timm_does(
    timm_100, offline_hub, tmp_path, capsys
) -> None:
    """timm's own evaluation transform (resolve_data_config, create_transform) and model against
    `predict` and `eval --pretrained timm:...`: the same probabilities; eval labels each image
    with timm's prediction (top-1 must be 100%) and reports the release's published accuracy."""
    import numpy as np
    from PIL import Image

    reference, _ = timm_100
    transform = timm.data.create_transform(**timm.data.resolve_data_config({}, model=reference))
    rng = np.random.default_rng(0)
    val = tmp_path / "val"
    for index in range(1000):
        (val / f"n{index:08d}").mkdir(parents=True)
    paths, probabilities = [], []
    for index, size in enumerate([(300, 260), (180, 240), (224, 224)]):
        ramp = np.linspace(0, 255, size[0] * size[1] * 3).reshape(size[1], size[0], 3)
        image = Image.fromarray(
            np.clip(ramp + rng.normal(0, 40, ramp.shape), 0, 255).astype(np.uint8)
        )
        with torch.no_grad():
            row = reference(transform(image)[None]).softmax(1)[0]
        path = val / f"n{int(row.argmax()):08d}" / f"image{index}.png"
        image.save(path)
        paths.append(path)
        probabilities.append(row)
    assert (
        main(
            [
                "predict",
                "--pretrained",
                f"timm:{TAG_100}",
                *map(str, paths),
                "--top-k",
                "3",
                "--json",
            ]
        )
        == 0
    )
    for row, expected in zip(json.loads(capsys.readouterr().out), probabilities):
        assert [top["probability"] for top in row["top"]] == pytest.approx(
            expected.topk(3).values.tolist(), abs=1e-5
        )
    assert (
        main(
            [
                "eval",
                "--pretrained",
                f"timm:{TAG_100}",
                "--data",
                str(val),
                "--plot",
                str(tmp_path / "c.png"),
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["images"] == 3 and result["top1"] == 1.0
    assert result["published"] == {
        "weights": f"timm:{TAG_100}",
        "top1": 75.388,
        "top5": 92.31,
        "source": get_release(f"timm:{TAG_100}").accuracy_source,
    }
