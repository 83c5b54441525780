"""The JSON API: the same top-5 as the Python API, models named only by id, uploads refused
with a message, the chart's points from result files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from mobilenets.classification.predict import predict
from mobilenets.serve import Catalog, create_app


def _post(client, photo: Path, **fields):
    with open(photo, "rb") as handle:
        return client.post("/api/predict", files={"file": (photo.name, handle)}, data=fields)


def test_predict_answers_the_python_apis_top5(client, tiny_fashion_checkpoint, photos) -> None:
    expected = predict(tiny_fashion_checkpoint, photos)
    for photo, row in zip(photos, expected):
        answer = _post(client, photo).json()
        assert answer["kind"] == "classification"
        assert [top["label"] for top in answer["top"]] == [top["class"] for top in row["top"]]
        assert [top["probability"] for top in answer["top"]] == pytest.approx(
            [top["probability"] for top in row["top"]], rel=1e-5, abs=1e-7
        )


def test_models_lists_the_checkpoint_and_unloadable_releases(client) -> None:
    models = client.get("/api/models").json()["models"]
    assert models[0] == {
        "id": "0",
        "name": models[0]["name"],
        "kind": "classification",
        "source": "checkpoint",
        "loadable": True,
        "note": "",
    }
    releases = [model for model in models if model["source"] == "release"]
    assert releases and not any(model["loadable"] for model in releases)


def test_a_model_is_an_id_never_a_path(client, photos, tiny_fashion_checkpoint) -> None:
    for model in (str(tiny_fashion_checkpoint), "../best.pt", "99"):
        response = _post(client, photos[0], model=model)
        assert response.status_code == 400
        assert "unknown model id" in response.json()["detail"]
    release = next(m for m in client.get("/api/models").json()["models"] if not m["loadable"])
    response = _post(client, photos[0], model=release["id"])
    assert response.status_code == 400 and "--pretrained" in response.json()["detail"]


def test_uploads_are_read_by_the_projects_reader(client, not_an_image, tmp_path) -> None:
    response = _post(client, not_an_image)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("notes.txt is not a readable image")
    # A decompression bomb: a small file whose pixels are over Pillow's limit.
    bomb = tmp_path / "bomb.png"
    Image.new("L", (1, 1)).save(bomb)
    huge = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = 100
        Image.new("L", (20, 20)).save(bomb)
        response = _post(client, bomb)
    finally:
        Image.MAX_IMAGE_PIXELS = huge
    assert response.status_code == 400 and "decompression bombs" in response.json()["detail"]
    assert list(client.app.state.uploads.iterdir()) == []  # every upload removed after use


def test_oversized_uploads_are_refused(catalog, photos) -> None:
    from fastapi.testclient import TestClient

    with TestClient(create_app(catalog, max_upload_bytes=1000)) as client:
        response = _post(client, photos[0])
        assert photos[0].stat().st_size > 1000
        assert response.status_code == 413 and "limit" in response.json()["detail"]
        uploads = client.app.state.uploads
    assert not uploads.exists()  # the temporary folder goes with the app


def test_chart_points_from_sweep_and_report_files(tiny_fashion_checkpoint, tmp_path) -> None:
    from fastapi.testclient import TestClient

    sweep = tmp_path / "sweep"
    trial = sweep / "trials" / "a0.25-r32"
    trial.mkdir(parents=True)
    (trial / "best.pt").write_bytes(tiny_fashion_checkpoint.read_bytes())
    rows = [
        {
            "trial": "a0.25-r32",
            "top1": 0.7,
            "latency_ms": 0.4,
            "checkpoint": str(trial / "best.pt"),
        },
        {
            "trial": "outside",
            "top1": 0.8,
            "latency_ms": 0.9,
            "checkpoint": str(tiny_fashion_checkpoint),
        },
        {"trial": "stopped", "top1": 0.5, "latency_ms": None, "checkpoint": None},
    ]
    (sweep / "results.json").write_text(json.dumps({"trials": rows}))
    report = {
        "rows": [
            {"runtime": "onnxruntime", "precision": "int8", "top1": 71.0, "median_ms": 0.2},
            {"runtime": "tflite", "precision": "fp32", "skipped": "no extra"},
        ]
    }
    (sweep / "report.json").write_text(json.dumps(report))
    catalog = Catalog([], releases=False)
    with TestClient(create_app(catalog, [sweep])) as client:
        series = client.get("/api/results").json()["series"]
        models = client.get("/api/models").json()["models"]
    assert [s["source"] for s in series] == ["sweep/results.json", "sweep/report.json"]
    first, outside = series[0]["points"]
    assert first["name"] == "a0.25-r32" and first["model"] == "0"
    assert outside["model"] is None  # a checkpoint outside the results folder is never loaded
    assert series[1]["points"] == [
        {"name": "onnxruntime int8", "latency_ms": 0.2, "top1": 71.0, "model": None}
    ]
    assert [m["source"] for m in models] == ["results"]


def test_chart_points_from_an_adapt_folder(tiny_fashion_checkpoint, tmp_path) -> None:
    """adapt's results.json (its steps, then the final fine-tune) as written by
    mobilenets.adapt: every step with a top-1 is a point; the final one loads."""
    from fastapi.testclient import TestClient

    adapt = tmp_path / "adapt"
    (adapt / "final").mkdir(parents=True)
    (adapt / "final" / "best.pt").write_bytes(tiny_fashion_checkpoint.read_bytes())
    step = {"channels": [8] * 14, "predicted_ms": 0.3, "mult_adds": 1, "params": 1}
    state = {
        "steps": [
            {**step, "step": 0, "latency_ms": 0.4, "top1": 0.7, "checkpoint": None},
            {**step, "step": 1, "latency_ms": 0.3, "top1": None, "checkpoint": None},
        ],
        "final": {
            **step,
            "step": "final",
            "latency_ms": 0.3,
            "top1": 0.72,
            "checkpoint": str(adapt / "final" / "best.pt"),
        },
    }
    (adapt / "results.json").write_text(json.dumps(state))
    with TestClient(create_app(Catalog([], releases=False), [adapt])) as client:
        (series,) = client.get("/api/results").json()["series"]
    names = [(point["name"], point["model"]) for point in series["points"]]
    assert names == [("adapt step 0", None), ("adapt step final", "0")]


def test_a_results_folder_without_results_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="no results.json"):
        create_app(Catalog([], releases=False), [tmp_path])


def test_latency_in_each_runtime_or_why_not(client, monkeypatch) -> None:
    from mobilenets.serve import app as serve_app

    monkeypatch.setattr(serve_app, "LATENCY_RUNTIMES", ("eager", "no-such-runtime"))
    monkeypatch.setattr(serve_app, "LATENCY_RUNS", 3)
    answer = client.post("/api/latency", data={"model": "0"}).json()
    eager, missing = answer["rows"]
    assert eager["runtime"] == "eager" and 0 < eager["median_ms"] <= eager["p90_ms"]
    assert (
        missing["runtime"] == "no-such-runtime" and "runtime must be one of" in missing["skipped"]
    )


def test_requests_beyond_the_queue_are_refused_at_once() -> None:
    import asyncio
    import threading

    from mobilenets.serve.app import Busy, Gate

    release = threading.Event()

    async def burst() -> list[object]:
        gate = Gate(workers=1, queue=1)
        running = [asyncio.ensure_future(gate.run(release.wait, 30)) for _ in range(2)]
        await asyncio.sleep(0.05)
        outcomes: list[object] = []
        try:
            await gate.run(release.wait, 30)
        except Busy:
            outcomes.append("refused")
        release.set()
        outcomes += await asyncio.gather(*running)
        outcomes.append(await gate.run(lambda: "answered again"))
        return outcomes

    assert asyncio.run(burst()) == ["refused", True, True, "answered again"]


def test_the_command_line(tiny_fashion_checkpoint, tmp_path, monkeypatch, capsys) -> None:
    import uvicorn

    from mobilenets.cli import main

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.append(options))
    assert main(["serve", "--checkpoint", str(tiny_fashion_checkpoint), "--port", "8123"]) == 0
    assert served == [{"host": "127.0.0.1", "port": 8123, "log_level": "warning"}]
    assert "warning" not in capsys.readouterr().err
    assert main(["serve", "--checkpoint", str(tiny_fashion_checkpoint), "--host", "0.0.0.0"]) == 0
    assert "warning: serving on 0.0.0.0" in capsys.readouterr().err
    for argv, message in (
        (["serve"], "nothing to serve"),
        (["serve", "--results", str(tmp_path)], "no results.json"),
        (["serve", "--pretrained", str(tmp_path / "missing.pt")], "no such file"),
        (["serve", "--checkpoint", str(tmp_path)], str(tmp_path)),
        (["serve", "--port", "70000"], "--port"),
    ):
        assert main(argv) == 2
        error = capsys.readouterr().err
        assert message in error and error.count("\n") == 1, error


def test_pretrained_weights_answer_as_predict_does(tmp_path, photos) -> None:
    from fastapi.testclient import TestClient

    from mobilenets.classification.predict import predict_pretrained
    from mobilenets.models import MobileNetV1
    from mobilenets.weights import model_from_weights, save_pretrained

    folder = save_pretrained(MobileNetV1(alpha=0.25, resolution=64).eval(), tmp_path / "w")
    (expected,) = predict_pretrained(model_from_weights(folder).eval(), photos[:1])
    with TestClient(create_app(Catalog([], [folder], releases=False))) as client:
        models = client.get("/api/models").json()["models"]
        answer = _post(client, photos[0]).json()
    assert [(m["name"], m["source"]) for m in models] == [("w", "pretrained")]
    assert [top["label"] for top in answer["top"]] == [top["class"] for top in expected["top"]]
    assert [top["probability"] for top in answer["top"]] == pytest.approx(
        [top["probability"] for top in expected["top"]], rel=1e-5, abs=1e-7
    )
