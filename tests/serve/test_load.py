"""A bounded load on a real server over loopback: every request is answered or refused with
503, none fails otherwise, and the server answers again afterwards."""

from __future__ import annotations

import httpx

from mobilenets.serve import create_app
from mobilenets.serve.load import hammer


def test_a_burst_is_answered_or_refused_cleanly(serve_app, catalog, photos) -> None:
    url = serve_app(create_app(catalog, queue=2))
    result = hammer(url, photos[0], total=40, concurrency=10)
    assert result["errors"] == []
    assert result["answered"] + result["refused"] == 40
    assert result["answered"] >= 3  # the worker and the queue's two were served, at least
    # Nothing is left waiting: the next request is answered.
    with open(photos[0], "rb") as handle:
        response = httpx.post(f"{url}/api/predict", files={"file": (photos[0].name, handle)})
    assert response.status_code == 200 and len(response.json()["top"]) == 5
