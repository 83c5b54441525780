"""The page's embedding and geolocation parts: two photos' similarity as the Python API
computes it, and a photo's place (cell, latitude, longitude) as ``locate`` gives it, marked on
the world outline the page draws."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mobilenets.cli import main
from mobilenets.embedding.predict import predict as embed
from mobilenets.embedding.training import train
from mobilenets.geo.predict import predict as locate
from mobilenets.serve import Catalog, create_app


@pytest.fixture(scope="module")
def embedding_run(tiny_fashion_checkpoint, tmp_path_factory) -> Path:
    """A 0.25 student distilled for one epoch from the tiny classifier (its features)."""
    run = tmp_path_factory.mktemp("embedding") / "run"
    settings = dict(resolution=32, batch_size=32, seed=0, optimizer="adamw", lr=3e-3)
    settings.update(augment=False, cache=True, limit_train=500, limit_val=200, epochs=1)
    train(
        "embedding",
        "fashion-mnist",
        run,
        teacher=str(tiny_fashion_checkpoint),
        alpha=0.25,
        **settings,
    )
    return run


@pytest.fixture(scope="module")
def geo_run(tmp_path_factory) -> Path:
    """A 0.25 geolocator trained for one epoch on make-geo's stand-in photos."""
    root = tmp_path_factory.mktemp("geo")
    data, run = root / "data", root / "run"
    assert main(["data", "make-geo", "--out", str(data), "--images", "300"]) == 0
    arguments = ["train-geo", "--data", str(data), "--out", str(run), "--epochs", "1"]
    arguments += ["--alpha", "0.25", "--resolution", "32", "--batch-size", "32", "--seed", "0"]
    assert main([*arguments, "--no-augment", "--max-photos", "100", "--min-photos", "10"]) == 0
    return run


@pytest.fixture(scope="module")
def app(tiny_fashion_checkpoint, embedding_run, geo_run):
    return create_app(
        Catalog([tiny_fashion_checkpoint.parent, embedding_run, geo_run], releases=False)
    )


def _files(*photos: Path) -> dict:
    return {
        name: (photo.name, photo.read_bytes()) for name, photo in zip(("file_a", "file_b"), photos)
    }


def test_similarity_is_the_cosine_of_the_python_apis_embeddings(app, embedding_run, photos) -> None:
    from fastapi.testclient import TestClient

    vectors = torch.tensor([row["embedding"] for row in embed(embedding_run, photos[:2])])
    expected = float(torch.nn.functional.cosine_similarity(vectors[0], vectors[1], dim=0))
    with TestClient(app) as client:
        answer = client.post(
            "/api/similarity", files=_files(*photos[:2]), data={"model": "1"}
        ).json()
        refused = client.post(
            "/api/predict", files={"file": ("a.png", photos[0].read_bytes())}, data={"model": "1"}
        )
    assert answer.get("kind") == "embedding", answer
    assert answer["similarity"] == pytest.approx(expected, abs=1e-3)
    assert refused.status_code == 400 and "/api/similarity" in refused.json()["detail"]


def test_a_photos_place_is_the_python_apis_cell_and_coordinates(app, geo_run, photos) -> None:
    from fastapi.testclient import TestClient

    (expected,) = locate(geo_run, photos[:1], top_k=5)
    with TestClient(app) as client:
        answer = client.post(
            "/api/predict", files={"file": ("a.png", photos[0].read_bytes())}, data={"model": "2"}
        ).json()
    assert answer["kind"] == "geo"
    assert [row["cell"] for row in answer["top"]] == [row["cell"] for row in expected["top"]]
    assert [row["lat"] for row in answer["top"]] == pytest.approx(
        [row["lat"] for row in expected["top"]]
    )


def test_the_page_compares_two_photos_and_marks_a_place(
    app, serve_app, browser_page, screenshot, geo_run, photos
) -> None:
    page = browser_page
    page.goto(serve_app(app))
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#similarity-section").is_visible()
    page.set_input_files("#photo-a", str(photos[0]))
    page.set_input_files("#photo-b", str(photos[1]))
    page.click("#similarity-button")
    page.wait_for_function("document.getElementById('similarity').textContent.includes('cosine')")
    page.select_option("#model", value="2")
    page.set_input_files("#photo", str(photos[0]))
    page.wait_for_selector(".result[data-kind=geo] svg.world circle.place")
    (expected,) = locate(geo_run, photos[:1], top_k=5)
    places = page.locator("svg.world circle.place")
    assert places.count() == len(expected["top"])
    first = expected["top"][0]
    assert float(places.first.get_attribute("cx")) == pytest.approx(first["lng"], abs=1e-6)
    assert float(places.first.get_attribute("cy")) == pytest.approx(-first["lat"], abs=1e-6)
    assert page.locator(".result .top .label").first.text_content() == f"cell {first['cell']}"
    screenshot(page, "serve-geo.png")
