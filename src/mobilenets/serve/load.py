"""A bounded load on a running server: ``total`` predictions, ``concurrency`` at a time, each
answered (200) or refused (503) or counted as an error. The load test and
benchmarks/serve_load.py share it."""

from __future__ import annotations

import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any


def hammer(
    url: str, photo: str | os.PathLike[str], *, total: int = 200, concurrency: int = 20
) -> dict[str, Any]:
    """Posts ``photo`` to ``url``/api/predict ``total`` times from ``concurrency`` threads;
    counts answered and refused requests, lists any other outcome, and gives the answered
    requests' median and 95th-percentile milliseconds."""
    import httpx

    data = Path(photo).read_bytes()
    name = Path(photo).name

    def one(client: httpx.Client) -> tuple[int | str, float]:
        start = time.perf_counter()
        try:
            status: int | str = client.post(
                f"{url}/api/predict", files={"file": (name, data)}
            ).status_code
        except httpx.HTTPError as error:
            status = type(error).__name__
        return status, 1000 * (time.perf_counter() - start)

    with (
        httpx.Client(timeout=120, limits=httpx.Limits(max_connections=concurrency)) as client,
        ThreadPoolExecutor(concurrency) as pool,
    ):
        outcomes = list(pool.map(lambda _: one(client), range(total)))
    answered = sorted(ms for status, ms in outcomes if status == 200)
    return {
        "requests": total,
        "concurrency": concurrency,
        "answered": len(answered),
        "refused": sum(status == 503 for status, _ in outcomes),
        "errors": [status for status, _ in outcomes if status not in (200, 503)],
        "p50_ms": round(statistics.median(answered), 1) if answered else None,
        "p95_ms": round(answered[int(0.95 * (len(answered) - 1))], 1) if answered else None,
    }
