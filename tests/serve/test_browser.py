"""The page in a real browser (Debian's chromium driven by Playwright): pick a photo and read
the top-5 the page shows, see a refused upload's message, the detector's boxes on the canvas,
and the results chart (screenshots: see conftest's ``screenshot``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mobilenets.classification.predict import predict
from mobilenets.serve import Catalog, create_app


@pytest.fixture(scope="module")
def results_folder(tiny_fashion_checkpoint, tmp_path_factory) -> Path:
    """A sweep's results.json whose first trial is the tiny checkpoint (inside the folder, so
    it can be loaded from the chart) and an export report beside it."""
    sweep = tmp_path_factory.mktemp("results") / "sweep"
    trial = sweep / "trials" / "a0.25-r32"
    trial.mkdir(parents=True)
    shutil.copy(tiny_fashion_checkpoint, trial / "best.pt")
    trials = [
        {
            "trial": "a0.25-r32",
            "top1": 0.72,
            "latency_ms": 0.41,
            "checkpoint": str(trial / "best.pt"),
        },
        {"trial": "a0.5-r32", "top1": 0.78, "latency_ms": 0.93, "checkpoint": None},
        {"trial": "a1.0-r32", "top1": 0.81, "latency_ms": 2.6, "checkpoint": None},
    ]
    (sweep / "results.json").write_text(json.dumps({"trials": trials}))
    report = {
        "rows": [
            {"runtime": "pytorch", "precision": "fp32", "top1": 0.73, "median_ms": 0.55},
            {"runtime": "onnxruntime", "precision": "int8", "top1": 0.71, "median_ms": 0.3},
        ]
    }
    (sweep / "report.json").write_text(json.dumps(report))
    return sweep


@pytest.fixture(scope="module")
def server(serve_app, tiny_fashion_checkpoint, results_folder) -> str:
    return serve_app(create_app(Catalog([tiny_fashion_checkpoint.parent]), [results_folder]))


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")


def test_a_picked_photo_shows_the_python_apis_top5(
    browser_page, screenshot, server, tiny_fashion_checkpoint, photos
) -> None:
    page = browser_page
    _open(page, server)
    page.set_input_files("#photo", [str(photos[0]), str(photos[1])])
    page.wait_for_function("document.querySelectorAll('.result').length === 2")
    expected = predict(tiny_fashion_checkpoint, photos[:2])
    for index, row in enumerate(expected):
        result = page.locator(".result").nth(index)
        assert result.locator(".top .label").all_text_contents() == [
            top["class"] for top in row["top"]
        ]
        assert result.locator(".top .probability").all_text_contents() == [
            f"{100 * top['probability']:.1f}%" for top in row["top"]
        ]
    assert not page.locator("#error").is_visible()
    screenshot(page, "serve-classify.png")


def test_a_file_that_is_not_an_image_is_refused_on_the_page(
    browser_page, server, not_an_image
) -> None:
    page = browser_page
    _open(page, server)
    page.set_input_files("#photo", str(not_an_image))
    error = page.locator("#error")
    error.wait_for(state="visible")
    assert error.text_content().startswith("notes.txt is not a readable image")
    assert page.locator(".result").count() == 0


def test_the_chart_shows_the_results_and_loads_a_point(
    browser_page, screenshot, server, photos
) -> None:
    page = browser_page
    _open(page, server)
    points = page.locator("#chart circle.point")
    assert points.count() == 5
    assert page.locator("#chart circle.loadable").count() == 1
    slowest = page.locator('#chart circle[data-name="a1.0-r32"]')
    slowest.hover()
    tooltip = page.locator("#tooltip")
    tooltip.wait_for(state="visible")
    assert "a1.0-r32" in tooltip.text_content() and "2.600 ms" in tooltip.text_content()
    # The slowest point lies right of the fastest: the x axis is latency.
    fastest = page.locator('#chart circle[data-name="onnxruntime int8"]')
    assert float(slowest.get_attribute("cx")) > float(fastest.get_attribute("cx"))
    screenshot(page, "serve-chart.png")
    loadable = page.locator("#chart circle.loadable")
    model = loadable.get_attribute("data-model")
    page.set_input_files("#photo", str(photos[2]))
    page.wait_for_selector(".result .top")
    loadable.click()
    assert page.locator("#model").input_value() == model
    page.wait_for_selector(".result .top")
    assert page.locator(".result").count() == 1


@pytest.fixture(scope="module")
def detector(tmp_path_factory) -> tuple[Path, Path]:
    """A one-epoch SSD on four synthetic detection images (it has learned little, but its boxes
    are the Python API's to compare with), and one of its images."""
    from mobilenets.cli import main
    from mobilenets.detection.synthetic import make_detection

    folder = tmp_path_factory.mktemp("detection")
    make_detection(folder / "data", 4, seed=1, progress=False)
    run = folder / "run"
    arguments = ["train-detector", "--arch", "ssd300", "--out", str(run), "--epochs", "1"]
    arguments += ["--data", str(folder / "data"), "--alpha", "0.25", "--batch-size", "2"]
    assert main([*arguments, "--limit-val", "1", "--seed", "0"]) == 0
    return run, folder / "data" / "val" / "000001.png"


def test_a_detectors_boxes_are_drawn_on_the_photo(
    browser_page, screenshot, serve_app, tiny_fashion_checkpoint, detector
) -> None:
    from torchvision.transforms.functional import pil_to_tensor

    from mobilenets.data.images import read_image
    from mobilenets.detection.evaluation import load
    from mobilenets.detection.predict import detect

    run, image = detector
    model, categories = load(run)
    pixels = pil_to_tensor(read_image(image, "RGB"))
    scores = [found["score"] for found in detect(model, categories, pixels, score_thresh=0)]
    # A threshold that keeps a few boxes of this barely trained detector, as a user would set it.
    threshold = sorted(scores, reverse=True)[min(4, len(scores) - 1)]
    expected = detect(model, categories, pixels, score_thresh=threshold)
    assert expected

    url = serve_app(create_app(Catalog([tiny_fashion_checkpoint.parent, run], releases=False)))
    page = browser_page
    _open(page, url)
    page.select_option("#model", label=f"{run.name} (detection, checkpoint)")
    page.fill("#score-thresh", str(threshold))
    page.set_input_files("#photo", str(image))
    canvas = page.locator(".result canvas[data-boxes]")
    canvas.wait_for()
    assert int(canvas.get_attribute("data-boxes")) == len(expected)
    assert page.locator(".result .detections li").all_text_contents() == [
        f"{found['label']} {found['score']:.2f} at [{', '.join(_js_number(v) for v in found['box'])}]"
        for found in expected
    ]
    # The boxes are drawn: the canvas's pixels differ from the photo's along the first box.
    x0, y0 = (int(v) for v in expected[0]["box"][:2])
    drawn = page.evaluate(
        "([x, y]) => Array.from(document.querySelector('.result canvas').getContext('2d')"
        ".getImageData(x, y, 1, 1).data)",
        [x0 + 1, y0 + 1],
    )
    assert drawn[:3] != pixels[:, y0 + 1, x0 + 1].tolist()
    screenshot(page, "serve-detect.png")


def _js_number(value: float) -> str:
    """How JavaScript prints a number: 12.0 as "12"."""
    return str(int(value)) if float(value).is_integer() else repr(value)
